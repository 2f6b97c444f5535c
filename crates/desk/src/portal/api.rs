//! The staff JSON API (`/api/staff`, `/api/audit`, `/api/cases`): [`ApiStaff`] signs each
//! request in with its bearer token; bodies are JSON with no unknown fields.

use super::auth::{ApiStaff, admin};
use super::errors::{ApiError, json_body};
use crate::DeskState as AppState;
use crate::desk::{Case, CaseView, DeskError, Kind, State as CaseState};
use crate::requests::SupportRequest;
use crate::staff::{Role, StaffError, random_password};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewStaff {
    username: String,
    role: Role,
    #[serde(default)]
    password: Option<String>,
}

pub(super) async fn api_add_staff(
    State(st): State<AppState>,
    ApiStaff(staff): ApiStaff,
    body: Result<Json<NewStaff>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin(&staff)?;
    let n = json_body(body)?;
    let password = n
        .password
        .clone()
        .unwrap_or_else(|| random_password(&n.username));
    let now = st.desk.clock.wall_ms();
    crate::staff::add_audited(
        &*st.desk.store,
        &staff.username,
        &n.username,
        &password,
        n.role,
        now,
    )
    .await
    .map_err(|e| match e {
        StaffError::Exists => ApiError(StatusCode::CONFLICT, "exists", e.to_string()),
        StaffError::Store(e) => DeskError::Store(e).into(),
        _ => ApiError(StatusCode::BAD_REQUEST, "invalid", e.to_string()),
    })?;
    let mut out = json!({"username": n.username, "role": n.role});
    if n.password.is_none() {
        out["password"] = json!(password);
    }
    Ok(Json(out))
}

pub(super) async fn api_audit(
    State(st): State<AppState>,
    ApiStaff(staff): ApiStaff,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin(&staff)?;
    let rows = st
        .desk
        .store
        .recent_audit(500)
        .await
        .map_err(|e| ApiError::from(DeskError::from(e)))?;
    Ok(Json(json!(rows)))
}

#[derive(Deserialize, Default)]
pub(super) struct Filter {
    state: Option<String>,
    kind: Option<String>,
}

pub(super) fn parse_filter(f: &Filter) -> Result<(Option<CaseState>, Option<Kind>), ApiError> {
    let bad = |what: &str| {
        ApiError(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("unknown {what} filter"),
        )
    };
    let state = match f.state.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(CaseState::parse(s).ok_or_else(|| bad("state"))?),
        None => None,
    };
    let kind = match f.kind.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(Kind::parse(s).ok_or_else(|| bad("kind"))?),
        None => None,
    };
    Ok((state, kind))
}

pub(super) async fn api_cases(
    State(st): State<AppState>,
    _: ApiStaff,
    q: Result<Query<Filter>, QueryRejection>,
) -> Result<Json<Vec<Case>>, ApiError> {
    let f = q.map(|Query(f)| f).unwrap_or_default();
    let (state, kind) = parse_filter(&f)?;
    Ok(Json(
        st.desk
            .store
            .cases(state, kind, 500)
            .await
            .map_err(DeskError::from)?,
    ))
}

pub(super) async fn api_open_case(
    State(st): State<AppState>,
    ApiStaff(staff): ApiStaff,
    body: Result<Json<SupportRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let r = json_body(body)?;
    let id = st.desk.open_by_staff(&staff, &r).await?;
    Ok(Json(json!({"case": id})))
}

pub(super) async fn api_case(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    _: ApiStaff,
) -> Result<Json<CaseView>, ApiError> {
    Ok(Json(st.desk.view(id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Release {
    order_number: String,
    #[serde(default)]
    note: String,
}

pub(super) async fn api_release(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    ApiStaff(staff): ApiStaff,
    body: Result<Json<Release>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let r = json_body(body)?;
    let hint = st
        .desk
        .release_code(&staff, id, &r.order_number, &r.note)
        .await?;
    Ok(Json(json!({"released": true, "hint": hint})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Note {
    note: String,
}

pub(super) async fn api_note(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    ApiStaff(staff): ApiStaff,
    body: Result<Json<Note>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let n = json_body(body)?;
    st.desk.note(&staff, id, &n.note).await?;
    Ok(Json(json!({"ok": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SetState {
    state: String,
}

pub(super) async fn api_state(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    ApiStaff(staff): ApiStaff,
    body: Result<Json<SetState>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let s = json_body(body)?;
    let state = CaseState::parse(&s.state).ok_or(ApiError(
        StatusCode::BAD_REQUEST,
        "invalid",
        "unknown state".into(),
    ))?;
    st.desk.set_state(&staff, id, state).await?;
    Ok(Json(json!({"ok": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Fee {
    fee_cents: i64,
}

pub(super) async fn api_fee(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    ApiStaff(staff): ApiStaff,
    body: Result<Json<Fee>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let f = json_body(body)?;
    st.desk.propose_fee(&staff, id, f.fee_cents).await?;
    Ok(Json(json!({"ok": true})))
}
