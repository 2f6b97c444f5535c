//! HTTP digest authentication (RFC 7616), as a camera serves it.
//!
//! - [`Challenge::header_value`] writes a `WWW-Authenticate` value (`qop="auth"`, an
//!   algorithm, a nonce, optional opaque, `stale=true` for an expired nonce); a camera
//!   sends one per [`Algorithm`].
//! - [`parse_authorization`] reads an `Authorization: Digest ...` value (quoted strings with
//!   escapes, bounded) into a [`DigestResponse`], and [`DigestResponse::verify`] checks it
//!   against the account's `HA1` ([`ha1`]) in constant time, for `qop=auth` and for the
//!   RFC 2069 form without qop that some old NVRs still send.
//! - [`NonceKey`] makes server nonces that need no table: the time they were made (on the
//!   camera's elapsed clock), a random salt and a MAC under a per-boot key. Any nonce the
//!   key made and that is younger than the lifetime is good; an older one is stale.
//!
//! The caller also checks that the response's `realm` is its own, that its `uri` is the
//! request's, and that the nonce is fresh ([`NonceKey::check`]).

use data_encoding::BASE64URL_NOPAD;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};

use super::{AuthError, ct_eq};

/// Longest `Authorization` header value accepted.
pub const MAX_HEADER: usize = 4096;
/// Longest single parameter value accepted.
pub const MAX_VALUE: usize = 1024;
/// Most parameters accepted in one header.
pub const MAX_PARAMS: usize = 24;

/// A digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5` (RFC 2617; what most ONVIF clients speak).
    Md5,
    /// `SHA-256` (RFC 7616).
    Sha256,
}

impl Algorithm {
    /// The name in headers.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// The algorithm named `name` (case-insensitive; `-sess` variants are not spoken).
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if name.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    /// The lowercase hex hash of `data`.
    pub fn hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 => data_encoding::HEXLOWER.encode(&Md5::digest(data)),
            Algorithm::Sha256 => data_encoding::HEXLOWER.encode(&Sha256::digest(data)),
        }
    }
}

/// `HA1 = H(username ":" realm ":" password)`, lowercase hex.
pub fn ha1(alg: Algorithm, user: &str, realm: &str, password: &str) -> String {
    alg.hex(format!("{user}:{realm}:{password}").as_bytes())
}

/// A `WWW-Authenticate` digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// The protection space, e.g. the camera's serial.
    pub realm: &'a str,
    /// A server nonce ([`NonceKey::issue`]).
    pub nonce: &'a str,
    /// The algorithm the client is to use.
    pub algorithm: Algorithm,
    /// An opaque value the client echoes, if any.
    pub opaque: Option<&'a str>,
    /// Whether the client's nonce had expired (its credentials were right): the client
    /// retries with the new nonce without asking its user.
    pub stale: bool,
}

impl Challenge<'_> {
    /// The header value: `Digest realm="...", qop="auth", algorithm=..., nonce="..."`.
    pub fn header_value(&self) -> String {
        let mut out = format!(
            "Digest realm=\"{}\", qop=\"auth\", algorithm={}, nonce=\"{}\"",
            quote(self.realm),
            self.algorithm.name(),
            quote(self.nonce)
        );
        if let Some(opaque) = self.opaque {
            out.push_str(&format!(", opaque=\"{}\"", quote(opaque)));
        }
        if self.stale {
            out.push_str(", stale=true");
        }
        out
    }
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A client's digest response, from its `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestResponse {
    /// The account name.
    pub username: String,
    /// The realm the client answered.
    pub realm: String,
    /// The server nonce the client used.
    pub nonce: String,
    /// The request target the client signed.
    pub uri: String,
    /// The response hash (hex, as sent).
    pub response: String,
    /// The algorithm (MD5 when absent).
    pub algorithm: Algorithm,
    /// Whether `qop=auth` was used (false: the RFC 2069 form).
    pub qop_auth: bool,
    /// Nonce count (with qop).
    pub nc: Option<String>,
    /// Client nonce (with qop).
    pub cnonce: Option<String>,
    /// The opaque value echoed, if any.
    pub opaque: Option<String>,
}

impl DigestResponse {
    /// Whether the response is right for `method` and the account's `ha1_hex` (computed
    /// with this response's algorithm and realm). Constant-time in the response.
    pub fn verify(&self, method: &str, ha1_hex: &str) -> bool {
        let alg = self.algorithm;
        let ha2 = alg.hex(format!("{method}:{}", self.uri).as_bytes());
        let expected = if self.qop_auth {
            let (Some(nc), Some(cnonce)) = (&self.nc, &self.cnonce) else {
                return false;
            };
            alg.hex(format!("{ha1_hex}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce).as_bytes())
        } else {
            alg.hex(format!("{ha1_hex}:{}:{ha2}", self.nonce).as_bytes())
        };
        ct_eq(
            expected.as_bytes(),
            self.response.to_ascii_lowercase().as_bytes(),
        )
    }
}

/// Parses an `Authorization` header value of the Digest scheme.
pub fn parse_authorization(value: &str) -> Result<DigestResponse, AuthError> {
    if value.len() > MAX_HEADER {
        return Err(AuthError::TooLong);
    }
    let value = value.trim();
    let (scheme, rest) = value
        .split_once([' ', '\t'])
        .ok_or(AuthError::Malformed("no parameters"))?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(AuthError::Unsupported("authentication scheme"));
    }
    let params = parse_params(rest)?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    if get("username*").is_some() {
        return Err(AuthError::Unsupported("username*"));
    }
    if get("userhash").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Err(AuthError::Unsupported("userhash"));
    }
    let algorithm = match get("algorithm") {
        None => Algorithm::Md5,
        Some(name) => Algorithm::from_name(&name).ok_or(AuthError::Unsupported("algorithm"))?,
    };
    let qop_auth = match get("qop") {
        None => false,
        Some(q) if q.eq_ignore_ascii_case("auth") => true,
        Some(_) => return Err(AuthError::Unsupported("qop")),
    };
    let response = DigestResponse {
        username: get("username").ok_or(AuthError::Missing("username"))?,
        realm: get("realm").ok_or(AuthError::Missing("realm"))?,
        nonce: get("nonce").ok_or(AuthError::Missing("nonce"))?,
        uri: get("uri").ok_or(AuthError::Missing("uri"))?,
        response: get("response").ok_or(AuthError::Missing("response"))?,
        algorithm,
        qop_auth,
        nc: get("nc"),
        cnonce: get("cnonce"),
        opaque: get("opaque"),
    };
    if qop_auth && (response.nc.is_none() || response.cnonce.is_none()) {
        return Err(AuthError::Missing("nc and cnonce"));
    }
    let hex_len = match algorithm {
        Algorithm::Md5 => 32,
        Algorithm::Sha256 => 64,
    };
    if response.response.len() != hex_len
        || !response.response.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(AuthError::Malformed("response is not a hash"));
    }
    Ok(response)
}

/// `name=token` or `name="quoted"` pairs separated by commas (empty items allowed).
fn parse_params(s: &str) -> Result<Vec<(String, String)>, AuthError> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut out: Vec<(String, String)> = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < bytes.len() && matches!(bytes[*i], b' ' | b'\t') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        while i < bytes.len() && bytes[i] == b',' {
            i += 1;
            skip_ws(&mut i);
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len() && is_tchar(bytes[i]) {
            i += 1;
        }
        let name = &s[start..i];
        if name.is_empty() {
            return Err(AuthError::Malformed("bad parameter name"));
        }
        skip_ws(&mut i);
        if i >= bytes.len() || bytes[i] != b'=' {
            return Err(AuthError::Malformed("parameter without a value"));
        }
        i += 1;
        skip_ws(&mut i);
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'"' {
            i += 1;
            let mut closed = false;
            while i < bytes.len() {
                let b = bytes[i];
                if b == b'"' {
                    closed = true;
                    i += 1;
                    break;
                }
                if b == b'\\' {
                    i += 1;
                    if i >= bytes.len() {
                        break;
                    }
                }
                // Copy one whole UTF-8 character.
                let ch_len = utf8_len(bytes[i]);
                let end = (i + ch_len).min(bytes.len());
                value.push_str(s.get(i..end).ok_or(AuthError::Malformed("bad text"))?);
                i = end;
                if value.len() > MAX_VALUE {
                    return Err(AuthError::TooLong);
                }
            }
            if !closed {
                return Err(AuthError::Malformed("unterminated quoted string"));
            }
        } else {
            let vstart = i;
            while i < bytes.len() && is_tchar(bytes[i]) || i < bytes.len() && bytes[i] == b'/' {
                i += 1;
            }
            value.push_str(&s[vstart..i]);
            if value.is_empty() {
                return Err(AuthError::Malformed("empty token"));
            }
            if value.len() > MAX_VALUE {
                return Err(AuthError::TooLong);
            }
        }
        if out.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
            return Err(AuthError::Malformed("repeated parameter"));
        }
        out.push((name.to_string(), value));
        if out.len() > MAX_PARAMS {
            return Err(AuthError::TooLong);
        }
        skip_ws(&mut i);
        if i < bytes.len() && bytes[i] != b',' {
            return Err(AuthError::Malformed("expected a comma"));
        }
    }
    Ok(out)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether a server nonce is still good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceState {
    /// Made by this key and younger than the lifetime.
    Fresh,
    /// Made by this key but expired: answer with a new challenge and `stale=true`.
    Stale,
    /// Not made by this key (another boot, or forged).
    Invalid,
}

/// The per-boot key that makes and checks server nonces.
#[derive(Clone)]
pub struct NonceKey([u8; 32]);

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

impl NonceKey {
    /// A key from given bytes (tests).
    pub fn new(key: [u8; 32]) -> Self {
        NonceKey(key)
    }

    /// A fresh random key (one per boot).
    pub fn random() -> Self {
        NonceKey(rand::random())
    }

    fn mac(&self, body: &[u8]) -> [u8; 16] {
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(b"camkey digest nonce v1");
        mac.update(body);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// A nonce made at `now_ms` (elapsed clock).
    pub fn issue(&self, now_ms: u64) -> String {
        let salt: [u8; 8] = rand::random();
        let mut raw = Vec::with_capacity(32);
        raw.extend_from_slice(&now_ms.to_be_bytes());
        raw.extend_from_slice(&salt);
        let mac = self.mac(&raw);
        raw.extend_from_slice(&mac);
        BASE64URL_NOPAD.encode(&raw)
    }

    /// Whether `nonce` was made by this key no longer than `lifetime_ms` before `now_ms`.
    pub fn check(&self, nonce: &str, now_ms: u64, lifetime_ms: u64) -> NonceState {
        if nonce.len() != 43 {
            return NonceState::Invalid;
        }
        let Ok(raw) = BASE64URL_NOPAD.decode(nonce.as_bytes()) else {
            return NonceState::Invalid;
        };
        if raw.len() != 32 || !ct_eq(&self.mac(&raw[..16]), &raw[16..]) {
            return NonceState::Invalid;
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&raw[..8]);
        let made = u64::from_be_bytes(ts);
        if made > now_ms {
            NonceState::Invalid
        } else if now_ms - made > lifetime_ms {
            NonceState::Stale
        } else {
            NonceState::Fresh
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 §3.9.1, the MD5 example.
    const RFC_MD5: &str = r#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="8ca523f5e9506fed4657c9700eebdbec", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
    /// RFC 7616 §3.9.1, the SHA-256 example.
    const RFC_SHA256: &str = r#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;

    #[test]
    fn rfc7616_examples_verify() {
        for (header, alg, ha1_hex) in [
            (RFC_MD5, Algorithm::Md5, "3d78807defe7de2157e2b0b6573a855f"),
            (
                RFC_SHA256,
                Algorithm::Sha256,
                "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232",
            ),
        ] {
            let r = parse_authorization(header).unwrap();
            assert_eq!(r.username, "Mufasa");
            assert_eq!(r.realm, "http-auth@example.org");
            assert_eq!(r.uri, "/dir/index.html");
            assert_eq!(r.algorithm, alg);
            assert!(r.qop_auth);
            assert_eq!(r.nc.as_deref(), Some("00000001"));
            assert_eq!(
                r.opaque.as_deref(),
                Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
            );
            let h = ha1(alg, "Mufasa", "http-auth@example.org", "Circle of Life");
            assert_eq!(h, ha1_hex);
            assert!(r.verify("GET", &h));
            assert!(!r.verify("POST", &h));
            assert!(!r.verify(
                "GET",
                &ha1(alg, "Mufasa", "http-auth@example.org", "circle of life")
            ));
            let mut other_uri = r.clone();
            other_uri.uri = "/dir/other.html".into();
            assert!(!other_uri.verify("GET", &h));
        }
    }

    #[test]
    fn rfc2069_form_without_qop_verifies() {
        let alg = Algorithm::Md5;
        let h = ha1(alg, "admin", "cam", "pw");
        let ha2 = alg.hex(b"POST:/onvif/device_service");
        let resp = alg.hex(format!("{h}:abc:{ha2}").as_bytes());
        let header = format!(
            "Digest username=\"admin\",realm=\"cam\",nonce=\"abc\",uri=\"/onvif/device_service\",response=\"{}\"",
            resp.to_uppercase()
        );
        let r = parse_authorization(&header).unwrap();
        assert!(!r.qop_auth);
        assert!(r.verify("POST", &h));
    }

    #[test]
    fn quoted_strings_unescape_and_bad_headers_are_refused() {
        let r = parse_authorization(&format!(
            "digest  username=\"a\\\"b\\\\c\" , realm=\"r\",, nonce=n, uri=\"/x\", response=\"{}\", qop=\"auth\", nc=1, cnonce=\"c\"",
            "0".repeat(32)
        ))
        .unwrap();
        assert_eq!(r.username, "a\"b\\c");
        assert_eq!(r.nonce, "n");
        let ok_rest = format!(
            "realm=\"r\", nonce=\"n\", uri=\"/\", response=\"{}\"",
            "0".repeat(32)
        );
        let cases = [
            "Basic YWRtaW46cGFzcw==".to_string(),
            "Digest".to_string(),
            format!("Digest {ok_rest}"),
            format!("Digest username=\"a\", {ok_rest}, algorithm=MD5-sess"),
            format!("Digest username=\"a\", {ok_rest}, algorithm=SHA-512-256"),
            format!("Digest username=\"a\", {ok_rest}, qop=auth-int, nc=1, cnonce=x"),
            format!("Digest username=\"a\", {ok_rest}, qop=auth"),
            format!("Digest username=\"a\", {ok_rest}, username=\"b\""),
            format!("Digest username*=UTF-8''a, {ok_rest}"),
            format!("Digest username=\"a\", {ok_rest}, userhash=true"),
            format!("Digest username=\"a\", {ok_rest}, x=\"unterminated"),
            format!("Digest username=\"a\" {ok_rest}"),
            format!("Digest username=\"a\", {ok_rest}, ="),
            format!("Digest username=\"{}\", {ok_rest}", "a".repeat(2000)),
            format!("Digest {}", "a=b, ".repeat(1000)),
            "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"xyz\""
                .to_string(),
            "Digest username=\"é\\".to_string(),
        ];
        for case in cases {
            assert!(parse_authorization(&case).is_err(), "accepted: {case:.100}");
        }
    }

    #[test]
    fn challenges_are_well_formed_and_parse_back() {
        let c = Challenge {
            realm: "IPC4K15-000001 \"cam\"",
            nonce: "abc",
            algorithm: Algorithm::Sha256,
            opaque: Some("op"),
            stale: true,
        };
        assert_eq!(
            c.header_value(),
            "Digest realm=\"IPC4K15-000001 \\\"cam\\\"\", qop=\"auth\", algorithm=SHA-256, nonce=\"abc\", opaque=\"op\", stale=true"
        );
        let params = parse_params(c.header_value().strip_prefix("Digest ").unwrap()).unwrap();
        assert_eq!(params[0].1, "IPC4K15-000001 \"cam\"");
        let plain = Challenge {
            stale: false,
            opaque: None,
            algorithm: Algorithm::Md5,
            ..c
        };
        assert!(!plain.header_value().contains("stale"));
        assert!(plain.header_value().contains("algorithm=MD5"));
    }

    #[test]
    fn server_nonces_age_and_cannot_be_forged() {
        let key = NonceKey::new([7; 32]);
        let n = key.issue(1_000);
        assert_ne!(n, key.issue(1_000), "salted");
        assert_eq!(key.check(&n, 1_000, 300_000), NonceState::Fresh);
        assert_eq!(key.check(&n, 301_000, 300_000), NonceState::Fresh);
        assert_eq!(key.check(&n, 301_001, 300_000), NonceState::Stale);
        assert_eq!(key.check(&n, 999, 300_000), NonceState::Invalid);
        assert_eq!(
            NonceKey::new([8; 32]).check(&n, 1_000, 300_000),
            NonceState::Invalid
        );
        let mut raw = BASE64URL_NOPAD.decode(n.as_bytes()).unwrap();
        raw[7] ^= 1;
        let forged = BASE64URL_NOPAD.encode(&raw);
        assert_eq!(key.check(&forged, 1_000, 300_000), NonceState::Invalid);
        assert_eq!(key.check("short", 1_000, 300_000), NonceState::Invalid);
        assert_eq!(
            key.check(&"!".repeat(43), 1_000, 300_000),
            NonceState::Invalid
        );
        assert_eq!(format!("{key:?}"), "NonceKey(..)");
    }

    proptest::proptest! {
        #[test]
        fn parse_authorization_never_panics(s in "\\PC{0,300}") {
            let _ = parse_authorization(&s);
            let _ = parse_authorization(&format!("Digest {s}"));
        }
    }
}
