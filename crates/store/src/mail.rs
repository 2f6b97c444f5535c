//! Mails the front end queues on its durable outbox (the desk's case mails, the reset
//! mailbox's replies), and how many went to one recipient: both are rate-limited per
//! recipient. The worker that sends them is the outbox's.

use crate::{BoxFuture, StoreError};

/// Sent or failed mails kept at most in the outbox (pending ones are never dropped).
pub const MAX_DONE_MAILS: i64 = 100_000;

/// The front end's side of the outbox.
pub trait MailQueue: Send + Sync + 'static {
    /// Queues a mail for the outbox worker.
    fn queue_mail(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        now: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Mails queued for `to` since `since` (Unix ms), whatever the letter case of either
    /// (mail servers treat `Victim@` and `victim@` alike).
    fn mails_to_since(&self, to: &str, since: i64) -> BoxFuture<'_, Result<i64, StoreError>>;
}
