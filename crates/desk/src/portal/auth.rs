//! Who is asking: staff on the JSON API by `Authorization: Bearer TOKEN` ([`ApiStaff`]),
//! staff on the portal's pages by the session cookie ([`CookieStaff`]), and forms checked
//! against the session's CSRF token ([`CsrfForm`]); signing in (within the limits of
//! [`crate::signin`]) and out.

use super::COOKIE;
use super::errors::{ApiError, csrf_refused, form_body, json_body, unauthorized};
use crate::DeskState as AppState;
use crate::desk::DeskError;
use crate::signin::Refusal;
use crate::staff::{Role, Staff, StaffError};
use askama::Template;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use camkey_web::client::Client;
use camkey_web::render::render;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::marker::PhantomData;
use subtle::ConstantTimeEq;

fn bearer(h: &HeaderMap) -> Option<&str> {
    h.get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn cookie(h: &HeaderMap) -> Option<String> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == COOKIE || k == format!("__Host-{COOKIE}")).then(|| v.to_string())
        })
}

/// The staff member whose session the cookie names, if it is live.
async fn cookie_session(st: &AppState, h: &HeaderMap) -> Option<Staff> {
    let token = cookie(h)?;
    crate::staff::session(&*st.desk.store, &token, st.desk.clock.wall_ms())
        .await
        .ok()
        .flatten()
}

/// Staff signed in on the API with `Authorization: Bearer TOKEN` (cookies are ignored);
/// otherwise `401` JSON.
pub(super) struct ApiStaff(pub(super) Staff);

impl FromRequestParts<AppState> for ApiStaff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or_else(unauthorized)?;
        crate::staff::session(&*st.desk.store, token, st.desk.clock.wall_ms())
            .await
            .map_err(|e| ApiError::from(DeskError::Store(e)))?
            .ok_or_else(unauthorized)
            .map(ApiStaff)
    }
}

/// What a portal request without a live session gets.
pub(super) trait NoSession {
    /// The response.
    fn refusal() -> Response;
}

/// A browser is sent to the sign-in page.
pub(super) struct ToSignIn;

impl NoSession for ToSignIn {
    fn refusal() -> Response {
        Redirect::to("/staff/login").into_response()
    }
}

/// `401`: the session ended (a case's forms).
pub(super) struct SessionEnded;

impl NoSession for SessionEnded {
    fn refusal() -> Response {
        ApiError(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Your session ended: sign in again.".into(),
        )
        .into_response()
    }
}

/// `401` with the API's message (opening a case, adding staff).
pub(super) struct SignInFirst;

impl NoSession for SignInFirst {
    fn refusal() -> Response {
        unauthorized().into_response()
    }
}

/// Staff signed in on the portal with the session cookie; without a live session, what
/// `R` says.
pub(super) struct CookieStaff<R: NoSession> {
    pub(super) staff: Staff,
    refusal: PhantomData<R>,
}

/// Staff on a portal page: without a session, to the sign-in page.
pub(super) type PageStaff = CookieStaff<ToSignIn>;

/// The session's CSRF token, left by [`CookieStaff`] for [`CsrfForm`].
#[derive(Clone)]
pub(super) struct SessionCsrf(String);

impl<R: NoSession> FromRequestParts<AppState> for CookieStaff<R> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        let staff = cookie_session(st, &parts.headers)
            .await
            .ok_or_else(R::refusal)?;
        parts.extensions.insert(SessionCsrf(staff.csrf.clone()));
        Ok(CookieStaff {
            staff,
            refusal: PhantomData,
        })
    }
}

/// A portal form, which carries the session's CSRF token.
pub(super) trait WithCsrf {
    /// The form's `csrf` field.
    fn csrf(&self) -> &str;
}

/// A portal form whose `csrf` field is the session's token (compared in constant time).
pub(super) struct CsrfForm<T>(pub(super) T);

/// Why a [`CsrfForm`] was refused.
pub(super) enum FormRefused {
    /// The body is no such form (`400`, or `413` when too large).
    Body(ApiError),
    /// The CSRF token is missing or wrong (`403`).
    Csrf,
}

impl IntoResponse for FormRefused {
    fn into_response(self) -> Response {
        match self {
            FormRefused::Body(e) => e.into_response(),
            FormRefused::Csrf => csrf_refused(),
        }
    }
}

impl<T: WithCsrf + DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = FormRefused;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, FormRefused> {
        let expected = match req.extensions().get::<SessionCsrf>() {
            Some(t) => Some(t.0.clone()),
            None => cookie_session(st, req.headers()).await.map(|s| s.csrf),
        };
        let form = form_body(Form::<T>::from_request(req, st).await).map_err(FormRefused::Body)?;
        match expected {
            Some(t) if bool::from(t.as_bytes().ct_eq(form.csrf().as_bytes())) => Ok(CsrfForm(form)),
            _ => Err(FormRefused::Csrf),
        }
    }
}

/// Only admins may.
pub(super) fn admin(staff: &Staff) -> Result<(), ApiError> {
    if staff.role == Role::Admin {
        Ok(())
    } else {
        Err(DeskError::Forbidden.into())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Login {
    username: String,
    password: String,
}

/// A refused sign-in: the error, and how long to wait if it was a limit.
pub(super) struct LoginRefused(ApiError, Option<u64>);

impl From<ApiError> for LoginRefused {
    fn from(e: ApiError) -> Self {
        LoginRefused(e, None)
    }
}

impl IntoResponse for LoginRefused {
    fn into_response(self) -> Response {
        let mut r = self.0.into_response();
        if let Some(secs) = self.1 {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

/// Signs a staff member in, within the limits of [`crate::signin`].
async fn login(st: &AppState, l: &Login, client: Client) -> Result<String, LoginRefused> {
    if l.username.len() > 100 || l.password.len() > 1024 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "invalid",
            "username or password too long".into(),
        )
        .into());
    }
    let attempt = st.signin.begin(&l.username, &client.key()).map_err(|r| {
        let secs = r.retry_after_secs();
        let (code, msg) = match r {
            Refusal::Locked { .. } => (
                "limit",
                format!(
                    "Too many failed sign-ins from here; try again in {} minutes.",
                    secs.div_ceil(60)
                ),
            ),
            Refusal::SlowDown { .. } => (
                "slow_down",
                format!("Too many failed sign-ins for this user; try again in {secs} seconds."),
            ),
        };
        LoginRefused(
            ApiError(StatusCode::TOO_MANY_REQUESTS, code, msg),
            Some(secs),
        )
    })?;
    let token = crate::staff::login(
        &*st.desk.store,
        &l.username,
        &l.password,
        &client.key(),
        st.desk.clock.wall_ms(),
    )
    .await
    .map_err(|e| match e {
        StaffError::Store(e) => ApiError::from(DeskError::Store(e)),
        _ => ApiError(
            StatusCode::UNAUTHORIZED,
            "denied",
            "Wrong username or password.".into(),
        ),
    })?;
    st.signin.succeeded(attempt);
    Ok(token)
}

pub(super) async fn api_login(
    State(st): State<AppState>,
    client: Client,
    body: Result<Json<Login>, JsonRejection>,
) -> Result<Json<serde_json::Value>, LoginRefused> {
    let l = json_body(body)?;
    let token = login(&st, &l, client).await?;
    Ok(Json(json!({"token": token})))
}

#[derive(Template)]
#[template(path = "staff_login.html")]
pub(super) struct LoginPage {
    error: Option<String>,
}

pub(super) async fn login_page() -> Response {
    render(StatusCode::OK, &LoginPage { error: None })
}

fn session_cookie(
    st: &AppState,
    client: Client,
    h: &HeaderMap,
    token: &str,
    max_age: i64,
) -> HeaderValue {
    // Secure (and __Host-) whenever the public URL is HTTPS, or a trusted proxy says the
    // request came over HTTPS; the lab serves plain HTTP on loopback, where a Secure cookie
    // would never come back.
    let https = st.desk.public_url.starts_with("https://")
        || (client.proxied()
            && h.get("x-forwarded-proto")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https")));
    let v = if https {
        format!(
            "__Host-{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age={max_age}"
        )
    } else {
        format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}")
    };
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub(super) async fn login_form(
    State(st): State<AppState>,
    client: Client,
    h: HeaderMap,
    form: Result<Form<Login>, FormRejection>,
) -> Response {
    let result = match form_body(form) {
        Ok(l) => login(&st, &l, client).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(token) => {
            let mut r = Redirect::to("/staff").into_response();
            r.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(&st, client, &h, &token, crate::staff::SESSION_MS / 1000),
            );
            r
        }
        Err(LoginRefused(e, retry)) => {
            let mut r = render(e.0, &LoginPage { error: Some(e.2) });
            if let Some(secs) = retry {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            r
        }
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

impl WithCsrf for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub(super) async fn logout_form(
    State(st): State<AppState>,
    client: Client,
    h: HeaderMap,
    _: PageStaff,
    form: Result<CsrfForm<CsrfOnly>, FormRefused>,
) -> Response {
    if form.is_err() {
        // Whatever is wrong with a sign-out form, it is refused as a forgery.
        return csrf_refused();
    }
    if let Some(token) = cookie(&h) {
        let _ = crate::staff::logout(&*st.desk.store, &token, st.desk.clock.wall_ms()).await;
    }
    let mut r = Redirect::to("/staff/login").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&st, client, &h, "", 0));
    r
}
