//! The SQLite implementation of every storage trait (WAL mode, one file). Each concern's
//! queries live in its own module; rows come back through `FromRow`.
//!
//! # Layout
//! - [`resets`]: the [`ResetStore`](crate::ResetStore) trait.
//! - [`cases`]: the [`CaseStore`](crate::CaseStore) trait.
//! - [`audit`]: the [`AuditStore`](crate::AuditStore) trait.
//! - [`staff`]: the [`StaffStore`](crate::StaffStore) trait.
//! - [`orders`]: the [`OrderStore`](crate::OrderStore) trait.
//! - [`mail`]: the [`MailQueue`](crate::MailQueue) trait and the outbox worker's side of the table.

pub mod audit;
pub mod cases;
pub mod mail;
pub mod orders;
pub mod resets;
pub mod staff;

use crate::StoreError;
use crate::mail::MAX_DONE_MAILS;
use camkey_outbox::sqlite::{Rows, SqliteOutbox};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::path::Path;
use std::sync::LazyLock;

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
        camkey_outbox::sqlite::create_private_db(path)?;
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await?;
        SQLITE.run(&pool).await?;
        let outbox = SqliteOutbox::new(pool.clone(), Rows::Ready).keep_done(MAX_DONE_MAILS);
        Ok(SqliteStore { pool, outbox })
    }

    /// The pool, for this crate's modules (and tests that read the raw tables).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The outbox table, for the shared worker ([`camkey_outbox::run`]).
    pub fn outbox(&self) -> std::sync::Arc<dyn camkey_outbox::Queue> {
        std::sync::Arc::new(self.outbox.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MailQueue;

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
        // Reopening runs no migration twice.
        drop(s);
        SqliteStore::open(&db).await.unwrap();
    }
}
