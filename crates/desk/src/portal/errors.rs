//! How the portal refuses: [`ApiError`] (`{"error": {"code", "message"}}` with its status),
//! the mapping of [`DeskError`] and of the signer's refusals to it, and reading JSON and
//! form bodies into it. Pages show the same message in their own markup.

use crate::desk::DeskError;
use axum::Form;
use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use camkey_signer::protocol::ErrorCode;
use serde_json::json;

/// An API error: `{"error": {"code", "message"}}` with its status.
pub struct ApiError(
    pub(super) StatusCode,
    pub(super) &'static str,
    pub(super) String,
);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(json!({"error": {"code": self.1, "message": self.2}})),
        )
            .into_response()
    }
}

pub(super) fn unauthorized() -> ApiError {
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

pub(super) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
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

pub(super) fn form_body<T>(body: Result<Form<T>, FormRejection>) -> Result<T, ApiError> {
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

/// A staff form whose CSRF token is missing or is not the session's.
pub(super) fn csrf_refused() -> Response {
    ApiError(
        StatusCode::FORBIDDEN,
        "csrf",
        "This form is stale or did not come from the portal (missing CSRF token). Nothing was changed; reload the page and try again.".into(),
    )
    .into_response()
}
