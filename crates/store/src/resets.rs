//! Reset requests, as recorded (each one counts toward its requester's budget unless it was
//! unreadable), and the support case a challenge of a camera still on the factory recovery
//! address opens: one per challenge.

use crate::{BoxFuture, StoreError};

/// One reset request, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetRecord {
    /// Unix ms.
    pub at: i64,
    /// `web` or `mail`.
    pub channel: String,
    /// IP address or sender address.
    pub requester: String,
    /// Serial of a genuine challenge.
    pub serial: Option<String>,
    /// The outcome's name.
    pub outcome: String,
}

/// What the reset path hands the desk when a camera has the factory recovery address.
#[derive(Debug, Clone)]
pub struct ResetCase {
    /// The challenge text.
    pub challenge: String,
    /// Its nonce (hex), from the signer: one case per challenge.
    pub nonce: String,
    /// Its serial, from the signer (genuine).
    pub serial: String,
    /// `web` or `mail`.
    pub channel: String,
    /// The requester's address (mail only).
    pub email: Option<String>,
    /// Unix ms.
    pub now: i64,
}

/// Reset requests kept at most (the oldest go first).
pub const MAX_RESET_RECORDS: i64 = 1_000_000;
/// Unreadable reset requests kept at most: nobody's budget counts them, so they are kept
/// for the record only, and a flood of them cannot push the counted ones out.
pub const MAX_UNREADABLE_RECORDS: i64 = 10_000;

/// Where reset requests are kept.
pub trait ResetStore: Send + Sync + 'static {
    /// Records a reset request (bounded: the oldest records go first).
    fn record_reset(&self, r: ResetRecord) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Readable reset requests (any outcome but `unreadable`) from `requester` since
    /// `since` (Unix ms).
    fn resets_since(&self, requester: &str, since: i64) -> BoxFuture<'_, Result<i64, StoreError>>;
    /// The most recent reset requests, newest first.
    fn recent_resets(&self, limit: i64) -> BoxFuture<'_, Result<Vec<ResetRecord>, StoreError>>;
    /// Opens (or finds: one per challenge) the password-reset case of a factory-address
    /// challenge, with its audit entry; returns its number and whether it is new.
    fn open_reset_case(&self, r: ResetCase) -> BoxFuture<'_, Result<(i64, bool), StoreError>>;
}
