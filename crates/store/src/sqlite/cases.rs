//! Support cases on SQLite.

use super::SqliteStore;
use crate::cases::{Case, Event, Kind, NewCase, Reason, State};
use crate::{BoxFuture, CaseStore, StoreError};

/// The columns of [`Row`], as SQL.
macro_rules! columns {
    () => {
        "id, kind, state, source, reason, serial, serial_from_challenge, model, challenge, requester_name, requester_email, order_number, description, fee_cents, created, updated"
    };
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    kind: String,
    state: String,
    source: String,
    reason: Option<String>,
    serial: Option<String>,
    serial_from_challenge: bool,
    model: Option<String>,
    challenge: Option<String>,
    requester_name: Option<String>,
    requester_email: Option<String>,
    order_number: Option<String>,
    description: Option<String>,
    fee_cents: Option<i64>,
    created: i64,
    updated: i64,
}

impl From<Row> for Case {
    fn from(r: Row) -> Case {
        Case {
            id: r.id,
            kind: Kind::parse(&r.kind).unwrap_or(Kind::PasswordReset),
            state: State::parse(&r.state).unwrap_or(State::New),
            source: r.source,
            reason: r.reason.as_deref().and_then(Reason::parse),
            serial: r.serial,
            serial_from_challenge: r.serial_from_challenge,
            model: r.model,
            has_challenge: r.challenge.is_some(),
            challenge: r.challenge,
            requester_name: r.requester_name,
            requester_email: r.requester_email,
            order_number: r.order_number,
            description: r.description,
            fee_cents: r.fee_cents,
            created: r.created,
            updated: r.updated,
        }
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    at: i64,
    actor: String,
    action: String,
    detail: String,
}

impl SqliteStore {
    async fn one_case(&self, id: i64) -> Result<Option<Case>, StoreError> {
        let row: Option<Row> =
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM cases WHERE id = ?"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(Case::from))
    }

    async fn create_case_tx(&self, c: NewCase) -> Result<i64, StoreError> {
        let mut tx = self.pool().begin().await?;
        // One case per challenge: a request for a challenge whose reset request already
        // opened a case fills in what that case lacks (never overwrites) and is that case.
        if let (Kind::PasswordReset, Some((_, nonce))) = (c.kind, &c.challenge) {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM cases WHERE challenge_nonce = ? AND kind = 'password_reset' AND state != 'closed' ORDER BY id LIMIT 1",
            )
            .bind(nonce)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(id) = found {
                sqlx::query("UPDATE cases SET requester_name = COALESCE(requester_name, ?), requester_email = COALESCE(requester_email, ?), order_number = COALESCE(order_number, ?), description = COALESCE(description, ?), updated = ? WHERE id = ?")
                    .bind(&c.requester_name)
                    .bind(&c.requester_email)
                    .bind(&c.order_number)
                    .bind(&c.description)
                    .bind(c.now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO audit (at, actor, action, case_id, detail) VALUES (?, ?, 'details', ?, ?)")
                    .bind(c.now)
                    .bind(&c.actor)
                    .bind(id)
                    .bind(&c.merged_detail)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(id);
            }
        }
        let (challenge, nonce) = c.challenge.clone().unzip();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO cases (kind, state, source, reason, serial, serial_from_challenge, model, challenge, challenge_nonce, requester_name, requester_email, requester_ip, order_number, description, created, updated) VALUES (?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(c.kind.name())
        .bind(&c.source)
        .bind(c.reason.map(Reason::name))
        .bind(&c.serial)
        .bind(challenge.is_some())
        .bind(&c.model)
        .bind(challenge)
        .bind(nonce)
        .bind(&c.requester_name)
        .bind(&c.requester_email)
        .bind(&c.requester_ip)
        .bind(&c.order_number)
        .bind(&c.description)
        .bind(c.now)
        .bind(c.now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO audit (at, actor, action, case_id, detail) VALUES (?, ?, 'opened', ?, ?)",
        )
        .bind(c.now)
        .bind(&c.actor)
        .bind(id)
        .bind(&c.opened_detail)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }
}

impl CaseStore for SqliteStore {
    fn case(&self, id: i64) -> BoxFuture<'_, Result<Option<Case>, StoreError>> {
        Box::pin(self.one_case(id))
    }

    fn cases(
        &self,
        state: Option<State>,
        kind: Option<Kind>,
        limit: i64,
    ) -> BoxFuture<'_, Result<Vec<Case>, StoreError>> {
        Box::pin(async move {
            let rows: Vec<Row> = sqlx::query_as(concat!(
                "SELECT ",
                columns!(),
                " FROM cases WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR kind = ?2) ORDER BY id DESC LIMIT ?3"
            ))
            .bind(state.map(State::name))
            .bind(kind.map(Kind::name))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
            Ok(rows.into_iter().map(Case::from).collect())
        })
    }

    fn history(&self, id: i64) -> BoxFuture<'_, Result<Vec<Event>, StoreError>> {
        Box::pin(async move {
            let rows: Vec<EventRow> = sqlx::query_as(
                "SELECT at, actor, action, detail FROM audit WHERE case_id = ? ORDER BY id",
            )
            .bind(id)
            .fetch_all(self.pool())
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| Event {
                    at: r.at,
                    actor: r.actor,
                    action: r.action,
                    detail: r.detail,
                })
                .collect())
        })
    }

    fn cases_from_since(&self, source: &str, since: i64) -> BoxFuture<'_, Result<i64, StoreError>> {
        let source = source.to_string();
        Box::pin(async move {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM cases WHERE requester_ip = ? AND created >= ?",
            )
            .bind(source)
            .bind(since)
            .fetch_one(self.pool())
            .await?)
        })
    }

    fn create_case(&self, c: NewCase) -> BoxFuture<'_, Result<i64, StoreError>> {
        Box::pin(self.create_case_tx(c))
    }

    fn set_case_state(
        &self,
        id: i64,
        state: State,
        now: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query("UPDATE cases SET state = ?, updated = ? WHERE id = ?")
                .bind(state.name())
                .bind(now)
                .bind(id)
                .execute(self.pool())
                .await?;
            Ok(())
        })
    }

    fn propose_fee(
        &self,
        id: i64,
        cents: i64,
        token_hash: &str,
        now: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let token_hash = token_hash.to_string();
        Box::pin(async move {
            sqlx::query("UPDATE cases SET fee_cents = ?, fee_token_hash = ?, state = 'fee_proposed', updated = ? WHERE id = ?")
                .bind(cents)
                .bind(token_hash)
                .bind(now)
                .bind(id)
                .execute(self.pool())
                .await?;
            Ok(())
        })
    }

    fn case_by_fee_token(
        &self,
        token_hash: &str,
    ) -> BoxFuture<'_, Result<Option<Case>, StoreError>> {
        let token_hash = token_hash.to_string();
        Box::pin(async move {
            let row: Option<Row> = sqlx::query_as(concat!(
                "SELECT ",
                columns!(),
                " FROM cases WHERE fee_token_hash = ?"
            ))
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
            Ok(row.map(Case::from))
        })
    }
}
