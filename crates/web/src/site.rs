//! The vendor's site: the layers every page of the reset service and the support desk
//! gets, outermost first: who the client is ([`crate::client`]), the security headers
//! ([`crate::headers`], the basic set), a body limit, and the same-origin rule
//! ([`crate::origin`]); unknown paths get the JSON 404.
//!
//! The site is served over HTTPS behind a proxy, or over plain HTTP on loopback in the
//! lab, so both schemes count as its own. It names no credential cookie: the staff
//! portal's session cookie is `SameSite=Strict` and every portal form carries the
//! session's CSRF token ([`crate::csrf`]), so a form posted without `Origin` is still
//! checked; the API authenticates with a bearer token only.

use crate::client::TrustedProxies;
use crate::error::WebError;
use crate::headers::{self, SecurityHeaders};
use crate::origin::{self, OriginRule};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use std::sync::Arc;

/// Largest request body of the vendor's site.
pub const MAX_BODY: usize = 16 * 1024;

/// The vendor site's same-origin rule (see the module docs).
pub const ORIGIN: OriginRule = OriginRule {
    schemes: &["https", "http"],
    credential_cookies: &[],
};

/// The site: `routes` with every layer.
pub fn site(routes: Router, proxies: Arc<TrustedProxies>) -> Router {
    routes
        .fallback(|| async { WebError::not_found() })
        .layer(middleware::from_fn_with_state(ORIGIN, origin::layer))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(
            SecurityHeaders::BASIC,
            headers::layer,
        ))
        .layer(middleware::from_fn_with_state(
            proxies,
            crate::client::layer,
        ))
}
