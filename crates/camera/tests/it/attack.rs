//! S4 as an attacker on the LAN tries it (docs/security.md, attack 1 and 9): a real camera
//! on HTTPS, attackers bound to many loopback addresses (127.0.0.x) failing in bounded
//! loops, the elapsed clock moved by hand. The owner's device cookie, real codes and setup
//! code must work at once however long the attack goes on.

use crate::common::*;
use crate::email::{Inbox, code_line, text};
use camkey_camera::core::CoreConfig;
use camkey_camera::limits::Policy;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU32, Ordering};

const NEW: &str = "marble-lantern-violin-88";
const WRONG: &str = "wrong-password-guess";

/// A fresh attacker address (127.20.x.y): never locked out, never seen before.
fn attacker() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("127.20.{}.{}", n / 250, 1 + n % 250)
}

/// What a sign-in answered.
struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<String>,
    /// The `camkey_device` value a `Set-Cookie` carried, and the whole header.
    device_cookie: Option<(String, String)>,
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let device_cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("camkey_device="))
        .map(|h| {
            let value = h["camkey_device=".len()..].split(';').next().unwrap();
            (value.to_string(), h.clone())
        });
    let body = r.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        body,
        retry_after,
        device_cookie,
    }
}

impl TestCamera {
    /// `POST /api/login` from `from`, with a device cookie if given.
    async fn login_from(&self, from: &str, user: &str, pw: &str, device: Option<&str>) -> Answer {
        let mut req = self
            .client_from(from)
            .post(self.api("/login"))
            .json(&json!({"username": user, "password": pw}));
        if let Some(d) = device {
            req = req.header("cookie", format!("camkey_device={d}"));
        }
        send(req).await
    }

    /// The sign-in page's form from `from`, as a browser posts it.
    async fn login_page_from(&self, from: &str, pw: &str, device: Option<&str>) -> Answer {
        let mut req = self
            .client_from(from)
            .post(format!("{}/login", self.base()))
            .header("origin", self.base())
            .form(&[("username", "admin"), ("password", pw)]);
        if let Some(d) = device {
            req = req.header("cookie", format!("camkey_device={d}"));
        }
        send(req).await
    }

    /// Ten attackers fail at `user`'s password (the free failures), then `rounds` more,
    /// each the moment the account-wide delay runs out: the delay grows to its longest
    /// and stays alive.
    async fn keep_account_delay_alive(&self, user: &str, rounds: u32) {
        for i in 0..10 {
            let a = self.login_from(&attacker(), user, WRONG, None).await;
            assert_eq!(a.status, 401, "attempt {i}: {}", a.body);
        }
        for _ in 0..rounds {
            self.fail_when_allowed(&attacker(), user).await;
        }
    }

    /// The moment the delay runs out (at most a minute), one more failure from `from`.
    async fn fail_when_allowed(&self, from: &str, user: &str) -> Answer {
        self.clock.advance(61_000);
        let a = self.login_from(from, user, WRONG, None).await;
        assert_eq!(a.status, 401, "{}", a.body);
        a
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn attack_owner_with_a_device_cookie_signs_in_at_once_while_attackers_keep_the_delay_alive() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    // The owner signed in before, from the address an attacker will share (a NAT, say).
    let first = cam
        .login_from("127.0.0.9", "admin", GOOD_PASSWORD, None)
        .await;
    assert_eq!(first.status, 200);
    let (cookie, header) = first.device_cookie.expect("a device cookie");
    for part in [
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=31536000",
    ] {
        assert!(header.contains(part), "{header}");
    }

    // Many addresses keep the account's delay alive for 10 minutes, then an attacker at
    // the owner's address keeps it alive for 5 more and locks that address out.
    cam.keep_account_delay_alive("admin", 10).await;
    for _ in 0..5 {
        cam.fail_when_allowed("127.0.0.9", "admin").await;
    }
    let stranger = cam
        .login_from("127.0.1.1", "admin", GOOD_PASSWORD, None)
        .await;
    assert_eq!((stranger.status, code(&stranger.body)), (429, "slow_down"));
    assert!(stranger.retry_after.unwrap().parse::<u64>().unwrap() <= 60);
    // What an owner on a new browser reads: why, how long, and what still works.
    let msg = stranger.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("signed in to this camera before is not held up"),
        "{msg}"
    );
    let locked = cam
        .login_from("127.0.0.9", "admin", GOOD_PASSWORD, None)
        .await;
    assert_eq!((locked.status, code(&locked.body)), (429, "locked_out"));
    // A forged or foreign cookie is no better than none.
    let (head, tag) = cookie.rsplit_once('.').unwrap();
    let flipped = if tag.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{head}.{flipped}{}", &tag[1..]);
    let f = cam
        .login_from("127.0.1.2", "admin", GOOD_PASSWORD, Some(&forged))
        .await;
    assert_eq!((f.status, code(&f.body)), (429, "slow_down"));

    // The owner's device cookie: in at once, from the locked address, by the API and by
    // the sign-in page, every time.
    for round in 0..3 {
        let a = cam
            .login_from("127.0.0.9", "admin", GOOD_PASSWORD, Some(&cookie))
            .await;
        assert_eq!(a.status, 200, "round {round}: {}", a.body);
        assert_eq!(
            a.device_cookie.unwrap().0,
            cookie,
            "the same cookie, renewed"
        );
        let p = cam
            .login_page_from("127.0.0.9", GOOD_PASSWORD, Some(&cookie))
            .await;
        assert_eq!(p.status, 303, "round {round}");
        // The attack goes on: the delay is still there for everyone else.
        cam.fail_when_allowed(&attacker(), "admin").await;
        let s = cam
            .login_from("127.0.1.3", "admin", GOOD_PASSWORD, None)
            .await;
        assert_eq!(s.status, 429);
    }

    // The cookie is bound to its account: it does not vouch for another name.
    let other = cam
        .login_from("127.0.1.4", "operator", GOOD_PASSWORD, Some(&cookie))
        .await;
    assert_eq!(other.status, 401);

    // Its own failures lock only itself, never the account for others.
    for _ in 0..5 {
        let a = cam
            .login_from("127.0.0.9", "admin", WRONG, Some(&cookie))
            .await;
        assert_eq!(a.status, 401);
    }
    let a = cam
        .login_from("127.0.0.9", "admin", GOOD_PASSWORD, Some(&cookie))
        .await;
    assert_eq!((a.status, code(&a.body)), (429, "locked_out"));

    // A factory reset rotates the key: the old cookie is just another stranger.
    cam.core().factory_reset("test").unwrap();
    cam.init().await;
    cam.keep_account_delay_alive("admin", 8).await;
    let old = cam
        .login_from("127.0.0.9", "admin", GOOD_PASSWORD, Some(&cookie))
        .await;
    assert_eq!((old.status, code(&old.body)), (429, "slow_down"));
}

#[tokio::test(flavor = "multi_thread")]
async fn attack_owners_real_codes_work_at_once_during_an_attack_from_many_sources() {
    let inbox = Inbox::start(None).await;
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    cam.use_inbox(&inbox, "none").await;

    // Thirty addresses fail at the QR security code and the e-mailed code, five times each
    // (every one of them locked out).
    cam.qr_text().await;
    let (st, b) = cam.post("/recovery/email", json!({})).await;
    assert_eq!(st, 200, "{b}");
    for i in 0..30 {
        let from = format!("127.0.2.{}", i + 1);
        for _ in 0..5 {
            let (st, _) = cam
                .post_from(
                    &from,
                    "/recovery/qr",
                    json!({"code": "0000-0000-0000-0000-0000", "new_password": NEW}),
                )
                .await;
            assert_eq!(st, 401);
            let (st, _) = cam
                .post_from(
                    &from,
                    "/recovery/email/verify",
                    json!({"code": "00000-00000", "new_password": NEW}),
                )
                .await;
            assert_eq!(st, 401);
        }
        let (st, b) = cam
            .post_from(
                &from,
                "/recovery/email/verify",
                json!({"code": "00000-00000", "new_password": NEW}),
            )
            .await;
        assert_eq!((st, code(&b)), (429, "locked_out"));
    }

    // The owner's real e-mailed code works at once, and so does the QR code's.
    let mail = inbox.wait(1).await;
    let real = code_line(&mail[0]);
    let (st, b) = cam
        .post_from(
            "127.0.0.1",
            "/recovery/email/verify",
            json!({"code": real, "new_password": NEW}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    // The recovery ended the challenge and the counters: a new challenge, and ten more
    // addresses fail at its code (enough for the old account-wide delay).
    let text = cam.qr_text().await;
    for i in 0..10 {
        let (st, _) = cam
            .post_from(
                &format!("127.0.3.{}", i + 1),
                "/recovery/qr",
                json!({"code": "0000-0000-0000-0000-0000", "new_password": NEW}),
            )
            .await;
        assert_eq!(st, 401);
    }
    let good = cam.vendor_code(&text, 1_790_000_000_000, 1_790_000_000_000);
    let (st, b) = cam
        .post_from(
            "127.0.0.1",
            "/recovery/qr",
            json!({"code": good, "new_password": GOOD_PASSWORD}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn attack_the_owner_types_the_labels_setup_code_at_once_during_an_attack() {
    let cam = TestCamera::start("IPC4T8").await;
    for i in 0..20 {
        for _ in 0..5 {
            let (st, _) = cam
                .post_from(
                    &format!("127.0.4.{}", i + 1),
                    "/init",
                    json!({"password": GOOD_PASSWORD, "setup_code": "AAAA-AAAA"}),
                )
                .await;
            assert_eq!(st, 403);
        }
    }
    let right = cam.core().factory().setup_code.clone();
    let (st, b) = cam
        .post_from(
            "127.0.0.1",
            "/init",
            json!({"password": GOOD_PASSWORD, "setup_code": right}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn attack_questions_switch_off_after_100_failures_and_come_back_when_the_owner_signs_in() {
    let inbox = Inbox::start(None).await;
    let cam = TestCamera::start("IPC4K15").await;
    let (st, _) = cam
        .post(
            "/init",
            json!({"password": GOOD_PASSWORD, "recovery_email": "owner@example.com", "security_questions": [
                {"question": "First pet's name?", "answer": "Rex the Dog"},
                {"question": "City where your parents met?", "answer": "Buffalo"}]}),
        )
        .await;
    assert_eq!(st, 200);
    cam.use_inbox(&inbox, "none").await;
    let wrong = json!({"answers": ["fido", "boston"], "new_password": NEW});
    let right = json!({"answers": ["rex the dog", "buffalo"], "new_password": NEW});

    // 100 wrong answers from 25 addresses, each as soon as the delay allows.
    for i in 0..100 {
        cam.clock.advance(61_000);
        let (st, b) = cam
            .post_from(
                &format!("127.0.5.{}", 1 + i % 25),
                "/recovery/questions",
                wrong.clone(),
            )
            .await;
        assert_eq!(st, 401, "failure {i}: {b}");
    }
    cam.clock.advance(61_000);
    let (_, m) = cam.get("/recovery", None).await;
    assert_eq!(m["methods"], json!(["email", "qr"]));
    assert_eq!(m["questions_suspended"], true);
    assert!(
        m["message"].as_str().unwrap().contains("100 wrong answers"),
        "{m}"
    );
    // Off for everyone, the right answers included.
    let (st, b) = cam
        .post_from("127.0.0.1", "/recovery/questions", right.clone())
        .await;
    assert_eq!((st, code(&b)), (409, "method_unavailable"));
    // The owner is told.
    let mails = inbox.wait(1).await;
    let notice = text(&mails[0]);
    assert_eq!(mails[0].envelope.rcpt_to, vec!["owner@example.com"]);
    assert!(
        notice.contains("Recovery by security questions is now switched off"),
        "{notice}"
    );
    assert!(notice.contains("comes back when you sign in"), "{notice}");

    // The owner signs in: the questions are back, and the audit log tells the story.
    let t = cam.token().await;
    let (_, m) = cam.get("/recovery", None).await;
    assert_eq!(m["methods"], json!(["questions", "email", "qr"]));
    let (_, audit) = cam.get("/audit", Some(&t)).await;
    let events: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(events.contains(&"questions_suspended") && events.contains(&"questions_resumed"));

    // The owner's browser signed in (it holds a device cookie); the attack resumes and
    // keeps the delay alive for strangers, but the owner's answers go in at once.
    let signed = cam
        .login_from("127.0.0.1", "admin", GOOD_PASSWORD, None)
        .await;
    let (cookie, _) = signed.device_cookie.unwrap();
    for i in 0..20 {
        cam.clock.advance(61_000);
        let (st, _) = cam
            .post_from(
                &format!("127.0.6.{}", 1 + i % 10),
                "/recovery/questions",
                wrong.clone(),
            )
            .await;
        assert_eq!(st, 401);
    }
    let (st, b) = cam
        .post_from("127.0.7.1", "/recovery/questions", right.clone())
        .await;
    assert_eq!((st, code(&b)), (429, "slow_down"));
    let r = cam
        .client_from("127.0.0.1")
        .post(cam.api("/recovery/questions"))
        .header("cookie", format!("camkey_device={cookie}"))
        .json(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn attack_the_limit_answer_does_not_tell_which_names_exist() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    // The same failures on a real name and on a made-up one.
    for user in ["admin", "nobody"] {
        for i in 0..10 {
            let a = cam
                .login_from(&format!("127.0.8.{}", i + 1), user, WRONG, None)
                .await;
            assert_eq!(a.status, 401, "{user} {i}");
        }
    }
    let probe = |user: &'static str| {
        let cam = &cam;
        async move {
            let a = cam.login_from("127.0.9.1", user, WRONG, None).await;
            (a.status, a.body, a.retry_after)
        }
    };
    let real = probe("admin").await;
    assert_eq!(real.0, 429);
    assert_eq!(real, probe("nobody").await);
    // Another made-up name is not slowed down by the first one's failures (unknown names
    // no longer share one counter that only they fill).
    assert_eq!(probe("somebody").await.0, 401);
    // A lock-out reads the same for both too.
    for _ in 0..5 {
        cam.clock.advance(61_000);
        for user in ["admin", "nobody"] {
            let a = cam.login_from("127.0.10.1", user, WRONG, None).await;
            assert_eq!(a.status, 401);
        }
    }
    let a = cam.login_from("127.0.10.1", "admin", WRONG, None).await;
    let n = cam.login_from("127.0.10.1", "nobody", WRONG, None).await;
    assert_eq!(
        (a.status, a.body, a.retry_after),
        (n.status, n.body, n.retry_after)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn attack_limit_tables_stay_bounded_under_a_flood_of_sources_and_names() {
    let config = CoreConfig {
        limits: Policy {
            max_entries: 64,
            ..Policy::default()
        },
        ..CoreConfig::default()
    };
    let cam = TestCamera::start_with("IPC4K15", config).await;
    cam.init().await;
    // The owner's account is under attack: its delay is alive.
    cam.keep_account_delay_alive("admin", 6).await;
    // A flood of made-up names and of sources.
    for i in 0..150 {
        let from = format!("127.1.{}.{}", i / 200, 1 + i % 200);
        let a = cam
            .login_from(&from, &format!("user{i}"), WRONG, None)
            .await;
        assert_eq!(a.status, 401);
        let (st, _) = cam
            .post_from(
                &from,
                "/recovery/qr",
                json!({"code": "0000-0000-0000-0000-0000", "new_password": NEW}),
            )
            .await;
        assert_eq!(st, 401);
        assert!(cam.core().state().limits.len() <= 64);
        cam.clock.advance(1);
    }
    // The flood did not push the owner's account counter out: strangers still wait.
    let a = cam
        .login_from("127.2.0.1", "admin", GOOD_PASSWORD, None)
        .await;
    assert_eq!((a.status, code(&a.body)), (429, "slow_down"));
}

#[tokio::test(flavor = "multi_thread")]
async fn attack_a_failed_send_keeps_the_emailed_code_offered_and_a_later_send_works() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    // A mail server that is down: nothing listens on the port yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    cam.use_smtp_port(port, "none").await;
    let (_, m) = cam.get("/recovery", None).await;
    assert_eq!(m["methods"], json!(["email", "qr"]));
    // Anyone can make a send fail: it answers so, and the method stays offered.
    let (st, b) = cam
        .post_from("127.0.11.1", "/recovery/email", json!({}))
        .await;
    assert_eq!((st, code(&b)), (502, "mail_failed"));
    let (_, m) = cam.get("/recovery", None).await;
    assert_eq!(
        m["methods"],
        json!(["email", "qr"]),
        "one failed send hides nothing"
    );
    let page = cam
        .client()
        .get(format!("{}/forgot/email", cam.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    // The server is back: the owner's next request gets a code that works.
    let inbox = Inbox::start_on(&format!("127.0.0.1:{port}"), None).await;
    let (st, b) = cam.post("/recovery/email", json!({})).await;
    assert_eq!(st, 200, "{b}");
    let mail = inbox.wait(1).await;
    let (st, b) = cam
        .post(
            "/recovery/email/verify",
            json!({"code": code_line(&mail[0]), "new_password": NEW}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn attack_an_api_client_with_a_cookie_store_keeps_its_device_cookie() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let app = reqwest::Client::builder()
        .use_preconfigured_tls(cam.tls())
        .local_address("127.0.12.1".parse::<std::net::IpAddr>().unwrap())
        .cookie_store(true)
        .build()
        .unwrap();
    let login = || {
        send(
            // The store holds the session cookie too: POSTs then carry an Origin, as a
            // browser's would (the camera's cross-site check asks for it).
            app.post(cam.api("/login"))
                .header("origin", cam.base())
                .json(&json!({"username": "admin", "password": GOOD_PASSWORD})),
        )
    };
    let first = login().await;
    assert_eq!(first.status, 200);
    let (cookie, _) = first.device_cookie.unwrap();
    cam.keep_account_delay_alive("admin", 8).await;
    // The store sends the cookie back by itself: in at once, the same cookie renewed.
    let again = login().await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.device_cookie.unwrap().0, cookie);
}
