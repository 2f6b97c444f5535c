//! CSRF tokens: the hidden form field that proves a cookie-authenticated form came from a
//! page the site served to that session, on top of the same-origin rule
//! ([`crate::origin`]), which covers browsers that send `Origin`.
//!
//! Two ways to have one, both checked in constant time:
//! - a random token stored with the session ([`new_token`], checked with [`check`]): the
//!   vendor's staff sessions keep theirs in their table;
//! - a token bound to the session by a key ([`CsrfKey`]): HMAC-SHA256 of the session token
//!   under a per-process (or stored) key, so nothing extra is stored and a token from one
//!   session is worthless in another.
//!
//! A token never equals the session token, and an empty expected token matches nothing.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Random bytes in a token.
pub const TOKEN_BYTES: usize = 32;
const LABEL: &[u8] = b"camkey/csrf/v1";

/// A new random token (256 bits, lower-case hex) to store with a session.
pub fn new_token() -> String {
    let mut b = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut b);
    data_encoding::HEXLOWER.encode(&b)
}

/// Whether the token a form sent is the session's, in time that does not depend on where
/// they differ. An empty `expected` matches nothing.
pub fn check(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// The key that binds tokens to sessions.
#[derive(Clone)]
pub struct CsrfKey([u8; 32]);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(..)")
    }
}

impl CsrfKey {
    /// A new random key (tokens die with it: a restart asks for a reload).
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        CsrfKey(k)
    }

    /// A key kept elsewhere.
    pub fn from_bytes(key: [u8; 32]) -> Self {
        CsrfKey(key)
    }

    fn mac(&self, session: &str) -> Hmac<Sha256> {
        let mut m =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(LABEL);
        m.update(session.as_bytes());
        m
    }

    /// The token of the session whose token (cookie value) is `session`.
    pub fn token(&self, session: &str) -> String {
        data_encoding::BASE64URL_NOPAD.encode(&self.mac(session).finalize().into_bytes())
    }

    /// Whether `given` is the token of `session`.
    pub fn verify(&self, session: &str, given: &str) -> bool {
        if session.is_empty() {
            return false;
        }
        let Ok(tag) = data_encoding::BASE64URL_NOPAD.decode(given.as_bytes()) else {
            return false;
        };
        self.mac(session).verify_slice(&tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_tokens_are_random_and_checked_exactly() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), 2 * TOKEN_BYTES);
        assert_ne!(a, b);
        assert!(check(&a, &a));
        assert!(!check(&b, &a));
        assert!(!check(&a[..10], &a));
        assert!(!check("", &a));
        assert!(!check(&format!("{a}0"), &a));
        // A session without a token accepts nothing, not even an empty field.
        assert!(!check("", ""));
    }

    #[test]
    fn bound_tokens_belong_to_one_session_and_one_key() {
        let k = CsrfKey::from_bytes([7; 32]);
        let t = k.token("session-1");
        assert!(k.verify("session-1", &t));
        assert!(!k.verify("session-2", &t));
        assert!(!k.verify("", &k.token("")));
        assert!(!CsrfKey::from_bytes([8; 32]).verify("session-1", &t));
        assert!(!k.verify("session-1", ""));
        assert!(!k.verify("session-1", "not base64!"));
        assert!(!k.verify("session-1", &t[..t.len() - 2]));
        assert_ne!(t, "session-1");
        assert_eq!(t, k.token("session-1"), "deterministic per session");
        assert_ne!(k.token("s"), CsrfKey::generate().token("s"));
        assert_eq!(format!("{k:?}"), "CsrfKey(..)");
    }
}
