//! The signer's outbox worker: mails the codes it queued, itself (S1), with retries and
//! backoff. Rows are read from the signer's database, so a killed signer picks up every
//! queued mail when it starts again.

use crate::store::{OutboxRow, SignerStore, StoreError};
use camkey_proto::clock::Clock;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// A boxed future (the outbox is used as `Arc<dyn Outbox>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A durable outbox: the signer's (codes) and the vendor's (replies, notices) share this
/// worker, each over its own database.
pub trait Outbox: Send + Sync + 'static {
    /// Mails due at `now`, oldest first.
    fn due(&self, now: i64, limit: i64) -> BoxFuture<'_, Result<Vec<OutboxRow>, String>>;
    /// A mail went out.
    fn sent(&self, id: i64) -> BoxFuture<'_, Result<(), String>>;
    /// A mail failed: retry at `next`, or give up.
    fn failed(
        &self,
        id: i64,
        next: Option<i64>,
        error: String,
    ) -> BoxFuture<'_, Result<(), String>>;
}

impl Outbox for SignerStore {
    fn due(&self, now: i64, limit: i64) -> BoxFuture<'_, Result<Vec<OutboxRow>, String>> {
        Box::pin(async move {
            SignerStore::due(self, now, limit)
                .await
                .map_err(|e: StoreError| e.to_string())
        })
    }
    fn sent(&self, id: i64) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { SignerStore::sent(self, id).await.map_err(|e| e.to_string()) })
    }
    fn failed(
        &self,
        id: i64,
        next: Option<i64>,
        error: String,
    ) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            SignerStore::failed(self, id, next, &error)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// Mails taken from the database at a time.
const BATCH: i64 = 20;

/// Attempts before a mail is given up.
pub const MAX_ATTEMPTS: i64 = 12;

/// Where the signer's mail goes.
#[derive(Debug, Clone)]
pub struct Relay {
    /// SMTP host.
    pub host: String,
    /// SMTP port.
    pub port: u16,
    /// Plain SMTP (lab and loopback relays only); otherwise STARTTLS with verification.
    pub plain: bool,
    /// Sender address.
    pub sender: String,
}

impl Relay {
    /// A transport to the relay; it keeps connections open between mails (a pool).
    pub fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let builder = if self.plain {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&self.host)
                .map_err(|e| e.to_string())?
        };
        Ok(builder
            .port(self.port)
            .timeout(Some(Duration::from_secs(20)))
            .build())
    }

    async fn send(
        &self,
        transport: &AsyncSmtpTransport<Tokio1Executor>,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<(), String> {
        let from: Mailbox = self.sender.parse().map_err(|e| format!("sender: {e}"))?;
        let to: Mailbox = to.parse().map_err(|e| format!("recipient: {e}"))?;
        let msg = Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| e.to_string())?;
        transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Backoff after `attempts` failures: 2 s, 4 s, 8 s … up to 10 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    (2_000i64 << attempts.clamp(0, 20)).min(600_000)
}

/// Runs until `stop` is notified.
pub async fn run(
    store: std::sync::Arc<dyn Outbox>,
    relay: Relay,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    stop: Arc<Notify>,
) {
    let transport = match relay.transport() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(
                "outbox: the relay {}:{} is unusable: {e}",
                relay.host,
                relay.port
            );
            stop.notified().await;
            return;
        }
    };
    loop {
        let now = clock.wall_ms();
        let mut full = false;
        match store.due(now, BATCH).await {
            Ok(rows) => {
                full = rows.len() as i64 == BATCH;
                for row in rows {
                    match relay
                        .send(&transport, &row.recipient, &row.subject, &row.body)
                        .await
                    {
                        Ok(()) => {
                            if let Err(e) = store.sent(row.id).await {
                                tracing::error!("outbox: {e}");
                            }
                        }
                        Err(err) => {
                            tracing::warn!(
                                "outbox: mail {} failed (attempt {}): {err}",
                                row.id,
                                row.attempts + 1
                            );
                            let next = (row.attempts + 1 < MAX_ATTEMPTS)
                                .then(|| clock.wall_ms() + backoff_ms(row.attempts));
                            if let Err(e) = store.failed(row.id, next, err.clone()).await {
                                tracing::error!("outbox: {e}");
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::error!("outbox: {e}"),
        }
        if full {
            continue; // more are waiting: no pause
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.notified() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_ms(0), 2_000);
        assert_eq!(backoff_ms(1), 4_000);
        assert_eq!(backoff_ms(30), 600_000);
    }
}
