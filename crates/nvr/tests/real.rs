//! The NVR against real cameras: provisioned cameras serving HTTPS (REST and ONVIF) on
//! port 0, reached through `camkey-client`, with the simulated PoE switch saying which
//! camera is on which port.

#![allow(clippy::unwrap_used)]

use camkey_camera::core::CoreConfig;
use camkey_camera::{Camera, CameraConfig, Listeners};
use camkey_client::{CameraClient, DeviceCa};
use camkey_factory::{ProvisionRequest, VendorKeys, VendorProfile};
use camkey_nvr::adopt::Adopter;
use camkey_nvr::client_link::ClientLink;
use camkey_nvr::http::{Nvr, serve};
use camkey_nvr::store::{ChannelState, Store};
use camkey_nvr::switch::SimSwitch;
use camkey_proto::clock::ManualClock;
use serde_json::{Value, json};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;

const ADMIN_PW: &str = "installer-chosen-passphrase";

struct Cam {
    camera: Camera,
    addr: SocketAddr,
    clock: ManualClock,
}

fn vendor(dir: &Path) -> VendorKeys {
    VendorKeys::generate(dir, 1, &VendorProfile::default()).unwrap()
}

async fn camera(keys: &VendorKeys, dir: &Path, model: &str, serial: &str) -> Cam {
    provision(keys, dir, model, serial);
    boot(
        dir,
        TcpListener::bind("127.0.0.1:0").unwrap(),
        CoreConfig::default(),
    )
    .await
}

fn provision(keys: &VendorKeys, dir: &Path, model: &str, serial: &str) {
    camkey_factory::provision(
        keys,
        &ProvisionRequest {
            model,
            serial,
            extra_names: vec!["127.0.0.1".into()],
        },
        &dir.join("factory"),
    )
    .unwrap();
}

/// Boots (or reboots, after a power cycle) the camera in `dir` on `https`.
async fn boot(dir: &Path, https: TcpListener, core: CoreConfig) -> Cam {
    let addr = https.local_addr().unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    let camera = Camera::start(
        CameraConfig {
            factory_dir: dir.join("factory"),
            data_dir: dir.join("flash"),
            https_base: format!("https://{addr}"),
            http_base: None,
            core,
            discovery: None,
        },
        Listeners { https, http: None },
        Arc::new(clock.clone()),
    )
    .await
    .unwrap();
    Cam {
        camera,
        addr,
        clock,
    }
}

/// An NVR's store with its admin account.
fn nvr_store(dir: &Path) -> Arc<Store> {
    let store = Arc::new(Store::open(dir, Arc::new(ManualClock::new(1_800_000_000_000))).unwrap());
    store
        .set_admin("admin", ADMIN_PW, Some("owner@example.com".into()))
        .unwrap();
    store
}

/// The adoption engine over `switch`, trusting the device CA in `keys_dir`.
fn adopter(
    store: &Arc<Store>,
    switch: &Arc<SimSwitch>,
    keys_dir: &Path,
) -> Arc<Adopter<ClientLink>> {
    Arc::new(Adopter::new(
        store.clone(),
        switch.clone(),
        Arc::new(ClientLink::new(ca(keys_dir))),
        Arc::new(|_| {}),
    ))
}

fn ca(keys_dir: &Path) -> DeviceCa {
    DeviceCa::from_pem(&std::fs::read(keys_dir.join("device-ca.pem")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopts_reveals_refuses_impostors_and_readopts_after_a_reset() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().unwrap();
    let keys = vendor(&tmp.path().join("vendor"));
    let on_port = camera(&keys, &tmp.path().join("c1"), "IPC4K15", "IPC4K15-NVR001").await;
    let off_port = camera(&keys, &tmp.path().join("c2"), "IPC4K15", "IPC4K15-NVR002").await;
    // A self-signed impostor: a camera of another vendor's CA.
    let other = vendor(&tmp.path().join("other-vendor"));
    let impostor = camera(&other, &tmp.path().join("c3"), "IPC4K15", "IPC4K15-NVR003").await;

    let store = nvr_store(&tmp.path().join("nvr"));
    let switch = Arc::new(SimSwitch::new(4));
    let nvr = adopter(&store, &switch, &tmp.path().join("vendor"));
    switch.plug(1, Some(on_port.addr)).unwrap();
    switch.plug(2, Some(impostor.addr)).unwrap();
    nvr.tick_all().await;

    let states = store.read(|s| {
        s.channels
            .iter()
            .map(|(p, c)| (*p, c.state))
            .collect::<Vec<_>>()
    });
    assert_eq!(
        states,
        vec![(1, ChannelState::Adopted), (2, ChannelState::Adopting)]
    );
    assert!(on_port.camera.core().device_info().initialized);
    assert!(
        !off_port.camera.core().device_info().initialized,
        "off the NVR's ports: never adopted"
    );
    assert!(
        !impostor.camera.core().device_info().initialized,
        "an impostor gets no secret"
    );

    // Reveal over the NVR's API, then sign into the camera with it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api", listener.local_addr().unwrap());
    let server = tokio::spawn(serve(listener, Nvr::new(nvr.clone())));
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PW}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let channels: Value = http
        .get(format!("{base}/channels"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(channels[0]["serial"], "IPC4K15-NVR001");
    assert_eq!(channels[0]["state"], "adopted");
    let revealed: Value = http
        .post(format!("{base}/channels/1/reveal"))
        .bearer_auth(&token)
        .json(&json!({"password": ADMIN_PW}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let password = revealed["password"].as_str().unwrap().to_string();
    assert!(password.len() >= 24);
    let mut client = CameraClient::new(
        &format!("https://{}/", on_port.addr),
        &ca(&tmp.path().join("vendor")),
        Some("IPC4K15-NVR001"),
    )
    .unwrap();
    client.login("admin", &password).await.unwrap();
    let snap = http
        .get(format!("{base}/channels/1/snapshot"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(snap.status(), 200);

    // A factory reset: the NVR adopts it again, with a new password.
    on_port.camera.core().factory_reset("button").unwrap();
    assert_eq!(nvr.tick_port(1).await.unwrap(), ChannelState::Adopted);
    let again = nvr.credentials(1, "IPC4K15-NVR001").unwrap().unwrap();
    assert_ne!(again.password, password);
    let mut client = CameraClient::new(
        &format!("https://{}/", on_port.addr),
        &ca(&tmp.path().join("vendor")),
        Some("IPC4K15-NVR001"),
    )
    .unwrap();
    client.login("admin", &again.password).await.unwrap();

    // Another genuine camera on port 1: it waits for approval and gets nothing meanwhile.
    switch.plug(1, Some(off_port.addr)).unwrap();
    assert_eq!(
        nvr.tick_port(1).await.unwrap(),
        ChannelState::AwaitingApproval
    );
    assert!(!off_port.camera.core().device_info().initialized);
    assert_eq!(
        nvr.approve(1, "admin").await.unwrap(),
        ChannelState::Adopted
    );
    assert!(off_port.camera.core().device_info().initialized);

    server.abort();
    for c in [on_port, off_port, impostor] {
        c.camera.stop().await;
    }
}

/// A thief's device: it holds one camera's flash (its device key and genuine certificate,
/// serial `IPC4K15-NVR011`) and answers `GET /api/device` as another camera would. It
/// records every request line and header block it is sent.
async fn thief(
    factory: &Path,
    device_json: String,
) -> (SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pem = |name: &str| std::fs::read(factory.join(name)).unwrap();
    let certs = rustls_pemfile::certs(&mut pem("device-chain.pem").as_slice())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pemfile::private_key(&mut pem("device-tls.key").as_slice())
        .unwrap()
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, log, body) = (acceptor.clone(), log.clone(), device_json.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 16 * 1024];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&got).into_owned());
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_with_another_cameras_genuine_certificate_gets_no_secret() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().unwrap();
    let keys = vendor(&tmp.path().join("vendor"));
    // The camera it pretends to be, and the one whose flash was stolen.
    let real = camera(&keys, &tmp.path().join("c1"), "IPC4K15", "IPC4K15-NVR010").await;
    provision(&keys, &tmp.path().join("c2"), "IPC4K15", "IPC4K15-NVR011");
    let (tls, _) =
        camkey_client::tls_config(&ca(&tmp.path().join("vendor")), Some("IPC4K15-NVR010")).unwrap();
    let device_json = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap()
        .get(format!("https://{}/api/device", real.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        device_json.contains("IPC4K15-NVR010") && device_json.contains("\"initialized\":false")
    );
    let (addr, seen) = thief(&tmp.path().join("c2").join("factory"), device_json).await;

    let store = nvr_store(&tmp.path().join("nvr"));
    let switch = Arc::new(SimSwitch::new(1));
    let nvr = adopter(&store, &switch, &tmp.path().join("vendor"));
    switch.plug(1, Some(addr)).unwrap();
    assert_eq!(nvr.tick_port(1).await.unwrap(), ChannelState::Adopting);
    assert_eq!(nvr.tick_port(1).await.unwrap(), ChannelState::Adopting);
    let ch = store.read(|s| s.channels[&1].clone());
    assert!(ch.note.starts_with("Not adopted"), "{}", ch.note);
    assert!(ch.sealed_password.is_none(), "no password was made for it");
    let requests = seen.lock().unwrap().clone();
    assert!(!requests.is_empty());
    for r in &requests {
        assert!(
            r.starts_with("GET /api/device "),
            "only asked who it is: {r}"
        );
        assert!(!r.to_ascii_lowercase().contains("authorization"), "{r}");
    }
    let audit = store.read(|s| s.audit.clone());
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.event == "identity_refused")
            .count(),
        1,
        "audited once, not on every look"
    );
    real.camera.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_init_window_is_reopened_by_one_power_cycle_of_the_port() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().unwrap();
    let keys = vendor(&tmp.path().join("vendor"));
    let dir = tmp.path().join("c1");
    provision(&keys, &dir, "IPC4K15", "IPC4K15-NVR010");
    let core = CoreConfig {
        init_window_ms: 60_000,
        ..CoreConfig::default()
    };
    let cam = boot(
        &dir,
        TcpListener::bind("127.0.0.1:0").unwrap(),
        core.clone(),
    )
    .await;
    cam.clock.advance(61_000);
    assert!(!cam.camera.core().device_info().init_window_open);

    let store = Arc::new(
        Store::open(
            &tmp.path().join("nvr"),
            Arc::new(ManualClock::new(1_800_000_000_000)),
        )
        .unwrap(),
    );
    store.set_admin("admin", ADMIN_PW, None).unwrap();
    let switch = Arc::new(SimSwitch::new(2));
    // The port's power reaches the camera: off stops it, on boots it again.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    switch.set_power_hook(Arc::new(move |port, on| {
        let _ = tx.send((port, on));
    }));
    let nvr = adopter(&store, &switch, &tmp.path().join("vendor"));
    switch.plug(1, Some(cam.addr)).unwrap();
    assert_eq!(nvr.tick_port(1).await.unwrap(), ChannelState::Adopting);
    assert_eq!(switch.power_cycles(), vec![1]);
    let note = store.read(|s| s.channels[&1].note.clone());
    assert!(note.contains("power-cycled port 1 once"), "{note}");
    assert_eq!(rx.recv().await, Some((1, false)));
    assert_eq!(rx.recv().await, Some((1, true)));
    let addr = cam.addr;
    cam.camera.stop().await;
    let cam = boot(&dir, TcpListener::bind(addr).unwrap(), core).await;

    assert_eq!(nvr.tick_port(1).await.unwrap(), ChannelState::Adopted);
    assert!(cam.camera.core().device_info().initialized);
    assert_eq!(switch.power_cycles(), vec![1], "once");
    cam.camera.stop().await;
}
