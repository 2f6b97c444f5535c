//! The signer's own storage: SQLite in WAL mode with full synchronous writes, so a code
//! queued for mailing survives a crash or a kill (the outbox row is written in the same
//! transaction that records the code as issued).
//!
//! Database files are private: [`create_private_db`] makes the file 0600 before SQLite
//! opens it (whatever the umask), and SQLite gives its `-wal` and `-shm` files the
//! database file's mode. The front end's database uses the same function.

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, migrate::Migrator};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

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

/// Creates the database file at `path` 0600 if it is missing, so that SQLite (which would
/// make it 0644 less the umask) finds it and gives its `-wal` and `-shm` the same mode. A database, WAL or shared-memory file left more open by an older version is made
/// 0600: it holds what the database holds.
pub fn create_private_db(path: &Path) -> std::io::Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut p = PathBuf::from(path).into_os_string();
        p.push(suffix);
        if let Ok(m) = std::fs::metadata(&p)
            && m.permissions().mode() & 0o077 != 0
        {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod file_modes {
    use super::*;

    fn mode(p: &str) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn the_database_its_wal_and_shm_are_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("signer.db");
        let store = SignerStore::open(&db).await.unwrap();
        store.seen("nonce", "IPC4K15-000001", 1).await.unwrap();
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
        store.seen("nonce", "IPC4K15-000001", 1).await.unwrap();
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

/// A mail waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// Recipient.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Attempts so far.
    pub attempts: i64,
}

/// A mail to queue.
#[derive(Debug, Clone)]
pub struct NewMail {
    /// Recipient.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
}

/// The signer's database.
#[derive(Debug, Clone)]
pub struct SignerStore {
    pool: SqlitePool,
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
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SignerStore { pool })
    }

    /// Records that a challenge was seen (first time only) and returns what is known of it.
    pub async fn seen(&self, nonce: &str, serial: &str, now: i64) -> Result<ChallengeRow> {
        sqlx::query(
            "INSERT OR IGNORE INTO challenges (nonce, serial, first_seen) VALUES (?, ?, ?)",
        )
        .bind(nonce)
        .bind(serial)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let row =
            sqlx::query("SELECT first_seen, generated, last_sent FROM challenges WHERE nonce = ?")
                .bind(nonce)
                .fetch_one(&self.pool)
                .await?;
        Ok(ChallengeRow {
            first_seen: row.try_get("first_seen")?,
            generated: row.try_get("generated")?,
            last_sent: row.try_get("last_sent")?,
        })
    }

    /// Codes generated for `serial` since `since` (Unix ms).
    pub async fn issued_since(&self, serial: &str, since: i64) -> Result<i64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM challenges WHERE serial = ? AND generated >= ?",
        )
        .bind(serial)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    /// Marks a challenge's code as generated and queues its mail, atomically. Returns
    /// `false` if a code was generated meanwhile (the caller re-sends that one instead).
    pub async fn issue(&self, nonce: &str, generated: i64, mail: &NewMail) -> Result<bool> {
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
        queue(&mut tx, mail, generated).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Queues a re-send of a challenge's code if the last mail for it went out at least
    /// `gap_ms` ago and it was re-sent fewer than `max` times. Returns `false` otherwise.
    pub async fn resend(
        &self,
        nonce: &str,
        now: i64,
        gap_ms: i64,
        max: i64,
        mail: &NewMail,
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
        queue(&mut tx, mail, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Mails due now, oldest first.
    pub async fn due(&self, now: i64, limit: i64) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT id, recipient, subject, body, attempts FROM outbox WHERE state = 'pending' AND next_attempt <= ? ORDER BY id LIMIT ?",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(OutboxRow {
                    id: r.try_get("id")?,
                    recipient: r.try_get("recipient")?,
                    subject: r.try_get("subject")?,
                    body: r.try_get("body")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// A mail went out: its body (with the code) is erased.
    pub async fn sent(&self, id: i64) -> Result<()> {
        sqlx::query("UPDATE outbox SET state = 'sent', body = '', last_error = NULL WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A mail failed: try again at `next`, or give up (the body is erased).
    pub async fn failed(&self, id: i64, next: Option<i64>, error: &str) -> Result<()> {
        let error: String = error.chars().take(500).collect();
        match next {
            Some(at) => sqlx::query("UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ? WHERE id = ?")
                .bind(at)
                .bind(error)
                .bind(id),
            None => sqlx::query("UPDATE outbox SET attempts = attempts + 1, state = 'failed', body = '', last_error = ? WHERE id = ?")
                .bind(error)
                .bind(id),
        }
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Mails still to send.
    pub async fn pending(&self) -> Result<i64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
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

async fn queue(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    mail: &NewMail,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO outbox (recipient, subject, body, next_attempt) VALUES (?, ?, ?, ?)")
        .bind(&mail.recipient)
        .bind(&mail.subject)
        .bind(&mail.body)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
