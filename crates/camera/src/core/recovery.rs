//! Forgot password (DESIGN §1, S2–S6): security questions, an e-mailed code and the QR
//! challenge, the settings that feed them (recovery address, questions, SMTP), and what
//! every recovery does afterwards.
//!
//! Every method ends in [`Core::finish_recovery`]: a new password (the same policy as at
//! initialization), every session ended, every account but admin disabled, live challenges
//! and codes dropped, an audit entry, and a notice to the owner-set recovery address
//! (method, time, source; never the code or the password).

use super::*;
use crate::mail;
use crate::state::{
    PENDING_MAIL_MAX, PendingMail, QUESTIONS_MAX_FAILURES, StoredChallenge, StoredEmailCode,
};
use camkey_proto::api::QuestionAnswer;
use camkey_proto::challenge::{self, Challenge, Recovery};
use camkey_proto::code::{self, CodeError};
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
/// A new QR challenge only this long after the newest one. Four a day at most stays
/// below the vendor's per-device cap, so nobody on the LAN can use up the owner's codes,
/// and the owner's challenge outlives at least 12 hours of anyone else's requests.
pub const NEW_CHALLENGE_INTERVAL_MS: u64 = 12 * 3_600_000;
/// At most this many challenges live.
pub const CHALLENGES_LIVE: usize = 2;
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

/// `GET /recovery/qr`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QrView {
    /// The challenge string.
    pub text: String,
    /// The QR code (SVG) of [`QrView::url`].
    pub svg: String,
    /// The reset page with the challenge in its fragment.
    pub url: String,
    /// The vendor's automated reset address, to mail the string to.
    pub reset_address: String,
    /// Seconds until this challenge ends.
    pub expires_in: u64,
    /// Seconds until another QR code can be made (0: now).
    pub new_allowed_in: u64,
}

/// `GET /settings`: what the owner has set (no secrets).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SettingsView {
    /// The owner's recovery address, or `None` (factory default).
    pub recovery_email: Option<String>,
    /// The factory default.
    pub default_recovery_email: String,
    /// The questions (not the answers).
    pub questions: Vec<String>,
    /// Whether recovery by questions is on.
    pub questions_enabled: bool,
    /// SMTP settings, without the password.
    pub smtp: Option<SmtpView>,
    /// Whether the last mail went out.
    pub smtp_ok: Option<bool>,
}

/// SMTP settings as shown.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SmtpView {
    /// Server.
    pub server: String,
    /// Port.
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub tls: mail::TlsMode,
    /// Login.
    pub username: Option<String>,
    /// Whether a password is stored.
    pub password_set: bool,
    /// Sender.
    pub sender: String,
    /// Whether these are the camera's built-in defaults (the lab's mail).
    pub default: bool,
}

fn email_code_hash(core: &Core, canonical: &str) -> String {
    let mut m =
        <Hmac<Sha256> as Mac>::new_from_slice(&core.factory.device_key.subkey(EMAIL_CODE_LABEL))
            .expect("HMAC takes any key length");
    m.update(canonical.as_bytes());
    data_encoding::HEXLOWER.encode(&m.finalize().into_bytes())
}

/// The QR code of `data` as SVG.
pub fn qr_svg(data: &str) -> String {
    match qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

impl Core {
    /// The SMTP settings in force: the owner's, else the built-in default.
    fn smtp(&self, st: &UserState) -> Option<SmtpSettings> {
        st.smtp.clone().or_else(|| self.config.default_smtp.clone())
    }

    /// Sends with the settings in force (the built-in ones may use plain SMTP on the
    /// lab's bind address).
    async fn send_with(
        &self,
        settings: Option<SmtpSettings>,
        owner_set: bool,
        to: &str,
        subject: &str,
        body: String,
    ) -> Result<(), MailError> {
        match settings {
            Some(s) => s.send_as(!owner_set, to, subject, body).await,
            None => Err(MailError::Settings("no mail server is set".into())),
        }
    }

    /// What the mail worker waits on: woken when a notice is queued.
    pub fn mail_wake(&self) -> &tokio::sync::Notify {
        &self.mail_wake
    }

    /// Queues a notice in `next`, the state about to be saved with the change it tells of;
    /// beyond [`PENDING_MAIL_MAX`] the oldest waiting notice is dropped, with an audit entry.
    pub(super) fn queue_notice(&self, next: &mut UserState, mail: Outgoing) {
        next.pending_mail.push(PendingMail {
            id: rand::random(),
            to: mail.to,
            subject: mail.subject,
            body: mail.body,
            purpose: mail.purpose,
            attempts: 0,
            next_try_elapsed: 0,
        });
        while next.pending_mail.len() > PENDING_MAIL_MAX {
            let old = next.pending_mail.remove(0);
            let e = self.entry(
                next,
                "mail_dropped",
                None,
                None,
                format!(
                    "{} to {}: too many notices waiting",
                    old.purpose,
                    mail::mask(&old.to)
                ),
            );
            next.push_audit(e);
        }
    }

    /// Sends every waiting notice that is due, or every one with `all` (at boot: notices
    /// saved before a power cut go out then; the worker calls it again when woken). A failed one is tried again
    /// later (30 s, 2 min, 10 min, then hourly), at most `MAIL_ATTEMPTS` times. Returns how long
    /// until the next one is due, if any waits.
    pub async fn send_pending_mail(&self, all: bool) -> Option<std::time::Duration> {
        let now = if all {
            u64::MAX
        } else {
            self.clock.elapsed_ms()
        };
        let due: Vec<PendingMail> = self
            .lock()
            .state
            .pending_mail
            .iter()
            .filter(|m| m.next_try_elapsed <= now)
            .cloned()
            .collect();
        for m in due {
            let out = Outgoing {
                to: m.to.clone(),
                subject: m.subject.clone(),
                body: m.body.clone(),
                purpose: m.purpose.clone(),
            };
            let ok = self.deliver(&out).await.is_ok();
            let mut g = self.lock();
            let now = self.clock.elapsed_ms();
            let give_up = !ok && m.attempts + 1 >= MAIL_ATTEMPTS;
            let dropped = give_up.then(|| {
                self.entry(
                    &g.state,
                    "mail_dropped",
                    None,
                    None,
                    format!(
                        "{} to {}: not sent after {MAIL_ATTEMPTS} attempts",
                        m.purpose,
                        mail::mask(&m.to)
                    ),
                )
            });
            let _ = self.record(&mut g, |s| {
                let Some(i) = s.pending_mail.iter().position(|p| p.id == m.id) else {
                    return;
                };
                if ok || give_up {
                    s.pending_mail.remove(i);
                } else {
                    let p = &mut s.pending_mail[i];
                    p.attempts += 1;
                    p.next_try_elapsed = now + retry_after_ms(p.attempts);
                }
                if let Some(e) = dropped {
                    s.push_audit(e);
                }
            });
        }
        let g = self.lock();
        let now = self.clock.elapsed_ms();
        g.state
            .pending_mail
            .iter()
            .map(|m| std::time::Duration::from_millis(m.next_try_elapsed.saturating_sub(now)))
            .min()
    }

    /// Sends a queued mail (called by the worker) and records the outcome.
    pub async fn deliver(&self, mail: &Outgoing) -> Result<(), MailError> {
        let (settings, owner_set) = {
            let g = self.lock();
            (self.smtp(&g.state), g.state.smtp.is_some())
        };
        let result = self
            .send_with(
                settings,
                owner_set,
                &mail.to,
                &mail.subject,
                mail.body.clone(),
            )
            .await;
        let mut g = self.lock();
        let ok = result.is_ok();
        let detail = match &result {
            Ok(()) => format!("{} sent to {}", mail.purpose, mail::mask(&mail.to)),
            Err(e) => format!("{} to {} failed: {e}", mail.purpose, mail::mask(&mail.to)),
        };
        let e = self.entry(
            &g.state,
            if ok { "mail_sent" } else { "mail_failed" },
            None,
            None,
            detail,
        );
        let _ = self.record(&mut g, |s| {
            s.smtp_ok = Some(ok);
            s.push_audit(e);
        });
        result
    }

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

    fn require_method(&self, method: &'static str) -> Result<(), CoreError> {
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
    async fn finish_recovery(
        &self,
        method: &str,
        new_password: &str,
        source: Source,
    ) -> Result<(), CoreError> {
        let hash = self.hasher.hash(new_password.to_string()).await;
        let mut g = self.lock();
        let mut next = g.state.clone();
        for a in next.accounts.iter_mut() {
            if a.name == ADMIN {
                a.password_hash = hash.clone();
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
            let subject = format!(
                "Camera {} {}: the admin password was reset",
                self.factory.model, self.factory.serial
            );
            self.queue_notice(
                &mut next,
                Outgoing {
                    to,
                    subject,
                    body,
                    purpose: "reset_notice".into(),
                },
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
                        .succeed_source(SCOPE_EMAIL, &limits::source_key(source));
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

    /// A new challenge numbered with the next counter, which `st` (the state about to be
    /// saved, before the challenge is shown) takes.
    fn make_challenge(&self, st: &mut UserState) -> Result<StoredChallenge, CoreError> {
        let wall = self.clock.wall_ms();
        let created = u32::try_from(wall.div_euclid(1000)).unwrap_or(0);
        let recovery = match &st.recovery_email {
            Some(a) => Recovery::Owner(a.clone()),
            None => Recovery::FactoryDefault,
        };
        let counter = st
            .challenge_counter
            .checked_add(1)
            .ok_or_else(|| CoreError::BadSetting("the challenge counter is exhausted".into()))?;
        let ch = Challenge::new(
            &self.factory.device_key,
            &self.factory.serial,
            created,
            st.time.source.is_some(),
            recovery,
        )
        .with_counter(counter);
        let text = ch
            .seal(&self.factory.device_key)
            .map_err(|e| CoreError::BadSetting(e.to_string()))?;
        st.challenge_counter = counter;
        Ok(StoredChallenge {
            nonce: data_encoding::HEXLOWER.encode(&ch.nonce),
            created_elapsed: self.clock.elapsed_ms(),
            text,
        })
    }

    /// Whether a stored challenge is still live: younger than 7 days, and in the format
    /// the vendor reads (one saved by older firmware is not).
    fn challenge_live(c: &StoredChallenge, now: u64) -> bool {
        now < c.created_elapsed + challenge::LIFETIME_MS && challenge::parse(&c.text).is_ok()
    }

    fn qr_view(&self, st: &UserState, c: &StoredChallenge) -> QrView {
        let now = self.clock.elapsed_ms();
        let url = challenge::reset_url(&self.factory.reset_page_url, &c.text);
        let newest = st.challenges.last().map(|c| c.created_elapsed).unwrap_or(0);
        QrView {
            svg: qr_svg(&url),
            url,
            text: c.text.clone(),
            reset_address: self.factory.reset_address.clone(),
            expires_in: (c.created_elapsed + challenge::LIFETIME_MS).saturating_sub(now) / 1000,
            new_allowed_in: (newest + NEW_CHALLENGE_INTERVAL_MS)
                .saturating_sub(now)
                .div_ceil(1000),
        }
    }

    /// `GET /recovery/qr`: the newest live challenge, made if there is none.
    pub fn qr_challenge(&self, source: Source) -> Result<QrView, CoreError> {
        self.require_method("qr")?;
        let now = self.clock.elapsed_ms();
        let mut g = self.lock();
        let live: Vec<StoredChallenge> = g
            .state
            .challenges
            .iter()
            .filter(|c| Self::challenge_live(c, now))
            .cloned()
            .collect();
        if let Some(c) = live.last() {
            return Ok(self.qr_view(&g.state, c));
        }
        let mut next = g.state.clone();
        next.challenges = live;
        let c = self.make_challenge(&mut next)?;
        next.challenges.push(c.clone());
        let e = self.entry(
            &next,
            "recovery_challenge_made",
            None,
            Some(source),
            "QR recovery challenge made".into(),
        );
        next.push_audit(e);
        self.commit(&mut g, next)?;
        Ok(self.qr_view(&g.state, &c))
    }

    /// `POST /recovery/qr/new`: another challenge, at most every 12 hours; the previous one
    /// stays valid (two live at most).
    pub fn new_qr_challenge(&self, source: Source) -> Result<QrView, CoreError> {
        self.require_method("qr")?;
        let now = self.clock.elapsed_ms();
        let mut g = self.lock();
        let mut next = g.state.clone();
        next.challenges.retain(|c| Self::challenge_live(c, now));
        if let Some(newest) = next.challenges.last()
            && now < newest.created_elapsed + NEW_CHALLENGE_INTERVAL_MS
        {
            return Err(CoreError::TooSoon(RetryAfter {
                ms: newest.created_elapsed + NEW_CHALLENGE_INTERVAL_MS - now,
                locked: false,
            }));
        }
        let c = self.make_challenge(&mut next)?;
        next.challenges.push(c.clone());
        while next.challenges.len() > CHALLENGES_LIVE {
            next.challenges.remove(0);
        }
        let e = self.entry(
            &next,
            "recovery_challenge_made",
            None,
            Some(source),
            "another QR recovery challenge made on request".into(),
        );
        next.push_audit(e);
        self.commit(&mut g, next)?;
        Ok(self.qr_view(&g.state, &c))
    }

    /// `POST /recovery/qr`: a security code from the vendor, then a new password.
    pub async fn recover_with_security_code(
        &self,
        typed: &str,
        new_password: &str,
        source: Source,
    ) -> Result<(), CoreError> {
        self.require_method("qr")?;
        self.check_password(new_password)?;
        let parsed = code::parse(typed).map_err(CoreError::CodeUnreadable)?;
        {
            let mut g = self.lock();
            self.code_check(&g, SCOPE_QR, source)?;
            let now = self.clock.elapsed_ms();
            let serial = &self.factory.serial;
            let hit = g.state.challenges.iter().position(|c| {
                let mut nonce = [0u8; 12];
                let ok = data_encoding::HEXLOWER
                    .decode(c.nonce.as_bytes())
                    .ok()
                    .filter(|n| n.len() == 12)
                    .map(|n| nonce.copy_from_slice(&n))
                    .is_some();
                ok && now < c.created_elapsed + challenge::LIFETIME_MS
                    && parsed.verify_mac(&self.factory.device_key, serial, &nonce)
            });
            let Some(i) = hit else {
                // A wrong code never kills a challenge (a 64-bit MAC cannot be guessed).
                let locked = self.code_failed(&mut g, SCOPE_QR, source, "security_code_wrong")?;
                return Err(CoreError::CodeWrong { locked });
            };
            let age = now - g.state.challenges[i].created_elapsed;
            let trusted_wall = g.state.time.source.is_some().then(|| self.clock.wall_ms());
            if parsed.check_time(age, trusted_wall).is_err() {
                let e = self.entry(
                    &g.state,
                    "security_code_expired",
                    None,
                    Some(source),
                    "a genuine security code past its 24 hours".into(),
                );
                self.record(&mut g, |s| s.push_audit(e))?;
                return Err(CoreError::CodeExpired);
            }
            let mut next = g.state.clone();
            next.challenges.remove(i);
            next.limits
                .succeed_source(SCOPE_QR, &limits::source_key(source));
            self.commit(&mut g, next)?;
        }
        self.finish_recovery("QR code and vendor security code", new_password, source)
            .await
    }

    /// `GET /settings`.
    pub fn settings(&self) -> SettingsView {
        let g = self.lock();
        let st = &g.state;
        let smtp = self.smtp(st).map(|s| SmtpView {
            server: s.server,
            port: s.port,
            tls: s.tls,
            username: s.username,
            password_set: s.password.is_some(),
            sender: s.sender,
            default: st.smtp.is_none(),
        });
        SettingsView {
            recovery_email: st.recovery_email.clone(),
            default_recovery_email: self.factory.default_recovery_address.clone(),
            questions: st.questions.iter().map(|q| q.question.clone()).collect(),
            questions_enabled: st.questions_enabled,
            smtp,
            smtp_ok: st.smtp_ok,
        }
    }

    /// Sets (or clears, with `None`) the recovery address. Needs the current password;
    /// notifies the old owner-set address; ends every live challenge (S6).
    pub async fn set_recovery_email(
        &self,
        user: &str,
        current_password: &str,
        addr: Option<&str>,
        source: Source,
    ) -> Result<(), CoreError> {
        let addr = match addr.map(str::trim) {
            None | Some("") => None,
            Some(a) if policy::check_email(a) => Some(a.to_string()),
            Some(_) => return Err(CoreError::BadEmail),
        };
        self.confirm_password(user, current_password, source)
            .await?;
        let mut g = self.lock();
        let mut next = g.state.clone();
        let old = next.recovery_email.clone();
        if old == addr {
            return Ok(());
        }
        next.recovery_email = addr.clone();
        next.challenges.clear();
        next.email_codes.clear();
        let shown = addr
            .as_deref()
            .map(mail::mask)
            .unwrap_or_else(|| "the factory default".into());
        let e = self.entry(
            &next,
            "recovery_email_changed",
            Some(user),
            Some(source),
            format!("recovery address changed to {shown}; live recovery challenges ended"),
        );
        next.push_audit(e);
        if let Some(old) = old {
            let body = format!(
                "The recovery address of your camera {} (serial {}) was changed to {shown} at {} from {source}.\n\n\
                 Recovery codes will no longer come to this address.\n\
                 If you did not make this change, someone has the camera's admin password: \
                 reset the camera with its reset button (see the camera's Help page) or contact the vendor's support.\n",
                self.factory.model,
                self.factory.serial,
                format_wall(self.clock.wall_ms())
            );
            let subject = format!(
                "Camera {} {}: recovery address changed",
                self.factory.model, self.factory.serial
            );
            self.queue_notice(
                &mut next,
                Outgoing {
                    to: old,
                    subject,
                    body,
                    purpose: "address_change_notice".into(),
                },
            );
        }
        self.commit(&mut g, next)?;
        self.mail_wake.notify_one();
        Ok(())
    }

    /// Replaces the security questions and/or switches the method on or off. Needs the
    /// current password.
    pub async fn set_questions(
        &self,
        user: &str,
        current_password: &str,
        questions: Option<Vec<QuestionAnswer>>,
        enabled: Option<bool>,
        source: Source,
    ) -> Result<(), CoreError> {
        let pairs: Option<Vec<(String, String)>> = questions.map(|qs| {
            qs.into_iter()
                .map(|q| (q.question.trim().to_string(), q.answer))
                .collect()
        });
        if let Some(p) = &pairs {
            policy::check_questions(p)?;
        }
        self.confirm_password(user, current_password, source)
            .await?;
        let mut stored = None;
        if let Some(p) = pairs {
            let mut v = Vec::new();
            for (q, a) in p {
                v.push(StoredQuestion {
                    question: q,
                    answer_hash: self.hasher.hash(policy::normalize_answer(&a)).await,
                });
            }
            stored = Some(v);
        }
        let mut g = self.lock();
        let mut next = g.state.clone();
        if let Some(v) = stored {
            next.questions = v;
        }
        if let Some(on) = enabled {
            next.questions_enabled = on;
        }
        let detail = format!(
            "{} security question(s), recovery by questions {}",
            next.questions.len(),
            if next.questions_enabled { "on" } else { "off" }
        );
        let e = self.entry(&next, "questions_changed", Some(user), Some(source), detail);
        next.push_audit(e);
        self.commit(&mut g, next)?;
        Ok(())
    }

    /// Sets the SMTP settings (`None`: back to the built-in default). Needs the current
    /// password. A blank password keeps the stored one for the same login.
    pub async fn set_smtp(
        &self,
        user: &str,
        current_password: &str,
        settings: Option<SmtpSettings>,
        source: Source,
    ) -> Result<(), CoreError> {
        let mut settings = settings;
        // A blank password keeps the stored one for the same login (the page never shows it).
        if let (Some(new), Some(old)) = (settings.as_mut(), self.lock().state.smtp.clone())
            && new.password.is_none()
            && new.username.is_some()
            && new.username == old.username
        {
            new.password = old.password;
        }
        if let Some(s) = &settings {
            s.validate()
                .map_err(|e| CoreError::BadSetting(e.to_string()))?;
        }
        self.confirm_password(user, current_password, source)
            .await?;
        let mut g = self.lock();
        let mut next = g.state.clone();
        let detail = match &settings {
            Some(s) => {
                format!("mail server set to {}:{} ({:?})", s.server, s.port, s.tls).to_lowercase()
            }
            None => "mail server back to the built-in default".into(),
        };
        next.smtp = settings;
        next.smtp_ok = None;
        let e = self.entry(&next, "smtp_changed", Some(user), Some(source), detail);
        next.push_audit(e);
        self.commit(&mut g, next)?;
        Ok(())
    }

    /// Sends a test mail to the owner's recovery address; returns its masked form.
    pub async fn test_mail(&self, user: &str, source: Source) -> Result<String, CoreError> {
        let to = self
            .lock()
            .state
            .recovery_email
            .clone()
            .ok_or(CoreError::MethodUnavailable(
                "Set a recovery e-mail address first: the test mail goes there.",
            ))?;
        let body = format!(
            "This is a test mail from your camera {} (serial {}), sent by {user} from {source}.\n\nIf you can read it, the camera can e-mail you recovery codes.\n",
            self.factory.model, self.factory.serial
        );
        let mail = Outgoing {
            to: to.clone(),
            subject: format!(
                "Camera {} {}: test mail",
                self.factory.model, self.factory.serial
            ),
            body,
            purpose: "test_mail".into(),
        };
        self.deliver(&mail).await?;
        Ok(mail::mask(&to))
    }

    /// Checks the signed-in account's current password (limits as sign-in).
    async fn confirm_password(
        &self,
        user: &str,
        password: &str,
        source: Source,
    ) -> Result<(), CoreError> {
        match self
            .verify_password(
                user,
                password,
                source,
                "password_confirm_failed",
                Proof::Session,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(CoreError::BadCredentials { locked }) => Err(CoreError::WrongPassword { locked }),
            Err(e) => Err(e),
        }
    }
}

/// Attempts at a notice before it is dropped (with an audit entry).
pub const MAIL_ATTEMPTS: u32 = 10;

/// How long after failed attempt `n` (1, 2, ...) a notice is tried again.
fn retry_after_ms(n: u32) -> u64 {
    match n {
        1 => 30_000,
        2 => 120_000,
        3 => 600_000,
        _ => 3_600_000,
    }
}
