//! The signer's outbox worker: mails the codes it queued, itself (S1), with retries and
//! backoff. Rows are read from the signer's database, so a killed signer picks up every
//! queued mail when it starts again.
//!
//! A queued code mail holds no code: [`CodeOutbox`] makes the code again, in memory, from
//! the challenge the row names and the master key, just before the mail goes out; after a
//! batch the WAL is truncated ([`Outbox::flush`]).

use crate::store::{CodeMailRow, OutboxRow, SignerStore};
use camkey_proto::clock::Clock;
use camkey_proto::code;
use camkey_proto::keys::MasterKey;
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
    /// After a batch: make what was written durable and leave nothing in logs.
    fn flush(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

/// The signer's outbox: its store, and the master keys that make each queued mail's code
/// again when it is sent.
#[derive(Debug, Clone)]
pub struct CodeOutbox {
    /// The signer's database.
    pub store: SignerStore,
    /// Every master key the signer holds.
    pub masters: Arc<Vec<MasterKey>>,
}

/// The mail that carries a code, as docs/design.md §4 wants it: the code on a line of its own.
pub fn code_mail(serial: &str, code: &str) -> (String, String) {
    (
        format!("Security code for your camera {serial}"),
        format!(
            "A security code was asked for to reset the password of your camera, serial {serial}.\n\n\
             Code: {code}\n\n\
             Type it on the camera's \"Forgot password?\" page (Use a QR code, step 3), with a new password.\n\
             It is valid for 24 hours.\n\n\
             If you did not ask for it, ignore this mail: the code works only on your camera, from its own page,\n\
             and only with this mail in hand.\n"
        ),
    )
}

/// A nonce from its 24 hex digits.
fn nonce_of(hex: &str) -> Option<[u8; 12]> {
    if hex.len() != 24 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 12];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl CodeOutbox {
    /// The mail of one row, its code made again; `None` if it cannot be (no such key).
    fn render(&self, row: &CodeMailRow) -> Option<OutboxRow> {
        let master = self
            .masters
            .iter()
            .find(|m| m.version() == row.key_version)?;
        let nonce = nonce_of(&row.nonce)?;
        let key = master.device_key(&row.serial);
        let code = code::issue_for(&key, &row.serial, &nonce, row.generated, row.first_seen)
            .ok()?
            .text();
        let (subject, body) = code_mail(&row.serial, &code);
        Some(OutboxRow {
            id: row.id,
            recipient: row.recipient.clone(),
            subject,
            body,
            attempts: row.attempts,
        })
    }
}

impl Outbox for CodeOutbox {
    fn due(&self, now: i64, limit: i64) -> BoxFuture<'_, Result<Vec<OutboxRow>, String>> {
        Box::pin(async move {
            let rows = self
                .store
                .due(now, limit)
                .await
                .map_err(|e| e.to_string())?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                match self.render(&row) {
                    Some(mail) => out.push(mail),
                    None => {
                        let why = "the code cannot be made again (no such master key)";
                        tracing::error!("outbox: mail {}: {why}", row.id);
                        self.store
                            .failed(row.id, None, why)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
            Ok(out)
        })
    }
    fn sent(&self, id: i64) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.store.sent(id).await.map_err(|e| e.to_string()) })
    }
    fn failed(
        &self,
        id: i64,
        next: Option<i64>,
        error: String,
    ) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.store
                .failed(id, next, &error)
                .await
                .map_err(|e| e.to_string())
        })
    }
    fn flush(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.store.checkpoint().await.map_err(|e| e.to_string()) })
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
                let any = !rows.is_empty();
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
                if any && let Err(e) = store.flush().await {
                    tracing::error!("outbox: {e}");
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
