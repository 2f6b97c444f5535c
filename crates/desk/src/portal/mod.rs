//! The support desk on the web: the Tech Support Form (`/support`, `POST
//! /api/support-requests`), the staff portal (`/staff`), the staff JSON API (`/api/staff`,
//! `/api/cases`) and the owner's fee approval page (`/fees/{token}`).
//!
//! - The API authenticates with `Authorization: Bearer TOKEN` only (no cookies: no CSRF).
//! - The portal's pages use a session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind
//!   an HTTPS proxy), and every form carries the session's CSRF token (extractors in
//!   `auth` check both before a handler runs); the app's Origin /
//!   `Sec-Fetch-Site` check ([`camkey_web::site`]) applies too.
//! - The fee link in a mail opens a page (GET changes nothing); approving is a POST, so a
//!   mail scanner that follows links approves nothing.
//! - Bad input gets a 4xx with a clear message and changes nothing.
//!
//! # Layout
//! - `errors`: [`ApiError`], how desk errors and signer refusals map to it, reading bodies.
//! - `auth`: who is asking (bearer token, session cookie), CSRF-checked forms, signing in
//!   and out.
//! - `support`: the Tech Support Form, as a page and as JSON.
//! - `api`: the staff JSON API.
//! - `pages`: the staff portal's pages and forms.
//! - `fees`: the owner's fee approval page.

mod api;
mod auth;
mod errors;
mod fees;
mod pages;
mod support;

pub use errors::ApiError;
pub use pages::when;

use crate::DeskState as AppState;
use axum::Router;
use axum::routing::{get, post};

/// The session cookie.
pub const COOKIE: &str = "camkey_staff";

/// The desk's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/support",
            get(support::support_page).post(support::support_form),
        )
        .route("/api/support-requests", post(support::support_api))
        .route("/api/staff/login", post(auth::api_login))
        .route("/api/staff", post(api::api_add_staff))
        .route("/api/audit", get(api::api_audit))
        .route("/api/cases", get(api::api_cases).post(api::api_open_case))
        .route("/api/cases/{id}", get(api::api_case))
        .route("/api/cases/{id}/release-code", post(api::api_release))
        .route("/api/cases/{id}/notes", post(api::api_note))
        .route("/api/cases/{id}/state", post(api::api_state))
        .route("/api/cases/{id}/fee", post(api::api_fee))
        .route("/staff/login", get(auth::login_page).post(auth::login_form))
        .route("/staff/logout", post(auth::logout_form))
        .route("/staff", get(pages::queue_page))
        .route("/staff/cases", post(pages::open_case_form))
        .route(
            "/staff/admin",
            get(pages::admin_page).post(pages::admin_form),
        )
        .route("/staff/cases/{id}", get(pages::case_page))
        .route("/staff/cases/{id}/{action}", post(pages::case_form))
        .route("/fees/{token}", get(fees::fee_page).post(fees::fee_approve))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::{Desk, Kind, State as CaseState};
    use crate::staff::Role;
    use axum::http::{StatusCode, header};
    use camkey_store::{CaseStore, SqliteStore};
    use std::net::SocketAddr;
    use std::sync::Arc;

    /// The real app on a loopback port, with one agent; (base URL, store).
    async fn server(dir: &std::path::Path) -> (String, Arc<SqliteStore>) {
        server_at(dir, "http://vendor.example").await
    }

    /// The same, with this public URL.
    async fn server_at(dir: &std::path::Path, public_url: &str) -> (String, Arc<SqliteStore>) {
        let store = Arc::new(SqliteStore::open(&dir.join("v.db")).await.unwrap());
        crate::staff::add_staff(
            &*store,
            "ann",
            "long enough password",
            Role::Agent,
            false,
            0,
        )
        .await
        .unwrap();
        let clock: Arc<dyn camkey_proto::clock::Clock> =
            Arc::new(camkey_proto::clock::SystemClock::default());
        let signer = camkey_signer::SignerClient::new(dir.join("no-signer.sock"));
        let state = AppState {
            desk: Desk {
                store: store.clone(),
                signer,
                clock: clock.clone(),
                public_url: public_url.into(),
                support_address: "support@vendor.example".into(),
                wake: Arc::new(tokio::sync::Notify::new()),
                limits: crate::DeskLimits::default(),
            },
            signin: Arc::new(crate::signin::SignInLimits::new(clock)),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = camkey_web::site::site(routes().with_state(state), Arc::default())
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, store)
    }

    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    async fn sign_in(c: &reqwest::Client, base: &str, https: bool) -> String {
        let mut r = c
            .post(format!("{base}/staff/login"))
            .form(&[("username", "ann"), ("password", "long enough password")]);
        if https {
            r = r.header("x-forwarded-proto", "https");
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        r.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn session_cookie_csrf_and_cross_site_posts() {
        let dir = tempfile::tempdir().unwrap();
        let (base, store) = server(dir.path()).await;
        let c = client();
        // Plain HTTP (the lab): HttpOnly, SameSite=Strict, not Secure.
        let plain = sign_in(&c, &base, false).await;
        assert!(plain.starts_with("camkey_staff="), "{plain}");
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"), "{plain}");
        // A client claiming HTTPS itself is not believed (no trusted proxy here).
        let claimed = sign_in(&c, &base, true).await;
        assert!(!claimed.contains("Secure"), "{claimed}");
        // Whenever the public URL is HTTPS: Secure and __Host-, whatever the headers say.
        let dir2 = tempfile::tempdir().unwrap();
        let (https_base, _) = server_at(dir2.path(), "https://support.vendor.example").await;
        for claim in [false, true] {
            let secure = sign_in(&c, &https_base, claim).await;
            assert!(
                secure.starts_with("__Host-camkey_staff=") && secure.contains("; Secure"),
                "{secure}"
            );
        }
        let cookie = plain.split(';').next().unwrap().to_string();
        let token = cookie.split_once('=').unwrap().1;
        let csrf = crate::staff::session(&*store, token, 1)
            .await
            .unwrap()
            .unwrap()
            .csrf;

        // A case to work on (opened by staff through the API with the same token).
        let r = c
            .post(format!("{base}/api/cases"))
            .bearer_auth(token)
            .json(&serde_json::json!({"kind": "factory_service", "model": "IPC4K15"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let id = r.json::<serde_json::Value>().await.unwrap()["case"]
            .as_i64()
            .unwrap();
        let note = |csrf: Option<&str>, origin: Option<&str>| {
            let mut form = vec![("note", "checked the order")];
            if let Some(t) = csrf {
                form.push(("csrf", t));
            }
            let mut r = c
                .post(format!("{base}/staff/cases/{id}/note"))
                .header(header::COOKIE, &cookie)
                .form(&form);
            if let Some(o) = origin {
                r = r.header(header::ORIGIN, o);
            }
            r.send()
        };
        assert_eq!(note(None, None).await.unwrap().status(), 403);
        assert_eq!(note(Some("bad"), None).await.unwrap().status(), 403);
        let evil = note(Some(&csrf), Some("http://evil.example"))
            .await
            .unwrap();
        assert_eq!(evil.status(), 403);
        let notes = |h: &Vec<crate::desk::Event>| h.iter().filter(|e| e.action == "note").count();
        assert_eq!(notes(&store.history(id).await.unwrap()), 0);
        let own = base.clone();
        assert_eq!(note(Some(&csrf), Some(&own)).await.unwrap().status(), 200);
        assert_eq!(notes(&store.history(id).await.unwrap()), 1);
        // Staff open a case from the queue page.
        let r = c
            .post(format!("{base}/staff/cases"))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("kind", "password_reset"),
                ("name", "Caller"),
                ("serial", "IPC4K15-000009"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let opened = store
            .cases(None, Some(Kind::PasswordReset), 10)
            .await
            .unwrap();
        assert_eq!(opened[0].source, "staff");
        assert_eq!(opened[0].serial.as_deref(), Some("IPC4K15-000009"));
        // An agent is no admin: the admin page and adding staff are refused.
        let r = c
            .get(format!("{base}/staff/admin"))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let r = c
            .post(format!("{base}/staff/admin"))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "eve"),
                ("role", "admin"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        // An admin may.
        crate::staff::add_staff(
            &*store,
            "root",
            "another long password",
            Role::Admin,
            false,
            0,
        )
        .await
        .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let t = crate::staff::login(&*store, "root", "another long password", "127.0.0.1", now)
            .await
            .unwrap();
        let admin_csrf = crate::staff::session(&*store, &t, 1)
            .await
            .unwrap()
            .unwrap()
            .csrf;
        let r = c
            .post(format!("{base}/staff/admin"))
            .header(header::COOKIE, format!("{COOKIE}={t}"))
            .form(&[
                ("csrf", admin_csrf.as_str()),
                ("username", "eve"),
                ("role", "agent"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        assert!(page.contains("id=\"new-password\"") && page.contains("staff_added"));
        // The bearer token is not a cookie: the API ignores cookies.
        let r = c
            .get(format!("{base}/api/cases"))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        // Pages without a session send the browser to the sign-in page.
        let r = c.get(format!("{base}/staff")).send().await.unwrap();
        assert_eq!(r.headers()[header::LOCATION], "/staff/login");
        // Signing out ends the session.
        let r = c
            .post(format!("{base}/staff/logout"))
            .header(header::COOKIE, &cookie)
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(
            crate::staff::session(&*store, token, 1)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn the_fee_link_changes_nothing_until_posted() {
        let dir = tempfile::tempdir().unwrap();
        let (base, store) = server(dir.path()).await;
        let c = client();
        let r = c
            .post(format!("{base}/api/staff/login"))
            .json(&serde_json::json!({"username": "ann", "password": "long enough password"}))
            .send()
            .await
            .unwrap();
        let token = r.json::<serde_json::Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        let r = c
            .post(format!("{base}/api/cases"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"kind": "factory_service", "model": "IPC4PTZ25", "email": "owner@example.com"}))
            .send()
            .await
            .unwrap();
        let id = r.json::<serde_json::Value>().await.unwrap()["case"]
            .as_i64()
            .unwrap();
        let r = c
            .post(format!("{base}/api/cases/{id}/fee"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"fee_cents": 4900}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: String = sqlx::query_scalar(
            "SELECT body FROM outbox WHERE subject LIKE '%fee%' ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        let path = body
            .split("http://vendor.example")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        assert!(path.starts_with("/fees/"), "{path}");
        for _ in 0..3 {
            let r = c.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert!(r.text().await.unwrap().contains("49.00 EUR"));
        }
        let state = |s: &Arc<SqliteStore>| {
            let s = s.clone();
            async move { s.case(id).await.unwrap().unwrap().state }
        };
        assert_eq!(state(&store).await, CaseState::FeeProposed);
        let r = c
            .get(format!("{base}/fees/{}", "0".repeat(64)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let r = c.post(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(state(&store).await, CaseState::FeeApproved);
    }
}
