//! `camkey init` and `camkey recover` against real cameras on port 0 (started in this
//! process): the identity check before anything is sent, each exit code, and the QR
//! recovery with a code issued as the vendor's signer would.

use camkey_camera::core::CoreConfig;
use camkey_camera::{Camera, CameraConfig, Listeners};
use camkey_client::{CameraClient, DeviceCa};
use camkey_factory::{ProvisionRequest, VendorKeys, VendorProfile};
use camkey_proto::clock::ManualClock;
use camkey_proto::factory::FactoryData;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const PASSWORD: &str = "tulip-harbor-quietly-42";
const NEW: &str = "marble-lantern-violin-88";

struct Lab {
    tmp: tempfile::TempDir,
    keys: VendorKeys,
}

struct Cam {
    _camera: Camera,
    clock: ManualClock,
    url: String,
    factory: FactoryData,
}

impl Lab {
    fn new() -> Lab {
        let tmp = tempfile::tempdir().unwrap();
        let keys =
            VendorKeys::generate(&tmp.path().join("vendor"), 1, &VendorProfile::default()).unwrap();
        std::fs::write(tmp.path().join("pw"), format!("{PASSWORD}\n")).unwrap();
        std::fs::write(tmp.path().join("new"), format!("{NEW}\n")).unwrap();
        std::fs::write(tmp.path().join("weak"), "password\n").unwrap();
        Lab { tmp, keys }
    }

    fn ca(&self) -> String {
        self.keys
            .path(camkey_factory::files::DEVICE_CA)
            .to_string_lossy()
            .into_owned()
    }

    fn file(&self, name: &str) -> String {
        self.tmp.path().join(name).to_string_lossy().into_owned()
    }

    async fn camera(&self, keys: &VendorKeys, model: &str, serial: &str) -> Cam {
        self.camera_on(keys, model, serial, None).await
    }

    async fn camera_on(
        &self,
        keys: &VendorKeys,
        model: &str,
        serial: &str,
        discovery: Option<std::net::Ipv4Addr>,
    ) -> Cam {
        let dir: PathBuf = self.tmp.path().join(serial);
        let factory = camkey_factory::provision(
            keys,
            &ProvisionRequest {
                model,
                serial,
                extra_names: vec!["127.0.0.1".into()],
            },
            &dir.join("factory"),
        )
        .unwrap();
        let https = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = https.local_addr().unwrap().port();
        let clock = ManualClock::new(1_790_000_000_000);
        let camera = Camera::start(
            CameraConfig {
                factory_dir: dir.join("factory"),
                data_dir: dir.join("flash"),
                https_base: format!("https://127.0.0.1:{port}"),
                http_base: None,
                core: CoreConfig::default(),
                discovery,
            },
            Listeners { https, http: None },
            Arc::new(clock.clone()),
        )
        .await
        .unwrap();
        Cam {
            _camera: camera,
            clock,
            url: format!("https://127.0.0.1:{port}/"),
            factory,
        }
    }

    async fn initialized(&self, cam: &Cam) -> bool {
        let ca = DeviceCa::from_file(Path::new(&self.ca())).unwrap();
        CameraClient::new(&cam.url, &ca, None)
            .unwrap()
            .device()
            .await
            .unwrap()
            .initialized
    }
}

/// Runs camkey off the async threads: (exit code, stdout, stderr).
async fn camkey(args: &[&str], stdin: &str) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let stdin = stdin.to_string();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new(env!("CARGO_BIN_EXE_camkey"))
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn init_refuses_another_serial_sends_nothing_then_works_with_the_right_one() {
    let lab = Lab::new();
    let cam = lab.camera(&lab.keys, "IPC4K15", "IPC4K15-I0001").await;
    let (ca, pw) = (lab.ca(), lab.file("pw"));
    let (code, _, err) = camkey(
        &[
            "init",
            &cam.url,
            "--ca",
            &ca,
            "--serial",
            "IPC4K15-I0002",
            "--password-file",
            &pw,
        ],
        "",
    )
    .await;
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("expected serial IPC4K15-I0002"), "{err}");
    assert!(err.contains("IPC4K15-I0001"), "{err}");
    assert!(
        !lab.initialized(&cam).await,
        "the init reached the wrong camera"
    );

    let (code, out, err) = camkey(
        &[
            "--json",
            "init",
            &cam.url,
            "--ca",
            &ca,
            "--serial",
            "IPC4K15-I0001",
            "--password-file",
            &pw,
            "--recovery-email",
            "owner@example.com",
            "--onvif",
        ],
        "",
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            v["serial"].as_str(),
            v["certificate"].as_str(),
            v["initialized"].as_bool()
        ),
        (Some("IPC4K15-I0001"), Some("verified"), Some(true))
    );
    assert!(lab.initialized(&cam).await);
    // Already initialized: 8.
    let (code, _, err) = camkey(&["init", &cam.url, "--ca", &ca, "--password-file", &pw], "").await;
    assert_eq!(code, 8, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn init_exit_codes_name_what_to_do() {
    let lab = Lab::new();
    let (ca, pw) = (lab.ca(), lab.file("pw"));
    // Another vendor's camera: not genuine, 4, and nothing sent.
    let other =
        VendorKeys::generate(&lab.tmp.path().join("other"), 1, &VendorProfile::default()).unwrap();
    let fake = lab.camera(&other, "IPC4K15", "IPC4K15-I0003").await;
    let (code, out, _) = camkey(
        &[
            "--json",
            "init",
            &fake.url,
            "--ca",
            &ca,
            "--password-file",
            &pw,
        ],
        "",
    )
    .await;
    assert_eq!(code, 4, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("not a genuine camera"),
        "{out}"
    );
    assert_eq!(v["exit_code"], 4);

    // Weak password: 7 (the password comes from standard input here).
    let cam = lab.camera(&lab.keys, "IPC4K15", "IPC4K15-I0004").await;
    let (code, _, err) = camkey(&["init", &cam.url, "--ca", &ca], "password\n").await;
    assert_eq!(code, 7, "{err}");
    assert!(!lab.initialized(&cam).await);

    // Setup code needed: 6 before anything is sent; wrong: 6; right: 0.
    let t8 = lab.camera(&lab.keys, "IPC4T8", "IPC4T8-I0005").await;
    let (code, _, err) = camkey(&["init", &t8.url, "--ca", &ca, "--password-file", &pw], "").await;
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("setup code"), "{err}");
    let (code, _, err) = camkey(
        &[
            "init",
            &t8.url,
            "--ca",
            &ca,
            "--password-file",
            &pw,
            "--setup-code",
            "0000-0000",
        ],
        "",
    )
    .await;
    assert_eq!(code, 6, "{err}");
    let (code, _, err) = camkey(
        &[
            "init",
            &t8.url,
            "--ca",
            &ca,
            "--password-file",
            &pw,
            "--setup-code",
            &t8.factory.setup_code,
        ],
        "",
    )
    .await;
    assert_eq!(code, 0, "{err}");

    // The init window closed: 5, with "power-cycle".
    let late = lab.camera(&lab.keys, "IPC4K15", "IPC4K15-I0006").await;
    late.clock.advance(31 * 60_000);
    let (code, _, err) = camkey(
        &["init", &late.url, "--ca", &ca, "--password-file", &pw],
        "",
    )
    .await;
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("power-cycle"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn recover_draws_the_challenge_and_takes_the_vendors_code() {
    use camkey_proto::{challenge, code, keys::MasterKey};
    let lab = Lab::new();
    let (ca, pw) = (lab.ca(), lab.file("pw"));
    let cam = lab.camera(&lab.keys, "IPC4K15", "IPC4K15-I0007").await;
    let (c, _, err) = camkey(
        &[
            "init",
            &cam.url,
            "--ca",
            &ca,
            "--password-file",
            &pw,
            "--recovery-email",
            "owner@example.com",
        ],
        "",
    )
    .await;
    assert_eq!(c, 0, "{err}");
    // The challenge the command will show, opened and answered as the vendor's signer does.
    let client = CameraClient::new(
        &cam.url,
        &DeviceCa::from_file(Path::new(&ca)).unwrap(),
        None,
    )
    .unwrap();
    let text = client.recovery_qr().await.unwrap().text;
    let master: MasterKey = lab.keys.master_key().unwrap();
    let ch = challenge::open_with_master(std::slice::from_ref(&master), &text).unwrap();
    let security = code::issue(
        &master.device_key(&ch.serial),
        &ch,
        1_790_000_000_000,
        1_790_000_000_000,
    )
    .unwrap()
    .text();
    // The code typed at the prompt, the password from a file.
    let (c, out, err) = camkey(
        &[
            "recover",
            &cam.url,
            "--ca",
            &ca,
            "--serial",
            "IPC4K15-I0007",
            "--password-file",
            &lab.file("new"),
        ],
        &format!("{security}\n"),
    )
    .await;
    assert_eq!(c, 0, "{out}{err}");
    assert!(out.contains(&text), "{out}");
    assert!(
        out.contains('▀') || out.contains('▄') || out.contains('█'),
        "{out}"
    );
    assert!(out.contains("reset@"), "{out}");
    assert!(out.contains("password recovered"), "{out}");
    let mut client = CameraClient::new(
        &cam.url,
        &DeviceCa::from_file(Path::new(&ca)).unwrap(),
        None,
    )
    .unwrap();
    client.login("admin", NEW).await.unwrap();
    // The same code again: refused by the camera, exit 1.
    let (c, _, err) = camkey(
        &[
            "recover",
            &cam.url,
            "--ca",
            &ca,
            "--code",
            &security,
            "--password-file",
            &pw,
        ],
        "",
    )
    .await;
    assert_eq!(c, 1, "{err}");
}

/// The rows of `found` (JSON list) with this serial.
fn row<'a>(found: &'a Value, serial: &str) -> &'a Value {
    found
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["serial"] == serial)
        .unwrap_or_else(|| panic!("{serial} not in {found}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn discover_checks_certificates_and_init_all_initializes_only_genuine_ones() {
    let lab = Lab::new();
    let (ca, pw) = (lab.ca(), lab.file("pw"));
    let lo = Some(std::net::Ipv4Addr::LOCALHOST);
    let other =
        VendorKeys::generate(&lab.tmp.path().join("other"), 1, &VendorProfile::default()).unwrap();
    // Serials of their own: other tests' cameras may answer on loopback too.
    let tag = std::process::id() % 100_000;
    let (s1, s2, s3) = (
        format!("IPC4K15-D{tag:05}1"),
        format!("IPC4K15-D{tag:05}2"),
        format!("IPC4K15-D{tag:05}3"),
    );
    let a = lab.camera_on(&lab.keys, "IPC4K15", &s1, lo).await;
    let b = lab.camera_on(&lab.keys, "IPC4K15", &s2, lo).await;
    let fake = lab.camera_on(&other, "IPC4K15", &s3, lo).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let (code, out, err) = camkey(
        &["--json", "discover", "--ca", &ca, "--timeout", "1500"],
        "",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let found: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(row(&found, &s1)["certificate"], "verified");
    assert_eq!(row(&found, &s3)["certificate"], "not_genuine");
    let (_, out, _) = camkey(&["--json", "discover", "--timeout", "1000"], "").await;
    let found: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(row(&found, &s1)["certificate"], "unchecked");
    let (_, out, _) = camkey(&["discover", "--ca", &ca, "--timeout", "1000"], "").await;
    assert!(out.contains("CERTIFICATE"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&s3) && l.contains("not genuine")),
        "{out}"
    );

    let (_, out, err) = camkey(
        &[
            "--json",
            "init",
            "--all-uninitialized",
            "--ca",
            &ca,
            "--password-file",
            &pw,
            "--timeout",
            "1500",
        ],
        "",
    )
    .await;
    let done: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}{err}"));
    assert_eq!(row(&done, &s1)["result"], "initialized", "{done}");
    assert_eq!(row(&done, &s2)["result"], "initialized", "{done}");
    assert_eq!(row(&done, &s3)["result"], "not_genuine", "{done}");
    assert!(lab.initialized(&a).await && lab.initialized(&b).await);
    let own = DeviceCa::from_file(&other.path(camkey_factory::files::DEVICE_CA)).unwrap();
    let info = CameraClient::new(&fake.url, &own, None)
        .unwrap()
        .device()
        .await
        .unwrap();
    assert!(!info.initialized, "the impostor got the password");
}
