//! The notice outbox: mail the camera owes the owner (address-change and recovery notices),
//! queued in the user state with the change it tells of, so it waits on flash through a power
//! cut; sent at boot and by the mail worker, retried with backoff, dropped with an audit entry
//! after [`MAIL_ATTEMPTS`]. Also the SMTP settings in force and the one send path
//! ([`Core::deliver`]) that records each outcome.

use super::*;
use crate::mail;
use crate::state::{PENDING_MAIL_MAX, PendingMail};

impl Core {
    /// The SMTP settings in force: the owner's, else the built-in default.
    pub(super) fn smtp(&self, st: &UserState) -> Option<SmtpSettings> {
        st.smtp.clone().or_else(|| self.config.default_smtp.clone())
    }

    /// Sends with the settings in force (the built-in ones may use plain SMTP on the
    /// lab's bind address).
    pub(super) async fn send_with(
        &self,
        settings: Option<SmtpSettings>,
        owner_set: bool,
        to: &str,
        subject: &str,
        body: String,
    ) -> Result<(), MailError> {
        match settings {
            Some(s) => s.send_as(!owner_set, to, subject, body).await,
            None => Err(MailError::Settings("no mail server is set".into())),
        }
    }

    /// What the mail worker waits on: woken when a notice is queued.
    pub fn mail_wake(&self) -> &tokio::sync::Notify {
        &self.mail_wake
    }

    /// Queues a notice to the owner at `to`, subject "Camera MODEL SERIAL: `what`", in
    /// `next`, the state about to be saved with the change it tells of.
    pub(super) fn queue_owner_notice(
        &self,
        next: &mut UserState,
        to: String,
        what: &str,
        body: String,
        purpose: &str,
    ) {
        let subject = format!(
            "Camera {} {}: {what}",
            self.factory.model, self.factory.serial
        );
        self.queue_notice(
            next,
            Outgoing {
                to,
                subject,
                body,
                purpose: purpose.into(),
            },
        );
    }

    /// Queues a notice in `next`, the state about to be saved with the change it tells of;
    /// beyond [`PENDING_MAIL_MAX`] the oldest waiting notice is dropped, with an audit entry.
    pub(super) fn queue_notice(&self, next: &mut UserState, mail: Outgoing) {
        next.pending_mail.push(PendingMail {
            id: rand::random(),
            to: mail.to,
            subject: mail.subject,
            body: mail.body,
            purpose: mail.purpose,
            attempts: 0,
            next_try_elapsed: 0,
        });
        while next.pending_mail.len() > PENDING_MAIL_MAX {
            let old = next.pending_mail.remove(0);
            let e = self.entry(
                next,
                "mail_dropped",
                None,
                None,
                format!(
                    "{} to {}: too many notices waiting",
                    old.purpose,
                    mail::mask(&old.to)
                ),
            );
            next.push_audit(e);
        }
    }

    /// Sends every waiting notice that is due, or every one with `all` (at boot: notices
    /// saved before a power cut go out then; the worker calls it again when woken). A failed one is tried again
    /// later (30 s, 2 min, 10 min, then hourly), at most `MAIL_ATTEMPTS` times. Returns how long
    /// until the next one is due, if any waits.
    pub async fn send_pending_mail(&self, all: bool) -> Option<std::time::Duration> {
        let now = if all {
            u64::MAX
        } else {
            self.clock.elapsed_ms()
        };
        let due: Vec<PendingMail> = self
            .lock()
            .state
            .pending_mail
            .iter()
            .filter(|m| m.next_try_elapsed <= now)
            .cloned()
            .collect();
        for m in due {
            let out = Outgoing {
                to: m.to.clone(),
                subject: m.subject.clone(),
                body: m.body.clone(),
                purpose: m.purpose.clone(),
            };
            let ok = self.deliver(&out).await.is_ok();
            let mut g = self.lock();
            let now = self.clock.elapsed_ms();
            let give_up = !ok && m.attempts + 1 >= MAIL_ATTEMPTS;
            let dropped = give_up.then(|| {
                self.entry(
                    &g.state,
                    "mail_dropped",
                    None,
                    None,
                    format!(
                        "{} to {}: not sent after {MAIL_ATTEMPTS} attempts",
                        m.purpose,
                        mail::mask(&m.to)
                    ),
                )
            });
            let _ = self.record(&mut g, |s| {
                let Some(i) = s.pending_mail.iter().position(|p| p.id == m.id) else {
                    return;
                };
                if ok || give_up {
                    s.pending_mail.remove(i);
                } else {
                    let p = &mut s.pending_mail[i];
                    p.attempts += 1;
                    p.next_try_elapsed = now + retry_after_ms(p.attempts);
                }
                if let Some(e) = dropped {
                    s.push_audit(e);
                }
            });
        }
        let g = self.lock();
        let now = self.clock.elapsed_ms();
        g.state
            .pending_mail
            .iter()
            .map(|m| std::time::Duration::from_millis(m.next_try_elapsed.saturating_sub(now)))
            .min()
    }

    /// Sends a queued mail (called by the worker) and records the outcome.
    pub async fn deliver(&self, mail: &Outgoing) -> Result<(), MailError> {
        let (settings, owner_set) = {
            let g = self.lock();
            (self.smtp(&g.state), g.state.smtp.is_some())
        };
        let result = self
            .send_with(
                settings,
                owner_set,
                &mail.to,
                &mail.subject,
                mail.body.clone(),
            )
            .await;
        let mut g = self.lock();
        let ok = result.is_ok();
        let detail = match &result {
            Ok(()) => format!("{} sent to {}", mail.purpose, mail::mask(&mail.to)),
            Err(e) => format!("{} to {} failed: {e}", mail.purpose, mail::mask(&mail.to)),
        };
        let e = self.entry(
            &g.state,
            if ok { "mail_sent" } else { "mail_failed" },
            None,
            None,
            detail,
        );
        let _ = self.record(&mut g, |s| {
            s.smtp_ok = Some(ok);
            s.push_audit(e);
        });
        result
    }
}

/// Attempts at a notice before it is dropped (with an audit entry).
pub const MAIL_ATTEMPTS: u32 = 10;

/// How long after failed attempt `n` (1, 2, ...) a notice is tried again.
fn retry_after_ms(n: u32) -> u64 {
    match n {
        1 => 30_000,
        2 => 120_000,
        3 => 600_000,
        _ => 3_600_000,
    }
}
