//! # camkey-reset
//!
//! The vendor's reset service (docs/design.md §1, step 1): the web reset page a phone opens
//! from a camera's QR code and its JSON API, and the automated reset mailbox an owner mails
//! the QR string to. Both hand the challenge to one [service](service::ResetService), which
//! asks the [signer](camkey_signer) to mail the code to the address sealed in the challenge:
//! this crate never holds the master key and never sees a code. Whoever asks gets one of
//! the fixed answers of [`texts`].
//!
//! # Layout
//! - [`texts`]: the fixed answers (`docs/vendor.md`).
//! - [`limits`]: the service's and the mailbox's rate limits, with their defaults.
//! - [`service`]: one reset request, from the web page or the reset mailbox, to the signer.
//! - [`web`]: the reset page, the reset guides and `POST /api/reset-requests`.
//! - [`intake`]: finding the challenge in a mail, however a mail client mangled it.
//! - [`mailbox`]: the automated reset mailbox (an SMTP sink) and its fixed replies.
//! - [`dmarc`]: the optional DMARC-alignment check on the mailbox's requesters.

pub mod dmarc;
pub mod intake;
pub mod limits;
pub mod mailbox;
pub mod service;
pub mod texts;
pub mod web;

pub use limits::ResetLimits;
