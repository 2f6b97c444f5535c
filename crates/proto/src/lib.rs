//! # camkey-proto
//!
//! The bottom of camkey: formats, the model catalogue, key derivation and the password
//! policy, shared by every part (camera, factory line, vendor, NVR, CLI). Nothing here does
//! I/O: no files, no sockets, no system clock. Clocks are a trait ([`clock::Clock`]) that
//! the parts implement.
//!
//! # Layout
//! - [`catalogue`]: the camera models we ship and what each can do.
//! - [`guides`]: each model's reset guide (the camera's help page and the vendor's site).
//! - [`factory`]: a camera's read-only factory data, serial and setup-code formats.
//! - [`keys`]: the vendor master key and the per-device key derived from it (S1).
//! - [`clock`]: the two clocks of the design (wall and elapsed) as a trait, and a manual
//!   clock for tests.
//! - [`policy`]: the password and security-answer policy (S8, S3b).
//! - [`challenge`]: the sealed QR challenge a locked-out camera shows (S2).
//! - [`code`]: the security codes the vendor issues for a challenge and the camera checks
//!   (S3).
//! - [`orders`]: order files (CSV), read by the vendor's desk and the signer.
//! - [`api`]: JSON shapes of the camera's REST API shared by the camera and its clients.
//! - [`crockford`]: Crockford base32, grouped for people to type.
//! - `docs` (tests only): keeps the test vectors of `docs/formats.md` and
//!   `docs/protocol.md` true, and each crate's `//!` layout complete.

pub mod api;
pub mod catalogue;
pub mod challenge;
pub mod clock;
pub mod code;
pub mod crockford;
mod docs;
pub mod factory;
pub mod guides;
pub mod keys;
pub mod orders;
pub mod policy;
