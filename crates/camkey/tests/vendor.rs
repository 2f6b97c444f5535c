//! The vendor's real processes: `camkey vendor signer` and `camkey vendor serve`, with a
//! real SMTP server on loopback receiving what the signer mails. Challenges are sealed as
//! a camera seals them (the camera side has its own tests).
#![allow(clippy::unwrap_used)]

use camkey_proto::challenge::{Challenge, Recovery};
use camkey_proto::code;
use camkey_proto::keys::MasterKey;
use camkey_smtp::{Config, Mail, Mailbox, Server};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "vendor/attack_front.rs"]
mod attack_front;
#[path = "vendor/attack_signer.rs"]
mod attack_signer;

fn camkey() -> Command {
    Command::new(env!("CARGO_BIN_EXE_camkey"))
}

/// A port that is free now and that no outgoing connection will take meanwhile: below
/// the kernel's ephemeral range (32768 and up), where port 0 and client sockets draw from,
/// since some tests bind it only later (a mail server that is not up yet).
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(
        0,
        20_000 + (std::process::id() % 8_000) as u16,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Vendor {
    dir: tempfile::TempDir,
    master: MasterKey,
    smtp_port: u16,
    http: SocketAddr,
    signer: Option<Proc>,
    _serve: Proc,
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < end, "{what} not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Vendor {
    fn start(smtp_port: u16) -> Vendor {
        Self::start_with(smtp_port, &[])
    }

    /// Starts with these extra `vendor serve` arguments.
    fn start_with(smtp_port: u16, extra: &[&str]) -> Vendor {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let st = camkey()
            .args(["keygen", "--dir", keys.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(st.status.success());
        let master =
            MasterKey::from_json(&std::fs::read(keys.join("master.key")).unwrap()).unwrap();
        let port = free_port();
        let serve = Proc(
            camkey()
                .args(["vendor", "serve", "--db"])
                .arg(dir.path().join("vendor.db"))
                .arg("--signer")
                .arg(dir.path().join("signer.sock"))
                .args(["--http", &format!("127.0.0.1:{port}")])
                .args(extra)
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let mut v = Vendor {
            signer: None,
            _serve: serve,
            http: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
            master,
            smtp_port,
        };
        wait_for("front end", || std::net::TcpStream::connect(v.http).is_ok());
        v.start_signer();
        v
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("signer.sock")
    }

    fn start_signer(&mut self) {
        let _ = std::fs::remove_file(self.sock());
        let orders = self.dir.path().join("orders.csv");
        std::fs::write(
            &orders,
            "order_number,serial,customer_name,customer_email,purchase_date\n\
             ORD-1,IPC4K15-V0100,Carol Customer,carol@example.com,2026-03-01\n\
             ORD-2,IPC4K15-V0101,Dan Other,dan@example.com,2026-03-02\n",
        )
        .unwrap();
        let child = camkey()
            .args(["vendor", "signer", "--orders"])
            .arg(&orders)
            .arg("--master-key")
            .arg(self.dir.path().join("keys/master.key"))
            .arg("--db")
            .arg(self.dir.path().join("signer.db"))
            .arg("--socket")
            .arg(self.sock())
            .args([
                "--smtp",
                &format!("127.0.0.1:{}", self.smtp_port),
                "--smtp-plain",
                "--sender",
                "reset@vendor.example",
            ])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.signer = Some(Proc(child));
        let sock = self.sock();
        wait_for("signer", || {
            std::os::unix::net::UnixStream::connect(&sock).is_ok()
        });
    }

    /// A challenge as camera `serial` would make it.
    fn challenge(&self, serial: &str, recovery: Recovery) -> (Challenge, String) {
        let key = self.master.device_key(serial);
        let c = Challenge::new(&key, serial, 1_790_000_000, false, recovery);
        let text = c.seal(&key).unwrap();
        (c, text)
    }

    async fn request(&self, body: Value) -> (u16, Value) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let r = reqwest::Client::new()
            .post(format!("http://{}/api/reset-requests", self.http))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

async fn inbox(port: u16) -> (Arc<Mailbox>, Server) {
    let mailbox = Arc::new(Mailbox::new(100));
    let server = Server::start(
        SocketAddr::from(([127, 0, 0, 1], port)),
        Config::new("inbox.test"),
        mailbox.clone(),
    )
    .await
    .unwrap();
    (mailbox, server)
}

fn code_of(m: &Mail) -> String {
    let text = String::from_utf8_lossy(&m.message).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("Code: "))
        .unwrap()
        .trim()
        .to_string()
}

fn owner() -> Recovery {
    Recovery::Owner("owner@example.com".into())
}

#[tokio::test(flavor = "multi_thread")]
async fn web_request_mails_the_code_to_the_sealed_address_only() {
    let port = free_port();
    let (mailbox, _smtp) = inbox(port).await;
    let v = Vendor::start(port);
    let (c, text) = v.challenge("IPC4K15-V0001", owner());
    let (st, b) = v.request(json!({"challenge": text})).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["outcome"], "code_sent");
    assert_eq!(b["hint"], "o***@***");
    assert!(
        !b.to_string().contains("owner@"),
        "never more than a masked hint"
    );
    let mails = mailbox.wait_for(1, Duration::from_secs(20)).await.unwrap();
    assert_eq!(mails[0].envelope.rcpt_to, vec!["owner@example.com"]);
    let typed = code_of(&mails[0]);
    let parsed = code::parse(&typed).unwrap();
    assert!(
        parsed.verify_mac(&v.master.device_key(&c.serial), &c.serial, &c.nonce),
        "a genuine code for this challenge"
    );
    // The answer never carries the code.
    assert!(!b.to_string().contains(&typed));

    // The same request again at once: idempotent, nothing new mailed.
    let (st, b) = v.request(json!({"challenge": text})).await;
    assert_eq!((st, b["outcome"].as_str()), (200, Some("code_sent")));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(mailbox.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_foreign_and_garbage_challenges_yield_no_mail() {
    let port = free_port();
    let (mailbox, _smtp) = inbox(port).await;
    let v = Vendor::start(port);
    // Sealed by another vendor's key (a forger's camera).
    let other = MasterKey::from_bytes(1, [9; 32]).device_key("IPC4K15-V0002");
    let forged = Challenge::new(
        &other,
        "IPC4K15-V0002",
        1,
        false,
        Recovery::Owner("attacker@evil.example".into()),
    )
    .seal(&other)
    .unwrap();
    let (st, b) = v.request(json!({"challenge": forged})).await;
    assert_eq!((st, b["outcome"].as_str()), (400, Some("not_genuine")));
    // A typo.
    let (_, text) = v.challenge("IPC4K15-V0003", owner());
    let mut typo = text.clone().into_bytes();
    typo[20] = if typo[20] == b'A' { b'B' } else { b'A' };
    let (st, b) = v
        .request(json!({"challenge": String::from_utf8(typo).unwrap()}))
        .await;
    assert_eq!((st, b["outcome"].as_str()), (400, Some("unreadable")));
    assert!(b["message"].as_str().unwrap().contains("CK1"));
    // Garbage, and input is never echoed.
    let (st, b) = v
        .request(json!({"challenge": "<script>alert(1)</script>"}))
        .await;
    assert_eq!(st, 400);
    assert!(!b.to_string().contains("script"));
    let (st, _) = v.request(json!({"nope": 1})).await;
    assert_eq!(st, 400);
    // The factory default: no code, the support desk.
    let (_, fd) = v.challenge("IPC4K15-V0004", Recovery::FactoryDefault);
    let (st, b) = v.request(json!({"challenge": fd})).await;
    assert_eq!((st, b["outcome"].as_str()), (200, Some("factory_address")));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(mailbox.is_empty(), "none of these produced a mail");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handful_of_codes_per_device_a_day() {
    let port = free_port();
    let (mailbox, _smtp) = inbox(port).await;
    let v = Vendor::start(port);
    for i in 0..5 {
        let (_, text) = v.challenge("IPC4K15-V0005", owner());
        let (st, b) = v.request(json!({"challenge": text})).await;
        assert_eq!(st, 200, "code {i}: {b}");
    }
    let (_, sixth) = v.challenge("IPC4K15-V0005", owner());
    let (st, b) = v.request(json!({"challenge": sixth})).await;
    assert_eq!((st, b["outcome"].as_str()), (429, Some("limit")));
    // Another camera is not affected.
    let (_, other) = v.challenge("IPC4K15-V0006", owner());
    assert_eq!(v.request(json!({"challenge": other})).await.0, 200);
    let mails = mailbox.wait_for(6, Duration::from_secs(20)).await.unwrap();
    assert_eq!(mails.len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_signer_loses_no_queued_code_mail() {
    let port = free_port(); // nothing listens yet: the mail cannot go out
    let mut v = Vendor::start(port);
    let (c, text) = v.challenge("IPC4K15-V0007", owner());
    let (st, _) = v.request(json!({"challenge": text})).await;
    assert_eq!(st, 200);
    // Power cut on the signer.
    v.signer.as_mut().unwrap().0.kill().unwrap();
    v.signer.as_mut().unwrap().0.wait().unwrap();
    let (mailbox, _smtp) = inbox(port).await;
    v.start_signer();
    let mails = mailbox
        .wait_for(1, Duration::from_secs(30))
        .await
        .expect("the queued mail went out after the restart");
    let typed = code_of(&mails[0]);
    assert!(code::parse(&typed).unwrap().verify_mac(
        &v.master.device_key(&c.serial),
        &c.serial,
        &c.nonce
    ));
}

#[test]
fn the_front_end_holds_no_key() {
    // `vendor serve` takes no key at all: its only way to a code is the signer's socket.
    let out = camkey()
        .args(["vendor", "serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(!help.contains("master"), "{help}");
    assert!(Path::new(env!("CARGO_BIN_EXE_camkey")).exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn support_release_goes_to_the_order_that_holds_the_challenges_serial() {
    use camkey_signer::protocol::{ErrorCode, Request, Response};
    let port = free_port();
    let (mailbox, _smtp) = inbox(port).await;
    let v = Vendor::start(port);
    let signer = camkey_signer::SignerClient::new(v.sock());
    // A camera with the factory address: no code for whoever asks.
    let (c, text) = v.challenge("IPC4K15-V0100", Recovery::FactoryDefault);
    let (_, b) = v.request(json!({"challenge": text})).await;
    assert_eq!(b["outcome"], "factory_address");
    // `issue` answers it in one round trip: the serial and nonce from inside the challenge
    // (what names the support case), never an address, a hint or a code.
    let issue = Request::Issue {
        challenge: text.clone(),
        channel: "web".into(),
        requester: "127.0.0.1".into(),
    };
    let r = signer.call(&issue).await.unwrap();
    let nonce: String = c.nonce.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        r,
        Response::FactoryDefault {
            serial: c.serial.clone(),
            nonce
        }
    );
    let release = |order: &str| Request::Release {
        challenge: text.clone(),
        order_number: order.into(),
        case: "42".into(),
        agent: "agent1".into(),
    };
    // An agent names an order that does not hold this camera: refused, nothing mailed.
    let r = signer.call(&release("ORD-2")).await.unwrap();
    assert_eq!(
        r,
        Response::Error {
            code: ErrorCode::NotOnOrder
        }
    );
    let r = signer.call(&release("ORD-999")).await.unwrap();
    assert_eq!(
        r,
        Response::Error {
            code: ErrorCode::NotOnOrder
        }
    );
    // The right order: the code goes to the order's customer, never back to the caller.
    let r = signer.call(&release("ORD-1")).await.unwrap();
    let Response::Released { hint, serial, .. } = &r else {
        panic!("{r:?}")
    };
    assert_eq!(
        (hint.as_str(), serial.as_str()),
        ("c***@***", "IPC4K15-V0100")
    );
    let mails = mailbox.wait_for(1, Duration::from_secs(20)).await.unwrap();
    assert_eq!(mails[0].envelope.rcpt_to, vec!["carol@example.com"]);
    let typed = code_of(&mails[0]);
    assert!(!serde_json::to_string(&r).unwrap().contains(&typed));
    assert!(code::parse(&typed).unwrap().verify_mac(
        &v.master.device_key(&c.serial),
        &c.serial,
        &c.nonce
    ));
    assert_eq!(mailbox.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_mail_gets_a_fixed_reply_that_survives_a_down_relay_and_a_crash() {
    use std::io::{Read, Write};
    let relay_port = free_port(); // down for now
    let code_port = free_port();
    let (codes, _code_smtp) = inbox(code_port).await;
    let v = Vendor::start(code_port);
    let smtp_port = free_port();
    let http_port = free_port();
    let start_serve = || {
        Proc(
            camkey()
                .args(["vendor", "serve", "--db"])
                .arg(v.dir.path().join("front.db"))
                .arg("--signer")
                .arg(v.sock())
                .args(["--http", &format!("127.0.0.1:{http_port}")])
                .args([
                    "--smtp",
                    &format!("127.0.0.1:{smtp_port}"),
                    "--reset-address",
                    "reset@vendor.example",
                    "--dmarc",
                    "off",
                ])
                .args([
                    "--relay",
                    &format!("127.0.0.1:{relay_port}"),
                    "--relay-plain",
                    "--sender",
                    "reset@vendor.example",
                ])
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let mut serve = start_serve();
    wait_for("reset mailbox", || {
        std::net::TcpStream::connect(("127.0.0.1", smtp_port)).is_ok()
    });
    let (_, text) = v.challenge("IPC4K15-V0200", owner());
    // A plain SMTP exchange, as any mail server would make it.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", smtp_port)).unwrap();
    let body = format!(
        "EHLO client.example\r\nMAIL FROM:<someone@example.org>\r\nRCPT TO:<reset@vendor.example>\r\nDATA\r\n\
         From: someone@example.org\r\nTo: reset@vendor.example\r\nSubject: reset\r\n\r\nHere it is:\r\n{text}\r\n.\r\nQUIT\r\n"
    );
    s.write_all(body.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.contains("250"), "{out}");
    // The code went to the owner through the signer.
    codes
        .wait_for(1, Duration::from_secs(20))
        .await
        .expect("code mailed to the owner");
    // The reply is queued while the relay is down; the front end crashes; nothing is lost.
    tokio::time::sleep(Duration::from_millis(500)).await;
    serve.0.kill().unwrap();
    serve.0.wait().unwrap();
    let (replies, _relay) = inbox(relay_port).await;
    serve = start_serve();
    let got = replies
        .wait_for(1, Duration::from_secs(30))
        .await
        .expect("the queued reply went out after the restart");
    assert_eq!(got[0].envelope.rcpt_to, vec!["someone@example.org"]);
    // Quoted-printable: undo its soft line breaks before reading.
    let reply = String::from_utf8_lossy(&got[0].message).replace("=\r\n", "");
    assert!(
        reply.contains("o***@***") && !reply.contains("CK1"),
        "{reply}"
    );
    drop(serve);
}

/// Runs `camkey` with `args` and `stdin`; (exit code, stdout, stderr).
fn run_with_stdin(args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = camkey()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn call(
    v: &Vendor,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut r = reqwest::Client::new().request(method, format!("http://{}{path}", v.http));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn release(v: &Vendor, token: &str, case: i64, order: &str, note: String) -> (u16, Value) {
    call(
        v,
        reqwest::Method::POST,
        &format!("/api/cases/{case}/release-code"),
        Some(token),
        Some(json!({"order_number": order, "note": note})),
    )
    .await
}

/// `GET /api/cases/{case}` as staff.
async fn case_view(v: &Vendor, token: &str, case: i64) -> (u16, Value) {
    call(
        v,
        reqwest::Method::GET,
        &format!("/api/cases/{case}"),
        Some(token),
        None,
    )
    .await
}

async fn login(v: &Vendor, user: &str, password: &str) -> String {
    let (st, b) = call(
        v,
        reqwest::Method::POST,
        "/api/staff/login",
        None,
        Some(json!({"username": user, "password": password})),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    b["token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn support_desk_orders_staff_and_release_through_the_real_processes() {
    use reqwest::Method;
    let port = free_port();
    let (mailbox, _smtp) = inbox(port).await;
    let v = Vendor::start(port);
    let db = v.dir.path().join("vendor.db");
    let db = db.to_str().unwrap();
    let signer_db = v.dir.path().join("signer.db");

    // Orders: a bad row refuses the whole file, with its line number, in both databases.
    let orders = v.dir.path().join("more-orders.csv");
    std::fs::write(
        &orders,
        "order_number,serial,customer_name,customer_email,purchase_date\n\
         ORD-3,IPC4K15-V0102,Erin Buyer,erin@example.com,2026-02-01\n\
         ORD-4,IPC4K15-V0103,Fay,not-an-address,2026-02-01\n",
    )
    .unwrap();
    let args = |f: &Path| {
        vec![
            "--json".to_string(),
            "vendor".into(),
            "orders".into(),
            "import".into(),
            f.display().to_string(),
            "--db".into(),
            db.into(),
            "--signer-db".into(),
            signer_db.display().to_string(),
        ]
    };
    let a = args(&orders);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (code, out, err) = run_with_stdin(&a, "");
    assert_eq!(code, 1, "{err}");
    let e = serde_json::from_str::<Value>(&out).unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        e.contains("line 3") && e.contains("nothing was imported"),
        "{e}"
    );
    use camkey_store::OrderStore;
    let store = camkey_store::SqliteStore::open(Path::new(db))
        .await
        .unwrap();
    assert_eq!(store.order_count().await.unwrap(), 0);
    std::fs::write(
        &orders,
        "order_number,serial,customer_name,customer_email,purchase_date\n\
         ORD-1,IPC4K15-V0100,Carol Customer,carol@example.com,2026-03-01\n\
         ORD-3,IPC4K15-V0102,Erin Buyer,erin@example.com,2026-02-01\n",
    )
    .unwrap();
    let (code, out, err) = run_with_stdin(&a, "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["imported"], 2);
    assert_eq!(store.order_count().await.unwrap(), 2);

    // Staff: a generated password for the agent, one from standard input for the admin.
    let (code, out, err) = run_with_stdin(
        &[
            "--json", "vendor", "staff", "add", "--db", db, "alice", "--role", "agent",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let alice_pw = serde_json::from_str::<Value>(&out).unwrap()["password"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, _, err) = run_with_stdin(
        &[
            "vendor",
            "staff",
            "add",
            "--db",
            db,
            "root",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "correct horse battery staple\n",
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_with_stdin(
        &[
            "vendor", "staff", "add", "--db", db, "alice", "--role", "agent",
        ],
        "",
    );
    assert_eq!(code, 1);
    assert!(err.contains("already"), "{err}");

    // Unauthenticated: 401. Wrong password: 401.
    let (st, _) = call(&v, Method::GET, "/api/cases", None, None).await;
    assert_eq!(st, 401);
    let (st, _) = call(
        &v,
        Method::POST,
        "/api/staff/login",
        None,
        Some(json!({"username": "alice", "password": "wrong wrong wrong"})),
    )
    .await;
    assert_eq!(st, 401);
    let agent = login(&v, "alice", &alice_pw).await;
    let admin = login(&v, "root", "correct horse battery staple").await;

    // A factory-address camera asks on the web: a case, once per challenge.
    let (_, text) = v.challenge("IPC4K15-V0100", Recovery::FactoryDefault);
    let (st, b) = v.request(json!({"challenge": text})).await;
    assert_eq!((st, b["outcome"].as_str()), (200, Some("factory_address")));
    let case = b["case"].as_i64().unwrap();
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains(&format!("case {case}"))
    );
    let (_, b) = v.request(json!({"challenge": text})).await;
    assert_eq!(b["case"].as_i64(), Some(case));
    let (st, list) = call(
        &v,
        Method::GET,
        "/api/cases?kind=password_reset&state=new",
        Some(&agent),
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["serial"], "IPC4K15-V0100");
    let (st, _) = call(
        &v,
        Method::GET,
        "/api/cases?state=bogus",
        Some(&agent),
        None,
    )
    .await;
    assert_eq!(st, 400);
    // The owner, sent on to the Tech Support Form with the same challenge: the same case,
    // now with the owner's details.
    let (st, b) = call(
        &v,
        Method::POST,
        "/api/support-requests",
        None,
        Some(
            json!({"name": "Carol", "email": "carol@example.com", "order_number": "ORD-1",
            "kind": "password_reset", "challenge": text}),
        ),
    )
    .await;
    assert_eq!((st, b["case"].as_i64()), (200, Some(case)), "{b}");
    let (_, view) = case_view(&v, &agent, case).await;
    assert_eq!(view["requester_email"], "carol@example.com");
    assert_eq!(view["history"][1]["action"], "details");

    // Another camera's owner types V0100's serial and order with their own challenge: the
    // challenge's serial (V0101, on ORD-2 only) counts, so ORD-1 is refused.
    let (_, text2) = v.challenge("IPC4K15-V0101", Recovery::FactoryDefault);
    let (st, b) = call(
        &v,
        Method::POST,
        "/api/support-requests",
        None,
        Some(
            json!({"name": "Mallory", "email": "mallory@example.com", "order_number": "ORD-1",
            "serial": "IPC4K15-V0100", "model": "IPC4K15", "kind": "password_reset",
            "description": "", "challenge": text2}),
        ),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let mallory = b["case"].as_i64().unwrap();
    let (_, view) = case_view(&v, &agent, mallory).await;
    assert_eq!(view["serial"], "IPC4K15-V0101");
    let (st, b) = release(&v, &agent, mallory, "ORD-1", String::new()).await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (409, Some("not_on_order"))
    );
    let (st, _) = release(&v, &agent, case, "ORD-2", String::new()).await;
    assert_eq!(st, 409);
    let (st, _) = release(&v, &agent, case, "ORD-1", "n".repeat(5000)).await;
    assert_eq!(st, 413);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mailbox.len(), 0);

    // The right order: the signer mails the order's customer.
    let (st, b) = release(&v, &agent, case, "ORD-1", "serial and order checked".into()).await;
    assert_eq!((st, b["hint"].as_str()), (200, Some("c***@***")));
    let mails = mailbox.wait_for(1, Duration::from_secs(20)).await.unwrap();
    assert_eq!(mails[0].envelope.rcpt_to, vec!["carol@example.com"]);
    let (_, view) = case_view(&v, &agent, case).await;
    assert_eq!(view["state"], "code_released");
    assert_eq!(view["orders"][0]["order_number"], "ORD-1");
    let last = view["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["actor"].as_str(), last["action"].as_str()),
        (Some("alice"), Some("release_code"))
    );

    // A serial only in the orders imported with --signer-db: the running signer has them.
    let (_, text3) = v.challenge("IPC4K15-V0102", Recovery::FactoryDefault);
    let (_, b) = v.request(json!({"challenge": text3})).await;
    let (st, b) = release(
        &v,
        &agent,
        b["case"].as_i64().unwrap(),
        "ORD-3",
        String::new(),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let mails = mailbox.wait_for(2, Duration::from_secs(20)).await.unwrap();
    assert_eq!(mails[1].envelope.rcpt_to, vec!["erin@example.com"]);

    // Roles: an agent cannot add staff or read the whole audit log; an admin can.
    let new = json!({"username": "bob", "role": "agent"});
    let (st, _) = call(
        &v,
        Method::POST,
        "/api/staff",
        Some(&agent),
        Some(new.clone()),
    )
    .await;
    assert_eq!(st, 403);
    let (st, _) = call(&v, Method::GET, "/api/audit", Some(&agent), None).await;
    assert_eq!(st, 403);
    let (st, b) = call(&v, Method::POST, "/api/staff", Some(&admin), Some(new)).await;
    assert_eq!(st, 200, "{b}");
    login(&v, "bob", b["password"].as_str().unwrap()).await;
    let (st, audit) = call(&v, Method::GET, "/api/audit", Some(&admin), None).await;
    assert_eq!(st, 200);
    let audit = audit.as_array().unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "staff_added" && e["actor"] == "root")
    );
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "release_refused" && e["actor"] == "alice")
    );
    assert!(audit.iter().any(|e| e["action"] == "login_failed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_mail_for_a_factory_address_camera_opens_a_case_and_tells_its_number() {
    use std::io::{Read, Write};
    let code_port = free_port();
    let (codes, _code_smtp) = inbox(code_port).await;
    let relay_port = free_port();
    let (replies, _relay) = inbox(relay_port).await;
    let mut v = Vendor::start(code_port);
    let (smtp_port, http_port) = (free_port(), free_port());
    let db = v.dir.path().join("front.db");
    v._serve = Proc(
        camkey()
            .args(["vendor", "serve", "--db"])
            .arg(&db)
            .arg("--signer")
            .arg(v.sock())
            .args(["--http", &format!("127.0.0.1:{http_port}")])
            .args(["--smtp", &format!("127.0.0.1:{smtp_port}")])
            .args(["--reset-address", "reset@vendor.example", "--dmarc", "off"])
            .args([
                "--relay",
                &format!("127.0.0.1:{relay_port}"),
                "--relay-plain",
            ])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    v.http = SocketAddr::from(([127, 0, 0, 1], http_port));
    wait_for("reset mailbox", || {
        std::net::TcpStream::connect(("127.0.0.1", smtp_port)).is_ok()
    });
    let (_, text) = v.challenge("IPC4K15-V0100", Recovery::FactoryDefault);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", smtp_port)).unwrap();
    let body = format!(
        "EHLO client.example\r\nMAIL FROM:<owner@example.org>\r\nRCPT TO:<reset@vendor.example>\r\nDATA\r\n\
         From: owner@example.org\r\nTo: reset@vendor.example\r\nSubject: reset\r\n\r\n{text}\r\n.\r\nQUIT\r\n"
    );
    s.write_all(body.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.contains("250"), "{out}");
    let got = replies.wait_for(1, Duration::from_secs(30)).await.unwrap();
    let reply = String::from_utf8_lossy(&got[0].message).replace("=\r\n", "");
    let case: i64 = reply
        .split("support case ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no case number in {reply}"));
    assert!(
        reply.contains("order number") && !reply.contains("CK1"),
        "{reply}"
    );
    assert_eq!(codes.len(), 0, "no code for whoever asked");

    // The agent releases: the code goes to the order's customer, the requester is told.
    let (code, out, err) = run_with_stdin(
        &[
            "--json",
            "vendor",
            "staff",
            "add",
            "--db",
            db.to_str().unwrap(),
            "alice",
            "--role",
            "agent",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let pw = serde_json::from_str::<Value>(&out).unwrap()["password"]
        .as_str()
        .unwrap()
        .to_string();
    let agent = login(&v, "alice", &pw).await;
    let (st, view) = case_view(&v, &agent, case).await;
    assert_eq!(st, 200);
    assert_eq!(
        (view["source"].as_str(), view["requester_email"].as_str()),
        (Some("mail"), Some("owner@example.org"))
    );
    let (st, b) = release(&v, &agent, case, "ORD-1", "checked".into()).await;
    assert_eq!(st, 200, "{b}");
    let mails = codes.wait_for(1, Duration::from_secs(20)).await.unwrap();
    assert_eq!(mails[0].envelope.rcpt_to, vec!["carol@example.com"]);
    let got = replies.wait_for(2, Duration::from_secs(30)).await.unwrap();
    let told = String::from_utf8_lossy(&got[1].message).replace("=\r\n", "");
    assert_eq!(got[1].envelope.rcpt_to, vec!["owner@example.org"]);
    assert!(
        told.contains(&format!("case {case}")) && !told.contains("Code:"),
        "{told}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_vendor_site_has_a_reset_guide_per_model() {
    let v = Vendor::start(free_port());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let get = async |path: &str| {
        let r = client
            .get(format!("http://{}{path}", v.http))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let index = get("/guides").await;
    let bullet = get("/guides/IPC4K15").await;
    let dome = get("/guides/ipc4k15d").await;
    let ptz = get("/guides/IPC4PTZ25").await;
    let nope = get("/guides/NOPE%3Cscript%3E").await;
    assert_eq!(index.0, 200);
    for m in camkey_proto::catalogue::CATALOGUE {
        assert!(
            index.1.contains(&format!("/guides/{}", m.name)),
            "{}",
            m.name
        );
    }
    assert_eq!(bullet.0, 200);
    for needle in [
        "<svg",
        "RESET (bottom compartment)",
        "not covered by the limited warranty",
        "not on carpet",
        "hand-driven screwdriver or Allen key",
        "PoE (or 12 V DC)",
        "about 3 minutes",
        "hold it for 15 seconds",
        "eraser on a pencil",
        "fingernail",
    ] {
        assert!(
            bullet.1.contains(needle),
            "no {needle:?} in the bullet guide"
        );
    }
    assert_eq!(dome.0, 200);
    assert!(dome.1.contains("near the image sensor"));
    assert_eq!(ptz.0, 200);
    assert!(ptz.1.contains("factory servicing") && ptz.1.contains("Tech Support Form"));
    assert!(!ptz.1.contains("<ol class=\"steps\">"));
    assert_eq!(nope.0, 404);
    assert!(!nope.1.contains("<script>"));
}
