//! Forgot password (docs/design.md §1, S2–S6): which methods are offered now, security questions
//! and an e-mailed code, and what every recovery does afterwards. The QR challenge is in
//! [`super::recovery_qr`], the settings that feed the methods in [`super::recovery_settings`],
//! and the notices they send in [`super::notices`].
//!
//! Every method ends in [`Core::finish_recovery`]: a new password (the same policy as at
//! initialization), every session ended, every account but admin disabled, live challenges
//! and codes dropped, an audit entry, and a notice to the owner-set recovery address
//! (method, time, source; never the code or the password).

use super::*;
use crate::mail;
use crate::state::{QUESTIONS_MAX_FAILURES, StoredEmailCode};
use camkey_proto::code::CodeError;
use camkey_proto::crockford;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

/// Limits scope of security answers.
pub const SCOPE_QUESTIONS: &str = "questions";
/// Limits scope of e-mailed codes.
pub const SCOPE_EMAIL: &str = "email";
/// Limits scope of QR security codes.
pub const SCOPE_QR: &str = "qr";
/// An e-mailed code lives this long (S3b).
pub const EMAIL_CODE_TTL_MS: u64 = 10 * 60_000;
/// At most this many e-mailed codes live at once.
pub const EMAIL_CODES_LIVE: usize = 3;
/// Another e-mailed code only this long after the last one.
pub const EMAIL_CODE_INTERVAL_MS: u64 = 60_000;
/// Symbols in an e-mailed code (50 bits).
pub const EMAIL_CODE_CHARS: usize = 10;
const EMAIL_CODE_LABEL: &[u8] = b"camkey/email-code/v1";
const QUESTIONS_SUSPENDED: &str = "Security questions are switched off after 100 wrong answers in a row; the owner was told, and they come back when the owner signs in. Choose another way on the Forgot password page.";

/// `GET /recovery`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RecoveryMethods {
    /// Among `questions`, `email`, `qr`, in that order.
    pub methods: Vec<&'static str>,
    /// Whether this model offers "Forgot password?" at all.
    pub web_reset: bool,
    /// Whether recovery by questions is switched off by too many wrong answers in a row
    /// (until the owner signs in).
    pub questions_suspended: bool,
    /// What to do next, in plain words.
    pub message: String,
}

fn email_code_hash(core: &Core, canonical: &str) -> String {
    let mut m =
        <Hmac<Sha256> as Mac>::new_from_slice(&core.factory.device_key.subkey(EMAIL_CODE_LABEL))
            .expect("HMAC takes any key length");
    m.update(canonical.as_bytes());
    data_encoding::HEXLOWER.encode(&m.finalize().into_bytes())
}

impl Core {
    /// `GET /recovery`: the methods available now.
    pub fn recovery_methods(&self) -> RecoveryMethods {
        let g = self.lock();
        let st = &g.state;
        let m = self.factory.model_info();
        let mut methods = Vec::new();
        if m.web_reset {
            if st.questions_enabled && !st.questions.is_empty() && !st.questions_suspended {
                methods.push("questions");
            }
            // A failed send is temporary (a mail server down for a moment, or a request
            // made to fail): the method stays offered (issue: one failed send hid it).
            if st.recovery_email.is_some() && self.smtp(st).is_some() {
                methods.push("email");
            }
            methods.push("qr");
        }
        let suspended = st.questions_suspended && st.questions_enabled && !st.questions.is_empty();
        let message = if m.web_reset && suspended {
            format!(
                "Choose a way to prove you own this camera. Each one ends with choosing a new admin password. Security questions are switched off: someone gave {QUESTIONS_MAX_FAILURES} wrong answers in a row. The owner was told; they come back when the owner signs in."
            )
        } else if m.web_reset {
            "Choose a way to prove you own this camera. Each one ends with choosing a new admin password.".into()
        } else {
            format!(
                "The {} has no password reset from its web page. If you have lost the password, the camera must be reset by the vendor: file a support request with your order number and the camera's serial ({}); the vendor's support desk is {}.",
                self.factory.model, self.factory.serial, self.factory.default_recovery_address
            )
        };
        RecoveryMethods {
            methods,
            web_reset: m.web_reset,
            questions_suspended: m.web_reset && suspended,
            message,
        }
    }

    pub(super) fn require_method(&self, method: &'static str) -> Result<(), CoreError> {
        if !self.initialized() {
            return Err(CoreError::NotInitialized);
        }
        if self.recovery_methods().methods.contains(&method) {
            return Ok(());
        }
        Err(CoreError::MethodUnavailable(match method {
            "questions" if self.lock().state.questions_suspended => QUESTIONS_SUSPENDED,
            "questions" => {
                "Security questions are not set or switched off on this camera: choose another way on the Forgot password page."
            }
            "email" => {
                "This camera cannot e-mail a code: the owner set no recovery address, or no mail server works. Choose another way on the Forgot password page."
            }
            _ => {
                "This camera has no password reset from its web page: see Help for the reset button and the vendor's support."
            }
        }))
    }

    /// The end of every recovery.
    pub(super) async fn finish_recovery(
        &self,
        method: &str,
        new_password: &str,
        source: Source,
    ) -> Result<(), CoreError> {
        let hash = self.hasher.hash(new_password.to_string()).await;
        let mut g = self.lock();
        let mut next = g.state.clone();
        let sealed = self.reseal_onvif(&next, ADMIN, new_password);
        // No ONVIF client stays trusted: an intruder's would be among them.
        next.onvif_clients.clear();
        for a in next.accounts.iter_mut() {
            if a.name == ADMIN {
                a.password_hash = hash.clone();
                a.onvif = sealed.clone();
                a.enabled = true;
            } else {
                a.enabled = false;
            }
        }
        next.challenges.clear();
        next.email_codes.clear();
        for scope in [SCOPE_LOGIN, SCOPE_QUESTIONS, SCOPE_EMAIL, SCOPE_QR] {
            next.limits.clear_account(scope, ADMIN);
        }
        next.questions_failures = 0;
        next.questions_suspended = false;
        let disabled = next.accounts.iter().filter(|a| !a.enabled).count();
        let detail = format!(
            "password reset by {method}; every session ended; {disabled} other account(s) disabled until the owner re-enables them"
        );
        let entry = self.entry(
            &next,
            "password_recovered",
            Some(ADMIN),
            Some(source),
            detail,
        );
        next.push_audit(entry);
        if let Some(to) = next.recovery_email.clone() {
            let when = format_wall(self.clock.wall_ms());
            let body = format!(
                "The admin password of your camera {} (serial {}) was reset.\n\n\
                 Method: {method}\nTime: {when}\nFrom: {source}\n\n\
                 Every session was signed out and every other account was disabled.\n\
                 If this was you, there is nothing else to do.\n\
                 If it was not you, someone can reach your recovery mailbox or the camera: \
                 reset the camera with its reset button (see the camera's Help page) or contact the vendor's support, \
                 and change your e-mail password.\n",
                self.factory.model, self.factory.serial
            );
            self.queue_owner_notice(
                &mut next,
                to,
                "the admin password was reset",
                body,
                "reset_notice",
            );
        }
        // The notice is saved with the recovery: no power cut can separate them.
        self.commit(&mut g, next)?;
        g.sessions.revoke_all();
        self.mail_wake.notify_one();
        Ok(())
    }

    /// `GET /recovery/questions`.
    pub fn recovery_questions(&self) -> Result<Vec<String>, CoreError> {
        self.require_method("questions")?;
        Ok(self
            .lock()
            .state
            .questions
            .iter()
            .map(|q| q.question.clone())
            .collect())
    }

    /// `POST /recovery/questions`: every answer right, then a new password. A genuine
    /// device cookie of the admin account (`device_cookie`) puts the attempt under its own
    /// limit, out of reach of anyone else's failures (S4).
    pub async fn recover_with_answers(
        &self,
        answers: &[String],
        new_password: &str,
        source: Source,
        device_cookie: Option<&str>,
    ) -> Result<(), CoreError> {
        self.require_method("questions")?;
        self.check_password(new_password)?;
        let _turn = self.hasher.turn().await;
        let proof = device_cookie.map_or(Proof::None, Proof::DeviceCookie);
        let (hashes, who): (Vec<String>, Guesser) = {
            let g = self.lock();
            let who = self.guesser(&g.state, Some(ADMIN), source, proof);
            g.state
                .limits
                .check(
                    &self.config.limits,
                    SCOPE_QUESTIONS,
                    ADMIN,
                    &who,
                    self.clock.elapsed_ms(),
                )
                .map_err(CoreError::RateLimited)?;
            // Switched off meanwhile (by another guesser's hundredth failure)?
            if g.state.questions_suspended {
                return Err(CoreError::MethodUnavailable(QUESTIONS_SUSPENDED));
            }
            let hashes = g
                .state
                .questions
                .iter()
                .map(|q| q.answer_hash.clone())
                .collect();
            (hashes, who)
        };
        let mut all = answers.len() == hashes.len();
        for (i, h) in hashes.iter().enumerate() {
            // Every answer is checked, right or wrong, so the time tells nothing.
            let a = answers
                .get(i)
                .map(|a| policy::normalize_answer(a))
                .unwrap_or_default();
            let a: String = a.chars().take(policy::ANSWER_MAX_CHARS).collect();
            all &= self.hasher.verify_in_turn(a, h.clone()).await;
        }
        if !all {
            let mut g = self.lock();
            let locked = self.answers_failed(&mut g, &who, source)?;
            return Err(CoreError::WrongAnswers { locked });
        }
        self.lock()
            .state
            .limits
            .succeed(SCOPE_QUESTIONS, ADMIN, &who);
        self.finish_recovery("security questions", new_password, source)
            .await
    }

    /// `POST /recovery/email`: mails a code to the owner's recovery address. Returns the
    /// masked address and the code's lifetime in seconds.
    pub async fn send_email_code(&self, source: Source) -> Result<(String, u64), CoreError> {
        self.require_method("email")?;
        let now = self.clock.elapsed_ms();
        let mut value = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut value);
        let code = crockford::encode_bits(
            u128::from_be_bytes(value) & ((1u128 << 50) - 1),
            EMAIL_CODE_CHARS,
        );
        let hash = email_code_hash(self, &code);
        let (to, settings, owner_set) = {
            let mut g = self.lock();
            let mut next = g.state.clone();
            next.email_codes
                .retain(|c| now < c.created_elapsed + EMAIL_CODE_TTL_MS);
            if let Some(newest) = next.email_codes.last()
                && now < newest.created_elapsed + EMAIL_CODE_INTERVAL_MS
            {
                return Err(CoreError::TooSoon(RetryAfter {
                    ms: newest.created_elapsed + EMAIL_CODE_INTERVAL_MS - now,
                    locked: false,
                }));
            }
            if next.email_codes.len() >= EMAIL_CODES_LIVE {
                let oldest = next.email_codes[0].created_elapsed;
                return Err(CoreError::TooSoon(RetryAfter {
                    ms: oldest + EMAIL_CODE_TTL_MS - now,
                    locked: false,
                }));
            }
            let to = next
                .recovery_email
                .clone()
                .ok_or(CoreError::MethodUnavailable("no recovery address"))?;
            // Saved before sending, so the live count holds even if two requests race.
            next.email_codes.push(StoredEmailCode {
                hash: hash.clone(),
                created_elapsed: now,
            });
            let settings = self.smtp(&next);
            let owner_set = next.smtp.is_some();
            self.commit(&mut g, next)?;
            (to, settings, owner_set)
        };
        let body = format!(
            "Someone asked your camera {} (serial {}) for a recovery code.\n\n\
             Code: {}\n\n\
             Type it on the camera's Forgot password page within 10 minutes, with a new password.\n\
             If you did not ask for it, ignore this mail: nobody can use the code without it.\n\
             Asked from: {source}\n",
            self.factory.model,
            self.factory.serial,
            crockford::group(&code, 5)
        );
        let subject = format!(
            "Camera {} {}: your recovery code",
            self.factory.model, self.factory.serial
        );
        let sent = self
            .send_with(settings, owner_set, &to, &subject, body)
            .await;
        let mut g = self.lock();
        let mut next = g.state.clone();
        next.smtp_ok = Some(sent.is_ok());
        let masked = mail::mask(&to);
        let entry = match &sent {
            Ok(()) => self.entry(
                &next,
                "recovery_code_sent",
                None,
                Some(source),
                format!("recovery code mailed to {masked}"),
            ),
            Err(e) => {
                next.email_codes.retain(|c| c.hash != hash);
                self.entry(
                    &next,
                    "mail_failed",
                    None,
                    Some(source),
                    format!("recovery code to {masked} failed: {e}"),
                )
            }
        };
        next.push_audit(entry);
        self.commit(&mut g, next)?;
        sent?;
        // Whoever asks learns the first character only, not the domain (S2); the audit
        // entry above, for the owner, keeps the domain.
        Ok((
            camkey_proto::challenge::address_hint(&to),
            EMAIL_CODE_TTL_MS / 1000,
        ))
    }

    /// `POST /recovery/email/verify`.
    pub async fn recover_with_email_code(
        &self,
        typed: &str,
        new_password: &str,
        source: Source,
    ) -> Result<(), CoreError> {
        if !self.initialized() {
            return Err(CoreError::NotInitialized);
        }
        self.check_password(new_password)?;
        let canonical = crockford::decode_bits(typed.trim(), EMAIL_CODE_CHARS)
            .map(|v| crockford::encode_bits(v, EMAIL_CODE_CHARS))
            .ok_or(CoreError::CodeUnreadable(CodeError::Unreadable))?;
        let hash = email_code_hash(self, &canonical);
        {
            let mut g = self.lock();
            self.code_check(&g, SCOPE_EMAIL, source)?;
            let now = self.clock.elapsed_ms();
            let found = g.state.email_codes.iter().position(|c| {
                subtle::ConstantTimeEq::ct_eq(c.hash.as_bytes(), hash.as_bytes()).into()
            });
            match found {
                Some(i) if now < g.state.email_codes[i].created_elapsed + EMAIL_CODE_TTL_MS => {
                    // Used: gone at once, before the (slow) new password is hashed.
                    let mut next = g.state.clone();
                    next.email_codes.remove(i);
                    next.limits
                        .succeed_source(SCOPE_EMAIL, &camkey_web::client::source_key(source));
                    self.commit(&mut g, next)?;
                }
                Some(_) => return Err(CoreError::CodeExpired),
                None => {
                    let locked =
                        self.code_failed(&mut g, SCOPE_EMAIL, source, "recovery_code_wrong")?;
                    return Err(CoreError::CodeWrong { locked });
                }
            }
        }
        self.finish_recovery("e-mailed recovery code", new_password, source)
            .await
    }
}
