//! The camera's REST API (docs/design.md §4), JSON under `/api`.

use super::error::{self, ApiError};
use super::json::ApiJson;
use super::{
    Admin, AppState, Authed, device_cookie, device_set_cookie, session_clear_cookie,
    session_set_cookie,
};
use crate::core::{QrView, RecoveryMethods, SettingsView, UserView};
use crate::mail::SmtpSettings;
use crate::state::Role;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use camkey_proto::api::{
    AuditEntry, DeviceInfo, InitRequest, LoginRequest, LoginResponse, PasswordChange,
    QuestionAnswer,
};
use serde::Deserialize;
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
        .route("/recovery", get(recovery))
        .route("/recovery/questions", get(questions).post(answer_questions))
        .route("/recovery/email", post(send_email_code))
        .route("/recovery/email/verify", post(verify_email_code))
        .route("/recovery/qr", get(qr).post(verify_security_code))
        .route("/recovery/qr/new", post(new_qr))
        .route("/settings", get(settings))
        .route("/settings/recovery-email", post(set_recovery_email))
        .route("/settings/questions", post(set_questions))
        .route("/settings/smtp", post(set_smtp))
        .route("/settings/smtp/test", post(test_mail))
        .route("/users", get(users))
        .route("/onvif-access", post(onvif_access))
        .fallback(|| async { error::not_found() })
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
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let ok = st
        .core
        .sign_in(
            &req.username,
            &req.password,
            peer.ip(),
            device_cookie(&headers),
        )
        .await?;
    let idle = st.core.session_idle_secs();
    let cookies: Vec<_> = std::iter::once(session_set_cookie(&ok.token, idle))
        .chain(ok.device_cookie.as_deref().and_then(device_set_cookie))
        .map(|c| (header::SET_COOKIE, c))
        .collect();
    Ok((
        AppendHeaders(cookies),
        Json(LoginResponse {
            token: ok.token,
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

async fn audit(State(st): State<AppState>, _auth: Admin) -> Json<Vec<AuditEntry>> {
    Json(st.core.audit())
}

async fn recovery(State(st): State<AppState>) -> Json<RecoveryMethods> {
    Json(st.core.recovery_methods())
}

async fn questions(State(st): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!({ "questions": st.core.recovery_questions()? })))
}

/// `POST /recovery/questions`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answers {
    answers: Vec<String>,
    new_password: String,
}

const RECOVERED: &str = "The password is reset. Every session was signed out and every other account disabled. Sign in as admin with the new password.";

async fn answer_questions(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<Answers>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if req.answers.len() > camkey_proto::policy::MAX_QUESTIONS {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_request",
            "Give one answer per question.",
        ));
    }
    st.core
        .recover_with_answers(
            &req.answers,
            &req.new_password,
            peer.ip(),
            device_cookie(&headers),
        )
        .await?;
    Ok(Json(json!({"recovered": true, "message": RECOVERED})))
}

async fn send_email_code(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (to, ttl) = st.core.send_email_code(peer.ip()).await?;
    Ok(Json(json!({
        "sent": true,
        "to": to,
        "expires_in": ttl,
        "message": format!("A code is on its way to {to}. Type it here within 10 minutes, with a new password.")
    })))
}

/// A code and a new password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeAndPassword {
    code: String,
    new_password: String,
}

async fn verify_email_code(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<CodeAndPassword>,
) -> Result<Json<serde_json::Value>, ApiError> {
    st.core
        .recover_with_email_code(&req.code, &req.new_password, peer.ip())
        .await?;
    Ok(Json(json!({"recovered": true, "message": RECOVERED})))
}

async fn qr(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Json<QrView>, ApiError> {
    Ok(Json(st.core.qr_challenge(peer.ip())?))
}

async fn new_qr(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Json<QrView>, ApiError> {
    Ok(Json(st.core.new_qr_challenge(peer.ip())?))
}

async fn verify_security_code(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<CodeAndPassword>,
) -> Result<Json<serde_json::Value>, ApiError> {
    st.core
        .recover_with_security_code(&req.code, &req.new_password, peer.ip())
        .await?;
    Ok(Json(json!({"recovered": true, "message": RECOVERED})))
}

async fn settings(State(st): State<AppState>, _auth: Admin) -> Json<SettingsView> {
    Json(st.core.settings())
}

/// `POST /settings/recovery-email`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecoveryEmail {
    current_password: String,
    recovery_email: Option<String>,
}

async fn set_recovery_email(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Admin(auth): Admin,
    ApiJson(req): ApiJson<RecoveryEmail>,
) -> Result<Json<SettingsView>, ApiError> {
    st.core
        .set_recovery_email(
            &auth.user,
            &req.current_password,
            req.recovery_email.as_deref(),
            peer.ip(),
        )
        .await?;
    Ok(Json(st.core.settings()))
}

/// `POST /settings/questions`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Questions {
    current_password: String,
    #[serde(default)]
    security_questions: Option<Vec<QuestionAnswer>>,
    #[serde(default)]
    enabled: Option<bool>,
}

async fn set_questions(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Admin(auth): Admin,
    ApiJson(req): ApiJson<Questions>,
) -> Result<Json<SettingsView>, ApiError> {
    st.core
        .set_questions(
            &auth.user,
            &req.current_password,
            req.security_questions,
            req.enabled,
            peer.ip(),
        )
        .await?;
    Ok(Json(st.core.settings()))
}

/// `POST /settings/smtp`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Smtp {
    current_password: String,
    smtp: Option<SmtpSettings>,
}

async fn set_smtp(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Admin(auth): Admin,
    ApiJson(req): ApiJson<Smtp>,
) -> Result<Json<SettingsView>, ApiError> {
    st.core
        .set_smtp(&auth.user, &req.current_password, req.smtp, peer.ip())
        .await?;
    Ok(Json(st.core.settings()))
}

async fn test_mail(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Admin(auth): Admin,
) -> Result<Json<serde_json::Value>, ApiError> {
    let to = st.core.test_mail(&auth.user, peer.ip()).await?;
    Ok(Json(json!({"sent": true, "to": to})))
}

async fn users(State(st): State<AppState>, _auth: Admin) -> Json<Vec<UserView>> {
    Json(st.core.users())
}

/// `POST /onvif-access`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OnvifAccess {
    enabled: bool,
    /// The account's current password (needed to switch access on).
    #[serde(default)]
    password: Option<String>,
    /// Another account than the signed-in one (an Administrator's change).
    #[serde(default)]
    user: Option<String>,
}

async fn onvif_access(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    auth: Authed,
    ApiJson(req): ApiJson<OnvifAccess>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = req.user.unwrap_or_else(|| auth.user.clone());
    if user != auth.user && auth.role != Role::Administrator {
        return Err(error::forbidden());
    }
    st.core
        .set_onvif_access(&user, req.enabled, req.password.as_deref(), peer.ip())
        .await?;
    Ok(Json(json!({
        "user": user,
        "onvif": req.enabled,
        "message": if req.enabled {
            "ONVIF clients (NVRs, Home Assistant) can now sign in with this account's password."
        } else {
            "ONVIF access is off: the camera no longer keeps this password in a form ONVIF clients can use."
        }
    })))
}
