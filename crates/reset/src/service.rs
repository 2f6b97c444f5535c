//! The reset request, whichever way it came (the web page or the reset mailbox): read the
//! challenge, ask the signer to mail the code, and answer with a fixed text.

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
        // requester's budget for genuine requests (unreadable ones are not counted).
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
            Ok(Response::Error {
                code: ErrorCode::FactoryDefault,
            }) => self.factory_case(text, channel, requester).await,
            Ok(Response::Error { code }) => (
                match code {
                    ErrorCode::FactoryDefault => Outcome::FactoryAddress { case: None },
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
    /// challenge (opened once), whose number the answer tells.
    async fn factory_case(
        &self,
        text: &str,
        channel: &str,
        requester: &str,
    ) -> (Outcome, Option<String>) {
        let open = Request::Open {
            challenge: text.to_string(),
        };
        let Ok(Response::Opened(o)) = self.signer.call(&open).await else {
            return (Outcome::FactoryAddress { case: None }, None);
        };
        let email = (channel == "mail" && camkey_proto::policy::check_email(requester))
            .then(|| requester.to_string());
        let case = ResetCase {
            challenge: text.trim().chars().take(4096).collect(),
            nonce: o.nonce,
            serial: o.serial.clone(),
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
        (Outcome::FactoryAddress { case }, Some(o.serial))
    }
}
