//! Device cookies (OWASP "Slow down online guessing attacks with device cookies"): a
//! client that signed in successfully gets a cookie bound to that one account, and its
//! later sign-ins and security answers are limited on their own, never delayed or locked
//! by other clients' failures (S4).
//!
//! A cookie is `v1.<account>.<nonce>.<tag>`, each part base64url: the account it was
//! issued for, 128 random bits that tell this device from others (its rate-limit
//! counter), and HMAC-SHA256 (truncated to 128 bits) of both under the camera's
//! device-cookie key. The key is 256 random bits in the user state, made at
//! initialization; a factory reset wipes it, so every earlier cookie stops counting. The
//! cookie proves nothing but "this client signed in to this account before": it opens
//! no session and grants nothing but its own rate limit.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Name of the cookie.
pub const COOKIE: &str = "camkey_device";
/// How long a browser keeps it (one year).
pub const MAX_AGE_SECS: u64 = 365 * 86_400;
/// Longest cookie value looked at.
pub const MAX_LEN: usize = 256;
const LABEL: &[u8] = b"camkey/device-cookie/v1";
const B64: data_encoding::Encoding = data_encoding::BASE64URL_NOPAD;

/// A valid device cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCookie {
    /// The account it was issued for.
    pub account: String,
    /// Its identity (hex of the nonce), for its rate-limit counter.
    pub id: String,
}

fn tag(key: &[u8], account: &str, nonce: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(LABEL);
    m.update(&(account.len() as u32).to_be_bytes());
    m.update(account.as_bytes());
    m.update(nonce);
    m.finalize().into_bytes()[..16].to_vec()
}

/// A new random key.
pub fn new_key() -> String {
    let mut k = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut k);
    data_encoding::HEXLOWER.encode(&k)
}

fn key_bytes(key: &str) -> Option<Vec<u8>> {
    data_encoding::HEXLOWER
        .decode(key.as_bytes())
        .ok()
        .filter(|k| k.len() == 32)
}

/// A new cookie value for `account` under `key` (hex), or `None` for a bad key.
pub fn issue(key: &str, account: &str) -> Option<String> {
    let key = key_bytes(key)?;
    let mut nonce = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    Some(format!(
        "v1.{}.{}.{}",
        B64.encode(account.as_bytes()),
        B64.encode(&nonce),
        B64.encode(&tag(&key, account, &nonce))
    ))
}

/// The cookie `value` if it is genuine under `key`.
pub fn verify(key: &str, value: &str) -> Option<DeviceCookie> {
    if value.len() > MAX_LEN {
        return None;
    }
    let key = key_bytes(key)?;
    let mut parts = value.split('.');
    let (Some("v1"), Some(a), Some(n), Some(t), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let account = String::from_utf8(B64.decode(a.as_bytes()).ok()?).ok()?;
    let nonce = B64.decode(n.as_bytes()).ok().filter(|n| n.len() == 16)?;
    let given = B64.decode(t.as_bytes()).ok()?;
    let ok: bool =
        subtle::ConstantTimeEq::ct_eq(given.as_slice(), tag(&key, &account, &nonce).as_slice())
            .into();
    ok.then(|| DeviceCookie {
        account,
        id: data_encoding::HEXLOWER.encode(&nonce),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genuine_cookies_verify_and_nothing_else_does() {
        let key = new_key();
        let c = issue(&key, "admin").unwrap();
        let d = verify(&key, &c).unwrap();
        assert_eq!(d.account, "admin");
        assert_eq!(d.id.len(), 32);
        let c2 = issue(&key, "admin").unwrap();
        assert_ne!(verify(&key, &c2).unwrap().id, d.id, "one id per device");
        // Another key (after a factory reset) knows none of them.
        assert_eq!(verify(&new_key(), &c), None);
        // Changing the account, the nonce or the tag breaks it.
        let parts: Vec<&str> = c.split('.').collect();
        let forged = format!("v1.{}.{}.{}", B64.encode(b"root"), parts[2], parts[3]);
        assert_eq!(verify(&key, &forged), None);
        let flipped = if parts[3].starts_with('A') { 'B' } else { 'A' };
        let bad = format!("v1.{}.{}.{flipped}{}", parts[1], parts[2], &parts[3][1..]);
        assert_eq!(verify(&key, &bad), None);
        for junk in [
            "",
            "v1",
            "v1...",
            "v2.a.b.c",
            &"x".repeat(1000),
            "v1.%%.%%.%%",
        ] {
            assert_eq!(verify(&key, junk), None, "{junk}");
        }
        assert_eq!(issue("not hex", "admin"), None);
    }
}
