//! The audit log: who did what, when, to which case. A case's history is its entries.

use crate::{BoxFuture, StoreError};
use serde::Serialize;

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Unix ms.
    pub at: i64,
    /// Who (`system`, `cli`, `owner`, `requester` or a staff username).
    pub actor: String,
    /// What.
    pub action: String,
    /// The case it concerns.
    pub case: Option<i64>,
    /// Details.
    pub detail: String,
}

/// Longest detail kept (characters); control characters but newlines are dropped.
pub const MAX_DETAIL: usize = 4000;

/// Where the audit log is kept.
pub trait AuditStore: Send + Sync + 'static {
    /// Appends an entry.
    fn audit(&self, entry: AuditEntry) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The most recent entries, newest first.
    fn recent_audit(&self, limit: i64) -> BoxFuture<'_, Result<Vec<AuditEntry>, StoreError>>;
}

/// The detail as kept: without control characters (but newlines), at most [`MAX_DETAIL`].
pub fn clean_detail(detail: &str) -> String {
    detail
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .take(MAX_DETAIL)
        .collect()
}
