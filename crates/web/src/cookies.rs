//! The credentials a request carries — its cookies and its bearer token — and the
//! `Set-Cookie` values that set and clear a cookie.
//!
//! Every cookie camkey sets is `Path=/; HttpOnly; SameSite=Strict` with a `Max-Age`, and
//! `Secure` whenever the site is reached over HTTPS ([`Transport`]). A site that can, names
//! it with the `__Host-` prefix too ([`Transport::HttpsHostOnly`]): browsers then accept it
//! only from a secure origin, for this host alone, with `Path=/`. Plain HTTP is only for
//! loopback labs, where a `Secure` cookie would never come back.

use axum::http::{HeaderMap, HeaderValue, header};

/// The prefix browsers hold to `Secure`, `Path=/`, no `Domain`.
pub const HOST_PREFIX: &str = "__Host-";

/// How the browser reaches the site, which decides a cookie's security attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP (a loopback lab): no `Secure`.
    Http,
    /// HTTPS: `Secure`, the name as given.
    Https,
    /// HTTPS: `Secure`, and the name carries the `__Host-` prefix.
    HttpsHostOnly,
}

/// The value of the first cookie named exactly `name`, if any.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    find(headers, |k| k == name)
}

/// The value of the first cookie named `name` or `__Host-name` (a site that sets either,
/// depending on how it is reached), if any.
pub fn get_either<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    find(headers, |k| {
        k == name || k.strip_prefix(HOST_PREFIX).is_some_and(|k| k == name)
    })
}

fn find(headers: &HeaderMap, wanted: impl Fn(&str) -> bool) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| wanted(k))
        .map(|(_, v)| v)
}

/// The token of `Authorization: Bearer TOKEN`, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The `Set-Cookie` value that keeps `name=value` for `max_age_secs`; `None` when the name
/// or value cannot travel in a header.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age_secs: u64,
    transport: Transport,
) -> Option<HeaderValue> {
    let (prefix, secure) = match transport {
        Transport::Http => ("", ""),
        Transport::Https => ("", " Secure;"),
        Transport::HttpsHostOnly => (HOST_PREFIX, " Secure;"),
    };
    HeaderValue::from_str(&format!(
        "{prefix}{name}={value}; Path=/;{secure} HttpOnly; SameSite=Strict; Max-Age={max_age_secs}"
    ))
    .ok()
}

/// The `Set-Cookie` value that makes the browser forget the cookie `name` now.
pub fn clear_cookie(name: &str, transport: Transport) -> Option<HeaderValue> {
    set_cookie(name, "", 0, transport)
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
    fn cookies_are_read_by_exact_name_from_every_header_line() {
        let h = headers(&[
            ("cookie", "a=b; camkey_session=tok123; c=d"),
            ("cookie", "camkey_device=v1.a.b.c"),
        ]);
        assert_eq!(get(&h, "camkey_session"), Some("tok123"));
        assert_eq!(get(&h, "camkey_device"), Some("v1.a.b.c"));
        assert_eq!(get(&h, "camkey"), None);
        assert_eq!(get(&h, "session"), None);
        // The first one wins.
        let h = headers(&[("cookie", "x=1; x=2")]);
        assert_eq!(get(&h, "x"), Some("1"));
        // An empty value is still a cookie.
        assert_eq!(get(&headers(&[("cookie", "x=")]), "x"), Some(""));
    }

    #[test]
    fn either_name_finds_the_plain_and_the_host_prefixed_cookie() {
        let h = headers(&[("cookie", "other=1; __Host-camkey_staff=s1")]);
        assert_eq!(get_either(&h, "camkey_staff"), Some("s1"));
        assert_eq!(get(&h, "camkey_staff"), None);
        let h = headers(&[("cookie", "camkey_staff=s2")]);
        assert_eq!(get_either(&h, "camkey_staff"), Some("s2"));
        let h = headers(&[("cookie", "__Secure-camkey_staff=s3")]);
        assert_eq!(get_either(&h, "camkey_staff"), None);
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer zzz ")])),
            Some("zzz")
        );
        assert_eq!(bearer(&headers(&[("authorization", "Basic zzz")])), None);
        assert_eq!(bearer(&headers(&[])), None);
    }

    #[test]
    fn set_cookie_attributes_follow_the_transport() {
        let v = set_cookie("camkey_session", "tok", 900, Transport::Https).unwrap();
        assert_eq!(
            v,
            "camkey_session=tok; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=900"
        );
        let v = set_cookie("camkey_staff", "t", 60, Transport::HttpsHostOnly).unwrap();
        assert_eq!(
            v,
            "__Host-camkey_staff=t; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        let v = set_cookie("camkey_staff", "t", 60, Transport::Http).unwrap();
        assert_eq!(
            v,
            "camkey_staff=t; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        assert!(set_cookie("x", "bad\nvalue", 1, Transport::Https).is_none());
        let v = clear_cookie("camkey_session", Transport::Https).unwrap();
        assert_eq!(
            v,
            "camkey_session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"
        );
    }
}
