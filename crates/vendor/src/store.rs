//! The front end's storage, behind a trait so that one box runs it on SQLite and a cluster
//! behind a load balancer on PostgreSQL. Every method is a plain request/response with
//! owned values: nothing SQLite-specific leaks through the trait.

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;

/// A boxed future (the trait is used as `Arc<dyn VendorStore>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Storage errors (the cause is logged, not shown).
#[derive(Debug, thiserror::Error)]
#[error("vendor storage: {0}")]
pub struct StoreError(String);

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError(e.to_string())
    }
}

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

/// What the front end stores.
pub trait VendorStore: Send + Sync + 'static {
    /// Records a reset request.
    fn record_reset(&self, r: ResetRecord) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Reset requests from `requester` since `since` (Unix ms).
    fn resets_since(&self, requester: &str, since: i64) -> BoxFuture<'_, Result<i64, StoreError>>;
    /// The most recent reset requests, newest first.
    fn recent_resets(&self, limit: i64) -> BoxFuture<'_, Result<Vec<ResetRecord>, StoreError>>;
    /// Queues a mail for the outbox worker.
    fn queue_mail(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        now: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Mails queued for `to` since `since` (Unix ms): replies are rate-limited per recipient.
    fn mails_to_since(&self, to: &str, since: i64) -> BoxFuture<'_, Result<i64, StoreError>>;
    /// The store as an outbox for the shared worker.
    fn outbox(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn camkey_signer::outbox::Outbox>;
    /// Opens (or finds: one per challenge) the support case of a factory-address challenge;
    /// returns its number.
    fn reset_case(&self, r: crate::desk::ResetCase) -> BoxFuture<'_, Result<i64, StoreError>>;
}

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite storage (WAL mode).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating and migrating) the database file.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        // 0600 before SQLite opens it, and its -wal and -shm with it: staff password hashes,
        // sessions, orders and cases are private.
        camkey_signer::store::create_private_db(path).map_err(sqlx::Error::Io)?;
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await?;
        SQLITE
            .run(&pool)
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(SqliteStore { pool })
    }

    /// The pool, for the desk's own queries in this crate.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl camkey_signer::outbox::Outbox for SqliteStore {
    fn due(
        &self,
        now: i64,
        limit: i64,
    ) -> BoxFuture<'_, Result<Vec<camkey_signer::store::OutboxRow>, String>> {
        Box::pin(async move {
            let rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
                "SELECT id, recipient, subject, body, attempts FROM outbox WHERE state = 'pending' AND next_attempt <= ? ORDER BY id LIMIT ?",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| e.to_string())?;
            Ok(rows
                .into_iter()
                .map(
                    |(id, recipient, subject, body, attempts)| camkey_signer::store::OutboxRow {
                        id,
                        recipient,
                        subject,
                        body,
                        attempts,
                    },
                )
                .collect())
        })
    }

    fn sent(&self, id: i64) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            sqlx::query("UPDATE outbox SET state = 'sent', last_error = NULL WHERE id = ?")
                .bind(id)
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    fn failed(
        &self,
        id: i64,
        next: Option<i64>,
        error: String,
    ) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let error: String = error.chars().take(500).collect();
            let q = match next {
                Some(at) => sqlx::query("UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ? WHERE id = ?")
                    .bind(at)
                    .bind(error)
                    .bind(id),
                None => sqlx::query("UPDATE outbox SET attempts = attempts + 1, state = 'failed', last_error = ? WHERE id = ?")
                    .bind(error)
                    .bind(id),
            };
            q.execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

impl VendorStore for SqliteStore {
    fn queue_mail(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        now: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let (to, subject, body) = (to.to_string(), subject.to_string(), body.to_string());
        Box::pin(async move {
            sqlx::query("INSERT INTO outbox (recipient, subject, body, created, next_attempt) VALUES (?, ?, ?, ?, ?)")
                .bind(to)
                .bind(subject)
                .bind(body)
                .bind(now)
                .bind(now)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn mails_to_since(&self, to: &str, since: i64) -> BoxFuture<'_, Result<i64, StoreError>> {
        let to = to.to_string();
        Box::pin(async move {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM outbox WHERE recipient = ? AND created >= ?",
            )
            .bind(to)
            .bind(since)
            .fetch_one(&self.pool)
            .await?;
            Ok(n)
        })
    }

    fn outbox(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn camkey_signer::outbox::Outbox> {
        self
    }

    fn reset_case(&self, r: crate::desk::ResetCase) -> BoxFuture<'_, Result<i64, StoreError>> {
        Box::pin(async move { Ok(self.open_reset_case(&r).await?.0) })
    }

    fn record_reset(&self, r: ResetRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query("INSERT INTO reset_requests (at, channel, requester, serial, outcome) VALUES (?, ?, ?, ?, ?)")
                .bind(r.at)
                .bind(r.channel)
                .bind(r.requester)
                .bind(r.serial)
                .bind(r.outcome)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn resets_since(&self, requester: &str, since: i64) -> BoxFuture<'_, Result<i64, StoreError>> {
        let requester = requester.to_string();
        Box::pin(async move {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM reset_requests WHERE requester = ? AND at >= ?",
            )
            .bind(requester)
            .bind(since)
            .fetch_one(&self.pool)
            .await?;
            Ok(n)
        })
    }

    fn recent_resets(&self, limit: i64) -> BoxFuture<'_, Result<Vec<ResetRecord>, StoreError>> {
        Box::pin(async move {
            let rows: Vec<(i64, String, String, Option<String>, String)> =
                sqlx::query_as("SELECT at, channel, requester, serial, outcome FROM reset_requests ORDER BY id DESC LIMIT ?")
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
            Ok(rows
                .into_iter()
                .map(|(at, channel, requester, serial, outcome)| ResetRecord {
                    at,
                    channel,
                    requester,
                    serial,
                    outcome,
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_database_and_its_wal_and_shm_are_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("v.db");
        let s = SqliteStore::open(&db).await.unwrap();
        s.queue_mail("a@example.com", "s", "b", 1).await.unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let p = format!("{}{suffix}", db.display());
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{p}");
        }
    }

    #[tokio::test]
    async fn records_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("v.db")).await.unwrap();
        for at in [1, 2, 3] {
            s.record_reset(ResetRecord {
                at,
                channel: "web".into(),
                requester: "10.0.0.1".into(),
                serial: None,
                outcome: "unreadable".into(),
            })
            .await
            .unwrap();
        }
        assert_eq!(s.resets_since("10.0.0.1", 2).await.unwrap(), 2);
        assert_eq!(s.resets_since("10.0.0.2", 0).await.unwrap(), 0);
        assert_eq!(s.recent_resets(10).await.unwrap()[0].at, 3);
        // Reopening runs no migration twice.
        drop(s);
        SqliteStore::open(&dir.path().join("v.db")).await.unwrap();
    }
}
