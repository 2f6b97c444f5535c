//! The front end's mails on the outbox table (camkey-outbox's, ready mails): queueing, and
//! counting for the per-recipient limits. Sending is the outbox worker's.

use super::SqliteStore;
use crate::{BoxFuture, MailQueue, StoreError};

impl MailQueue for SqliteStore {
    fn queue_mail(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        now: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let (to, subject, body) = (to.to_string(), subject.to_string(), body.to_string());
        Box::pin(async move {
            self.outbox.queue_ready(&to, &subject, &body, now).await?;
            Ok(())
        })
    }

    fn mails_to_since(&self, to: &str, since: i64) -> BoxFuture<'_, Result<i64, StoreError>> {
        let to = to.to_string();
        Box::pin(async move { Ok(self.outbox.mails_to_since(&to, since).await?) })
    }
}
