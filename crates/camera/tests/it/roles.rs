//! Roles over HTTPS: every endpoint and page that changes settings (or lists users, or
//! shows the audit log) needs an Administrator; an Operator or User signed in gets 403 and
//! a clear message. The ONVIF switch on the account page and the setup page, and
//! `POST /api/onvif-access`.

use crate::common::{GOOD_PASSWORD, OTHER_PASSWORD, TestCamera, code};
use camkey_camera::core::NewUser;
use camkey_camera::state::Role;
use serde_json::{Value, json};

async fn with_operator() -> TestCamera {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    cam.core()
        .create_users(
            "admin",
            vec![NewUser {
                name: "operator".into(),
                password: OTHER_PASSWORD.into(),
                role: Role::Operator,
            }],
            "127.0.0.1".parse().unwrap(),
        )
        .await
        .unwrap();
    cam
}

async fn token_of(cam: &TestCamera, user: &str, password: &str) -> String {
    let (st, body) = cam
        .post("/login", json!({"username": user, "password": password}))
        .await;
    assert_eq!(st, 200, "{body}");
    body["token"].as_str().unwrap().to_string()
}

async fn post_as(cam: &TestCamera, token: &str, path: &str, body: Value) -> (u16, Value) {
    let r = cam
        .client()
        .post(cam.api(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

async fn page(
    cam: &TestCamera,
    token: &str,
    path: &str,
    form: Option<&[(&str, &str)]>,
) -> (u16, String) {
    let c = cam.client();
    let req = match form {
        None => c.get(format!("{}{path}", cam.base())),
        Some(f) => c
            .post(format!("{}{path}", cam.base()))
            .header("origin", cam.base())
            .form(f),
    };
    let r = req
        .header("cookie", format!("camkey_session={token}"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn only_an_administrator_changes_settings_lists_users_or_reads_the_audit_log() {
    let cam = with_operator().await;
    let op = token_of(&cam, "operator", OTHER_PASSWORD).await;
    for path in ["/settings", "/users", "/audit"] {
        let (st, body) = cam.get(path, Some(&op)).await;
        assert_eq!(st, 403, "{path}: {body}");
        assert_eq!(code(&body), "forbidden");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Administrator")
        );
    }
    let before = cam.core().settings();
    for (path, body) in [
        (
            "/settings/recovery-email",
            json!({"current_password": OTHER_PASSWORD, "recovery_email": "thief@example.com"}),
        ),
        (
            "/settings/questions",
            json!({"current_password": OTHER_PASSWORD, "enabled": false}),
        ),
        (
            "/settings/smtp",
            json!({"current_password": OTHER_PASSWORD, "smtp": null}),
        ),
        ("/settings/smtp/test", json!({})),
    ] {
        let (st, b) = post_as(&cam, &op, path, body).await;
        assert_eq!(st, 403, "{path}: {b}");
        assert_eq!(code(&b), "forbidden");
    }
    assert_eq!(
        cam.core().settings(),
        before,
        "an Operator changed a setting"
    );
    // The same through the pages.
    for path in ["/settings", "/audit"] {
        let (st, html) = page(&cam, &op, path, None).await;
        assert_eq!(st, 403, "{path}");
        assert!(html.contains("Only an Administrator"), "{path}: {html}");
    }
    let (st, _) = page(
        &cam,
        &op,
        "/settings/recovery-email",
        Some(&[
            ("recovery_email", "thief@example.com"),
            ("current_password", OTHER_PASSWORD),
        ]),
    )
    .await;
    assert_eq!(st, 403);
    assert_eq!(cam.core().settings(), before);
    // Its start page offers no settings it may not change.
    let (st, html) = page(&cam, &op, "/", None).await;
    assert_eq!(st, 200);
    assert!(!html.contains(r#"href="/settings""#) && html.contains(r#"href="/password""#));
    // An Operator still has its own account page and password.
    let (st, html) = page(&cam, &op, "/password", None).await;
    assert_eq!(st, 200);
    assert!(html.contains("Your account: operator"));

    // The Administrator sees the users, without secrets.
    let admin = cam.token().await;
    let (st, body) = cam.get("/users", Some(&admin)).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        body,
        json!([
            {"name": "admin", "role": "administrator", "enabled": true, "onvif": false},
            {"name": "operator", "role": "operator", "enabled": true, "onvif": true},
        ])
    );
    assert_eq!(cam.get("/settings", Some(&admin)).await.0, 200);
    assert_eq!(cam.get("/audit", Some(&admin)).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn onvif_access_is_switched_by_the_account_itself_or_an_administrator() {
    let cam = with_operator().await;
    let op = token_of(&cam, "operator", OTHER_PASSWORD).await;
    let admin = cam.token().await;
    let onvif_of = |name: &str| {
        cam.core()
            .users()
            .into_iter()
            .find(|u| u.name == name)
            .unwrap()
            .onvif
    };
    // Its own account: off, then on again with its password.
    let (st, b) = post_as(&cam, &op, "/onvif-access", json!({"enabled": false})).await;
    assert_eq!(st, 200, "{b}");
    assert!(!onvif_of("operator"));
    let (st, b) = post_as(&cam, &op, "/onvif-access", json!({"enabled": true})).await;
    assert_eq!((st, code(&b)), (400, "password_required"));
    let (st, b) = post_as(
        &cam,
        &op,
        "/onvif-access",
        json!({"enabled": true, "password": GOOD_PASSWORD}),
    )
    .await;
    assert_eq!((st, code(&b)), (403, "wrong_password"));
    let (st, b) = post_as(
        &cam,
        &op,
        "/onvif-access",
        json!({"enabled": true, "password": OTHER_PASSWORD}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert!(onvif_of("operator"));
    // Another account: only an Administrator.
    let (st, b) = post_as(
        &cam,
        &op,
        "/onvif-access",
        json!({"enabled": true, "password": GOOD_PASSWORD, "user": "admin"}),
    )
    .await;
    assert_eq!((st, code(&b)), (403, "forbidden"));
    assert!(!onvif_of("admin"));
    let (st, b) = post_as(
        &cam,
        &admin,
        "/onvif-access",
        json!({"enabled": false, "user": "operator"}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert!(!onvif_of("operator"));
    // Unknown fields are refused; no session, no change.
    let (st, _) = post_as(
        &cam,
        &admin,
        "/onvif-access",
        json!({"enabled": true, "x": 1}),
    )
    .await;
    assert_eq!(st, 422);
    let (st, _) = cam.post("/onvif-access", json!({"enabled": false})).await;
    assert_eq!(st, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_account_page_has_the_onvif_switch() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    let token = cam.token().await;
    let (st, html) = page(&cam, &token, "/password", None).await;
    assert_eq!(st, 200);
    assert!(html.contains("Let ONVIF clients — NVRs, Home Assistant — sign in with this password"));
    assert!(html.contains("Now: <b>off</b>"), "{html}");
    // Switching on needs the right password.
    let (st, html) = page(
        &cam,
        &token,
        "/account/onvif",
        Some(&[("onvif", "on"), ("password", OTHER_PASSWORD)]),
    )
    .await;
    assert_eq!(st, 403);
    assert!(html.contains("The current password is wrong"), "{html}");
    assert_eq!(cam.core().state().accounts[0].onvif, None);
    let (st, html) = page(
        &cam,
        &token,
        "/account/onvif",
        Some(&[("onvif", "on"), ("password", GOOD_PASSWORD)]),
    )
    .await;
    assert_eq!(st, 200, "{html}");
    assert!(html.contains("can now sign in"));
    assert!(html.contains("Now: <b>on</b>"));
    assert!(cam.core().state().accounts[0].onvif.is_some());
    // Unchecked: off, and the secret is gone.
    let (st, html) = page(&cam, &token, "/account/onvif", Some(&[("password", "")])).await;
    assert_eq!(st, 200, "{html}");
    assert!(html.contains("Now: <b>off</b>"));
    assert_eq!(cam.core().state().accounts[0].onvif, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_setup_page_offers_onvif_access_off_by_default() {
    let cam = TestCamera::start("IPC4K15").await;
    let r = cam
        .client()
        .get(format!("{}/setup", cam.base()))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("Let ONVIF clients — NVRs, Home Assistant — sign in with this password"));
    assert!(html.contains(r#"id="onvif""#) && !html.contains(r#"id="onvif" checked"#));
    let r = cam
        .client()
        .post(format!("{}/setup", cam.base()))
        .header("origin", cam.base())
        .form(&[
            ("password", GOOD_PASSWORD),
            ("password2", GOOD_PASSWORD),
            ("onvif", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s = cam.core().state();
    assert!(s.initialized() && s.accounts[0].onvif.is_some());
    // The API's default is off.
    let other = TestCamera::start("IPC4K15").await;
    other.init().await;
    assert_eq!(other.core().state().accounts[0].onvif, None);
}
