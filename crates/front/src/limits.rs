//! The front end's rate limits in one place ([`Limits`]): each part's own (the reset
//! service's [`ResetLimits`], the desk's [`DeskLimits`], staff sign-in's
//! [`SignInLimitsConfig`]) and the reset mailbox's SMTP sessions ([`MailboxLimits`]).
//! Each has a [`Default`] with the production values; `docs/vendor.md` ("Limits") lists
//! them with what they protect, and a test here keeps the two in step.
//!
//! Storage bounds (how many rows the database keeps, e.g.
//! [`camkey_store::resets::MAX_RESET_RECORDS`]) and the sizes of what is read (e.g.
//! [`camkey_reset::intake::MAX_MAIL_BYTES`]) stay constants: they bound memory and disk,
//! whatever the traffic, and are no policy to tune.

use camkey_desk::DeskLimits;
use camkey_desk::signin::SignInLimitsConfig;
use camkey_reset::ResetLimits;
use std::time::Duration;

/// Every rate limit of the front end. [`Default`] gives the production values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Reset requests per requester and the mailbox's replies per recipient.
    pub reset: ResetLimits,
    /// The desk's mails per requester and support requests per source.
    pub desk: DeskLimits,
    /// Staff sign-in failures per (name, source), per source and per name.
    pub signin: SignInLimitsConfig,
    /// The reset mailbox's SMTP sessions.
    pub mailbox: MailboxLimits,
}

/// How much of the reset mailbox one client may hold. [`Default`] gives the production
/// values. The front MTAs allowed `XFORWARD` are exempt from the per-client cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxLimits {
    /// Concurrent SMTP sessions from one client address (IPv6: one /64). Default 5.
    pub sessions_per_client: usize,
    /// `NOOP`/`RSET`/`VRFY`/`HELP` in one session between two messages. Default 20.
    pub idle_commands: usize,
    /// The longest a session may wait for a command (Postfix under stress: 10 s).
    /// Default 1 minute.
    pub idle_timeout: Duration,
    /// The longest a session may last. Default 10 minutes.
    pub session_timeout: Duration,
}

impl Default for MailboxLimits {
    fn default() -> Self {
        MailboxLimits {
            sessions_per_client: 5,
            idle_commands: 20,
            idle_timeout: Duration::from_secs(60),
            session_timeout: Duration::from_secs(10 * 60),
        }
    }
}

/// A duration in milliseconds as `docs/vendor.md` writes it: `10 min`, `1 h`, `30 s`.
fn human_ms(ms: u128) -> String {
    match ms {
        0 => "0".into(),
        ms if ms % 3_600_000 == 0 => format!("{} h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{} min", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{} s", ms / 1000),
        ms => format!("{ms} ms"),
    }
}

/// A non-negative count or duration (`i64` in the store's terms).
fn ms(v: i64) -> String {
    human_ms(u128::try_from(v).unwrap_or(0))
}

impl Limits {
    /// Each limit by the name `docs/vendor.md` gives it, with its value as written there
    /// (for the log, and to keep the document honest).
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let (r, d, s, m) = (&self.reset, &self.desk, &self.signin, &self.mailbox);
        vec![
            ("reset.per_requester", r.per_requester.to_string()),
            ("reset.window_ms", ms(r.window_ms)),
            (
                "reset.replies_per_recipient",
                r.replies_per_recipient.to_string(),
            ),
            ("reset.reply_window_ms", ms(r.reply_window_ms)),
            (
                "desk.mails_per_recipient",
                d.mails_per_recipient.to_string(),
            ),
            ("desk.mail_window_ms", ms(d.mail_window_ms)),
            (
                "desk.requests_per_source",
                d.requests_per_source.to_string(),
            ),
            ("desk.request_window_ms", ms(d.request_window_ms)),
            ("signin.pair_failures", s.pair_failures.to_string()),
            ("signin.source_failures", s.source_failures.to_string()),
            (
                "signin.name_free_failures",
                s.name_free_failures.to_string(),
            ),
            ("signin.max_delay_ms", human_ms(u128::from(s.max_delay_ms))),
            ("signin.window_ms", human_ms(u128::from(s.window_ms))),
            ("signin.max_entries", s.max_entries.to_string()),
            (
                "mailbox.sessions_per_client",
                m.sessions_per_client.to_string(),
            ),
            ("mailbox.idle_commands", m.idle_commands.to_string()),
            ("mailbox.idle_timeout", human_ms(m.idle_timeout.as_millis())),
            (
                "mailbox.session_timeout",
                human_ms(m.session_timeout.as_millis()),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of `docs/vendor.md`'s "Limits" table: (name, default).
    fn documented() -> Vec<(String, String)> {
        let doc = include_str!("../../../docs/vendor.md");
        let section = doc
            .split("\n## Limits\n")
            .nth(1)
            .expect("docs/vendor.md has a \"## Limits\" section");
        let section = section.split("\n## ").next().unwrap_or(section);
        section
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                Some((name.to_string(), cells.get(2)?.to_string()))
            })
            .collect()
    }

    #[test]
    fn every_default_is_documented_as_it_is() {
        let documented = documented();
        let entries = Limits::default().entries();
        for (name, value) in &entries {
            let row = documented.iter().find(|(n, _)| n == name);
            assert_eq!(
                row.map(|(_, v)| v.as_str()),
                Some(value.as_str()),
                "docs/vendor.md, Limits: `{name}`"
            );
        }
        for (name, _) in &documented {
            assert!(
                entries.iter().any(|(n, _)| n == name),
                "docs/vendor.md, Limits: `{name}` is no limit"
            );
        }
    }

    #[test]
    fn durations_read_as_written() {
        assert_eq!(human_ms(600_000), "10 min");
        assert_eq!(human_ms(3_600_000), "1 h");
        assert_eq!(human_ms(30_000), "30 s");
        assert_eq!(human_ms(1500), "1500 ms");
        assert_eq!(ms(-1), "0");
    }
}
