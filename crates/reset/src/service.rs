//! The reset request, whichever way it came (the web page or the reset mailbox): read the
//! challenge, ask the signer to mail the code, and answer with a fixed text.
//!
//! One signer round trip per request: the challenge is read here once (only to refuse
//! unreadable text before the signer and before the limits), and the signer, which opens
//! it, answers `Issue` either with where the code went (masked) or, for a camera with the
//! factory recovery address, with the challenge's serial and nonce, from which the support
//! case is opened. The front end never sees a code or an address.

use crate::limits::ResetLimits;
use crate::texts::Outcome;
use camkey_proto::challenge;
use camkey_proto::clock::Clock;
use camkey_signer::SignerClient;
use camkey_signer::protocol::{ErrorCode, Request, Response};
use camkey_store::{MailQueue, ResetCase, ResetRecord, ResetStore};
use std::sync::Arc;

/// What the reset service stores: its requests (and the cases they open), and the
/// mailbox's replies.
pub trait ResetStorage: ResetStore + MailQueue {}

impl<T: ResetStore + MailQueue> ResetStorage for T {}

/// The reset service.
#[derive(Clone)]
pub struct ResetService {
    /// The signer.
    pub signer: SignerClient,
    /// Storage.
    pub store: Arc<dyn ResetStorage>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// The support desk's address, for the factory-address answer.
    pub support_address: String,
    /// Its rate limits (and the reset mailbox's, which answers through this service).
    pub limits: ResetLimits,
}

impl ResetService {
    /// Handles one request. `channel` is `web` or `mail`; `requester` a source key or a
    /// (lower-cased) address.
    pub async fn request(&self, text: &str, channel: &str, requester: &str) -> Outcome {
        let now = self.clock.wall_ms();
        let requester: String = requester
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        let (outcome, serial) = self.decide(text, channel, &requester, now).await;
        let record = ResetRecord {
            at: now,
            channel: channel.into(),
            requester,
            serial,
            outcome: outcome.name().into(),
        };
        if let Err(e) = self.store.record_reset(record).await {
            tracing::error!("{e}");
        }
        outcome
    }

    async fn decide(
        &self,
        text: &str,
        channel: &str,
        requester: &str,
        now: i64,
    ) -> (Outcome, Option<String>) {
        // Read it here first: garbage never reaches the signer, and never uses up the
        // requester's budget for genuine requests (unreadable ones are not counted). What
        // it says in the clear is not trusted: the signer opens it.
        if challenge::parse(text).is_err() {
            return (Outcome::Unreadable, None);
        }
        let limits = &self.limits;
        match self
            .store
            .resets_since(requester, now - limits.window_ms)
            .await
        {
            Ok(n) if n >= limits.per_requester => return (Outcome::Limit, None),
            Ok(_) => {}
            Err(e) => {
                tracing::error!("{e}");
                return (Outcome::Unavailable, None);
            }
        }
        let req = Request::Issue {
            challenge: text.to_string(),
            channel: channel.into(),
            requester: requester.into(),
        };
        match self.signer.call(&req).await {
            Ok(Response::Issued { hint, serial, .. }) => (Outcome::CodeSent { hint }, Some(serial)),
            Ok(Response::FactoryDefault { serial, nonce }) => {
                self.factory_case(text, channel, requester, serial, nonce)
                    .await
            }
            Ok(Response::Error { code }) => (
                match code {
                    ErrorCode::Unreadable | ErrorCode::BadRequest => Outcome::Unreadable,
                    ErrorCode::NotGenuine | ErrorCode::UnknownKeyVersion => Outcome::NotGenuine,
                    ErrorCode::CapReached | ErrorCode::ResendLimited => Outcome::Limit,
                    ErrorCode::TooLate | ErrorCode::Superseded => Outcome::TooOld,
                    ErrorCode::Internal | ErrorCode::NotOnOrder | ErrorCode::OwnerAddress => {
                        Outcome::Unavailable
                    }
                },
                None,
            ),
            Ok(_) => (Outcome::Unavailable, None),
            Err(e) => {
                tracing::error!("{e}");
                (Outcome::Unavailable, None)
            }
        }
    }

    /// A camera with the factory recovery address: the support desk's case for this
    /// challenge (opened once, by the `nonce` and `serial` the signer read from inside it),
    /// whose number the answer tells.
    async fn factory_case(
        &self,
        text: &str,
        channel: &str,
        requester: &str,
        serial: String,
        nonce: String,
    ) -> (Outcome, Option<String>) {
        let email = (channel == "mail" && camkey_proto::policy::check_email(requester))
            .then(|| requester.to_string());
        let case = ResetCase {
            challenge: text.trim().chars().take(4096).collect(),
            nonce,
            serial: serial.clone(),
            channel: channel.into(),
            email,
            now: self.clock.wall_ms(),
        };
        let case = match self.store.open_reset_case(case).await {
            Ok((id, _)) => Some(id),
            Err(e) => {
                tracing::error!("{e}");
                None
            }
        };
        (Outcome::FactoryAddress { case }, Some(serial))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use camkey_proto::challenge::{Challenge, Recovery};
    use camkey_proto::clock::ManualClock;
    use camkey_proto::keys::MasterKey;
    use camkey_signer::store::SignerStore;
    use camkey_signer::{Caps, Signer};
    use camkey_store::SqliteStore;
    use std::sync::Mutex;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    const NOW: i64 = 1_790_000_000_000;
    const SERIAL: &str = "IPC4K15-000001";

    /// A real signer behind a socket that also writes down every request it gets.
    struct Counted {
        service: ResetService,
        store: Arc<SqliteStore>,
        requests: Arc<Mutex<Vec<Request>>>,
        master: MasterKey,
    }

    async fn counted(dir: &std::path::Path) -> Counted {
        let master = MasterKey::from_bytes(1, [0x42; 32]);
        let clock = Arc::new(ManualClock::new(NOW));
        let signer_store = SignerStore::open(&dir.join("signer.db")).await.unwrap();
        let signer = Arc::new(Signer::new(
            vec![master.clone()],
            signer_store,
            clock.clone(),
            Caps::default(),
        ));
        let sock = dir.join("signer.sock");
        let listener = tokio::net::UnixListener::bind(&sock).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (rd, mut wr) = stream.into_split();
                let mut line = String::new();
                BufReader::new(rd).read_line(&mut line).await.unwrap();
                let req: Request = serde_json::from_str(&line).unwrap();
                seen.lock().unwrap().push(req.clone());
                let mut answer = serde_json::to_vec(&signer.handle(req).await).unwrap();
                answer.push(b'\n');
                wr.write_all(&answer).await.unwrap();
            }
        });
        let store = Arc::new(SqliteStore::open(&dir.join("v.db")).await.unwrap());
        let service = ResetService {
            signer: SignerClient::new(sock),
            store: store.clone(),
            clock,
            support_address: "support@vendor.example".into(),
            limits: crate::ResetLimits::default(),
        };
        Counted {
            service,
            store,
            requests,
            master,
        }
    }

    impl Counted {
        fn challenge(&self, counter: u32, recovery: Recovery) -> (Challenge, String) {
            let key = self.master.device_key(SERIAL);
            let c =
                Challenge::new(&key, SERIAL, 1_790_000_000, false, recovery).with_counter(counter);
            let text = c.seal(&key).unwrap();
            (c, text)
        }

        fn calls(&self) -> Vec<Request> {
            std::mem::take(&mut *self.requests.lock().unwrap())
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A factory-address camera: one `Issue`, no `Open`; the case is named by the nonce and
    /// serial the signer read from inside the challenge, and opened once per challenge.
    #[tokio::test]
    async fn a_factory_address_camera_takes_one_signer_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let t = counted(dir.path()).await;
        let (c, text) = t.challenge(3, Recovery::FactoryDefault);
        let url = format!("https://vendor.example/reset#{text}");
        let first = t.service.request(&url, "mail", "owner@example.com").await;
        let Outcome::FactoryAddress { case: Some(case) } = first else {
            panic!("{first:?}");
        };
        let calls = t.calls();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert!(matches!(&calls[0], Request::Issue { challenge, .. } if *challenge == url));
        let (nonce, serial, email): (String, String, Option<String>) = sqlx::query_as(
            "SELECT challenge_nonce, serial, requester_email FROM cases WHERE id = ?",
        )
        .bind(case)
        .fetch_one(t.store.pool())
        .await
        .unwrap();
        assert_eq!(
            (nonce.as_str(), serial.as_str(), email.as_deref()),
            (hex(&c.nonce).as_str(), SERIAL, Some("owner@example.com"))
        );
        // Again, on the web: the same case, still one call.
        let again = t.service.request(&text, "web", "10.0.0.9").await;
        assert_eq!(again, Outcome::FactoryAddress { case: Some(case) });
        assert_eq!(t.calls().len(), 1);
        let record = t.store.recent_resets(1).await.unwrap().remove(0);
        assert_eq!(
            (record.serial.as_deref(), record.outcome.as_str()),
            (Some(SERIAL), "factory_address")
        );
    }

    /// Unreadable text never reaches the signer and does not count toward the limit;
    /// a camera with its owner's address gets its code in one call, and the front end
    /// learns only the masked hint.
    #[tokio::test]
    async fn unreadable_text_stays_here_and_a_code_takes_one_call() {
        let dir = tempfile::tempdir().unwrap();
        let t = counted(dir.path()).await;
        for _ in 0..t.service.limits.per_requester + 2 {
            let o = t
                .service
                .request("CK1 not a challenge", "web", "10.0.0.1")
                .await;
            assert_eq!(o, Outcome::Unreadable);
        }
        assert!(t.calls().is_empty());
        assert_eq!(t.store.resets_since("10.0.0.1", 0).await.unwrap(), 0);
        let (_, text) = t.challenge(4, Recovery::Owner("owner@example.com".into()));
        let o = t.service.request(&text, "web", "10.0.0.1").await;
        assert_eq!(
            o,
            Outcome::CodeSent {
                hint: "o***@***".into()
            }
        );
        assert_eq!(t.calls().len(), 1);
        // A forged one is read here, refused by the signer, in one call.
        let other = MasterKey::from_bytes(1, [0x43; 32]).device_key(SERIAL);
        let forged = Challenge::new(
            &other,
            SERIAL,
            1_790_000_000,
            false,
            Recovery::FactoryDefault,
        )
        .seal(&other)
        .unwrap();
        assert_eq!(
            t.service.request(&forged, "web", "10.0.0.1").await,
            Outcome::NotGenuine
        );
        assert_eq!(t.calls().len(), 1);
    }
}
