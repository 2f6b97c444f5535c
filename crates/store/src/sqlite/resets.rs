//! Reset requests and the case a factory-address challenge opens, on SQLite.

use super::SqliteStore;
use crate::resets::{MAX_RESET_RECORDS, MAX_UNREADABLE_RECORDS};
use crate::{BoxFuture, ResetCase, ResetRecord, ResetStore, StoreError};

#[derive(sqlx::FromRow)]
struct Row {
    at: i64,
    channel: String,
    requester: String,
    serial: Option<String>,
    outcome: String,
}

impl SqliteStore {
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
            .execute(self.pool())
            .await?
            .last_insert_rowid();
        // Bounded, evicting the oldest: all records, and unreadable ones on their own.
        sqlx::query("DELETE FROM reset_requests WHERE id <= ?")
            .bind(id - max_all)
            .execute(self.pool())
            .await?;
        if unreadable && id % 64 == 0 {
            sqlx::query("DELETE FROM reset_requests WHERE outcome = 'unreadable' AND id < (SELECT id FROM reset_requests WHERE outcome = 'unreadable' ORDER BY id DESC LIMIT 1 OFFSET ?)")
                .bind(max_unreadable)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    async fn open_reset_case_tx(&self, r: ResetCase) -> Result<(i64, bool), StoreError> {
        let mut tx = self.pool().begin().await?;
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM cases WHERE challenge_nonce = ? AND kind = 'password_reset' ORDER BY id LIMIT 1",
        )
        .bind(&r.nonce)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = found {
            if let Some(email) = &r.email {
                sqlx::query(
                    "UPDATE cases SET requester_email = COALESCE(requester_email, ?) WHERE id = ?",
                )
                .bind(email)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            return Ok((id, false));
        }
        let model = camkey_proto::catalogue::model_of_serial(&r.serial);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO cases (kind, state, source, serial, serial_from_challenge, model, challenge, challenge_nonce, requester_email, created, updated) VALUES ('password_reset', 'new', ?, ?, 1, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&r.channel)
        .bind(&r.serial)
        .bind(model)
        .bind(&r.challenge)
        .bind(&r.nonce)
        .bind(&r.email)
        .bind(r.now)
        .bind(r.now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO audit (at, actor, action, case_id, detail) VALUES (?, 'system', 'opened', ?, ?)")
            .bind(r.now)
            .bind(id)
            .bind(format!(
                "password reset for a camera with the factory recovery address, by a reset request ({})",
                r.channel
            ))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((id, true))
    }
}

impl ResetStore for SqliteStore {
    fn record_reset(&self, r: ResetRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.insert_reset(r, MAX_RESET_RECORDS, MAX_UNREADABLE_RECORDS))
    }

    fn resets_since(&self, requester: &str, since: i64) -> BoxFuture<'_, Result<i64, StoreError>> {
        let requester = requester.to_string();
        Box::pin(async move {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM reset_requests WHERE requester = ? AND at >= ? AND outcome != 'unreadable'",
            )
            .bind(requester)
            .bind(since)
            .fetch_one(self.pool())
            .await?)
        })
    }

    fn recent_resets(&self, limit: i64) -> BoxFuture<'_, Result<Vec<ResetRecord>, StoreError>> {
        Box::pin(async move {
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT at, channel, requester, serial, outcome FROM reset_requests ORDER BY id DESC LIMIT ?",
            )
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| ResetRecord {
                    at: r.at,
                    channel: r.channel,
                    requester: r.requester,
                    serial: r.serial,
                    outcome: r.outcome,
                })
                .collect())
        })
    }

    fn open_reset_case(&self, r: ResetCase) -> BoxFuture<'_, Result<(i64, bool), StoreError>> {
        Box::pin(self.open_reset_case_tx(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
