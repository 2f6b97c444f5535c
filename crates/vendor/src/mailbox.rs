//! The automated reset mailbox: an SMTP sink for the vendor's reset address. An owner mails
//! the QR string (or the reset-page URL that holds it); the challenge goes to the signer
//! exactly as on the web, and the requester gets one of the fixed texts back — never their
//! own mail, rate-limited per recipient so that forged senders cannot make us spam anyone
//! (S5). Bounces (null sender) and automatic mail get no answer.

use crate::intake;
use crate::service::ResetService;
use crate::texts::Outcome;
use camkey_smtp::{BoxFuture, Envelope, Sink, Verdict};

/// Replies one recipient may get in [`REPLY_WINDOW_MS`].
pub const REPLIES_PER_RECIPIENT: i64 = 3;
/// The window of [`REPLIES_PER_RECIPIENT`].
pub const REPLY_WINDOW_MS: i64 = 3_600_000;

/// The reset mailbox.
pub struct ResetMailbox {
    /// The reset service (shared with the web path).
    pub reset: ResetService,
    /// The reset address this mailbox answers for.
    pub reset_address: String,
    /// Wakes the outbox worker.
    pub wake: std::sync::Arc<tokio::sync::Notify>,
}

/// Whether the mail says it was sent by a machine (RFC 3834) or is a list/bulk mail.
fn automatic(raw: &[u8]) -> bool {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len().min(64 * 1024));
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    head.lines().any(|l| {
        (l.starts_with("auto-submitted:") && !l.trim_end().ends_with(" no"))
            || l.starts_with("precedence: bulk")
            || l.starts_with("precedence: junk")
            || l.starts_with("precedence: list")
            || l.starts_with("list-id:")
    })
}

impl ResetMailbox {
    /// Handles one received mail.
    pub async fn handle(&self, envelope: &Envelope, raw: &[u8]) {
        let extracted = intake::extract(raw, &envelope.mail_from);
        let (challenge, reply_to) = match extracted {
            Ok(e) => (e.challenge, e.reply_to),
            Err(_) => (None, None),
        };
        let requester = reply_to
            .clone()
            .unwrap_or_else(|| envelope.client.ip().to_string());
        let outcome = match challenge {
            Some(c) => self.reset.request(&c, "mail", &requester).await,
            None => {
                self.reset.request("", "mail", &requester).await;
                Outcome::Unreadable
            }
        };
        if envelope.mail_from.is_empty() || automatic(raw) {
            return; // never answer a bounce or a robot: no loops, no backscatter
        }
        let Some(to) = reply_to else { return };
        let now = self.reset.clock.wall_ms();
        match self
            .reset
            .store
            .mails_to_since(&to, now - REPLY_WINDOW_MS)
            .await
        {
            Ok(n) if n < REPLIES_PER_RECIPIENT => {}
            Ok(_) => return,
            Err(e) => {
                tracing::error!("{e}");
                return;
            }
        }
        let subject = match outcome {
            Outcome::CodeSent { .. } => "Your camera password reset request",
            _ => "Your camera password reset request: what to do next",
        };
        let body = format!(
            "{}\n\nThis is an automatic answer from the camera reset service. Your mail was not read by a person.\n",
            outcome.message(&self.reset.support_address)
        );
        if let Err(e) = self.reset.store.queue_mail(&to, subject, &body, now).await {
            tracing::error!("{e}");
        }
        self.wake.notify_one();
    }
}

impl Sink for ResetMailbox {
    fn rcpt(&self, _envelope: &Envelope, rcpt: &str) -> Verdict {
        if rcpt.eq_ignore_ascii_case(&self.reset_address) {
            Verdict::Accept
        } else {
            Verdict::reject(
                550,
                "5.1.1",
                "no such mailbox here; this server only takes mail for the reset address",
            )
        }
    }

    fn deliver(&self, envelope: Envelope, message: Vec<u8>) -> BoxFuture<'_, Verdict> {
        Box::pin(async move {
            self.handle(&envelope, &message).await;
            Verdict::Accept
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_mail_is_recognized() {
        assert!(automatic(
            b"From: a@b.c\r\nAuto-Submitted: auto-replied\r\n\r\nbody"
        ));
        assert!(automatic(b"Precedence: bulk\r\n\r\n"));
        assert!(!automatic(
            b"Auto-Submitted: no\r\nSubject: x\r\n\r\nAuto-Submitted: yes"
        ));
        assert!(!automatic(b"Subject: hello\r\n\r\n"));
    }
}
