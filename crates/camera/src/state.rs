//! The camera's user state: everything the owner set, and everything that must survive a
//! reboot (limits, audit). One document, saved whole and atomically by [`crate::store`].
//!
//! Invariant (S7, S8): the camera is initialized exactly when an enabled `admin` account
//! with a password hash exists. Initialization writes the account and every setting in one
//! save, so no power cut can leave "initialized with no password".

use crate::limits::Limits;
use camkey_proto::api::{AuditEntry, NetworkSettings};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Version of this document's schema.
pub const STATE_VERSION: u32 = 1;
/// Audit entries kept (oldest dropped first).
pub const AUDIT_MAX: usize = 1_000;
/// The one account that always exists once initialized.
pub const ADMIN: &str = "admin";

/// Role of an account, for the web page and ONVIF alike.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Full control.
    Administrator,
    /// Camera operation.
    Operator,
    /// Viewing only.
    User,
}

/// One account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Account {
    /// Account name.
    pub name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// Disabled accounts cannot sign in (after a recovery, every account but admin).
    pub enabled: bool,
    /// ONVIF access: the account's password sealed under the device key's
    /// `camkey/onvif-secret/v1` sub-key (`core::onvif`), kept only while the owner lets
    /// ONVIF clients sign in with this account (`None`: ONVIF access off, no password
    /// equivalent on flash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onvif: Option<String>,
}

/// An (account, source) pair that signed in over ONVIF before: its failures and successes
/// are limited on their own, out of reach of other sources' failures (S4).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OnvifClient {
    /// Account name.
    pub account: String,
    /// The source's limits key (`camkey_web::client::source_key`).
    pub source: String,
    /// Camera elapsed ms of its first success (while remembered).
    pub first: u64,
    /// Camera elapsed ms of its last success as saved (refreshed at most hourly).
    pub last: u64,
}

/// A security question with its hashed, normalized answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredQuestion {
    /// The question as asked.
    pub question: String,
    /// Argon2id of the normalized answer.
    pub answer_hash: String,
}

/// The camera's idea of wall time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TimeState {
    /// NTP server the owner chose.
    pub ntp_server: Option<String>,
    /// Offset added to the raw wall clock, ms.
    pub offset_ms: i64,
    /// Who last set the clock: `browser`, `ntp`, `nvr`; `None` if never set.
    pub source: Option<String>,
}

/// A live QR challenge (S3): at most two, newest last.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredChallenge {
    /// The challenge's nonce (hex): its identity.
    pub nonce: String,
    /// Camera elapsed ms when it was made.
    pub created_elapsed: u64,
    /// Its text form (not secret: any host on the LAN may see it).
    pub text: String,
}

/// A live e-mailed recovery code (S3b): only its keyed hash is kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredEmailCode {
    /// HMAC-SHA256 of the code under the device key's `camkey/email-code/v1` sub-key (hex).
    pub hash: String,
    /// Camera elapsed ms when it was sent.
    pub created_elapsed: u64,
}

/// A notice waiting to go out. It is saved with the change it tells of (a recovery, an
/// address change), so no power cut between the two loses it (S6, S7).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingMail {
    /// Identity (random), to remove it once sent.
    pub id: u64,
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// What it is, for the audit log (e.g. `reset_notice`).
    pub purpose: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Camera elapsed ms before which it is not tried again.
    pub next_try_elapsed: u64,
}

/// Wrong security answers in a row (from anyone) after which recovery by questions is
/// switched off until the owner signs in (NIST SP 800-63B: at most 100 consecutive failures).
pub const QUESTIONS_MAX_FAILURES: u32 = 100;

/// Notices kept waiting at most (the oldest is dropped, with an audit entry).
pub const PENDING_MAIL_MAX: usize = 8;

/// Everything the owner set, and what must survive a reboot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserState {
    /// Schema version ([`STATE_VERSION`]).
    pub version: u32,
    /// Incremented by every save: tells old from new.
    pub generation: u64,
    /// The camera's elapsed clock at the time of the save (it never goes back below this).
    pub elapsed_at_save: u64,
    /// Accounts; empty while uninitialized.
    pub accounts: Vec<Account>,
    /// The owner's recovery address; `None` keeps the factory default.
    pub recovery_email: Option<String>,
    /// Security questions.
    pub questions: Vec<StoredQuestion>,
    /// Whether the owner allows recovery by questions.
    pub questions_enabled: bool,
    /// Network settings.
    pub network: NetworkSettings,
    /// Wall-clock settings.
    pub time: TimeState,
    /// Rate-limit counters.
    pub limits: Limits,
    /// The audit log (bounded).
    pub audit: VecDeque<AuditEntry>,
    /// Next audit sequence number.
    pub audit_next: u64,
    /// The camera's SMTP settings (`None`: not configured, or the lab's default).
    #[serde(default)]
    pub smtp: Option<crate::mail::SmtpSettings>,
    /// Whether the last mail the camera tried to send went out.
    #[serde(default)]
    pub smtp_ok: Option<bool>,
    /// Live QR challenges, newest last (at most two).
    #[serde(default)]
    pub challenges: Vec<StoredChallenge>,
    /// Live e-mailed recovery codes (at most three).
    #[serde(default)]
    pub email_codes: Vec<StoredEmailCode>,
    /// The firmware security-version floor (S10): no image below it is accepted. Raised
    /// by updates, kept by factory resets.
    #[serde(default)]
    pub firmware_floor: u32,
    /// The counter of the last QR challenge made (each new one gets the next number,
    /// sealed inside, saved before it is shown). It only grows: kept, like the firmware
    /// floor and the audit log, by factory resets, so the vendor can ignore challenges
    /// older than the camera's two newest.
    #[serde(default)]
    pub challenge_counter: u32,
    /// Notices not sent yet, oldest first (at most [`PENDING_MAIL_MAX`]).
    #[serde(default)]
    pub pending_mail: Vec<PendingMail>,
    /// Key of the device cookies (hex, 256 bits; [`crate::device_cookies`]): made at
    /// initialization, wiped by a factory reset so that every earlier cookie stops counting.
    #[serde(default)]
    pub device_cookie_key: Option<String>,
    /// Wrong security answers in a row, from anyone (S4: at most
    /// [`QUESTIONS_MAX_FAILURES`]); cleared when the owner signs in or recovers.
    #[serde(default)]
    pub questions_failures: u32,
    /// Recovery by questions switched off by [`QUESTIONS_MAX_FAILURES`] wrong answers in a
    /// row, until the owner signs in.
    #[serde(default)]
    pub questions_suspended: bool,
    /// Whether the camera answers WS-Discovery probes (ONVIF `SetDiscoveryMode`).
    #[serde(default = "yes")]
    pub discoverable: bool,
    /// ONVIF clients that signed in before, by (account, source) (`core::onvif`).
    #[serde(default)]
    pub onvif_clients: Vec<OnvifClient>,
}

fn yes() -> bool {
    true
}

impl Default for UserState {
    fn default() -> Self {
        UserState {
            version: STATE_VERSION,
            generation: 0,
            elapsed_at_save: 0,
            accounts: Vec::new(),
            recovery_email: None,
            questions: Vec::new(),
            questions_enabled: true,
            network: NetworkSettings::Dhcp,
            time: TimeState::default(),
            limits: Limits::default(),
            audit: VecDeque::new(),
            audit_next: 1,
            smtp: None,
            smtp_ok: None,
            challenges: Vec::new(),
            email_codes: Vec::new(),
            firmware_floor: 0,
            challenge_counter: 0,
            pending_mail: Vec::new(),
            device_cookie_key: None,
            questions_failures: 0,
            questions_suspended: false,
            discoverable: true,
            onvif_clients: Vec::new(),
        }
    }
}

impl UserState {
    /// Whether an admin password is set.
    pub fn initialized(&self) -> bool {
        self.accounts
            .iter()
            .any(|a| a.name == ADMIN && a.enabled && !a.password_hash.is_empty())
    }

    /// The account called `name`.
    pub fn account(&self, name: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// The account called `name`, to change.
    pub fn account_mut(&mut self, name: &str) -> Option<&mut Account> {
        self.accounts.iter_mut().find(|a| a.name == name)
    }

    /// Forgets the ONVIF clients remembered for `account` (its password changed, its ONVIF
    /// access went off, or it was deleted): each must sign in again to be trusted.
    pub fn forget_onvif_clients(&mut self, account: &str) {
        self.onvif_clients.retain(|c| c.account != account);
    }

    /// Appends an audit entry, dropping the oldest beyond [`AUDIT_MAX`].
    pub fn push_audit(&mut self, mut entry: AuditEntry) {
        entry.seq = self.audit_next;
        self.audit_next += 1;
        self.audit.push_back(entry);
        while self.audit.len() > AUDIT_MAX {
            self.audit.pop_front();
        }
    }

    /// The state after a factory reset (ETSI EN 303 645 5.11): every user setting gone
    /// (accounts with their ONVIF secrets, recovery address, questions, SMTP, network,
    /// time, limits, challenges, codes, the device-cookie key, the discovery mode, the
    /// remembered ONVIF clients), what must survive kept: the audit log, the firmware
    /// security-version floor and the challenge counter. The generation keeps counting, so
    /// the reset is a change like any other.
    pub fn factory_reset(&self) -> UserState {
        UserState {
            generation: self.generation,
            audit: self.audit.clone(),
            audit_next: self.audit_next,
            firmware_floor: self.firmware_floor,
            challenge_counter: self.challenge_counter,
            ..UserState::default()
        }
    }

    /// Checks the invariants a loaded document must hold.
    pub fn validate(&self) -> Result<(), String> {
        if self.version != STATE_VERSION {
            return Err(format!(
                "state version {} is not {STATE_VERSION}",
                self.version
            ));
        }
        if self.accounts.iter().any(|a| a.password_hash.is_empty()) {
            return Err("an account has no password".into());
        }
        if !self.accounts.is_empty() && !self.initialized() {
            return Err("accounts exist but no enabled admin".into());
        }
        Ok(())
    }
}
