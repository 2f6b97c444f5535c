//! # camkey-outbox
//!
//! The durable mail outbox of the vendor's processes (docs/design.md §2, the shared layer):
//! a queue of mails kept in the process's own database, so a killed process mails what it
//! had queued when it starts again, and the worker that sends them through an SMTP relay
//! with retries and backoff. The signer and the vendor front end each run one, over their
//! own database.
//!
//! A queued row either holds a **ready mail** (the front end's replies and desk mails) or
//! **names** what makes its mail (the signer's code mails: the challenge's nonce). A named
//! row is turned into a mail at send time, in memory, by the [`Render`] hook the worker is
//! given, so the signer's database never holds a code (S1, docs/security.md).
//!
//! # Layout
//! - this file: the mail, the storage trait [`Queue`] and the [`Render`] hook.
//! - [`sqlite`]: the queue on SQLite, its migrations, and the only SQL of the outbox.
//! - [`worker`]: the relay ([`Relay`]) and the worker ([`run`]): lettre, retries, backoff.

pub mod sqlite;
pub mod worker;

use std::future::Future;
use std::pin::Pin;

pub use worker::{MAX_ATTEMPTS, Relay, backoff_ms, run};

/// A boxed future (the traits are used as `Arc<dyn …>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Storage errors (the cause, as text: it is logged, never shown).
#[derive(Debug, thiserror::Error)]
#[error("outbox storage: {0}")]
pub struct StoreError(pub String);

/// A mail's subject and plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Subject.
    pub subject: String,
    /// Body (plain text).
    pub body: String,
}

/// What a queued row holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A mail queued whole.
    Ready(Mail),
    /// What makes the mail at send time (the signer: its challenge's nonce, hex); the
    /// worker's [`Render`] hook makes it.
    Named(String),
}

/// A mail due for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Row id.
    pub id: i64,
    /// Recipient.
    pub recipient: String,
    /// Attempts so far.
    pub attempts: i64,
    /// The mail, or what makes it.
    pub content: Content,
}

/// The durable queue as the worker sees it.
pub trait Queue: Send + Sync + 'static {
    /// Mails due at `now` (Unix ms), oldest first, at most `limit`.
    fn due(&self, now: i64, limit: i64) -> BoxFuture<'_, Result<Vec<Queued>, StoreError>>;
    /// A mail went out.
    fn sent(&self, id: i64) -> BoxFuture<'_, Result<(), StoreError>>;
    /// A mail failed (`error`, kept shortened): retry at `next` (Unix ms), or give up.
    fn failed(
        &self,
        id: i64,
        next: Option<i64>,
        error: String,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// After a batch: make what was written durable and leave nothing in logs.
    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Why a named row's mail was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// It can never be made (e.g. no such key): the mail is given up with this reason.
    #[error("{0}")]
    Never(String),
    /// Not now (storage): the mail stays queued and is tried again.
    #[error("{0}")]
    Later(String),
}

/// Makes the mail of a row that names it ([`Content::Named`]), at send time.
pub trait Render: Send + Sync + 'static {
    /// The mail named by `name`, made now, in memory.
    fn render<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Mail, RenderError>>;
}

/// The hook of a queue that holds ready mails only: a named row is given up.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadyOnly;

impl Render for ReadyOnly {
    fn render<'a>(&'a self, _name: &'a str) -> BoxFuture<'a, Result<Mail, RenderError>> {
        Box::pin(async {
            Err(RenderError::Never(
                "this outbox makes no mail at send time".into(),
            ))
        })
    }
}
