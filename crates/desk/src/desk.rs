//! The support desk (docs/design.md §1 steps 1 and 4): cases, their history and notes, the mails
//! to requesters, releasing a security code through the signer, and the factory-service
//! fee an owner approves.
//!
//! A case is opened by a reset request for a camera with the factory recovery address
//! (one case per challenge), by the Tech Support Form, or by staff. Every change is one
//! row in the audit log (who, when, what), which is also the case's history. Requesters
//! get fixed texts only ([`crate::mails::CaseMail`]), at most
//! [`DeskLimits::mails_per_recipient`] an hour each, through the front end's durable outbox.
//!
//! Releasing a code never passes a code through this process (S1): the desk sends the
//! case's challenge and the order number the agent names to the signer, which checks the
//! serial **inside** the challenge against its own copy of the orders and mails the code
//! to that order's customer (S5).
//!
//! Only a camera still on the factory recovery address gets a code through the desk
//! (docs/design.md §1): a password-reset request whose challenge is sealed to an address the owner
//! set opens no case and is told what is left ([`camkey_proto::guides::own_address_next_step`]:
//! the reset button, or factory service on models without one); the signer refuses such
//! a release too ([`ErrorCode::OwnerAddress`]).

use crate::limits::DeskLimits;
use crate::mails::CaseMail;
use crate::orders::{Warranty, warranty};
use crate::requests::{Checked, SupportRequest, check, check_text, invalid};
use crate::staff::{Role, Staff};
use camkey_proto::catalogue::model_of_serial;
use camkey_proto::clock::Clock;
use camkey_signer::SignerClient;
use camkey_signer::protocol::{ErrorCode, Request, Response};
use camkey_store::audit::AuditEntry;
use camkey_store::{
    AuditStore, CaseStore, MailQueue, NewCase, Order, OrderStore, StaffStore, StoreError,
};
use serde::Serialize;
use std::sync::Arc;

pub use crate::requests::MAX_TEXT;
pub use camkey_store::{Case, Event, Kind, Reason, State};

/// What the desk stores: cases and their audit trail, staff and their sessions, the
/// orders, and its mails.
pub trait DeskStorage: CaseStore + AuditStore + StaffStore + OrderStore + MailQueue {}

impl<T: CaseStore + AuditStore + StaffStore + OrderStore + MailQueue> DeskStorage for T {}

/// A case with everything the case page shows.
#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    /// The case.
    #[serde(flatten)]
    pub case: Case,
    /// Its history (oldest first), notes included.
    pub history: Vec<Event>,
    /// The front end's orders holding the case's serial.
    pub orders: Vec<OrderView>,
    /// The model's reset guide.
    pub guide: Option<String>,
    /// Whether a fee applies, by the rules (factory service only).
    pub fee_applies: Option<bool>,
}

/// An order with its warranty.
#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    /// The order line.
    #[serde(flatten)]
    pub order: Order,
    /// Its warranty.
    pub warranty: Option<Warranty>,
}

/// Why the desk refused.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// A field is missing or wrong.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: &'static str,
    },
    /// A text is too long.
    #[error("{0} is longer than {MAX_TEXT} characters")]
    TooLarge(&'static str),
    /// No such case.
    #[error("there is no such case")]
    NotFound,
    /// Not allowed in the case's present state (code, message).
    #[error("{1}")]
    Conflict(&'static str, &'static str),
    /// The signer refused to release (its code).
    #[error("the signer refused: {0}")]
    Refused(ErrorCode),
    /// A password reset for a camera with a recovery address its owner set: the desk
    /// releases no code for it; the message says what is left for that model.
    #[error("{}", camkey_proto::guides::own_address_next_step(*model))]
    OwnAddress {
        /// The camera's model (from the challenge's serial), if it is one of ours.
        model: Option<&'static str>,
    },
    /// Too many requests.
    #[error("too many requests; try again later")]
    Limited,
    /// Not allowed for this role.
    #[error("only an admin may do that")]
    Forbidden,
    /// The signer cannot be reached.
    #[error("the signer cannot be reached")]
    Unavailable,
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The desk.
#[derive(Clone)]
pub struct Desk {
    /// Storage.
    pub store: Arc<dyn DeskStorage>,
    /// The signer (for `Open` and `Release`).
    pub signer: SignerClient,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// The front end's public base URL (for links in mails), without a trailing slash.
    pub public_url: String,
    /// The support desk's address.
    pub support_address: String,
    /// Wakes the outbox worker.
    pub wake: Arc<tokio::sync::Notify>,
    /// Its rate limits.
    pub limits: DeskLimits,
}

impl Desk {
    pub(crate) fn now(&self) -> i64 {
        self.clock.wall_ms()
    }

    /// Mails a fixed text to a case's requester, if there is one and they are under the
    /// per-recipient limit.
    pub async fn notify(&self, case: &Case, mail: CaseMail) {
        let Some(to) = &case.requester_email else {
            return;
        };
        let now = self.now();
        let limits = &self.limits;
        match self
            .store
            .mails_to_since(to, now - limits.mail_window_ms)
            .await
        {
            Ok(n) if n < limits.mails_per_recipient => {}
            Ok(_) => {
                tracing::info!("case {}: mail to requester rate-limited", case.id);
                return;
            }
            Err(e) => {
                tracing::error!("{e}");
                return;
            }
        }
        let (subject, body) = mail.render(case.id, &self.support_address);
        match self.store.queue_mail(to, &subject, &body, now).await {
            Ok(()) => self.wake.notify_one(),
            Err(e) => tracing::error!("{e}"),
        }
    }

    fn entry(&self, actor: &str, action: &str, case: Option<i64>, detail: &str) -> AuditEntry {
        AuditEntry {
            at: self.now(),
            actor: actor.into(),
            action: action.into(),
            case,
            detail: detail.into(),
        }
    }

    pub(crate) async fn audit(&self, actor: &str, action: &str, case: Option<i64>, detail: &str) {
        if let Err(e) = self
            .store
            .audit(self.entry(actor, action, case, detail))
            .await
        {
            tracing::error!("audit: {e}");
        }
    }

    /// A request from the Tech Support Form (`source` is the client's IP).
    pub async fn support_request(
        &self,
        r: &SupportRequest,
        source: &str,
    ) -> Result<i64, DeskError> {
        let c = check(r, false)?;
        let now = self.now();
        let limits = &self.limits;
        let recent = self
            .store
            .cases_from_since(source, now - limits.request_window_ms)
            .await?;
        if recent >= limits.requests_per_source {
            return Err(DeskError::Limited);
        }
        let id = self.create(c, "form", Some(source), "requester").await?;
        if let Some(case) = self.store.case(id).await? {
            self.notify(&case, CaseMail::Opened).await;
        }
        Ok(id)
    }

    /// A case opened by staff.
    pub async fn open_by_staff(&self, staff: &Staff, r: &SupportRequest) -> Result<i64, DeskError> {
        let c = check(r, true)?;
        let id = self.create(c, "staff", None, &staff.username).await?;
        if let Some(case) = self.store.case(id).await? {
            self.notify(&case, CaseMail::Opened).await;
        }
        Ok(id)
    }

    async fn create(
        &self,
        c: Checked,
        source: &str,
        ip: Option<&str>,
        actor: &str,
    ) -> Result<i64, DeskError> {
        // A challenge counts only if the signer says it is genuine: its own serial then
        // replaces whatever was typed.
        let (mut serial, mut from_challenge, mut nonce) = (c.serial.clone(), false, None);
        if let Some(ch) = &c.challenge {
            match self
                .signer
                .call(&Request::Open {
                    challenge: ch.clone(),
                })
                .await
            {
                Ok(Response::Opened(o)) => {
                    if c.kind == Kind::PasswordReset && !o.factory_default {
                        // Codes for this camera go only to its owner's address: no case
                        // could release one; say what is left instead.
                        return Err(DeskError::OwnAddress {
                            model: model_of_serial(&o.serial),
                        });
                    }
                    serial = Some(o.serial);
                    from_challenge = true;
                    nonce = Some(o.nonce);
                }
                Ok(Response::Error { .. }) => {
                    return Err(invalid(
                        "challenge",
                        "is not from one of our cameras, or was changed: make a new QR code",
                    ));
                }
                Ok(_) | Err(_) => return Err(DeskError::Unavailable),
            }
        }
        let model = c.model.clone().or_else(|| {
            serial
                .as_deref()
                .and_then(model_of_serial)
                .map(String::from)
        });
        let opened_detail = format!(
            "{} case opened ({source}){}",
            c.kind.name(),
            if from_challenge {
                ", with a genuine challenge"
            } else {
                ""
            }
        );
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let new = NewCase {
            kind: c.kind,
            source: source.into(),
            reason: c.reason,
            serial,
            model,
            challenge: c.challenge.clone().zip(nonce),
            requester_name: opt(&c.name),
            requester_email: opt(&c.email),
            requester_ip: ip.map(String::from),
            order_number: c.order_number.clone(),
            description: opt(&c.description),
            actor: actor.into(),
            opened_detail,
            merged_detail: format!("the same challenge again ({source}): details added"),
            now: self.now(),
        };
        Ok(self.store.create_case(new).await?)
    }

    /// A case with its history, orders and warranty.
    pub async fn view(&self, id: i64) -> Result<CaseView, DeskError> {
        let case = self.store.case(id).await?.ok_or(DeskError::NotFound)?;
        let history = self.store.history(id).await?;
        let months = case
            .model
            .as_deref()
            .and_then(camkey_proto::catalogue::model)
            .map(|m| m.warranty_months);
        let now = self.now();
        let orders = match &case.serial {
            Some(s) => self.store.orders_of(s).await?,
            None => Vec::new(),
        }
        .into_iter()
        .map(|order| OrderView {
            warranty: months.and_then(|m| warranty(&order.purchase_date, m, now)),
            order,
        })
        .collect::<Vec<_>>();
        let in_warranty = orders
            .iter()
            .any(|o| o.warranty.as_ref().is_some_and(|w| w.active));
        let fee_applies = match (case.kind, case.reason) {
            (Kind::FactoryService, Some(Reason::HardwareFault)) => Some(!in_warranty),
            (Kind::FactoryService, _) => Some(true),
            _ => None,
        };
        Ok(CaseView {
            guide: case.model.as_ref().map(|m| format!("/guides/{m}")),
            case,
            history,
            orders,
            fee_applies,
        })
    }

    pub(crate) async fn existing(&self, id: i64) -> Result<Case, DeskError> {
        self.store.case(id).await?.ok_or(DeskError::NotFound)
    }

    pub(crate) async fn set(&self, id: i64, state: State) -> Result<(), DeskError> {
        Ok(self.store.set_case_state(id, state, self.now()).await?)
    }

    /// An internal note (never mailed).
    pub async fn note(&self, staff: &Staff, id: i64, text: &str) -> Result<(), DeskError> {
        let text = check_text("note", text, true)?;
        self.existing(id).await?;
        self.store
            .audit(self.entry(&staff.username, "note", Some(id), &text))
            .await?;
        Ok(())
    }

    /// Moves a case to another state (staff may move to the working states; releasing a
    /// code, proposing and approving a fee have their own calls). Reopening a closed case
    /// is for admins.
    pub async fn set_state(&self, staff: &Staff, id: i64, state: State) -> Result<(), DeskError> {
        let case = self.existing(id).await?;
        if !matches!(
            state,
            State::InProgress | State::WaitingForCustomer | State::Closed
        ) {
            return Err(invalid(
                "state",
                "staff may set in_progress, waiting_for_customer or closed",
            ));
        }
        if case.state == State::Closed && staff.role != Role::Admin {
            return Err(DeskError::Forbidden);
        }
        self.set(id, state).await?;
        self.audit(
            &staff.username,
            "state",
            Some(id),
            &format!("{} -> {}", case.state.name(), state.name()),
        )
        .await;
        match state {
            State::WaitingForCustomer => self.notify(&case, CaseMail::NeedInformation).await,
            State::Closed => self.notify(&case, CaseMail::Closed).await,
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fees::{money, parse_money};
    use crate::requests::SupportRequest;
    use camkey_proto::clock::ManualClock;
    use camkey_store::ResetStore;

    const NOW: i64 = 1_790_000_000_000; // 2026-09-21

    async fn desk(dir: &std::path::Path) -> Desk {
        let store = Arc::new(
            camkey_store::SqliteStore::open(&dir.join("v.db"))
                .await
                .unwrap(),
        );
        Desk {
            store,
            signer: SignerClient::new(dir.join("no-signer.sock")),
            clock: Arc::new(ManualClock::new(NOW)),
            public_url: "http://vendor.example".into(),
            support_address: "support@vendor.example".into(),
            wake: Arc::new(tokio::sync::Notify::new()),
            limits: DeskLimits::default(),
        }
    }

    fn agent(role: Role) -> Staff {
        Staff {
            username: "ann".into(),
            role,
            csrf: "x".into(),
        }
    }

    fn form() -> SupportRequest {
        SupportRequest {
            name: "Ann Owner".into(),
            email: "ann@example.com".into(),
            order_number: "A-1".into(),
            serial: "ipc4k15-000001".into(),
            kind: "factory_service".into(),
            reason: "hardware_fault".into(),
            description: "the image is dark".into(),
            ..SupportRequest::default()
        }
    }

    async fn mails(d: &Desk, to: &str) -> i64 {
        d.store.mails_to_since(to, 0).await.unwrap()
    }

    #[tokio::test]
    async fn bad_requests_store_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let d = desk(dir.path()).await;
        type Change = fn(&mut SupportRequest);
        let bad: Vec<(Change, &str)> = vec![
            (|r| r.email = "nope".into(), "email"),
            (|r| r.name = String::new(), "name"),
            (|r| r.name = "x".repeat(201), "name"),
            (|r| r.kind = "refund".into(), "kind"),
            (|r| r.order_number = "A 1".into(), "order_number"),
            (|r| r.serial = "bad serial".into(), "serial"),
            (|r| r.model = "IPC0".into(), "model"),
            (|r| r.reason = "boredom".into(), "reason"),
            (|r| r.challenge = "CK1NOPE".into(), "challenge"),
            (|r| r.description = "a\u{7}b".into(), "description"),
        ];
        for (change, field) in bad {
            let mut r = form();
            change(&mut r);
            let e = d.support_request(&r, "10.0.0.1").await.unwrap_err();
            assert!(e.to_string().starts_with(field), "{field}: {e}");
        }
        let mut r = form();
        r.description = "z".repeat(MAX_TEXT + 1);
        assert!(matches!(
            d.support_request(&r, "10.0.0.1").await,
            Err(DeskError::TooLarge("description"))
        ));
        assert!(d.store.cases(None, None, 10).await.unwrap().is_empty());
        assert_eq!(mails(&d, "ann@example.com").await, 0);
    }

    #[tokio::test]
    async fn a_form_request_opens_a_case_with_history_and_mail() {
        let dir = tempfile::tempdir().unwrap();
        let d = desk(dir.path()).await;
        let id = d.support_request(&form(), "10.0.0.1").await.unwrap();
        let v = d.view(id).await.unwrap();
        assert_eq!(
            (v.case.kind, v.case.state, v.case.reason),
            (
                Kind::FactoryService,
                State::New,
                Some(Reason::HardwareFault)
            )
        );
        assert_eq!(v.case.serial.as_deref(), Some("IPC4K15-000001"));
        assert!(!v.case.serial_from_challenge && !v.case.has_challenge);
        assert_eq!(v.case.model.as_deref(), Some("IPC4K15"));
        assert_eq!(v.guide.as_deref(), Some("/guides/IPC4K15"));
        assert_eq!(v.history[0].action, "opened");
        assert_eq!(mails(&d, "ann@example.com").await, 1);
        // No order on file: a hardware fault cannot be shown to be under warranty.
        assert_eq!(v.fee_applies, Some(true));
        // The requester's own mail is limited per hour; the source's requests too.
        for _ in 0..d.limits.requests_per_source - 1 {
            d.support_request(&form(), "10.0.0.1").await.unwrap();
        }
        assert!(matches!(
            d.support_request(&form(), "10.0.0.1").await,
            Err(DeskError::Limited)
        ));
        assert_eq!(
            mails(&d, "ann@example.com").await,
            d.limits.mails_per_recipient
        );
    }

    #[tokio::test]
    async fn warranty_decides_the_fee_of_a_hardware_fault() {
        let dir = tempfile::tempdir().unwrap();
        let d = desk(dir.path()).await;
        let h = camkey_proto::orders::HEADER;
        let csv = format!(
            "{h}\nA-1,IPC4K15-000001,Ann,ann@example.com,2026-01-15\nA-2,IPC4K15-000002,Bo,bo@example.com,2020-01-15\n"
        );
        crate::orders::import(&*d.store, csv.as_bytes())
            .await
            .unwrap();
        let fresh = d.support_request(&form(), "10.0.0.1").await.unwrap();
        let v = d.view(fresh).await.unwrap();
        assert_eq!(v.orders[0].warranty.as_ref().unwrap().until, "2029-01-15");
        assert_eq!(v.fee_applies, Some(false));
        let staff = agent(Role::Agent);
        assert!(matches!(
            d.propose_fee(&staff, fresh, 4900).await,
            Err(DeskError::Conflict("under_warranty", _))
        ));
        let mut old = form();
        old.serial = "IPC4K15-000002".into();
        let old = d.support_request(&old, "10.0.0.2").await.unwrap();
        assert_eq!(d.view(old).await.unwrap().fee_applies, Some(true));
        let mut lost = form();
        lost.reason = "lost_password".into();
        let lost = d.support_request(&lost, "10.0.0.3").await.unwrap();
        assert_eq!(d.view(lost).await.unwrap().fee_applies, Some(true));
    }

    #[tokio::test]
    async fn fee_link_shows_then_a_post_approves() {
        let dir = tempfile::tempdir().unwrap();
        let d = desk(dir.path()).await;
        let mut r = form();
        r.reason = "lost_password".into();
        r.email = "owner@example.com".into();
        let id = d.support_request(&r, "10.0.0.1").await.unwrap();
        let staff = agent(Role::Agent);
        assert!(d.propose_fee(&staff, id, 0).await.is_err());
        d.propose_fee(&staff, id, 4900).await.unwrap();
        let raw = camkey_store::SqliteStore::open(&dir.path().join("v.db"))
            .await
            .unwrap();
        let body: String = sqlx::query_scalar(
            "SELECT body FROM outbox WHERE recipient = 'owner@example.com' ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(raw.pool())
        .await
        .unwrap();
        let token = body
            .split("/fees/")
            .nth(1)
            .unwrap()
            .chars()
            .take(64)
            .collect::<String>();
        assert!(
            body.contains("http://vendor.example/guides/IPC4K15"),
            "{body}"
        );
        // Looking changes nothing.
        let c = d.fee_case(&token).await.unwrap().unwrap();
        assert_eq!((c.state, c.fee_cents), (State::FeeProposed, Some(4900)));
        assert!(d.fee_case(&"0".repeat(64)).await.unwrap().is_none());
        assert!(matches!(
            d.approve_fee(&"0".repeat(64)).await,
            Err(DeskError::NotFound)
        ));
        let c = d.approve_fee(&token).await.unwrap();
        assert_eq!(c.state, State::FeeApproved);
        let h = d.store.history(id).await.unwrap();
        assert!(
            h.iter()
                .any(|e| e.actor == "owner" && e.action == "fee_approved")
        );
        assert!(matches!(
            d.propose_fee(&staff, id, 100).await,
            Err(DeskError::Conflict("state", _))
        ));
    }

    #[tokio::test]
    async fn notes_states_and_roles() {
        let dir = tempfile::tempdir().unwrap();
        let d = desk(dir.path()).await;
        let id = d.support_request(&form(), "10.0.0.1").await.unwrap();
        let (a, admin) = (agent(Role::Agent), agent(Role::Admin));
        assert!(matches!(
            d.note(&a, id, &"n".repeat(MAX_TEXT + 1)).await,
            Err(DeskError::TooLarge(_))
        ));
        assert!(d.note(&a, id, "   ").await.is_err());
        assert!(matches!(
            d.note(&a, 999, "x").await,
            Err(DeskError::NotFound)
        ));
        d.note(&a, id, "called the owner").await.unwrap();
        assert!(d.set_state(&a, id, State::CodeReleased).await.is_err());
        d.set_state(&a, id, State::Closed).await.unwrap();
        assert!(matches!(
            d.set_state(&a, id, State::InProgress).await,
            Err(DeskError::Forbidden)
        ));
        d.set_state(&admin, id, State::InProgress).await.unwrap();
        let actions: Vec<String> = d
            .store
            .history(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(actions, ["opened", "note", "state", "state"]);
        // A code is released only for a password-reset case with a challenge.
        assert!(matches!(
            d.release_code(&a, id, "A-1", "").await,
            Err(DeskError::Conflict("wrong_kind", _))
        ));
        let mut pr = form();
        pr.kind = "password_reset".into();
        pr.reason = String::new();
        let pr = d.support_request(&pr, "10.0.0.9").await.unwrap();
        assert!(matches!(
            d.release_code(&a, pr, "A-1", "").await,
            Err(DeskError::Conflict("no_challenge", _))
        ));
        assert!(matches!(
            d.release_code(&a, pr, "A 1; DROP", "").await,
            Err(DeskError::Invalid { .. })
        ));
    }

    #[tokio::test]
    async fn one_case_per_factory_challenge() {
        let dir = tempfile::tempdir().unwrap();
        let d = desk(dir.path()).await;
        let resets = camkey_store::SqliteStore::open(&dir.path().join("v.db"))
            .await
            .unwrap();
        let r = camkey_store::ResetCase {
            challenge: "CK1...".into(),
            nonce: "00ff".into(),
            serial: "IPC4K15D-000003".into(),
            channel: "web".into(),
            email: None,
            now: NOW,
        };
        let (a, new_a) = resets.open_reset_case(r.clone()).await.unwrap();
        let (b, new_b) = resets
            .open_reset_case(camkey_store::ResetCase {
                channel: "mail".into(),
                email: Some("owner@example.com".into()),
                ..r.clone()
            })
            .await
            .unwrap();
        assert_eq!((a, new_a, new_b), (b, true, false));
        let c = d.store.case(a).await.unwrap().unwrap();
        assert_eq!(c.requester_email.as_deref(), Some("owner@example.com"));
        assert!(c.serial_from_challenge && c.has_challenge);
        assert_eq!(c.model.as_deref(), Some("IPC4K15D"));
        let (other, _) = resets
            .open_reset_case(camkey_store::ResetCase {
                nonce: "0100".into(),
                ..r
            })
            .await
            .unwrap();
        assert_ne!(other, a);
        assert_eq!(parse_money("49"), Some(4900));
        assert_eq!(parse_money("49.5"), Some(4950));
        assert_eq!(parse_money("49.05 EUR"), Some(4905));
        assert_eq!(parse_money("-1"), None);
        assert_eq!(parse_money("1.234"), None);
        assert_eq!(money(4905), "49.05 EUR");
    }
}
