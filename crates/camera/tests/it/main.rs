//! Integration tests of the camera: real HTTPS servers on port 0, real TLS with the
//! device certificate, real files on disk. One test binary (each file in `tests/` would
//! be a slow-to-link binary of its own).

#![allow(clippy::unwrap_used)]

mod api;
mod attack;
mod common;
mod device;
mod discovery;
mod email;
mod http;
mod limits;
mod onvif;
mod onvif_core;
mod power;
mod recovery;
mod roles;
