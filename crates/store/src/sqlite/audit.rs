//! The audit log on SQLite.

use super::SqliteStore;
use crate::audit::{AuditEntry, clean_detail};
use crate::{AuditStore, BoxFuture, StoreError};

#[derive(sqlx::FromRow)]
struct Row {
    at: i64,
    actor: String,
    action: String,
    case_id: Option<i64>,
    detail: String,
}

impl AuditStore for SqliteStore {
    fn audit(&self, e: AuditEntry) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO audit (at, actor, action, case_id, detail) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(e.at)
            .bind(e.actor)
            .bind(e.action)
            .bind(e.case)
            .bind(clean_detail(&e.detail))
            .execute(self.pool())
            .await?;
            Ok(())
        })
    }

    fn recent_audit(&self, limit: i64) -> BoxFuture<'_, Result<Vec<AuditEntry>, StoreError>> {
        Box::pin(async move {
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT at, actor, action, case_id, detail FROM audit ORDER BY id DESC LIMIT ?",
            )
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| AuditEntry {
                    at: r.at,
                    actor: r.actor,
                    action: r.action,
                    case: r.case_id,
                    detail: r.detail,
                })
                .collect())
        })
    }
}
