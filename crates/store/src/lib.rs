//! # camkey-store
//!
//! The vendor's storage (docs/design.md §2): what the reset service and the support desk
//! keep, behind small traits per concern, so one box runs it on SQLite and a cluster behind
//! a load balancer can run it on another backend. Every method is a plain request/response
//! with owned values: nothing backend-specific leaks through a trait, and no SQL lives
//! outside the backend's modules.
//!
//! # Layout
//! - [`resets`]: reset requests (the per-requester budget) and the case a factory-address
//!   challenge opens ([`ResetStore`]).
//! - [`cases`]: support cases, their kinds and states ([`CaseStore`]).
//! - [`audit`]: the audit log, which is also each case's history ([`AuditStore`]).
//! - [`staff`]: staff accounts and sessions, by hash only ([`StaffStore`]).
//! - [`orders`]: the front end's copy of the orders ([`OrderStore`]).
//! - [`mail`]: the desk's and the mailbox's mails to the durable outbox ([`MailQueue`];
//!   the queue and its worker are [`camkey_outbox`]'s).
//! - [`sqlite`]: the SQLite implementation of every trait, one module per concern.

pub mod audit;
pub mod cases;
pub mod mail;
pub mod orders;
pub mod resets;
pub mod sqlite;
pub mod staff;

pub use audit::{AuditEntry, AuditStore};
pub use cases::{Case, CaseStore, Event, Kind, NewCase, Reason, State};
pub use mail::MailQueue;
pub use orders::{Order, OrderStore};
pub use resets::{ResetCase, ResetRecord, ResetStore};
pub use sqlite::SqliteStore;
pub use staff::{NewSession, Role, Session, StaffStore};

use std::future::Future;
use std::pin::Pin;

/// A boxed future (the traits are used as `Arc<dyn …>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Storage errors (the cause is logged, not shown to users).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("vendor storage: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("vendor storage: migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database file could not be made private.
    #[error("vendor storage: {0}")]
    Io(#[from] std::io::Error),
}
