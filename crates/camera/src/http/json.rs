//! Extractors whose refusals are [`ApiError`]s: JSON for the API, forms for the pages.

use super::error::{self, ApiError};
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// `Json<T>` whose rejections speak the API's error shape.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(v)| ApiJson(v))
            .map_err(error::json_rejection)
    }
}

/// `Form<T>` whose rejections speak the API's error shape (pages render them).
pub struct WebForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<super::AppState> for WebForm<T> {
    type Rejection = super::web::PageError;

    async fn from_request(req: Request, state: &super::AppState) -> Result<Self, Self::Rejection> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(v)| WebForm(v))
            .map_err(|r| super::web::PageError::new(&state.core, error::form_rejection(r)))
    }
}
