//! The camera's domain core: initialization, sign-in, password change and the audit log,
//! over the user state, the clocks and the session table. The HTTP layer only translates.
//!
//! Every change follows one pattern: copy the state, change the copy, save it atomically,
//! and only then make it current, so memory never runs ahead of flash. Slow work (Argon2)
//! runs outside the lock.
//!
//! # Layout
//! - this file: the [`Core`] itself, sign-in, password change, the audit log.
//! - `init`: initialization and the checks of its settings (S8).
//! - `guesses`: who guesses, and how each guess at a secret is counted (S4).
//! - `notices`: the notice outbox: mail waiting on flash, sent at boot and with backoff.
//! - `recovery`: the recovery methods offered, security questions, the e-mailed code, and
//!   what every recovery does afterwards.
//! - `recovery_qr`: the QR challenge and the vendor's security code.
//! - `recovery_settings`: recovery address, security questions, SMTP settings, test mail.
//! - `users`: the account table as ONVIF and the API manage it (list, create, change,
//!   delete) and the role rules.
//! - `onvif`: ONVIF access: the sealed password, the per-account switch, and ONVIF
//!   sign-in under the limits of S4 with the (account, source) pairs that signed in before.
//! - `system`: what an NVR does to the device: the wall clock, the discovery mode, the
//!   factory defaults and the reboot.

use crate::clock::CameraClock;
use crate::device_cookies;
use crate::limits::{self, Failure, Guesser, Policy, RetryAfter};
use crate::mail::{MailError, SmtpSettings};
use crate::sessions::{self, Sessions};
use crate::state::{ADMIN, Account, Role, StoredQuestion, UserState};
use crate::store::{AtomicFile, StoreError};
use camkey_passwords::Hasher;
use camkey_proto::api::{AuditEntry, DeviceInfo, InitRequest, NetworkSettings, ResetButtonInfo};
use camkey_proto::clock::Clock;
use camkey_proto::factory::FactoryData;
use camkey_proto::policy::{self, AnswerError, Identity, PasswordError};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use subtle::ConstantTimeEq;

/// File name of the user state in the data directory.
pub const STATE_FILE: &str = "state.json";
/// Limits scope of sign-in (and of the current password when changing it).
pub const SCOPE_LOGIN: &str = "login";
/// Limits scope of the label setup code.
pub const SCOPE_INIT: &str = "init";
/// Longest account name we look up.
pub const MAX_USERNAME: usize = 64;

/// Settings of the core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Network initialization is open this long after boot (S8).
    pub init_window_ms: u64,
    /// Rate-limit policy.
    pub limits: Policy,
    /// SMTP settings used until the owner sets their own (the lab points them at its mail).
    pub default_smtp: Option<SmtpSettings>,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            init_window_ms: 30 * 60_000,
            limits: Policy::default(),
            default_smtp: None,
        }
    }
}

/// What the core refuses, and why.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Only setup is possible until an admin password is set.
    #[error("This camera is not initialized yet: initialize it first.")]
    NotInitialized,
    /// A second initialization.
    #[error("This camera is already initialized.")]
    AlreadyInitialized,
    /// The init window closed (S8).
    #[error("Initialization over the network closed 30 minutes after the camera started.")]
    InitWindowClosed,
    /// The model needs the label's setup code.
    #[error("This model needs the setup code printed on its label.")]
    SetupCodeRequired,
    /// Wrong setup code.
    #[error("The setup code is wrong.")]
    SetupCodeWrong,
    /// Password policy.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// Security question policy.
    #[error(transparent)]
    Answers(#[from] AnswerError),
    /// Bad recovery address.
    #[error("The recovery e-mail address is not valid.")]
    BadEmail,
    /// A network or time setting that does not parse.
    #[error("{0}")]
    BadSetting(String),
    /// Unknown user or wrong password (one answer for both); `locked` when this failure
    /// locked the source out.
    #[error("The user name or password is wrong.")]
    BadCredentials {
        /// The lock this failure started, if it did.
        locked: Option<RetryAfter>,
    },
    /// Wrong current password when changing it.
    #[error("The current password is wrong.")]
    WrongPassword {
        /// The lock this failure started, if it did.
        locked: Option<RetryAfter>,
    },
    /// Too many attempts.
    #[error("Too many attempts.")]
    RateLimited(RetryAfter),
    /// Flash refused.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// A recovery method this camera does not offer now.
    #[error("{0}")]
    MethodUnavailable(&'static str),
    /// Wrong security answers.
    #[error("The answers are not right.")]
    WrongAnswers {
        /// The lock this failure started, if it did.
        locked: Option<RetryAfter>,
    },
    /// A code that does not parse.
    #[error(transparent)]
    CodeUnreadable(camkey_proto::code::CodeError),
    /// A code that matches nothing live.
    #[error("The code is not valid.")]
    CodeWrong {
        /// The lock this failure started, if it did.
        locked: Option<RetryAfter>,
    },
    /// A genuine code past its 24 hours (or 10 minutes for e-mailed codes).
    #[error("The code has expired.")]
    CodeExpired,
    /// Asked again too soon (new QR code, another e-mailed code).
    #[error("Too soon.")]
    TooSoon(RetryAfter),
    /// Mail could not be sent.
    #[error(transparent)]
    Mail(#[from] MailError),
    /// A user name that breaks the naming rules.
    #[error("A user name has 1 to 32 characters: letters, digits, dots, dashes or underscores.")]
    UserNameInvalid,
    /// A user name that is taken (names differing only in case count as the same).
    #[error("There is already an account called {0}.")]
    UserExists(String),
    /// No such account.
    #[error("There is no account called {0}.")]
    UnknownUser(String),
    /// The account table is full.
    #[error(
        "This camera keeps at most {} accounts: delete one first.",
        users::MAX_ACCOUNTS
    )]
    TooManyUsers,
    /// The admin account cannot be deleted or lose its role.
    #[error("The admin account cannot be deleted, and it stays an Administrator.")]
    AdminFixed,
    /// The signed-in account's role does not allow this.
    #[error("Only an Administrator can do this: sign in as admin or another Administrator.")]
    Forbidden,
    /// Switching ONVIF access on needs the account's current password.
    #[error("To let ONVIF clients sign in with this account, type the account's current password.")]
    PasswordRequired,
}

/// Who is asking: the request's source address.
pub type Source = IpAddr;

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// The session token.
    pub token: String,
    /// The device cookie to set (the one presented, if genuine for this account).
    pub device_cookie: Option<String>,
}

mod guesses;
mod init;
mod notices;
pub mod onvif;
mod recovery;
mod recovery_qr;
mod recovery_settings;
mod system;
mod users;
pub use guesses::Proof;
pub use recovery::RecoveryMethods;
pub use recovery_qr::{QrView, qr_svg};
pub use recovery_settings::SettingsView;
pub use users::{MAX_ACCOUNTS, NewUser, USERNAME_MAX_CHARS, UserView, valid_user_name};

struct Inner {
    state: UserState,
    sessions: Sessions,
}

/// A mail the camera sends in the background (notices), with its purpose for the audit log.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// What it is, for the audit log (e.g. `reset_notice`).
    pub purpose: String,
}

/// The camera's core.
pub struct Core {
    factory: FactoryData,
    clock: CameraClock,
    store: AtomicFile,
    inner: Mutex<Inner>,
    hasher: Hasher,
    config: CoreConfig,
    /// Wakes the mail worker when a notice is waiting.
    mail_wake: tokio::sync::Notify,
    /// Tells the device to reboot the camera ([`Core::request_reboot`]).
    reboot: tokio::sync::Notify,
}

impl Core {
    /// Boots the core from the data directory.
    pub fn boot(
        factory: FactoryData,
        raw_clock: Arc<dyn Clock>,
        data_dir: &Path,
        config: CoreConfig,
    ) -> Result<Arc<Core>, CoreError> {
        let store = AtomicFile::new(data_dir, STATE_FILE)?;
        let state: UserState = store.load()?.unwrap_or_default();
        state.validate().map_err(|reason| StoreError::Corrupt {
            path: store.path().to_path_buf(),
            reason,
        })?;
        let clock = CameraClock::boot(
            raw_clock,
            data_dir,
            state.elapsed_at_save,
            state.time.offset_ms,
        )?;
        Ok(Arc::new(Core {
            factory,
            clock,
            store,
            inner: Mutex::new(Inner {
                state,
                sessions: Sessions::default(),
            }),
            hasher: Hasher::default(),
            config,
            mail_wake: tokio::sync::Notify::new(),
            reboot: tokio::sync::Notify::new(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the last saved state in memory: keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Factory data (read-only).
    pub fn factory(&self) -> &FactoryData {
        &self.factory
    }

    /// The camera's clocks.
    pub fn clock(&self) -> &CameraClock {
        &self.clock
    }

    /// A copy of the current user state (tests, diagnostics).
    pub fn state(&self) -> UserState {
        self.lock().state.clone()
    }

    /// Whether the camera has an admin password.
    pub fn initialized(&self) -> bool {
        self.lock().state.initialized()
    }

    /// Whether network initialization is still open.
    pub fn init_window_open(&self) -> bool {
        self.clock.since_boot_ms() < self.config.init_window_ms
    }

    /// Minutes left in the init window (for the setup page).
    pub fn init_window_left_ms(&self) -> u64 {
        self.config
            .init_window_ms
            .saturating_sub(self.clock.since_boot_ms())
    }

    /// `GET /device`.
    pub fn device_info(&self) -> DeviceInfo {
        let m = self.factory.model_info();
        let initialized = self.initialized();
        DeviceInfo {
            serial: self.factory.serial.clone(),
            model: self.factory.model.clone(),
            firmware: self.factory.firmware.clone(),
            initialized,
            reset_button: ResetButtonInfo {
                present: m.reset_button.present,
                location: m.reset_button.location.to_string(),
            },
            web_reset: m.web_reset,
            setup_code_required: m.setup_code_required,
            init_window_open: !initialized && self.init_window_open(),
            mac: self.factory.mac.clone(),
        }
    }

    fn identity(&self) -> Identity<'_> {
        Identity {
            username: ADMIN,
            serial: &self.factory.serial,
            model: &self.factory.model,
        }
    }

    /// Checks a password against the policy for this camera.
    pub fn check_password(&self, password: &str) -> Result<(), PasswordError> {
        policy::check_password(password, self.identity())
    }

    fn entry(
        &self,
        st: &UserState,
        event: &str,
        user: Option<&str>,
        source: Option<Source>,
        detail: String,
    ) -> AuditEntry {
        let wall = self.clock.wall_ms();
        AuditEntry {
            seq: 0,
            elapsed_ms: self.clock.elapsed_ms(),
            time: format_wall(wall),
            time_trusted: st.time.source.is_some(),
            event: event.into(),
            user: user.map(str::to_string),
            source: source.map(|s| s.to_string()),
            detail,
        }
    }

    /// Saves `next` and makes it current.
    fn commit(&self, inner: &mut Inner, mut next: UserState) -> Result<(), StoreError> {
        next.generation += 1;
        next.elapsed_at_save = self.clock.elapsed_ms();
        self.store.save(&next)?;
        inner.state = next;
        Ok(())
    }

    /// Adds an audit entry and saves (for events with no other change).
    fn record(&self, inner: &mut Inner, f: impl FnOnce(&mut UserState)) -> Result<(), StoreError> {
        let mut next = inner.state.clone();
        f(&mut next);
        self.commit(inner, next)
    }

    /// Writes the elapsed clock if due (called periodically).
    pub fn tick(&self) {
        if let Err(e) = self.clock.persist_if_due() {
            tracing::warn!("cannot persist the elapsed clock: {e}");
        }
    }

    /// Records something the hardware saw (e.g. a reset button released too soon) in the
    /// audit log.
    pub fn record_hardware_event(&self, event: &str, detail: String) {
        let mut g = self.lock();
        let e = self.entry(&g.state, event, None, None, detail);
        if let Err(err) = self.record(&mut g, |s| s.push_audit(e)) {
            tracing::warn!("cannot record {event}: {err}");
        }
    }

    /// Factory reset (the button held, or a technician): one atomic save of the wiped
    /// state with an audit entry that survives, then every session ends. `how` says what
    /// asked for it (`button`), for the audit log.
    pub fn factory_reset(&self, how: &str) -> Result<(), CoreError> {
        let when = format_wall(self.clock.wall_ms());
        self.wipe(
            false,
            None,
            None,
            format!("factory reset by {how} at {when}: every user setting wiped"),
        )
    }

    /// The factory reset itself: one atomic save of the wiped state (keeping the network
    /// settings if `keep_network`) with its audit entry, then every session ends.
    pub(super) fn wipe(
        &self,
        keep_network: bool,
        user: Option<&str>,
        source: Option<Source>,
        detail: String,
    ) -> Result<(), CoreError> {
        let mut g = self.lock();
        let mut next = g.state.factory_reset();
        if keep_network {
            next.network = g.state.network.clone();
        }
        let entry = self.entry(&g.state, "factory_reset", user, source, detail);
        next.push_audit(entry);
        self.commit(&mut g, next)?;
        g.sessions.revoke_all();
        Ok(())
    }

    /// `POST /login` without a device cookie: returns a session token.
    pub async fn login(
        &self,
        user: &str,
        password: &str,
        source: Source,
    ) -> Result<String, CoreError> {
        Ok(self.sign_in(user, password, source, None).await?.token)
    }

    /// `POST /login`: a session token and the device cookie to (re)set. A genuine device
    /// cookie of this account (`device_cookie`) puts the attempt under its own limit,
    /// out of reach of anyone else's failures (S4). An admin sign-in also switches recovery
    /// by questions back on after [`crate::state::QUESTIONS_MAX_FAILURES`] wrong answers.
    pub async fn sign_in(
        &self,
        user: &str,
        password: &str,
        source: Source,
        device_cookie: Option<&str>,
    ) -> Result<SignIn, CoreError> {
        let proof = device_cookie.map_or(Proof::None, Proof::DeviceCookie);
        let account = self
            .verify_password(user, password, source, "login_failed", proof)
            .await?;
        let mut g = self.lock();
        let token = g.sessions.open(&account, self.clock.elapsed_ms());
        let mut next = g.state.clone();
        let key = next
            .device_cookie_key
            .get_or_insert_with(device_cookies::new_key)
            .clone();
        let cookie = device_cookie
            .filter(|v| device_cookies::verify(&key, v).is_some_and(|d| d.account == account))
            .map(str::to_string)
            .or_else(|| device_cookies::issue(&key, &account));
        if account == ADMIN && next.questions_suspended {
            let e = self.entry(
                &next,
                "questions_resumed",
                Some(&account),
                Some(source),
                "the owner signed in: recovery by security questions is on again".into(),
            );
            next.push_audit(e);
        }
        if account == ADMIN {
            next.questions_suspended = false;
            next.questions_failures = 0;
        }
        let entry = self.entry(
            &next,
            "login",
            Some(&account),
            Some(source),
            "signed in".into(),
        );
        next.push_audit(entry);
        self.commit(&mut g, next)?;
        Ok(SignIn {
            token,
            device_cookie: cookie,
        })
    }

    /// The account of a live session.
    pub fn session(&self, token: &str) -> Option<String> {
        self.lock().sessions.touch(token, self.clock.elapsed_ms())
    }

    /// Ends a session.
    pub fn logout(&self, token: &str) {
        self.lock().sessions.close(token);
    }

    /// Seconds a session lives unused.
    pub fn session_idle_secs(&self) -> u64 {
        sessions::IDLE_MS / 1000
    }

    /// `POST /password`: checks the current password, sets the new one, ends every session
    /// of the account.
    pub async fn change_password(
        &self,
        user: &str,
        old: &str,
        new: &str,
        source: Source,
    ) -> Result<(), CoreError> {
        self.check_password(new)?;
        match self
            .verify_password(user, old, source, "password_change_failed", Proof::Session)
            .await
        {
            Ok(_) => {}
            Err(CoreError::BadCredentials { locked }) => {
                return Err(CoreError::WrongPassword { locked });
            }
            Err(e) => return Err(e),
        }
        let hash = self.hasher.hash(new.to_string()).await;
        let mut g = self.lock();
        let mut next = g.state.clone();
        let sealed = self.reseal_onvif(&next, user, new);
        match next.account_mut(user) {
            Some(a) => {
                a.password_hash = hash;
                a.onvif = sealed;
            }
            None => return Err(CoreError::BadCredentials { locked: None }),
        }
        next.forget_onvif_clients(user);
        let entry = self.entry(
            &next,
            "password_changed",
            Some(user),
            Some(source),
            "password changed; every session ended".into(),
        );
        next.push_audit(entry);
        self.commit(&mut g, next)?;
        g.sessions.revoke_user(user);
        Ok(())
    }

    /// The audit log, oldest first.
    pub fn audit(&self) -> Vec<AuditEntry> {
        self.lock().state.audit.iter().cloned().collect()
    }
}

/// Formats Unix ms as RFC 3339 (UTC).
pub fn format_wall(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_format() {
        assert_eq!(format_wall(0), "1970-01-01T00:00:00Z");
    }
}
