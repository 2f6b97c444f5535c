//! The automated reset mailbox: an SMTP sink for the vendor's reset address. An owner mails
//! the QR string (or the reset-page URL that holds it); the challenge goes to the signer
//! exactly as on the web, and the requester gets one of the fixed texts back — never their
//! own mail, rate-limited per recipient so that forged senders cannot make us spam anyone
//! (S5). Only the author (`From:`, what the DMARC check verifies) is ever answered, never
//! `Reply-To`; the limit counts whole addresses without regard to letter case, local part
//! included. Bounces (null sender) and automatic mail get no answer.

use crate::dmarc::Requester;
use crate::intake;
use crate::service::ResetService;
use crate::texts::Outcome;
use camkey_smtp::{BoxFuture, Envelope, Sink, Verdict};

/// The reset mailbox.
pub struct ResetMailbox {
    /// The reset service (shared with the web path).
    pub reset: ResetService,
    /// The reset address this mailbox answers for.
    pub reset_address: String,
    /// Wakes the outbox worker.
    pub wake: std::sync::Arc<tokio::sync::Notify>,
    /// The DMARC-alignment check on requesters (none: every sender is answered).
    pub dmarc: Option<std::sync::Arc<crate::dmarc::DmarcCheck>>,
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
    /// Handles one received mail. A mail bomb (too large, too many or too deeply nested
    /// parts) is refused with a clear SMTP error and leaves no trace.
    pub async fn handle(&self, envelope: &Envelope, raw: &[u8]) -> Verdict {
        let (challenge, reply_to) = match intake::extract(raw, &envelope.mail_from) {
            Ok(e) => (e.challenge, e.reply_to),
            Err(intake::IntakeError::TooLarge) => {
                return Verdict::reject(552, "5.3.4", "message too big for the reset mailbox");
            }
            Err(e) => return Verdict::reject(554, "5.6.0", format!("message refused: {e}")),
        };
        let mut answer = true;
        if let Some(check) = &self.dmarc {
            match check.check(envelope, raw).await {
                Requester::Verified => {}
                Requester::Unverified(why) => {
                    tracing::info!(client = %envelope.client, "reset mail from an unverified sender, not answered: {why}");
                    answer = false;
                }
                Requester::Reject => {
                    return Verdict::reject(
                        550,
                        "5.7.1",
                        "the sender's domain (DMARC) says this mail is not from it",
                    );
                }
                Requester::TryLater => {
                    return Verdict::reject(
                        451,
                        "4.7.0",
                        "cannot check the sender now, try again later",
                    );
                }
            }
        }
        // One requester however its letters are cased (mail servers treat `Victim@` and
        // `victim@` alike); a mail without an address counts by its client's source.
        let requester = reply_to
            .as_deref()
            .map(str::to_lowercase)
            .unwrap_or_else(|| camkey_web::client::source_key(envelope.client.ip()));
        let outcome = match challenge {
            Some(c) => self.reset.request(&c, "mail", &requester).await,
            None => {
                self.reset.request("", "mail", &requester).await;
                Outcome::Unreadable
            }
        };
        if !answer || envelope.mail_from.is_empty() || automatic(raw) {
            return Verdict::Accept; // never answer a bounce or a robot: no loops, no backscatter
        }
        let Some(to) = reply_to else {
            return Verdict::Accept;
        };
        let now = self.reset.clock.wall_ms();
        match self
            .reset
            .store
            .mails_to_since(&to, now - self.reset.limits.reply_window_ms)
            .await
        {
            Ok(n) if n < self.reset.limits.replies_per_recipient => {}
            Ok(_) => return Verdict::Accept,
            Err(e) => {
                tracing::error!("{e}");
                return Verdict::Accept;
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
        Verdict::Accept
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
        Box::pin(async move { self.handle(&envelope, &message).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use camkey_store::{MailQueue, ResetStore, SqliteStore};
    use std::sync::Arc;

    async fn mailbox(dir: &std::path::Path) -> (ResetMailbox, Arc<SqliteStore>) {
        let store = Arc::new(SqliteStore::open(&dir.join("v.db")).await.unwrap());
        let reset = ResetService {
            signer: camkey_signer::SignerClient::new(dir.join("no-signer.sock")),
            store: store.clone(),
            clock: Arc::new(camkey_proto::clock::ManualClock::new(1_790_000_000_000)),
            support_address: "support@vendor.example".into(),
            limits: crate::ResetLimits::default(),
        };
        let m = ResetMailbox {
            reset,
            reset_address: "reset@vendor.example".into(),
            wake: Arc::new(tokio::sync::Notify::new()),
            dmarc: None,
        };
        (m, store)
    }

    fn envelope() -> Envelope {
        Envelope {
            client: "127.0.0.1:2525".parse().unwrap(),
            helo: "client.example".into(),
            forwarded_by: None,
            mail_from: "someone@example.org".into(),
            rcpt_to: vec!["reset@vendor.example".into()],
            tls: false,
        }
    }

    #[tokio::test]
    async fn mail_bombs_get_a_clear_error_and_leave_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let (m, store) = mailbox(dir.path()).await;
        // Multiparts nested 40 deep.
        let mut mail = String::from("From: someone@example.org\r\nSubject: x\r\n");
        for i in 0..40 {
            mail.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
            ));
        }
        mail.push_str("Content-Type: text/plain\r\n\r\nhello\r\n");
        let v = m.handle(&envelope(), mail.as_bytes()).await;
        assert!(matches!(v, Verdict::Reject { code: 554, .. }), "{v:?}");
        let big = vec![b'a'; 2 << 20];
        assert!(matches!(
            m.handle(&envelope(), &big).await,
            Verdict::Reject { code: 552, .. }
        ));
        assert!(
            store.recent_resets(10).await.unwrap().is_empty(),
            "nothing stored"
        );
        assert_eq!(
            store
                .mails_to_since("someone@example.org", 0)
                .await
                .unwrap(),
            0,
            "no reply"
        );
    }

    #[tokio::test]
    async fn the_configured_limits_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (mut m, store) = mailbox(dir.path()).await;
        assert_eq!(m.reset.limits, crate::ResetLimits::default());
        m.reset.limits.replies_per_recipient = 1;
        let mail = b"From: someone@example.org\r\nSubject: help\r\n\r\nhelp\r\n";
        for _ in 0..3 {
            assert_eq!(m.handle(&envelope(), mail).await, Verdict::Accept);
        }
        assert_eq!(
            store
                .mails_to_since("someone@example.org", 0)
                .await
                .unwrap(),
            1
        );
    }

    #[tokio::test]
    async fn a_mail_without_a_challenge_gets_the_fixed_text_once_per_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (m, store) = mailbox(dir.path()).await;
        let mail = b"From: someone@example.org\r\nSubject: help\r\n\r\n<script>I forgot my password</script>\r\n";
        for _ in 0..5 {
            assert!(matches!(m.handle(&envelope(), mail).await, Verdict::Accept));
        }
        assert_eq!(
            store
                .mails_to_since("someone@example.org", 0)
                .await
                .unwrap(),
            m.reset.limits.replies_per_recipient,
            "replies are capped"
        );
        // A bounce gets no answer at all.
        let mut bounce = envelope();
        bounce.mail_from.clear();
        m.handle(
            &bounce,
            b"From: MAILER-DAEMON@example.org\r\n\r\nundeliverable\r\n",
        )
        .await;
        assert_eq!(
            store
                .mails_to_since("MAILER-DAEMON@example.org", 0)
                .await
                .unwrap(),
            0
        );
    }

    #[tokio::test]
    async fn with_dmarc_on_forgers_are_refused_and_unverified_senders_unanswered() {
        use crate::dmarc::{DmarcCheck, tests as dns};
        let dir = tempfile::tempdir().unwrap();
        let (mut m, store) = mailbox(dir.path()).await;
        let zone = std::collections::HashMap::from([
            (
                "bank.example".to_string(),
                "v=spf1 ip4:192.0.2.1 -all".to_string(),
            ),
            ("_dmarc.bank.example".into(), "v=DMARC1; p=reject".into()),
            ("lax.example".into(), "v=spf1 ip4:192.0.2.1 -all".into()),
            ("_dmarc.lax.example".into(), "v=DMARC1; p=none".into()),
            ("owner.example".into(), "v=spf1 ip4:127.0.0.1 -all".into()),
            ("_dmarc.owner.example".into(), "v=DMARC1; p=reject".into()),
        ]);
        let server = dns::dns_server(zone).await;
        m.dmarc = Some(Arc::new(DmarcCheck::with_nameserver(server).unwrap()));
        let mail = |from: &str| {
            format!("From: {from}\r\nSubject: reset\r\n\r\nCK1GARBAGE\r\n").into_bytes()
        };
        let env = |from: &str| Envelope {
            mail_from: from.into(),
            ..envelope()
        };
        // A forged sender whose domain says reject: refused, nothing stored or answered.
        let v = m
            .handle(&env("victim@bank.example"), &mail("victim@bank.example"))
            .await;
        assert!(matches!(v, Verdict::Reject { code: 550, .. }), "{v:?}");
        assert!(store.recent_resets(10).await.unwrap().is_empty());
        assert_eq!(
            store
                .mails_to_since("victim@bank.example", 0)
                .await
                .unwrap(),
            0
        );
        // Unverified (p=none): the request is handled as on the web, nobody is answered.
        let v = m
            .handle(&env("a@lax.example"), &mail("a@lax.example"))
            .await;
        assert_eq!(v, Verdict::Accept);
        assert_eq!(store.recent_resets(10).await.unwrap().len(), 1);
        assert_eq!(store.mails_to_since("a@lax.example", 0).await.unwrap(), 0);
        // An aligned sender gets the fixed answer.
        let v = m
            .handle(&env("me@owner.example"), &mail("me@owner.example"))
            .await;
        assert_eq!(v, Verdict::Accept);
        assert_eq!(
            store.mails_to_since("me@owner.example", 0).await.unwrap(),
            1
        );
        // Behind a front MTA, the forwarded original client counts: the bank's own server
        // (192.0.2.1, in its SPF) relayed through Postfix on loopback passes.
        let relayed = Envelope {
            client: "192.0.2.1:0".parse().unwrap(),
            forwarded_by: Some("127.0.0.1:2525".parse().unwrap()),
            ..env("clerk@bank.example")
        };
        let v = m.handle(&relayed, &mail("clerk@bank.example")).await;
        assert_eq!(v, Verdict::Accept);
        assert_eq!(
            store.mails_to_since("clerk@bank.example", 0).await.unwrap(),
            1
        );
    }

    #[tokio::test]
    async fn attack_backscatter_through_reply_to_and_letter_case() {
        let dir = tempfile::tempdir().unwrap();
        let (m, store) = mailbox(dir.path()).await;
        // A forger names the victim in Reply-To: the victim gets nothing, ever.
        for i in 0..10 {
            let mail = format!(
                "From: forger{i}@example.net\r\nReply-To: victim@example.org\r\nSubject: x\r\n\r\nhelp\r\n"
            );
            m.handle(&envelope(), mail.as_bytes()).await;
        }
        assert_eq!(
            store.mails_to_since("victim@example.org", 0).await.unwrap(),
            0
        );
        // Then as the author, cycling the letter case of the whole address: 3 an hour.
        let variants = [
            "victim@example.org",
            "Victim@example.org",
            "VICTIM@EXAMPLE.ORG",
            "vIcTiM@Example.Org",
            "victim@EXAMPLE.org",
            "Victim@Example.ORG",
        ];
        for v in variants.iter().cycle().take(30) {
            let mail = format!("From: {v}\r\nSubject: x\r\n\r\nhelp\r\n");
            assert_eq!(
                m.handle(&envelope(), mail.as_bytes()).await,
                Verdict::Accept
            );
        }
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT recipient FROM outbox WHERE recipient LIKE 'victim@%'")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(
            rows.len() as i64,
            m.reset.limits.replies_per_recipient,
            "{rows:?}"
        );
        assert!(
            rows.iter()
                .all(|(r,)| r.eq_ignore_ascii_case("victim@example.org"))
        );
        // The per-requester budget counts the address whatever its case, too.
        let recent = store.recent_resets(100).await.unwrap();
        assert!(
            recent
                .iter()
                .all(|r| r.requester == r.requester.to_lowercase())
        );
        // Counted alike whatever case one asks with.
        assert_eq!(
            store.mails_to_since("VICTIM@example.ORG", 0).await.unwrap(),
            m.reset.limits.replies_per_recipient
        );
    }

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
