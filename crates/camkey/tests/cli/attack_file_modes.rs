//! Every file and directory that the CLI and the lab create, made with a umask of 000 (as a
//! careless service manager would start them): secrets, databases with their `-wal` and
//! `-shm`, sockets and state are 0600 or 0400, directories 0700, and only a short list of
//! public files is readable by others. A file this test does not know fails it, so that a
//! new secret cannot slip in unnoticed.

use super::{Lab, client, init_camera, wait_device};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Public files and their exact modes: certificates and public keys that every camera or
/// browser is given, and the vendor profile (addresses on every camera's pages).
const PUBLIC: &[(&str, u32)] = &[
    ("device-ca.pem", 0o644),
    ("firmware.pub", 0o644),
    ("vendor.json", 0o644),
    ("device-chain.pem", 0o444),
];

/// Private files: 0600, or 0400 for the read-only factory data.
const PRIVATE: &[&str] = &[
    "master.key",
    "device-ca.key",
    "firmware.key",
    "device-tls.key",
    "factory.json",
    "state.json",
    "clock.json",
    "lab.json",
    "lab-plan.json",
    "staff.json",
    "orders.csv",
    "nvr.json",
    "nvr.key",
    "lab-admin.json",
];

/// Private by their ending: databases, their WAL and shared memory, and a document caught
/// between its write and its rename.
const PRIVATE_ENDINGS: &[&str] = &[".db", ".db-wal", ".db-shm", ".json.tmp"];

/// `camkey` started by a shell whose umask is 000.
fn camkey_umask_000() -> Command {
    let mut c = Command::new("sh");
    c.args([
        "-c",
        "umask 000 && exec \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_camkey"),
    ]);
    c
}

fn run(args: &[&str]) -> String {
    let out = camkey_umask_000().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "camkey {args:?}: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> Proc {
    Proc(
        camkey_umask_000()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < end, "{what} not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Walks `root` and checks every entry's mode; returns the names seen.
fn check_tree(root: &Path) -> Vec<String> {
    let mut seen = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            // Files may come and go while the parts run (a document's temp file).
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            let mode = meta.permissions().mode() & 0o7777;
            let kind = meta.file_type();
            if kind.is_dir() {
                assert_eq!(mode, 0o700, "directory {}: {mode:o}", path.display());
                todo.push(path);
                continue;
            }
            seen.push(name.clone());
            if kind.is_socket() {
                assert_eq!(name, "signer.sock", "unknown socket {}", path.display());
                assert_eq!(mode, 0o600, "socket {}: {mode:o}", path.display());
                continue;
            }
            assert!(kind.is_file(), "not a file: {}", path.display());
            if let Some((_, want)) = PUBLIC.iter().find(|(n, _)| *n == name) {
                assert_eq!(mode, *want, "public file {}: {mode:o}", path.display());
            } else if PRIVATE.contains(&name.as_str())
                || PRIVATE_ENDINGS.iter().any(|e| name.ends_with(e))
            {
                assert!(
                    mode == 0o600 || mode == 0o400,
                    "private file {}: {mode:o}",
                    path.display()
                );
            } else {
                panic!(
                    "{} is not a file this test knows: is it public or private?",
                    path.display()
                );
            }
        }
    }
    seen
}

fn assert_seen(seen: &[String], want: &[&str]) {
    for w in want {
        assert!(seen.iter().any(|s| s == w), "no {w} in {seen:?}");
    }
}

#[test]
fn every_file_the_cli_and_the_lab_create_is_private_whatever_the_umask() {
    // The test's own inputs live apart from what camkey creates.
    let inputs = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let p = |rel: &str| t.join(rel).to_str().unwrap().to_string();

    // The factory line: a key set and a camera's factory directory, in new directories.
    run(&["keygen", "--dir", &p("keys/v1")]);
    let master = p("keys/v1/master.key");
    let serial = "IPC4K15-M0001";
    run(&[
        "provision",
        "--master-key",
        &master,
        "--model",
        "IPC4K15",
        "--serial",
        serial,
        "--dir",
        &p("cams/factory"),
        "--name",
        "127.0.0.1",
    ]);

    // The vendor: orders and staff into both databases, then the signer and the front end.
    let orders = inputs.path().join("orders.csv");
    std::fs::write(
        &orders,
        format!(
            "order_number,serial,customer_name,customer_email,purchase_date\n\
             ORD-1,{serial},Carol Customer,carol@example.com,2026-03-01\n"
        ),
    )
    .unwrap();
    let orders = orders.to_str().unwrap();
    run(&[
        "vendor",
        "orders",
        "import",
        orders,
        "--db",
        &p("vendor.db"),
        "--signer-db",
        &p("signer.db"),
    ]);
    run(&[
        "vendor",
        "staff",
        "add",
        "--db",
        &p("vendor.db"),
        "carol",
        "--role",
        "admin",
    ]);
    let signer = spawn(&[
        "vendor",
        "signer",
        "--master-key",
        &master,
        "--db",
        &p("signer.db"),
        "--socket",
        &p("signer.sock"),
        "--smtp",
        &format!("127.0.0.1:{}", port()),
        "--smtp-plain",
        "--sender",
        "reset@vendor.example",
        "--orders",
        orders,
    ]);
    let sock = t.join("signer.sock");
    wait_for("signer", || {
        std::os::unix::net::UnixStream::connect(&sock).is_ok()
    });
    let http = port();
    let serve = spawn(&[
        "vendor",
        "serve",
        "--db",
        &p("vendor.db"),
        "--signer",
        &p("signer.sock"),
        "--http",
        &format!("127.0.0.1:{http}"),
    ]);
    wait_for("front end", || {
        std::net::TcpStream::connect(("127.0.0.1", http)).is_ok()
    });

    // A camera, initialized: its state holds the password hash and its recovery address.
    let https = format!("127.0.0.1:{}", port());
    let camera = spawn(&[
        "camera",
        "--factory",
        &p("cams/factory"),
        "--data",
        &p("cams/flash/deep"),
        "--https",
        &https,
        "--http",
        "none",
    ]);
    let web = client(&p("keys/v1/device-ca.pem"));
    let api = format!("https://{https}/api");
    wait_device(&web, &api);
    init_camera(&web, &api);

    // While every part runs (so the databases' -wal and -shm exist), and after they stop.
    let seen = check_tree(t);
    assert_seen(
        &seen,
        &[
            "master.key",
            "device-tls.key",
            "factory.json",
            "state.json",
            "clock.json",
            "signer.db-wal",
            "signer.db-shm",
            "vendor.db-wal",
            "vendor.db-shm",
            "signer.sock",
        ],
    );
    // An NVR (its own directory, two levels deep), with the camera on its port 1.
    let nvr_http = port();
    let nvr = spawn(&[
        "nvr",
        "--ca",
        &p("keys/v1/device-ca.pem"),
        "--dir",
        &p("nvrs/one/data"),
        "--listen",
        &format!("127.0.0.1:{nvr_http}"),
        "--port",
        &format!("1={https}"),
    ]);
    // Its store is written at first start (the admin account), before it serves.
    wait_for("NVR", || t.join("nvrs/one/data/nvr.json").exists());
    let seen = check_tree(t);
    assert_seen(&seen, &["nvr.json", "nvr.key"]);
    drop((nvr, camera, serve, signer));
    check_tree(t);

    // The lab, in a new directory, with a camera initialized.
    let lab_dir = t.join("labs/one");
    let (lab, m) = Lab::start_with(camkey_umask_000(), &lab_dir, &[]);
    let web = client(m["device_ca"].as_str().unwrap());
    let api = m["cameras"][0]["api"].as_str().unwrap().to_string();
    wait_device(&web, &api);
    init_camera(&web, &api);
    let seen = check_tree(t);
    assert_seen(
        &seen,
        &[
            "lab.json",
            "lab-plan.json",
            "staff.json",
            "orders.csv",
            "signer.db-wal",
            "vendor.db-wal",
            "signer.sock",
            "state.json",
            "nvr.json",
            "nvr.key",
            "lab-admin.json",
        ],
    );
    assert_eq!(lab.stop(), 0);
    check_tree(t);
}
