//! The staff portal's pages (`/staff`): the queue of cases, a case with its forms (note,
//! state, releasing a code, proposing a fee), opening a case for a caller, and the admin
//! page (staff and the audit log). Pages need the session cookie ([`PageStaff`]); every
//! form is a [`CsrfForm`].

use super::api::{Filter, parse_filter};
use super::auth::{
    CookieStaff, CsrfForm, FormRefused, PageStaff, SessionEnded, SignInFirst, WithCsrf, admin,
};
use super::errors::ApiError;
use crate::DeskState as AppState;
use crate::desk::{Case, CaseView, Desk, DeskError, Kind, State as CaseState};
use crate::fees::{SERVICE_FEE_CENTS, money, parse_money};
use crate::requests::SupportRequest;
use crate::staff::{Role, Staff, StaffError, random_password};
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use camkey_web::render::render;
use serde::Deserialize;

/// A case row on the queue page.
pub(super) struct Row {
    case: Case,
    created: String,
}

#[derive(Template)]
#[template(path = "staff_queue.html")]
pub(super) struct QueuePage {
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

pub(super) async fn queue_page(
    State(st): State<AppState>,
    PageStaff { staff, .. }: PageStaff,
    q: Result<Query<Filter>, QueryRejection>,
) -> Response {
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
pub(super) struct CasePage {
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

pub(super) async fn case_page(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    PageStaff { staff, .. }: PageStaff,
) -> Response {
    show_case(&st, staff, id, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
pub(super) struct CaseForm {
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

impl WithCsrf for CaseForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub(super) async fn case_form(
    State(st): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    CookieStaff { staff, .. }: CookieStaff<SessionEnded>,
    form: Result<CsrfForm<CaseForm>, FormRefused>,
) -> Response {
    let f = match form {
        Ok(CsrfForm(f)) => f,
        // A form that does not parse shows the case again, with why.
        Err(FormRefused::Body(e)) => return show_case(&st, staff, id, e.0, Some(e.2), None).await,
        Err(refused) => return refused.into_response(),
    };
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
pub(super) struct OpenCaseForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    case: SupportRequest,
}

impl WithCsrf for OpenCaseForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub(super) async fn open_case_form(
    State(st): State<AppState>,
    CookieStaff { staff, .. }: CookieStaff<SignInFirst>,
    CsrfForm(f): CsrfForm<OpenCaseForm>,
) -> Response {
    match st.desk.open_by_staff(&staff, &f.case).await {
        Ok(id) => Redirect::to(&format!("/staff/cases/{id}")).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// One staff member on the admin page.
pub(super) struct Member {
    username: String,
    role: String,
}

#[derive(Template)]
#[template(path = "staff_admin.html")]
pub(super) struct AdminPage {
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

pub(super) async fn admin_page(
    State(st): State<AppState>,
    PageStaff { staff, .. }: PageStaff,
) -> Response {
    if let Err(e) = admin(&staff) {
        return e.into_response();
    }
    admin_view(&st, staff, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
pub(super) struct AddStaffForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
}

impl WithCsrf for AddStaffForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub(super) async fn admin_form(
    State(st): State<AppState>,
    CookieStaff { staff, .. }: CookieStaff<SignInFirst>,
    CsrfForm(f): CsrfForm<AddStaffForm>,
) -> Response {
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
    let password = random_password(&f.username);
    let now = st.desk.clock.wall_ms();
    match crate::staff::add_audited(
        &*st.desk.store,
        &staff.username,
        &f.username,
        &password,
        role,
        now,
    )
    .await
    {
        Ok(()) => {
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
