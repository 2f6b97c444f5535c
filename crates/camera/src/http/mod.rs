//! The camera's HTTPS front: the web pages for owners and the REST API (docs/design.md §4), plus
//! the plain-HTTP listener that only redirects.
//!
//! # Layout
//! - [`error`]: the one error type and its JSON shape.
//! - [`json`]: extractors that refuse bad bodies with that shape.
//! - [`api`]: the JSON API under `/api`.
//! - [`web`]: the HTML pages (askama templates in `templates/`).
//! - [`pages_recovery`]: the "Forgot password?" pages and the recovery settings page.
//! - [`plain`]: the plain-HTTP listener: redirects to the camera's own HTTPS address and
//!   refuses anything that could carry a password.
//!
//! Layers applied to every HTTPS request, outermost first: security headers, a body
//! limit, the cross-site check (Origin / Sec-Fetch-Site on every state-changing request),
//! then the initialization gate (S8: uninitialized means nothing but setup).

pub mod api;
pub mod error;
pub mod json;
pub mod pages_recovery;
pub mod plain;
pub mod web;

use crate::core::Core;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use error::ApiError;
use std::sync::Arc;

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "camkey_session";

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
        .merge(pages_recovery::routes())
        .merge(web::routes())
        .layer(middleware::from_fn_with_state(state.clone(), init_gate))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            cross_site_check,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(security_headers))
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
        ApiError::not_initialized().into_response()
    } else {
        web::PageError::new(&st.core, ApiError::not_initialized()).into_response()
    }
}

/// Whether a state-changing request comes from the camera's own pages.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return false;
    }
    match headers.get(header::ORIGIN) {
        Some(origin) => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            origin.to_str().ok() == Some(format!("https://{host}").as_str()) && !host.is_empty()
        }
        // Browsers send Origin with every POST; without it, only requests that carry no
        // ambient credential (API clients with a bearer token, or none) may proceed.
        None => session_cookie(headers).is_none(),
    }
}

async fn cross_site_check(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || same_origin(req.headers()) {
        return next.run(req).await;
    }
    if req.uri().path().starts_with("/api/") {
        ApiError::cross_site().into_response()
    } else {
        web::PageError::new(&st.core, ApiError::cross_site()).into_response()
    }
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    );
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null`
    // even on the camera's own forms, and the cross-site check would refuse them.
    set(h, "referrer-policy", "same-origin");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cross-origin-resource-policy", "same-origin");
    set(
        h,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    );
    set(h, "strict-transport-security", "max-age=31536000");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    resp
}

/// The value of the cookie `name`, if any.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The session token in the cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SESSION_COOKIE)
}

/// The device cookie ([`crate::device_cookies`]), if any: browsers send it back by
/// themselves, API clients keep it in a cookie store (or send it by hand).
pub fn device_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, crate::device_cookies::COOKIE)
}

/// The cookie that keeps a device cookie for a year.
pub fn device_set_cookie(value: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}",
        crate::device_cookies::COOKIE,
        crate::device_cookies::MAX_AGE_SECS
    ))
    .ok()
}

/// The token of a request: `Authorization: Bearer`, else the cookie.
pub fn request_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .or_else(|| session_cookie(headers))
}

/// A signed-in account, from a live session.
pub struct Authed {
    /// Account name.
    pub user: String,
    /// The session's token.
    pub token: String,
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let token = request_token(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        let user = st.core.session(token).ok_or_else(ApiError::unauthorized)?;
        Ok(Authed {
            user,
            token: token.to_string(),
        })
    }
}

/// The cookie that carries a session.
pub fn session_set_cookie(token: &str, max_age: u64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("camkey_session=; Path=/; Max-Age=0"))
}

/// The cookie that ends a session in the browser.
pub fn session_clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "camkey_session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
    )
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
