//! The client against real cameras on port 0: a genuine camera passes and is initialized,
//! signed into and managed over ONVIF; a genuine camera of another serial and a
//! self-signed impostor fail the check with a clear error, and neither receives anything.
#![allow(clippy::unwrap_used)]

use camkey_camera::{Camera, CameraConfig, Listeners};
use camkey_client::{CameraClient, DeviceCa, Error, OnvifClient, check_identity};
use camkey_factory::{ProvisionRequest, VendorKeys, VendorProfile};
use camkey_proto::api::InitRequest;
use camkey_proto::clock::ManualClock;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const PASSWORD: &str = "tulip-harbor-quietly-42";

struct Cam {
    _camera: Camera,
    port: u16,
}

impl Cam {
    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }
    fn onvif(&self) -> String {
        format!("https://127.0.0.1:{}/onvif/device_service", self.port)
    }
}

async fn start(dir: &Path, keys: &VendorKeys, serial: &str) -> Cam {
    let factory = dir.join(serial);
    camkey_factory::provision(
        keys,
        &ProvisionRequest {
            model: "IPC4K15",
            serial,
            extra_names: vec!["127.0.0.1".into()],
        },
        &factory,
    )
    .unwrap();
    let https = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = https.local_addr().unwrap().port();
    let camera = Camera::start(
        CameraConfig {
            factory_dir: factory,
            data_dir: dir.join(format!("{serial}-flash")),
            https_base: format!("https://127.0.0.1:{port}"),
            http_base: None,
            core: Default::default(),
            discovery: None,
        },
        Listeners { https, http: None },
        Arc::new(ManualClock::new(0)),
    )
    .await
    .unwrap();
    Cam {
        _camera: camera,
        port,
    }
}

fn init_request() -> InitRequest {
    serde_json::from_value(serde_json::json!({
        "password": PASSWORD, "recovery_email": "owner@example.com", "onvif": true
    }))
    .unwrap()
}

fn vendor(dir: &Path, name: &str) -> (VendorKeys, DeviceCa) {
    let keys = VendorKeys::generate(&dir.join(name), 1, &VendorProfile::default()).unwrap();
    let ca = DeviceCa::from_file(&keys.path(camkey_factory::files::DEVICE_CA)).unwrap();
    (keys, ca)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_genuine_camera_passes_and_is_initialized_signed_into_and_managed() {
    let tmp = tempfile::tempdir().unwrap();
    let (keys, ca) = vendor(tmp.path(), "vendor");
    let cam = start(tmp.path(), &keys, "IPC4K15-C0001").await;
    let serial = check_identity(
        &cam.url(),
        &ca,
        Some("IPC4K15-C0001"),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(serial, "IPC4K15-C0001");

    let mut c = CameraClient::new(&cam.url(), &ca, Some("IPC4K15-C0001")).unwrap();
    let info = c.device().await.unwrap();
    assert!(!info.initialized);
    c.init(&init_request()).await.unwrap();
    assert_eq!(c.certificate_serial().as_deref(), Some("IPC4K15-C0001"));
    // The camera's own error comes back whole.
    let e = c.init(&init_request()).await.unwrap_err();
    assert_eq!(e.api_code(), Some("already_initialized"), "{e}");
    let e = c.login("admin", "wrong-password-123").await.unwrap_err();
    assert!(matches!(e, Error::Api { status: 401, .. }), "{e}");
    c.login("admin", PASSWORD).await.unwrap();
    c.change_password(PASSWORD, "violet-canyon-marching-17")
        .await
        .unwrap();
    let qr = c.recovery_qr().await.unwrap();
    assert!(!qr.text.is_empty() && qr.expires_in > 0);
    assert_eq!(c.recovery_qr().await.unwrap().text, qr.text);
    let e = c.recovery_qr_submit("0000-0000", "x").await.unwrap_err();
    assert!(e.api_code().is_some(), "{e}");

    // ONVIF with HTTP digest.
    let o = OnvifClient::new(
        &cam.onvif(),
        &ca,
        Some("IPC4K15-C0001"),
        "admin",
        "violet-canyon-marching-17",
    )
    .unwrap();
    o.set_system_date_and_time(1_796_193_600_000).await.unwrap();
    let t = o.system_date_and_time().await.unwrap();
    assert!((1_796_193_600_000..1_796_193_660_000).contains(&t), "{t}");
    let di = o.device_information().await.unwrap();
    assert_eq!(di.serial_number, "IPC4K15-C0001");
    let profiles = o.profiles().await.unwrap();
    assert!(!profiles.is_empty());
    let uri = o.snapshot_uri(&profiles[0].token).await.unwrap();
    let jpeg = o.snapshot(&uri).await.unwrap();
    assert_eq!(&jpeg[..3], &[0xff, 0xd8, 0xff]);
    let wrong = OnvifClient::new(&cam.onvif(), &ca, None, "admin", "nope-nope-nope").unwrap();
    let e = wrong.device_information().await.unwrap_err();
    assert!(matches!(e, Error::Fault { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_genuine_camera_of_another_serial_gets_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (keys, ca) = vendor(tmp.path(), "vendor");
    let cam = start(tmp.path(), &keys, "IPC4K15-C0002").await;
    let c = CameraClient::new(&cam.url(), &ca, Some("IPC4K15-C0009")).unwrap();
    let e = c.init(&init_request()).await.unwrap_err();
    assert_eq!(
        e,
        Error::WrongSerial {
            expected: "IPC4K15-C0009".into(),
            found: "IPC4K15-C0002".into()
        }
    );
    assert!(
        e.to_string().contains("expected serial IPC4K15-C0009"),
        "{e}"
    );
    assert!(e.is_identity());
    // The init never reached it: the camera is still uninitialized.
    let right = CameraClient::new(&cam.url(), &ca, Some("IPC4K15-C0002")).unwrap();
    assert!(!right.device().await.unwrap().initialized);
    let e = check_identity(
        &cam.url(),
        &ca,
        Some("IPC4K15-C0009"),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::WrongSerial { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_vendors_camera_is_not_genuine_and_gets_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, ca) = vendor(tmp.path(), "vendor");
    let (other_keys, _) = vendor(tmp.path(), "other");
    let cam = start(tmp.path(), &other_keys, "IPC4K15-C0003").await;
    let c = CameraClient::new(&cam.url(), &ca, Some("IPC4K15-C0003")).unwrap();
    let e = c.init(&init_request()).await.unwrap_err();
    assert!(matches!(e, Error::NotGenuine(_)), "{e}");
    let own = DeviceCa::from_file(&other_keys.path(camkey_factory::files::DEVICE_CA)).unwrap();
    let right = CameraClient::new(&cam.url(), &own, None).unwrap();
    assert!(!right.device().await.unwrap().initialized);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_self_signed_impostor_receives_no_byte() {
    use tokio::io::AsyncReadExt;
    let tmp = tempfile::tempdir().unwrap();
    let (_, ca) = vendor(tmp.path(), "vendor");
    // A certificate that claims the serial, signed by itself.
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".into()]).unwrap();
    params.subject_alt_names.push(rcgen::SanType::URI(
        "urn:camkey:serial:IPC4K15-C0004".try_into().unwrap(),
    ));
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let received = tokio::spawn(async move {
        let mut total = 0usize;
        for _ in 0..2 {
            let (tcp, _) = listener.accept().await.unwrap();
            if let Ok(mut tls) = acceptor.accept(tcp).await {
                let mut buf = Vec::new();
                let _ = tls.read_to_end(&mut buf).await;
                total += buf.len();
            }
        }
        total
    });
    let url = format!("https://127.0.0.1:{port}/");
    let c = CameraClient::new(&url, &ca, Some("IPC4K15-C0004")).unwrap();
    let e = c.init(&init_request()).await.unwrap_err();
    assert!(matches!(e, Error::NotGenuine(_)), "{e}");
    assert!(e.to_string().contains("not a genuine camera"), "{e}");
    let e = check_identity(&url, &ca, None, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotGenuine(_)), "{e}");
    assert_eq!(received.await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn nobody_listening_is_unreachable() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, ca) = vendor(tmp.path(), "vendor");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = CameraClient::new(&format!("https://127.0.0.1:{port}/"), &ca, None).unwrap();
    assert!(matches!(c.device().await, Err(Error::Unreachable(_))));
    assert!(matches!(
        CameraClient::new("http://127.0.0.1:1/", &ca, None),
        Err(Error::Url(_))
    ));
}
