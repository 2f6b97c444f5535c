//! The front end's mails on the outbox table (SQLite): queueing and counting for the
//! per-recipient limits, and the worker's side (due mails, sent, failed).

use super::SqliteStore;
use crate::mail::MAX_DONE_MAILS;
use crate::{BoxFuture, MailQueue, StoreError};

#[derive(sqlx::FromRow)]
struct DueRow {
    id: i64,
    recipient: String,
    subject: String,
    body: String,
    attempts: i64,
}

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
            let id = sqlx::query("INSERT INTO outbox (recipient, subject, body, created, next_attempt) VALUES (?, ?, ?, ?, ?)")
                .bind(to)
                .bind(subject)
                .bind(body)
                .bind(now)
                .bind(now)
                .execute(self.pool())
                .await?
                .last_insert_rowid();
            // Bounded: the oldest finished mails go (a range of the primary key, cheap).
            sqlx::query("DELETE FROM outbox WHERE id <= ? AND state != 'pending'")
                .bind(id - MAX_DONE_MAILS)
                .execute(self.pool())
                .await?;
            Ok(())
        })
    }

    fn mails_to_since(&self, to: &str, since: i64) -> BoxFuture<'_, Result<i64, StoreError>> {
        let to = to.to_string();
        Box::pin(async move {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM outbox WHERE lower(recipient) = ? AND created >= ?",
            )
            .bind(to.to_ascii_lowercase())
            .bind(since)
            .fetch_one(self.pool())
            .await?)
        })
    }
}

impl camkey_signer::outbox::Outbox for SqliteStore {
    fn due(
        &self,
        now: i64,
        limit: i64,
    ) -> BoxFuture<'_, Result<Vec<camkey_signer::store::OutboxRow>, String>> {
        Box::pin(async move {
            let rows: Vec<DueRow> = sqlx::query_as(
                "SELECT id, recipient, subject, body, attempts FROM outbox WHERE state = 'pending' AND next_attempt <= ? ORDER BY id LIMIT ?",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .map_err(|e| e.to_string())?;
            Ok(rows
                .into_iter()
                .map(|r| camkey_signer::store::OutboxRow {
                    id: r.id,
                    recipient: r.recipient,
                    subject: r.subject,
                    body: r.body,
                    attempts: r.attempts,
                })
                .collect())
        })
    }

    fn sent(&self, id: i64) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            sqlx::query("UPDATE outbox SET state = 'sent', last_error = NULL WHERE id = ?")
                .bind(id)
                .execute(self.pool())
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
            q.execute(self.pool())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}
