//! Where messages go: the [`Sink`] a server hands recipients and messages to.
//!
//! The server only speaks the protocol. Whether a recipient exists, and what a message
//! means (a reset request, a lab mail, a test's evidence), is the sink's decision, given
//! as a [`Verdict`]. A rejection's words reach the client, sanitized: the server keeps
//! every reply line well-formed whatever a sink returns.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

/// A boxed, sendable future (what [`Sink::deliver`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Who sent a message, and to whom, as the client told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The client's address; for a message relayed by a trusted front MTA with
    /// `XFORWARD`, the original client's (port 0 if it was not given).
    pub client: SocketAddr,
    /// The name the client gave in `EHLO` or `HELO` (or the original one, forwarded).
    pub helo: String,
    /// The trusted front MTA that forwarded `client` and `helo` with `XFORWARD`, if one did.
    pub forwarded_by: Option<SocketAddr>,
    /// The reverse-path, without angle brackets; empty for the null sender `<>`.
    pub mail_from: String,
    /// The accepted forward-paths, without angle brackets, in order.
    pub rcpt_to: Vec<String>,
    /// Whether the transaction ran inside TLS (after `STARTTLS`).
    pub tls: bool,
}

/// A sink's decision on a recipient or a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Take it: `250`.
    Accept,
    /// Refuse it with this reply. `code` must be 4xx (try later) or 5xx (never); anything
    /// else becomes `451 4.3.0`. `enhanced` is an RFC 3463 code such as `5.1.1` whose class
    /// matches `code` (else `code`'s class with `.0.0` is used). Control characters in
    /// `text` are replaced and it is cut to one short line.
    Reject {
        /// Reply code, 400–599.
        code: u16,
        /// Enhanced status code, `class.subject.detail`.
        enhanced: String,
        /// Human-readable reason.
        text: String,
    },
}

impl Verdict {
    /// A rejection.
    pub fn reject(code: u16, enhanced: impl Into<String>, text: impl Into<String>) -> Self {
        Verdict::Reject {
            code,
            enhanced: enhanced.into(),
            text: text.into(),
        }
    }
}

/// Receives what a server accepts. One sink serves every session of a server, from many
/// tasks at once.
pub trait Sink: Send + Sync + 'static {
    /// Decides on one recipient, given the envelope so far (the recipients accepted
    /// before this one). Called once per `RCPT`, in order; it must not block. The default
    /// accepts everyone.
    fn rcpt(&self, envelope_so_far: &Envelope, rcpt: &str) -> Verdict {
        let _ = (envelope_so_far, rcpt);
        Verdict::Accept
    }

    /// Takes a complete message (dot-unstuffed, ending with CRLF, at most
    /// `max_message_bytes`) after DATA. The client waits for the answer, which becomes the
    /// reply to the final dot.
    fn deliver(&self, envelope: Envelope, message: Vec<u8>) -> BoxFuture<'_, Verdict>;
}
