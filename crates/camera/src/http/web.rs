//! The camera's web pages: a setup guide while uninitialized, then sign-in, the device
//! page, password change and the audit log. Plain HTML forms that work without script;
//! every error is a page in plain words that says what to do next.

use super::error::{ApiError, wait_words};
use super::json::WebForm;
use super::{
    AppState, device_cookie, device_set_cookie, session_clear_cookie, session_cookie,
    session_set_cookie,
};
use crate::core::{Core, CoreError};
use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{AppendHeaders, Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use camkey_proto::api::{AuditEntry, InitRequest, NetworkSettings, QuestionAnswer, TimeSettings};
use serde::Deserialize;
use std::net::SocketAddr;

/// The pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/setup", get(setup_page).post(setup_submit))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", axum::routing::post(logout))
        .route("/password", get(password_page).post(password_submit))
        .route("/audit", get(audit_page))
        .route("/help", get(help_page))
        .route(
            "/static/camkey.css",
            get(|| static_file("text/css", include_str!("../../static/camkey.css"))),
        )
        .route(
            "/static/camkey.js",
            get(|| static_file("text/javascript", include_str!("../../static/camkey.js"))),
        )
        .fallback(|State(st): State<AppState>| async move {
            PageError::new(&st.core, ApiError::not_found())
        })
}

async fn static_file(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// What every page shows in its frame.
#[derive(Clone)]
pub struct Chrome {
    /// Model.
    pub model: String,
    /// Serial.
    pub serial: String,
    /// Firmware.
    pub firmware: String,
}

/// The frame of a camera's pages.
pub fn chrome(core: &Core) -> Chrome {
    let f = core.factory();
    Chrome {
        model: f.model.clone(),
        serial: f.serial.clone(),
        firmware: f.firmware.clone(),
    }
}

/// Renders a page with a status.
pub fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    c: Chrome,
    title: String,
    message: String,
    kind: &'static str,
    link: Option<&'static str>,
    link_text: &'static str,
}

/// An error shown as a page (the same words as the API's), in the camera's frame.
pub struct PageError(pub ApiError, pub Chrome);

impl PageError {
    /// The page for `e` on this camera.
    pub fn new(core: &Core, e: ApiError) -> Self {
        PageError(e, chrome(core))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let PageError(e, c) = self;
        let (link, link_text) = match e.code {
            "not_initialized" => (Some("/setup"), "Open the setup guide"),
            "unauthorized" => (Some("/login"), "Sign in"),
            _ => (Some("/"), "Back to the camera's start page"),
        };
        let page = MessagePage {
            c,
            title: title_for(e.code).into(),
            message: e.message.clone(),
            kind: "error",
            link,
            link_text,
        };
        let mut resp = render(e.status, &page);
        if let Some(secs) = e.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

fn title_for(code: &str) -> &'static str {
    match code {
        "not_initialized" => "Set up this camera first",
        "unauthorized" => "Please sign in",
        "cross_site_request" => "Request refused",
        "not_found" => "Page not found",
        "too_large" => "Too much data",
        "locked_out" | "slow_down" => "Too many attempts",
        "init_window_closed" => "Setup has closed",
        _ => "Something went wrong",
    }
}

/// The signed-in account of a page; pages that need one send everyone else to sign in.
pub struct PageUser(pub String);

impl axum::extract::FromRequestParts<AppState> for PageUser {
    type Rejection = Redirect;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        st: &AppState,
    ) -> Result<Self, Self::Rejection> {
        page_user(st, &parts.headers)
            .map(PageUser)
            .ok_or_else(|| Redirect::to("/login"))
    }
}

/// The signed-in account of a page request (cookie only).
pub fn page_user(st: &AppState, headers: &HeaderMap) -> Option<String> {
    session_cookie(headers).and_then(|t| st.core.session(t))
}

async fn home(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if !st.core.initialized() {
        return Redirect::to("/setup").into_response();
    }
    let Some(user) = page_user(&st, &headers) else {
        return Redirect::to("/login").into_response();
    };
    let s = st.core.state();
    let f = st.core.factory();
    let m = f.model_info();
    let page = HomePage {
        c: chrome(&st.core),
        user,
        mac: f.mac.clone(),
        network: match &s.network {
            NetworkSettings::Dhcp => "automatic (DHCP)".into(),
            NetworkSettings::Static {
                address,
                gateway,
                dns,
            } => format!(
                "fixed {address}, gateway {gateway}{}",
                dns.as_deref()
                    .map(|d| format!(", DNS {d}"))
                    .unwrap_or_default()
            ),
        },
        time: format!(
            "{} ({})",
            crate::core::format_wall(st.core.clock().wall_ms()),
            match (&s.time.source, &s.time.ntp_server) {
                (_, Some(ntp)) => format!("NTP server {ntp}"),
                (Some(src), None) => format!("set from the {src}"),
                (None, None) => "never set".into(),
            }
        ),
        recovery: s.recovery_email.clone().unwrap_or_else(|| {
            format!(
                "not set: the vendor's support desk ({})",
                f.default_recovery_address
            )
        }),
        questions: format!(
            "{} set{}",
            s.questions.len(),
            if s.questions_enabled {
                ""
            } else {
                ", switched off"
            }
        ),
        button: if m.reset_button.present {
            format!("{} (hold {} s)", m.reset_button.location, m.reset_hold_secs)
        } else {
            m.reset_button.location.to_string()
        },
    };
    render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    c: Chrome,
    user: String,
    mac: String,
    network: String,
    time: String,
    recovery: String,
    questions: String,
    button: String,
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
            let mut resp = render(e.status, &setup_view(&st, Some(e.message.clone()), form));
            if let Some(s) = e.retry_after
                && let Ok(v) = HeaderValue::from_str(&s.to_string())
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
    }
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPageView {
    c: Chrome,
    error: Option<String>,
    notice: Option<String>,
    username: String,
}

impl LoginPageView {
    /// The sign-in page with an error or a notice.
    pub fn new(
        st: &AppState,
        error: Option<String>,
        notice: Option<String>,
        username: &str,
    ) -> Self {
        LoginPageView {
            c: chrome(&st.core),
            error,
            notice,
            username: username.chars().take(64).collect(),
        }
    }
}

fn login_view(
    st: &AppState,
    error: Option<String>,
    notice: Option<String>,
    username: &str,
) -> LoginPageView {
    LoginPageView::new(st, error, notice, username)
}

async fn login_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if page_user(&st, &headers).is_some() {
        return Redirect::to("/").into_response();
    }
    render(StatusCode::OK, &login_view(&st, None, None, "admin"))
}

/// The sign-in form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    username: String,
    password: String,
}

async fn login_submit(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    WebForm(form): WebForm<LoginForm>,
) -> Response {
    match st
        .core
        .sign_in(
            &form.username,
            &form.password,
            peer.ip(),
            device_cookie(&headers),
        )
        .await
    {
        Ok(ok) => {
            let cookies: Vec<_> =
                std::iter::once(session_set_cookie(&ok.token, st.core.session_idle_secs()))
                    .chain(ok.device_cookie.as_deref().and_then(device_set_cookie))
                    .map(|c| (header::SET_COOKIE, c))
                    .collect();
            (AppendHeaders(cookies), Redirect::to("/")).into_response()
        }
        Err(e) => {
            let e = ApiError::from(e);
            let msg = match e.retry_after {
                Some(secs) => format!(
                    "{} For your safety the camera waits before it accepts another try: come back {}.",
                    e.message,
                    wait_words(secs)
                ),
                None => e.message.clone(),
            };
            let mut resp = render(e.status, &login_view(&st, Some(msg), None, &form.username));
            if let Some(s) = e.retry_after
                && let Ok(v) = HeaderValue::from_str(&s.to_string())
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
    }
}

async fn logout(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(t) = session_cookie(&headers) {
        st.core.logout(t);
    }
    (
        [(header::SET_COOKIE, session_clear_cookie())],
        Redirect::to("/login"),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    c: Chrome,
    error: Option<String>,
}

async fn password_page(State(st): State<AppState>, _user: PageUser) -> Response {
    render(
        StatusCode::OK,
        &PasswordPage {
            c: chrome(&st.core),
            error: None,
        },
    )
}

/// The password-change form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    old_password: String,
    new_password: String,
    new_password2: String,
}

async fn password_submit(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PageUser(user): PageUser,
    WebForm(form): WebForm<PasswordForm>,
) -> Response {
    let c = chrome(&st.core);
    if form.new_password != form.new_password2 {
        let error = Some("The two new passwords differ: type the same password twice.".into());
        return render(StatusCode::BAD_REQUEST, &PasswordPage { c, error });
    }
    match st
        .core
        .change_password(&user, &form.old_password, &form.new_password, peer.ip())
        .await
    {
        Ok(()) => {
            let page = login_view(
                &st,
                None,
                Some(
                    "Password changed. Every session has ended: sign in with the new password."
                        .into(),
                ),
                &user,
            );
            let mut resp = render(StatusCode::OK, &page);
            resp.headers_mut()
                .insert(header::SET_COOKIE, session_clear_cookie());
            resp
        }
        Err(e) => {
            let e = ApiError::from(e);
            render(
                e.status,
                &PasswordPage {
                    c,
                    error: Some(e.message),
                },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    entries: Vec<AuditEntry>,
}

async fn audit_page(State(st): State<AppState>, _user: PageUser) -> Response {
    let mut entries = st.core.audit();
    entries.reverse();
    render(
        StatusCode::OK,
        &AuditPage {
            c: chrome(&st.core),
            entries,
        },
    )
}

#[derive(Template)]
#[template(path = "help.html")]
struct HelpPage {
    c: Chrome,
    web_reset: bool,
    reset_address: String,
    guide: camkey_proto::guides::ResetGuide,
}

async fn help_page(State(st): State<AppState>) -> Response {
    let f = st.core.factory();
    let m = f.model_info();
    render(
        StatusCode::OK,
        &HelpPage {
            c: chrome(&st.core),
            web_reset: m.web_reset,
            reset_address: f.reset_address.clone(),
            guide: camkey_proto::guides::reset_guide(m),
        },
    )
}
