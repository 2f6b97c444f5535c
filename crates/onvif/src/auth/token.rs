//! The WS-Security UsernameToken (UsernameToken Profile 1.0) in a SOAP header.
//!
//! ONVIF clients (`onvif-zeep-async`, go2rtc, most NVRs) send
//! `wsse:Security/wsse:UsernameToken` with `wsse:Username`, `wsse:Password` of type
//! `PasswordDigest` = `Base64(SHA1(nonce + created + password))`, `wsse:Nonce` (base64)
//! and `wsu:Created`. [`UsernameToken::from_header`] reads it with bounds,
//! [`UsernameToken::verify`] checks it in constant time, and [`parse_created`] reads the
//! timestamp whichever way clients write it (`Z`, `+00:00`, other offsets, fractions of a
//! second). The freshness window and the cache of used nonces that make a sniffed request
//! useless (CVE-2022-30563) are the camera's: this module only reads and verifies.
//!
//! A `PasswordText` token carries the password in clear; it is read so the camera can
//! refuse it where the transport is plain.

use data_encoding::{BASE64, BASE64_NOPAD};
use sha1::{Digest, Sha1};
use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

use super::{AuthError, ct_eq};
use crate::ns;
use crate::xml::{Element, escape};

/// Longest username accepted.
pub const MAX_USERNAME: usize = 256;
/// Longest password element accepted.
pub const MAX_PASSWORD: usize = 1024;
/// Largest nonce accepted (decoded bytes).
pub const MAX_NONCE: usize = 256;
/// Longest `Created` accepted.
pub const MAX_CREATED: usize = 64;

/// How the token carries its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordType {
    /// `#PasswordDigest`: `Base64(SHA1(nonce + created + password))`.
    Digest,
    /// `#PasswordText` (or no Type): the password itself.
    Text,
}

/// A UsernameToken read from a SOAP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernameToken {
    /// The account name.
    pub username: String,
    /// The `Password` element's text: the base64 digest, or the password in clear.
    pub password: String,
    /// What `password` is.
    pub password_type: PasswordType,
    /// The decoded nonce, if any (always present for a digest).
    pub nonce: Option<Vec<u8>>,
    /// `wsu:Created` as written, if any (always present for a digest).
    pub created: Option<String>,
}

impl UsernameToken {
    /// The token in a SOAP `Header` element, `None` if there is none. More than one
    /// token, a digest without nonce or created, and unknown password types or nonce
    /// encodings are errors.
    pub fn from_header(header: &Element) -> Result<Option<UsernameToken>, AuthError> {
        let mut tokens = header
            .children_named(ns::WSSE, "Security")
            .flat_map(|s| s.children_named(ns::WSSE, "UsernameToken"));
        let Some(token) = tokens.next() else {
            return Ok(None);
        };
        if tokens.next().is_some() {
            return Err(AuthError::Malformed("more than one UsernameToken"));
        }
        let username = token
            .child_text(ns::WSSE, "Username")
            .ok_or(AuthError::Missing("Username"))?;
        if username.is_empty() {
            return Err(AuthError::Missing("Username"));
        }
        if username.len() > MAX_USERNAME {
            return Err(AuthError::TooLong);
        }
        let password_el = token
            .child(ns::WSSE, "Password")
            .ok_or(AuthError::Missing("Password"))?;
        let password_type = match password_el.attr(None, "Type").map(str::trim) {
            None => PasswordType::Text,
            Some(t) if t.ends_with("#PasswordDigest") || t == "PasswordDigest" => {
                PasswordType::Digest
            }
            Some(t) if t.ends_with("#PasswordText") || t == "PasswordText" => PasswordType::Text,
            Some(_) => return Err(AuthError::Unsupported("password type")),
        };
        let password = match password_type {
            PasswordType::Digest => password_el.text(),
            PasswordType::Text => password_el.text.as_str(),
        };
        if password.len() > MAX_PASSWORD {
            return Err(AuthError::TooLong);
        }
        let nonce = match token.child(ns::WSSE, "Nonce") {
            None => None,
            Some(n) => {
                match n.attr(None, "EncodingType").map(str::trim) {
                    None => {}
                    Some(e) if e.ends_with("#Base64Binary") => {}
                    Some(_) => return Err(AuthError::Unsupported("nonce encoding")),
                }
                Some(decode_base64(n.text())?)
            }
        };
        if nonce
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.len() > MAX_NONCE)
        {
            return Err(AuthError::Malformed("nonce length"));
        }
        let created = token.child_text(ns::WSU, "Created").map(str::to_string);
        if created.as_ref().is_some_and(|c| c.len() > MAX_CREATED) {
            return Err(AuthError::TooLong);
        }
        if password_type == PasswordType::Digest {
            if nonce.is_none() {
                return Err(AuthError::Missing("Nonce"));
            }
            if created.is_none() {
                return Err(AuthError::Missing("Created"));
            }
        }
        Ok(Some(UsernameToken {
            username: username.to_string(),
            password: password.to_string(),
            password_type,
            nonce,
            created,
        }))
    }

    /// Whether a `PasswordDigest` token was made with `password`. False for a text token.
    pub fn verify_digest(&self, password: &str) -> bool {
        let (PasswordType::Digest, Some(nonce), Some(created)) =
            (self.password_type, &self.nonce, &self.created)
        else {
            return false;
        };
        let Ok(sent) = decode_base64(&self.password) else {
            return false;
        };
        ct_eq(&digest_bytes(nonce, created, password), &sent)
    }

    /// Whether the token proves `password`, digest or text.
    pub fn verify(&self, password: &str) -> bool {
        match self.password_type {
            PasswordType::Digest => self.verify_digest(password),
            PasswordType::Text => ct_eq(self.password.as_bytes(), password.as_bytes()),
        }
    }

    /// `Created` as unix milliseconds, if the token has one.
    pub fn created_ms(&self) -> Result<Option<i64>, AuthError> {
        self.created.as_deref().map(parse_created).transpose()
    }
}

fn decode_base64(text: &str) -> Result<Vec<u8>, AuthError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64
        .decode(compact.as_bytes())
        .or_else(|_| BASE64_NOPAD.decode(compact.as_bytes()))
        .map_err(|_| AuthError::Malformed("bad base64"))
}

fn digest_bytes(nonce: &[u8], created: &str, password: &str) -> Vec<u8> {
    let mut h = Sha1::new();
    h.update(nonce);
    h.update(created.as_bytes());
    h.update(password.as_bytes());
    h.finalize().to_vec()
}

/// `Base64(SHA1(nonce + created + password))`, the PasswordDigest value.
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    BASE64.encode(&digest_bytes(nonce, created, password))
}

/// A `wsse:Security` header block with a PasswordDigest token (what a client sends),
/// using the prefixes [`crate::soap::render`] declares.
pub fn security_header_xml(username: &str, password: &str, nonce: &[u8], created: &str) -> String {
    format!(
        "<wsse:Security><wsse:UsernameToken><wsse:Username>{}</wsse:Username>\
         <wsse:Password Type=\"{}#PasswordDigest\">{}</wsse:Password>\
         <wsse:Nonce EncodingType=\"{}#Base64Binary\">{}</wsse:Nonce>\
         <wsu:Created>{}</wsu:Created></wsse:UsernameToken></wsse:Security>",
        escape(username),
        ns::WSS_UT_PROFILE,
        password_digest(nonce, created, password),
        ns::WSS_SOAP_MESSAGE_SECURITY,
        BASE64.encode(nonce),
        escape(created)
    )
}

/// Parses an `xsd:dateTime` as clients write `Created`: `YYYY-MM-DDTHH:MM:SS`, optional
/// fraction of a second (up to 9 digits), then `Z`, `±HH:MM`, or nothing (taken as UTC).
/// Returns unix milliseconds.
pub fn parse_created(s: &str) -> Result<i64, AuthError> {
    let s = s.trim();
    if s.len() > MAX_CREATED || !s.is_ascii() {
        return Err(AuthError::BadTime);
    }
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(AuthError::BadTime);
    }
    let num = |from: usize, to: usize| -> Result<u32, AuthError> {
        let part = &s[from..to];
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(AuthError::BadTime);
        }
        part.parse().map_err(|_| AuthError::BadTime)
    };
    let year = i32::try_from(num(0, 4)?).map_err(|_| AuthError::BadTime)?;
    let month = Month::try_from(u8::try_from(num(5, 7)?).map_err(|_| AuthError::BadTime)?)
        .map_err(|_| AuthError::BadTime)?;
    let day = u8::try_from(num(8, 10)?).map_err(|_| AuthError::BadTime)?;
    let hour = u8::try_from(num(11, 13)?).map_err(|_| AuthError::BadTime)?;
    let minute = u8::try_from(num(14, 16)?).map_err(|_| AuthError::BadTime)?;
    let second = u8::try_from(num(17, 19)?).map_err(|_| AuthError::BadTime)?;
    let date = Date::from_calendar_date(year, month, day).map_err(|_| AuthError::BadTime)?;
    let time = Time::from_hms(hour, minute, second).map_err(|_| AuthError::BadTime)?;
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return Err(AuthError::BadTime);
        }
        let padded = format!("{:0<3}", &frac[..digits.min(3)]);
        millis = padded.parse().map_err(|_| AuthError::BadTime)?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "" | "Z" | "z" => UtcOffset::UTC,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                return Err(AuthError::BadTime);
            }
            let oh = num(s.len() - 5, s.len() - 3)?;
            let om = num(s.len() - 2, s.len())?;
            if oh > 23 || om > 59 {
                return Err(AuthError::BadTime);
            }
            let sign = if rb[0] == b'-' { -1 } else { 1 };
            let secs = sign * i32::try_from(oh * 3600 + om * 60).map_err(|_| AuthError::BadTime)?;
            UtcOffset::from_whole_seconds(secs).map_err(|_| AuthError::BadTime)?
        }
    };
    let at = PrimitiveDateTime::new(date, time).assume_offset(offset);
    Ok(at.unix_timestamp() * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap;
    use crate::xml::Limits;

    /// Cross-checked with python3: `base64.b64encode(hashlib.sha1(bytes(range(16)) +
    /// b"2026-12-02T06:40:00Z" + b"Correct-Horse-9").digest())`.
    const VECTOR_DIGEST: &str = "PNJnwQRy6HAoYiSxJos613FBXJQ=";
    const VECTOR_NONCE: &str = "AAECAwQFBgcICQoLDA0ODw==";
    const VECTOR_CREATED: &str = "2026-12-02T06:40:00Z";
    const VECTOR_PASSWORD: &str = "Correct-Horse-9";

    fn header(security: &str) -> Element {
        let doc = soap::render(soap::SoapVersion::V12, Some(security), "<tds:GetUsers/>");
        soap::parse(doc.as_bytes(), &Limits::default())
            .unwrap()
            .header
            .unwrap()
    }

    /// What onvif-zeep-async sends (its own prefixes, declared on the elements).
    fn zeep_header(password: &str, nonce: &str, created: &str) -> String {
        format!(
            "<wsse:Security xmlns:wsse=\"{}\"><wsse:UsernameToken><wsse:Username>admin</wsse:Username><wsse:Password Type=\"{}#PasswordDigest\">{password}</wsse:Password><wsse:Nonce EncodingType=\"{}#Base64Binary\">{nonce}</wsse:Nonce><wsu:Created xmlns:wsu=\"{}\">{created}</wsu:Created></wsse:UsernameToken></wsse:Security>",
            ns::WSSE,
            ns::WSS_UT_PROFILE,
            ns::WSS_SOAP_MESSAGE_SECURITY,
            ns::WSU
        )
    }

    #[test]
    fn vector_matches_python_hashlib() {
        let nonce: Vec<u8> = (0u8..16).collect();
        assert_eq!(BASE64.encode(&nonce), VECTOR_NONCE);
        assert_eq!(
            password_digest(&nonce, VECTOR_CREATED, VECTOR_PASSWORD),
            VECTOR_DIGEST
        );
    }

    #[test]
    fn zeep_token_parses_and_verifies() {
        let h = header(&zeep_header(VECTOR_DIGEST, VECTOR_NONCE, VECTOR_CREATED));
        let t = UsernameToken::from_header(&h).unwrap().unwrap();
        assert_eq!(t.username, "admin");
        assert_eq!(t.password_type, PasswordType::Digest);
        assert!(t.verify(VECTOR_PASSWORD));
        assert!(t.verify_digest(VECTOR_PASSWORD));
        assert!(!t.verify("correct-horse-9"));
        assert_eq!(t.created_ms().unwrap(), Some(1_796_193_600_000));
        let mut other_created = t.clone();
        other_created.created = Some("2026-12-02T06:40:01Z".into());
        assert!(!other_created.verify(VECTOR_PASSWORD));
    }

    #[test]
    fn our_own_header_round_trips() {
        let h = header(&security_header_xml(
            "op<1>",
            "pw",
            b"nonce-bytes",
            "2026-01-01T00:00:00.5Z",
        ));
        let t = UsernameToken::from_header(&h).unwrap().unwrap();
        assert_eq!(t.username, "op<1>");
        assert!(t.verify("pw"));
    }

    #[test]
    fn text_tokens_verify_in_clear() {
        let h = header(
            "<wsse:Security><wsse:UsernameToken><wsse:Username>u</wsse:Username><wsse:Password> pw </wsse:Password></wsse:UsernameToken></wsse:Security>",
        );
        let t = UsernameToken::from_header(&h).unwrap().unwrap();
        assert_eq!(t.password_type, PasswordType::Text);
        assert!(t.verify(" pw "));
        assert!(!t.verify("pw"));
        assert!(!t.verify_digest(" pw "));
    }

    #[test]
    fn bad_tokens_are_refused_and_absent_ones_are_none() {
        assert_eq!(
            UsernameToken::from_header(&header("<wsa:To>x</wsa:To>")),
            Ok(None)
        );
        assert_eq!(
            UsernameToken::from_header(&header("<wsse:Security/>")),
            Ok(None)
        );
        let d = ns::WSS_UT_PROFILE;
        let long_user = format!(
            "<wsse:Security><wsse:UsernameToken><wsse:Username>{}</wsse:Username><wsse:Password>x</wsse:Password></wsse:UsernameToken></wsse:Security>",
            "u".repeat(300)
        );
        let cases = vec![
            zeep_header(VECTOR_DIGEST, "!!!", VECTOR_CREATED),
            zeep_header(VECTOR_DIGEST, "", VECTOR_CREATED),
            "<wsse:Security><wsse:UsernameToken><wsse:Password>x</wsse:Password></wsse:UsernameToken></wsse:Security>".to_string(),
            "<wsse:Security><wsse:UsernameToken><wsse:Username>u</wsse:Username></wsse:UsernameToken></wsse:Security>".to_string(),
            format!("<wsse:Security><wsse:UsernameToken><wsse:Username>u</wsse:Username><wsse:Password Type=\"{d}#PasswordDigest\">x</wsse:Password></wsse:UsernameToken></wsse:Security>"),
            format!("<wsse:Security><wsse:UsernameToken><wsse:Username>u</wsse:Username><wsse:Password Type=\"{d}#PasswordDigest\">x</wsse:Password><wsse:Nonce>AAAA</wsse:Nonce></wsse:UsernameToken></wsse:Security>"),
            "<wsse:Security><wsse:UsernameToken><wsse:Username>u</wsse:Username><wsse:Password Type=\"urn:other\">x</wsse:Password></wsse:UsernameToken></wsse:Security>".to_string(),
            "<wsse:Security><wsse:UsernameToken><wsse:Username>u</wsse:Username><wsse:Password>x</wsse:Password><wsse:Nonce EncodingType=\"urn:hex\">00</wsse:Nonce></wsse:UsernameToken></wsse:Security>".to_string(),
            "<wsse:Security><wsse:UsernameToken><wsse:Username>u</wsse:Username><wsse:Password>x</wsse:Password></wsse:UsernameToken><wsse:UsernameToken><wsse:Username>v</wsse:Username><wsse:Password>x</wsse:Password></wsse:UsernameToken></wsse:Security>".to_string(),
            long_user,
        ];
        for case in cases {
            assert!(
                UsernameToken::from_header(&header(&case)).is_err(),
                "accepted: {case:.160}"
            );
        }
        // A digest whose base64 is broken simply does not verify.
        let h = header(&zeep_header("%%%", VECTOR_NONCE, VECTOR_CREATED));
        let t = UsernameToken::from_header(&h).unwrap().unwrap();
        assert!(!t.verify(VECTOR_PASSWORD));
    }

    #[test]
    fn created_accepts_the_forms_clients_write() {
        let base = 1_796_193_600_000;
        for (text, ms) in [
            ("2026-12-02T06:40:00Z", base),
            ("2026-12-02T06:40:00+00:00", base),
            ("2026-12-02T06:40:00", base),
            ("2026-12-02T06:40:00.123Z", base + 123),
            ("2026-12-02T06:40:00.1Z", base + 100),
            ("2026-12-02T06:40:00.123456789Z", base + 123),
            ("2026-12-02T08:40:00+02:00", base),
            ("2026-12-02T01:10:00-05:30", base),
            (" 2026-12-02T06:40:00.999+00:00 ", base + 999),
            ("1970-01-01T00:00:00Z", 0),
        ] {
            assert_eq!(parse_created(text), Ok(ms), "{text}");
        }
        for bad in [
            "",
            "2026-12-02",
            "2026-12-02 06:40:00Z",
            "2026-13-02T06:40:00Z",
            "2026-02-30T06:40:00Z",
            "2026-12-02T24:00:00Z",
            "2026-12-02T06:60:00Z",
            "2026-12-02T06:40:60Z",
            "2026-12-02T06:40:00.Z",
            "2026-12-02T06:40:00.1234567890Z",
            "2026-12-02T06:40:00+24:00",
            "2026-12-02T06:40:00+0200",
            "2026-12-02T06:40:00UTC",
            "+026-12-02T06:40:00Z",
            "2026-12-02T06:40:00Zjunk",
            "２０２６-12-02T06:40:00Z",
        ] {
            assert!(parse_created(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_created_never_panics(s in "\\PC{0,40}") {
            let _ = parse_created(&s);
        }

        #[test]
        fn parse_created_never_panics_on_near_dates(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.0-9]{0,4}[Z+:0-9-]{0,7}") {
            let _ = parse_created(&s);
        }
    }
}
