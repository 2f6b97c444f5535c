//! The test kit: a provisioned camera on port 0 with a manual clock, and HTTPS clients
//! that trust only the lab device CA.

use camkey_camera::core::CoreConfig;
use camkey_camera::{Camera, CameraConfig, Listeners};
use camkey_factory::{ProvisionRequest, VendorKeys, VendorProfile};
use camkey_proto::clock::ManualClock;
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

pub const GOOD_PASSWORD: &str = "tulip-harbor-quietly-42";
pub const OTHER_PASSWORD: &str = "violet-canyon-marching-17";

/// A camera under test.
pub struct TestCamera {
    pub tmp: tempfile::TempDir,
    pub clock: ManualClock,
    pub camera: Option<Camera>,
    pub https_port: u16,
    pub http_port: u16,
    /// The core's settings (limits, init window), used at every boot.
    pub config: CoreConfig,
    /// The interface WS-Discovery answers on (none unless a test sets it).
    pub discovery: Option<std::net::Ipv4Addr>,
}

impl TestCamera {
    pub async fn start(model: &str) -> TestCamera {
        Self::start_with(model, CoreConfig::default()).await
    }

    pub async fn start_with(model: &str, config: CoreConfig) -> TestCamera {
        Self::start_serial(model, &format!("{model}-T0001"), config).await
    }

    /// A camera with a serial of its own (tests that other processes may hear, such as
    /// discovery on loopback, tell their camera apart by it).
    pub async fn start_serial(model: &str, serial: &str, config: CoreConfig) -> TestCamera {
        let tmp = tempfile::tempdir().unwrap();
        let keys =
            VendorKeys::generate(&tmp.path().join("vendor"), 1, &VendorProfile::default()).unwrap();
        let serial = serial.to_string();
        camkey_factory::provision(
            &keys,
            &ProvisionRequest {
                model,
                serial: &serial,
                extra_names: vec!["127.0.0.1".into()],
            },
            &tmp.path().join("factory"),
        )
        .unwrap();
        let mut cam = TestCamera {
            tmp,
            clock: ManualClock::new(0),
            camera: None,
            https_port: 0,
            http_port: 0,
            config,
            discovery: None,
        };
        cam.boot().await;
        cam
    }

    pub fn factory_dir(&self) -> PathBuf {
        self.tmp.path().join("factory")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("flash")
    }

    /// (Re)boots the camera on the same ports and directories, with a fresh raw clock
    /// (as after a power cycle: RAM and the monotonic clock start over).
    pub async fn boot(&mut self) {
        let https = TcpListener::bind(("127.0.0.1", self.https_port)).unwrap();
        let http = TcpListener::bind(("127.0.0.1", self.http_port)).unwrap();
        self.https_port = https.local_addr().unwrap().port();
        self.http_port = http.local_addr().unwrap().port();
        self.clock = ManualClock::new(0);
        let config = CameraConfig {
            factory_dir: self.factory_dir(),
            data_dir: self.data_dir(),
            https_base: format!("https://127.0.0.1:{}", self.https_port),
            http_base: None,
            core: self.config.clone(),
            discovery: self.discovery,
        };
        let cam = Camera::start(
            config,
            Listeners {
                https,
                http: Some(http),
            },
            Arc::new(self.clock.clone()),
        )
        .await
        .unwrap();
        self.camera = Some(cam);
    }

    pub async fn power_cycle(&mut self) {
        if let Some(c) = self.camera.take() {
            c.stop().await;
        }
        self.boot().await;
    }

    pub fn core(&self) -> &Arc<camkey_camera::core::Core> {
        self.camera.as_ref().unwrap().core()
    }

    pub fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.https_port)
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api{path}", self.base())
    }

    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.tmp.path().join("vendor").join("device-ca.pem")).unwrap()
    }

    /// TLS settings that trust the device CA only.
    pub fn tls(&self) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut self.ca_pem().as_slice()) {
            roots.add(c.unwrap()).unwrap();
        }
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
    }

    /// Sends raw bytes over TLS while reading the answer at the same time, so a server that
    /// answers before the (huge) body is sent is still heard.
    pub async fn raw_https(&self, head: String, body: Vec<u8>) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.https_port))
            .await
            .unwrap();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(self.tls()));
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        let (mut rd, mut wr) = tokio::io::split(tls);
        let writer = tokio::spawn(async move {
            let _ = wr.write_all(head.as_bytes()).await;
            let _ = wr.write_all(&body).await;
        });
        let mut out = Vec::new();
        let _ = rd.read_to_end(&mut out).await;
        writer.abort();
        String::from_utf8_lossy(&out).into_owned()
    }

    /// A client that trusts the device CA only, from source address `from`.
    pub fn client_from(&self, from: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .use_preconfigured_tls(self.tls())
            .local_address(from.parse::<IpAddr>().unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    pub fn client(&self) -> reqwest::Client {
        self.client_from("127.0.0.1")
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client()
            .post(self.api(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.client().get(self.api(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn init(&self) {
        let (st, body) = self
            .post(
                "/init",
                json!({"password": GOOD_PASSWORD, "recovery_email": "owner@example.com"}),
            )
            .await;
        assert_eq!(st, 200, "{body}");
    }

    pub async fn login(&self, password: &str) -> (u16, Value) {
        self.post("/login", json!({"username": "admin", "password": password}))
            .await
    }

    pub async fn token(&self) -> String {
        let (st, body) = self.login(GOOD_PASSWORD).await;
        assert_eq!(st, 200, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    pub fn state_generation(&self) -> u64 {
        self.core().state().generation
    }
}

/// The error code of an error body (and a check of its shape).
pub fn code(body: &Value) -> &str {
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "no message: {body}"
    );
    body["error"]["code"].as_str().unwrap_or("<none>")
}

#[allow(dead_code)]
pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}
