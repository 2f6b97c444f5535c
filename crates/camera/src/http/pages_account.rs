//! Signing in and out, changing the password and switching ONVIF access for one's own
//! account: the same core calls as the API, as forms. A sign-in sets the session cookie and
//! the device cookie (S4); a password change ends every session and says so.

use super::error::{ApiError, wait_words};
use super::json::WebForm;
use super::web::{Chrome, PageUser, chrome, page_user, render, with_retry};
use super::{
    AppState, device_cookie, device_set_cookie, session_clear_cookie, session_cookie,
    session_set_cookie,
};
use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::net::SocketAddr;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/password", get(password_page).post(password_submit))
        .route("/account/onvif", post(onvif_submit))
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
            let resp = render(e.status, &login_view(&st, Some(msg), None, &form.username));
            with_retry(resp, &e)
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

/// The account page: the password change and the ONVIF switch.
#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    c: Chrome,
    error: Option<String>,
    notice: Option<String>,
    user: String,
    onvif: bool,
}

fn account_view(
    st: &AppState,
    user: &str,
    error: Option<String>,
    notice: Option<String>,
) -> PasswordPage {
    let onvif = st.core.users().iter().any(|u| u.name == user && u.onvif);
    PasswordPage {
        c: chrome(&st.core),
        error,
        notice,
        user: user.to_string(),
        onvif,
    }
}

async fn password_page(State(st): State<AppState>, PageUser(user): PageUser) -> Response {
    render(StatusCode::OK, &account_view(&st, &user, None, None))
}

/// The ONVIF-access form: the switch, and the password to switch it on.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OnvifForm {
    onvif: Option<String>,
    password: String,
}

async fn onvif_submit(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PageUser(user): PageUser,
    WebForm(form): WebForm<OnvifForm>,
) -> Response {
    let enable = form.onvif.is_some();
    let password = Some(form.password.as_str()).filter(|p| !p.is_empty());
    match st
        .core
        .set_onvif_access(&user, enable, password, peer.ip())
        .await
    {
        Ok(()) => {
            let notice = if enable {
                "ONVIF clients (NVRs, Home Assistant) can now sign in with this account's password."
            } else {
                "ONVIF access is off: the camera no longer keeps this password in a form ONVIF clients can use."
            };
            render(
                StatusCode::OK,
                &account_view(&st, &user, None, Some(notice.into())),
            )
        }
        Err(e) => {
            let e = ApiError::from(e);
            let resp = render(
                e.status,
                &account_view(&st, &user, Some(e.message.clone()), None),
            );
            with_retry(resp, &e)
        }
    }
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
    if form.new_password != form.new_password2 {
        let error = Some("The two new passwords differ: type the same password twice.".into());
        return render(
            StatusCode::BAD_REQUEST,
            &account_view(&st, &user, error, None),
        );
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
            render(e.status, &account_view(&st, &user, Some(e.message), None))
        }
    }
}
