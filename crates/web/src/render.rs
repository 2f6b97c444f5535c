//! Pages: an askama template rendered into a response, or a logged 500 if it cannot be.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Renders a page with `status`.
pub fn render(status: StatusCode, t: &impl askama::Template) -> Response {
    match t.render() {
        Ok(h) => (status, Html(h)).into_response(),
        Err(e) => {
            tracing::error!("{e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
