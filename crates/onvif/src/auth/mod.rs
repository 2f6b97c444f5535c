//! Who is calling: the two ways ONVIF clients authenticate, checked without I/O.
//!
//! ONVIF clients prove a password two ways, and a camera offers both (ONVIF Core 5.9):
//! HTTP digest ([`digest`], RFC 7616: MD5 and SHA-256, `qop=auth`, server nonces that carry
//! their own age under a MAC) and the WS-Security UsernameToken ([`token`]:
//! `Base64(SHA1(nonce + created + password))`). This module parses and verifies; the
//! camera decides freshness windows, replay caches, rate limits and access levels.
//! Every comparison of a secret-derived value is constant-time.
//!
//! # Layout
//!
//! - [`digest`]: HTTP digest challenges, `Authorization` parsing and verification, and
//!   the stateless server nonces.
//! - [`token`]: the WS-UsernameToken header, its digest, and `Created` timestamps.

pub mod digest;
pub mod token;

use thiserror::Error;

/// Why credentials could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// The header or element is not what the scheme defines.
    #[error("malformed credentials: {0}")]
    Malformed(&'static str),
    /// A value is longer than the bounds camkey accepts.
    #[error("credentials too long")]
    TooLong,
    /// A required field is missing.
    #[error("credentials lack {0}")]
    Missing(&'static str),
    /// An algorithm, qop, password type or encoding camkey does not speak.
    #[error("unsupported {0}")]
    Unsupported(&'static str),
    /// A timestamp that is not an `xsd:dateTime`.
    #[error("bad timestamp")]
    BadTime,
}

/// Constant-time equality of two byte strings (their lengths are not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
