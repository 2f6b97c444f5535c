//! Who an ONVIF caller is: a WS-UsernameToken in the SOAP header, or HTTP digest.
//!
//! - **UsernameToken** (`PasswordDigest`): `Created` must be within [`TOKEN_WINDOW_MS`] of
//!   the camera's own wall clock (clients set their offset from GetSystemDateAndTime), and
//!   a token that verified once is refused ever after ([`super::replay`]). A
//!   `PasswordText` token carries the password in clear: refused over plain HTTP.
//! - **HTTP digest**: challenges for SHA-256 and MD5 with one server nonce
//!   ([`camkey_onvif::auth::digest::NonceKey`], per boot, no table); a nonce lives
//!   [`DIGEST_NONCE_LIFETIME_MS`] (elapsed clock); an expired one with a right answer gets
//!   a new challenge with `stale=true`; each (nonce, nc, cnonce) works once.
//!
//! The password itself is checked by [`Core::verify_onvif`], which applies the sign-in
//! limits of S4 and writes the audit log; this module only says what "matches" means.

use super::replay::{self, Seen};
use super::{OnvifService, Transport};
use crate::core::{CoreError, Source};
use crate::state::Role;
use camkey_onvif::auth::digest::{self, Algorithm, Challenge, DigestResponse, NonceState};
use camkey_onvif::auth::token::{PasswordType, UsernameToken};
use camkey_onvif::soap::Fault;
use camkey_onvif::xml::Element;

/// How far a UsernameToken's `Created` may be from the camera's clock, either way.
pub const TOKEN_WINDOW_MS: u64 = 5 * 60_000;
/// How long a digest server nonce lives (elapsed clock).
pub const DIGEST_NONCE_LIFETIME_MS: u64 = 5 * 60_000;

/// A signed-in ONVIF caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The account.
    pub user: String,
    /// Its role.
    pub role: Role,
}

/// Why a call is not let through.
#[derive(Debug, Clone, PartialEq)]
pub enum Denied {
    /// No usable credentials: HTTP 401 with digest challenges (`stale`: the nonce had
    /// expired, or was used already, but the answer was right).
    Challenge {
        /// Whether to say `stale=true`.
        stale: bool,
    },
    /// Refused: the `ter:NotAuthorized` fault with this reason.
    Refused(String),
}

impl Denied {
    /// The fault of a refusal (a challenge's body too).
    pub fn fault(&self) -> Fault {
        match self {
            Denied::Challenge { .. } => Fault::not_authorized(
                "Sender not authorized: this operation needs credentials (HTTP digest or a WS-UsernameToken)",
            ),
            Denied::Refused(reason) => Fault::not_authorized(reason.clone()),
        }
    }
}

/// The request's credentials, as they came.
pub struct Presented<'a> {
    /// The SOAP header, if any.
    pub header: Option<&'a Element>,
    /// The `Authorization` header value, if any.
    pub authorization: Option<&'a str>,
    /// The HTTP method.
    pub method: &'a str,
    /// The request target (path and query) as sent.
    pub uri: &'a str,
}

fn refused(e: CoreError) -> Denied {
    Denied::Refused(match e {
        CoreError::NotInitialized => {
            "Sender not authorized: this camera must be initialized first (set the admin password on its web page)".into()
        }
        CoreError::RateLimited(r) => format!(
            "Sender not authorized: too many failed sign-ins from this source; try again in {} seconds",
            r.secs()
        ),
        CoreError::BadCredentials { .. } => {
            "Sender not authorized: wrong user name or password, or ONVIF access is off for this account".into()
        }
        other => format!("Sender not authorized: {other}"),
    })
}

fn role_of(r: Result<(String, Role), CoreError>) -> Result<Caller, Denied> {
    r.map(|(user, role)| Caller { user, role }).map_err(refused)
}

impl OnvifService {
    /// The digest realm: the camera's serial.
    pub fn realm(&self) -> String {
        format!("camkey {}", self.core.factory().serial)
    }

    /// The `WWW-Authenticate` values of a 401: SHA-256 first (preferred), then MD5, with
    /// one fresh nonce.
    pub fn challenges(&self, stale: bool) -> Vec<String> {
        let nonce = self.nonce_key.issue(self.core.clock().elapsed_ms());
        let realm = self.realm();
        [Algorithm::Sha256, Algorithm::Md5]
            .into_iter()
            .map(|algorithm| {
                Challenge {
                    realm: &realm,
                    nonce: &nonce,
                    algorithm,
                    opaque: None,
                    stale,
                }
                .header_value()
            })
            .collect()
    }

    /// Authenticates a request: a UsernameToken wins over an `Authorization` header.
    pub async fn authenticate(
        &self,
        presented: &Presented<'_>,
        transport: Transport,
        source: Source,
    ) -> Result<Caller, Denied> {
        if let Some(header) = presented.header {
            match UsernameToken::from_header(header) {
                Ok(Some(token)) => return self.by_token(token, transport, source).await,
                Ok(None) => {}
                Err(e) => {
                    return Err(Denied::Refused(format!(
                        "Sender not authorized: unreadable WS-Security header ({e})"
                    )));
                }
            }
        }
        match presented.authorization {
            Some(value)
                if value
                    .trim_start()
                    .get(..7)
                    .is_some_and(|s| s.eq_ignore_ascii_case("digest ")) =>
            {
                self.by_digest(value, presented, source).await
            }
            _ => Err(Denied::Challenge { stale: false }),
        }
    }

    async fn by_token(
        &self,
        token: UsernameToken,
        transport: Transport,
        source: Source,
    ) -> Result<Caller, Denied> {
        if token.password_type == PasswordType::Text {
            if transport == Transport::Http {
                return Err(Denied::Refused(
                    "Sender not authorized: a password in clear (PasswordText) is refused over plain HTTP; use a PasswordDigest token, HTTP digest, or HTTPS".into(),
                ));
            }
            let r = self
                .core
                .verify_onvif(&token.username, source, |pw| token.verify(pw))
                .await;
            return role_of(r);
        }
        let created = match token.created_ms() {
            Ok(Some(c)) => c,
            _ => {
                return Err(Denied::Refused(
                    "Sender not authorized: the UsernameToken's Created time is unreadable".into(),
                ));
            }
        };
        let now = self.core.clock().wall_ms();
        if created.abs_diff(now) > TOKEN_WINDOW_MS {
            return Err(Denied::Refused(
                "Sender not authorized: the UsernameToken is not fresh (its Created time is over 5 minutes from the camera's clock; read GetSystemDateAndTime and retry)".into(),
            ));
        }
        let key = replay::key(&[
            b"token",
            token.username.as_bytes(),
            token.nonce.as_deref().unwrap_or_default(),
            token.created.as_deref().unwrap_or_default().as_bytes(),
        ]);
        if self.replay_lock().seen(&key, Some(created)) {
            return Err(replayed_token());
        }
        let caller = role_of(
            self.core
                .verify_onvif(&token.username, source, |pw| token.verify_digest(pw))
                .await,
        )?;
        let elapsed = self.core.clock().elapsed_ms();
        match self
            .replay_lock()
            .check_and_insert(key, elapsed, Some(created))
        {
            Seen::New => Ok(caller),
            Seen::Replayed => Err(replayed_token()),
        }
    }

    async fn by_digest(
        &self,
        value: &str,
        presented: &Presented<'_>,
        source: Source,
    ) -> Result<Caller, Denied> {
        let resp = digest::parse_authorization(value).map_err(|e| {
            Denied::Refused(format!(
                "Sender not authorized: unreadable Authorization header ({e})"
            ))
        })?;
        if resp.realm != self.realm() {
            return Err(Denied::Challenge { stale: false });
        }
        if resp.uri != presented.uri {
            return Err(Denied::Refused(
                "Sender not authorized: the digest was made for another address".into(),
            ));
        }
        let now = self.core.clock().elapsed_ms();
        let mut state = self
            .nonce_key
            .check(&resp.nonce, now, DIGEST_NONCE_LIFETIME_MS);
        // Past the replay cache's memory, an old answer cannot be told from a copy: it is
        // not checked at all.
        if state == NonceState::Stale
            && self.nonce_key.check(&resp.nonce, now, replay::KEEP_MS) != NonceState::Fresh
        {
            state = NonceState::Invalid;
        }
        if state == NonceState::Invalid {
            return Err(Denied::Challenge { stale: false });
        }
        let key = replay::key(&[
            b"digest",
            resp.nonce.as_bytes(),
            resp.nc.as_deref().unwrap_or_default().as_bytes(),
            resp.cnonce.as_deref().unwrap_or_default().as_bytes(),
        ]);
        // A copy (or a reused nonce) is answered with a new nonce before the password is
        // checked, so it never counts as a successful sign-in.
        if self.replay_lock().seen(&key, None) {
            return Err(Denied::Challenge { stale: true });
        }
        let caller = role_of(
            self.core
                .verify_onvif(&resp.username, source, |pw| {
                    check_digest(&resp, presented.method, pw)
                })
                .await,
        )?;
        let elapsed = self.core.clock().elapsed_ms();
        if state == NonceState::Stale {
            // Right, but late: remembered, so the same answer is not checked again.
            self.replay_lock().check_and_insert(key, elapsed, None);
            return Err(Denied::Challenge { stale: true });
        }
        match self.replay_lock().check_and_insert(key, elapsed, None) {
            Seen::New => Ok(caller),
            // A nonce count used before: a copy, or a client without qop reusing its
            // nonce. Either way a new nonce is needed; only the owner of the password
            // can answer it.
            Seen::Replayed => Err(Denied::Challenge { stale: true }),
        }
    }
}

fn replayed_token() -> Denied {
    Denied::Refused(
        "Sender not authorized: this UsernameToken was used before (a replayed request is refused)"
            .into(),
    )
}

fn check_digest(resp: &DigestResponse, method: &str, password: &str) -> bool {
    let ha1 = digest::ha1(resp.algorithm, &resp.username, &resp.realm, password);
    resp.verify(method, &ha1)
}
