//! The layers every page of the vendor's site gets, outermost first: who the client is
//! ([`crate::client`]), security headers, a body limit, and the cross-site check (a
//! state-changing request must come from this site); unknown paths get a JSON 404.

use crate::client::TrustedProxies;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use std::sync::Arc;

/// Largest request body of the vendor's site.
pub const MAX_BODY: usize = 16 * 1024;

/// The site: `routes` with every layer.
pub fn site(routes: Router, proxies: Arc<TrustedProxies>) -> Router {
    routes
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(serde_json::json!({"error": {"code": "not_found", "message": "There is nothing at this address."}}))) })
        .layer(middleware::from_fn(same_site_only))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(headers))
        .layer(middleware::from_fn_with_state(proxies, crate::client::layer))
}

fn same_origin(h: &HeaderMap) -> bool {
    if let Some(site) = h.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return false;
    }
    match h.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        None => true, // no cookies here: a request without Origin carries no ambient authority
        Some(origin) => {
            let host = h
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            !host.is_empty()
                && (origin == format!("https://{host}") || origin == format!("http://{host}"))
        }
    }
}

async fn same_site_only(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) || same_origin(req.headers()) {
        return next.run(req).await;
    }
    (
        StatusCode::FORBIDDEN,
        Json(serde_json::json!({"error": {"code": "cross_site_request", "message": "This request came from another web site and was refused."}})),
    )
        .into_response()
}

async fn headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (k, v) in [
        (
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        // `same-origin`, not `no-referrer`: under `no-referrer` browsers post the page's own
        // form with `Origin: null`, which the cross-site check refuses.
        ("referrer-policy", "same-origin"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
