//! # camkey-nvr
//!
//! The NVR part of camkey (docs/design.md §2, issue 14): it owns its PoE segment, adopts
//! the uninitialized cameras plugged into its own ports ("sync") after checking that each
//! is a genuine camera with the serial it claims, gives each its own random password kept
//! sealed in its store, sets their time, records them as channels, and serves its admin an
//! API and a page. It reaches cameras only over the network, through [`link::CameraLink`]
//! (implemented over the shared client crate by [`client_link::ClientLink`]), as it would reach any vendor's camera; it
//! links no camera code.
//!
//! `docs/nvr.md` describes the API, the channel states and what replacing an NVR means.
//!
//! # Layout
//! - [`switch`]: the PoE switch seam (link, address, power per port), the simulated
//!   switch of the tests and the lab, and the fixed table of `camkey nvr --port`.
//! - [`store`]: power-safe state on disk: admin account, channels, sealed camera
//!   passwords, setup codes, sign-in limits, audit log, the persisted elapsed clock.
//! - [`link`]: what the NVR needs from a camera over the network ([`link::CameraLink`]).
//! - [`client_link`]: [`link::CameraLink`] over the shared client crate (the real link).
//! - [`adopt`]: the adoption state machine, per port.
//! - [`http`]: the NVR's API (docs/design.md §4) and its page.
//! - [`service`]: a running NVR (store, admin account, adoption loop, web front), as
//!   `camkey nvr` and the lab start it.
//! - `testlink` (tests only): a simulated camera network behind [`link::CameraLink`], and
//!   the test rig (simulated switch, store, adoption engine).

pub mod adopt;
pub mod client_link;
pub mod http;
pub mod link;
pub mod service;
pub mod store;
pub mod switch;

#[cfg(test)]
mod testlink;
