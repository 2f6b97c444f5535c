//! The signer's decisions: open a challenge, and issue a code for it under the rules of S3
//! and S5 — only to the address sealed inside, a handful of codes per device a day,
//! re-sends of the same code not counted (but bounded), the same request twice idempotent,
//! nothing for the factory-default address, everything audited.

use crate::protocol::{ErrorCode, IssueStatus, Opened, Request, Response};
use crate::store::{NewMail, SignerStore, StoreError};
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

fn mask(addr: &str) -> String {
    match addr.split_once('@') {
        Some((l, d)) => format!("{}***@{d}", l.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

fn code_error(e: ChallengeError) -> ErrorCode {
    match e {
        ChallengeError::UnknownKeyVersion => ErrorCode::UnknownKeyVersion,
        ChallengeError::Tampered => ErrorCode::NotGenuine,
        _ => ErrorCode::Unreadable,
    }
}

fn code_mail(ch: &Challenge, to: &str, code: &str) -> NewMail {
    NewMail {
        recipient: to.to_string(),
        subject: format!("Security code for your camera {}", ch.serial),
        body: format!(
            "A security code was asked for to reset the password of your camera, serial {}.\n\n\
             Code: {code}\n\n\
             Type it on the camera's \"Forgot password?\" page (Use a QR code, step 3), with a new password.\n\
             It is valid for 24 hours.\n\n\
             If you did not ask for it, ignore this mail: the code works only on your camera, from its own page,\n\
             and only with this mail in hand.\n",
            ch.serial
        ),
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

    /// `Open`.
    pub async fn open(&self, text: &str) -> Result<Opened, ErrorCode> {
        let ch = self.opened(text, "open").await?;
        let nonce = data_encoding_hex(&ch.nonce);
        self.store
            .seen(&nonce, &ch.serial, self.clock.wall_ms())
            .await
            .map_err(|e| self.internal(e))?;
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

    /// `Issue`: to the address sealed in the challenge.
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
            let detail =
                format!("no code: factory-default address, for the support desk; {context}");
            self.audit("issue", Some(&ch.serial), "factory_default", &detail)
                .await;
            return Err(ErrorCode::FactoryDefault);
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
            .seen(&nonce, &ch.serial, now)
            .await
            .map_err(|e| self.internal(e))?;
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
            // Later: the same code, re-sent, not counted against the daily cap.
            let code =
                code::issue(&key, ch, generated, row.first_seen).map_err(|_| ErrorCode::TooLate)?;
            let mail = code_mail(ch, to, &code.text());
            let ok = self
                .store
                .resend(
                    &nonce,
                    now,
                    self.caps.resend_gap_ms,
                    self.caps.resends_per_code,
                    &mail,
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
            .issued_since(&ch.serial, now - 86_400_000)
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
        let code = match code::issue(&key, ch, now, row.first_seen) {
            Ok(c) => c,
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
            .issue(&nonce, now, &code_mail(ch, to, &code.text()))
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
