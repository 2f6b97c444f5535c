//! The vendor's web pages and JSON API: the reset page a phone opens from the camera's QR
//! code, and `POST /api/reset-requests`.
//!
//! The reset page reads the challenge from the URL's fragment (which browsers never send
//! to a server) and asks for the code with one button; without script, a form does the
//! same. Answers are the fixed texts of [`crate::texts`]. No cookies, no redirects, and a
//! state-changing request must come from this site (Origin) with a JSON body or a form.

use crate::client::{Client, TrustedProxies};
use crate::service::ResetService;
use crate::texts::Outcome;
use askama::Template;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Largest request body.
pub const MAX_BODY: usize = 16 * 1024;

/// The front end's state.
#[derive(Clone)]
pub struct AppState {
    /// The reset service.
    pub reset: ResetService,
    /// The support desk.
    pub desk: crate::desk::Desk,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` name the client ([`crate::client`]).
    pub proxies: Arc<TrustedProxies>,
    /// Staff sign-in limits.
    pub signin: Arc<crate::signin::SignInLimits>,
}

/// The vendor's web app.
pub fn app(state: AppState) -> Router {
    let proxies = state.proxies.clone();
    Router::new()
        .route("/", get(home))
        .route("/reset", get(reset_page).post(reset_form))
        .route("/guides", get(guides_index))
        .route("/guides/{model}", get(guide_page))
        .route("/api/reset-requests", post(reset_api))
        .merge(crate::portal::routes())
        .route("/static/reset.js", get(|| static_file("text/javascript", include_str!("../static/reset.js"))))
        .route("/static/vendor.css", get(|| static_file("text/css", include_str!("../static/vendor.css"))))
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"error": {"code": "not_found", "message": "There is nothing at this address."}}))) })
        .layer(middleware::from_fn(same_site_only))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(headers))
        .layer(middleware::from_fn_with_state(proxies, crate::client::layer))
        .with_state(state)
}

async fn static_file(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

fn same_origin(h: &HeaderMap) -> bool {
    if let Some(site) = h.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return false;
    }
    match h.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        None => true, // no cookies here: a request without Origin carries no ambient authority
        Some(origin) => {
            let host = h
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            !host.is_empty()
                && (origin == format!("https://{host}") || origin == format!("http://{host}"))
        }
    }
}

async fn same_site_only(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) || same_origin(req.headers()) {
        return next.run(req).await;
    }
    (
        StatusCode::FORBIDDEN,
        Json(json!({"error": {"code": "cross_site_request", "message": "This request came from another web site and was refused."}})),
    )
        .into_response()
}

async fn headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (k, v) in [
        (
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        // `same-origin`, not `no-referrer`: under `no-referrer` browsers post the page's own
        // form with `Origin: null`, which the cross-site check refuses.
        ("referrer-policy", "same-origin"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    support: String,
}

async fn home(State(st): State<AppState>) -> Response {
    render(
        StatusCode::OK,
        &HomePage {
            support: st.reset.support_address.clone(),
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
    State(st): State<AppState>,
    axum::extract::Path(model): axum::extract::Path<String>,
) -> Response {
    match camkey_proto::catalogue::model(&model) {
        Some(m) => render(
            StatusCode::OK,
            &GuidePage {
                guide: camkey_proto::guides::reset_guide(m),
                support: st.reset.support_address.clone(),
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

/// Renders a page.
pub(crate) fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(h) => (status, Html(h)).into_response(),
        Err(e) => {
            tracing::error!("{e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
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
    State(st): State<AppState>,
    client: Client,
    form: Result<Form<ResetRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (outcome, link) = match form {
        Ok(Form(f)) => {
            let o = st.reset.request(&f.challenge, "web", &client.key()).await;
            let link =
                matches!(o, Outcome::FactoryAddress { .. }).then(|| support_link(&f.challenge));
            (o, link)
        }
        Err(_) => (Outcome::Unreadable, None),
    };
    let msg = outcome.message(&st.reset.support_address);
    render(
        status_of(&outcome),
        &ResetPage {
            answer: Some((outcome.name().into(), msg)),
            support_link: link,
        },
    )
}

async fn reset_api(
    State(st): State<AppState>,
    client: Client,
    body: Result<Json<ResetRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let outcome = match body {
        Ok(Json(r)) => st.reset.request(&r.challenge, "web", &client.key()).await,
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
        json!({"outcome": outcome.name(), "message": outcome.message(&st.reset.support_address)});
    match &outcome {
        Outcome::CodeSent { hint } => body["hint"] = json!(hint),
        Outcome::FactoryAddress { case: Some(case) } => body["case"] = json!(case),
        _ => {}
    }
    (status_of(&outcome), Json(body)).into_response()
}
