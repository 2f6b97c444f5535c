//! # camkey-camera
//!
//! The camera part of camkey: what runs inside an IP camera (or simulates one on a PC).
//! It reads its read-only factory identity, keeps the owner's settings in power-safe
//! storage, and serves the web pages and REST API over HTTPS with its device certificate.
//! Passwords and security answers are hashed by `camkey_passwords` (Argon2id).
//!
//! # Layout
//! - [`store`]: atomic, durable replacement of one JSON document (S7).
//! - [`state`]: the user state that lives in that document.
//! - [`clock`]: the camera's wall and persisted elapsed clocks (docs/design.md §5).
//! - [`limits`]: rate limits without lock-out denial of service (S4).
//! - [`device_cookies`]: cookies of clients that signed in before (OWASP device cookies).
//! - [`sessions`]: sign-in sessions in RAM.
//! - [`mail`]: outbound mail (recovery codes, notices, test mails) over verified SMTP.
//! - [`core`]: the domain logic: the `Core`, sign-in, password change, audit (in `core`
//!   itself); initialization (`core::init`); rate-limited guesses (`core::guesses`); the
//!   notice outbox (`core::notices`); the recovery methods (`core::recovery`, with the QR
//!   challenge in `core::recovery_qr`); the recovery settings (`core::recovery_settings`);
//!   the account table and role rules (`core::users`); ONVIF access and sign-in
//!   (`core::onvif`); the wall clock, discovery mode, factory defaults and reboot an NVR
//!   asks for (`core::system`).
//! - [`http`]: the HTTPS pages and API, and the plain-HTTP redirector.
//! - [`onvif`]: the ONVIF device and media services, on both ports (docs/onvif.md).
//! - [`server`]: loading a factory directory and running a camera.
//! - [`hardware`]: the reset button and status LED seam, simulated parts, and the hold logic.
//! - `gpio` (feature `gpio`): the reset button on a Linux GPIO character-device line.
//! - [`discovery`]: the WS-Discovery responder, fed by the core.
//! - [`device`]: power, boot, run and factory reset by button: the camera as a device.

pub mod clock;
pub mod core;
pub mod device;
pub mod device_cookies;
pub mod discovery;
#[cfg(feature = "gpio")]
pub mod gpio;
pub mod hardware;
pub mod http;
pub mod limits;
pub mod mail;
pub mod onvif;
pub mod server;
pub mod sessions;
pub mod state;
pub mod store;

pub use server::{Camera, CameraConfig, CameraError, Listeners, load_identity};
