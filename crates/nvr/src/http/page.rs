//! The NVR's page: one askama page (`templates/nvr.html`) with a sign-in form and the
//! channel table, driven by `static/nvr.js` over the JSON API with the bearer token kept
//! in the tab's session storage (no cookie, so nothing for a cross-site form to ride on).
//! It shows each channel's state in plain words, a snapshot per adopted channel, and the
//! reveal, approve, camera-password and setup-code actions; the CSP allows no inline
//! script, and snapshots are shown as `data:` images.

use super::Nvr;
use crate::link::CameraLink;
use crate::store::ChannelState;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use camkey_web::render::{asset, render};
use std::sync::Arc;

/// The page.
#[derive(Template)]
#[template(path = "nvr.html")]
pub struct Page {
    /// Number of PoE ports.
    pub ports: u8,
    /// The states and their plain words, for the legend.
    pub states: Vec<(&'static str, &'static str)>,
}

/// The page's routes.
pub fn routes<L: CameraLink>() -> Router<Arc<Nvr<L>>> {
    Router::new()
        .route("/", get(page::<L>))
        .route(
            "/static/nvr.js",
            asset("text/javascript", include_str!("../../static/nvr.js")),
        )
        .route(
            "/static/nvr.css",
            asset("text/css", include_str!("../../static/nvr.css")),
        )
}

async fn page<L: CameraLink>(State(nvr): State<Arc<Nvr<L>>>) -> Response {
    let states = [
        ChannelState::Adopted,
        ChannelState::Adopting,
        ChannelState::AwaitingApproval,
        ChannelState::AuthFailed,
        ChannelState::Offline,
    ]
    .into_iter()
    .map(|s| (state_name(s), s.words()))
    .collect();
    render(
        StatusCode::OK,
        &Page {
            ports: nvr.adopter.switch().ports(),
            states,
        },
    )
}

/// The API name of a state.
pub fn state_name(s: ChannelState) -> &'static str {
    match s {
        ChannelState::Adopted => "adopted",
        ChannelState::AuthFailed => "auth_failed",
        ChannelState::Offline => "offline",
        ChannelState::Adopting => "adopting",
        ChannelState::AwaitingApproval => "awaiting_approval",
    }
}
