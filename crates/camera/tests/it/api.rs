//! The REST API end to end: the uninitialized gate, init, sign-in, password change, audit.

use crate::common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn uninitialized_camera_answers_only_device_and_init() {
    let cam = TestCamera::start("IPC4K15").await;
    let (st, dev) = cam.get("/device", None).await;
    assert_eq!(st, 200);
    assert_eq!(dev["initialized"], false);
    assert_eq!(dev["serial"], "IPC4K15-T0001");
    assert_eq!(dev["reset_button"]["present"], true);
    assert_eq!(dev["web_reset"], true);
    // No secret in the device description.
    let text = dev.to_string();
    let factory = cam.core().factory().clone();
    assert!(!text.contains(&factory.setup_code) && !text.contains(&factory.device_key.to_hex()));

    for path in ["/audit", "/recovery", "/anything"] {
        let (st, body) = cam.get(path, None).await;
        assert_eq!(st, 403, "{path}");
        assert_eq!(code(&body), "not_initialized");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("initialize this camera first")
        );
    }
    let (st, body) = cam.login("admin").await;
    assert_eq!((st, code(&body)), (403, "not_initialized"));
    // There is no default password to try.
    for pw in ["admin", "12345", "password", ""] {
        let (st, _) = cam.login(pw).await;
        assert_eq!(st, 403);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn init_then_login_then_second_init_is_409() {
    let cam = TestCamera::start("IPC4K15").await;
    let (st, body) = cam
        .post(
            "/init",
            json!({
                "password": GOOD_PASSWORD,
                "recovery_email": "owner@example.com",
                "security_questions": [{"question": "First pet's name?", "answer": "  Rex  The DOG "}],
                "network": {"mode": "static", "address": "192.168.1.20/24", "gateway": "192.168.1.1"},
                "time": {"set_time_ms": 1_790_000_000_000i64}
            }),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let state = cam.core().state();
    assert!(state.initialized());
    assert_eq!(state.recovery_email.as_deref(), Some("owner@example.com"));
    assert_eq!(state.questions.len(), 1);
    assert!(state.questions[0].answer_hash.starts_with("$argon2id$"));
    assert!(camkey_passwords::verify(
        "rex the dog",
        &state.questions[0].answer_hash
    ));
    assert!(
        !serde_json::to_string(&state)
            .unwrap()
            .contains(GOOD_PASSWORD)
    );
    assert!(cam.core().clock().wall_ms() >= 1_790_000_000_000);

    let (st, body) = cam.post("/init", json!({"password": OTHER_PASSWORD})).await;
    assert_eq!((st, code(&body)), (409, "already_initialized"));
    assert!(camkey_passwords::verify(
        GOOD_PASSWORD,
        &cam.core().state().accounts[0].password_hash
    ));

    let (st, body) = cam.login(GOOD_PASSWORD).await;
    assert_eq!(st, 200);
    assert!(body["token"].as_str().unwrap().len() >= 40);
    let (st, dev) = cam.get("/device", None).await;
    assert_eq!((st, dev["initialized"].as_bool()), (200, Some(true)));
}

#[tokio::test(flavor = "multi_thread")]
async fn init_refuses_weak_and_identity_passwords_with_reasons() {
    let cam = TestCamera::start("IPC4K15").await;
    let cases = [
        ("short", "password_too_short"),
        ("password123", "password_weak"),
        ("IPC4K15-T0001-garden", "password_contains_identity"),
        ("admin-tulip-harbor", "password_contains_identity"),
    ];
    for (pw, want) in cases {
        let (st, body) = cam.post("/init", json!({"password": pw})).await;
        assert_eq!((st, code(&body)), (400, want), "{pw}: {body}");
    }
    let long = "ab-".repeat(50);
    let (st, body) = cam.post("/init", json!({"password": long})).await;
    assert_eq!((st, code(&body)), (400, "password_too_long"));
    // 64 characters must be accepted (S8: max at least 64).
    let sixty_four: String = "correct-horse-battery-staple-"
        .repeat(3)
        .chars()
        .take(64)
        .collect();
    let (st, body) = cam
        .post(
            "/init",
            json!({"password": sixty_four, "recovery_email": "not-an-address"}),
        )
        .await;
    assert_eq!((st, code(&body)), (400, "recovery_email_invalid"));
    let (st, body) = cam
        .post("/init", json!({"password": GOOD_PASSWORD, "security_questions": [{"question": "Favourite colour?", "answer": "none"}]}))
        .await;
    assert_eq!((st, code(&body)), (400, "security_questions"));
    assert!(!cam.core().initialized());
    assert_eq!(
        cam.state_generation(),
        0,
        "refusals changed nothing on flash"
    );
    let (st, _) = cam.post("/init", json!({"password": sixty_four})).await;
    assert_eq!(st, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn recovery_address_left_out_keeps_the_factory_default() {
    let cam = TestCamera::start("IPC4K15D").await;
    let (st, _) = cam.post("/init", json!({"password": GOOD_PASSWORD})).await;
    assert_eq!(st, 200);
    assert_eq!(cam.core().state().recovery_email, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn label_setup_code_is_required_where_the_model_demands_it() {
    let cam = TestCamera::start("IPC4T8").await;
    let (_, dev) = cam.get("/device", None).await;
    assert_eq!(dev["setup_code_required"], true);
    let (st, body) = cam.post("/init", json!({"password": GOOD_PASSWORD})).await;
    assert_eq!((st, code(&body)), (403, "setup_code_required"));
    let (st, body) = cam
        .post(
            "/init",
            json!({"password": GOOD_PASSWORD, "setup_code": "AAAA-AAAA"}),
        )
        .await;
    assert_eq!((st, code(&body)), (403, "setup_code_wrong"));
    // Typed as people type it: lower case, no hyphen.
    let typed = cam
        .core()
        .factory()
        .setup_code
        .replace('-', "")
        .to_lowercase();
    let (st, body) = cam
        .post(
            "/init",
            json!({"password": GOOD_PASSWORD, "setup_code": typed}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_code_guessing_is_limited() {
    let cam = TestCamera::start("IPC4T8").await;
    for _ in 0..5 {
        let (st, _) = cam
            .post(
                "/init",
                json!({"password": GOOD_PASSWORD, "setup_code": "AAAA-AAAA"}),
            )
            .await;
        assert_eq!(st, 403);
    }
    let right = cam.core().factory().setup_code.clone();
    let (st, body) = cam
        .post(
            "/init",
            json!({"password": GOOD_PASSWORD, "setup_code": right}),
        )
        .await;
    assert_eq!((st, code(&body)), (429, "locked_out"));
    cam.clock.advance(5 * 60_000 + 1);
    let (st, _) = cam
        .post(
            "/init",
            json!({"password": GOOD_PASSWORD, "setup_code": right}),
        )
        .await;
    assert_eq!(st, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn init_window_closes_after_30_minutes_and_a_power_cycle_reopens_it() {
    let mut cam = TestCamera::start("IPC4K15").await;
    cam.clock.advance(30 * 60_000 + 1);
    let (st, body) = cam.post("/init", json!({"password": GOOD_PASSWORD})).await;
    assert_eq!((st, code(&body)), (403, "init_window_closed"));
    let (_, dev) = cam.get("/device", None).await;
    assert_eq!(dev["init_window_open"], false);
    cam.power_cycle().await;
    let (st, _) = cam.post("/init", json!({"password": GOOD_PASSWORD})).await;
    assert_eq!(st, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn password_change_revokes_sessions_and_is_audited() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let t1 = cam.token().await;
    let t2 = cam.token().await;
    let (st, _) = cam.get("/audit", Some(&t1)).await;
    assert_eq!(st, 200);

    let c = cam.client();
    let wrong = c
        .post(cam.api("/password"))
        .bearer_auth(&t1)
        .json(&json!({"old_password": "wrong-wrong-wrong", "new_password": OTHER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let weak = c
        .post(cam.api("/password"))
        .bearer_auth(&t1)
        .json(&json!({"old_password": GOOD_PASSWORD, "new_password": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), 400);
    let ok = c
        .post(cam.api("/password"))
        .bearer_auth(&t1)
        .json(&json!({"old_password": GOOD_PASSWORD, "new_password": OTHER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    for t in [&t1, &t2] {
        let (st, body) = cam.get("/audit", Some(t)).await;
        assert_eq!((st, code(&body)), (401, "unauthorized"));
    }
    assert_eq!(cam.login(GOOD_PASSWORD).await.0, 401);
    let t3 = cam.token_with(OTHER_PASSWORD).await;
    let (st, audit) = cam.get("/audit", Some(&t3)).await;
    assert_eq!(st, 200);
    let events: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for want in [
        "initialized",
        "login",
        "password_change_failed",
        "password_changed",
        "login_failed",
    ] {
        assert!(events.contains(&want), "{want} missing from {events:?}");
    }
    for e in audit.as_array().unwrap() {
        assert_eq!(e["source"], "127.0.0.1");
        assert!(e["time"].as_str().unwrap().ends_with('Z'));
        assert!(!e.to_string().contains(GOOD_PASSWORD) && !e.to_string().contains(OTHER_PASSWORD));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_expire_when_idle() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let t = cam.token().await;
    cam.clock.advance(29 * 60_000);
    assert_eq!(cam.get("/audit", Some(&t)).await.0, 200);
    cam.clock.advance(31 * 60_000);
    assert_eq!(cam.get("/audit", Some(&t)).await.0, 401);
    assert_eq!(cam.get("/audit", Some("forged-token")).await.0, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_sets_a_strict_secure_cookie() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let r = cam
        .client()
        .post(cam.api("/login"))
        .json(&json!({"username": "admin", "password": GOOD_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    for part in [
        "camkey_session=",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(cookie.contains(part), "{cookie}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let (s1, b1) = cam
        .post(
            "/login",
            json!({"username": "admin", "password": "not-the-password"}),
        )
        .await;
    let (s2, b2) = cam
        .post(
            "/login",
            json!({"username": "mallory", "password": "not-the-password"}),
        )
        .await;
    let (s3, b3) = cam
        .post(
            "/login",
            json!({"username": "x".repeat(10_000), "password": "p"}),
        )
        .await;
    assert_eq!((s1, &b1), (s2, &b2));
    assert_eq!((s1, &b1), (s3, &b3));
    assert_eq!(s1, 401);
}

impl TestCamera {
    pub async fn token_with(&self, password: &str) -> String {
        let (st, body) = self.login(password).await;
        assert_eq!(st, 200, "{body}");
        body["token"].as_str().unwrap().to_string()
    }
}
