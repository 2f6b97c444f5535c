//! The outbox worker: takes due mails from a [`Queue`], makes named ones with the
//! [`Render`] hook, sends them through the [`Relay`] with lettre (a pooled connection;
//! STARTTLS with certificate verification unless the relay is plain), and retries failures
//! with backoff (2 s doubling to 10 minutes, [`MAX_ATTEMPTS`] attempts). Rows are read from
//! the database, so a killed process mails what it had queued when it starts again.

use crate::{Content, Queue, Queued, Render, RenderError};
use camkey_proto::clock::Clock;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Mails taken from the database at a time.
const BATCH: i64 = 20;

/// Attempts before a mail is given up.
pub const MAX_ATTEMPTS: i64 = 12;

/// Where the mail goes.
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

/// Sends one due mail and records the outcome.
async fn deliver(
    queue: &dyn Queue,
    render: &dyn Render,
    relay: &Relay,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    clock: &dyn Clock,
    row: Queued,
) {
    let mail = match row.content {
        Content::Ready(mail) => mail,
        Content::Named(name) => match render.render(&name).await {
            Ok(mail) => mail,
            Err(RenderError::Never(why)) => {
                tracing::error!("outbox: mail {}: {why}", row.id);
                if let Err(e) = queue.failed(row.id, None, why).await {
                    tracing::error!("outbox: {e}");
                }
                return;
            }
            Err(RenderError::Later(why)) => {
                tracing::error!("outbox: mail {}: {why}", row.id);
                return;
            }
        },
    };
    match relay
        .send(transport, &row.recipient, &mail.subject, &mail.body)
        .await
    {
        Ok(()) => {
            if let Err(e) = queue.sent(row.id).await {
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
            if let Err(e) = queue.failed(row.id, next, err).await {
                tracing::error!("outbox: {e}");
            }
        }
    }
}

/// Sends `queue`'s mails through `relay`, making named ones with `render`, until `stop` is
/// notified; `wake` says a mail was queued.
pub async fn run(
    queue: Arc<dyn Queue>,
    render: Arc<dyn Render>,
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
        match queue.due(now, BATCH).await {
            Ok(rows) => {
                full = rows.len() as i64 == BATCH;
                let any = !rows.is_empty();
                for row in rows {
                    deliver(&*queue, &*render, &relay, &transport, &*clock, row).await;
                }
                if any && let Err(e) = queue.flush().await {
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
    use crate::sqlite::{Rows, SqliteOutbox, migrator};
    use crate::{BoxFuture, Mail};
    use camkey_proto::clock::SystemClock;
    use camkey_smtp::{Config, Mailbox as Inbox, Server};
    use sqlx::sqlite::SqlitePoolOptions;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_ms(0), 2_000);
        assert_eq!(backoff_ms(1), 4_000);
        assert_eq!(backoff_ms(30), 600_000);
    }

    /// Makes "Made <name>" for any name but `gone`.
    struct Maker;
    impl Render for Maker {
        fn render<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Mail, RenderError>> {
            Box::pin(async move {
                if name == "gone" {
                    return Err(RenderError::Never("no such thing".into()));
                }
                Ok(Mail {
                    subject: format!("Made {name}"),
                    body: format!("made at send time from {name}\n"),
                })
            })
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn ready_and_named_mails_go_out_and_an_unmakeable_one_is_given_up() {
        let inbox = Arc::new(Inbox::new(10));
        let smtp = Server::start(
            "127.0.0.1:0".parse().unwrap(),
            Config::new("inbox.test"),
            inbox.clone(),
        )
        .await
        .unwrap();
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let own = sqlx::migrate::Migrator::with_migrations(Vec::new());
        migrator(&own, Rows::Ready).run(&pool).await.unwrap();
        let outbox = SqliteOutbox::new(pool.clone(), Rows::Ready);
        outbox
            .queue_ready("a@example.com", "Ready", "a ready mail\n", 1)
            .await
            .unwrap();
        let mut conn = pool.acquire().await.unwrap();
        SqliteOutbox::queue_named(&mut conn, "b@example.com", "n1", 1)
            .await
            .unwrap();
        let gone = SqliteOutbox::queue_named(&mut conn, "c@example.com", "gone", 1)
            .await
            .unwrap();
        drop(conn);
        let (wake, stop) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let worker = tokio::spawn(run(
            Arc::new(outbox.clone()),
            Arc::new(Maker),
            Relay {
                host: "127.0.0.1".into(),
                port: smtp.local_addr().port(),
                plain: true,
                sender: "vendor@example.com".into(),
            },
            Arc::new(SystemClock::default()),
            wake,
            stop.clone(),
        ));
        let mails = inbox.wait_for(2, Duration::from_secs(30)).await.unwrap();
        let texts: Vec<String> = mails
            .iter()
            .map(|m| String::from_utf8_lossy(&m.message).into_owned())
            .collect();
        assert!(
            texts.iter().any(|t| t.contains("a ready mail")),
            "{texts:?}"
        );
        assert!(
            texts
                .iter()
                .any(|t| t.contains("made at send time from n1")),
            "{texts:?}"
        );
        for _ in 0..200 {
            if outbox.pending().await.unwrap() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(outbox.pending().await.unwrap(), 0);
        assert_eq!(
            outbox.state(gone).await.unwrap().as_deref(),
            Some("failed"),
            "the mail that cannot be made is given up"
        );
        stop.notify_one();
        worker.await.unwrap();
    }
}
