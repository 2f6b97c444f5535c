//! What the NVR needs from a camera, over the network: [`CameraLink`].
//!
//! The NVR reaches cameras only over the network, as it would any vendor's camera
//! (docs/design.md §2); the shared client crate (certificate chain and serial check, REST
//! and ONVIF calls) implements this trait. Its contract, which the adoption state machine
//! relies on:
//! - [`CameraLink::identify`] verifies the camera's certificate chain up to the device CA
//!   and reads the serial from the certificate, and checks that `GET /device` names the
//!   same serial; it sends no secret. Anything else is [`LinkError::NotGenuine`].
//! - every other call takes the serial [`CameraLink::identify`] proved and verifies the
//!   certificate again on its own connection, before any secret leaves
//!   ([`LinkError::WrongSerial`] otherwise): a camera swapped between two calls gets
//!   nothing.

use camkey_proto::api::InitRequest;
use std::future::Future;
use std::net::SocketAddr;

/// A camera's identity, proved by its certificate, and its setup state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The serial in the device certificate (and `GET /device`).
    pub serial: String,
    /// The model.
    pub model: String,
    /// Whether an admin password is set.
    pub initialized: bool,
    /// Whether network initialization is still open.
    pub init_window_open: bool,
    /// Whether initialization needs the label's setup code.
    pub setup_code_required: bool,
}

/// A camera account.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What the media service gave for a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// The profile token.
    pub profile: String,
    /// The snapshot URI.
    pub snapshot_uri: String,
}

/// Why a call to a camera failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Nothing answers, or the connection broke.
    #[error("the camera does not answer: {0}")]
    Unreachable(String),
    /// The certificate does not chain to the device CA, or names no serial, or the device
    /// information names another serial.
    #[error("not a genuine camera: {0}")]
    NotGenuine(String),
    /// The certificate names another serial than the one expected.
    #[error("the camera's certificate names {found}, not {expected}")]
    WrongSerial {
        /// Expected.
        expected: String,
        /// Found.
        found: String,
    },
    /// The init window has closed (403): a power cycle reopens it.
    #[error("the camera's setup window has closed")]
    WindowClosed,
    /// The camera is already initialized (409).
    #[error("the camera is already initialized")]
    AlreadyInitialized,
    /// The setup code is missing or wrong.
    #[error("the setup code is missing or wrong")]
    SetupCode,
    /// The camera refused the credentials.
    #[error("the camera refused the password")]
    SignIn,
    /// The camera limits this client for now.
    #[error("the camera asks to wait {0} s")]
    Limited(u64),
    /// Anything else the camera answered.
    #[error("the camera answered: {0}")]
    Other(String),
}

/// The calls the NVR makes to a camera at `addr` (its HTTPS address from the switch).
pub trait CameraLink: Send + Sync + 'static {
    /// The certificate-proved identity and setup state; no secret is sent.
    fn identify(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = Result<Identity, LinkError>> + Send;

    /// `POST /init`, after checking the certificate names `serial`.
    fn init(
        &self,
        addr: SocketAddr,
        serial: &str,
        req: &InitRequest,
    ) -> impl Future<Output = Result<(), LinkError>> + Send;

    /// Signs in (`POST /login`), after checking the certificate names `serial`.
    fn sign_in(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
    ) -> impl Future<Output = Result<(), LinkError>> + Send;

    /// Turns ONVIF access on for the account (a camera initialized by hand may have it
    /// off); done when it already is.
    fn enable_onvif(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
    ) -> impl Future<Output = Result<(), LinkError>> + Send;

    /// ONVIF `SetSystemDateAndTime` (manual, UTC) to `wall_ms`.
    fn set_time(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
        wall_ms: i64,
    ) -> impl Future<Output = Result<(), LinkError>> + Send;

    /// ONVIF media: the first profile and its snapshot URI.
    fn media(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
    ) -> impl Future<Output = Result<Media, LinkError>> + Send;

    /// Fetches a snapshot (JPEG bytes) from `uri`.
    fn snapshot(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
        uri: &str,
    ) -> impl Future<Output = Result<Vec<u8>, LinkError>> + Send;
}
