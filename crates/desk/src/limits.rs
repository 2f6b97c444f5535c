//! The support desk's rate limits ([`DeskLimits`]): configuration with documented
//! defaults, set from the front end's configuration and listed in `docs/vendor.md`
//! ("Limits"). Staff sign-in has limits of its own ([`crate::signin::SignInLimitsConfig`]).

/// How many mails one requester gets from the desk, and how many support requests one
/// source may file. [`Default`] gives the production values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeskLimits {
    /// Mails one requester may get from the desk in [`Self::mail_window_ms`]. Default 5.
    pub mails_per_recipient: i64,
    /// The window of [`Self::mails_per_recipient`], in milliseconds. Default 1 hour.
    pub mail_window_ms: i64,
    /// Support requests (Tech Support Form) one source (IP) may file in
    /// [`Self::request_window_ms`]. Default 5.
    pub requests_per_source: i64,
    /// The window of [`Self::requests_per_source`], in milliseconds. Default 10 minutes.
    pub request_window_ms: i64,
}

impl Default for DeskLimits {
    fn default() -> Self {
        DeskLimits {
            mails_per_recipient: 5,
            mail_window_ms: 3_600_000,
            requests_per_source: 5,
            request_window_ms: 10 * 60_000,
        }
    }
}
