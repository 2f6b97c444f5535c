//! The frame of the camera's pages and the pages that need nothing else: the start page
//! (device, network, time, recovery at a glance), the audit log, the reset help page and the
//! static files. Plain HTML forms that work without script; every error is a page in plain
//! words that says what to do next ([`PageError`]).

use super::AppState;
use super::error::{self, ApiError};
use super::session_cookie;
use crate::core::Core;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use camkey_proto::api::{AuditEntry, NetworkSettings};
use camkey_web::error::set_retry_after;
use camkey_web::render::{asset, html};

/// The pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/audit", get(audit_page))
        .route("/help", get(help_page))
        .route(
            "/static/camkey.css",
            asset("text/css", include_str!("../../static/camkey.css")),
        )
        .route(
            "/static/camkey.js",
            asset("text/javascript", include_str!("../../static/camkey.js")),
        )
        .fallback(|State(st): State<AppState>| async move {
            PageError::new(&st.core, error::not_found())
        })
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

/// Renders a page with a status (a template that fails is the camera's 500).
pub fn render(status: StatusCode, t: &impl Template) -> Response {
    html(status, t).unwrap_or_else(|e| error::internal(&e).into_response())
}

/// A response with the `Retry-After` of the error it shows.
pub fn with_retry(mut resp: Response, e: &ApiError) -> Response {
    set_retry_after(&mut resp, e.retry_after);
    resp
}

/// A page with a title, a message and one link.
#[derive(Template)]
#[template(path = "message.html")]
pub(super) struct MessagePage {
    pub(super) c: Chrome,
    pub(super) title: String,
    pub(super) message: String,
    pub(super) kind: &'static str,
    pub(super) link: Option<&'static str>,
    pub(super) link_text: &'static str,
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
        with_retry(render(e.status, &page), &e)
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
        "forbidden" => "For Administrators only",
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

/// The signed-in Administrator of a page that changes settings: anyone else signed in
/// gets a 403 page saying so, anyone not signed in is sent to sign in.
pub struct PageAdmin(pub String);

impl axum::extract::FromRequestParts<AppState> for PageAdmin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        st: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(user) = page_user(st, &parts.headers) else {
            return Err(Redirect::to("/login").into_response());
        };
        if st.core.role(&user) != Some(crate::state::Role::Administrator) {
            return Err(PageError::new(&st.core, error::forbidden()).into_response());
        }
        Ok(PageAdmin(user))
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
    let admin = st.core.role(&user) == Some(crate::state::Role::Administrator);
    let page = HomePage {
        c: chrome(&st.core),
        user,
        admin,
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
    admin: bool,
    mac: String,
    network: String,
    time: String,
    recovery: String,
    questions: String,
    button: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    entries: Vec<AuditEntry>,
}

async fn audit_page(State(st): State<AppState>, _user: PageAdmin) -> Response {
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
