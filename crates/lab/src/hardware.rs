//! The lab's simulated camera hardware (docs/design.md §4): each camera is a
//! [`Device`] with a simulated power supply, reset button and status LED, controlled
//! through a small JSON API on its own port (`hardware` in `lab.json`), which listens on
//! loopback only whatever `--bind` says ([`crate::hardware_ip`]):
//!
//! - `GET /` → `{"power", "state", "led", "button": {"present", "pressed"}}`;
//! - `POST /power` `{"on": bool}`;
//! - `POST /button` `{"pressed": bool}` (404 on models without a button).
//!
//! A camera on the NVR gets its power from its PoE port: powering it here switches that
//! port (as unplugging it would), and the NVR's own power cycles reach it the same way.
//!
//! And, on the lab's home server, a panel (`/hardware`) that shows every camera's state
//! with buttons to power-cycle it and to hold its reset button for the model's time (its
//! buttons work for clients on loopback only).

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use camkey_camera::device::{Device, PowerState};
use camkey_camera::hardware::{LedSignal, SimButtonHand, SimLed};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The largest request body the hardware API reads.
const MAX_BODY: usize = 1024;

/// One simulated camera.
pub struct SimCamera {
    /// Serial.
    pub serial: String,
    /// Model.
    pub model: String,
    /// The device (power, boot, run, reset).
    pub device: Device,
    /// Its reset button, if the model has one.
    pub button: Option<SimButtonHand>,
    /// Its status LED.
    pub led: Arc<SimLed>,
    /// How long the reset button must be held (scaled).
    pub hold: Duration,
    /// Its web page.
    pub url: String,
    /// The NVR's PoE switch and port it is plugged into, if any: its power is that
    /// port's power.
    pub poe: Option<(Arc<camkey_nvr::switch::SimSwitch>, u8)>,
}

impl SimCamera {
    fn status(&self) -> serde_json::Value {
        json!({
            "power": self.device.powered(),
            "state": self.device.state(),
            "led": self.led.signal(),
            "button": {
                "present": self.button.is_some(),
                "pressed": self.button.as_ref().is_some_and(|b| b.pressed()),
            },
        })
    }

    /// Powers the camera on or off: through its PoE port when it is on the NVR (the switch
    /// then powers it), directly otherwise.
    pub fn set_power(&self, on: bool) {
        use camkey_nvr::switch::PoeSwitch;
        match &self.poe {
            Some((switch, port)) => {
                if let Err(e) = switch.set_power(*port, on) {
                    tracing::warn!(camera = %self.serial, "PoE port {port}: {e}");
                }
            }
            None => self.device.set_power(on),
        }
    }

    /// Presses the button for the model's hold time (and a little more), then releases it.
    fn hold_reset(self: &Arc<Self>) -> bool {
        let Some(button) = self.button.clone() else {
            return false;
        };
        let hold = self.hold + Duration::from_millis(300);
        tokio::spawn(async move {
            button.set(true);
            tokio::time::sleep(hold).await;
            button.set(false);
        });
        true
    }

    /// Cuts the power, waits a moment, and powers on again.
    fn power_cycle(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            me.set_power(false);
            me.device
                .wait_for(PowerState::Off, Duration::from_secs(10))
                .await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            me.set_power(true);
        });
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn parse<T: for<'de> Deserialize<'de>>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, Box<Response>> {
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(Box::new(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type",
            "Send JSON (Content-Type: application/json).",
        )));
    }
    if body.len() > MAX_BODY {
        return Err(Box::new(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "The request is too large.",
        )));
    }
    serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            &format!("The request is not understood: {e}"),
        ))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PowerBody {
    on: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ButtonBody {
    pressed: bool,
}

/// The hardware API of one camera.
pub fn app(cam: Arc<SimCamera>) -> Router {
    Router::new()
        .route(
            "/",
            get(|State(c): State<Arc<SimCamera>>| async move { axum::Json(c.status()) }),
        )
        .route("/power", post(power))
        .route("/button", post(button))
        .with_state(cam)
}

async fn power(State(c): State<Arc<SimCamera>>, headers: HeaderMap, body: Bytes) -> Response {
    match parse::<PowerBody>(&headers, &body) {
        Ok(b) => {
            c.set_power(b.on);
            axum::Json(c.status()).into_response()
        }
        Err(r) => *r,
    }
}

async fn button(State(c): State<Arc<SimCamera>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(hand) = &c.button else {
        return error(
            StatusCode::NOT_FOUND,
            "no_button",
            "This model has no reset button.",
        );
    };
    match parse::<ButtonBody>(&headers, &body) {
        Ok(b) => {
            if !c.device.powered() && b.pressed {
                tracing::info!(camera = %c.serial, "reset button pressed without power");
            }
            hand.set(b.pressed);
            axum::Json(c.status()).into_response()
        }
        Err(r) => *r,
    }
}

/// One row of the panel.
struct Row {
    serial: String,
    model: String,
    url: String,
    power: bool,
    state: &'static str,
    led: &'static str,
    button: bool,
    poe: Option<u8>,
}

#[derive(Template)]
#[template(path = "hardware.html")]
struct Panel {
    rows: Vec<Row>,
}

fn state_word(s: PowerState) -> &'static str {
    match s {
        PowerState::Off => "off",
        PowerState::Booting => "booting",
        PowerState::Running => "running",
        PowerState::Resetting => "resetting",
    }
}

fn led_word(s: LedSignal) -> &'static str {
    match s {
        LedSignal::Off => "dark",
        LedSignal::Booting => "slow blink (booting)",
        LedSignal::Running => "steady",
        LedSignal::ButtonHeld => "fast blink (button held)",
        LedSignal::Resetting => "rapid flashes (resetting)",
    }
}

type Cams = Arc<Vec<Arc<SimCamera>>>;

/// The hardware panel, for the lab's home server.
pub fn panel(cams: Vec<Arc<SimCamera>>) -> Router {
    Router::new()
        .route("/hardware", get(show))
        .route("/hardware/{serial}/{action}", post(act))
        .with_state(Arc::new(cams))
}

async fn show(State(cams): State<Cams>) -> Response {
    let rows = cams
        .iter()
        .map(|c| Row {
            serial: c.serial.clone(),
            model: c.model.clone(),
            url: c.url.clone(),
            power: c.device.powered(),
            state: state_word(c.device.state()),
            led: led_word(c.led.signal()),
            button: c.button.is_some(),
            poe: c.poe.as_ref().map(|(_, p)| *p),
        })
        .collect();
    match (Panel { rows }).render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn act(
    State(cams): State<Cams>,
    Path((serial, action)): Path<(String, String)>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    // The panel is on the lab's home page (on `--bind`), but like the hardware API it
    // acts for people on the lab's own machine only.
    if !peer.is_some_and(|Extension(ConnectInfo(p))| p.ip().to_canonical().is_loopback()) {
        return error(
            StatusCode::FORBIDDEN,
            "not_local",
            "The simulated hardware is controlled from the lab's own machine only.",
        );
    }
    // Forms from this page only: a page elsewhere must not power-cycle lab cameras.
    let site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("same-origin");
    if site != "same-origin" && site != "none" {
        return error(
            StatusCode::FORBIDDEN,
            "cross_site",
            "Use the lab's own hardware page.",
        );
    }
    let Some(cam) = cams.iter().find(|c| c.serial == serial) else {
        return error(StatusCode::NOT_FOUND, "no_camera", "No such lab camera.");
    };
    match action.as_str() {
        "power-cycle" => cam.power_cycle(),
        "power-off" => cam.set_power(false),
        "power-on" => cam.set_power(true),
        "hold-reset" => {
            if !cam.hold_reset() {
                return error(
                    StatusCode::NOT_FOUND,
                    "no_button",
                    "This model has no reset button.",
                );
            }
        }
        _ => return error(StatusCode::NOT_FOUND, "no_action", "No such action."),
    }
    Redirect::to("/hardware").into_response()
}
