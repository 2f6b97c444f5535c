//! The recovery settings page: the recovery address, the security questions and the
//! camera's own mail server, each saved only with the current password, and a test mail.

use super::AppState;
use super::error::ApiError;
use super::json::WebForm;
use super::web::{Chrome, PageAdmin, chrome, render, with_retry};
use crate::core::{CoreError, SettingsView};
use crate::mail::{SmtpSettings, TlsMode};
use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use camkey_proto::api::QuestionAnswer;
use serde::Deserialize;
use std::net::SocketAddr;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings", get(settings_page))
        .route("/settings/recovery-email", post(set_recovery))
        .route("/settings/questions", post(set_questions))
        .route("/settings/smtp", post(set_smtp))
        .route("/settings/smtp/test", post(test_mail))
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    c: Chrome,
    s: SettingsView,
    error: Option<String>,
    notice: Option<String>,
    smtp_server: String,
    smtp_port: String,
    smtp_tls: String,
    smtp_username: String,
    smtp_sender: String,
}

fn settings_view(st: &AppState, error: Option<String>, notice: Option<String>) -> SettingsPage {
    let s = st.core.settings();
    let own = s.smtp.as_ref().filter(|m| !m.default);
    SettingsPage {
        c: chrome(&st.core),
        smtp_server: own.map(|m| m.server.clone()).unwrap_or_default(),
        smtp_port: own.map(|m| m.port.to_string()).unwrap_or_default(),
        smtp_tls: own
            .map(|m| format!("{:?}", m.tls).to_lowercase())
            .unwrap_or_else(|| "starttls".into()),
        smtp_username: own.and_then(|m| m.username.clone()).unwrap_or_default(),
        smtp_sender: own.map(|m| m.sender.clone()).unwrap_or_default(),
        s,
        error,
        notice,
    }
}

fn settings_result(st: &AppState, result: Result<String, CoreError>) -> Response {
    match result {
        Ok(notice) => render(StatusCode::OK, &settings_view(st, None, Some(notice))),
        Err(e) => {
            let e = ApiError::from(e);
            with_retry(
                render(e.status, &settings_view(st, Some(e.message.clone()), None)),
                &e,
            )
        }
    }
}

async fn settings_page(State(st): State<AppState>, _user: PageAdmin) -> Response {
    render(StatusCode::OK, &settings_view(&st, None, None))
}

/// The recovery-address form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RecoveryForm {
    recovery_email: String,
    current_password: String,
}

async fn set_recovery(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PageAdmin(user): PageAdmin,
    WebForm(f): WebForm<RecoveryForm>,
) -> Response {
    let addr = Some(f.recovery_email.trim()).filter(|a| !a.is_empty());
    let r = st
        .core
        .set_recovery_email(&user, &f.current_password, addr, peer.ip())
        .await
        .map(|()| "The recovery address is saved.".to_string());
    settings_result(&st, r)
}

/// The questions form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct QuestionsForm {
    enabled: Option<String>,
    q1: String,
    a1: String,
    q2: String,
    a2: String,
    q3: String,
    a3: String,
    current_password: String,
}

async fn set_questions(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PageAdmin(user): PageAdmin,
    WebForm(f): WebForm<QuestionsForm>,
) -> Response {
    let qs: Vec<QuestionAnswer> = [(f.q1, f.a1), (f.q2, f.a2), (f.q3, f.a3)]
        .into_iter()
        .filter(|(q, a)| !q.trim().is_empty() || !a.trim().is_empty())
        .map(|(question, answer)| QuestionAnswer { question, answer })
        .collect();
    let questions = (!qs.is_empty()).then_some(qs);
    let r = st
        .core
        .set_questions(
            &user,
            &f.current_password,
            questions,
            Some(f.enabled.is_some()),
            peer.ip(),
        )
        .await
        .map(|()| "The security questions are saved.".to_string());
    settings_result(&st, r)
}

/// The SMTP form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SmtpForm {
    server: String,
    port: String,
    tls: String,
    username: String,
    password: String,
    sender: String,
    current_password: String,
}

async fn set_smtp(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PageAdmin(user): PageAdmin,
    WebForm(f): WebForm<SmtpForm>,
) -> Response {
    let settings = if f.server.trim().is_empty() {
        None
    } else {
        let tls = match f.tls.as_str() {
            "none" => TlsMode::None,
            "tls" => TlsMode::Tls,
            _ => TlsMode::Starttls,
        };
        let Ok(port) = f.port.trim().parse::<u16>() else {
            return settings_result(
                &st,
                Err(CoreError::BadSetting(
                    "The mail server port must be a number between 1 and 65535.".into(),
                )),
            );
        };
        let opt = |s: String| Some(s).filter(|s| !s.is_empty());
        Some(SmtpSettings {
            server: f.server.trim().into(),
            port,
            tls,
            username: opt(f.username.trim().to_string()),
            password: opt(f.password),
            sender: f.sender.trim().into(),
        })
    };
    let r = st
        .core
        .set_smtp(&user, &f.current_password, settings, peer.ip())
        .await
        .map(|()| "The mail server is saved. Send a test mail to check it.".to_string());
    settings_result(&st, r)
}

async fn test_mail(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PageAdmin(user): PageAdmin,
) -> Response {
    let r = st
        .core
        .test_mail(&user, peer.ip())
        .await
        .map(|to| format!("A test mail went to {to}."));
    settings_result(&st, r)
}
