//! The Tech Support Form: the page (`GET`/`POST /support`, prefilled from the camera's QR
//! link) and the same request as JSON (`POST /api/support-requests`). Requesters are
//! anonymous; [`crate::desk::Desk::support_request`] limits them per source.

use super::errors::{ApiError, form_body, json_body};
use crate::DeskState as AppState;
use crate::requests::SupportRequest;
use askama::Template;
use axum::extract::rejection::{FormRejection, JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Form, Json};
use camkey_web::client::Client;
use camkey_web::render::render;
use serde::Deserialize;
use serde_json::json;

#[derive(Template)]
#[template(path = "support.html")]
pub(super) struct SupportPage {
    form: SupportRequest,
    error: Option<String>,
    case: Option<i64>,
    models: Vec<&'static str>,
}

#[derive(Deserialize, Default)]
pub(super) struct SupportQuery {
    challenge: Option<String>,
    kind: Option<String>,
}

fn models() -> Vec<&'static str> {
    camkey_proto::catalogue::CATALOGUE
        .iter()
        .map(|m| m.name)
        .collect()
}

pub(super) async fn support_page(q: Result<Query<SupportQuery>, QueryRejection>) -> Response {
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

pub(super) async fn support_form(
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

pub(super) async fn support_api(
    State(st): State<AppState>,
    client: Client,
    body: Result<Json<SupportRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req = json_body(body)?;
    let id = st.desk.support_request(&req, &client.key()).await?;
    Ok(Json(json!({"case": id})))
}
