//! The vendor's web pages and JSON API: the reset page a phone opens from the camera's QR
//! code, and `POST /api/reset-requests`.
//!
//! The reset page reads the challenge from the URL's fragment (which browsers never send
//! to a server) and asks for the code with one button; without script, a form does the
//! same. Answers are the fixed texts of [`crate::texts`]. No cookies, no redirects, and a
//! state-changing request must come from this site (Origin) with a JSON body or a form.

use crate::service::ResetService;
use crate::texts::Outcome;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use camkey_web::client::Client;
use camkey_web::render::{asset, render};
use serde::Deserialize;
use serde_json::json;

/// The reset service's pages and API, for the front end's app (which adds the layers
/// every page gets: security headers, the cross-site check, body limit, client address).
pub fn routes() -> Router<ResetService> {
    Router::new()
        .route("/", get(home))
        .route("/reset", get(reset_page).post(reset_form))
        .route("/guides", get(guides_index))
        .route("/guides/{model}", get(guide_page))
        .route("/api/reset-requests", post(reset_api))
        .route(
            "/static/reset.js",
            asset("text/javascript", include_str!("../static/reset.js")),
        )
        .route(
            "/static/vendor.css",
            asset("text/css", include_str!("../static/vendor.css")),
        )
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    support: String,
}

async fn home(State(reset): State<ResetService>) -> Response {
    render(
        StatusCode::OK,
        &HomePage {
            support: reset.support_address.clone(),
        },
    )
}

#[derive(Template)]
#[template(path = "guides.html")]
struct GuidesPage {
    models: &'static [camkey_proto::catalogue::Model],
}

async fn guides_index() -> Response {
    render(
        StatusCode::OK,
        &GuidesPage {
            models: camkey_proto::catalogue::CATALOGUE,
        },
    )
}

#[derive(Template)]
#[template(path = "guide.html")]
struct GuidePage {
    guide: camkey_proto::guides::ResetGuide,
    support: String,
}

/// A model's reset guide; unknown models get a 404 page pointing at the list.
async fn guide_page(
    State(reset): State<ResetService>,
    axum::extract::Path(model): axum::extract::Path<String>,
) -> Response {
    match camkey_proto::catalogue::model(&model) {
        Some(m) => render(
            StatusCode::OK,
            &GuidePage {
                guide: camkey_proto::guides::reset_guide(m),
                support: reset.support_address.clone(),
            },
        ),
        None => render(
            StatusCode::NOT_FOUND,
            &GuidesPage {
                models: camkey_proto::catalogue::CATALOGUE,
            },
        ),
    }
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    answer: Option<(String, String)>,
    /// The Tech Support Form, prefilled with the challenge (factory-address answers).
    support_link: Option<String>,
}

/// `/support?challenge=...` for a challenge the owner sent.
fn support_link(challenge: &str) -> String {
    let mut q = String::from("/support?challenge=");
    for b in challenge.trim().bytes().take(2048) {
        if b.is_ascii_alphanumeric() || b == b'-' {
            q.push(b as char);
        } else {
            q.push_str(&format!("%{b:02X}"));
        }
    }
    q
}

async fn reset_page() -> Response {
    render(
        StatusCode::OK,
        &ResetPage {
            answer: None,
            support_link: None,
        },
    )
}

fn status_of(o: &Outcome) -> StatusCode {
    match o {
        Outcome::CodeSent { .. } | Outcome::FactoryAddress { .. } => StatusCode::OK,
        Outcome::Unreadable | Outcome::NotGenuine | Outcome::TooOld => StatusCode::BAD_REQUEST,
        Outcome::Limit => StatusCode::TOO_MANY_REQUESTS,
        Outcome::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The form (and API) body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    challenge: String,
}

async fn reset_form(
    State(reset): State<ResetService>,
    client: Client,
    form: Result<Form<ResetRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (outcome, link) = match form {
        Ok(Form(f)) => {
            let o = reset.request(&f.challenge, "web", &client.key()).await;
            let link =
                matches!(o, Outcome::FactoryAddress { .. }).then(|| support_link(&f.challenge));
            (o, link)
        }
        Err(_) => (Outcome::Unreadable, None),
    };
    let msg = outcome.message(&reset.support_address);
    render(
        status_of(&outcome),
        &ResetPage {
            answer: Some((outcome.name().into(), msg)),
            support_link: link,
        },
    )
}

async fn reset_api(
    State(reset): State<ResetService>,
    client: Client,
    body: Result<Json<ResetRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let outcome = match body {
        Ok(Json(r)) => reset.request(&r.challenge, "web", &client.key()).await,
        Err(axum::extract::rejection::JsonRejection::BytesRejection(_)) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                Json(
                    json!({"error": {"code": "too_large", "message": "The request is too large."}}),
                ),
            )
                .into_response();
        }
        Err(_) => Outcome::Unreadable,
    };
    let mut body =
        json!({"outcome": outcome.name(), "message": outcome.message(&reset.support_address)});
    match &outcome {
        Outcome::CodeSent { hint } => body["hint"] = json!(hint),
        Outcome::FactoryAddress { case: Some(case) } => body["case"] = json!(case),
        _ => {}
    }
    (status_of(&outcome), Json(body)).into_response()
}
