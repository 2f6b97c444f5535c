//! The e-mailed recovery code (S3b) and the mail a camera sends, received by a real SMTP
//! server on loopback (camkey-smtp's in-memory mailbox).

use crate::common::*;
use camkey_smtp::{Config, Mail, Mailbox, Server};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const NEW: &str = "marble-lantern-violin-88";

pub struct Inbox {
    pub mailbox: Arc<Mailbox>,
    pub server: Server,
}

impl Inbox {
    pub async fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Inbox {
        Self::start_on("127.0.0.1:0", tls).await
    }

    /// An inbox on a given address (e.g. a port a test reserved earlier).
    pub async fn start_on(addr: &str, tls: Option<Arc<rustls::ServerConfig>>) -> Inbox {
        let mailbox = Arc::new(Mailbox::new(100));
        let mut config = Config::new("inbox.test");
        config.tls = tls;
        let server = Server::start(addr.parse().unwrap(), config, mailbox.clone())
            .await
            .unwrap();
        Inbox { mailbox, server }
    }

    pub async fn wait(&self, n: usize) -> Vec<Mail> {
        self.mailbox
            .wait_for(n, Duration::from_secs(20))
            .await
            .expect("mail did not arrive")
    }
}

pub fn text(m: &Mail) -> String {
    String::from_utf8_lossy(&m.message).into_owned()
}

/// The code on its `Code:` line.
pub fn code_line(m: &Mail) -> String {
    text(m)
        .lines()
        .find_map(|l| l.strip_prefix("Code: "))
        .expect("a Code: line")
        .trim()
        .to_string()
}

impl TestCamera {
    /// Signs in and points the camera's mail at `inbox` (plain SMTP: loopback).
    pub async fn use_inbox(&self, inbox: &Inbox, tls: &str) -> String {
        self.use_smtp_port(inbox.server.local_addr().port(), tls)
            .await
    }

    /// Signs in and points the camera's mail at 127.0.0.1:`port`.
    pub async fn use_smtp_port(&self, port: u16, tls: &str) -> String {
        let t = self.token().await;
        let r = self
            .client()
            .post(self.api("/settings/smtp"))
            .bearer_auth(&t)
            .json(&json!({"current_password": GOOD_PASSWORD, "smtp": {
                "server": "127.0.0.1", "port": port, "tls": tls,
                "sender": "camera@example.com"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        t
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn emailed_code_recovers_and_the_owner_is_told() {
    let inbox = Inbox::start(None).await;
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let token = cam.use_inbox(&inbox, "none").await;
    let (_, m) = cam.get("/recovery", None).await;
    assert_eq!(m["methods"], json!(["email", "qr"]));

    let (st, b) = cam.post("/recovery/email", json!({})).await;
    assert_eq!(st, 200, "{b}");
    // The stranger who asks learns nothing of the domain (S2).
    assert_eq!(b["to"], "o***@***");
    let mails = inbox.wait(1).await;
    assert_eq!(mails[0].envelope.rcpt_to, vec!["owner@example.com"]);
    let code = code_line(&mails[0]);
    assert_eq!(code.len(), 11, "{code}");

    let (st, b) = cam
        .post(
            "/recovery/email/verify",
            json!({"code": "00000-00000", "new_password": NEW}),
        )
        .await;
    assert_eq!((st, code_of(&b)), (401, "code_wrong"));
    let (st, b) = cam
        .post(
            "/recovery/email/verify",
            json!({"code": code.to_lowercase(), "new_password": NEW}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        cam.get("/audit", Some(&token)).await.0,
        401,
        "sessions ended"
    );
    // Works once.
    let (st, _) = cam
        .post(
            "/recovery/email/verify",
            json!({"code": code, "new_password": GOOD_PASSWORD}),
        )
        .await;
    assert_eq!(st, 401);

    // The notice: to the owner-set address, with method, time and source; no secret.
    let mails = inbox.wait(2).await;
    let notice = text(&mails[1]);
    assert_eq!(mails[1].envelope.rcpt_to, vec!["owner@example.com"]);
    assert!(
        notice.contains("was reset")
            && notice.contains("e-mailed recovery code")
            && notice.contains("127.0.0.1"),
        "{notice}"
    );
    assert!(!notice.contains(&code) && !notice.contains(NEW));
    assert_eq!(cam.login(NEW).await.0, 200);
}

fn code_of(b: &serde_json::Value) -> &str {
    code(b)
}

#[tokio::test(flavor = "multi_thread")]
async fn emailed_codes_live_ten_minutes_three_at_most_and_asking_again_cancels_none() {
    let inbox = Inbox::start(None).await;
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    cam.use_inbox(&inbox, "none").await;
    assert_eq!(cam.post("/recovery/email", json!({})).await.0, 200);
    let (st, b) = cam.post("/recovery/email", json!({})).await;
    assert_eq!(
        (st, code_of(&b)),
        (429, "too_soon"),
        "a minute between codes"
    );
    cam.clock.advance(61_000);
    assert_eq!(cam.post("/recovery/email", json!({})).await.0, 200);
    cam.clock.advance(61_000);
    assert_eq!(cam.post("/recovery/email", json!({})).await.0, 200);
    cam.clock.advance(61_000);
    let (st, _) = cam.post("/recovery/email", json!({})).await;
    assert_eq!(st, 429, "three live at most");
    let mails = inbox.wait(3).await;
    let (first, third) = (code_line(&mails[0]), code_line(&mails[2]));
    // The first is still good after two more were sent... but not after 10 minutes.
    cam.clock.advance(10 * 60_000 - 3 * 61_000 - 1_000);
    let (st, b) = cam
        .post(
            "/recovery/email/verify",
            json!({"code": first, "new_password": NEW}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    // A recovery ends the other live codes.
    let (st, _) = cam
        .post(
            "/recovery/email/verify",
            json!({"code": third, "new_password": GOOD_PASSWORD}),
        )
        .await;
    assert_eq!(st, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn emailed_code_expires_after_ten_minutes() {
    let inbox = Inbox::start(None).await;
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    cam.use_inbox(&inbox, "none").await;
    assert_eq!(cam.post("/recovery/email", json!({})).await.0, 200);
    let code = code_line(&inbox.wait(1).await[0]);
    cam.clock.advance(10 * 60_000);
    let (st, b) = cam
        .post(
            "/recovery/email/verify",
            json!({"code": code, "new_password": NEW}),
        )
        .await;
    assert_eq!((st, code_of(&b)), (403, "code_expired"));
}

#[tokio::test(flavor = "multi_thread")]
async fn never_to_the_factory_default() {
    let inbox = Inbox::start(None).await;
    let cam = TestCamera::start("IPC4K15").await;
    let (st, _) = cam.post("/init", json!({"password": GOOD_PASSWORD})).await;
    assert_eq!(st, 200);
    cam.use_inbox(&inbox, "none").await;
    let (_, m) = cam.get("/recovery", None).await;
    assert_eq!(m["methods"], json!(["qr"]));
    let (st, b) = cam.post("/recovery/email", json!({})).await;
    assert_eq!((st, code_of(&b)), (409, "method_unavailable"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(inbox.mailbox.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_settings_need_the_password_and_tls_off_the_loopback() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let t = cam.token().await;
    let set = |pw: &'static str, smtp: serde_json::Value| {
        cam.client()
            .post(cam.api("/settings/smtp"))
            .bearer_auth(&t)
            .json(&json!({"current_password": pw, "smtp": smtp}))
            .send()
    };
    let plain_remote = json!({"server": "mail.example.com", "port": 25, "tls": "none", "sender": "camera@example.com"});
    let r = set(GOOD_PASSWORD, plain_remote).await.unwrap();
    assert_eq!(r.status(), 400);
    let b: serde_json::Value = r.json().await.unwrap();
    assert!(
        b["error"]["message"].as_str().unwrap().contains("TLS"),
        "{b}"
    );
    let ok = json!({"server": "mail.example.com", "port": 587, "tls": "starttls", "sender": "camera@example.com", "username": "cam", "password": "smtp-secret"});
    assert_eq!(
        set("wrong-password-here", ok.clone())
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(set(GOOD_PASSWORD, ok).await.unwrap().status(), 200);
    let (_, s) = cam.get("/settings", Some(&t)).await;
    assert_eq!(s["smtp"]["password_set"], true);
    assert!(
        !s.to_string().contains("smtp-secret"),
        "the SMTP password never comes back"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_to_the_mail_server_is_verified() {
    // A server with a certificate no public CA signed: the camera must refuse to send.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
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
    let inbox = Inbox::start(Some(Arc::new(tls))).await;
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let t = cam.use_inbox(&inbox, "starttls").await;
    let r = cam
        .client()
        .post(cam.api("/settings/smtp/test"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(code_of(&b), "mail_failed");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        inbox.mailbox.is_empty(),
        "nothing went out over unverified TLS"
    );
    let (_, m) = cam.get("/recovery", None).await;
    assert_eq!(
        m["methods"],
        json!(["email", "qr"]),
        "a failed send is temporary: e-mail stays on the list"
    );
    let (_, settings) = cam.get("/settings", Some(&t)).await;
    assert_eq!(settings["smtp_ok"], false, "the settings tell the owner");
}

#[tokio::test(flavor = "multi_thread")]
async fn test_mail_and_address_change_notice() {
    let inbox = Inbox::start(None).await;
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let t = cam.use_inbox(&inbox, "none").await;
    let r = cam
        .client()
        .post(cam.api("/settings/smtp/test"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(text(&inbox.wait(1).await[0]).contains("test mail"));
    let r = cam
        .client()
        .post(cam.api("/settings/recovery-email"))
        .bearer_auth(&t)
        .json(&json!({"current_password": GOOD_PASSWORD, "recovery_email": "new@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mails = inbox.wait(2).await;
    assert_eq!(
        mails[1].envelope.rcpt_to,
        vec!["owner@example.com"],
        "the old address is told"
    );
    assert!(text(&mails[1]).contains("n***@example.com"));
}

#[tokio::test(flavor = "multi_thread")]
async fn saving_smtp_again_keeps_the_stored_password() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let t = cam.token().await;
    let set = |smtp: serde_json::Value| {
        cam.client()
            .post(cam.api("/settings/smtp"))
            .bearer_auth(&t)
            .json(&json!({"current_password": GOOD_PASSWORD, "smtp": smtp}))
            .send()
    };
    let first = json!({"server": "127.0.0.1", "port": 2525, "tls": "none", "username": "mailuser", "password": "mail-secret-1", "sender": "camera@example.com"});
    assert_eq!(set(first).await.unwrap().status(), 200);
    let again = json!({"server": "127.0.0.1", "port": 2526, "tls": "none", "username": "mailuser", "sender": "camera@example.com"});
    assert_eq!(set(again).await.unwrap().status(), 200);
    let st = cam.core().state();
    assert_eq!(
        st.smtp.as_ref().unwrap().password.as_deref(),
        Some("mail-secret-1")
    );
    assert_eq!(st.smtp.as_ref().unwrap().port, 2526);
    // Another login without a password is refused as a setting, not as a failed send.
    let other = json!({"server": "127.0.0.1", "port": 2526, "tls": "none", "username": "other", "sender": "camera@example.com"});
    let r = set(other).await.unwrap();
    assert_eq!(r.status(), 400);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(code_of(&b), "setting_invalid");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_notice_waits_on_flash_through_a_power_cut() {
    let inbox = Inbox::start(None).await;
    let port = inbox.server.local_addr().port();
    let mut cam = TestCamera::start("IPC4K15").await;
    let (st, _) = cam
        .post(
            "/init",
            json!({"password": GOOD_PASSWORD, "recovery_email": "owner@example.com",
                "security_questions": [{"question": "First pet's name?", "answer": "Rex the Dog"}]}),
        )
        .await;
    assert_eq!(st, 200);
    cam.use_inbox(&inbox, "none").await;
    // The mail server goes down; the owner recovers by the questions.
    inbox.server.shutdown().await.unwrap();
    let (st, b) = cam
        .post(
            "/recovery/questions",
            json!({"answers": ["rex the dog"], "new_password": NEW}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    // The notice could not go out: it waits on flash, saved with the recovery.
    let data_dir = cam.data_dir();
    let flash = || {
        camkey_camera::store::AtomicFile::new(&data_dir, "state.json")
            .unwrap()
            .load::<camkey_camera::state::UserState>()
            .unwrap()
            .unwrap()
    };
    let waiting = flash().pending_mail;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0].purpose, "reset_notice");
    assert_eq!(waiting[0].to, "owner@example.com");
    // Power cut (RAM gone), the mail server back on the same port: it goes out at boot.
    let mailbox = Arc::new(Mailbox::new(10));
    let _server = Server::start(
        ([127, 0, 0, 1], port).into(),
        Config::new("inbox.test"),
        mailbox.clone(),
    )
    .await
    .unwrap();
    cam.power_cycle().await;
    let mails = mailbox
        .wait_for(1, Duration::from_secs(20))
        .await
        .expect("the notice went out after the reboot");
    assert!(text(&mails[0]).contains("was reset"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !flash().pending_mail.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "still waiting on flash"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
