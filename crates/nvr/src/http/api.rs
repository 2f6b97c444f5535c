//! The NVR's JSON API (docs/design.md §4; `docs/nvr.md` lists every route):
//! - `POST /login` `{"username", "password"}` → `{"token"}`;
//! - `GET /channels` → `[{"port", "serial", "address", "state", "model", "note"}]`;
//! - `POST /channels/{port}/reveal` `{"password"}` (the admin's own, again) →
//!   `{"username", "password"}` of the camera's account, audited;
//! - `POST /export` `{"password"}` (the admin's own, again) → `[{"port", "serial",
//!   "username", "password"}]`: every camera password the NVR holds, audited;
//! - `POST /channels/{port}/approve`: adopt the different camera waiting on the port;
//! - `POST /channels/{port}/password` `{"password"}`: the password of a camera the NVR
//!   cannot sign into;
//! - `GET /channels/{port}/snapshot`: a JPEG from the camera;
//! - `POST /ports/{port}/setup-code` `{"code"}`: the installer's setup code for a port;
//! - `POST /recovery-email` `{"email", "password"}`: the owner's recovery address, given
//!   to each camera the NVR sets up;
//! - `GET /audit`: the NVR's audit log.

use super::Nvr;
use crate::adopt;
use crate::link::{CameraLink, LinkError};
use crate::store::{AuditEntry, ChannelState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use camkey_web::client::Client;
use camkey_web::error::WebError;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

type S<L> = State<Arc<Nvr<L>>>;

/// The API routes.
pub fn routes<L: CameraLink>() -> Router<Arc<Nvr<L>>> {
    Router::new()
        .route("/login", post(login::<L>))
        .route("/channels", get(channels::<L>))
        .route("/channels/{port}/reveal", post(reveal::<L>))
        .route("/export", post(export::<L>))
        .route("/channels/{port}/approve", post(approve::<L>))
        .route("/channels/{port}/password", post(enter_password::<L>))
        .route("/channels/{port}/snapshot", get(snapshot::<L>))
        .route("/ports/{port}/setup-code", post(setup_code::<L>))
        .route("/recovery-email", post(recovery_email::<L>))
        .route("/audit", get(audit::<L>))
}

/// `POST /login`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A body that carries the admin's password or a camera's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// The password.
    pub password: String,
}

/// `POST /ports/{port}/setup-code`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupCode {
    /// The code from the camera's label; empty removes it.
    pub code: String,
}

/// `POST /recovery-email`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryEmail {
    /// The owner's address.
    pub email: String,
    /// The admin's password.
    pub password: String,
}

/// One row of `GET /channels`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChannelView {
    /// PoE port.
    pub port: u8,
    /// Camera serial.
    pub serial: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// State.
    pub state: ChannelState,
    /// Model.
    pub model: Option<String>,
    /// A different camera waiting for approval.
    pub pending_serial: Option<String>,
    /// What the NVR did or needs, in plain words.
    pub note: String,
    /// Whether the installer gave a setup code for the port.
    pub setup_code: bool,
}

/// `{"username", "password"}` of a camera's account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Revealed {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

fn bad_port(port: u8) -> WebError {
    WebError::new(
        StatusCode::NOT_FOUND,
        "no_such_port",
        format!("Port {port} does not exist on this NVR."),
    )
}

fn adopt_error(e: adopt::Error) -> WebError {
    match e {
        adopt::Error::Refused(m) => WebError::new(StatusCode::CONFLICT, "refused", m),
        adopt::Error::Link(LinkError::SignIn) => WebError::new(
            StatusCode::FORBIDDEN,
            "camera_refused_password",
            "The camera refused this password.",
        ),
        adopt::Error::Link(e) => {
            WebError::new(StatusCode::BAD_GATEWAY, "camera_error", e.to_string())
        }
        adopt::Error::Switch(crate::switch::SwitchError::NoSuchPort(p)) => bad_port(p),
        e => WebError::internal(&e),
    }
}

fn check_port<L: CameraLink>(nvr: &Nvr<L>, port: u8) -> Result<(), WebError> {
    if (1..=nvr.adopter.switch().ports()).contains(&port) {
        Ok(())
    } else {
        Err(bad_port(port))
    }
}

async fn login<L: CameraLink>(
    State(nvr): S<L>,
    client: Client,
    Json(req): Json<Login>,
) -> Result<Json<serde_json::Value>, WebError> {
    let user = nvr
        .check_password(Some(&req.username), &req.password, &client.key())
        .await?;
    Ok(Json(serde_json::json!({ "token": nvr.new_session(&user) })))
}

/// The channel table, one row per port that ever saw a camera.
pub fn channel_views<L: CameraLink>(nvr: &Nvr<L>) -> Vec<ChannelView> {
    nvr.adopter.store().read(|s| {
        s.channels
            .iter()
            .map(|(port, c)| ChannelView {
                port: *port,
                serial: c.serial.clone(),
                address: c.address.clone(),
                state: c.state,
                model: c.model.clone(),
                pending_serial: c.pending_serial.clone(),
                note: c.note.clone(),
                setup_code: s.setup_codes.contains_key(port),
            })
            .collect()
    })
}

async fn channels<L: CameraLink>(
    State(nvr): S<L>,
    headers: HeaderMap,
) -> Result<Json<Vec<ChannelView>>, WebError> {
    nvr.admin(&headers)?;
    Ok(Json(channel_views(&nvr)))
}

async fn reveal<L: CameraLink>(
    State(nvr): S<L>,
    headers: HeaderMap,
    client: Client,
    Path(port): Path<u8>,
    Json(req): Json<PasswordBody>,
) -> Result<Json<Revealed>, WebError> {
    let who = nvr.admin(&headers)?;
    check_port(&nvr, port)?;
    nvr.check_password(Some(&who), &req.password, &client.key())
        .await?;
    let serial = nvr
        .adopter
        .store()
        .read(|s| s.channels.get(&port).and_then(|c| c.serial.clone()));
    let creds = match serial {
        Some(serial) => nvr
            .adopter
            .credentials(port, &serial)
            .map_err(adopt_error)?
            .map(|c| (serial, c)),
        None => None,
    };
    let Some((serial, creds)) = creds else {
        return Err(WebError::new(
            StatusCode::NOT_FOUND,
            "no_password",
            "The NVR holds no password for a camera on this port.",
        ));
    };
    let ip = client.ip();
    nvr.adopter
        .store()
        .update(|s, clock| {
            s.audit(
                clock,
                "reveal",
                Some(port),
                format!("{who} from {ip} revealed the password of {serial}"),
            );
            Ok::<_, crate::store::Error>(())
        })
        .map_err(|e| WebError::internal(&e))?;
    Ok(Json(Revealed {
        username: creds.username,
        password: creds.password,
    }))
}

/// One row of an export.
#[derive(Debug, Serialize)]
pub struct Exported {
    port: u8,
    serial: String,
    username: String,
    password: String,
}

async fn export<L: CameraLink>(
    State(nvr): S<L>,
    headers: HeaderMap,
    client: Client,
    Json(req): Json<PasswordBody>,
) -> Result<Json<Vec<Exported>>, WebError> {
    let who = nvr.admin(&headers)?;
    nvr.check_password(Some(&who), &req.password, &client.key())
        .await?;
    let held = nvr.adopter.store().read(|s| {
        s.channels
            .iter()
            .filter(|(_, c)| c.sealed_password.is_some())
            .filter_map(|(p, c)| Some((*p, c.serial.clone()?)))
            .collect::<Vec<_>>()
    });
    let mut out = Vec::new();
    for (port, serial) in held {
        if let Some(c) = nvr
            .adopter
            .credentials(port, &serial)
            .map_err(adopt_error)?
        {
            out.push(Exported {
                port,
                serial,
                username: c.username,
                password: c.password,
            });
        }
    }
    let (ip, n) = (client.ip(), out.len());
    nvr.adopter
        .store()
        .update(|s, clock| {
            s.audit(
                clock,
                "export",
                None,
                format!("{who} from {ip} exported the passwords of {n} camera(s)"),
            );
            Ok::<_, crate::store::Error>(())
        })
        .map_err(|e| WebError::internal(&e))?;
    Ok(Json(out))
}

async fn approve<L: CameraLink>(
    State(nvr): S<L>,
    headers: HeaderMap,
    Path(port): Path<u8>,
) -> Result<Json<serde_json::Value>, WebError> {
    let who = nvr.admin(&headers)?;
    check_port(&nvr, port)?;
    let state = nvr.adopter.approve(port, &who).await.map_err(adopt_error)?;
    Ok(Json(serde_json::json!({ "state": state })))
}

async fn enter_password<L: CameraLink>(
    State(nvr): S<L>,
    headers: HeaderMap,
    Path(port): Path<u8>,
    Json(req): Json<PasswordBody>,
) -> Result<Json<serde_json::Value>, WebError> {
    let who = nvr.admin(&headers)?;
    check_port(&nvr, port)?;
    let state = nvr
        .adopter
        .enter_password(port, &req.password, &who)
        .await
        .map_err(adopt_error)?;
    Ok(Json(serde_json::json!({ "state": state })))
}

async fn snapshot<L: CameraLink>(
    State(nvr): S<L>,
    headers: HeaderMap,
    Path(port): Path<u8>,
) -> Result<Response, WebError> {
    nvr.admin(&headers)?;
    check_port(&nvr, port)?;
    let none = || {
        WebError::new(
            StatusCode::NOT_FOUND,
            "no_snapshot",
            "This channel has no picture yet.",
        )
    };
    let ch = nvr
        .adopter
        .store()
        .read(|s| s.channels.get(&port).cloned())
        .filter(|c| c.state == ChannelState::Adopted)
        .ok_or_else(none)?;
    let (Some(serial), Some(uri)) = (ch.serial, ch.snapshot_uri) else {
        return Err(none());
    };
    let addr = nvr
        .adopter
        .switch()
        .status(port)
        .ok()
        .and_then(|s| s.address)
        .ok_or_else(none)?;
    let creds = nvr
        .adopter
        .credentials(port, &serial)
        .map_err(adopt_error)?
        .ok_or_else(none)?;
    let jpeg = nvr
        .adopter
        .link()
        .snapshot(addr, &serial, &creds, &uri)
        .await
        .map_err(|e| adopt_error(e.into()))?;
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response())
}

async fn setup_code<L: CameraLink>(
    State(nvr): S<L>,
    headers: HeaderMap,
    Path(port): Path<u8>,
    Json(req): Json<SetupCode>,
) -> Result<StatusCode, WebError> {
    let who = nvr.admin(&headers)?;
    check_port(&nvr, port)?;
    let code = req.code.trim().to_string();
    if code.len() > 64 {
        return Err(WebError::new(
            StatusCode::BAD_REQUEST,
            "bad_setup_code",
            "A setup code is at most 64 characters.",
        ));
    }
    nvr.adopter
        .set_setup_code(port, &code, &who)
        .map_err(|e| WebError::internal(&e))?;
    // Adoption waiting on the code goes on now.
    let adopter = nvr.adopter.clone();
    tokio::spawn(async move { adopter.tick_port(port).await });
    Ok(StatusCode::NO_CONTENT)
}

async fn recovery_email<L: CameraLink>(
    State(nvr): S<L>,
    headers: HeaderMap,
    client: Client,
    Json(req): Json<RecoveryEmail>,
) -> Result<StatusCode, WebError> {
    let who = nvr.admin(&headers)?;
    let email = req.email.trim().to_string();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !email.contains(char::is_whitespace)
        });
    if !valid {
        return Err(WebError::new(
            StatusCode::BAD_REQUEST,
            "bad_email",
            "Enter an email address such as owner@example.com.",
        ));
    }
    nvr.check_password(Some(&who), &req.password, &client.key())
        .await?;
    nvr.adopter
        .store()
        .update(|s, clock| {
            if let Some(a) = s.admin.as_mut() {
                a.recovery_email = Some(email.clone());
            }
            s.audit(
                clock,
                "recovery_email",
                None,
                format!("{who} set the recovery address"),
            );
            Ok::<_, crate::store::Error>(())
        })
        .map_err(|e| WebError::internal(&e))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn audit<L: CameraLink>(
    State(nvr): S<L>,
    headers: HeaderMap,
) -> Result<Json<Vec<AuditEntry>>, WebError> {
    nvr.admin(&headers)?;
    Ok(Json(nvr.adopter.store().read(|s| s.audit.clone())))
}
