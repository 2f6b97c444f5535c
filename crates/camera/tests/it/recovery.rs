//! Forgot password end to end (S2–S6): the methods offered, security questions, and the
//! QR challenge with codes issued by the vendor-side library functions, as a LAN attacker
//! and a locked-out owner would use them.

use crate::common::*;
use camkey_proto::challenge::{self, Recovery};
use camkey_proto::code;
use camkey_proto::keys::MasterKey;
use serde_json::{Value, json};

const NEW: &str = "marble-lantern-violin-88";
const HOUR: u64 = 3_600_000;

impl TestCamera {
    pub fn master(&self) -> MasterKey {
        MasterKey::from_json(&std::fs::read(self.tmp.path().join("vendor/master.key")).unwrap())
            .unwrap()
    }

    /// What the vendor does with a challenge string: open it and issue a code.
    pub fn vendor_code(&self, text: &str, generated_ms: i64, first_seen_ms: i64) -> String {
        let m = self.master();
        let ch = challenge::open_with_master(std::slice::from_ref(&m), text).unwrap();
        code::issue(&m.device_key(&ch.serial), &ch, generated_ms, first_seen_ms)
            .unwrap()
            .text()
    }

    pub async fn qr_text(&self) -> String {
        let (st, v) = self.get("/recovery/qr", None).await;
        assert_eq!(st, 200, "{v}");
        v["text"].as_str().unwrap().to_string()
    }

    pub async fn post_from(&self, from: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client_from(from)
            .post(self.api(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn methods_offered_depend_on_what_the_owner_set_and_the_model() {
    let cam = TestCamera::start("IPC4K15").await;
    assert_eq!(
        cam.get("/recovery", None).await.0,
        403,
        "nothing to recover before init"
    );
    cam.init().await;
    let (_, m) = cam.get("/recovery", None).await;
    assert_eq!(
        m["methods"],
        json!(["qr"]),
        "no questions; no mail server: no e-mail"
    );
    let (st, b) = cam.get("/recovery/questions", None).await;
    assert_eq!((st, code(&b)), (409, "method_unavailable"));
    let (st, b) = cam.post("/recovery/email", json!({})).await;
    assert_eq!((st, code(&b)), (409, "method_unavailable"));

    let cam = TestCamera::start("IPC4K15D").await;
    let (st, _) = cam
        .post("/init", json!({"password": GOOD_PASSWORD, "security_questions": [{"question": "First pet's name?", "answer": "Rex the Dog"}]}))
        .await;
    assert_eq!(st, 200);
    let (_, m) = cam.get("/recovery", None).await;
    assert_eq!(m["methods"], json!(["questions", "qr"]));

    let ptz = TestCamera::start("IPC4PTZ25").await;
    ptz.init().await;
    let (_, m) = ptz.get("/recovery", None).await;
    assert_eq!(m["methods"], json!([]));
    assert_eq!(m["web_reset"], false);
    assert!(m["message"].as_str().unwrap().contains("support"), "{m}");
    let (st, b) = ptz.get("/recovery/qr", None).await;
    assert_eq!((st, code(&b)), (409, "method_unavailable"));
}

#[tokio::test(flavor = "multi_thread")]
async fn security_questions_recover_and_are_rate_limited() {
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
    let token = cam.token().await;
    let (st, q) = cam.get("/recovery/questions", None).await;
    assert_eq!(st, 200);
    assert_eq!(
        q["questions"],
        json!(["First pet's name?", "City where your parents met?"])
    );

    // A weak new password is refused before any answer is judged.
    let (st, b) = cam
        .post(
            "/recovery/questions",
            json!({"answers": ["rex the dog", "buffalo"], "new_password": "password1"}),
        )
        .await;
    assert_eq!((st, code(&b)), (400, "password_weak"));
    for _ in 0..4 {
        let (st, b) = cam
            .post(
                "/recovery/questions",
                json!({"answers": ["rex the dog", "Boston"], "new_password": NEW}),
            )
            .await;
        assert_eq!((st, code(&b)), (401, "wrong_answers"));
    }
    let (st, b) = cam
        .post(
            "/recovery/questions",
            json!({"answers": ["rex"], "new_password": NEW}),
        )
        .await;
    assert_eq!((st, code(&b)), (401, "wrong_answers"), "fifth failure");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("5 minutes")
    );
    let (st, b) = cam
        .post(
            "/recovery/questions",
            json!({"answers": ["  REX the dog ", "buffalo"], "new_password": NEW}),
        )
        .await;
    assert_eq!(
        (st, code(&b)),
        (429, "locked_out"),
        "the source is locked out"
    );
    // The owner at another address is not.
    let (st, b) = cam
        .post_from(
            "127.0.0.3",
            "/recovery/questions",
            json!({"answers": ["  REX the dog ", "BUFFALO"], "new_password": NEW}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        cam.get("/audit", Some(&token)).await.0,
        401,
        "every session ended"
    );
    assert_eq!(cam.login(GOOD_PASSWORD).await.0, 401);
    let t = cam.token_with(NEW).await;
    let (_, audit) = cam.get("/audit", Some(&t)).await;
    let e = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "password_recovered")
        .unwrap();
    assert!(e["detail"].as_str().unwrap().contains("security questions"));
    assert_eq!(e["source"], "127.0.0.3");

    // The owner switches the method off (with the current password).
    let c = cam.client();
    let r = c
        .post(cam.api("/settings/questions"))
        .bearer_auth(&t)
        .json(&json!({"current_password": "wrong-password-here", "enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(cam.api("/settings/questions"))
        .bearer_auth(&t)
        .json(&json!({"current_password": NEW, "enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, m) = cam.get("/recovery", None).await;
    assert_eq!(m["methods"], json!(["qr"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn qr_challenge_and_vendor_code_recover_once() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let token = cam.token().await;
    let (st, qr) = cam.get("/recovery/qr", None).await;
    assert_eq!(st, 200);
    let text = qr["text"].as_str().unwrap();
    assert!(
        qr["svg"].as_str().unwrap().starts_with("<?xml")
            || qr["svg"].as_str().unwrap().contains("<svg")
    );
    assert_eq!(qr["expires_in"], 7 * 24 * 3600);
    assert!(qr["url"].as_str().unwrap().ends_with(&format!("#{text}")));
    assert_eq!(qr["reset_address"], "reset@camkey.example");
    // The same challenge until asked for another.
    assert_eq!(cam.qr_text().await, text);

    // The vendor opens it: the owner's address is inside, sealed.
    let opened = challenge::open_with_master(&[cam.master()], text).unwrap();
    assert_eq!(opened.recovery, Recovery::Owner("owner@example.com".into()));
    assert_eq!(opened.serial, "IPC4K15-T0001");
    assert!(!text.contains("owner"));

    let code = cam.vendor_code(text, 1_790_000_000_000, 1_790_000_000_000);
    let (st, b) = cam
        .post(
            "/recovery/qr",
            json!({"code": code.to_lowercase(), "new_password": NEW}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(cam.get("/audit", Some(&token)).await.0, 401);
    assert_eq!(cam.login(NEW).await.0, 200);
    // Works once.
    let (st, b) = cam
        .post(
            "/recovery/qr",
            json!({"code": code, "new_password": GOOD_PASSWORD}),
        )
        .await;
    assert_eq!((st, code_of(&b)), (401, "code_wrong"));
}

fn code_of(b: &Value) -> &str {
    code(b)
}

#[tokio::test(flavor = "multi_thread")]
async fn codes_for_another_device_or_typos_fail_and_never_kill_the_challenge() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let text = cam.qr_text().await;
    let other = TestCamera::start("IPC4K15").await;
    other.init().await;
    let foreign = other.vendor_code(&other.qr_text().await, 1_790_000_000_000, 1_790_000_000_000);
    let (st, b) = cam
        .post(
            "/recovery/qr",
            json!({"code": foreign, "new_password": NEW}),
        )
        .await;
    assert_eq!((st, code(&b)), (401, "code_wrong"));
    let (st, b) = cam
        .post(
            "/recovery/qr",
            json!({"code": "not a code", "new_password": NEW}),
        )
        .await;
    assert_eq!((st, code(&b)), (400, "code_unreadable"));
    for _ in 0..3 {
        let (st, _) = cam
            .post(
                "/recovery/qr",
                json!({"code": "0000-0000-0000-0000-0000", "new_password": NEW}),
            )
            .await;
        assert_eq!(st, 401);
    }
    // The genuine code still works: wrong guesses did not cancel the challenge.
    let good = cam.vendor_code(&text, 1_790_000_000_000, 1_790_000_000_000);
    let (st, b) = cam
        .post("/recovery/qr", json!({"code": good, "new_password": NEW}))
        .await;
    assert_eq!(st, 200, "{b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_24_hour_rule_counts_only_time_outside_the_vendors_hands() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await; // the camera's wall clock was never set: elapsed time alone decides
    let text = cam.qr_text().await;
    let t0 = 1_790_000_000_000i64;
    // The owner mails the string an hour later; the vendor issues at once.
    cam.clock.advance(HOUR);
    let code_now = cam.vendor_code(&text, t0, t0);
    cam.clock.advance(24 * HOUR);
    let (st, b) = cam
        .post(
            "/recovery/qr",
            json!({"code": code_now, "new_password": NEW}),
        )
        .await;
    assert_eq!(
        (st, code(&b)),
        (403, "code_expired"),
        "25 h outside the vendor"
    );
    // Support releases a code three days after first seeing the challenge: it carries the
    // delay, so it is good for 24 hours more, days after the challenge was made.
    cam.clock.advance(48 * HOUR);
    let released = cam.vendor_code(&text, t0 + 72 * HOUR as i64, t0);
    cam.clock.advance(2 * HOUR);
    let (st, b) = cam
        .post(
            "/recovery/qr",
            json!({"code": released, "new_password": NEW}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trusted_wall_clock_moved_either_way_only_shortens() {
    let now = 1_790_000_000_000i64;
    for shift in [-48 * HOUR as i64, 48 * HOUR as i64, 0] {
        let cam = TestCamera::start("IPC4K15").await;
        cam.clock.set_wall(now);
        let (st, _) = cam
            .post(
                "/init",
                json!({"password": GOOD_PASSWORD, "time": {"set_time_ms": now}}),
            )
            .await;
        assert_eq!(st, 200);
        let text = cam.qr_text().await;
        let c = cam.vendor_code(&text, now, now);
        cam.clock.set_wall(now + shift); // a spoofed time source
        let (st, b) = cam
            .post("/recovery/qr", json!({"code": c, "new_password": NEW}))
            .await;
        if shift == 0 {
            assert_eq!(st, 200, "{b}");
        } else {
            assert_eq!((st, code(&b)), (403, "code_expired"), "shift {shift}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn new_challenges_are_rate_limited_and_the_previous_one_stays_valid() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let first = cam.qr_text().await;
    // A host on the LAN asks for new ones.
    let (st, b) = cam.post("/recovery/qr/new", json!({})).await;
    assert_eq!((st, code(&b)), (429, "too_soon"));
    assert_eq!(
        cam.qr_text().await,
        first,
        "a refused request changed nothing"
    );
    cam.clock.advance(12 * HOUR);
    let (st, second) = cam.post("/recovery/qr/new", json!({})).await;
    assert_eq!(st, 200);
    let second = second["text"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(cam.qr_text().await, second, "GET shows the newest");
    // The owner's code for the first challenge still works.
    let c1 = cam.vendor_code(
        &first,
        1_790_000_000_000,
        1_790_000_000_000 - 12 * HOUR as i64,
    );
    let (st, b) = cam
        .post("/recovery/qr", json!({"code": c1, "new_password": NEW}))
        .await;
    assert_eq!(st, 200, "{b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn at_most_two_challenges_live_and_seven_days_at_most() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let a = cam.qr_text().await;
    cam.clock.advance(12 * HOUR);
    cam.post("/recovery/qr/new", json!({})).await;
    cam.clock.advance(12 * HOUR);
    let (_, c) = cam.post("/recovery/qr/new", json!({})).await;
    let c = c["text"].as_str().unwrap().to_string();
    let code_a = cam.vendor_code(&a, 1_790_000_000_000, 1_790_000_000_000 - 24 * HOUR as i64);
    let (st, _) = cam
        .post("/recovery/qr", json!({"code": code_a, "new_password": NEW}))
        .await;
    assert_eq!(st, 401, "the oldest of three is gone");
    cam.clock.advance(7 * 24 * HOUR);
    assert_ne!(
        cam.qr_text().await,
        c,
        "after 7 days a fresh challenge is made"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_recovery_address_needs_the_password_and_ends_live_challenges() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let text = cam.qr_text().await;
    let t = cam.token().await;
    let c = cam.client();
    let set = |pw: &str, addr: Option<&str>| {
        c.post(cam.api("/settings/recovery-email"))
            .bearer_auth(&t)
            .json(&json!({"current_password": pw, "recovery_email": addr}))
            .send()
    };
    assert_eq!(
        set("wrong-password-here", Some("new@example.com"))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        set(GOOD_PASSWORD, Some("not an address"))
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        set(GOOD_PASSWORD, Some("new@example.com"))
            .await
            .unwrap()
            .status(),
        200
    );
    let old_code = cam.vendor_code(&text, 1_790_000_000_000, 1_790_000_000_000);
    let (st, _) = cam
        .post(
            "/recovery/qr",
            json!({"code": old_code, "new_password": NEW}),
        )
        .await;
    assert_eq!(st, 401, "the old challenge (with the old address) is dead");
    let fresh = cam.qr_text().await;
    let opened = challenge::open_with_master(&[cam.master()], &fresh).unwrap();
    assert_eq!(opened.recovery, Recovery::Owner("new@example.com".into()));
    // Back to the factory default: the challenge says so.
    assert_eq!(set(GOOD_PASSWORD, None).await.unwrap().status(), 200);
    let opened = challenge::open_with_master(&[cam.master()], &cam.qr_text().await).unwrap();
    assert_eq!(opened.recovery, Recovery::FactoryDefault);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_qr_code_holds_the_reset_url_with_the_challenge() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let (_, qr) = cam.get("/recovery/qr", None).await;
    let url = qr["url"].as_str().unwrap();
    assert_eq!(
        qr["svg"].as_str().unwrap(),
        camkey_camera::core::qr_svg(url)
    );
    // Decode the same QR symbol as a camera app would see it.
    let code =
        qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M).unwrap();
    let width = code.width();
    let colors = code.to_colors();
    let scale = 4;
    let quiet = 4;
    let side = (width + 2 * quiet) * scale;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
        let (mx, my) = (x / scale, y / scale);
        if mx < quiet || my < quiet || mx >= width + quiet || my >= width + quiet {
            255
        } else if colors[(my - quiet) * width + (mx - quiet)] == qrcode::Color::Dark {
            0
        } else {
            255
        }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, content) = grids[0].decode().unwrap();
    assert_eq!(content, url);
    assert!(challenge::parse(&content).is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_recovery_every_other_account_is_disabled() {
    use camkey_camera::state::{Account, Role, UserState};
    use camkey_camera::store::AtomicFile;
    let mut cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    // An intruder's leftover: another account (as ONVIF user management would make one).
    if let Some(c) = cam.camera.take() {
        c.stop().await;
    }
    let store = AtomicFile::new(&cam.data_dir(), "state.json").unwrap();
    let mut state: UserState = store.load().unwrap().unwrap();
    state.accounts.push(Account {
        name: "operator".into(),
        password_hash: camkey_passwords::hash(OTHER_PASSWORD),
        role: Role::Operator,
        enabled: true,
        onvif: None,
    });
    store.save(&state).unwrap();
    cam.boot().await;
    let (st, _) = cam
        .post(
            "/login",
            json!({"username": "operator", "password": OTHER_PASSWORD}),
        )
        .await;
    assert_eq!(st, 200, "the extra account works before");

    let text = cam.qr_text().await;
    let c = cam.vendor_code(&text, 1_790_000_000_000, 1_790_000_000_000);
    let (st, b) = cam
        .post("/recovery/qr", json!({"code": c, "new_password": NEW}))
        .await;
    assert_eq!(st, 200, "{b}");
    let (st, _) = cam
        .post(
            "/login",
            json!({"username": "operator", "password": OTHER_PASSWORD}),
        )
        .await;
    assert_eq!(st, 401, "disabled until the owner re-enables it");
    let s = cam.core().state();
    assert!(!s.account("operator").unwrap().enabled && s.account("admin").unwrap().enabled);
    assert_eq!(cam.login(NEW).await.0, 200);
}

/// Issue 11, items 5 and 11: every challenge carries, sealed, a counter that only grows,
/// saved before the challenge is shown and kept by a factory reset; the factory default
/// and an owner's address give challenges of one length.
#[tokio::test(flavor = "multi_thread")]
async fn challenges_are_numbered_through_factory_resets_and_their_length_hides_the_address() {
    let cam = TestCamera::start("IPC4K15").await;
    let master = cam.master();
    let counter = |text: &str| {
        challenge::open_with_master(std::slice::from_ref(&master), text)
            .unwrap()
            .counter
    };
    let state = || -> camkey_camera::state::UserState {
        let raw = std::fs::read(cam.data_dir().join("state.json")).unwrap();
        serde_json::from_slice(&raw).unwrap()
    };
    // Set up without a recovery address: the factory default.
    let (st, b) = cam.post("/init", json!({"password": GOOD_PASSWORD})).await;
    assert_eq!(st, 200, "{b}");
    let fd = cam.qr_text().await;
    assert_eq!(counter(&fd), 1);
    assert_eq!(state().challenge_counter, 1, "saved before it was shown");
    let opened = challenge::open_with_master(std::slice::from_ref(&master), &fd).unwrap();
    assert_eq!(opened.recovery, Recovery::FactoryDefault);
    // A factory reset drops the challenges, not the counter.
    cam.core().factory_reset("test").unwrap();
    assert_eq!(state().challenge_counter, 1);
    assert!(state().challenges.is_empty());
    cam.init().await; // with the owner's own address
    let own = cam.qr_text().await;
    assert_eq!(counter(&own), 2);
    assert!(matches!(
        challenge::open_with_master(std::slice::from_ref(&master), &own)
            .unwrap()
            .recovery,
        Recovery::Owner(_)
    ));
    cam.clock.advance(12 * HOUR);
    let (_, b) = cam.post("/recovery/qr/new", json!({})).await;
    assert_eq!(counter(b["text"].as_str().unwrap()), 3);
    assert_eq!(state().challenge_counter, 3);
    assert_eq!(
        own.len(),
        fd.len(),
        "the length tells nothing of the address"
    );
}
