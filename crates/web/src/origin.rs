//! The one same-origin rule for state-changing requests (cross-site request forgery,
//! docs/design.md §3): every camkey site applies it to every request before any handler.
//!
//! # The rule
//!
//! `GET` and `HEAD` pass: they change nothing. Any other method passes only when all of
//! these hold:
//! 1. `Sec-Fetch-Site`, when present, is `same-origin` or `none` (a page of this site, or
//!    the user typing the address); `same-site` and `cross-site` are refused.
//! 2. `Origin`, when present, is exactly one header and equals `SCHEME://HOST`, where
//!    `HOST` is the request's non-empty `Host` header and `SCHEME` one of the site's
//!    schemes ([`OriginRule::schemes`]: `https` alone for a site only ever reached over
//!    HTTPS, so a page injected into the same host's plain-HTTP origin cannot post).
//!    `Origin: null` (sandboxed frames, `no-referrer` pages, redirects) is refused.
//! 3. Without `Origin`, the request carries none of the site's ambient credentials
//!    ([`OriginRule::credential_cookies`], under their own name or with the `__Host-`
//!    prefix). Browsers send `Origin` with every such request, so a request without it is
//!    a program (an API client with a bearer token, or with nothing), which a forged
//!    request cannot be; one that carries a session cookie anyway is refused.
//!
//! The camera and the vendor had two versions of this check; this one is the stricter of
//! them on every point (`OPTIONS` is no longer exempt, `http://` origins only where a site
//! names the scheme, a credential cookie without `Origin` is refused). A site whose forms
//! also carry a CSRF token ([`crate::csrf`]) is protected even from browsers that send no
//! `Origin`.

use crate::cookies;
use crate::error::WebError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// A site's parameters of the rule (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginRule {
    /// Schemes the site's own pages are served over: `["https"]`, or `["https", "http"]`
    /// for a site a loopback lab serves over plain HTTP.
    pub schemes: &'static [&'static str],
    /// Cookies that authenticate a request by themselves (session cookies).
    pub credential_cookies: &'static [&'static str],
}

impl OriginRule {
    /// A site reached over HTTPS only, with these session cookies.
    pub const fn https(credential_cookies: &'static [&'static str]) -> Self {
        OriginRule {
            schemes: &["https"],
            credential_cookies,
        }
    }

    /// Whether a request may go ahead: a method that changes nothing, or one from this
    /// site.
    pub fn allows(&self, method: &Method, headers: &HeaderMap) -> bool {
        is_safe(method) || self.same_origin(headers)
    }

    /// Whether a request comes from this site's own pages (or from a program that holds
    /// no ambient credential).
    pub fn same_origin(&self, headers: &HeaderMap) -> bool {
        if let Some(site) = headers.get("sec-fetch-site")
            && !matches!(site.as_bytes(), b"same-origin" | b"none")
        {
            return false;
        }
        let mut origins = headers.get_all(header::ORIGIN).iter();
        match (origins.next(), origins.next()) {
            (Some(origin), None) => {
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("");
                let Ok(origin) = origin.to_str() else {
                    return false;
                };
                !host.is_empty()
                    && self.schemes.iter().any(|scheme| {
                        origin
                            .strip_prefix(scheme)
                            .and_then(|o| o.strip_prefix("://"))
                            == Some(host)
                    })
            }
            (None, _) => !self.carries_credential(headers),
            (Some(_), Some(_)) => false,
        }
    }

    /// Whether the request carries one of the site's credential cookies.
    fn carries_credential(&self, headers: &HeaderMap) -> bool {
        self.credential_cookies
            .iter()
            .any(|name| cookies::get_either(headers, name).is_some())
    }
}

/// Methods that change nothing: `GET` and `HEAD`.
pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

/// Middleware for a site whose refusals are all JSON:
/// `axum::middleware::from_fn_with_state(RULE, layer)` refuses a cross-site request with
/// [`WebError::cross_site`]. A site that answers pages with pages calls
/// [`OriginRule::allows`] from a middleware of its own.
pub async fn layer(State(rule): State<OriginRule>, req: Request, next: Next) -> Response {
    if rule.allows(req.method(), req.headers()) {
        next.run(req).await
    } else {
        WebError::cross_site().into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const CAMERA: OriginRule = OriginRule::https(&["camkey_session"]);
    const LAB: OriginRule = OriginRule {
        schemes: &["https", "http"],
        credential_cookies: &["camkey_staff"],
    };

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn origin_must_be_this_host_over_one_of_the_sites_schemes() {
        let own = headers(&[("host", "10.0.0.5"), ("origin", "https://10.0.0.5")]);
        assert!(CAMERA.same_origin(&own));
        assert!(LAB.same_origin(&own));
        for bad in [
            headers(&[("host", "10.0.0.5"), ("origin", "https://evil.example")]),
            headers(&[("host", "10.0.0.5"), ("origin", "null")]),
            headers(&[("host", "10.0.0.5"), ("origin", "https://10.0.0.5:444")]),
            headers(&[("host", "10.0.0.5"), ("origin", "https://10.0.0.5.evil")]),
            headers(&[("host", "10.0.0.5"), ("origin", "https:10.0.0.5")]),
            headers(&[("origin", "https://")]),
            headers(&[("host", ""), ("origin", "https://")]),
            headers(&[
                ("host", "10.0.0.5"),
                ("origin", "https://10.0.0.5"),
                ("origin", "https://evil.example"),
            ]),
        ] {
            assert!(!CAMERA.same_origin(&bad), "{bad:?}");
            assert!(!LAB.same_origin(&bad), "{bad:?}");
        }
        // Plain HTTP only where the site names it.
        let plain = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(!CAMERA.same_origin(&plain));
        assert!(LAB.same_origin(&plain));
    }

    #[test]
    fn fetch_metadata_from_another_site_is_refused_whatever_the_origin() {
        for site in ["cross-site", "same-site", "anything"] {
            let mut h = headers(&[("host", "10.0.0.5"), ("origin", "https://10.0.0.5")]);
            h.insert("sec-fetch-site", HeaderValue::from_static(site));
            assert!(!CAMERA.same_origin(&h), "{site}");
        }
        for site in ["same-origin", "none"] {
            let mut h = headers(&[("host", "10.0.0.5"), ("origin", "https://10.0.0.5")]);
            h.insert("sec-fetch-site", HeaderValue::from_static(site));
            assert!(CAMERA.same_origin(&h), "{site}");
        }
        assert!(!CAMERA.same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
    }

    #[test]
    fn without_origin_only_requests_without_a_credential_cookie_pass() {
        assert!(CAMERA.same_origin(&headers(&[])));
        assert!(CAMERA.same_origin(&headers(&[("authorization", "Bearer x")])));
        assert!(CAMERA.same_origin(&headers(&[("cookie", "camkey_device=v1.x")])));
        assert!(!CAMERA.same_origin(&headers(&[("cookie", "camkey_session=abc")])));
        assert!(!CAMERA.same_origin(&headers(&[("cookie", "__Host-camkey_session=abc")])));
        assert!(!LAB.same_origin(&headers(&[("cookie", "a=1; camkey_staff=abc")])));
        // With the site's own Origin, the cookie is what it is for.
        assert!(CAMERA.same_origin(&headers(&[
            ("host", "10.0.0.5"),
            ("origin", "https://10.0.0.5"),
            ("cookie", "camkey_session=abc"),
        ])));
    }

    #[test]
    fn only_get_and_head_skip_the_check() {
        let evil = headers(&[("host", "10.0.0.5"), ("origin", "https://evil.example")]);
        assert!(CAMERA.allows(&Method::GET, &evil));
        assert!(CAMERA.allows(&Method::HEAD, &evil));
        for m in [
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ] {
            assert!(!CAMERA.allows(&m, &evil), "{m}");
        }
    }
}
