//! The camera's HTTPS front: the web pages for owners and the REST API (docs/design.md §4), plus
//! the plain-HTTP listener that only redirects. Headers, the cross-site rule, cookies and
//! the JSON error shape are the shared web layer's ([`camkey_web`]).
//!
//! # Layout
//! - [`error`]: the camera's refusals and their words.
//! - [`json`]: extractors that refuse bad bodies with that shape.
//! - [`api`]: the JSON API under `/api`.
//! - [`web`]: the pages' frame (chrome, error pages, the signed-in account), the start,
//!   audit and help pages, and the static files (askama templates in `templates/`).
//! - [`pages_setup`]: the setup guide (initialization as a form).
//! - [`pages_account`]: sign-in, sign-out and the password change.
//! - [`pages_recovery`]: the "Forgot password?" pages.
//! - [`pages_settings`]: the recovery settings page (address, questions, mail server).
//! - [`plain`]: the plain-HTTP listener: redirects to the camera's own HTTPS address and
//!   refuses anything that could carry a password.
//!
//! Layers applied to every HTTPS request, outermost first: security headers
//! ([`camkey_web::headers`], with HSTS), a body limit, the cross-site check
//! ([`camkey_web::origin`] with [`ORIGIN`]), then the initialization gate (S8:
//! uninitialized means nothing but setup).

pub mod api;
pub mod error;
pub mod json;
pub mod pages_account;
pub mod pages_recovery;
pub mod pages_settings;
pub mod pages_setup;
pub mod plain;
pub mod web;

use crate::core::Core;
use crate::state::Role;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use camkey_web::cookies::{self, Transport};
use camkey_web::headers::{self, SecurityHeaders};
use camkey_web::origin::OriginRule;
use error::ApiError;
use std::sync::Arc;

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "camkey_session";
/// The camera's same-origin rule: HTTPS only, and the session cookie is its one ambient
/// credential (the device cookie grants nothing).
pub const ORIGIN: OriginRule = OriginRule::https(&[SESSION_COOKIE]);

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The camera's core.
    pub core: Arc<Core>,
}

/// The HTTPS application.
pub fn app(core: Arc<Core>) -> Router {
    let state = AppState { core };
    Router::new()
        .nest("/api", api::routes())
        .merge(pages_setup::routes())
        .merge(pages_account::routes())
        .merge(pages_recovery::routes())
        .merge(pages_settings::routes())
        .merge(web::routes())
        .layer(middleware::from_fn_with_state(state.clone(), init_gate))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            cross_site_check,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(
            SecurityHeaders::HTTPS,
            headers::layer,
        ))
        .with_state(state)
}

/// Paths that answer while the camera is uninitialized.
fn open_while_uninitialized(path: &str) -> bool {
    matches!(path, "/" | "/setup" | "/api/device" | "/api/init" | "/help")
        || path.starts_with("/static/")
}

async fn init_gate(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if st.core.initialized() || open_while_uninitialized(req.uri().path()) {
        return next.run(req).await;
    }
    if req.uri().path().starts_with("/api/") {
        error::not_initialized().into_response()
    } else {
        web::PageError::new(&st.core, error::not_initialized()).into_response()
    }
}

async fn cross_site_check(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if ORIGIN.allows(req.method(), req.headers()) {
        return next.run(req).await;
    }
    if req.uri().path().starts_with("/api/") {
        error::cross_site().into_response()
    } else {
        web::PageError::new(&st.core, error::cross_site()).into_response()
    }
}

/// The session token in the cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookies::get(headers, SESSION_COOKIE)
}

/// The device cookie ([`crate::device_cookies`]), if any: browsers send it back by
/// themselves, API clients keep it in a cookie store (or send it by hand).
pub fn device_cookie(headers: &HeaderMap) -> Option<&str> {
    cookies::get(headers, crate::device_cookies::COOKIE)
}

/// The cookie that keeps a device cookie for a year.
pub fn device_set_cookie(value: &str) -> Option<HeaderValue> {
    cookies::set_cookie(
        crate::device_cookies::COOKIE,
        value,
        crate::device_cookies::MAX_AGE_SECS,
        Transport::Https,
    )
}

/// The token of a request: `Authorization: Bearer`, else the cookie.
pub fn request_token(headers: &HeaderMap) -> Option<&str> {
    cookies::bearer(headers).or_else(|| session_cookie(headers))
}

/// A signed-in account, from a live session.
pub struct Authed {
    /// Account name.
    pub user: String,
    /// Its role now (a role changed during the session counts at once).
    pub role: Role,
    /// The session's token.
    pub token: String,
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let token = request_token(&parts.headers).ok_or_else(error::unauthorized)?;
        let user = st.core.session(token).ok_or_else(error::unauthorized)?;
        // A session of an account deleted or disabled since is no session.
        let role = st.core.role(&user).ok_or_else(error::unauthorized)?;
        Ok(Authed {
            user,
            role,
            token: token.to_string(),
        })
    }
}

/// A signed-in Administrator: what every change of the camera's settings needs. Anyone
/// else signed in gets 403 with [`error::forbidden`].
pub struct Admin(pub Authed);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let auth = Authed::from_request_parts(parts, st).await?;
        if auth.role != Role::Administrator {
            return Err(error::forbidden());
        }
        Ok(Admin(auth))
    }
}

/// The cookie that carries a session.
pub fn session_set_cookie(token: &str, max_age: u64) -> HeaderValue {
    cookies::set_cookie(SESSION_COOKIE, token, max_age, Transport::Https)
        .unwrap_or_else(|| HeaderValue::from_static("camkey_session=; Path=/; Max-Age=0"))
}

/// The cookie that ends a session in the browser.
pub fn session_clear_cookie() -> HeaderValue {
    cookies::clear_cookie(SESSION_COOKIE, Transport::Https).unwrap_or_else(|| {
        HeaderValue::from_static(
            "camkey_session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn origin_rules() {
        let same_origin = |h: &HeaderMap| ORIGIN.same_origin(h);
        assert!(same_origin(&headers(&[
            ("host", "10.0.0.5"),
            ("origin", "https://10.0.0.5")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "10.0.0.5"),
            ("origin", "https://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "10.0.0.5"),
            ("origin", "http://10.0.0.5")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "10.0.0.5"),
            ("origin", "null")
        ])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        // No Origin: fine for a bearer client, not with a session cookie.
        assert!(same_origin(&headers(&[("authorization", "Bearer x")])));
        assert!(!same_origin(&headers(&[("cookie", "camkey_session=abc")])));
    }

    #[test]
    fn tokens() {
        let h = headers(&[("cookie", "a=b; camkey_session=tok123; c=d")]);
        assert_eq!(request_token(&h), Some("tok123"));
        let h = headers(&[
            ("authorization", "Bearer zzz"),
            ("cookie", "camkey_session=tok"),
        ]);
        assert_eq!(request_token(&h), Some("zzz"));
        let h = headers(&[("cookie", "camkey_session=s; camkey_device=v1.a.b.c")]);
        assert_eq!(device_cookie(&h), Some("v1.a.b.c"));
        assert_eq!(session_cookie(&h), Some("s"));
    }
}
