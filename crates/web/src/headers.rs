//! The security headers every response carries, as one middleware ([`layer`]) with its
//! settings ([`SecurityHeaders`]).
//!
//! Always: a Content-Security-Policy that allows only the site's own scripts, styles and
//! forms ([`CSP`]), no framing, `nosniff`, `Referrer-Policy: same-origin`, and
//! `Cache-Control: no-store` unless the handler chose its own caching (static files do).
//! Optional, per site:
//! - isolation: `Cross-Origin-Opener-Policy` and `Cross-Origin-Resource-Policy`
//!   (`same-origin`) and a `Permissions-Policy` that turns camera, microphone and
//!   geolocation off;
//! - HSTS, for a site that is only ever served over HTTPS (the camera; not the vendor's lab,
//!   which serves plain HTTP on loopback).
//!
//! `Referrer-Policy` is `same-origin`, not `no-referrer`: under `no-referrer` browsers send
//! `Origin: null` even on the site's own forms, and the cross-site check
//! ([`crate::origin`]) would refuse them.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The Content-Security-Policy of every camkey page.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// Which optional headers a site sends (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityHeaders {
    /// `Cross-Origin-Opener-Policy`, `Cross-Origin-Resource-Policy`, `Permissions-Policy`.
    pub isolation: bool,
    /// `Strict-Transport-Security: max-age=31536000`.
    pub hsts: bool,
}

impl SecurityHeaders {
    /// Every header: a site served only over HTTPS (the camera).
    pub const HTTPS: SecurityHeaders = SecurityHeaders {
        isolation: true,
        hsts: true,
    };
    /// The headers every site sends and nothing optional (the vendor's set so far).
    pub const BASIC: SecurityHeaders = SecurityHeaders {
        isolation: false,
        hsts: false,
    };

    /// Sets these headers on a response's headers.
    pub fn apply(&self, h: &mut HeaderMap) {
        let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
            h.insert(k, HeaderValue::from_static(v));
        };
        set(h, "content-security-policy", CSP);
        set(h, "x-frame-options", "DENY");
        set(h, "x-content-type-options", "nosniff");
        set(h, "referrer-policy", "same-origin");
        if self.isolation {
            set(h, "cross-origin-opener-policy", "same-origin");
            set(h, "cross-origin-resource-policy", "same-origin");
            set(
                h,
                "permissions-policy",
                "camera=(), microphone=(), geolocation=()",
            );
        }
        if self.hsts {
            set(h, "strict-transport-security", "max-age=31536000");
        }
        if !h.contains_key(header::CACHE_CONTROL) {
            set(h, "cache-control", "no-store");
        }
    }
}

/// Middleware: `axum::middleware::from_fn_with_state(SecurityHeaders::HTTPS, layer)`.
pub async fn layer(State(cfg): State<SecurityHeaders>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    cfg.apply(resp.headers_mut());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::middleware;
    use axum::routing::get;
    use tower::ServiceExt;

    #[test]
    fn https_sites_get_every_header_and_basic_ones_the_common_set() {
        let mut h = HeaderMap::new();
        SecurityHeaders::HTTPS.apply(&mut h);
        for name in [
            "content-security-policy",
            "x-frame-options",
            "x-content-type-options",
            "referrer-policy",
            "cross-origin-opener-policy",
            "cross-origin-resource-policy",
            "permissions-policy",
            "strict-transport-security",
        ] {
            assert!(h.contains_key(name), "{name}");
        }
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["cache-control"], "no-store");

        let mut h = HeaderMap::new();
        SecurityHeaders::BASIC.apply(&mut h);
        assert_eq!(h["content-security-policy"], CSP);
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(!h.contains_key("strict-transport-security"));
        assert!(!h.contains_key("cross-origin-opener-policy"));
    }

    #[tokio::test]
    async fn the_layer_keeps_a_handlers_own_caching() {
        let app = Router::new()
            .route("/", get(|| async { "page" }))
            .route(
                "/static",
                get(|| async { ([(header::CACHE_CONTROL, "public, max-age=3600")], "x") }),
            )
            .layer(middleware::from_fn_with_state(
                SecurityHeaders::HTTPS,
                layer,
            ));
        let get = |path: &'static str| {
            app.clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
        };
        let page = get("/").await.unwrap();
        assert_eq!(page.headers()["cache-control"], "no-store");
        assert_eq!(page.headers()["content-security-policy"], CSP);
        let file = get("/static").await.unwrap();
        assert_eq!(file.headers()["cache-control"], "public, max-age=3600");
    }
}
