//! JSON shapes of the camera's REST API (docs/design.md §4), shared by the camera that serves them
//! and the clients (CLI, NVR, tests) that call them.

use serde::{Deserialize, Serialize};

/// The body of every error: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong, for programs (`code`) and for people (`message`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_initialized`.
    pub code: String,
    /// Plain words that say what to do next.
    pub message: String,
}

/// `GET /device`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Serial number.
    pub serial: String,
    /// Model name.
    pub model: String,
    /// Firmware version.
    pub firmware: String,
    /// Whether an admin password has been set.
    pub initialized: bool,
    /// The reset button.
    pub reset_button: ResetButtonInfo,
    /// Whether "Forgot password?" is offered.
    pub web_reset: bool,
    /// Whether initialization needs the label's setup code.
    pub setup_code_required: bool,
    /// Whether network initialization is still open (S8), when uninitialized.
    pub init_window_open: bool,
    /// MAC address.
    pub mac: String,
}

/// `reset_button` in [`DeviceInfo`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResetButtonInfo {
    /// Whether the owner can reach one.
    pub present: bool,
    /// Where it is.
    pub location: String,
}

/// A security question and its answer, at initialization.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QuestionAnswer {
    /// The question, as the owner wrote or chose it.
    pub question: String,
    /// The answer (normalized and hashed by the camera).
    pub answer: String,
}

/// Network settings: DHCP or static.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
pub enum NetworkSettings {
    /// Address from DHCP (the default).
    #[default]
    Dhcp,
    /// Fixed address.
    Static {
        /// IPv4 address with prefix, e.g. `192.168.1.20/24`.
        address: String,
        /// Default gateway.
        gateway: String,
        /// DNS server.
        #[serde(default)]
        dns: Option<String>,
    },
}

/// Time settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct TimeSettings {
    /// NTP server to follow.
    #[serde(default)]
    pub ntp_server: Option<String>,
    /// The browser's time (Unix milliseconds) to set the clock from.
    #[serde(default)]
    pub set_time_ms: Option<i64>,
}

/// `POST /init`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InitRequest {
    /// The admin password.
    pub password: String,
    /// Recovery address; left out, the factory default stays.
    #[serde(default)]
    pub recovery_email: Option<String>,
    /// Up to three security questions.
    #[serde(default)]
    pub security_questions: Vec<QuestionAnswer>,
    /// The label's setup code, where the model demands it.
    #[serde(default)]
    pub setup_code: Option<String>,
    /// Network settings.
    #[serde(default)]
    pub network: Option<NetworkSettings>,
    /// Time settings.
    #[serde(default)]
    pub time: Option<TimeSettings>,
    /// Let ONVIF clients (NVRs, Home Assistant) sign in as admin with this password: the
    /// camera then keeps the password sealed under its device key. Off by default, so an
    /// owner who never uses ONVIF keeps no password equivalent on the camera.
    #[serde(default)]
    pub onvif: bool,
}

/// `POST /login`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Account name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Answer to `POST /login`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoginResponse {
    /// Bearer token; also set as a cookie.
    pub token: String,
    /// Seconds the session lives without use.
    pub expires_in: u64,
}

/// `POST /password`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    pub old_password: String,
    /// The new one.
    pub new_password: String,
}

/// One audit-log entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEntry {
    /// Sequence number, growing, never reused.
    pub seq: u64,
    /// Camera elapsed time (ms) when it happened.
    pub elapsed_ms: u64,
    /// Wall-clock time (RFC 3339) as the camera believed it then.
    pub time: String,
    /// Whether the wall clock was set by a trusted source then.
    pub time_trusted: bool,
    /// What happened, e.g. `login_failed`.
    pub event: String,
    /// Account concerned, if any.
    pub user: Option<String>,
    /// Source address of the request.
    pub source: Option<String>,
    /// Plain-words detail.
    pub detail: String,
}
