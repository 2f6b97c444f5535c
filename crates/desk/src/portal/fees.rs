//! The owner's fee approval page (`/fees/{token}`, the link in the fee mail): opening it
//! changes nothing (mail scanners follow links); approving is the page's `POST`.

use super::errors::ApiError;
use crate::DeskState as AppState;
use crate::desk::{Case, DeskError, State as CaseState};
use crate::fees::money;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use camkey_web::render::render;

#[derive(Template)]
#[template(path = "fee.html")]
pub(super) struct FeePage {
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

pub(super) async fn fee_page(State(st): State<AppState>, Path(token): Path<String>) -> Response {
    match st.desk.fee_case(&token).await {
        Ok(Some(c)) => render(StatusCode::OK, &fee_view(Some(c))),
        Ok(None) => render(StatusCode::NOT_FOUND, &fee_view(None)),
        Err(e) => ApiError::from(e).into_response(),
    }
}

pub(super) async fn fee_approve(State(st): State<AppState>, Path(token): Path<String>) -> Response {
    match st.desk.approve_fee(&token).await {
        Ok(c) => render(StatusCode::OK, &fee_view(Some(c))),
        Err(DeskError::NotFound) => render(StatusCode::NOT_FOUND, &fee_view(None)),
        Err(e) => ApiError::from(e).into_response(),
    }
}
