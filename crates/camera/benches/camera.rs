//! Figures for the camera part, printed (not asserted: machines here are noisy).
//!
//! `cargo bench -p camkey-camera` prints:
//! - Argon2id time per hash at the camera's parameters;
//! - the time of one durable state save (write, fsync, rename, fsync);
//! - sign-in throughput over real HTTPS on this machine, with 8 clients at once;
//! - ONVIF sign-ins per second in the core (the sealed password opened, a digest checked,
//!   the limits consulted: the part of an ONVIF call that is the core's);
//! - ONVIF calls authenticated by HTTP digest (SHA-256, one round trip each, nonce
//!   counts), over plain HTTP and HTTPS, with 8 clients at once.
#![allow(clippy::unwrap_used)]

use camkey_camera::core::CoreConfig;
use camkey_camera::{Camera, CameraConfig, Listeners};
use camkey_factory::{ProvisionRequest, VendorKeys, VendorProfile};
use std::sync::Arc;
use std::time::Instant;

const PASSWORD: &str = "tulip-harbor-quietly-42";

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    // Argon2id.
    let n = 20;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(camkey_passwords::hash(PASSWORD));
    }
    let per = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    println!(
        "argon2id m={} KiB t={} p={}: {per:.1} ms per hash ({n} hashes)",
        camkey_passwords::M_COST_KIB,
        camkey_passwords::T_COST,
        camkey_passwords::P_COST
    );

    // A camera on loopback.
    let tmp = tempfile::tempdir().unwrap();
    let keys =
        VendorKeys::generate(&tmp.path().join("vendor"), 1, &VendorProfile::default()).unwrap();
    let req = ProvisionRequest {
        model: "IPC4K15",
        serial: "IPC4K15-B0001",
        extra_names: vec!["127.0.0.1".into()],
    };
    camkey_factory::provision(&keys, &req, &tmp.path().join("factory")).unwrap();
    let https = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = https.local_addr().unwrap().port();
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http_port = http.local_addr().unwrap().port();
    let config = CameraConfig {
        factory_dir: tmp.path().join("factory"),
        data_dir: tmp.path().join("flash"),
        https_base: format!("https://127.0.0.1:{port}"),
        http_base: None,
        core: CoreConfig::default(),
        discovery: None,
    };
    let cam = Camera::start(
        config,
        Listeners {
            https,
            http: Some(http),
        },
        Arc::new(camkey_camera::clock::SystemClock::default()),
    )
    .await
    .unwrap();

    // Durable saves: a wrong sign-in writes the state once (limits + audit).
    let core = cam.core().clone();
    let init = camkey_proto::api::InitRequest {
        password: PASSWORD.into(),
        recovery_email: None,
        security_questions: vec![],
        setup_code: None,
        network: None,
        time: None,
        onvif: false,
    };
    core.init(init, "127.0.0.1".parse().unwrap()).await.unwrap();
    let state_bytes = std::fs::metadata(tmp.path().join("flash/state.json"))
        .unwrap()
        .len();
    let store =
        camkey_camera::store::AtomicFile::new(&tmp.path().join("bench"), "state.json").unwrap();
    let state = core.state();
    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        store.save(&state).unwrap();
    }
    println!(
        "durable state save ({state_bytes} bytes): {:.2} ms each ({n} saves)",
        t.elapsed().as_secs_f64() * 1000.0 / n as f64
    );

    // Sign-in throughput over HTTPS.
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(
        &mut std::fs::read(tmp.path().join("vendor/device-ca.pem"))
            .unwrap()
            .as_slice(),
    ) {
        roots.add(c.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{port}/api/login");
    let clients = 8;
    let per_client = 25;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_client {
                let r = client
                    .post(&url)
                    .json(&serde_json::json!({"username": "admin", "password": PASSWORD}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let total = clients * per_client;
    println!(
        "sign-in over HTTPS, {clients} clients: {:.1} sign-ins/s ({total} in {secs:.2} s, {} cores)",
        total as f64 / secs,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    // ONVIF sign-in in the core, from one remembered client (a polling NVR).
    let src: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    core.set_onvif_access("admin", true, Some(PASSWORD), src)
        .await
        .unwrap();
    use sha2::Digest;
    let expected = sha2::Sha256::digest(format!("admin:camkey:{PASSWORD}"));
    let n = 20_000;
    let t = Instant::now();
    for _ in 0..n {
        core.verify_onvif("admin", src, |pw| {
            sha2::Sha256::digest(format!("admin:camkey:{pw}")) == expected
        })
        .await
        .unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "ONVIF sign-in in the core (unseal + SHA-256 digest + limits): {:.0} per second on one core ({n} in {secs:.2} s)",
        n as f64 / secs
    );

    // Digest-authenticated ONVIF calls.
    for base in [
        format!("http://127.0.0.1:{http_port}"),
        format!("https://127.0.0.1:{port}"),
    ] {
        let per_client = 250;
        let t = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (client, base) = (client.clone(), base.clone());
            tasks.push(tokio::spawn(onvif_digest_calls(client, base, per_client)));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let secs = t.elapsed().as_secs_f64();
        let total = clients * per_client;
        println!(
            "ONVIF GetDeviceInformation with HTTP digest over {}, {clients} clients: {:.0} calls/s ({total} in {secs:.2} s)",
            base.split(':').next().unwrap_or(""),
            total as f64 / secs
        );
    }
    cam.stop().await;
}

/// `n` digest-authenticated calls: one 401 for the nonce, then one round trip per call.
async fn onvif_digest_calls(client: reqwest::Client, base: String, n: usize) {
    use camkey_onvif::auth::digest::{self, Algorithm};
    use camkey_onvif::soap::{self, SoapVersion};
    let path = "/onvif/device_service";
    let url = format!("{base}{path}");
    let body = soap::render(SoapVersion::V12, None, "<tds:GetDeviceInformation/>");
    let post = |auth: Option<String>| {
        let mut r = client
            .post(&url)
            .header("content-type", soap::content_type(SoapVersion::V12))
            .body(body.clone());
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let first = post(None).await.unwrap();
    assert_eq!(first.status(), 401);
    let challenge = first.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let param = |name: &str| {
        let at = challenge.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        challenge[at..].split('"').next().unwrap().to_string()
    };
    let (realm, nonce) = (param("realm"), param("nonce"));
    let alg = Algorithm::Sha256;
    let ha1 = digest::ha1(alg, "admin", &realm, PASSWORD);
    let ha2 = alg.hex(format!("POST:{path}").as_bytes());
    let cnonce = format!("{:016x}", rand::random::<u64>());
    for i in 1..=n {
        let nc = format!("{i:08x}");
        let response = alg.hex(format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}").as_bytes());
        let auth = format!(
            "Digest username=\"admin\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{path}\", algorithm=SHA-256, qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\""
        );
        let r = post(Some(auth)).await.unwrap();
        assert_eq!(r.status(), 200);
    }
}
