//! The reset service's rate limits ([`ResetLimits`]): configuration with documented
//! defaults, set from the front end's configuration and listed in `docs/vendor.md`
//! ("Limits").

/// How often one requester may ask for a code, and how often one recipient gets an
/// answer from the reset mailbox. [`Default`] gives the production values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetLimits {
    /// Readable requests one requester (a [source key](camkey_web::client::source_key),
    /// or a lower-cased sender address) may make in [`Self::window_ms`]; unreadable ones do
    /// not count. Default 10.
    pub per_requester: i64,
    /// The window of [`Self::per_requester`], in milliseconds. Default 10 minutes.
    pub window_ms: i64,
    /// Replies from the reset mailbox one recipient (the whole address, letter case
    /// ignored) may get in [`Self::reply_window_ms`]. Default 3.
    pub replies_per_recipient: i64,
    /// The window of [`Self::replies_per_recipient`], in milliseconds. Default 1 hour.
    pub reply_window_ms: i64,
}

impl Default for ResetLimits {
    fn default() -> Self {
        ResetLimits {
            per_requester: 10,
            window_ms: 10 * 60_000,
            replies_per_recipient: 3,
            reply_window_ms: 3_600_000,
        }
    }
}
