//! # camkey-desk
//!
//! The vendor's support desk (docs/design.md §1 steps 1 and 4): the front end's copy of the
//! orders, cases with their history and notes, the Tech Support Form, staff accounts and
//! their portal and API, releasing a security code through the signer, and the
//! factory-service fee an owner approves. Storage is [`camkey_store`]'s; codes never pass
//! through here (the signer mails them).
//!
//! # Layout
//! - [`requests`]: what a requester or staff ask the desk to open, checked field by field.
//! - [`desk`]: cases: opening, viewing, notes, states, the mails to requesters.
//! - [`limits`]: the desk's rate limits (mails to requesters, support requests), with
//!   their defaults.
//! - [`release`]: releasing a code for a password-reset case, through the signer.
//! - [`fees`]: the factory-service fee, proposed by staff and approved by the owner.
//! - [`mails`]: the fixed texts the desk mails to requesters.
//! - [`orders`]: the front end's copy of the orders, import, and warranty.
//! - [`staff`]: staff accounts (Argon2id), sign-in, sessions.
//! - [`signin`]: staff sign-in limits (per name and source; names only slowed down).
//! - [`portal`]: the Tech Support Form, the staff portal and API, the fee approval page.

pub mod desk;
pub mod fees;
pub mod limits;
pub mod mails;
pub mod orders;
pub mod portal;
pub mod release;
pub mod requests;
pub mod signin;
pub mod staff;

pub use limits::DeskLimits;

use std::sync::Arc;

/// What the desk's web routes share.
#[derive(Clone)]
pub struct DeskState {
    /// The support desk.
    pub desk: desk::Desk,
    /// Staff sign-in limits.
    pub signin: Arc<signin::SignInLimits>,
}
