//! Who guesses, and how each guess at a secret is counted (S4): passwords and security
//! answers by [`Guesser`] (a device cookie or a session on its own, anyone else by source
//! and across sources), codes by source only; the run of wrong security answers that
//! switches the questions off.

use super::recovery::SCOPE_QUESTIONS;
use super::*;
use crate::state::QUESTIONS_MAX_FAILURES;

/// What a client shows, besides its address, when it guesses a password or answers.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    /// Nothing.
    None,
    /// The value of its device cookie ([`crate::device_cookies`]), genuine or not.
    DeviceCookie(&'a str),
    /// It is signed in to the account already (confirming its own password).
    Session,
}

impl Core {
    /// Who is guessing, as the limits see it: a client with a genuine device cookie of
    /// `account`, or one signed in to it already, is limited on its own; anyone else by
    /// its address.
    pub(super) fn guesser(
        &self,
        st: &UserState,
        account: Option<&str>,
        source: Source,
        proof: Proof<'_>,
    ) -> Guesser {
        match (account, proof) {
            (Some(acc), Proof::DeviceCookie(v)) => {
                if let Some(key) = &st.device_cookie_key
                    && let Some(dc) = device_cookies::verify(key, v)
                    && dc.account == acc
                {
                    return Guesser::Trusted(format!("d{}", dc.id));
                }
            }
            (Some(_), Proof::Session) => {
                return Guesser::Trusted(format!("s{}", camkey_web::client::source_key(source)));
            }
            _ => {}
        }
        Guesser::Untrusted(camkey_web::client::source_key(source))
    }

    /// Verifies `user`'s password with the limits of S4; on success returns the account.
    pub(super) async fn verify_password(
        &self,
        user: &str,
        password: &str,
        source: Source,
        event: &str,
        proof: Proof<'_>,
    ) -> Result<String, CoreError> {
        let p = self.config.limits;
        let _turn = self.hasher.turn().await;
        let (key, hash, who) = {
            let g = self.lock();
            if !g.state.initialized() {
                return Err(CoreError::NotInitialized);
            }
            let account = (user.len() <= MAX_USERNAME)
                .then(|| g.state.account(user))
                .flatten()
                .filter(|a| a.enabled);
            // Unknown names count each on their own, exactly as a real account would, so
            // the limit answer tells nothing about which names exist.
            let key = account
                .map(|a| a.name.clone())
                .unwrap_or_else(|| limits::unknown_account(user));
            let who = self.guesser(&g.state, account.map(|a| a.name.as_str()), source, proof);
            let hash = account.map(|a| a.password_hash.clone());
            g.state
                .limits
                .check(&p, SCOPE_LOGIN, &key, &who, self.clock.elapsed_ms())
                .map_err(CoreError::RateLimited)?;
            (key, hash, who)
        };
        // Unknown users are checked against a dummy hash: the same work, the same answer.
        let phc = hash
            .clone()
            .unwrap_or_else(|| camkey_passwords::dummy_hash().to_string());
        let ok = self.hasher.verify_in_turn(password.to_string(), phc).await && hash.is_some();
        let mut g = self.lock();
        if ok {
            g.state.limits.succeed(SCOPE_LOGIN, &key, &who);
            return Ok(key);
        }
        let shown = if user.len() <= MAX_USERNAME {
            user
        } else {
            "(too long)"
        };
        let e1 = self.entry(
            &g.state,
            event,
            Some(shown),
            Some(source),
            "wrong user name or password".into(),
        );
        let whom = match who {
            Guesser::Trusted(_) => "this signed-in client or device cookie",
            Guesser::Untrusted(_) => "this source",
        };
        let lockout = self.entry(
            &g.state,
            "locked_out",
            Some(shown),
            Some(source),
            format!(
                "{} failed attempts: {whom} is locked out for {} minutes",
                p.per_source_max,
                p.per_source_lock_ms / 60_000
            ),
        );
        let now = self.clock.elapsed_ms();
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

    /// Counts a failed guess at a code in `scope` (per source only: codes cannot be
    /// guessed); returns the lock it started, if any.
    pub(super) fn code_failed(
        &self,
        g: &mut Inner,
        scope: &str,
        source: Source,
        event: &str,
    ) -> Result<Option<RetryAfter>, CoreError> {
        let p = self.config.limits;
        let src = camkey_web::client::source_key(source);
        let now = self.clock.elapsed_ms();
        let e = self.entry(
            &g.state,
            event,
            None,
            Some(source),
            format!("wrong {scope} attempt"),
        );
        let lock_entry = self.entry(
            &g.state,
            "locked_out",
            None,
            Some(source),
            format!(
                "too many wrong {scope} attempts: this source waits {} minutes",
                p.per_source_lock_ms / 60_000
            ),
        );
        let mut locked = None;
        self.record(g, |s| {
            s.push_audit(e);
            if s.limits.fail_source(&p, scope, &src, now) == Failure::LockedOut {
                s.push_audit(lock_entry);
                locked = Some(RetryAfter {
                    ms: p.per_source_lock_ms,
                    locked: true,
                });
            }
        })?;
        Ok(locked)
    }

    /// Whether `source` may try a code in `scope` now (per source only).
    pub(super) fn code_check(
        &self,
        g: &Inner,
        scope: &str,
        source: Source,
    ) -> Result<(), CoreError> {
        g.state
            .limits
            .check_source(
                scope,
                &camkey_web::client::source_key(source),
                self.clock.elapsed_ms(),
            )
            .map_err(CoreError::RateLimited)
    }

    /// Counts wrong security answers: the guesser's limit, and the run of wrong answers
    /// from anyone; the [`QUESTIONS_MAX_FAILURES`]th switches the method off until the
    /// owner signs in, and tells the owner.
    pub(super) fn answers_failed(
        &self,
        g: &mut Inner,
        who: &Guesser,
        source: Source,
    ) -> Result<Option<RetryAfter>, CoreError> {
        let p = self.config.limits;
        let now = self.clock.elapsed_ms();
        let mut next = g.state.clone();
        let e = self.entry(
            &next,
            "recovery_answers_wrong",
            None,
            Some(source),
            "wrong questions attempt".into(),
        );
        next.push_audit(e);
        let mut locked = None;
        if next.limits.fail(&p, SCOPE_QUESTIONS, ADMIN, who, now) == Failure::LockedOut {
            let e = self.entry(
                &next,
                "locked_out",
                None,
                Some(source),
                format!(
                    "too many wrong questions attempts: {} waits {} minutes",
                    match who {
                        Guesser::Trusted(_) => "this device cookie",
                        Guesser::Untrusted(_) => "this source",
                    },
                    p.per_source_lock_ms / 60_000
                ),
            );
            next.push_audit(e);
            locked = Some(RetryAfter {
                ms: p.per_source_lock_ms,
                locked: true,
            });
        }
        next.questions_failures = next.questions_failures.saturating_add(1);
        if next.questions_failures >= QUESTIONS_MAX_FAILURES && !next.questions_suspended {
            next.questions_suspended = true;
            let e = self.entry(
                &next,
                "questions_suspended",
                None,
                Some(source),
                format!(
                    "{QUESTIONS_MAX_FAILURES} wrong answers in a row: recovery by security questions is off until the owner signs in"
                ),
            );
            next.push_audit(e);
            if let Some(to) = next.recovery_email.clone() {
                let body = format!(
                    "Someone gave {QUESTIONS_MAX_FAILURES} wrong answers in a row to the security questions of your camera {} (serial {}); the last came from {source} at {}.\n\n\
                     Recovery by security questions is now switched off, so that nobody can keep guessing.\n\
                     It comes back when you sign in to the camera. Your password still works, and so do the e-mailed code and the QR code.\n\
                     If it was not you, consider switching the questions off for good in the camera's settings.\n",
                    self.factory.model,
                    self.factory.serial,
                    format_wall(self.clock.wall_ms())
                );
                self.queue_owner_notice(
                    &mut next,
                    to,
                    "security questions switched off",
                    body,
                    "questions_notice",
                );
            }
        }
        self.commit(g, next)?;
        self.mail_wake.notify_one();
        Ok(locked)
    }
}
