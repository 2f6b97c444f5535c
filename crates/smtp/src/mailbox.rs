//! A [`Sink`] that keeps every message in memory: the lab's mail catcher and the tests'
//! receiver of what cameras send.
//!
//! It accepts every recipient and holds at most `capacity` messages; beyond, it answers
//! `452 4.3.1` (try later) rather than growing, until someone [`Mailbox::take`]s them.
//! [`Mailbox::wait_for`] lets a test wait for a message without polling.

use crate::sink::{BoxFuture, Envelope, Sink, Verdict};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// A message received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Who sent it, and to whom.
    pub envelope: Envelope,
    /// The message as received (headers and body, dot-unstuffed, CRLF line ends).
    pub message: Vec<u8>,
}

/// Messages in memory, bounded.
#[derive(Debug)]
pub struct Mailbox {
    mails: Mutex<Vec<Mail>>,
    capacity: usize,
    count: watch::Sender<usize>,
}

impl Mailbox {
    /// A mailbox holding at most `capacity` messages.
    pub fn new(capacity: usize) -> Self {
        Mailbox {
            mails: Mutex::new(Vec::new()),
            capacity,
            count: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Mail>> {
        // A panic elsewhere while holding the lock leaves a valid Vec: keep going.
        self.mails.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the messages held, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        self.lock().clone()
    }

    /// Removes and returns the messages held, oldest first.
    pub fn take(&self) -> Vec<Mail> {
        let mut mails = self.lock();
        let taken = std::mem::take(&mut *mails);
        self.count.send_replace(0);
        taken
    }

    /// Number of messages held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no message is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until at least `n` messages are held, at most `timeout`; then a copy of
    /// them, or `None` on timeout.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Option<Vec<Mail>> {
        let mut rx = self.count.subscribe();
        match tokio::time::timeout(timeout, rx.wait_for(|&count| count >= n)).await {
            Ok(Ok(_)) => Some(self.mails()),
            _ => None,
        }
    }
}

impl Sink for Mailbox {
    fn deliver(&self, envelope: Envelope, message: Vec<u8>) -> BoxFuture<'_, Verdict> {
        let verdict = {
            let mut mails = self.lock();
            if mails.len() >= self.capacity {
                Verdict::reject(452, "4.3.1", "mailbox full, try later")
            } else {
                mails.push(Mail { envelope, message });
                self.count.send_replace(mails.len());
                Verdict::Accept
            }
        };
        Box::pin(async move { verdict })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn envelope() -> Envelope {
        Envelope {
            client: SocketAddr::from(([127, 0, 0, 1], 1)),
            helo: "h".into(),
            forwarded_by: None,
            mail_from: "a@b".into(),
            rcpt_to: vec!["c@d".into()],
            tls: false,
        }
    }

    #[tokio::test]
    async fn holds_up_to_capacity_then_refuses_for_now() {
        let mb = Mailbox::new(2);
        assert!(mb.is_empty());
        for _ in 0..2 {
            assert_eq!(
                mb.deliver(envelope(), b"x\r\n".to_vec()).await,
                Verdict::Accept
            );
        }
        let full = mb.deliver(envelope(), b"x\r\n".to_vec()).await;
        assert!(
            matches!(full, Verdict::Reject { code: 452, .. }),
            "{full:?}"
        );
        assert_eq!(
            mb.wait_for(2, Duration::from_millis(10))
                .await
                .map(|m| m.len()),
            Some(2)
        );
        assert_eq!(mb.take().len(), 2);
        assert_eq!(mb.wait_for(1, Duration::from_millis(10)).await, None);
        assert_eq!(
            mb.deliver(envelope(), b"x\r\n".to_vec()).await,
            Verdict::Accept
        );
    }
}
