//! # camkey-firmware
//!
//! Firmware for the cameras, and the way it reaches them when nothing else works
//! (docs/design.md §1 step 4, factory servicing over the serial console; S10).
//!
//! A firmware image is a signed header followed by its payload. The header comes first so
//! that a camera can refuse an image as soon as its first 168 bytes have arrived: another
//! model, a security version below the camera's floor (a rollback), a bad signature or an
//! announced size over the limit. The payload is then checked as it streams in, against
//! the size and SHA-256 the signed header promised. The byte layout and a test vector are
//! in `docs/formats.md` ("Firmware images").
//!
//! The serial console moves images with YMODEM, the protocol `sb` and `rb` of lrzsz
//! speak, so that a technician can flash a camera with the tools every terminal has, and
//! `camkey flash` can do the same with its own sender.
//!
//! Everything here is sans-IO: no file, socket, serial port or clock. The state machines
//! are fed bytes and timeouts by their caller and answer with bytes to send and events.
//! The crate has no dependency the camera build must not carry (no SQL, no X.509
//! issuance, no mail).
//!
//! # Layout
//! - [`image`]: the image format: [`image::ImageHeader`], [`image::Header`],
//!   [`image::build`], [`image::verify_image`], [`image::check_for`], the streaming
//!   [`image::PayloadCheck`] and [`image::Intake`] (a camera's whole check of an image
//!   arriving in pieces); [`image::generated_payload`] for builds without a payload.
//! - [`ymodem`]: YMODEM batch transfers: the frame codec, the [`ymodem::Receiver`] (the
//!   camera's side) and the [`ymodem::Sender`] (`camkey flash`'s side).

pub mod image;
pub mod ymodem;
