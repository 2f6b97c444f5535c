//! The front end's storage, behind a trait so that one box runs it on SQLite and a cluster
//! behind a load balancer on PostgreSQL. Every method is a plain request/response with
//! owned values: nothing SQLite-specific leaks through the trait.

use camkey_outbox::sqlite::{Rows, SqliteOutbox};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::LazyLock;

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
    /// Readable reset requests (any outcome but `unreadable`) from `requester` since
    /// `since` (Unix ms).
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
    /// Mails queued for `to` since `since` (Unix ms), whatever the letter case of either
    /// (mail servers treat `Victim@` and `victim@` alike): replies are rate-limited per
    /// recipient.
    fn mails_to_since(&self, to: &str, since: i64) -> BoxFuture<'_, Result<i64, StoreError>>;
    /// The store as an outbox for the shared worker.
    fn outbox(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn camkey_outbox::Queue>;
    /// Opens (or finds: one per challenge) the support case of a factory-address challenge;
    /// returns its number.
    fn reset_case(&self, r: crate::desk::ResetCase) -> BoxFuture<'_, Result<i64, StoreError>>;
}

/// Reset requests kept at most (the oldest go first).
pub const MAX_RESET_RECORDS: i64 = 1_000_000;
/// Unreadable reset requests kept at most: nobody's budget counts them, so they are kept
/// for the record only, and a flood of them cannot push the counted ones out.
pub const MAX_UNREADABLE_RECORDS: i64 = 10_000;
/// Sent or failed mails kept at most in the outbox (pending ones are never dropped).
pub const MAX_DONE_MAILS: i64 = 100_000;

/// The front end's own migrations, then the outbox's (camkey-outbox; ready mails).
static SQLITE: LazyLock<Migrator> = LazyLock::new(|| {
    camkey_outbox::sqlite::migrator(&sqlx::migrate!("./migrations/sqlite"), Rows::Ready)
});

/// SQLite storage (WAL mode).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    outbox: SqliteOutbox,
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
        let outbox = SqliteOutbox::new(pool.clone(), Rows::Ready).keep_done(MAX_DONE_MAILS);
        Ok(SqliteStore { pool, outbox })
    }

    /// The pool, for the desk's own queries in this crate.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Records a reset request, keeping at most `max_all` records and `max_unreadable`
    /// unreadable ones (checked every 64th record), evicting the oldest.
    async fn insert_reset(
        &self,
        r: ResetRecord,
        max_all: i64,
        max_unreadable: i64,
    ) -> Result<(), StoreError> {
        let unreadable = r.outcome == "unreadable";
        let id = sqlx::query("INSERT INTO reset_requests (at, channel, requester, serial, outcome) VALUES (?, ?, ?, ?, ?)")
            .bind(r.at)
            .bind(r.channel)
            .bind(r.requester)
            .bind(r.serial)
            .bind(r.outcome)
            .execute(&self.pool)
            .await?
            .last_insert_rowid();
        // Bounded, evicting the oldest: all records, and unreadable ones on their own.
        sqlx::query("DELETE FROM reset_requests WHERE id <= ?")
            .bind(id - max_all)
            .execute(&self.pool)
            .await?;
        if unreadable && id % 64 == 0 {
            sqlx::query("DELETE FROM reset_requests WHERE outcome = 'unreadable' AND id < (SELECT id FROM reset_requests WHERE outcome = 'unreadable' ORDER BY id DESC LIMIT 1 OFFSET ?)")
                .bind(max_unreadable)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
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
            self.outbox.queue_ready(&to, &subject, &body, now).await?;
            Ok(())
        })
    }

    fn mails_to_since(&self, to: &str, since: i64) -> BoxFuture<'_, Result<i64, StoreError>> {
        let to = to.to_string();
        Box::pin(async move { Ok(self.outbox.mails_to_since(&to, since).await?) })
    }

    fn outbox(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn camkey_outbox::Queue> {
        std::sync::Arc::new(self.outbox.clone())
    }

    fn reset_case(&self, r: crate::desk::ResetCase) -> BoxFuture<'_, Result<i64, StoreError>> {
        Box::pin(async move { Ok(self.open_reset_case(&r).await?.0) })
    }

    fn record_reset(&self, r: ResetRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.insert_reset(r, MAX_RESET_RECORDS, MAX_UNREADABLE_RECORDS))
    }

    fn resets_since(&self, requester: &str, since: i64) -> BoxFuture<'_, Result<i64, StoreError>> {
        let requester = requester.to_string();
        Box::pin(async move {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM reset_requests WHERE requester = ? AND at >= ? AND outcome != 'unreadable'",
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
                outcome: "not_genuine".into(),
            })
            .await
            .unwrap();
        }
        // Unreadable requests are recorded but use up nobody's budget.
        s.record_reset(ResetRecord {
            at: 3,
            channel: "web".into(),
            requester: "10.0.0.1".into(),
            serial: None,
            outcome: "unreadable".into(),
        })
        .await
        .unwrap();
        assert_eq!(s.resets_since("10.0.0.1", 2).await.unwrap(), 2);
        assert_eq!(s.resets_since("10.0.0.2", 0).await.unwrap(), 0);
        assert_eq!(s.recent_resets(10).await.unwrap()[0].at, 3);
        // Bounded, evicting the oldest; unreadable records on their own.
        let rec = |i: i64, outcome: &str| ResetRecord {
            at: 100 + i,
            channel: "web".into(),
            requester: format!("10.1.0.{}", i % 200),
            serial: None,
            outcome: outcome.into(),
        };
        for i in 0..300 {
            s.insert_reset(rec(i, "unreadable"), 1000, 20)
                .await
                .unwrap();
        }
        for i in 0..20 {
            s.insert_reset(rec(i, "not_genuine"), 1000, 20)
                .await
                .unwrap();
        }
        let store = &s;
        let count = |sql: &'static str| async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(store.pool())
                .await
                .unwrap()
        };
        let unreadable =
            count("SELECT COUNT(*) FROM reset_requests WHERE outcome = 'unreadable'").await;
        assert!(unreadable <= 20 + 64, "{unreadable}");
        assert_eq!(
            count("SELECT COUNT(*) FROM reset_requests WHERE outcome = 'not_genuine'").await,
            23,
            "the flood pushed out no counted record"
        );
        for i in 0..100 {
            s.insert_reset(rec(i, "not_genuine"), 50, 20).await.unwrap();
        }
        let all = count("SELECT COUNT(*) FROM reset_requests").await;
        assert!(all <= 50, "{all}");
        // Reopening runs no migration twice.
        drop(s);
        SqliteStore::open(&dir.path().join("v.db")).await.unwrap();
    }
}
