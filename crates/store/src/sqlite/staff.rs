//! Staff accounts and sessions on SQLite.

use super::SqliteStore;
use crate::staff::{NewSession, Role, Session};
use crate::{BoxFuture, StaffStore, StoreError};

#[derive(sqlx::FromRow)]
struct SessionRow {
    username: String,
    role: String,
    csrf: String,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    username: String,
    role: String,
}

impl StaffStore for SqliteStore {
    fn add_staff(
        &self,
        username: &str,
        hash: &str,
        role: Role,
        replace: bool,
        now: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let (username, hash) = (username.to_string(), hash.to_string());
        Box::pin(async move {
            let sql = if replace {
                "INSERT INTO staff (username, hash, role, created) VALUES (?, ?, ?, ?) ON CONFLICT (username) DO UPDATE SET hash = excluded.hash, role = excluded.role"
            } else {
                "INSERT INTO staff (username, hash, role, created) VALUES (?, ?, ?, ?) ON CONFLICT (username) DO NOTHING"
            };
            let done = sqlx::query(sql)
                .bind(username)
                .bind(hash)
                .bind(role.name())
                .bind(now)
                .execute(self.pool())
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    fn password_hash(&self, username: &str) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        let username = username.to_string();
        Box::pin(async move {
            Ok(
                sqlx::query_scalar("SELECT hash FROM staff WHERE username = ?")
                    .bind(username)
                    .fetch_optional(self.pool())
                    .await?,
            )
        })
    }

    fn members(&self) -> BoxFuture<'_, Result<Vec<(String, Role)>, StoreError>> {
        Box::pin(async move {
            let rows: Vec<MemberRow> =
                sqlx::query_as("SELECT username, role FROM staff ORDER BY username")
                    .fetch_all(self.pool())
                    .await?;
            Ok(rows
                .into_iter()
                .filter_map(|r| Some((r.username, Role::parse(&r.role)?)))
                .collect())
        })
    }

    fn create_session(&self, s: NewSession) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query("INSERT INTO sessions (token_hash, username, csrf, created, expires) VALUES (?, ?, ?, ?, ?)")
                .bind(s.token_hash)
                .bind(s.username)
                .bind(s.csrf)
                .bind(s.created)
                .bind(s.expires)
                .execute(self.pool())
                .await?;
            sqlx::query("DELETE FROM sessions WHERE expires < ?")
                .bind(s.created)
                .execute(self.pool())
                .await?;
            Ok(())
        })
    }

    fn session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> BoxFuture<'_, Result<Option<Session>, StoreError>> {
        let token_hash = token_hash.to_string();
        Box::pin(async move {
            let row: Option<SessionRow> = sqlx::query_as(
                "SELECT s.username, st.role, s.csrf FROM sessions s JOIN staff st ON st.username = s.username WHERE s.token_hash = ? AND s.expires > ?",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
            Ok(row.and_then(|r| {
                Some(Session {
                    username: r.username,
                    role: Role::parse(&r.role)?,
                    csrf: r.csrf,
                })
            }))
        })
    }

    fn delete_session(&self, token_hash: &str) -> BoxFuture<'_, Result<(), StoreError>> {
        let token_hash = token_hash.to_string();
        Box::pin(async move {
            sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
                .bind(token_hash)
                .execute(self.pool())
                .await?;
            Ok(())
        })
    }
}
