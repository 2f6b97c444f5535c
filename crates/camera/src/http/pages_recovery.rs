//! The "Forgot password?" pages: security questions, the e-mailed code and the QR code
//! with the vendor's security code. The same core calls as the API, as HTML forms that say
//! what to do next at every step.

use super::AppState;
use super::error::{ApiError, wait_words};
use super::json::WebForm;
use super::pages_account::LoginPageView;
use super::web::{Chrome, chrome, render, with_retry};
use crate::core::{CoreError, QrView, RecoveryMethods};
use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use std::net::SocketAddr;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/forgot", get(forgot))
        .route(
            "/forgot/questions",
            get(questions_page).post(questions_submit),
        )
        .route("/forgot/email", get(email_page).post(email_verify))
        .route("/forgot/email/send", post(email_send))
        .route("/forgot/qr", get(qr_page).post(qr_verify))
        .route("/forgot/qr/new", post(qr_new))
}

/// After any recovery: the sign-in page with a notice.
fn recovered(st: &AppState) -> Response {
    let page = LoginPageView::new(
        st,
        None,
        Some("The password is reset. Every session was signed out and every other account disabled. Sign in with the new password.".into()),
        "admin",
    );
    let mut resp = render(StatusCode::OK, &page);
    resp.headers_mut()
        .insert(header::SET_COOKIE, super::session_clear_cookie());
    resp
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    c: Chrome,
    m: RecoveryMethods,
}

async fn forgot(State(st): State<AppState>) -> Response {
    render(
        StatusCode::OK,
        &ForgotPage {
            c: chrome(&st.core),
            m: st.core.recovery_methods(),
        },
    )
}

fn unavailable(st: &AppState, e: CoreError) -> Response {
    let e = ApiError::from(e);
    let page = ForgotPage {
        c: chrome(&st.core),
        m: RecoveryMethods {
            message: e.message.clone(),
            ..st.core.recovery_methods()
        },
    };
    render(e.status, &page)
}

#[derive(Template)]
#[template(path = "forgot_questions.html")]
struct QuestionsPage {
    c: Chrome,
    questions: Vec<String>,
    error: Option<String>,
}

async fn questions_page(State(st): State<AppState>) -> Response {
    match st.core.recovery_questions() {
        Ok(questions) => render(
            StatusCode::OK,
            &QuestionsPage {
                c: chrome(&st.core),
                questions,
                error: None,
            },
        ),
        Err(e) => unavailable(&st, e),
    }
}

/// Answers and a new password.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AnswersForm {
    a0: String,
    a1: String,
    a2: String,
    new_password: String,
    new_password2: String,
}

const DIFFER: &str = "The two new passwords differ: type the same password twice.";

async fn questions_submit(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    WebForm(f): WebForm<AnswersForm>,
) -> Response {
    let questions = match st.core.recovery_questions() {
        Ok(q) => q,
        Err(e) => return unavailable(&st, e),
    };
    let page = |status, error: String| {
        render(
            status,
            &QuestionsPage {
                c: chrome(&st.core),
                questions: questions.clone(),
                error: Some(error),
            },
        )
    };
    if f.new_password != f.new_password2 {
        return page(StatusCode::BAD_REQUEST, DIFFER.into());
    }
    let answers: Vec<String> = [f.a0, f.a1, f.a2]
        .into_iter()
        .take(questions.len())
        .collect();
    match st
        .core
        .recover_with_answers(
            &answers,
            &f.new_password,
            peer.ip(),
            super::device_cookie(&headers),
        )
        .await
    {
        Ok(()) => recovered(&st),
        Err(e) => {
            let e = ApiError::from(e);
            with_retry(page(e.status, e.message.clone()), &e)
        }
    }
}

#[derive(Template)]
#[template(path = "forgot_email.html")]
struct EmailPage {
    c: Chrome,
    hint: String,
    error: Option<String>,
    notice: Option<String>,
}

fn email_view(
    st: &AppState,
    error: Option<String>,
    notice: Option<String>,
) -> Result<EmailPage, CoreError> {
    if !st.core.recovery_methods().methods.contains(&"email") {
        return Err(CoreError::MethodUnavailable(
            "This camera cannot e-mail a code: the owner set no recovery address, or no mail server works. Choose another way.",
        ));
    }
    let hint = st
        .core
        .settings()
        .recovery_email
        .as_deref()
        .map(camkey_proto::challenge::address_hint)
        .unwrap_or_default();
    Ok(EmailPage {
        c: chrome(&st.core),
        hint,
        error,
        notice,
    })
}

async fn email_page(State(st): State<AppState>) -> Response {
    match email_view(&st, None, None) {
        Ok(p) => render(StatusCode::OK, &p),
        Err(e) => unavailable(&st, e),
    }
}

async fn email_send(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    let (status, error, notice, api) = match st.core.send_email_code(peer.ip()).await {
        Ok((to, _)) => (
            StatusCode::OK,
            None,
            Some(format!(
                "A code is on its way to {to}. Type it below within 10 minutes, with a new password."
            )),
            None,
        ),
        Err(e) => {
            let e = ApiError::from(e);
            (e.status, Some(e.message.clone()), None, Some(e))
        }
    };
    match email_view(&st, error, notice) {
        Ok(p) => {
            let resp = render(status, &p);
            match api {
                Some(e) => with_retry(resp, &e),
                None => resp,
            }
        }
        Err(e) => unavailable(&st, e),
    }
}

/// A code and a new password.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    code: String,
    new_password: String,
    new_password2: String,
}

impl CodeForm {
    /// The new password, if it was typed the same twice.
    fn new_password(&self) -> Result<&str, ApiError> {
        if self.new_password == self.new_password2 {
            Ok(&self.new_password)
        } else {
            Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "passwords_differ",
                DIFFER,
            ))
        }
    }
}

async fn email_verify(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    WebForm(f): WebForm<CodeForm>,
) -> Response {
    let result = match f.new_password() {
        Ok(new) => st
            .core
            .recover_with_email_code(&f.code, new, peer.ip())
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => recovered(&st),
        Err(e) => {
            let resp = match email_view(&st, Some(e.message.clone()), None) {
                Ok(p) => render(e.status, &p),
                Err(u) => unavailable(&st, u),
            };
            with_retry(resp, &e)
        }
    }
}

#[derive(Template)]
#[template(path = "forgot_qr.html")]
struct QrPage {
    c: Chrome,
    qr: QrView,
    days_left: u64,
    new_allowed_words: String,
    error: Option<String>,
    notice: Option<String>,
}

fn qr_page_for(st: &AppState, qr: QrView, error: Option<String>, notice: Option<String>) -> QrPage {
    QrPage {
        c: chrome(&st.core),
        days_left: qr.expires_in.div_ceil(86_400),
        new_allowed_words: wait_words(qr.new_allowed_in),
        qr,
        error,
        notice,
    }
}

fn qr_response(
    st: &AppState,
    peer: SocketAddr,
    status: StatusCode,
    error: Option<ApiError>,
    notice: Option<String>,
) -> Response {
    match st.core.qr_challenge(peer.ip()) {
        Ok(qr) => {
            let resp = render(
                status,
                &qr_page_for(st, qr, error.as_ref().map(|e| e.message.clone()), notice),
            );
            match error {
                Some(e) => with_retry(resp, &e),
                None => resp,
            }
        }
        Err(e) => unavailable(st, e),
    }
}

async fn qr_page(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    qr_response(&st, peer, StatusCode::OK, None, None)
}

async fn qr_new(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    match st.core.new_qr_challenge(peer.ip()) {
        Ok(_) => qr_response(
            &st,
            peer,
            StatusCode::OK,
            None,
            Some("Here is a new QR code. The previous one still works too.".into()),
        ),
        Err(CoreError::MethodUnavailable(m)) => unavailable(&st, CoreError::MethodUnavailable(m)),
        Err(e) => {
            let e = ApiError::from(e);
            qr_response(&st, peer, e.status, Some(e), None)
        }
    }
}

async fn qr_verify(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    WebForm(f): WebForm<CodeForm>,
) -> Response {
    let result = match f.new_password() {
        Ok(new) => st
            .core
            .recover_with_security_code(&f.code, new, peer.ip())
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => recovered(&st),
        Err(e) => qr_response(&st, peer, e.status, Some(e), None),
    }
}
