//! ONVIF access (S4, S6, S10): what the camera keeps so that ONVIF clients can sign in, and
//! how their sign-ins are counted.
//!
//! HTTP digest needs a password equivalent on the camera, and a WS-UsernameToken digest the
//! password itself, so an Argon2 hash is not enough. For an account whose owner switched
//! ONVIF access on, the camera keeps the password sealed with ChaCha20-Poly1305 under the
//! device key's [`ONVIF_SECRET_LABEL`] sub-key, with the serial and the account name as
//! associated data and a random nonce ([`Account::onvif`]). Every place that sets a
//! password seals it again; switching ONVIF access off or a factory reset drops it. An
//! owner who never switches it on keeps nothing but Argon2 hashes on flash.
//!
//! [`Core::verify_onvif`] counts every ONVIF sign-in under the sign-in limits of S4 (scope
//! [`SCOPE_LOGIN`], with the same account-wide counter as the web page). ONVIF clients
//! carry no cookie: an (account, source) pair that signed in before is remembered
//! ([`OnvifClient`], at most [`ONVIF_CLIENTS_PER_ACCOUNT`] per account, forgotten after
//! [`ONVIF_CLIENT_FORGET_MS`] idle) and limited on its own, so a storm of wrong passwords
//! from other addresses neither delays nor locks an NVR that signed in before. Only a
//! success adds a pair, so sources without a password cannot push one out; and when an
//! account's pairs are full, a pair idle for a day goes first, else the newest one, so a
//! flood of new pairs (an account's credentials used from many addresses) only churns
//! among itself and never evicts the established NVR.
//!
//! No Argon2 on this path (ONVIF clients authenticate every call): unsealing and the
//! caller's digest check take microseconds.

use super::*;
use crate::state::OnvifClient;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// The device-key label of the ONVIF secret's sub-key.
pub const ONVIF_SECRET_LABEL: &[u8] = b"camkey/onvif-secret/v1";
/// Remembered ONVIF clients per account.
pub const ONVIF_CLIENTS_PER_ACCOUNT: usize = 8;
/// A remembered ONVIF client unused this long (camera elapsed time) is forgotten.
pub const ONVIF_CLIENT_FORGET_MS: u64 = 30 * 24 * 3_600_000;
/// A remembered client's last use is saved at most this often (no flash write per call).
pub const ONVIF_CLIENT_REFRESH_MS: u64 = 3_600_000;
/// A remembered client unused this long goes first when its account's list is full.
const ONVIF_CLIENT_STALE_MS: u64 = 24 * 3_600_000;
/// The text form of a sealed secret starts with this.
const SEALED_PREFIX: &str = "v1.";
/// Checked instead of the password for names that have none to check (the same work).
const NO_PASSWORD: &str = "\u{0}no password\u{0}";

fn aad(serial: &str, account: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(ONVIF_SECRET_LABEL.len() + serial.len() + account.len() + 2);
    v.extend_from_slice(ONVIF_SECRET_LABEL);
    v.push(0);
    v.extend_from_slice(serial.as_bytes());
    v.push(0);
    v.extend_from_slice(account.as_bytes());
    v
}

impl Core {
    fn onvif_cipher(&self) -> ChaCha20Poly1305 {
        let key = self.factory.device_key.subkey(ONVIF_SECRET_LABEL);
        ChaCha20Poly1305::new(Key::from_slice(&key))
    }

    /// Seals `password` for `account` (a fresh random nonce each time).
    pub(super) fn seal_onvif(&self, account: &str, password: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let aad = aad(&self.factory.serial, account);
        let sealed = self
            .onvif_cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: password.as_bytes(),
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!(
            "{SEALED_PREFIX}{}",
            data_encoding::BASE64URL_NOPAD.encode(&out)
        )
    }

    /// Opens `account`'s sealed password; `None` if it is not genuine (another camera's,
    /// another account's, or damaged).
    pub(super) fn unseal_onvif(&self, account: &str, sealed: &str) -> Option<String> {
        let raw = data_encoding::BASE64URL_NOPAD
            .decode(sealed.strip_prefix(SEALED_PREFIX)?.as_bytes())
            .ok()?;
        if raw.len() < 12 + 16 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let aad = aad(&self.factory.serial, account);
        let plain = self
            .onvif_cipher()
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .ok()?;
        String::from_utf8(plain).ok()
    }

    /// The new ONVIF secret of `account` whose password becomes `password`: sealed again
    /// when its ONVIF access is on, `None` (off) otherwise.
    pub(super) fn reseal_onvif(
        &self,
        st: &UserState,
        account: &str,
        password: &str,
    ) -> Option<String> {
        st.account(account)
            .filter(|a| a.onvif.is_some())
            .map(|_| self.seal_onvif(account, password))
    }

    /// Switches ONVIF access of `user` on (with its current password, checked under the
    /// sign-in limits of S4, then sealed) or off (the sealed password is dropped, and the
    /// ONVIF clients remembered for the account are forgotten). Who may do it for whom is
    /// the caller's rule (an account itself, or an Administrator).
    pub async fn set_onvif_access(
        &self,
        user: &str,
        enable: bool,
        password: Option<&str>,
        source: Source,
    ) -> Result<(), CoreError> {
        if !self.initialized() {
            return Err(CoreError::NotInitialized);
        }
        if self.lock().state.account(user).is_none() {
            return Err(CoreError::UnknownUser(shown_name(user)));
        }
        let sealed = if enable {
            let password = password
                .filter(|p| !p.is_empty())
                .ok_or(CoreError::PasswordRequired)?;
            let before = self
                .lock()
                .state
                .account(user)
                .map(|a| a.password_hash.clone());
            self.confirm_password(user, password, source).await?;
            let now = self
                .lock()
                .state
                .account(user)
                .map(|a| a.password_hash.clone());
            if now != before {
                // The password changed while we checked: what we would seal is stale.
                return Err(CoreError::WrongPassword { locked: None });
            }
            Some(self.seal_onvif(user, password))
        } else {
            None
        };
        let mut g = self.lock();
        let mut next = g.state.clone();
        let Some(a) = next.account_mut(user) else {
            return Err(CoreError::UnknownUser(shown_name(user)));
        };
        if !enable && a.onvif.is_none() {
            return Ok(());
        }
        a.onvif = sealed;
        let (event, detail) = if enable {
            (
                "onvif_access_on",
                "ONVIF clients may sign in with this account's password (kept sealed under the device key)",
            )
        } else {
            next.forget_onvif_clients(user);
            (
                "onvif_access_off",
                "ONVIF access off: the sealed password was deleted",
            )
        };
        let e = self.entry(&next, event, Some(user), Some(source), detail.into());
        next.push_audit(e);
        self.commit(&mut g, next)?;
        Ok(())
    }

    /// Signs in an ONVIF client as `user`: `check` gets the account's password (unsealed)
    /// and says whether the client's digest or UsernameToken matches it. Returns the
    /// account and its role.
    ///
    /// Counted under the sign-in limits of S4: a pair of account and source that signed
    /// in before is limited on its own (never held up by other sources' failures); anyone
    /// else by source and across sources. An unknown user, a disabled account and an
    /// account without ONVIF access get the same [`CoreError::BadCredentials`] and are
    /// counted the same way. Every failure is audited (`onvif_auth_failed`), a success
    /// only the first time for its pair (`onvif_signed_in`), so a polling NVR does not
    /// flood the log.
    pub async fn verify_onvif(
        &self,
        user: &str,
        source: Source,
        check: impl FnOnce(&str) -> bool,
    ) -> Result<(String, Role), CoreError> {
        let p = self.config.limits;
        let src = camkey_web::client::source_key(source);
        let (key, who, role, password) = {
            let g = self.lock();
            if !g.state.initialized() {
                return Err(CoreError::NotInitialized);
            }
            let now = self.clock.elapsed_ms();
            let account = (user.len() <= MAX_USERNAME)
                .then(|| g.state.account(user))
                .flatten()
                .filter(|a| a.enabled);
            let key = account
                .map(|a| a.name.clone())
                .unwrap_or_else(|| limits::unknown_account(user));
            let password = account
                .and_then(|a| a.onvif.as_deref())
                .and_then(|s| self.unseal_onvif(&key, s));
            let known = password.is_some()
                && g.state.onvif_clients.iter().any(|c| {
                    c.account == key
                        && c.source == src
                        && now < c.last.saturating_add(ONVIF_CLIENT_FORGET_MS)
                });
            let who = if known {
                Guesser::Trusted(format!("o{src}"))
            } else {
                Guesser::Untrusted(src.clone())
            };
            g.state
                .limits
                .check(&p, SCOPE_LOGIN, &key, &who, now)
                .map_err(CoreError::RateLimited)?;
            (key, who, account.map(|a| a.role), password)
        };
        // Outside the lock: the caller's check is its own code.
        let ok = match &password {
            Some(pw) => check(pw),
            None => {
                let _ = check(NO_PASSWORD);
                false
            }
        };
        let mut g = self.lock();
        let now = self.clock.elapsed_ms();
        if let (true, Some(role)) = (ok, role) {
            g.state.limits.succeed(SCOPE_LOGIN, &key, &who);
            self.remember_onvif_client(&mut g, &key, &src, source, now)?;
            return Ok((key, role));
        }
        let shown = shown_name(user);
        let e1 = self.entry(
            &g.state,
            "onvif_auth_failed",
            Some(&shown),
            Some(source),
            "ONVIF sign-in refused: wrong user name or password, or ONVIF access off".into(),
        );
        let whom = match who {
            Guesser::Trusted(_) => "this ONVIF client",
            Guesser::Untrusted(_) => "this source",
        };
        let lockout = self.entry(
            &g.state,
            "locked_out",
            Some(&shown),
            Some(source),
            format!(
                "{} failed attempts: {whom} is locked out for {} minutes",
                p.per_source_max,
                p.per_source_lock_ms / 60_000
            ),
        );
        let mut locked = None;
        self.record(&mut g, |s| {
            let outcome = s.limits.fail(&p, SCOPE_LOGIN, &key, &who, now);
            s.push_audit(e1);
            if outcome == Failure::LockedOut {
                s.push_audit(lockout);
                locked = Some(RetryAfter {
                    ms: p.per_source_lock_ms,
                    locked: true,
                });
            }
        })?;
        Err(CoreError::BadCredentials { locked })
    }

    /// Remembers (or refreshes) the pair after a success: saved when new, with an audit
    /// entry, and when its saved last use is over [`ONVIF_CLIENT_REFRESH_MS`] old.
    fn remember_onvif_client(
        &self,
        g: &mut Inner,
        account: &str,
        src: &str,
        source: Source,
        now: u64,
    ) -> Result<(), CoreError> {
        let found = g.state.onvif_clients.iter().position(|c| {
            c.account == account
                && c.source == src
                && now < c.last.saturating_add(ONVIF_CLIENT_FORGET_MS)
        });
        if let Some(i) = found
            && now
                < g.state.onvif_clients[i]
                    .last
                    .saturating_add(ONVIF_CLIENT_REFRESH_MS)
        {
            // The common case (a polling NVR): nothing to save, nothing copied.
            return Ok(());
        }
        let mut next = g.state.clone();
        match found {
            Some(i) => next.onvif_clients[i].last = now,
            None => {
                remember(&mut next.onvif_clients, account, src, now);
                let e = self.entry(
                    &next,
                    "onvif_signed_in",
                    Some(account),
                    Some(source),
                    "an ONVIF client signed in from this source for the first time (later sign-ins from it are not logged)".into(),
                );
                next.push_audit(e);
            }
        }
        self.commit(g, next)?;
        Ok(())
    }
}

/// Adds the pair (account, src) to `clients`: idle pairs go, and when the account's list
/// is full, the one idle longest if it is stale, else the newest one (see the module doc).
pub(super) fn remember(clients: &mut Vec<OnvifClient>, account: &str, src: &str, now: u64) {
    clients.retain(|c| {
        now < c.last.saturating_add(ONVIF_CLIENT_FORGET_MS)
            && !(c.account == account && c.source == src)
    });
    while clients.iter().filter(|c| c.account == account).count() >= ONVIF_CLIENTS_PER_ACCOUNT {
        let mine = clients
            .iter()
            .enumerate()
            .filter(|(_, c)| c.account == account);
        let stale = mine
            .clone()
            .filter(|(_, c)| now >= c.last.saturating_add(ONVIF_CLIENT_STALE_MS))
            .min_by_key(|(_, c)| c.last)
            .map(|(i, _)| i);
        // Later in the list is newer among equal times.
        let newest = mine.max_by_key(|(i, c)| (c.first, *i)).map(|(i, _)| i);
        match stale.or(newest) {
            Some(i) => {
                clients.remove(i);
            }
            None => break,
        }
    }
    clients.push(OnvifClient {
        account: account.into(),
        source: src.into(),
        first: now,
        last: now,
    });
}

/// A user name as the audit log shows it.
pub(super) fn shown_name(user: &str) -> String {
    if user.len() <= MAX_USERNAME {
        user.to_string()
    } else {
        "(too long)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_list_keeps_the_established_client() {
        let mut v = Vec::new();
        remember(&mut v, "admin", "10.0.0.1", 0);
        // The owner's NVR keeps going; others with the password come and go.
        for i in 0..200u64 {
            let now = 1_000 + i;
            remember(&mut v, "admin", &format!("10.0.1.{i}"), now);
            assert!(v.iter().any(|c| c.source == "10.0.0.1"), "evicted at {i}");
            assert!(v.iter().filter(|c| c.account == "admin").count() <= ONVIF_CLIENTS_PER_ACCOUNT);
        }
        // Another account's clients never take admin's places.
        for i in 0..50u64 {
            remember(&mut v, "viewer", &format!("10.0.2.{i}"), 2_000 + i);
        }
        assert_eq!(
            v.iter().filter(|c| c.account == "admin").count(),
            ONVIF_CLIENTS_PER_ACCOUNT
        );
        // A stale pair goes before the newest.
        let later = 10 * ONVIF_CLIENT_STALE_MS;
        for c in v.iter_mut().filter(|c| c.source != "10.0.0.1") {
            c.last = later;
        }
        remember(&mut v, "admin", "10.0.3.1", later + 1);
        assert!(!v.iter().any(|c| c.source == "10.0.0.1"));
        // Idle pairs are forgotten.
        remember(
            &mut v,
            "admin",
            "10.0.3.2",
            later + ONVIF_CLIENT_FORGET_MS + 10,
        );
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn aad_binds_serial_and_account() {
        assert_ne!(aad("A-1", "bob"), aad("A-1", "bo"));
        assert_ne!(aad("A-1", "bob"), aad("A-2", "bob"));
    }
}
