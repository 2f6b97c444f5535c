//! `lab.json` (docs/design.md §4) and the lab's home page, which shows the same map for people.

use crate::plan::LabPlan;
use crate::{LabError, LabOptions, https_base};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use camkey_camera::store::AtomicFile;
use camkey_factory::{VendorKeys, VendorProfile, files};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;

/// One camera in `lab.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CameraEntry {
    /// Serial.
    pub serial: String,
    /// Model.
    pub model: String,
    /// Web UI.
    pub url: String,
    /// REST base URL.
    pub api: String,
    /// Plain-HTTP address (redirects to `url`).
    pub http: String,
    /// Simulated hardware control base URL.
    pub hardware: Option<String>,
    /// ONVIF device service URL, over HTTPS (the same path answers on the plain `http`
    /// address too).
    pub onvif: Option<String>,
    /// Serial console pty (null until the console exists).
    pub serial_console: Option<String>,
    /// NVR PoE port (null: not on the NVR).
    pub poe_port: Option<u16>,
    /// The label's setup code.
    pub setup_code: String,
    /// Factory directory (read-only identity).
    pub factory_dir: String,
    /// Data directory (the camera's flash).
    pub data_dir: String,
}

/// `lab.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// The lab's home page.
    pub url: String,
    /// Cameras.
    pub cameras: Vec<CameraEntry>,
    /// The vendor service (left out until it exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<serde_json::Value>,
    /// The lab's mail catcher (left out until it exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox: Option<serde_json::Value>,
    /// The NVR (left out until it exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvr: Option<serde_json::Value>,
    /// The lab vendor's firmware signing key.
    pub firmware_key: String,
    /// The lab's device CA certificate.
    pub device_ca: String,
    /// The lab's sample order file (every lab camera under an order number).
    pub orders: String,
    /// Options the lab runs with.
    pub time_scale: u32,
    /// SMTP relay, if given.
    pub relay: Option<String>,
}

impl Manifest {
    /// Builds the manifest of a bound lab.
    pub fn build(
        opts: &LabOptions,
        plan: &LabPlan,
        keys: &VendorKeys,
        setup_codes: &[String],
        profile: &VendorProfile,
        staff: &(String, String),
        nvr_admin: &(String, String),
    ) -> Manifest {
        let abs = |p: &Path| {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        };
        let cameras = plan
            .cameras
            .iter()
            .zip(setup_codes)
            .map(|(c, code)| {
                let base = https_base(opts.bind, c.https_port);
                CameraEntry {
                    serial: c.serial.clone(),
                    model: c.model.clone(),
                    url: format!("{base}/"),
                    api: format!("{base}/api"),
                    http: format!("http://{}/", SocketAddr::new(opts.bind, c.http_port)),
                    hardware: Some(format!(
                        "http://{}",
                        SocketAddr::new(crate::hardware_ip(opts.bind), c.hardware_port)
                    )),
                    onvif: Some(format!("{base}/onvif/device_service")),
                    serial_console: None,
                    poe_port: c.poe_port.map(u16::from),
                    setup_code: code.clone(),
                    factory_dir: abs(&opts.dir.join(&c.dir).join("factory")),
                    data_dir: abs(&opts.dir.join(&c.dir).join("flash")),
                }
            })
            .collect();
        Manifest {
            url: format!("http://{}/", SocketAddr::new(opts.bind, plan.home_port)),
            cameras,
            vendor: Some(serde_json::json!({
                "url": format!("http://{}/", SocketAddr::new(opts.bind, plan.vendor_http_port)),
                "reset_page": profile.reset_page_url,
                "smtp": SocketAddr::new(opts.bind, plan.vendor_smtp_port).to_string(),
                "reset_address": profile.reset_address,
                "support_address": profile.support_address,
                "staff": {"username": staff.0, "password": staff.1},
            })),
            inbox: Some(serde_json::json!({
                "url": format!("http://{}/", SocketAddr::new(opts.bind, plan.inbox_http_port)),
                "smtp": SocketAddr::new(opts.bind, plan.inbox_smtp_port).to_string(),
            })),
            nvr: Some({
                let url = format!("http://{}/", SocketAddr::new(opts.bind, plan.nvr_http_port));
                serde_json::json!({
                    "api": format!("{url}api"),
                    "url": url,
                    "ports": plan.nvr_ports(),
                    "admin": {"username": nvr_admin.0, "password": nvr_admin.1},
                })
            }),
            firmware_key: abs(&keys.path(files::FIRMWARE_KEY)),
            device_ca: abs(&keys.path(files::DEVICE_CA)),
            orders: abs(&opts.dir.join(crate::ORDERS_FILE)),
            time_scale: opts.time_scale,
            relay: opts.relay.clone(),
        }
    }

    /// Writes `lab.json` atomically (readers never see half a file).
    pub fn write(&self, dir: &Path) -> Result<(), LabError> {
        AtomicFile::new(dir, "lab.json")
            .and_then(|f| f.save(self))
            .map_err(|e| LabError::Plan(e.to_string()))
    }

    /// The table printed at start.
    pub fn table(&self) -> String {
        let mut out = format!("camkey lab: {}\n", self.url);
        if let Some(url) = self.inbox.as_ref().and_then(|i| i["url"].as_str()) {
            out.push_str(&format!("lab inbox:  {url}\n"));
        }
        if let Some(url) = self.vendor.as_ref().and_then(|v| v["reset_page"].as_str()) {
            out.push_str(&format!("reset page: {url}\n"));
        }
        if let Some(v) = &self.vendor
            && let (Some(url), Some(user), Some(pw)) = (
                v["url"].as_str(),
                v["staff"]["username"].as_str(),
                v["staff"]["password"].as_str(),
            )
        {
            out.push_str(&format!(
                "staff desk: {url}staff (sign in as {user} / {pw})\n"
            ));
        }
        if let Some(n) = &self.nvr
            && let (Some(url), Some(user), Some(pw)) = (
                n["url"].as_str(),
                n["admin"]["username"].as_str(),
                n["admin"]["password"].as_str(),
            )
        {
            out.push_str(&format!("NVR:        {url} (sign in as {user} / {pw})\n"));
        }
        out.push('\n');
        out.push_str(&format!(
            "{:<20} {:<10} {:<32} {:<20} {}\n",
            "camera", "model", "web page", "setup code", "on"
        ));
        for c in &self.cameras {
            let on = c
                .poe_port
                .map(|p| format!("NVR port {p}"))
                .unwrap_or_else(|| "LAN".into());
            out.push_str(&format!(
                "{:<20} {:<10} {:<32} {:<20} {on}\n",
                c.serial, c.model, c.url, c.setup_code
            ));
        }
        out
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    m: &'a Manifest,
}

/// The lab's home page, `GET /lab.json`, and the hardware panel.
pub fn home_app(m: Manifest, panel: Router) -> Router {
    Router::new()
        .route("/", get(home))
        .route(
            "/lab.json",
            get(|State(m): State<Manifest>| async move { axum::Json(m) }),
        )
        .with_state(m)
        .merge(panel)
}

async fn home(State(m): State<Manifest>) -> Response {
    match (HomePage { m: &m }).render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
