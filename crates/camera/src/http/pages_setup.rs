//! The setup guide: initialization as a plain form (the same core call as `POST
//! /api/init`), with the network and time settings, and every refusal shown on the form in
//! plain words. Secrets typed into the form are never sent back.

use super::AppState;
use super::error::ApiError;
use super::json::WebForm;
use super::web::{Chrome, MessagePage, chrome, render, with_retry};
use crate::core::CoreError;
use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use camkey_proto::api::{InitRequest, NetworkSettings, QuestionAnswer, TimeSettings};
use serde::Deserialize;
use std::net::SocketAddr;

/// The setup guide's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/setup", get(setup_page).post(setup_submit))
}

/// The setup form as posted (everything optional so that errors are ours to word).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SetupForm {
    setup_code: String,
    password: String,
    password2: String,
    recovery_email: String,
    q1: String,
    a1: String,
    q2: String,
    a2: String,
    q3: String,
    a3: String,
    network_mode: String,
    address: String,
    gateway: String,
    dns: String,
    time_mode: String,
    ntp_server: String,
    browser_time_ms: String,
    onvif: Option<String>,
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    c: Chrome,
    error: Option<String>,
    form: SetupForm,
    window_open: bool,
    window_minutes: u64,
    setup_code_required: bool,
    default_recovery: String,
}

fn setup_view(st: &AppState, error: Option<String>, mut form: SetupForm) -> SetupPage {
    // Secrets are never sent back to the browser.
    form.password.clear();
    form.password2.clear();
    form.a1.clear();
    form.a2.clear();
    form.a3.clear();
    let c = chrome(&st.core);
    SetupPage {
        c,
        error,
        form,
        window_open: st.core.init_window_open(),
        window_minutes: st.core.init_window_left_ms().div_ceil(60_000),
        setup_code_required: st.core.factory().model_info().setup_code_required,
        default_recovery: st.core.factory().default_recovery_address.clone(),
    }
}

async fn setup_page(State(st): State<AppState>) -> Response {
    if st.core.initialized() {
        return Redirect::to("/login").into_response();
    }
    render(StatusCode::OK, &setup_view(&st, None, SetupForm::default()))
}

fn init_request(f: &SetupForm) -> Result<InitRequest, String> {
    if f.password != f.password2 {
        return Err("The two passwords differ: type the same password twice.".into());
    }
    let mut questions = Vec::new();
    for (q, a) in [(&f.q1, &f.a1), (&f.q2, &f.a2), (&f.q3, &f.a3)] {
        match (q.trim().is_empty(), a.trim().is_empty()) {
            (true, true) => {}
            (false, false) => questions.push(QuestionAnswer {
                question: q.trim().into(),
                answer: a.clone(),
            }),
            (false, true) => {
                return Err(format!(
                    "Give an answer to \"{}\", or clear the question.",
                    q.trim()
                ));
            }
            (true, false) => {
                return Err(
                    "An answer has no question: write the question too, or clear the answer."
                        .into(),
                );
            }
        }
    }
    let network = if f.network_mode == "static" {
        NetworkSettings::Static {
            address: f.address.trim().into(),
            gateway: f.gateway.trim().into(),
            dns: Some(f.dns.trim().to_string()).filter(|d| !d.is_empty()),
        }
    } else {
        NetworkSettings::Dhcp
    };
    let time = if f.time_mode == "ntp" {
        if f.ntp_server.trim().is_empty() {
            return Err(
                "Enter the NTP server to follow, or choose to take this computer's time.".into(),
            );
        }
        TimeSettings {
            ntp_server: Some(f.ntp_server.trim().into()),
            set_time_ms: None,
        }
    } else {
        TimeSettings {
            ntp_server: None,
            set_time_ms: f.browser_time_ms.trim().parse().ok(),
        }
    };
    Ok(InitRequest {
        password: f.password.clone(),
        recovery_email: Some(f.recovery_email.trim().to_string()).filter(|e| !e.is_empty()),
        security_questions: questions,
        setup_code: Some(f.setup_code.trim().to_string()).filter(|c| !c.is_empty()),
        network: Some(network),
        time: Some(time),
        onvif: f.onvif.is_some(),
    })
}

async fn setup_submit(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    WebForm(form): WebForm<SetupForm>,
) -> Response {
    let req = match init_request(&form) {
        Ok(r) => r,
        Err(msg) => return render(StatusCode::BAD_REQUEST, &setup_view(&st, Some(msg), form)),
    };
    match st.core.init(req, peer.ip()).await {
        Ok(()) => {
            let c = chrome(&st.core);
            render(
                StatusCode::OK,
                &MessagePage {
                    c,
                    title: "The camera is set up".into(),
                    message: "The admin password is set. Sign in with the user name admin and your new password.".into(),
                    kind: "ok",
                    link: Some("/login"),
                    link_text: "Sign in",
                },
            )
        }
        Err(CoreError::AlreadyInitialized) => Redirect::to("/login").into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            let resp = render(e.status, &setup_view(&st, Some(e.message.clone()), form));
            with_retry(resp, &e)
        }
    }
}
