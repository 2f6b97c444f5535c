//! The protocol state machine of one session, without I/O.
//!
//! [`Session::next`] takes the bytes received so far and returns the next [`Step`]: a
//! reply, a reply and the end, the start of TLS, or a message to hand to the sink. The
//! server loop does the I/O; everything a client can say is decided here, one command at
//! a time and in order, which is what makes pipelining safe (RFC 2920): replies come out
//! in the order of the commands, however they were packed.
//!
//! States (RFC 5321 §4.1.4): nothing before `EHLO`/`HELO`; then `MAIL`, `RCPT`s, `DATA`;
//! `RSET`, a new `EHLO`/`HELO` and a finished message clear the transaction; `STARTTLS`
//! clears everything, the greeting name included (RFC 3207 §4.2).

use crate::config::Config;
use crate::data::{DataDecoder, TooBig};
use crate::line::{Line, LineBuffer};
use crate::reply::Reply;
use crate::sink::{Envelope, Sink, Verdict};
use crate::{MAX_ADDRESS_BYTES, MAX_COMMAND_LINE};
use smtp_proto::{
    Error as ParseError, MAIL_BODY_7BIT, MAIL_BODY_8BITMIME, MAIL_SMTPUTF8, MailFrom, RcptTo,
    Request,
};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use tracing::{debug, info};

/// Decodes xtext (RFC 3461 §4): `+XX` is the byte with hex value XX.
fn xtext_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'+' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What the server loop must do next.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send this reply and go on.
    Reply(Reply),
    /// Send this reply and close the connection.
    Close(Reply),
    /// Send this reply (220), discard whatever else was received, and start TLS; then
    /// call [`Session::tls_started`].
    StartTls(Reply),
    /// Hand this message to the sink, then send [`Session::delivered`]'s reply.
    Deliver(Envelope, Vec<u8>),
}

/// The open transaction: `MAIL` was accepted.
#[derive(Debug)]
struct Transaction {
    envelope: Envelope,
    smtputf8: bool,
}

/// What the bytes received mean now.
#[derive(Debug)]
enum Input {
    Commands(LineBuffer),
    Data(DataDecoder),
}

/// One SMTP session.
pub(crate) struct Session {
    config: Arc<Config>,
    sink: Arc<dyn Sink>,
    client: SocketAddr,
    tls: bool,
    helo: Option<String>,
    /// What a trusted front MTA said of the original client (`XFORWARD`), for the next
    /// transaction.
    forwarded: Forwarded,
    transaction: Option<Transaction>,
    errors: usize,
    /// `NOOP`/`RSET`/`VRFY`/`HELP` since the last message.
    idle_commands: usize,
    input: Input,
}

/// The `XFORWARD` attributes that matter here (Postfix's XFORWARD_README).
#[derive(Debug, Default, Clone)]
struct Forwarded {
    addr: Option<std::net::IpAddr>,
    port: Option<u16>,
    helo: Option<String>,
}

impl Session {
    /// A new session with `client`, in plain text.
    pub(crate) fn new(config: Arc<Config>, sink: Arc<dyn Sink>, client: SocketAddr) -> Self {
        Session {
            config,
            sink,
            client,
            tls: false,
            helo: None,
            forwarded: Forwarded::default(),
            transaction: None,
            errors: 0,
            idle_commands: 0,
            input: Input::Commands(LineBuffer::default()),
        }
    }

    /// Whether this client may use `XFORWARD`.
    fn may_xforward(&self) -> bool {
        self.config.xforward_from.contains(&self.client.ip())
    }

    /// The 220 greeting.
    pub(crate) fn greeting(&self) -> Reply {
        Reply::plain(220, format!("{} ESMTP camkey", self.config.hostname))
    }

    /// The reply when the server shuts down.
    pub(crate) fn shutting_down(&self) -> Reply {
        Reply::new(
            421,
            "4.3.2",
            format!("{} shutting down, try later", self.config.hostname),
        )
    }

    /// The reply when the client took too long.
    pub(crate) fn timed_out(&self) -> Reply {
        Reply::new(
            421,
            "4.4.2",
            format!("{} timeout, closing connection", self.config.hostname),
        )
    }

    /// The reply when the session has lasted too long.
    pub(crate) fn too_long(&self) -> Reply {
        Reply::new(
            421,
            "4.4.2",
            format!(
                "{} session too long, closing connection",
                self.config.hostname
            ),
        )
    }

    /// Whether a message is being received.
    pub(crate) fn in_data(&self) -> bool {
        matches!(self.input, Input::Data(_))
    }

    /// Consumes bytes from `input` until the next step; `None` when all of `input` was
    /// consumed without completing one.
    pub(crate) fn next(&mut self, input: &mut &[u8]) -> Option<Step> {
        match &mut self.input {
            Input::Data(decoder) => {
                if !decoder.feed(input) {
                    return None;
                }
                let Input::Data(decoder) =
                    std::mem::replace(&mut self.input, Input::Commands(LineBuffer::default()))
                else {
                    return None;
                };
                Some(self.end_of_data(decoder.finish()))
            }
            Input::Commands(lines) => match lines.next_line(input)? {
                Line::TooLong => Some(self.fail(
                    500,
                    "5.5.2",
                    format!("line too long (at most {MAX_COMMAND_LINE} bytes)"),
                )),
                Line::Complete(line) => Some(self.command(&line)),
            },
        }
    }

    /// The reply to the final dot, once the sink has decided.
    pub(crate) fn delivered(&mut self, verdict: &Verdict) -> Reply {
        self.idle_commands = 0;
        Reply::verdict(verdict, || Reply::new(250, "2.0.0", "message accepted"))
    }

    /// TLS is up: forget everything said before (RFC 3207 §4.2).
    pub(crate) fn tls_started(&mut self) {
        self.tls = true;
        self.helo = None;
        self.forwarded = Forwarded::default();
        self.transaction = None;
        self.input = Input::Commands(LineBuffer::default());
    }

    fn end_of_data(&mut self, message: Result<Vec<u8>, TooBig>) -> Step {
        let Some(tx) = self.transaction.take() else {
            return Step::Reply(Reply::new(503, "5.5.1", "no transaction"));
        };
        self.forwarded = Forwarded::default();
        match message {
            Ok(message) => Step::Deliver(tx.envelope, message),
            Err(TooBig { size }) => {
                info!(
                    size,
                    limit = self.config.max_message_bytes,
                    "message over the size limit refused"
                );
                Step::Reply(self.too_big())
            }
        }
    }

    fn too_big(&self) -> Reply {
        Reply::new(
            552,
            "5.3.4",
            format!(
                "message too big (at most {} bytes)",
                self.config.max_message_bytes
            ),
        )
    }

    /// A protocol error: counted, and the session ends after too many.
    fn fail(&mut self, code: u16, enhanced: &str, text: impl AsRef<str>) -> Step {
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            info!(errors = self.errors, "too many errors, closing");
            Step::Close(Reply::new(
                421,
                "4.7.0",
                "too many errors, closing connection",
            ))
        } else {
            Step::Reply(Reply::new(code, enhanced, text))
        }
    }

    fn command(&mut self, line: &[u8]) -> Step {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return self.fail(
                500,
                "5.5.2",
                "control characters (NUL, bare CR, TAB...) are not allowed in commands",
            );
        }
        if std::str::from_utf8(content).is_err() {
            return self.fail(500, "5.5.2", "command is not valid UTF-8");
        }
        if content.len() >= 9 && content[..9].eq_ignore_ascii_case(b"XFORWARD ") {
            // Checked as UTF-8 above.
            return self.xforward(&String::from_utf8_lossy(&content[9..]));
        }
        let mut bytes = line.iter();
        let request = match Request::parse(&mut bytes) {
            Ok(request) => request,
            Err(e) => return self.parse_error(e),
        };
        debug!(command = request.name(), "command");
        if matches!(
            request,
            Request::Rset | Request::Noop { .. } | Request::Vrfy { .. } | Request::Help { .. }
        ) {
            self.idle_commands += 1;
            if self.idle_commands > self.config.max_idle_commands {
                info!(
                    commands = self.idle_commands,
                    "too many NOOP/RSET/VRFY/HELP, closing"
                );
                return Step::Close(Reply::new(
                    421,
                    "4.7.0",
                    "too many NOOP/RSET/VRFY/HELP without a message, closing connection",
                ));
            }
        }
        match request {
            Request::Ehlo { host } => self.hello(host, true),
            Request::Helo { host } => self.hello(host, false),
            Request::Mail { from } => self.mail(from),
            Request::Rcpt { to } => self.rcpt(to, line),
            Request::Data => self.data(),
            Request::Rset => {
                self.transaction = None;
                self.forwarded = Forwarded::default();
                Step::Reply(Reply::new(250, "2.0.0", "reset"))
            }
            Request::Noop { .. } => Step::Reply(Reply::new(250, "2.0.0", "OK")),
            Request::Vrfy { .. } => Step::Reply(Reply::new(
                252,
                "2.5.2",
                "cannot verify the user, but will accept mail and attempt delivery",
            )),
            Request::Help { .. } => Step::Reply(Reply::new(
                214,
                "2.0.0",
                "commands: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT STARTTLS",
            )),
            Request::Quit => Step::Close(Reply::new(
                221,
                "2.0.0",
                format!("{} closing connection", self.config.hostname),
            )),
            Request::StartTls => self.starttls(),
            other @ (Request::Lhlo { .. }
            | Request::Expn { .. }
            | Request::Bdat { .. }
            | Request::Auth { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. }) => {
                let name = other.name();
                self.fail(502, "5.5.1", format!("{name} not implemented"))
            }
        }
    }

    fn parse_error(&mut self, e: ParseError) -> Step {
        match e {
            ParseError::UnknownCommand => self.fail(500, "5.5.2", "command not recognized"),
            ParseError::InvalidSenderAddress => {
                self.fail(501, "5.1.7", "bad sender address syntax")
            }
            ParseError::InvalidRecipientAddress => {
                self.fail(501, "5.1.3", "bad recipient address syntax")
            }
            ParseError::SyntaxError { syntax } => {
                self.fail(501, "5.5.2", format!("syntax: {syntax}"))
            }
            ParseError::InvalidParameter { param } => {
                self.fail(501, "5.5.4", format!("invalid {param} parameter"))
            }
            ParseError::UnsupportedParameter { param } => {
                let param: String = param.chars().take(32).collect();
                self.fail(555, "5.5.4", format!("unsupported parameter {param}"))
            }
            ParseError::NeedsMoreData { .. }
            | ParseError::ResponseTooLong
            | ParseError::InvalidResponse { .. } => {
                self.fail(500, "5.5.2", "command not recognized")
            }
        }
    }

    /// `XFORWARD attr=value ...` from a trusted front MTA: who the original client was.
    /// Values are xtext; `[UNAVAILABLE]` and `[TEMPUNAVAIL]` mean unknown.
    fn xforward(&mut self, attrs: &str) -> Step {
        if !self.may_xforward() {
            return self.fail(550, "5.7.0", "XFORWARD is not allowed from this client");
        }
        if self.helo.is_none() {
            return self.fail(503, "5.5.1", "send EHLO first");
        }
        if self.transaction.is_some() {
            return self.fail(503, "5.5.1", "XFORWARD is not allowed inside a transaction");
        }
        let mut next = self.forwarded.clone();
        for attr in attrs.split(' ').filter(|a| !a.is_empty()) {
            let Some((name, value)) = attr.split_once('=') else {
                return self.fail(501, "5.5.4", "XFORWARD wants NAME=value attributes");
            };
            let Some(value) = xtext_decode(value) else {
                return self.fail(501, "5.5.4", "bad xtext in XFORWARD");
            };
            let known = !matches!(value.as_str(), "[UNAVAILABLE]" | "[TEMPUNAVAIL]");
            match name.to_ascii_uppercase().as_str() {
                "ADDR" => {
                    next.addr = None;
                    if known {
                        let ip = value.strip_prefix("IPV6:").unwrap_or(&value);
                        match ip.parse() {
                            Ok(ip) => next.addr = Some(ip),
                            Err(_) => {
                                return self.fail(501, "5.5.4", "bad ADDR in XFORWARD");
                            }
                        }
                    }
                }
                "PORT" => {
                    next.port = None;
                    if known {
                        match value.parse() {
                            Ok(p) => next.port = Some(p),
                            Err(_) => return self.fail(501, "5.5.4", "bad PORT in XFORWARD"),
                        }
                    }
                }
                "HELO" => next.helo = known.then_some(value),
                "NAME" | "PROTO" | "IDENT" | "SOURCE" => {}
                _ => return self.fail(501, "5.5.4", "unknown XFORWARD attribute"),
            }
        }
        self.forwarded = next;
        Step::Reply(Reply::new(250, "2.0.0", "OK"))
    }

    fn hello(&mut self, host: Cow<'_, str>, extended: bool) -> Step {
        self.helo = Some(host.into_owned());
        self.transaction = None;
        self.forwarded = Forwarded::default();
        let name = &self.config.hostname;
        if !extended {
            return Step::Reply(Reply::plain(250, name));
        }
        let size = format!("SIZE {}", self.config.max_message_bytes);
        let mut lines = vec![
            name.as_str(),
            "PIPELINING",
            &size,
            "8BITMIME",
            "ENHANCEDSTATUSCODES",
            "SMTPUTF8",
        ];
        if self.config.tls.is_some() && !self.tls {
            lines.push("STARTTLS");
        }
        if self.may_xforward() {
            lines.push("XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE");
        }
        lines.push("HELP");
        Step::Reply(Reply::lines(250, None, lines))
    }

    fn mail(&mut self, from: MailFrom<Cow<'_, str>>) -> Step {
        let Some(helo) = self.helo.clone() else {
            return self.fail(503, "5.5.1", "send EHLO or HELO first");
        };
        if self.transaction.is_some() {
            return self.fail(503, "5.5.1", "sender already given (RSET to start over)");
        }
        let supported = MAIL_BODY_7BIT | MAIL_BODY_8BITMIME | MAIL_SMTPUTF8;
        if from.flags & !supported != 0
            || from.trans_id.is_some()
            || from.by != 0
            || from.env_id.is_some()
            || from.solicit.is_some()
            || from.mtrk.is_some()
            || from.auth.is_some()
            || from.hold_for != 0
            || from.hold_until != 0
            || from.mt_priority != 0
        {
            return self.fail(555, "5.5.4", "unsupported MAIL parameter");
        }
        if from.size > self.config.max_message_bytes {
            return Step::Reply(self.too_big());
        }
        let smtputf8 = from.flags & MAIL_SMTPUTF8 != 0;
        if let Some(step) = self.refuse_address(&from.address, smtputf8, "5.1.7") {
            return step;
        }
        let f = &self.forwarded;
        let (client, helo, forwarded_by) = match f.addr {
            Some(ip) => (
                SocketAddr::new(ip, f.port.unwrap_or(0)),
                f.helo.clone().unwrap_or(helo),
                Some(self.client),
            ),
            None => (self.client, helo, None),
        };
        let envelope = Envelope {
            client,
            helo,
            forwarded_by,
            mail_from: from.address.into_owned(),
            rcpt_to: Vec::new(),
            tls: self.tls,
        };
        self.transaction = Some(Transaction { envelope, smtputf8 });
        Step::Reply(Reply::new(250, "2.1.0", "sender OK"))
    }

    /// The refusal of an address too long, or non-ASCII without SMTPUTF8; `None` if fine.
    fn refuse_address(&mut self, address: &str, smtputf8: bool, enhanced: &str) -> Option<Step> {
        if address.len() > MAX_ADDRESS_BYTES {
            return Some(self.fail(
                501,
                enhanced,
                format!("address too long (at most {MAX_ADDRESS_BYTES} bytes)"),
            ));
        }
        if !smtputf8 && !address.is_ascii() {
            return Some(Step::Reply(Reply::new(
                553,
                "5.6.7",
                "non-ASCII address needs MAIL FROM with SMTPUTF8",
            )));
        }
        None
    }

    fn rcpt(&mut self, to: RcptTo<Cow<'_, str>>, line: &[u8]) -> Step {
        let Some(tx) = &self.transaction else {
            return self.fail(503, "5.5.1", "send MAIL first");
        };
        if to.flags != 0 || to.orcpt.is_some() || to.rrvs != 0 {
            return self.fail(555, "5.5.4", "unsupported RCPT parameter");
        }
        let smtputf8 = tx.smtputf8;
        let full = tx.envelope.rcpt_to.len() >= self.config.max_recipients;
        // smtp-proto reads `<postmaster>` (RFC 5321 §4.5.1) as an empty address.
        let address = if to.address.is_empty() {
            if contains_ignore_case(line, b"<postmaster>") {
                "postmaster".to_string()
            } else {
                return self.fail(501, "5.1.3", "the null address is no recipient");
            }
        } else {
            to.address.into_owned()
        };
        if let Some(step) = self.refuse_address(&address, smtputf8, "5.1.3") {
            return step;
        }
        if full {
            return Step::Reply(Reply::new(
                452,
                "4.5.3",
                format!(
                    "too many recipients (at most {} per message)",
                    self.config.max_recipients
                ),
            ));
        }
        let Some(tx) = &mut self.transaction else {
            return self.fail(503, "5.5.1", "send MAIL first");
        };
        let verdict = self.sink.rcpt(&tx.envelope, &address);
        let reply = Reply::verdict(&verdict, || Reply::new(250, "2.1.5", "recipient OK"));
        if verdict == Verdict::Accept {
            tx.envelope.rcpt_to.push(address);
        }
        Step::Reply(reply)
    }

    fn data(&mut self) -> Step {
        let Some(tx) = &self.transaction else {
            return self.fail(503, "5.5.1", "send MAIL first");
        };
        if tx.envelope.rcpt_to.is_empty() {
            return self.fail(554, "5.5.1", "no valid recipients");
        }
        self.input = Input::Data(DataDecoder::new(self.config.max_message_bytes));
        Step::Reply(Reply::plain(354, "end data with <CR><LF>.<CR><LF>"))
    }

    fn starttls(&mut self) -> Step {
        if self.config.tls.is_none() {
            return self.fail(502, "5.5.1", "STARTTLS not available");
        }
        if self.tls {
            return self.fail(503, "5.5.1", "TLS already active");
        }
        // Whatever follows in the same read is dropped by the caller; the line buffer
        // is empty here (a line was just completed) and reset again after the handshake.
        Step::StartTls(Reply::new(220, "2.0.0", "ready to start TLS"))
    }
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::well_formed;
    use crate::sink::BoxFuture;
    use proptest::prelude::*;
    use std::sync::Mutex;

    /// Accepts everyone but `nobody@…`; remembers the envelopes it was asked about.
    #[derive(Default)]
    struct TestSink {
        asked: Mutex<Vec<(usize, String)>>,
    }

    impl Sink for TestSink {
        fn rcpt(&self, so_far: &Envelope, rcpt: &str) -> Verdict {
            if let Ok(mut asked) = self.asked.lock() {
                asked.push((so_far.rcpt_to.len(), rcpt.to_string()));
            }
            if rcpt.starts_with("nobody@") {
                Verdict::reject(550, "5.1.1", "no such user")
            } else {
                Verdict::Accept
            }
        }

        fn deliver(&self, _: Envelope, _: Vec<u8>) -> BoxFuture<'_, Verdict> {
            Box::pin(async { Verdict::Accept })
        }
    }

    fn config() -> Config {
        let mut c = Config::new("mx.test");
        c.max_message_bytes = 100;
        c.max_recipients = 3;
        c.max_errors = 5;
        c
    }

    fn session(config: Config) -> Session {
        let client = SocketAddr::from(([127, 0, 0, 1], 2525));
        Session::new(Arc::new(config), Arc::new(TestSink::default()), client)
    }

    /// What the server loop would do, without sockets: every step for `input`, with
    /// deliveries accepted; the wire bytes and the messages delivered.
    struct Run {
        wire: Vec<u8>,
        delivered: Vec<(Envelope, Vec<u8>)>,
        closed: bool,
        tls: usize,
    }

    fn run(s: &mut Session, mut input: &[u8]) -> Run {
        let mut r = Run {
            wire: Vec::new(),
            delivered: Vec::new(),
            closed: false,
            tls: 0,
        };
        while let Some(step) = s.next(&mut input) {
            match step {
                Step::Reply(reply) => reply.write_to(&mut r.wire),
                Step::Close(reply) => {
                    reply.write_to(&mut r.wire);
                    r.closed = true;
                    break;
                }
                Step::StartTls(reply) => {
                    reply.write_to(&mut r.wire);
                    r.tls += 1;
                    // The loop drops what was pipelined behind STARTTLS.
                    input = &[];
                    s.tls_started();
                }
                Step::Deliver(envelope, message) => {
                    r.delivered.push((envelope, message));
                    s.delivered(&Verdict::Accept).write_to(&mut r.wire);
                }
            }
        }
        r
    }

    fn codes(wire: &[u8]) -> Vec<u16> {
        let text = String::from_utf8_lossy(wire);
        text.split("\r\n")
            .filter(|l| l.len() >= 4 && l.as_bytes()[3] == b' ')
            .filter_map(|l| l[..3].parse().ok())
            .collect()
    }

    #[test]
    fn a_whole_pipelined_transaction() {
        let mut s = session(config());
        let r = run(
            &mut s,
            b"EHLO client\r\nMAIL FROM:<a@b.example> SIZE=20\r\nRCPT TO:<c@d.example>\r\n\
              RCPT TO:<nobody@d.example>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n",
        );
        assert_eq!(codes(&r.wire), [250, 250, 250, 550, 354, 250, 221]);
        assert!(r.closed);
        let text = String::from_utf8_lossy(&r.wire);
        assert!(text.contains("250-SIZE 100\r\n"), "{text}");
        assert!(!text.contains("STARTTLS"), "no TLS configured: {text}");
        let [(env, msg)] = &r.delivered[..] else {
            panic!("one message: {:?}", r.delivered)
        };
        assert_eq!(env.helo, "client");
        assert_eq!(env.mail_from, "a@b.example");
        assert_eq!(env.rcpt_to, ["c@d.example"]);
        assert!(!env.tls);
        assert_eq!(msg, b"Subject: x\r\n\r\n.dot\r\n");
    }

    #[test]
    fn sequence_errors() {
        let mut c = config();
        c.max_errors = 100;
        let mut s = session(c);
        let r = run(
            &mut s,
            b"MAIL FROM:<a@b>\r\nEHLO x\r\nRCPT TO:<a@b>\r\nDATA\r\nMAIL FROM:<>\r\n\
              MAIL FROM:<a@b>\r\nDATA\r\nRSET\r\nRCPT TO:<a@b>\r\n",
        );
        assert_eq!(
            codes(&r.wire),
            [503, 250, 503, 503, 250, 503, 554, 250, 503]
        );
        assert!(!r.closed);
    }

    #[test]
    fn too_many_errors_close_the_session() {
        let mut s = session(config());
        let r = run(
            &mut s,
            b"FOO\r\nNOOP\r\nBAR\r\nRCPT TO:<a@b>\r\nDATA\r\nX\r\nNOOP\r\n",
        );
        assert_eq!(codes(&r.wire), [500, 250, 500, 503, 503, 421]);
        assert!(r.closed);
        assert!(
            String::from_utf8_lossy(&r.wire)
                .ends_with("421 4.7.0 too many errors, closing connection\r\n")
        );
    }

    #[test]
    fn null_sender_postmaster_and_bad_addresses() {
        let mut s = session(config());
        let r = run(
            &mut s,
            b"HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<Postmaster>\r\nRCPT TO:<>\r\nRCPT TO:<a b@c>\r\n",
        );
        assert_eq!(codes(&r.wire), [250, 250, 250, 501, 501]);
        let Some(tx) = &s.transaction else {
            panic!("transaction open")
        };
        assert_eq!(tx.envelope.mail_from, "");
        assert_eq!(tx.envelope.rcpt_to, ["postmaster"]);
    }

    #[test]
    fn size_limits() {
        let mut s = session(config());
        let r = run(
            &mut s,
            b"EHLO x\r\nMAIL FROM:<a@b> SIZE=101\r\nMAIL FROM:<a@b> SIZE=100\r\nRCPT TO:<c@d>\r\nDATA\r\n",
        );
        assert_eq!(codes(&r.wire), [250, 552, 250, 250, 354]);
        let mut big = vec![b'x'; 200];
        big.extend_from_slice(b"\r\n.\r\nNOOP\r\n");
        let r = run(&mut s, &big);
        assert_eq!(codes(&r.wire), [552, 250]);
        assert!(r.delivered.is_empty());
        assert!(s.transaction.is_none(), "the transaction is over");
    }

    #[test]
    fn recipients_are_capped_and_the_sink_sees_the_envelope_so_far() {
        let mut s = session(config());
        let mut input = b"EHLO x\r\nMAIL FROM:<a@b>\r\n".to_vec();
        for i in 0..6 {
            input.extend_from_slice(format!("RCPT TO:<r{i}@d>\r\n").as_bytes());
        }
        input.extend_from_slice(b"DATA\r\nhi\r\n.\r\n");
        let r = run(&mut s, &input);
        assert_eq!(
            codes(&r.wire),
            [250, 250, 250, 250, 250, 452, 452, 452, 354, 250]
        );
        assert_eq!(r.delivered[0].0.rcpt_to, ["r0@d", "r1@d", "r2@d"]);
    }

    #[test]
    fn garbage_gets_clear_errors() {
        let mut s = session(config());
        let r = run(&mut s, b"EH\0LO x\r\n\xff\xfe\r\nNOOP\r\nFOO\r\n\r\n");
        let text = String::from_utf8_lossy(&r.wire);
        assert_eq!(codes(&r.wire), [500, 500, 250, 500, 500], "{text}");
        assert!(text.contains("control characters"), "{text}");
        assert!(text.contains("not valid UTF-8"), "{text}");
    }

    #[test]
    fn long_line() {
        let mut s = session(config());
        let mut input = b"NOOP ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend_from_slice(b"\r\nNOOP\r\n");
        let r = run(&mut s, &input);
        assert_eq!(codes(&r.wire), [500, 250]);
        assert!(String::from_utf8_lossy(&r.wire).contains("5.5.2 line too long"));
    }

    #[test]
    fn smtputf8() {
        let mut s = session(config());
        let r = run(
            &mut s,
            "EHLO x\r\nMAIL FROM:<é@b>\r\nMAIL FROM:<é@b> SMTPUTF8\r\nRCPT TO:<ü@d>\r\n".as_bytes(),
        );
        assert_eq!(codes(&r.wire), [250, 553, 250, 250]);
    }

    #[test]
    fn unsupported_things() {
        let mut s = session(config());
        let r = run(
            &mut s,
            b"EHLO x\r\nSTARTTLS\r\nAUTH PLAIN AAAA\r\nMAIL FROM:<a@b> RET=FULL\r\n\
              MAIL FROM:<a@b> FOO=1\r\nVRFY bob\r\nHELP\r\n",
        );
        assert_eq!(codes(&r.wire), [250, 502, 502, 555, 555, 252, 214]);
    }

    #[test]
    fn starttls_resets_the_session() {
        let mut c = config();
        c.tls = Some(test_tls());
        let mut s = session(c);
        let r = run(
            &mut s,
            b"EHLO x\r\nMAIL FROM:<a@b>\r\nSTARTTLS\r\nRSET\r\nQUIT\r\n",
        );
        assert_eq!(codes(&r.wire), [250, 250, 220]);
        assert!(String::from_utf8_lossy(&r.wire).contains("250-STARTTLS"));
        assert_eq!(r.tls, 1);
        assert!(s.tls && s.helo.is_none() && s.transaction.is_none());
        let r = run(&mut s, b"MAIL FROM:<a@b>\r\nEHLO y\r\nSTARTTLS\r\n");
        assert_eq!(codes(&r.wire), [503, 250, 503]);
        assert!(!String::from_utf8_lossy(&r.wire).contains("STARTTLS"));
    }

    fn test_tls() -> Arc<rustls::ServerConfig> {
        let key =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
        let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_no_client_auth()
                .with_single_cert(vec![key.cert.der().clone()], der)
                .expect("certificate and key match"),
        )
    }

    /// Bytes that mean something to the session, so random streams reach deep states.
    fn token() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"EHLO x\r\n".to_vec()),
            Just(b"HELO x\r\n".to_vec()),
            Just(b"MAIL FROM:<a@b>\r\n".to_vec()),
            Just(b"MAIL FROM:<> SIZE=99999\r\n".to_vec()),
            Just(b"RCPT TO:<c@d>\r\n".to_vec()),
            Just(b"RCPT TO:<nobody@d>\r\n".to_vec()),
            Just(b"DATA\r\n".to_vec()),
            Just(b"\r\n.\r\n".to_vec()),
            Just(b"STARTTLS\r\n".to_vec()),
            Just(b"RSET\r\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(vec![b'x'; 600]),
            proptest::collection::vec(any::<u8>(), 0..40),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_streams_get_well_formed_replies(
            tokens in proptest::collection::vec(token(), 0..40),
            tls in any::<bool>(),
            cut in 1usize..64,
        ) {
            let mut c = config();
            c.max_errors = 1000;
            if tls {
                c.tls = Some(tls_once());
            }
            let mut s = session(c);
            let stream: Vec<u8> = tokens.concat();
            let mut wire = Vec::new();
            'feed: for piece in stream.chunks(cut) {
                let r = run(&mut s, piece);
                wire.extend_from_slice(&r.wire);
                for (env, msg) in &r.delivered {
                    prop_assert!(!env.rcpt_to.is_empty());
                    prop_assert!(msg.len() <= 100);
                }
                if r.closed {
                    break 'feed;
                }
            }
            prop_assert!(well_formed(&wire).is_ok(), "{:?}: {:?}", well_formed(&wire), String::from_utf8_lossy(&wire));
        }
    }

    fn tls_once() -> Arc<rustls::ServerConfig> {
        static TLS: std::sync::OnceLock<Arc<rustls::ServerConfig>> = std::sync::OnceLock::new();
        TLS.get_or_init(test_tls).clone()
    }
}
