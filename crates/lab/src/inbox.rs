//! The lab's inbox: an SMTP catcher for every mail of the lab, a page per mailbox, a JSON
//! API and a compose form (docs/design.md §4).
//!
//! The cameras, the signer and the vendor send their mail here unless the lab runs with `--relay`.
//! Messages are parsed with `mail-parser` for display and kept in memory, bounded: the
//! lab's mail is for looking at, not for keeping.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use camkey_smtp::{BoxFuture, Envelope, Sink, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Messages kept; the oldest go first.
pub const KEEP: usize = 1_000;
/// Largest message accepted, bytes.
pub const MAX_MESSAGE: usize = 1024 * 1024;

/// One message, as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Message {
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// Subject (decoded).
    pub subject: String,
    /// The text body (decoded; from the HTML part if there is no text part).
    pub text: String,
    /// When the inbox received it (RFC 3339, UTC).
    pub received_at: String,
}

/// The inbox's store, also its SMTP sink.
#[derive(Debug, Default)]
pub struct Inbox {
    messages: Mutex<VecDeque<Message>>,
    /// Mail for this address goes on to the vendor's SMTP, as the Internet's mail would.
    hand_on: Option<(String, SocketAddr)>,
}

impl Inbox {
    /// An inbox that hands mail for `address` on to the SMTP server at `to`.
    pub fn handing_on(address: String, to: SocketAddr) -> Self {
        Inbox {
            messages: Mutex::default(),
            hand_on: Some((address, to)),
        }
    }

    async fn forward(
        &self,
        envelope: &Envelope,
        raw: &[u8],
        to: SocketAddr,
        rcpt: &str,
    ) -> Result<(), String> {
        use lettre::address::Envelope as LEnvelope;
        use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
        let from = envelope.mail_from.parse().ok();
        let rcpt = rcpt.parse().map_err(|e| format!("{e}"))?;
        let env = LEnvelope::new(from, vec![rcpt]).map_err(|e| e.to_string())?;
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(to.ip().to_string())
            .port(to.port())
            .build()
            .send_raw(&env, raw)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Every message, oldest first.
    pub fn messages(&self) -> Vec<Message> {
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    fn push(&self, m: Message) {
        let mut q = self.messages.lock().unwrap_or_else(|p| p.into_inner());
        q.push_back(m);
        while q.len() > KEEP {
            q.pop_front();
        }
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Reads a raw message for display.
pub fn parse(envelope: &Envelope, raw: &[u8]) -> Message {
    let parsed = mail_parser::MessageParser::default().parse(raw);
    let subject = parsed
        .as_ref()
        .and_then(|m| m.subject())
        .unwrap_or("")
        .to_string();
    let text = parsed
        .as_ref()
        .and_then(|m| m.body_text(0))
        .map(|t| t.into_owned())
        .unwrap_or_default();
    Message {
        from: envelope.mail_from.clone(),
        to: envelope.rcpt_to.clone(),
        subject,
        text,
        received_at: now_rfc3339(),
    }
}

impl Sink for Inbox {
    fn deliver(&self, envelope: Envelope, message: Vec<u8>) -> BoxFuture<'_, Verdict> {
        Box::pin(async move {
            let mut rest = envelope.clone();
            if let Some((address, to)) = &self.hand_on
                && let Some(rcpt) = envelope
                    .rcpt_to
                    .iter()
                    .find(|r| r.eq_ignore_ascii_case(address))
            {
                if let Err(e) = self.forward(&envelope, &message, *to, rcpt).await {
                    tracing::warn!("lab inbox: handing mail on to the vendor failed: {e}");
                    return Verdict::reject(
                        451,
                        "4.4.1",
                        "the vendor's mailbox did not answer; try again later",
                    );
                }
                rest.rcpt_to.retain(|r| !r.eq_ignore_ascii_case(address));
            }
            if !rest.rcpt_to.is_empty() {
                self.push(parse(&rest, &message));
            }
            Verdict::Accept
        })
    }
}

#[derive(Clone)]
struct AppState {
    inbox: Arc<Inbox>,
    smtp: SocketAddr,
}

/// The inbox's web app: `GET /` (mailboxes and compose), `GET /mailbox/{address}`,
/// `GET /api/messages`, `POST /compose`.
pub fn app(inbox: Arc<Inbox>, smtp: SocketAddr) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/mailbox/{address}", get(mailbox))
        .route(
            "/api/messages",
            get(|State(s): State<AppState>| async move { Json(s.inbox.messages()) }),
        )
        .route("/compose", axum::routing::post(compose))
        .with_state(AppState { inbox, smtp })
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct IndexPage {
    mailboxes: Vec<(String, usize)>,
    error: Option<String>,
}

fn index_page(s: &AppState, error: Option<String>) -> Response {
    let mut boxes: Vec<(String, usize)> = Vec::new();
    for m in s.inbox.messages() {
        for to in m.to {
            match boxes.iter_mut().find(|(a, _)| *a == to) {
                Some((_, n)) => *n += 1,
                None => boxes.push((to, 1)),
            }
        }
    }
    boxes.sort();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    match (IndexPage {
        mailboxes: boxes,
        error,
    })
    .render()
    {
        Ok(h) => (status, Html(h)).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn index(State(s): State<AppState>) -> Response {
    index_page(&s, None)
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    address: String,
    messages: Vec<Message>,
}

async fn mailbox(State(s): State<AppState>, Path(address): Path<String>) -> Response {
    let mut messages: Vec<Message> = s
        .inbox
        .messages()
        .into_iter()
        .filter(|m| m.to.contains(&address))
        .collect();
    messages.reverse();
    match (MailboxPage { address, messages }).render() {
        Ok(h) => Html(h).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The compose form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Compose {
    from: String,
    to: String,
    subject: String,
    body: String,
}

/// Sends a composed mail through the inbox's own SMTP listener, as mail from the Internet
/// would arrive (so mail to the vendor's reset address takes the same road).
async fn compose(State(s): State<AppState>, Form(c): Form<Compose>) -> Response {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message as Mail, Tokio1Executor};
    let built = (|| {
        Mail::builder()
            .from(c.from.trim().parse().ok()?)
            .to(c.to.trim().parse().ok()?)
            .subject(c.subject.clone())
            .body(c.body.clone())
            .ok()
    })();
    let Some(mail) = built else {
        return index_page(
            &s,
            Some("Give a valid sender and recipient address, like owner@example.com.".into()),
        );
    };
    let transport =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.smtp.ip().to_string())
            .port(s.smtp.port())
            .build();
    match transport.send(mail).await {
        Ok(_) => Redirect::to(&format!("/mailbox/{}", c.to.trim())).into_response(),
        Err(e) => index_page(&s, Some(format!("The mail was not taken: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_subject_and_text() {
        let env = Envelope {
            client: "127.0.0.1:1".parse().unwrap(),
            helo: "x".into(),
            forwarded_by: None,
            mail_from: "cam@example.com".into(),
            rcpt_to: vec!["owner@example.com".into()],
            tls: false,
        };
        let m = parse(&env, b"Subject: =?utf-8?q?Caf=C3=A9?=\r\nContent-Type: text/plain\r\n\r\nCode: ABCDE-FGHJK\r\n");
        assert_eq!(m.subject, "Caf\u{e9}");
        assert!(m.text.contains("Code: ABCDE-FGHJK"));
        let garbage = parse(&env, b"\xff\xfe not a mail");
        assert_eq!(garbage.from, "cam@example.com");
    }
}
