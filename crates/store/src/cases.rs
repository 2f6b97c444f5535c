//! Support cases: what they are about, where they stand, and the queue staff work from.
//! Every change is also an [audit](crate::audit) entry, written in the same transaction
//! where the two must agree.

use crate::{BoxFuture, StoreError};
use serde::{Deserialize, Serialize};

/// What a case is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A camera with the factory recovery address: a code released to the order's owner.
    PasswordReset,
    /// The camera goes back to the vendor.
    FactoryService,
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Not looked at yet.
    New,
    /// An agent is on it.
    InProgress,
    /// Waiting for the requester (an order number, the camera, ...).
    WaitingForCustomer,
    /// A fee was proposed; the owner has not approved it yet.
    FeeProposed,
    /// The owner approved the fee.
    FeeApproved,
    /// A security code was released to the order's address.
    CodeReleased,
    /// Done.
    Closed,
}

/// Why a factory service is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A lost password on a camera with no other way back: an out-of-warranty service.
    LostPassword,
    /// A hardware fault: covered by the warranty.
    HardwareFault,
}

macro_rules! names {
    ($t:ty { $($v:ident = $n:literal),* $(,)? }) => {
        impl $t {
            /// The stored name.
            pub fn name(self) -> &'static str {
                match self { $(Self::$v => $n),* }
            }
            /// Parses a stored name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($n => Some(Self::$v),)* _ => None }
            }
            /// Every value.
            pub const ALL: &'static [Self] = &[$(Self::$v),*];
        }
    };
}

names!(Kind {
    PasswordReset = "password_reset",
    FactoryService = "factory_service",
});
names!(State {
    New = "new",
    InProgress = "in_progress",
    WaitingForCustomer = "waiting_for_customer",
    FeeProposed = "fee_proposed",
    FeeApproved = "fee_approved",
    CodeReleased = "code_released",
    Closed = "closed",
});
names!(Reason {
    LostPassword = "lost_password",
    HardwareFault = "hardware_fault",
});

/// One case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Case {
    /// Case number.
    pub id: i64,
    /// Kind.
    pub kind: Kind,
    /// State.
    pub state: State,
    /// How it was opened: `web`, `mail`, `form` or `staff`.
    pub source: String,
    /// Factory service: why.
    pub reason: Option<Reason>,
    /// The challenge's own serial, or the serial as typed.
    pub serial: Option<String>,
    /// Whether `serial` comes from a genuine challenge (else it was typed, unverified).
    pub serial_from_challenge: bool,
    /// Model.
    pub model: Option<String>,
    /// Whether the case holds a challenge (a code can be released).
    pub has_challenge: bool,
    /// Requester's name.
    pub requester_name: Option<String>,
    /// Requester's address (for the desk's mails).
    pub requester_email: Option<String>,
    /// The order number the requester gave (unverified).
    pub order_number: Option<String>,
    /// The requester's description.
    pub description: Option<String>,
    /// Proposed or approved fee, cents.
    pub fee_cents: Option<i64>,
    /// Unix ms.
    pub created: i64,
    /// Unix ms.
    pub updated: i64,
    /// The challenge (never shown: pages and the API serialize without it).
    #[serde(skip)]
    pub challenge: Option<String>,
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Unix ms.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Details.
    pub detail: String,
}

/// A case to open, checked by the desk.
#[derive(Debug, Clone)]
pub struct NewCase {
    /// Kind.
    pub kind: Kind,
    /// `form` or `staff`.
    pub source: String,
    /// Factory service: why.
    pub reason: Option<Reason>,
    /// Serial (the challenge's own when `challenge` is set).
    pub serial: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// A genuine challenge and its nonce (hex).
    pub challenge: Option<(String, String)>,
    /// Requester's name.
    pub requester_name: Option<String>,
    /// Requester's address.
    pub requester_email: Option<String>,
    /// The requester's source key (the Tech Support Form's per-source limit).
    pub requester_ip: Option<String>,
    /// Order number as given.
    pub order_number: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Who opens it (for the audit log).
    pub actor: String,
    /// The audit detail of a new case.
    pub opened_detail: String,
    /// The audit detail when an open password-reset case of the same challenge takes
    /// the details instead (filling what it lacks, never overwriting).
    pub merged_detail: String,
    /// Unix ms.
    pub now: i64,
}

/// Where cases are kept.
pub trait CaseStore: Send + Sync + 'static {
    /// One case.
    fn case(&self, id: i64) -> BoxFuture<'_, Result<Option<Case>, StoreError>>;
    /// The queue: newest first, filtered.
    fn cases(
        &self,
        state: Option<State>,
        kind: Option<Kind>,
        limit: i64,
    ) -> BoxFuture<'_, Result<Vec<Case>, StoreError>>;
    /// A case's history, oldest first.
    fn history(&self, id: i64) -> BoxFuture<'_, Result<Vec<Event>, StoreError>>;
    /// Cases filed from `source` since `since` (Unix ms).
    fn cases_from_since(&self, source: &str, since: i64) -> BoxFuture<'_, Result<i64, StoreError>>;
    /// Opens a case with its audit entry, in one transaction. A password-reset case with a
    /// challenge whose open case exists is merged into that one instead. Returns the number.
    fn create_case(&self, c: NewCase) -> BoxFuture<'_, Result<i64, StoreError>>;
    /// Moves a case to `state`.
    fn set_case_state(
        &self,
        id: i64,
        state: State,
        now: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Proposes a fee: its amount and the approval token's hash; the case is `fee_proposed`.
    fn propose_fee(
        &self,
        id: i64,
        cents: i64,
        token_hash: &str,
        now: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The case whose fee token hashes to `token_hash`.
    fn case_by_fee_token(
        &self,
        token_hash: &str,
    ) -> BoxFuture<'_, Result<Option<Case>, StoreError>>;
}
