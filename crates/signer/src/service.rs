//! The signer's decisions: open a challenge, and issue a code for it under the rules of S3
//! and S5 — only to the address sealed inside, a handful of codes per device a day,
//! re-sends of the same code not counted (but bounded), the same request twice idempotent,
//! nothing for the factory-default address (the answer names the challenge, for the
//! support desk, in the same round trip), everything audited.
//!
//! Stale challenges: each challenge carries, sealed, the camera's counter, which
//! only grows. A challenge older than the two newest seen for its serial can no longer be
//! live on the camera (it keeps two at most); it is refused ([`ErrorCode::Superseded`]) and
//! the codes of such challenges no longer count against the daily cap, so old challenges
//! someone collected cannot use up the owner's codes.
//!
//! Support releases go only for factory-default challenges: a challenge sealed to an
//! address the owner set gets its code there, never at an order's address
//! ([`ErrorCode::OwnerAddress`]).

use crate::protocol::{ErrorCode, IssueStatus, Opened, Request, Response};
use crate::store::{SeenChallenge, SignerStore, StoreError};
use camkey_proto::challenge::{self, Challenge, ChallengeError, Recovery};
use camkey_proto::clock::Clock;
use camkey_proto::code::{self, CodeError};
use camkey_proto::keys::MasterKey;
use std::sync::Arc;
use tokio::sync::Notify;

/// Limits of the signer.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// New codes per device in any 24 hours.
    pub codes_per_device_per_day: i64,
    /// Times one code may be mailed again.
    pub resends_per_code: i64,
    /// A request for the same challenge within this long sends nothing new (idempotent).
    pub resend_gap_ms: i64,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            codes_per_device_per_day: 5,
            resends_per_code: 5,
            resend_gap_ms: 10 * 60_000,
        }
    }
}

/// The signer.
pub struct Signer {
    masters: Vec<MasterKey>,
    store: SignerStore,
    clock: Arc<dyn Clock>,
    caps: Caps,
    /// Wakes the outbox worker when a mail is queued.
    pub wake: Arc<Notify>,
}

use camkey_proto::challenge::address_hint as mask;

fn code_error(e: ChallengeError) -> ErrorCode {
    match e {
        ChallengeError::UnknownKeyVersion => ErrorCode::UnknownKeyVersion,
        ChallengeError::Tampered => ErrorCode::NotGenuine,
        _ => ErrorCode::Unreadable,
    }
}

fn seen_of<'a>(ch: &'a Challenge, nonce: &'a str) -> SeenChallenge<'a> {
    SeenChallenge {
        nonce,
        serial: &ch.serial,
        key_version: ch.key_version,
        counter: ch.counter,
    }
}

impl Signer {
    /// A signer over its keys and store.
    pub fn new(
        masters: Vec<MasterKey>,
        store: SignerStore,
        clock: Arc<dyn Clock>,
        caps: Caps,
    ) -> Self {
        Signer {
            masters,
            store,
            clock,
            caps,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Answers one request.
    pub async fn handle(&self, req: Request) -> Response {
        let result = match req {
            Request::Open { challenge } => self.open(&challenge).await.map(Response::Opened),
            Request::Issue {
                challenge,
                channel,
                requester,
            } => self.issue(&challenge, &channel, &requester).await,
            Request::Release {
                challenge,
                order_number,
                case,
                agent,
            } => self.release(&challenge, &order_number, &case, &agent).await,
            Request::Health => match self.store.pending().await {
                Ok(n) => Ok(Response::Healthy {
                    key_versions: self.masters.iter().map(|m| m.version()).collect(),
                    pending_mail: n.max(0) as u64,
                }),
                Err(e) => Err(self.internal(e)),
            },
        };
        result.unwrap_or_else(|code| Response::Error { code })
    }

    fn internal(&self, e: StoreError) -> ErrorCode {
        tracing::error!("{e}");
        ErrorCode::Internal
    }

    async fn audit(&self, op: &str, serial: Option<&str>, outcome: &str, detail: &str) {
        if let Err(e) = self
            .store
            .audit(self.clock.wall_ms(), op, serial, outcome, detail)
            .await
        {
            tracing::error!("audit: {e}");
        }
    }

    async fn opened(&self, text: &str, op: &str) -> Result<Challenge, ErrorCode> {
        match challenge::open_with_master(&self.masters, text) {
            Ok(c) => Ok(c),
            Err(e) => {
                let code = code_error(e);
                // The clear serial of a forged challenge is not trusted: not recorded.
                self.audit(op, None, "refused", &code.to_string()).await;
                Err(code)
            }
        }
    }

    /// Records a genuine challenge as seen (its first-seen time and counter); its nonce, hex.
    async fn see(&self, ch: &Challenge) -> Result<String, ErrorCode> {
        let nonce = data_encoding_hex(&ch.nonce);
        self.store
            .seen(seen_of(ch, &nonce), self.clock.wall_ms())
            .await
            .map_err(|e| self.internal(e))?;
        Ok(nonce)
    }

    /// `Open`.
    pub async fn open(&self, text: &str) -> Result<Opened, ErrorCode> {
        let ch = self.opened(text, "open").await?;
        let nonce = self.see(&ch).await?;
        self.audit("open", Some(&ch.serial), "ok", "challenge opened")
            .await;
        let (factory_default, hint) = match &ch.recovery {
            Recovery::Owner(a) => (false, Some(mask(a))),
            Recovery::FactoryDefault => (true, None),
        };
        Ok(Opened {
            serial: ch.serial,
            key_version: ch.key_version,
            nonce,
            factory_default,
            hint,
            clock_trusted: ch.clock_trusted,
            created_unix: ch.created_unix,
        })
    }

    /// `Issue`: to the address sealed in the challenge. A factory-default challenge gets no
    /// code: it is recorded as seen (as `Open` would) and named to the front end, which
    /// opens the support case with it.
    async fn issue(
        &self,
        text: &str,
        channel: &str,
        requester: &str,
    ) -> Result<Response, ErrorCode> {
        let ch = self.opened(text, "issue").await?;
        let requester: String = requester
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        let context = format!("via {channel} from {requester}");
        let Recovery::Owner(to) = &ch.recovery else {
            let nonce = self.see(&ch).await?;
            let detail =
                format!("no code: factory-default address, for the support desk; {context}");
            self.audit("issue", Some(&ch.serial), "factory_default", &detail)
                .await;
            return Ok(Response::FactoryDefault {
                serial: ch.serial,
                nonce,
            });
        };
        let (status, hint) = self.deliver("issue", &ch, to, &context).await?;
        Ok(Response::Issued {
            status,
            hint,
            serial: ch.serial,
        })
    }

    /// `Release`: to the address of the order that holds the challenge's own serial.
    async fn release(
        &self,
        text: &str,
        order_number: &str,
        case: &str,
        agent: &str,
    ) -> Result<Response, ErrorCode> {
        let ch = self.opened(text, "release").await?;
        let clean = |s: &str| {
            s.chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect::<String>()
        };
        let context = format!(
            "case {} by {} on order {}",
            clean(case),
            clean(agent),
            clean(order_number)
        );
        if let Recovery::Owner(_) = &ch.recovery {
            // Codes for this camera go only to the address its owner set (docs/design.md §1, S5).
            let detail = format!(
                "refused: the challenge is sealed to an address the owner set, not the factory default; {context}"
            );
            self.audit("release", Some(&ch.serial), "owner_address", &detail)
                .await;
            return Err(ErrorCode::OwnerAddress);
        }
        let to = self
            .store
            .order_address(order_number, &ch.serial)
            .await
            .map_err(|e| self.internal(e))?;
        let Some(to) = to else {
            let detail = format!("refused: the serial is not on that order; {context}");
            self.audit("release", Some(&ch.serial), "not_on_order", &detail)
                .await;
            return Err(ErrorCode::NotOnOrder);
        };
        let (status, hint) = self.deliver("release", &ch, &to, &context).await?;
        Ok(Response::Released {
            status,
            hint,
            serial: ch.serial,
        })
    }

    /// Makes (or re-sends) the code of a challenge and queues its mail to `to`.
    async fn deliver(
        &self,
        op: &str,
        ch: &Challenge,
        to: &str,
        context: &str,
    ) -> Result<(IssueStatus, String), ErrorCode> {
        let detail = |what: &str| format!("{what}; {context}");
        let now = self.clock.wall_ms();
        let nonce = data_encoding_hex(&ch.nonce);
        let row = self
            .store
            .seen(seen_of(ch, &nonce), now)
            .await
            .map_err(|e| self.internal(e))?;
        // Older than the two newest challenges of this camera: ignored, counted nowhere.
        let floor = self
            .store
            .second_newest_counter(&ch.serial)
            .await
            .map_err(|e| self.internal(e))?
            .unwrap_or(0);
        if i64::from(ch.counter) < floor {
            self.audit(
                op,
                Some(&ch.serial),
                "stale",
                &detail(&format!(
                    "challenge {} is older than the two newest of this camera: ignored",
                    ch.counter
                )),
            )
            .await;
            return Err(ErrorCode::Superseded);
        }
        let key = self
            .masters
            .iter()
            .find(|m| m.version() == ch.key_version)
            .map(|m| m.device_key(&ch.serial))
            .ok_or(ErrorCode::UnknownKeyVersion)?;
        let hint = mask(to);
        if let Some(generated) = row.generated {
            // The same request again within minutes: idempotent, nothing new is mailed.
            if row
                .last_sent
                .is_some_and(|t| now - t < self.caps.resend_gap_ms)
            {
                self.audit(
                    op,
                    Some(&ch.serial),
                    "already_sent",
                    &detail("same request again: nothing new sent"),
                )
                .await;
                return Ok((IssueStatus::AlreadySent, hint));
            }
            // Later: the same code, re-sent, not counted against the daily cap (the outbox
            // makes it again from the challenge when it mails it).
            code::issue(&key, ch, generated, row.first_seen).map_err(|_| ErrorCode::TooLate)?;
            let ok = self
                .store
                .resend(
                    &nonce,
                    now,
                    self.caps.resend_gap_ms,
                    self.caps.resends_per_code,
                    to,
                )
                .await
                .map_err(|e| self.internal(e))?;
            if !ok {
                self.audit(
                    op,
                    Some(&ch.serial),
                    "resend_limited",
                    &detail("re-send refused"),
                )
                .await;
                return Err(ErrorCode::ResendLimited);
            }
            self.wake.notify_one();
            self.audit(
                op,
                Some(&ch.serial),
                "resent",
                &detail(&format!("code re-sent to {hint}")),
            )
            .await;
            return Ok((IssueStatus::Resent, hint));
        }
        let today = self
            .store
            .issued_since(&ch.serial, now - 86_400_000, floor)
            .await
            .map_err(|e| self.internal(e))?;
        if today >= self.caps.codes_per_device_per_day {
            self.audit(
                op,
                Some(&ch.serial),
                "cap_reached",
                &detail("daily cap of codes reached"),
            )
            .await;
            return Err(ErrorCode::CapReached);
        }
        // The code itself is made only when the mail goes out; here, only whether it can be.
        match code::issue(&key, ch, now, row.first_seen) {
            Ok(_) => {}
            Err(CodeError::TooLate) => {
                self.audit(
                    op,
                    Some(&ch.serial),
                    "too_late",
                    &detail("challenge first seen too long ago"),
                )
                .await;
                return Err(ErrorCode::TooLate);
            }
            Err(_) => return Err(ErrorCode::Internal),
        };
        let fresh = self
            .store
            .issue(&nonce, now, to)
            .await
            .map_err(|e| self.internal(e))?;
        if !fresh {
            // Another request issued it between our read and write: theirs stands.
            return Box::pin(self.deliver(op, ch, to, context)).await;
        }
        self.wake.notify_one();
        self.audit(
            op,
            Some(&ch.serial),
            "sent",
            &detail(&format!("code queued for {hint}")),
        )
        .await;
        Ok((IssueStatus::Sent, hint))
    }
}

fn data_encoding_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use camkey_proto::clock::ManualClock;

    const NOW: i64 = 1_790_000_000_000;
    const SERIAL: &str = "IPC4K15-000001";

    async fn signer(dir: &std::path::Path) -> (Signer, Arc<ManualClock>, MasterKey) {
        let master = MasterKey::from_bytes(1, [0x42; 32]);
        let store = SignerStore::open(&dir.join("signer.db")).await.unwrap();
        let clock = Arc::new(ManualClock::new(NOW));
        let s = Signer::new(vec![master.clone()], store, clock.clone(), Caps::default());
        (s, clock, master)
    }

    fn challenge(master: &MasterKey, counter: u32, recovery: Recovery) -> String {
        let key = master.device_key(SERIAL);
        Challenge::new(&key, SERIAL, 1_790_000_000, false, recovery)
            .with_counter(counter)
            .seal(&key)
            .unwrap()
    }

    fn owner() -> Recovery {
        Recovery::Owner("owner@example.com".into())
    }

    async fn issue(s: &Signer, text: &str) -> Response {
        s.handle(Request::Issue {
            challenge: text.into(),
            channel: "web".into(),
            requester: "127.0.0.9".into(),
        })
        .await
    }

    fn refused(code: ErrorCode) -> Response {
        Response::Error { code }
    }

    /// Issue 11, item 5: old challenges someone collected, replayed in the worst order
    /// (oldest first, so each is the newest when it arrives), cannot keep the owner's
    /// newest challenge from its code on the same day; replayed again, they are ignored.
    #[tokio::test]
    async fn stale_challenges_are_ignored_and_never_use_up_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let (s, clock, master) = signer(dir.path()).await;
        let hoard: Vec<String> = (1..=20).map(|n| challenge(&master, n, owner())).collect();
        for text in &hoard {
            clock.advance(60_000);
            assert!(matches!(issue(&s, text).await, Response::Issued { .. }));
        }
        // Every one of them again, newest first, and out of order: all ignored.
        for text in hoard
            .iter()
            .rev()
            .skip(2)
            .chain(hoard[..18].iter().step_by(3))
        {
            assert_eq!(issue(&s, text).await, refused(ErrorCode::Superseded));
        }
        // The owner's newest, the same day: its code.
        let newest = challenge(&master, 21, owner());
        let r = issue(&s, &newest).await;
        assert!(
            matches!(
                r,
                Response::Issued {
                    status: IssueStatus::Sent,
                    ..
                }
            ),
            "{r:?}"
        );
        // Now only 21 and 20 are live on the camera: 19 and below are ignored.
        assert_eq!(issue(&s, &hoard[18]).await, refused(ErrorCode::Superseded));
        // Nothing ignored was queued: 20 hoarded codes and the owner's.
        assert_eq!(s.store.pending().await.unwrap(), 21);
        let stale: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE outcome = 'stale'")
            .fetch_one(&s.store.pool)
            .await
            .unwrap();
        assert_eq!(stale, 18 + 6 + 1);
    }

    /// The daily cap still holds for the newest challenges (equal counters: challenges
    /// that do not say which is newer all count).
    #[tokio::test]
    async fn the_cap_counts_the_codes_of_live_challenges() {
        let dir = tempfile::tempdir().unwrap();
        let (s, clock, master) = signer(dir.path()).await;
        for _ in 0..Caps::default().codes_per_device_per_day {
            let r = issue(&s, &challenge(&master, 7, owner())).await;
            assert!(matches!(r, Response::Issued { .. }), "{r:?}");
        }
        let sixth = challenge(&master, 7, owner());
        assert_eq!(issue(&s, &sixth).await, refused(ErrorCode::CapReached));
        // One newer challenge: the 7s are still among the two newest, their codes count.
        let newer = challenge(&master, 9, owner());
        assert_eq!(issue(&s, &newer).await, refused(ErrorCode::CapReached));
        // Two newer: the 7s can no longer be live on the camera, their codes no longer count.
        let newest = challenge(&master, 10, owner());
        assert!(matches!(issue(&s, &newest).await, Response::Issued { .. }));
        // 24 hours on, the cap has room again whatever happened.
        clock.advance(86_400_000);
        let later = challenge(&master, 11, owner());
        assert!(matches!(issue(&s, &later).await, Response::Issued { .. }));
    }

    /// Issue 11, item 10: a release for a challenge sealed to an address the owner set is
    /// refused (typed), audited, and queues nothing.
    #[tokio::test]
    async fn no_release_for_a_challenge_sealed_to_the_owners_address() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _, master) = signer(dir.path()).await;
        s.store
            .replace_orders(&[camkey_proto::orders::OrderLine {
                order_number: "ORD-1".into(),
                serial: SERIAL.into(),
                customer_name: "Carol".into(),
                customer_email: "carol@example.com".into(),
                purchase_date: "2026-03-01".into(),
            }])
            .await
            .unwrap();
        let release = |text: String| Request::Release {
            challenge: text,
            order_number: "ORD-1".into(),
            case: "1".into(),
            agent: "ann".into(),
        };
        let own = challenge(&master, 3, Recovery::Owner("new-owner@example.com".into()));
        assert_eq!(
            s.handle(release(own)).await,
            refused(ErrorCode::OwnerAddress)
        );
        assert_eq!(s.store.pending().await.unwrap(), 0);
        let fd = challenge(&master, 4, Recovery::FactoryDefault);
        let r = s.handle(release(fd)).await;
        assert!(
            matches!(&r, Response::Released { hint, .. } if hint == "c***@***"),
            "{r:?}"
        );
        assert_eq!(s.store.pending().await.unwrap(), 1);
    }

    /// A reset request for a factory-default camera is one round trip: `Issue` answers
    /// with the serial and nonce `Open` would tell, records the challenge as seen (as
    /// `Open` did), queues nothing, and audits the refusal once.
    #[tokio::test]
    async fn issue_names_a_factory_default_challenge_for_the_support_desk() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _, master) = signer(dir.path()).await;
        let fd = challenge(&master, 4, Recovery::FactoryDefault);
        let opened = s.open(&fd).await.unwrap();
        assert!(opened.factory_default && opened.hint.is_none());
        let r = issue(&s, &fd).await;
        assert_eq!(
            r,
            Response::FactoryDefault {
                serial: SERIAL.into(),
                nonce: opened.nonce.clone(),
            }
        );
        assert_eq!(s.store.pending().await.unwrap(), 0);
        // Seen on its own, without `Open`: a release later carries its first-seen time.
        let other = challenge(&master, 5, Recovery::FactoryDefault);
        let Response::FactoryDefault { nonce, .. } = issue(&s, &other).await else {
            panic!("not named for support");
        };
        let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM challenges WHERE nonce = ?")
            .bind(&nonce)
            .fetch_one(&s.store.pool)
            .await
            .unwrap();
        assert_eq!(seen, 1);
        let audited: Vec<(String, String)> =
            sqlx::query_as("SELECT op, outcome FROM audit ORDER BY rowid")
                .fetch_all(&s.store.pool)
                .await
                .unwrap();
        assert_eq!(
            audited,
            [
                ("open".to_string(), "ok".to_string()),
                ("issue".into(), "factory_default".into()),
                ("issue".into(), "factory_default".into()),
            ]
        );
        // A forged factory-default challenge is refused as before: nothing is named.
        let forged = {
            let key = MasterKey::from_bytes(1, [0x43; 32]).device_key(SERIAL);
            Challenge::new(&key, SERIAL, 1_790_000_000, false, Recovery::FactoryDefault)
                .seal(&key)
                .unwrap()
        };
        assert_eq!(issue(&s, &forged).await, refused(ErrorCode::NotGenuine));
    }

    #[test]
    fn the_hint_tells_neither_length_nor_domain() {
        assert_eq!(mask("owner@example.com"), "o***@***");
        assert_eq!(mask("x@a-very-long-company-name.example"), "x***@***");
        assert_eq!(mask("no-at-sign"), "***");
    }
}
