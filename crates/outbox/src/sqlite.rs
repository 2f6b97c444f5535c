//! The outbox on SQLite: the `outbox` table in the process's own database (the signer's or
//! the front end's), its migrations, and every SQL statement on it.
//!
//! **Migrations.** The table has one migration (`migrations/sqlite/outbox.sql`), which
//! every database that sends mail applies; a database that queues ready mails also applies
//! `ready_mails.sql` (their subject and body). They run in the database's own migrator
//! ([`migrator`]) at the fixed versions [`QUEUE_VERSION`] and [`READY_VERSION`], above any
//! of the database's own, so sqlx records them in the same `_sqlx_migrations` table and
//! checks their checksums like the others.
//!
//! **Rows.** A database is [`Rows::Named`] (the signer: its rows name the challenge whose
//! code they mail; its table has no column that could hold mail text) or [`Rows::Ready`]
//! (the front end: its rows hold their text, and may also name what makes them).

use crate::{BoxFuture, Content, Mail, Queue, Queued, StoreError};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{FromRow, SqlSafeStr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Version of the outbox table's migration in a database's migrator.
pub const QUEUE_VERSION: i64 = 10_000;
/// Version of the ready mails' migration (subject and body), in databases that queue them.
pub const READY_VERSION: i64 = 10_001;

const QUEUE_SQL: &str = include_str!("../migrations/sqlite/outbox.sql");
const READY_SQL: &str = include_str!("../migrations/sqlite/ready_mails.sql");

/// Errors longer than this are shortened before they are stored.
const MAX_ERROR_CHARS: usize = 500;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// What a database's outbox rows hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// Only names of what makes each mail at send time: the table has no room for mail
    /// text (the signer: no code is ever stored).
    Named,
    /// Ready mails (subject and body), and names.
    Ready,
}

/// A database's migrator: its `own` migrations (versions below [`QUEUE_VERSION`]) and the
/// outbox's, the ready mails' only for [`Rows::Ready`].
pub fn migrator(own: &Migrator, rows: Rows) -> Migrator {
    let mut all: Vec<Migration> = own.iter().cloned().collect();
    all.push(Migration::new(
        QUEUE_VERSION,
        "outbox".into(),
        MigrationType::Simple,
        QUEUE_SQL.into_sql_str(),
        false,
    ));
    if rows == Rows::Ready {
        all.push(Migration::new(
            READY_VERSION,
            "ready mails".into(),
            MigrationType::Simple,
            READY_SQL.into_sql_str(),
            false,
        ));
    }
    Migrator::with_migrations(all)
}

/// A due row as stored.
#[derive(Debug, FromRow)]
struct DueRow {
    id: i64,
    recipient: String,
    nonce: Option<String>,
    subject: Option<String>,
    body: Option<String>,
    attempts: i64,
}

impl From<DueRow> for Queued {
    fn from(r: DueRow) -> Self {
        let content = match r.nonce {
            Some(name) => Content::Named(name),
            None => Content::Ready(Mail {
                subject: r.subject.unwrap_or_default(),
                body: r.body.unwrap_or_default(),
            }),
        };
        Queued {
            id: r.id,
            recipient: r.recipient,
            attempts: r.attempts,
            content,
        }
    }
}

/// The outbox in a SQLite database whose migrator included [`migrator`]'s.
#[derive(Debug, Clone)]
pub struct SqliteOutbox {
    pool: SqlitePool,
    rows: Rows,
    keep_done: Option<i64>,
    truncate_wal: bool,
}

impl SqliteOutbox {
    /// The outbox in `pool`'s database, whose rows hold `rows`.
    pub fn new(pool: SqlitePool, rows: Rows) -> Self {
        SqliteOutbox {
            pool,
            rows,
            keep_done: None,
            truncate_wal: false,
        }
    }

    /// Keeps at most `n` sent or failed mails (the oldest go when a ready mail is queued;
    /// pending ones are never dropped).
    pub fn keep_done(mut self, n: i64) -> Self {
        self.keep_done = Some(n);
        self
    }

    /// Truncates the WAL (`wal_checkpoint(TRUNCATE)`) after each batch of sends, so
    /// nothing the batch wrote lingers in the log.
    pub fn truncate_wal_after_sends(mut self) -> Self {
        self.truncate_wal = true;
        self
    }

    /// Queues a ready mail to `to` at `now` (Unix ms); returns its id.
    pub async fn queue_ready(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        now: i64,
    ) -> Result<i64, sqlx::Error> {
        if self.rows != Rows::Ready {
            return Err(sqlx::Error::Protocol(
                "this outbox holds no mail text".into(),
            ));
        }
        let id = sqlx::query("INSERT INTO outbox (recipient, subject, body, created, next_attempt) VALUES (?, ?, ?, ?, ?)")
            .bind(to)
            .bind(subject)
            .bind(body)
            .bind(now)
            .bind(now)
            .execute(&self.pool)
            .await?
            .last_insert_rowid();
        if let Some(keep) = self.keep_done {
            // Bounded: the oldest finished mails go (a range of the primary key, cheap).
            sqlx::query("DELETE FROM outbox WHERE id <= ? AND state != 'pending'")
                .bind(id - keep)
                .execute(&self.pool)
                .await?;
        }
        Ok(id)
    }

    /// Queues a mail to `to` at `now` (Unix ms) that `name` makes at send time, on `conn`
    /// (e.g. in the caller's transaction, with what `name` refers to); returns its id.
    pub async fn queue_named(
        conn: &mut SqliteConnection,
        to: &str,
        name: &str,
        now: i64,
    ) -> Result<i64, sqlx::Error> {
        Ok(sqlx::query(
            "INSERT INTO outbox (recipient, nonce, created, next_attempt) VALUES (?, ?, ?, ?)",
        )
        .bind(to)
        .bind(name)
        .bind(now)
        .bind(now)
        .execute(conn)
        .await?
        .last_insert_rowid())
    }

    /// Mails queued for `to` since `since` (Unix ms), whatever the letter case of either
    /// (mail servers treat `Victim@` and `victim@` alike).
    pub async fn mails_to_since(&self, to: &str, since: i64) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE lower(recipient) = ? AND created >= ?",
        )
        .bind(to.to_ascii_lowercase())
        .bind(since)
        .fetch_one(&self.pool)
        .await
    }

    /// Mails still to send.
    pub async fn pending(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
            .fetch_one(&self.pool)
            .await
    }

    /// A mail's state (`pending`, `sent`, `failed`).
    #[cfg(test)]
    pub(crate) async fn state(&self, id: i64) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT state FROM outbox WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    async fn due_rows(&self, now: i64, limit: i64) -> Result<Vec<Queued>, sqlx::Error> {
        let sql = match self.rows {
            Rows::Named => {
                "SELECT id, recipient, nonce, NULL AS subject, NULL AS body, attempts FROM outbox \
                 WHERE state = 'pending' AND next_attempt <= ? ORDER BY id LIMIT ?"
            }
            Rows::Ready => {
                "SELECT id, recipient, nonce, subject, body, attempts FROM outbox \
                 WHERE state = 'pending' AND next_attempt <= ? ORDER BY id LIMIT ?"
            }
        };
        let rows: Vec<DueRow> = sqlx::query_as(sql)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Queued::from).collect())
    }

    async fn mark_sent(&self, id: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE outbox SET state = 'sent', last_error = NULL WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn mark_failed(
        &self,
        id: i64,
        next: Option<i64>,
        error: &str,
    ) -> Result<(), sqlx::Error> {
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        match next {
            Some(at) => sqlx::query("UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ? WHERE id = ?")
                .bind(at)
                .bind(error)
                .bind(id),
            None => sqlx::query("UPDATE outbox SET attempts = attempts + 1, state = 'failed', last_error = ? WHERE id = ?")
                .bind(error)
                .bind(id),
        }
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn checkpoint(&self) -> Result<(), sqlx::Error> {
        if self.truncate_wal {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

impl Queue for SqliteOutbox {
    fn due(&self, now: i64, limit: i64) -> BoxFuture<'_, Result<Vec<Queued>, StoreError>> {
        Box::pin(async move { Ok(self.due_rows(now, limit).await?) })
    }

    fn sent(&self, id: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { Ok(self.mark_sent(id).await?) })
    }

    fn failed(
        &self,
        id: i64,
        next: Option<i64>,
        error: String,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { Ok(self.mark_failed(id, next, &error).await?) })
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { Ok(self.checkpoint().await?) })
    }
}

/// Creates a database file (the signer's, the front end's) at `path` 0600 if it is
/// missing, so that SQLite (which would make it 0644 less the umask) finds it and gives its
/// `-wal` and `-shm` the same mode. A database, WAL or shared-memory file left more open by
/// an older version is made 0600: it holds what the database holds.
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
mod tests {
    use super::*;
    use sqlx::sqlite::SqlitePoolOptions;

    async fn open(rows: Rows) -> SqliteOutbox {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let own = Migrator::with_migrations(vec![Migration::new(
            1,
            "own".into(),
            MigrationType::Simple,
            "CREATE TABLE own (x INTEGER);".into_sql_str(),
            false,
        )]);
        migrator(&own, rows).run(&pool).await.unwrap();
        // Migrating again applies nothing twice.
        migrator(&own, rows).run(&pool).await.unwrap();
        SqliteOutbox::new(pool, rows)
    }

    async fn columns(o: &SqliteOutbox) -> Vec<String> {
        sqlx::query_scalar("SELECT name FROM pragma_table_info('outbox')")
            .fetch_all(&o.pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_named_outbox_has_no_room_for_mail_text() {
        let o = open(Rows::Named).await;
        let cols = columns(&o).await;
        assert!(cols.contains(&"nonce".to_string()), "{cols:?}");
        assert!(
            !cols.iter().any(|c| c == "subject" || c == "body"),
            "{cols:?}"
        );
        assert!(o.queue_ready("a@example.com", "s", "b", 1).await.is_err());
        let ready = open(Rows::Ready).await;
        let cols = columns(&ready).await;
        assert!(cols.iter().any(|c| c == "body"), "{cols:?}");
        // The database's own migrations ran first, and are recorded with the outbox's.
        let versions: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&ready.pool)
                .await
                .unwrap();
        assert_eq!(versions, [1, QUEUE_VERSION, READY_VERSION]);
    }

    #[tokio::test]
    async fn due_sent_failed_and_retried() {
        let o = open(Rows::Ready).await;
        let a = o.queue_ready("a@example.com", "S", "B", 10).await.unwrap();
        let mut conn = o.pool.acquire().await.unwrap();
        let b = SqliteOutbox::queue_named(&mut conn, "b@example.com", "00ff", 10)
            .await
            .unwrap();
        drop(conn);
        assert!(o.due(9, 10).await.unwrap().is_empty(), "not yet due");
        let due = o.due(10, 10).await.unwrap();
        assert_eq!(
            due,
            [
                Queued {
                    id: a,
                    recipient: "a@example.com".into(),
                    attempts: 0,
                    content: Content::Ready(Mail {
                        subject: "S".into(),
                        body: "B".into()
                    }),
                },
                Queued {
                    id: b,
                    recipient: "b@example.com".into(),
                    attempts: 0,
                    content: Content::Named("00ff".into()),
                },
            ]
        );
        assert_eq!(o.due(10, 1).await.unwrap().len(), 1, "at most the limit");
        o.sent(a).await.unwrap();
        o.failed(b, Some(100), "x".repeat(2000)).await.unwrap();
        assert!(o.due(99, 10).await.unwrap().is_empty());
        let again = o.due(100, 10).await.unwrap();
        assert_eq!((again[0].id, again[0].attempts), (b, 1));
        let error: String = sqlx::query_scalar("SELECT last_error FROM outbox WHERE id = ?")
            .bind(b)
            .fetch_one(&o.pool)
            .await
            .unwrap();
        assert_eq!(error.len(), MAX_ERROR_CHARS);
        o.failed(b, None, "gave up".into()).await.unwrap();
        assert!(o.due(i64::MAX, 10).await.unwrap().is_empty());
        assert_eq!(o.state(b).await.unwrap().as_deref(), Some("failed"));
        assert_eq!(o.pending().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn mails_are_counted_per_recipient_whatever_the_case() {
        let o = open(Rows::Ready).await;
        o.queue_ready("Victim@Example.org", "s", "b", 5)
            .await
            .unwrap();
        o.queue_ready("victim@example.org", "s", "b", 7)
            .await
            .unwrap();
        assert_eq!(o.mails_to_since("VICTIM@example.ORG", 0).await.unwrap(), 2);
        assert_eq!(o.mails_to_since("victim@example.org", 6).await.unwrap(), 1);
        assert_eq!(o.mails_to_since("other@example.org", 0).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn finished_mails_are_bounded_and_pending_ones_kept() {
        let o = open(Rows::Ready).await.keep_done(3);
        let first = o.queue_ready("p@example.com", "s", "b", 1).await.unwrap();
        for i in 0..10 {
            let id = o.queue_ready("a@example.com", "s", "b", i).await.unwrap();
            o.sent(id).await.unwrap();
        }
        let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(&o.pool)
            .await
            .unwrap();
        assert!(all <= 5, "{all}");
        assert_eq!(o.state(first).await.unwrap().as_deref(), Some("pending"));
    }
}
