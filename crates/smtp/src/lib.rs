//! # camkey-smtp
//!
//! The one SMTP server of camkey. It receives mail in three places: the vendor's automated
//! reset mailbox (a camera owner writes to it to recover a forgotten password), the lab's
//! mail catcher (what the lab's cameras send ends up on its home page), and the tests, which
//! read the mail the cameras send. All three run this code with a different [`Sink`]: the
//! server speaks the protocol, the sink decides who may receive and what happens to a
//! message.
//!
//! It is a receiver only: it never relays, never queues and never sends. Outbound mail is
//! lettre's job elsewhere.
//!
//! # Protocol
//! RFC 5321 with PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152),
//! ENHANCEDSTATUSCODES (RFC 2034/3463), SMTPUTF8 (RFC 6531) and STARTTLS (RFC 3207) when a
//! TLS configuration is given. No AUTH, no BDAT, no DSN, no relaying.
//!
//! Request lines and their parameters are parsed by `smtp-proto` (Stalwart's parser); the
//! framing around it (bounded command lines, the DATA phase), the replies and the session
//! state machine are ours, because a hostile client controls every byte of them and we want
//! each bound visible in one place. The tokio loop is ours too: there is no maintained
//! async SMTP server crate.
//!
//! # Hostile clients
//! Every resource a client can make us spend is bounded: command lines (512 bytes,
//! RFC 5321 §4.5.3.1.4; the rest of a longer line is discarded without being stored),
//! messages ([`Config::max_message_bytes`]; a bigger message is read to its end and
//! dropped, never buffered beyond the limit), recipients, errors per session, concurrent
//! sessions in all and per client address (the ones beyond get `421` at once:
//! back-pressure, not a queue; one host cannot hold them all), `NOOP`/`RSET` that keep a
//! session alive, time between commands, time for a whole DATA phase (slow-loris) and
//! time for a whole session. Commands pipelined behind
//! `STARTTLS` in the same packet are discarded, never executed inside the TLS session
//! (CVE-2011-0411 and its many successors). The end of DATA is only ever
//! `<CRLF>.<CRLF>`: a bare `<LF>.<LF>` ends nothing (SMTP smuggling).
//!
//! # Layout
//! - [`config`]: [`Config`], the limits and the TLS configuration.
//! - [`sink`]: [`Sink`], [`Envelope`] and [`Verdict`]: where messages go.
//! - [`mailbox`]: [`Mailbox`], a ready-made sink that keeps messages in memory (lab, tests).
//! - `reply`: well-formed reply lines, whatever a sink puts in its verdicts.
//! - `line`: bounded command-line framing.
//! - `data`: the DATA phase: dot-unstuffing, end detection, the size bound.
//! - `session`: the protocol state machine, without I/O (so it is tested byte by byte).
//! - [`server`]: the tokio loop: accepting, timeouts, TLS, shutdown; [`serve`] and [`Server`].

pub mod config;
mod data;
mod line;
pub mod mailbox;
mod reply;
pub mod server;
mod session;
pub mod sink;

pub use config::{Config, ConfigError};
pub use mailbox::{Mail, Mailbox};
pub use server::{Server, serve};
pub use sink::{BoxFuture, Envelope, Sink, Verdict};

/// Longest command line we accept, CRLF included (RFC 5321 §4.5.3.1.4).
pub const MAX_COMMAND_LINE: usize = 512;

/// Longest address (reverse- or forward-path, without the angle brackets) we accept
/// (RFC 5321 §4.5.3.1.3 allows 256 octets for a path).
pub const MAX_ADDRESS_BYTES: usize = 256;
