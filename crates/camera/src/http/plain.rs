//! The plain-HTTP listener. It carries no secret and changes nothing: a `GET` or `HEAD` is
//! redirected to the camera's **own** HTTPS address (configured, never built from the
//! request's `Host` header, S6), and any other method is refused without reading its body,
//! since it might carry a password (S10). The one exception is ONVIF ([`crate::onvif`]),
//! whose clients speak plain HTTP: its paths are served here too, with digest or
//! UsernameToken digests only, and calls that carry a password in clear refused.

use super::error::ApiError;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The redirecting application; `https_base` is e.g. `https://192.168.1.20` or
/// `https://127.0.0.1:8443`.
pub fn app(https_base: String) -> Router {
    Router::new().fallback(redirect).with_state(https_base)
}

/// The redirecting application with other routes served as they are (the ONVIF service).
pub fn app_with(https_base: String, routes: Router) -> Router {
    routes.merge(app(https_base))
}

async fn redirect(State(base): State<String>, req: Request) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let msg = format!(
            "This camera accepts passwords and changes only over HTTPS. Nothing was sent to the camera; use {base}/ instead."
        );
        return ApiError::new(StatusCode::FORBIDDEN, "https_required", msg).into_response();
    }
    // Only the path and query travel; both are re-encoded by `Uri`, so they cannot carry a
    // new scheme or host.
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or("/");
    let mut resp = StatusCode::MOVED_PERMANENTLY.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{base}{path}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}
