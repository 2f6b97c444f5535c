//! The camera's outbound mail: recovery codes, reset notices and test mails, sent with
//! `lettre` through the SMTP server the owner configured.
//!
//! TLS is verified against the public web PKI (S3b): `starttls` and `tls` both check the
//! server's certificate and name. Plain SMTP (`none`) is accepted only for a server on the
//! loopback interface — the lab's inbox — and refused for anything else when the settings
//! are saved, so a recovery code never crosses a network in the clear.

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::Duration;

/// How the camera talks to its SMTP server.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// No TLS: loopback servers only.
    None,
    /// STARTTLS on a plain connection (usually port 587).
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

/// SMTP settings (stored in the user state; the password never leaves the camera again).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Server host name or address.
    pub server: String,
    /// Port.
    pub port: u16,
    /// TLS mode.
    pub tls: TlsMode,
    /// Login, if the server wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for the login.
    #[serde(default)]
    pub password: Option<String>,
    /// Sender address.
    pub sender: String,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("server", &self.server)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("sender", &self.sender)
            .finish()
    }
}

/// Why mail could not be sent, or settings were refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MailError {
    /// Settings that cannot work.
    #[error("{0}")]
    Settings(String),
    /// The server could not be reached or refused the mail.
    #[error("the mail server did not take the mail: {0}")]
    Send(String),
}

/// Whether `host` is on the loopback interface.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl SmtpSettings {
    /// The same settings with the sender `<serial>@<domain of the sender>` (each lab
    /// camera mails as itself).
    pub fn with_sender(mut self, serial: &str) -> Self {
        let domain = self
            .sender
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_default();
        self.sender = format!("{}@{domain}", serial.to_lowercase());
        self
    }

    /// Checks settings before they are saved.
    pub fn validate(&self) -> Result<(), MailError> {
        self.check(false)
    }

    /// `built_in`: settings the camera was started with (the lab's own mail on its bind
    /// address), not typed by anyone; plain SMTP is allowed to them.
    fn check(&self, built_in: bool) -> Result<(), MailError> {
        let bad = |m: &str| Err(MailError::Settings(m.into()));
        let host_ok = !self.server.is_empty()
            && self.server.len() <= 253
            && (self.server.parse::<IpAddr>().is_ok()
                || self
                    .server
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'));
        if !host_ok {
            return bad("The mail server must be a host name or an IP address.");
        }
        if self.port == 0 {
            return bad("The mail server port must be between 1 and 65535.");
        }
        if self.tls == TlsMode::None && !is_loopback(&self.server) && !built_in {
            return bad(
                "Mail without TLS is allowed only to a server on this camera itself; choose STARTTLS or TLS, so that recovery codes are never sent in the clear.",
            );
        }
        if !camkey_proto::policy::check_email(&self.sender) {
            return bad("The sender must be an e-mail address, like camera@example.com.");
        }
        let long = |s: &Option<String>| {
            s.as_ref()
                .is_some_and(|s| s.len() > 256 || s.chars().any(char::is_control))
        };
        if long(&self.username) || long(&self.password) {
            return bad("The mail login and password are at most 256 characters.");
        }
        if self.username.is_some() != self.password.is_some() {
            return bad("Give both the mail login and its password, or neither.");
        }
        Ok(())
    }

    /// Sends one plain-text mail.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        self.send_as(false, to, subject, body).await
    }

    /// Sends one plain-text mail; `built_in` as in `SmtpSettings::check`.
    pub async fn send_as(
        &self,
        built_in: bool,
        to: &str,
        subject: &str,
        body: String,
    ) -> Result<(), MailError> {
        self.check(built_in)?;
        let from: Mailbox = self
            .sender
            .parse()
            .map_err(|_| MailError::Settings("bad sender address".into()))?;
        let to: Mailbox = to
            .parse()
            .map_err(|_| MailError::Settings("bad recipient address".into()))?;
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Settings(e.to_string()))?;
        let builder = match self.tls {
            TlsMode::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.server),
            TlsMode::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&self.server)
                .map_err(|e| MailError::Settings(e.to_string()))?,
            TlsMode::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&self.server)
                .map_err(|e| MailError::Settings(e.to_string()))?,
        };
        let mut builder = builder
            .port(self.port)
            .timeout(Some(Duration::from_secs(20)));
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
        }
        builder
            .build()
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Send(e.to_string()))
    }
}

/// A hint of an address for the owner's own eyes (audit log, test mail): `o***@example.com`.
/// Whoever else asks gets [`camkey_proto::challenge::address_hint`].
pub fn mask(addr: &str) -> String {
    match addr.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(server: &str, tls: TlsMode) -> SmtpSettings {
        SmtpSettings {
            server: server.into(),
            port: 25,
            tls,
            username: None,
            password: None,
            sender: "camera@example.com".into(),
        }
    }

    #[test]
    fn plain_smtp_only_on_loopback() {
        assert!(settings("127.0.0.1", TlsMode::None).validate().is_ok());
        assert!(settings("localhost", TlsMode::None).validate().is_ok());
        assert!(settings("::1", TlsMode::None).validate().is_ok());
        assert!(
            settings("mail.example.com", TlsMode::None)
                .validate()
                .is_err()
        );
        assert!(settings("10.0.0.1", TlsMode::None).validate().is_err());
        assert!(
            settings("mail.example.com", TlsMode::Starttls)
                .validate()
                .is_ok()
        );
        assert!(settings("bad host!", TlsMode::Tls).validate().is_err());
    }

    #[test]
    fn masks_and_debug_hide_secrets() {
        assert_eq!(mask("owner@example.com"), "o***@example.com");
        let mut s = settings("127.0.0.1", TlsMode::None);
        s.password = Some("hunter2-secret".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
