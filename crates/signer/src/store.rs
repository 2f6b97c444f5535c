//! The signer's own storage: SQLite in WAL mode with full synchronous writes, so a code
//! queued for mailing survives a crash or a kill (the outbox row is written in the same
//! transaction that records the code as issued).
//!
//! The outbox table is the shared one of `camkey-outbox` (its migration runs in this
//! database's migrator, [`Rows::Named`]). **No code is ever stored**: an outbox row names
//! its challenge, and the code is made again from the challenge's serial, nonce, key
//! version and times when the mail goes out ([`crate::mail::CodeMails`]); without the
//! master key, a copy of this file (and of its `-wal` and `-shm`) yields no code.
//! `secure_delete` is on, so deleted rows are overwritten, and the outbox
//! ([`SignerStore::outbox`]) truncates the WAL after sends.
//!
//! Database files are private: [`create_private_db`] makes the file 0600 before SQLite
//! opens it (whatever the umask), and SQLite gives its `-wal` and `-shm` files the
//! database file's mode. The front end's database uses the same function.

use camkey_outbox::sqlite::{Rows, SqliteOutbox};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{FromRow, Row, migrate::Migrator};
use std::path::Path;
use std::sync::LazyLock;

/// The signer's own migrations, then the outbox's (names only: no room for a code).
static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    camkey_outbox::sqlite::migrator(&sqlx::migrate!("./migrations/sqlite"), Rows::Named)
});

/// Storage errors.
#[derive(Debug, thiserror::Error)]
#[error("signer storage: {0}")]
pub struct StoreError(#[from] sqlx::Error);

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError(sqlx::Error::Migrate(Box::new(e)))
    }
}

type Result<T> = std::result::Result<T, StoreError>;

pub use camkey_outbox::sqlite::create_private_db;

#[cfg(test)]
mod file_modes {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &str) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    /// A write, so that SQLite makes its `-wal` and `-shm`.
    async fn write_something(store: &SignerStore) {
        let seen = SeenChallenge {
            nonce: "nonce",
            serial: "IPC4K15-000001",
            key_version: 1,
            counter: 0,
        };
        store.seen(seen, 1).await.unwrap();
    }

    #[tokio::test]
    async fn the_database_its_wal_and_shm_are_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("signer.db");
        let store = SignerStore::open(&db).await.unwrap();
        write_something(&store).await;
        let db = db.to_str().unwrap();
        for p in [db.to_string(), format!("{db}-wal"), format!("{db}-shm")] {
            assert_eq!(mode(&p), 0o600, "{p}");
        }
        // Files an older version left 0644 are tightened at open.
        let old = tmp.path().join("old.db");
        let old = old.to_str().unwrap();
        for p in [old.to_string(), format!("{old}-wal")] {
            std::fs::write(&p, b"").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let store = SignerStore::open(Path::new(old)).await.unwrap();
        write_something(&store).await;
        for p in [old.to_string(), format!("{old}-wal"), format!("{old}-shm")] {
            assert_eq!(mode(&p), 0o600, "{p}");
        }
    }
}

/// What the signer knows of one challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRow {
    /// Unix ms when first seen.
    pub first_seen: i64,
    /// Unix ms when its code was generated, if one was.
    pub generated: Option<i64>,
    /// Unix ms its code was last queued for mailing.
    pub last_sent: Option<i64>,
}

/// What makes a queued code mail's code again (never the code): its challenge.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CodeSource {
    /// The challenge's serial.
    pub serial: String,
    /// The challenge's master-key version.
    #[sqlx(try_from = "i64")]
    pub key_version: u32,
    /// Unix ms the code was generated.
    pub generated: i64,
    /// Unix ms the challenge was first seen.
    pub first_seen: i64,
}

/// A genuine challenge as the store records it.
#[derive(Debug, Clone, Copy)]
pub struct SeenChallenge<'a> {
    /// Nonce (hex): its identity.
    pub nonce: &'a str,
    /// Serial.
    pub serial: &'a str,
    /// Master-key version.
    pub key_version: u32,
    /// The camera's counter.
    pub counter: u32,
}

/// The signer's database.
#[derive(Debug, Clone)]
pub struct SignerStore {
    pub(crate) pool: SqlitePool,
}

impl SignerStore {
    /// Opens (creating and migrating) the database at `path`.
    pub async fn open(path: &Path) -> Result<Self> {
        create_private_db(path).map_err(sqlx::Error::Io)?;
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // Deleted content is overwritten with zeros, never left in free space.
            .pragma("secure_delete", "on")
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        let store = SignerStore { pool };
        // Whatever a migration deleted (the first outbox's code text) leaves the WAL too.
        store.checkpoint().await?;
        Ok(store)
    }

    /// Records that a challenge was seen (first time only) and returns what is known of it.
    pub async fn seen(&self, ch: SeenChallenge<'_>, now: i64) -> Result<ChallengeRow> {
        sqlx::query(
            "INSERT INTO challenges (nonce, serial, first_seen, key_version, counter) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (nonce) DO UPDATE SET key_version = excluded.key_version, counter = excluded.counter \
             WHERE key_version != excluded.key_version OR counter != excluded.counter",
        )
        .bind(ch.nonce)
        .bind(ch.serial)
        .bind(now)
        .bind(i64::from(ch.key_version))
        .bind(i64::from(ch.counter))
        .execute(&self.pool)
        .await?;
        let row =
            sqlx::query("SELECT first_seen, generated, last_sent FROM challenges WHERE nonce = ?")
                .bind(ch.nonce)
                .fetch_one(&self.pool)
                .await?;
        Ok(ChallengeRow {
            first_seen: row.try_get("first_seen")?,
            generated: row.try_get("generated")?,
            last_sent: row.try_get("last_sent")?,
        })
    }

    /// The counter of the older of the two newest challenges seen for `serial` (the
    /// newest's own if only one was seen): a challenge below it is stale.
    pub async fn second_newest_counter(&self, serial: &str) -> Result<Option<i64>> {
        let top: Vec<i64> = sqlx::query_scalar(
            "SELECT counter FROM challenges WHERE serial = ? ORDER BY counter DESC LIMIT 2",
        )
        .bind(serial)
        .fetch_all(&self.pool)
        .await?;
        Ok(top.last().copied())
    }

    /// Codes generated for `serial` since `since` (Unix ms), for challenges whose counter
    /// is at least `floor` (codes of stale challenges do not count).
    pub async fn issued_since(&self, serial: &str, since: i64, floor: i64) -> Result<i64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM challenges WHERE serial = ? AND generated >= ? AND counter >= ?",
        )
        .bind(serial)
        .bind(since)
        .bind(floor)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    /// Marks a challenge's code as generated and queues its mail to `recipient`,
    /// atomically. Returns `false` if a code was generated meanwhile (the caller re-sends
    /// that one instead).
    pub async fn issue(&self, nonce: &str, generated: i64, recipient: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE challenges SET generated = ?1, last_sent = ?1 WHERE nonce = ?2 AND generated IS NULL")
            .bind(generated)
            .bind(nonce)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if done != 1 {
            return Ok(false);
        }
        SqliteOutbox::queue_named(&mut tx, recipient, nonce, generated).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Queues a re-send of a challenge's code to `recipient` if the last mail for it went
    /// out at least `gap_ms` ago and it was re-sent fewer than `max` times. Returns
    /// `false` otherwise.
    pub async fn resend(
        &self,
        nonce: &str,
        now: i64,
        gap_ms: i64,
        max: i64,
        recipient: &str,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE challenges SET resends = resends + 1, last_sent = ?1 \
             WHERE nonce = ?2 AND generated IS NOT NULL AND resends < ?3 AND (last_sent IS NULL OR last_sent <= ?1 - ?4)",
        )
        .bind(now)
        .bind(nonce)
        .bind(max)
        .bind(gap_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done != 1 {
            return Ok(false);
        }
        SqliteOutbox::queue_named(&mut tx, recipient, nonce, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// What makes the code of challenge `nonce` again, if a code was issued for it.
    pub async fn code_source(&self, nonce: &str) -> Result<Option<CodeSource>> {
        Ok(sqlx::query_as(
            "SELECT serial, key_version, generated, first_seen FROM challenges \
             WHERE nonce = ? AND generated IS NOT NULL",
        )
        .bind(nonce)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The outbox in this database, for the worker: its rows name challenges, and the WAL
    /// is truncated after each batch of sends.
    pub fn outbox(&self) -> SqliteOutbox {
        SqliteOutbox::new(self.pool.clone(), Rows::Named).truncate_wal_after_sends()
    }

    /// Moves every committed page from the WAL into the database file and truncates the
    /// WAL to zero bytes (after sends: nothing lingers in the log).
    pub async fn checkpoint(&self) -> Result<()> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Mails still to send.
    pub async fn pending(&self) -> Result<i64> {
        Ok(self.outbox().pending().await?)
    }

    /// Replaces the signer's copy of the orders.
    pub async fn replace_orders(&self, lines: &[camkey_proto::orders::OrderLine]) -> Result<()> {
        self.put_orders(lines, true).await
    }

    /// Adds order lines to the signer's copy (or replaces lines with the same order number
    /// and serial), in one transaction: `camkey vendor orders import --signer-db`.
    pub async fn add_orders(&self, lines: &[camkey_proto::orders::OrderLine]) -> Result<()> {
        self.put_orders(lines, false).await
    }

    async fn put_orders(
        &self,
        lines: &[camkey_proto::orders::OrderLine],
        replace: bool,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if replace {
            sqlx::query("DELETE FROM orders").execute(&mut *tx).await?;
        }
        for l in lines {
            sqlx::query("INSERT OR REPLACE INTO orders (order_number, serial, customer_email) VALUES (?, ?, ?)")
                .bind(&l.order_number)
                .bind(&l.serial)
                .bind(&l.customer_email)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The customer address of `order_number` if it holds `serial`.
    pub async fn order_address(&self, order_number: &str, serial: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT customer_email FROM orders WHERE order_number = ? AND serial = ?",
        )
        .bind(order_number)
        .bind(serial)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Appends to the audit log.
    pub async fn audit(
        &self,
        at: i64,
        op: &str,
        serial: Option<&str>,
        outcome: &str,
        detail: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO audit (at, op, serial, outcome, detail) VALUES (?, ?, ?, ?, ?)")
            .bind(at)
            .bind(op)
            .bind(serial)
            .bind(outcome)
            .bind(detail)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn secure_delete_is_on_and_the_outbox_has_no_room_for_a_code() {
        let dir = tempfile::tempdir().unwrap();
        let store = SignerStore::open(&dir.path().join("s.db")).await.unwrap();
        let mut conns = Vec::new();
        for _ in 0..4 {
            let mut c = store.pool.acquire().await.unwrap();
            let on: i64 = sqlx::query_scalar("PRAGMA secure_delete")
                .fetch_one(&mut *c)
                .await
                .unwrap();
            assert_eq!(on, 1, "secure_delete on every connection");
            conns.push(c);
        }
        drop(conns);
        let cols: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info('outbox')")
            .fetch_all(&store.pool)
            .await
            .unwrap();
        assert!(cols.contains(&"nonce".to_string()), "{cols:?}");
        assert!(
            !cols.iter().any(|c| c == "body" || c == "subject"),
            "{cols:?}"
        );
    }
}
