//! The camera's REST API (DESIGN §4), JSON under `/api`.

use super::error::ApiError;
use super::json::ApiJson;
use super::{AppState, Authed, session_clear_cookie, session_set_cookie};
use axum::extract::{ConnectInfo, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use camkey_proto::api::{
    AuditEntry, DeviceInfo, InitRequest, LoginRequest, LoginResponse, PasswordChange,
};
use serde_json::json;
use std::net::SocketAddr;

/// The API's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/device", get(device))
        .route("/init", post(init))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/password", post(password))
        .route("/audit", get(audit))
        .fallback(|| async { ApiError::not_found() })
}

async fn device(State(st): State<AppState>) -> Json<DeviceInfo> {
    Json(st.core.device_info())
}

async fn init(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<InitRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    st.core.init(req, peer.ip()).await?;
    Ok(Json(json!({
        "initialized": true,
        "message": "The camera is initialized. Sign in as admin with the password you chose."
    })))
}

async fn login(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let token = st
        .core
        .login(&req.username, &req.password, peer.ip())
        .await?;
    let idle = st.core.session_idle_secs();
    let cookie = session_set_cookie(&token, idle);
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(LoginResponse {
            token,
            expires_in: idle,
        }),
    )
        .into_response())
}

async fn logout(State(st): State<AppState>, auth: Authed) -> Response {
    st.core.logout(&auth.token);
    (
        [(header::SET_COOKIE, session_clear_cookie())],
        Json(json!({"signed_out": true})),
    )
        .into_response()
}

async fn password(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    auth: Authed,
    ApiJson(req): ApiJson<PasswordChange>,
) -> Result<Response, ApiError> {
    st.core
        .change_password(&auth.user, &req.old_password, &req.new_password, peer.ip())
        .await?;
    Ok((
        [(header::SET_COOKIE, session_clear_cookie())],
        Json(json!({
            "changed": true,
            "message": "Password changed. Every session has ended: sign in again with the new password."
        })),
    )
        .into_response())
}

async fn audit(State(st): State<AppState>, _auth: Authed) -> Json<Vec<AuditEntry>> {
    Json(st.core.audit())
}
