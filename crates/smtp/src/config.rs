//! The server's configuration: its name, its limits and its TLS configuration.
//!
//! Every limit here bounds something a client controls. [`Config::new`] gives generic
//! defaults; the vendor's reset mailbox, the lab and the tests change what they need.

use std::sync::Arc;
use std::time::Duration;

/// How one SMTP server behaves. Build it with [`Config::new`] and change fields.
#[derive(Debug, Clone)]
pub struct Config {
    /// The name in the greeting and the EHLO reply. Visible ASCII, no spaces.
    pub hostname: String,
    /// Largest message accepted, after dot-unstuffing, in bytes; announced as `SIZE`. A
    /// bigger message is read to its end, dropped and refused with `552`.
    pub max_message_bytes: usize,
    /// Recipients per message; `RCPT` beyond gets `452` (the client may send the rest
    /// later, RFC 5321 §4.5.3.1.8).
    pub max_recipients: usize,
    /// Concurrent sessions; a connection beyond gets `421 4.3.2 too busy, try later` and
    /// is closed at once.
    pub max_sessions: usize,
    /// Concurrent sessions from one client address (IPv6: one /64); a connection beyond
    /// gets `421 4.7.0 too many sessions from your address` and is closed at once, so one
    /// host cannot hold every session while others still get `220`. The addresses in
    /// [`Config::xforward_from`] (trusted front MTAs) are exempt.
    pub max_sessions_per_client: usize,
    /// `NOOP`, `RSET`, `VRFY` and `HELP` commands in one session between two messages;
    /// one more and the session is closed with `421` (they keep an idle session alive).
    pub max_idle_commands: usize,
    /// The longest a session may last, whatever the client does; then `421` and close.
    pub session_timeout: Duration,
    /// Protocol errors (bad syntax, bad sequence, unknown commands) in one session before
    /// it is closed with `421`.
    pub max_errors: usize,
    /// Time allowed for each complete command line (and for writing replies and for the
    /// TLS handshake). It runs from the previous reply, so a client trickling a command
    /// byte by byte gets no more time than an idle one. Then: `421` and close.
    pub command_timeout: Duration,
    /// Time allowed for the whole DATA phase, from `354` to the final dot, whatever the
    /// client sends meanwhile (slow-loris). Then: `421` and close.
    pub data_timeout: Duration,
    /// With a TLS configuration, `STARTTLS` is advertised and supported.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Clients trusted to tell, with Postfix's `XFORWARD`, who the original client was
    /// (a front MTA on loopback). Only they see it in the EHLO reply; anyone else who
    /// tries it is refused. Empty: nobody.
    pub xforward_from: Vec<std::net::IpAddr>,
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The hostname would corrupt the replies it appears in.
    #[error("hostname {0:?} must be 1 to 255 visible ASCII characters without spaces")]
    Hostname(String),
    /// A limit is zero, so no session could ever do anything.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
}

impl Config {
    /// Defaults: 10 MiB messages, 100 recipients, 100 sessions (no tighter cap per client
    /// address), 20 errors, 100 `NOOP`/`RSET`/`VRFY`/`HELP` between messages, 5 minutes
    /// per command, 10 minutes per DATA phase (RFC 5321 §4.5.3.2 suggests at least these),
    /// 30 minutes per session, no TLS. A server facing the Internet tightens them (the
    /// vendor's reset mailbox: 5 sessions per address, 20 idle commands, 1 minute per
    /// command, 10 minutes per session).
    pub fn new(hostname: impl Into<String>) -> Self {
        Config {
            hostname: hostname.into(),
            max_message_bytes: 10 * 1024 * 1024,
            max_recipients: 100,
            max_sessions: 100,
            max_sessions_per_client: 100,
            max_idle_commands: 100,
            max_errors: 20,
            command_timeout: Duration::from_secs(5 * 60),
            data_timeout: Duration::from_secs(10 * 60),
            session_timeout: Duration::from_secs(30 * 60),
            xforward_from: Vec::new(),
            tls: None,
        }
    }

    /// Checks that the configuration can work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let h = &self.hostname;
        if h.is_empty() || h.len() > 255 || !h.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::Hostname(h.clone()));
        }
        for (name, value) in [
            ("max_message_bytes", self.max_message_bytes),
            ("max_recipients", self.max_recipients),
            ("max_sessions", self.max_sessions),
            ("max_sessions_per_client", self.max_sessions_per_client),
            ("max_idle_commands", self.max_idle_commands),
            ("max_errors", self.max_errors),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        for (name, value) in [
            ("command_timeout", self.command_timeout),
            ("data_timeout", self.data_timeout),
            ("session_timeout", self.session_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::Zero(name));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Config::new("mx.example").validate(), Ok(()));
    }

    #[test]
    fn hostname_that_could_inject_replies_is_refused() {
        for bad in ["", "a b", "a\r\n250 x", "é.example", &"a".repeat(256)] {
            assert!(
                matches!(Config::new(bad).validate(), Err(ConfigError::Hostname(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn zero_limits_are_refused() {
        let mut c = Config::new("mx");
        c.max_sessions = 0;
        assert_eq!(c.validate(), Err(ConfigError::Zero("max_sessions")));
        let mut c = Config::new("mx");
        c.data_timeout = Duration::ZERO;
        assert_eq!(c.validate(), Err(ConfigError::Zero("data_timeout")));
    }
}
