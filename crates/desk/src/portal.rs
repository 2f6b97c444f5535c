//! The support desk on the web: the Tech Support Form (`/support`, `POST
//! /api/support-requests`), the staff portal (`/staff`), the staff JSON API (`/api/staff`,
//! `/api/cases`) and the owner's fee approval page (`/fees/{token}`).
//!
//! - The API authenticates with `Authorization: Bearer TOKEN` only (no cookies: no CSRF).
//! - The portal's pages use a session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind
//!   an HTTPS proxy), and every form carries the session's CSRF token; the app's Origin /
//!   `Sec-Fetch-Site` check ([`camkey_web::site`]) applies too.
//! - The fee link in a mail opens a page (GET changes nothing); approving is a POST, so a
//!   mail scanner that follows links approves nothing.
//! - Bad input gets a 4xx with a clear message and changes nothing.

use crate::DeskState as AppState;
use crate::desk::{Case, CaseView, Desk, DeskError, Kind, State as CaseState};
use crate::fees::{SERVICE_FEE_CENTS, money, parse_money};
use crate::requests::SupportRequest;
use crate::signin::Refusal;
use crate::staff::{Role, Staff, StaffError, random_password};
use askama::Template;
use axum::extract::rejection::{FormRejection, JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use camkey_signer::protocol::ErrorCode;
use camkey_store::audit::AuditEntry;
use camkey_web::client::Client;
use camkey_web::render::render;
use serde::Deserialize;
use serde_json::json;

/// The session cookie.
pub const COOKIE: &str = "camkey_staff";

/// The desk's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/support", get(support_page).post(support_form))
        .route("/api/support-requests", post(support_api))
        .route("/api/staff/login", post(api_login))
        .route("/api/staff", post(api_add_staff))
        .route("/api/audit", get(api_audit))
        .route("/api/cases", get(api_cases).post(api_open_case))
        .route("/api/cases/{id}", get(api_case))
        .route("/api/cases/{id}/release-code", post(api_release))
        .route("/api/cases/{id}/notes", post(api_note))
        .route("/api/cases/{id}/state", post(api_state))
        .route("/api/cases/{id}/fee", post(api_fee))
        .route("/staff/login", get(login_page).post(login_form))
        .route("/staff/logout", post(logout_form))
        .route("/staff", get(queue_page))
        .route("/staff/cases", post(open_case_form))
        .route("/staff/admin", get(admin_page).post(admin_form))
        .route("/staff/cases/{id}", get(case_page))
        .route("/staff/cases/{id}/{action}", post(case_form))
        .route("/fees/{token}", get(fee_page).post(fee_approve))
}

// ---------------------------------------------------------------------------------------
// Errors

/// An API error: `{"error": {"code", "message"}}` with its status.
pub struct ApiError(StatusCode, &'static str, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(json!({"error": {"code": self.1, "message": self.2}})),
        )
            .into_response()
    }
}

fn unauthorized() -> ApiError {
    ApiError(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Sign in first: send Authorization: Bearer TOKEN from POST /api/staff/login.".into(),
    )
}

impl From<DeskError> for ApiError {
    fn from(e: DeskError) -> Self {
        let msg = e.to_string();
        match e {
            DeskError::Invalid { .. } => ApiError(StatusCode::BAD_REQUEST, "invalid", msg),
            DeskError::TooLarge(_) => ApiError(StatusCode::PAYLOAD_TOO_LARGE, "too_large", msg),
            DeskError::NotFound => ApiError(StatusCode::NOT_FOUND, "not_found", msg),
            DeskError::Conflict(code, _) => ApiError(StatusCode::CONFLICT, code, msg),
            DeskError::Refused(code) => refused(code),
            DeskError::OwnAddress { .. } => ApiError(StatusCode::CONFLICT, "own_address", msg),
            DeskError::Limited => ApiError(StatusCode::TOO_MANY_REQUESTS, "limit", msg),
            DeskError::Forbidden => ApiError(StatusCode::FORBIDDEN, "forbidden", msg),
            DeskError::Unavailable => ApiError(StatusCode::SERVICE_UNAVAILABLE, "unavailable", msg),
            DeskError::Store(e) => {
                tracing::error!("{e}");
                ApiError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong; nothing was changed.".into(),
                )
            }
        }
    }
}

fn refused(code: ErrorCode) -> ApiError {
    let (status, name, msg) = match code {
        ErrorCode::NotOnOrder => (
            StatusCode::CONFLICT,
            "not_on_order",
            "The camera in this case's challenge is not on that order. Nothing was sent.",
        ),
        ErrorCode::TooLate => (
            StatusCode::CONFLICT,
            "challenge_too_old",
            "The case's challenge is too old: ask the owner for a new QR code. Nothing was sent.",
        ),
        ErrorCode::Superseded => (
            StatusCode::CONFLICT,
            "challenge_superseded",
            "The camera has made newer QR codes since this case's challenge: ask the owner for the newest. Nothing was sent.",
        ),
        ErrorCode::CapReached | ErrorCode::ResendLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            "limit",
            "Too many codes for this camera today. Nothing new was sent.",
        ),
        ErrorCode::Unreadable | ErrorCode::NotGenuine | ErrorCode::UnknownKeyVersion => (
            StatusCode::CONFLICT,
            "not_genuine",
            "The case's challenge does not verify. Nothing was sent.",
        ),
        _ => (
            StatusCode::BAD_GATEWAY,
            "signer",
            "The signer refused. Nothing was sent.",
        ),
    };
    ApiError(status, name, msg.into())
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    match body {
        Ok(Json(t)) => Ok(t),
        Err(JsonRejection::BytesRejection(_)) => Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "The request is too large.".into(),
        )),
        Err(e) => Err(ApiError(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("The request is not the expected JSON: {}", e.body_text()),
        )),
    }
}

fn form_body<T>(body: Result<Form<T>, FormRejection>) -> Result<T, ApiError> {
    match body {
        Ok(Form(t)) => Ok(t),
        Err(FormRejection::BytesRejection(_)) => Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "The form is too large.".into(),
        )),
        Err(_) => Err(ApiError(
            StatusCode::BAD_REQUEST,
            "invalid",
            "The form is not complete.".into(),
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Authentication

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

async fn api_staff(st: &AppState, h: &HeaderMap) -> Result<Staff, ApiError> {
    let token = bearer(h).ok_or_else(unauthorized)?;
    crate::staff::session(&*st.desk.store, token, st.desk.clock.wall_ms())
        .await
        .map_err(|e| ApiError::from(DeskError::Store(e)))?
        .ok_or_else(unauthorized)
}

async fn page_staff(st: &AppState, h: &HeaderMap) -> Option<Staff> {
    let token = cookie(h)?;
    crate::staff::session(&*st.desk.store, &token, st.desk.clock.wall_ms())
        .await
        .ok()
        .flatten()
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn admin(staff: &Staff) -> Result<(), ApiError> {
    if staff.role == Role::Admin {
        Ok(())
    } else {
        Err(DeskError::Forbidden.into())
    }
}

// ---------------------------------------------------------------------------------------
// The Tech Support Form

#[derive(Template)]
#[template(path = "support.html")]
struct SupportPage {
    form: SupportRequest,
    error: Option<String>,
    case: Option<i64>,
    models: Vec<&'static str>,
}

#[derive(Deserialize, Default)]
struct SupportQuery {
    challenge: Option<String>,
    kind: Option<String>,
}

fn models() -> Vec<&'static str> {
    camkey_proto::catalogue::CATALOGUE
        .iter()
        .map(|m| m.name)
        .collect()
}

async fn support_page(q: Result<Query<SupportQuery>, QueryRejection>) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let form = SupportRequest {
        challenge: q.challenge.unwrap_or_default().chars().take(2048).collect(),
        kind: match q.kind.as_deref() {
            Some("factory_service") => "factory_service".into(),
            _ => "password_reset".into(),
        },
        ..SupportRequest::default()
    };
    render(
        StatusCode::OK,
        &SupportPage {
            form,
            error: None,
            case: None,
            models: models(),
        },
    )
}

async fn support_form(
    State(st): State<AppState>,
    client: Client,
    form: Result<Form<SupportRequest>, FormRejection>,
) -> Response {
    let form = match form_body(form) {
        Ok(f) => f,
        Err(e) => {
            return render(
                e.0,
                &SupportPage {
                    form: SupportRequest::default(),
                    error: Some(e.2),
                    case: None,
                    models: models(),
                },
            );
        }
    };
    match st.desk.support_request(&form, &client.key()).await {
        Ok(id) => render(
            StatusCode::OK,
            &SupportPage {
                form: SupportRequest::default(),
                error: None,
                case: Some(id),
                models: models(),
            },
        ),
        Err(e) => {
            let e = ApiError::from(e);
            render(
                e.0,
                &SupportPage {
                    form,
                    error: Some(e.2),
                    case: None,
                    models: models(),
                },
            )
        }
    }
}

async fn support_api(
    State(st): State<AppState>,
    client: Client,
    body: Result<Json<SupportRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req = json_body(body)?;
    let id = st.desk.support_request(&req, &client.key()).await?;
    Ok(Json(json!({"case": id})))
}

// ---------------------------------------------------------------------------------------
// Staff API

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    username: String,
    password: String,
}

/// A refused sign-in: the error, and how long to wait if it was a limit.
struct LoginRefused(ApiError, Option<u64>);

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

async fn api_login(
    State(st): State<AppState>,
    client: Client,
    body: Result<Json<Login>, JsonRejection>,
) -> Result<Json<serde_json::Value>, LoginRefused> {
    let l = json_body(body)?;
    let token = login(&st, &l, client).await?;
    Ok(Json(json!({"token": token})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewStaff {
    username: String,
    role: Role,
    #[serde(default)]
    password: Option<String>,
}

async fn api_add_staff(
    State(st): State<AppState>,
    h: HeaderMap,
    body: Result<Json<NewStaff>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let staff = api_staff(&st, &h).await?;
    admin(&staff)?;
    let n = json_body(body)?;
    let password = n.password.clone().unwrap_or_else(random_password);
    let now = st.desk.clock.wall_ms();
    crate::staff::add_staff(&*st.desk.store, &n.username, &password, n.role, false, now)
        .await
        .map_err(|e| match e {
            StaffError::Exists => ApiError(StatusCode::CONFLICT, "exists", e.to_string()),
            StaffError::Store(e) => DeskError::Store(e).into(),
            _ => ApiError(StatusCode::BAD_REQUEST, "invalid", e.to_string()),
        })?;
    let _ = st
        .desk
        .store
        .audit(AuditEntry {
            at: now,
            actor: staff.username.clone(),
            action: "staff_added".into(),
            case: None,
            detail: format!("{} as {}", n.username, n.role.name()),
        })
        .await;
    let mut out = json!({"username": n.username, "role": n.role});
    if n.password.is_none() {
        out["password"] = json!(password);
    }
    Ok(Json(out))
}

async fn api_audit(
    State(st): State<AppState>,
    h: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let staff = api_staff(&st, &h).await?;
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
struct Filter {
    state: Option<String>,
    kind: Option<String>,
}

fn parse_filter(f: &Filter) -> Result<(Option<CaseState>, Option<Kind>), ApiError> {
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

async fn api_cases(
    State(st): State<AppState>,
    h: HeaderMap,
    q: Result<Query<Filter>, QueryRejection>,
) -> Result<Json<Vec<Case>>, ApiError> {
    api_staff(&st, &h).await?;
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

async fn api_open_case(
    State(st): State<AppState>,
    h: HeaderMap,
    body: Result<Json<SupportRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let staff = api_staff(&st, &h).await?;
    let r = json_body(body)?;
    let id = st.desk.open_by_staff(&staff, &r).await?;
    Ok(Json(json!({"case": id})))
}

async fn api_case(
    State(st): State<AppState>,
    h: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<CaseView>, ApiError> {
    api_staff(&st, &h).await?;
    Ok(Json(st.desk.view(id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Release {
    order_number: String,
    #[serde(default)]
    note: String,
}

async fn api_release(
    State(st): State<AppState>,
    h: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Json<Release>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let staff = api_staff(&st, &h).await?;
    let r = json_body(body)?;
    let hint = st
        .desk
        .release_code(&staff, id, &r.order_number, &r.note)
        .await?;
    Ok(Json(json!({"released": true, "hint": hint})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Note {
    note: String,
}

async fn api_note(
    State(st): State<AppState>,
    h: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Json<Note>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let staff = api_staff(&st, &h).await?;
    let n = json_body(body)?;
    st.desk.note(&staff, id, &n.note).await?;
    Ok(Json(json!({"ok": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetState {
    state: String,
}

async fn api_state(
    State(st): State<AppState>,
    h: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Json<SetState>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let staff = api_staff(&st, &h).await?;
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
struct Fee {
    fee_cents: i64,
}

async fn api_fee(
    State(st): State<AppState>,
    h: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Json<Fee>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let staff = api_staff(&st, &h).await?;
    let f = json_body(body)?;
    st.desk.propose_fee(&staff, id, f.fee_cents).await?;
    Ok(Json(json!({"ok": true})))
}

// ---------------------------------------------------------------------------------------
// Staff portal pages

#[derive(Template)]
#[template(path = "staff_login.html")]
struct LoginPage {
    error: Option<String>,
}

async fn login_page() -> Response {
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

async fn login_form(
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
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn logout_form(
    State(st): State<AppState>,
    client: Client,
    h: HeaderMap,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Response {
    let Some(staff) = page_staff(&st, &h).await else {
        return Redirect::to("/staff/login").into_response();
    };
    let Ok(Form(f)) = form else {
        return csrf_refused();
    };
    if !same(&f.csrf, &staff.csrf) {
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

fn csrf_refused() -> Response {
    ApiError(
        StatusCode::FORBIDDEN,
        "csrf",
        "This form is stale or did not come from the portal (missing CSRF token). Nothing was changed; reload the page and try again.".into(),
    )
    .into_response()
}

/// A case row on the queue page.
struct Row {
    case: Case,
    created: String,
}

#[derive(Template)]
#[template(path = "staff_queue.html")]
struct QueuePage {
    staff: Staff,
    rows: Vec<Row>,
    state: String,
    kind: String,
    states: Vec<&'static str>,
    kinds: Vec<&'static str>,
}

/// `YYYY-MM-DD HH:MM` (UTC) of a Unix time in ms.
pub fn when(ms: i64) -> String {
    let (y, m, d) = crate::orders::date_of(ms);
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60
    )
}

async fn queue_page(
    State(st): State<AppState>,
    h: HeaderMap,
    q: Result<Query<Filter>, QueryRejection>,
) -> Response {
    let Some(staff) = page_staff(&st, &h).await else {
        return Redirect::to("/staff/login").into_response();
    };
    let f = q.map(|Query(f)| f).unwrap_or_default();
    let (state, kind) = match parse_filter(&f) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let cases = match st.desk.store.cases(state, kind, 500).await {
        Ok(c) => c,
        Err(e) => return ApiError::from(DeskError::Store(e)).into_response(),
    };
    render(
        StatusCode::OK,
        &QueuePage {
            staff,
            rows: cases
                .into_iter()
                .map(|case| Row {
                    created: when(case.created),
                    case,
                })
                .collect(),
            state: state.map(|s| s.name()).unwrap_or("").into(),
            kind: kind.map(|k| k.name()).unwrap_or("").into(),
            states: CaseState::ALL.iter().map(|s| s.name()).collect(),
            kinds: Kind::ALL.iter().map(|k| k.name()).collect(),
        },
    )
}

#[derive(Template)]
#[template(path = "staff_case.html")]
struct CasePage {
    staff: Staff,
    view: CaseView,
    history: Vec<(String, crate::desk::Event)>,
    error: Option<String>,
    notice: Option<String>,
    fee: String,
    suggested_fee: String,
}

async fn show_case(
    st: &AppState,
    staff: Staff,
    id: i64,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let view = match st.desk.view(id).await {
        Ok(v) => v,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let history = view
        .history
        .iter()
        .map(|e| (when(e.at), e.clone()))
        .collect();
    let fee = view.case.fee_cents.map(money).unwrap_or_default();
    render(
        status,
        &CasePage {
            staff,
            history,
            error,
            notice,
            fee,
            suggested_fee: format!("{}.{:02}", SERVICE_FEE_CENTS / 100, SERVICE_FEE_CENTS % 100),
            view,
        },
    )
}

async fn case_page(State(st): State<AppState>, h: HeaderMap, Path(id): Path<i64>) -> Response {
    let Some(staff) = page_staff(&st, &h).await else {
        return Redirect::to("/staff/login").into_response();
    };
    show_case(&st, staff, id, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
struct CaseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    order_number: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    fee: String,
}

async fn case_form(
    State(st): State<AppState>,
    h: HeaderMap,
    Path((id, action)): Path<(i64, String)>,
    form: Result<Form<CaseForm>, FormRejection>,
) -> Response {
    let Some(staff) = page_staff(&st, &h).await else {
        return ApiError(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Your session ended: sign in again.".into(),
        )
        .into_response();
    };
    let f = match form_body(form) {
        Ok(f) => f,
        Err(e) => return show_case(&st, staff, id, e.0, Some(e.2), None).await,
    };
    if !same(&f.csrf, &staff.csrf) {
        return csrf_refused();
    }
    let desk: &Desk = &st.desk;
    let result = match action.as_str() {
        "note" => desk
            .note(&staff, id, &f.note)
            .await
            .map(|()| "Note added.".to_string()),
        "state" => match CaseState::parse(&f.state) {
            Some(s) => desk
                .set_state(&staff, id, s)
                .await
                .map(|()| format!("State set to {}.", s.name())),
            None => Err(DeskError::Invalid {
                field: "state",
                message: "is not a state",
            }),
        },
        "release" => desk
            .release_code(&staff, id, &f.order_number, &f.note)
            .await
            .map(|hint| {
                format!("The signer sent a security code to the address on the order, {hint}.")
            }),
        "fee" => match parse_money(&f.fee) {
            Some(c) => desk.propose_fee(&staff, id, c).await.map(|()| {
                format!(
                    "Fee of {} proposed; the owner was sent the approval link.",
                    money(c)
                )
            }),
            None => Err(DeskError::Invalid {
                field: "fee",
                message: "is an amount such as 49.00",
            }),
        },
        _ => Err(DeskError::NotFound),
    };
    match result {
        Ok(notice) => show_case(&st, staff, id, StatusCode::OK, None, Some(notice)).await,
        Err(DeskError::NotFound) => ApiError::from(DeskError::NotFound).into_response(),
        Err(e) => {
            let e = ApiError::from(e);
            show_case(&st, staff, id, e.0, Some(e.2), None).await
        }
    }
}

#[derive(Deserialize)]
struct OpenCaseForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    case: SupportRequest,
}

async fn open_case_form(
    State(st): State<AppState>,
    h: HeaderMap,
    form: Result<Form<OpenCaseForm>, FormRejection>,
) -> Response {
    let Some(staff) = page_staff(&st, &h).await else {
        return unauthorized().into_response();
    };
    let f = match form_body(form) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    if !same(&f.csrf, &staff.csrf) {
        return csrf_refused();
    }
    match st.desk.open_by_staff(&staff, &f.case).await {
        Ok(id) => Redirect::to(&format!("/staff/cases/{id}")).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// One staff member on the admin page.
struct Member {
    username: String,
    role: String,
}

#[derive(Template)]
#[template(path = "staff_admin.html")]
struct AdminPage {
    staff: Staff,
    members: Vec<Member>,
    audit: Vec<(String, String, String, String, String)>,
    error: Option<String>,
    added: Option<(String, String)>,
}

async fn admin_view(
    st: &AppState,
    staff: Staff,
    status: StatusCode,
    error: Option<String>,
    added: Option<(String, String)>,
) -> Response {
    let members = st.desk.store.members().await;
    let audit = st.desk.store.recent_audit(200).await;
    let (members, audit) = match (members, audit) {
        (Ok(m), Ok(a)) => (m, a),
        (Err(e), _) | (_, Err(e)) => return ApiError::from(DeskError::Store(e)).into_response(),
    };
    render(
        status,
        &AdminPage {
            staff,
            members: members
                .into_iter()
                .map(|(username, role)| Member {
                    username,
                    role: role.name().to_string(),
                })
                .collect(),
            audit: audit
                .into_iter()
                .map(|e| {
                    (
                        when(e.at),
                        e.actor,
                        e.action,
                        e.case.map(|c| c.to_string()).unwrap_or_default(),
                        e.detail,
                    )
                })
                .collect(),
            error,
            added,
        },
    )
}

async fn admin_page(State(st): State<AppState>, h: HeaderMap) -> Response {
    let Some(staff) = page_staff(&st, &h).await else {
        return Redirect::to("/staff/login").into_response();
    };
    if let Err(e) = admin(&staff) {
        return e.into_response();
    }
    admin_view(&st, staff, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
struct AddStaffForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
}

async fn admin_form(
    State(st): State<AppState>,
    h: HeaderMap,
    form: Result<Form<AddStaffForm>, FormRejection>,
) -> Response {
    let Some(staff) = page_staff(&st, &h).await else {
        return unauthorized().into_response();
    };
    let f = match form_body(form) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    if !same(&f.csrf, &staff.csrf) {
        return csrf_refused();
    }
    if let Err(e) = admin(&staff) {
        return e.into_response();
    }
    let Some(role) = Role::parse(&f.role) else {
        return admin_view(
            &st,
            staff,
            StatusCode::BAD_REQUEST,
            Some("The role is agent or admin.".into()),
            None,
        )
        .await;
    };
    let password = random_password();
    let now = st.desk.clock.wall_ms();
    match crate::staff::add_staff(&*st.desk.store, &f.username, &password, role, false, now).await {
        Ok(()) => {
            let _ = st
                .desk
                .store
                .audit(AuditEntry {
                    at: now,
                    actor: staff.username.clone(),
                    action: "staff_added".into(),
                    case: None,
                    detail: format!("{} as {}", f.username, role.name()),
                })
                .await;
            admin_view(
                &st,
                staff,
                StatusCode::OK,
                None,
                Some((f.username, password)),
            )
            .await
        }
        Err(StaffError::Store(e)) => ApiError::from(DeskError::Store(e)).into_response(),
        Err(e) => {
            let status = if matches!(e, StaffError::Exists) {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            admin_view(&st, staff, status, Some(e.to_string()), None).await
        }
    }
}

// ---------------------------------------------------------------------------------------
// The owner's fee approval

#[derive(Template)]
#[template(path = "fee.html")]
struct FeePage {
    case: Option<Case>,
    fee: String,
    approved: bool,
    guide: Option<String>,
}

fn fee_view(case: Option<Case>) -> FeePage {
    FeePage {
        fee: case
            .as_ref()
            .and_then(|c| c.fee_cents)
            .map(money)
            .unwrap_or_default(),
        approved: case
            .as_ref()
            .is_some_and(|c| c.state == CaseState::FeeApproved),
        guide: case
            .as_ref()
            .and_then(|c| c.model.as_ref())
            .map(|m| format!("/guides/{m}")),
        case,
    }
}

async fn fee_page(State(st): State<AppState>, Path(token): Path<String>) -> Response {
    match st.desk.fee_case(&token).await {
        Ok(Some(c)) => render(StatusCode::OK, &fee_view(Some(c))),
        Ok(None) => render(StatusCode::NOT_FOUND, &fee_view(None)),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn fee_approve(State(st): State<AppState>, Path(token): Path<String>) -> Response {
    match st.desk.approve_fee(&token).await {
        Ok(c) => render(StatusCode::OK, &fee_view(Some(c))),
        Err(DeskError::NotFound) => render(StatusCode::NOT_FOUND, &fee_view(None)),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use camkey_store::{CaseStore, SqliteStore};
    use std::net::SocketAddr;
    use std::sync::Arc;

    /// The real app on a loopback port, with one agent; (base URL, store).
    async fn server(dir: &std::path::Path) -> (String, Arc<SqliteStore>) {
        server_at(dir, "http://vendor.example").await
    }

    /// The same, with this public URL.
    async fn server_at(dir: &std::path::Path, public_url: &str) -> (String, Arc<SqliteStore>) {
        let store = Arc::new(SqliteStore::open(&dir.join("v.db")).await.unwrap());
        crate::staff::add_staff(
            &*store,
            "ann",
            "long enough password",
            Role::Agent,
            false,
            0,
        )
        .await
        .unwrap();
        let clock: Arc<dyn camkey_proto::clock::Clock> =
            Arc::new(camkey_proto::clock::SystemClock::default());
        let signer = camkey_signer::SignerClient::new(dir.join("no-signer.sock"));
        let state = AppState {
            desk: Desk {
                store: store.clone(),
                signer,
                clock: clock.clone(),
                public_url: public_url.into(),
                support_address: "support@vendor.example".into(),
                wake: Arc::new(tokio::sync::Notify::new()),
                limits: crate::DeskLimits::default(),
            },
            signin: Arc::new(crate::signin::SignInLimits::new(clock)),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = camkey_web::site::site(routes().with_state(state), Arc::default())
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, store)
    }

    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    async fn sign_in(c: &reqwest::Client, base: &str, https: bool) -> String {
        let mut r = c
            .post(format!("{base}/staff/login"))
            .form(&[("username", "ann"), ("password", "long enough password")]);
        if https {
            r = r.header("x-forwarded-proto", "https");
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        r.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn session_cookie_csrf_and_cross_site_posts() {
        let dir = tempfile::tempdir().unwrap();
        let (base, store) = server(dir.path()).await;
        let c = client();
        // Plain HTTP (the lab): HttpOnly, SameSite=Strict, not Secure.
        let plain = sign_in(&c, &base, false).await;
        assert!(plain.starts_with("camkey_staff="), "{plain}");
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"), "{plain}");
        // A client claiming HTTPS itself is not believed (no trusted proxy here).
        let claimed = sign_in(&c, &base, true).await;
        assert!(!claimed.contains("Secure"), "{claimed}");
        // Whenever the public URL is HTTPS: Secure and __Host-, whatever the headers say.
        let dir2 = tempfile::tempdir().unwrap();
        let (https_base, _) = server_at(dir2.path(), "https://support.vendor.example").await;
        for claim in [false, true] {
            let secure = sign_in(&c, &https_base, claim).await;
            assert!(
                secure.starts_with("__Host-camkey_staff=") && secure.contains("; Secure"),
                "{secure}"
            );
        }
        let cookie = plain.split(';').next().unwrap().to_string();
        let token = cookie.split_once('=').unwrap().1;
        let csrf = crate::staff::session(&*store, token, 1)
            .await
            .unwrap()
            .unwrap()
            .csrf;

        // A case to work on (opened by staff through the API with the same token).
        let r = c
            .post(format!("{base}/api/cases"))
            .bearer_auth(token)
            .json(&serde_json::json!({"kind": "factory_service", "model": "IPC4K15"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let id = r.json::<serde_json::Value>().await.unwrap()["case"]
            .as_i64()
            .unwrap();
        let note = |csrf: Option<&str>, origin: Option<&str>| {
            let mut form = vec![("note", "checked the order")];
            if let Some(t) = csrf {
                form.push(("csrf", t));
            }
            let mut r = c
                .post(format!("{base}/staff/cases/{id}/note"))
                .header(header::COOKIE, &cookie)
                .form(&form);
            if let Some(o) = origin {
                r = r.header(header::ORIGIN, o);
            }
            r.send()
        };
        assert_eq!(note(None, None).await.unwrap().status(), 403);
        assert_eq!(note(Some("bad"), None).await.unwrap().status(), 403);
        let evil = note(Some(&csrf), Some("http://evil.example"))
            .await
            .unwrap();
        assert_eq!(evil.status(), 403);
        let notes = |h: &Vec<crate::desk::Event>| h.iter().filter(|e| e.action == "note").count();
        assert_eq!(notes(&store.history(id).await.unwrap()), 0);
        let own = base.clone();
        assert_eq!(note(Some(&csrf), Some(&own)).await.unwrap().status(), 200);
        assert_eq!(notes(&store.history(id).await.unwrap()), 1);
        // Staff open a case from the queue page.
        let r = c
            .post(format!("{base}/staff/cases"))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("kind", "password_reset"),
                ("name", "Caller"),
                ("serial", "IPC4K15-000009"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let opened = store
            .cases(None, Some(Kind::PasswordReset), 10)
            .await
            .unwrap();
        assert_eq!(opened[0].source, "staff");
        assert_eq!(opened[0].serial.as_deref(), Some("IPC4K15-000009"));
        // An agent is no admin: the admin page and adding staff are refused.
        let r = c
            .get(format!("{base}/staff/admin"))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let r = c
            .post(format!("{base}/staff/admin"))
            .header(header::COOKIE, &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "eve"),
                ("role", "admin"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        // An admin may.
        crate::staff::add_staff(
            &*store,
            "root",
            "another long password",
            Role::Admin,
            false,
            0,
        )
        .await
        .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let t = crate::staff::login(&*store, "root", "another long password", "127.0.0.1", now)
            .await
            .unwrap();
        let admin_csrf = crate::staff::session(&*store, &t, 1)
            .await
            .unwrap()
            .unwrap()
            .csrf;
        let r = c
            .post(format!("{base}/staff/admin"))
            .header(header::COOKIE, format!("{COOKIE}={t}"))
            .form(&[
                ("csrf", admin_csrf.as_str()),
                ("username", "eve"),
                ("role", "agent"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        assert!(page.contains("id=\"new-password\"") && page.contains("staff_added"));
        // The bearer token is not a cookie: the API ignores cookies.
        let r = c
            .get(format!("{base}/api/cases"))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        // Pages without a session send the browser to the sign-in page.
        let r = c.get(format!("{base}/staff")).send().await.unwrap();
        assert_eq!(r.headers()[header::LOCATION], "/staff/login");
        // Signing out ends the session.
        let r = c
            .post(format!("{base}/staff/logout"))
            .header(header::COOKIE, &cookie)
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(
            crate::staff::session(&*store, token, 1)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn the_fee_link_changes_nothing_until_posted() {
        let dir = tempfile::tempdir().unwrap();
        let (base, store) = server(dir.path()).await;
        let c = client();
        let r = c
            .post(format!("{base}/api/staff/login"))
            .json(&serde_json::json!({"username": "ann", "password": "long enough password"}))
            .send()
            .await
            .unwrap();
        let token = r.json::<serde_json::Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        let r = c
            .post(format!("{base}/api/cases"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"kind": "factory_service", "model": "IPC4PTZ25", "email": "owner@example.com"}))
            .send()
            .await
            .unwrap();
        let id = r.json::<serde_json::Value>().await.unwrap()["case"]
            .as_i64()
            .unwrap();
        let r = c
            .post(format!("{base}/api/cases/{id}/fee"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"fee_cents": 4900}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: String = sqlx::query_scalar(
            "SELECT body FROM outbox WHERE subject LIKE '%fee%' ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        let path = body
            .split("http://vendor.example")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        assert!(path.starts_with("/fees/"), "{path}");
        for _ in 0..3 {
            let r = c.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert!(r.text().await.unwrap().contains("49.00 EUR"));
        }
        let state = |s: &Arc<SqliteStore>| {
            let s = s.clone();
            async move { s.case(id).await.unwrap().unwrap().state }
        };
        assert_eq!(state(&store).await, CaseState::FeeProposed);
        let r = c
            .get(format!("{base}/fees/{}", "0".repeat(64)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let r = c.post(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(state(&store).await, CaseState::FeeApproved);
    }
}
