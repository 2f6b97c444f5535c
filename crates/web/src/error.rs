//! The one error answer of camkey's HTTP fronts: `{"error": {"code", "message"}}`
//! ([`camkey_proto::api::ErrorBody`]) with its status, and `Retry-After` when the client
//! must wait (docs/design.md §4).
//!
//! Each site words its own refusals (the camera says "the camera", the vendor speaks for
//! the support desk) and builds them with [`WebError::new`]; the few constructors here use
//! site-neutral words. Internal causes are logged, never shown.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use camkey_proto::api::{ErrorBody, ErrorDetail};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct WebError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code, stable (clients and tests match it).
    pub code: &'static str,
    /// What to do next, in plain words.
    pub message: String,
    /// Seconds to wait (sent as `Retry-After`), for 429 and locks.
    pub retry_after: Option<u64>,
}

impl WebError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        WebError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error, telling the client to wait `secs` seconds.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// 403 `cross_site_request`: refused by the same-origin rule ([`crate::origin`]).
    pub fn cross_site() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "This request came from another web site and was refused.",
        )
    }

    /// 404 `not_found`.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is nothing at this address.",
        )
    }

    /// 413 `too_large`.
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "The request is too large.",
        )
    }

    /// 500 `internal`, with the cause logged and not shown.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!("internal error: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong; nothing was changed.",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.into(),
                message: self.message.clone(),
            },
        }
    }
}

/// Sets `Retry-After` on a response (pages that show an error set it too).
pub fn set_retry_after(resp: &mut Response, secs: Option<u64>) {
    if let Some(secs) = secs
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        set_retry_after(&mut resp, self.retry_after);
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    async fn json(resp: Response) -> serde_json::Value {
        let bytes = to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn errors_answer_the_json_shape_with_their_status() {
        let resp = WebError::new(StatusCode::CONFLICT, "own_address", "Use another address.")
            .into_response();
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        assert!(resp.headers().get(header::RETRY_AFTER).is_none());
        assert_eq!(
            json(resp).await,
            serde_json::json!({"error": {"code": "own_address", "message": "Use another address."}})
        );
    }

    #[tokio::test]
    async fn waits_travel_as_retry_after() {
        let e =
            WebError::new(StatusCode::TOO_MANY_REQUESTS, "slow_down", "Wait.").with_retry_after(42);
        assert_eq!(e.retry_after, Some(42));
        let resp = e.into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "42");
        let mut page = StatusCode::OK.into_response();
        set_retry_after(&mut page, None);
        assert!(page.headers().get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn neutral_constructors() {
        assert_eq!(WebError::cross_site().status, StatusCode::FORBIDDEN);
        assert_eq!(WebError::cross_site().code, "cross_site_request");
        assert_eq!(WebError::not_found().status, StatusCode::NOT_FOUND);
        assert_eq!(WebError::too_large().code, "too_large");
        let e = WebError::internal(&"disk on fire");
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message.contains("disk"), "causes are not shown");
        assert_eq!(
            e.to_string(),
            "500 Internal Server Error internal: Something went wrong; nothing was changed."
        );
    }
}
