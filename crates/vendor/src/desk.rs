//! The support desk (docs/design.md §1 steps 1 and 4): cases, their history and notes, the mails
//! to requesters, releasing a security code through the signer, and the factory-service
//! fee an owner approves.
//!
//! A case is opened by a reset request for a camera with the factory recovery address
//! (one case per challenge), by the Tech Support Form, or by staff. Every change is one
//! row in the audit log (who, when, what), which is also the case's history. Requesters
//! get fixed texts only ([`crate::texts::CaseMail`]), at most [`MAILS_PER_RECIPIENT`] an
//! hour each, through the front end's durable outbox.
//!
//! Releasing a code never passes a code through this process (S1): the desk sends the
//! case's challenge and the order number the agent names to the signer, which checks the
//! serial **inside** the challenge against its own copy of the orders and mails the code
//! to that order's customer (S5).
//!
//! Only a camera still on the factory recovery address gets a code through the desk
//! (docs/design.md §1): a password-reset request whose challenge is sealed to an address the owner
//! set opens no case and is told what is left ([`crate::texts::own_address_next_step`]:
//! the reset button, or factory service on models without one); the signer refuses such
//! a release too ([`ErrorCode::OwnerAddress`]).

use crate::orders::{Order, Warranty, warranty};
use crate::staff::{Role, Staff, random_token, token_hash};
use crate::store::{SqliteStore, StoreError, VendorStore};
use crate::texts::CaseMail;
use camkey_proto::clock::Clock;
use camkey_signer::SignerClient;
use camkey_signer::protocol::{ErrorCode, Request, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Mails one requester may get from the desk in an hour.
pub const MAILS_PER_RECIPIENT: i64 = 5;
/// Support requests one source (IP) may file in 10 minutes.
pub const REQUESTS_PER_SOURCE: i64 = 5;
/// Longest note, description or staff comment (characters).
pub const MAX_TEXT: usize = 4000;
/// Largest fee (cents).
pub const MAX_FEE_CENTS: i64 = 100_000;
/// The fee of an out-of-warranty factory service, suggested to staff (cents).
pub const SERVICE_FEE_CENTS: i64 = 4_900;

/// What a case is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A camera with the factory recovery address: a code released to the order's owner.
    PasswordReset,
    /// The camera goes back to the vendor.
    FactoryService,
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Not looked at yet.
    New,
    /// An agent is on it.
    InProgress,
    /// Waiting for the requester (an order number, the camera, ...).
    WaitingForCustomer,
    /// A fee was proposed; the owner has not approved it yet.
    FeeProposed,
    /// The owner approved the fee.
    FeeApproved,
    /// A security code was released to the order's address.
    CodeReleased,
    /// Done.
    Closed,
}

macro_rules! names {
    ($t:ty { $($v:ident = $n:literal),* $(,)? }) => {
        impl $t {
            /// The stored name.
            pub fn name(self) -> &'static str {
                match self { $(Self::$v => $n),* }
            }
            /// Parses a stored name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($n => Some(Self::$v),)* _ => None }
            }
            /// Every value.
            pub const ALL: &'static [Self] = &[$(Self::$v),*];
        }
    };
}

names!(Kind {
    PasswordReset = "password_reset",
    FactoryService = "factory_service",
});
names!(State {
    New = "new",
    InProgress = "in_progress",
    WaitingForCustomer = "waiting_for_customer",
    FeeProposed = "fee_proposed",
    FeeApproved = "fee_approved",
    CodeReleased = "code_released",
    Closed = "closed",
});

/// Why a factory service is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A lost password on a camera with no other way back: an out-of-warranty service.
    LostPassword,
    /// A hardware fault: covered by the warranty.
    HardwareFault,
}

names!(Reason {
    LostPassword = "lost_password",
    HardwareFault = "hardware_fault",
});

/// One case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Case {
    /// Case number.
    pub id: i64,
    /// Kind.
    pub kind: Kind,
    /// State.
    pub state: State,
    /// How it was opened: `web`, `mail`, `form` or `staff`.
    pub source: String,
    /// Factory service: why.
    pub reason: Option<Reason>,
    /// The challenge's own serial, or the serial as typed.
    pub serial: Option<String>,
    /// Whether `serial` comes from a genuine challenge (else it was typed, unverified).
    pub serial_from_challenge: bool,
    /// Model.
    pub model: Option<String>,
    /// Whether the case holds a challenge (a code can be released).
    pub has_challenge: bool,
    /// Requester's name.
    pub requester_name: Option<String>,
    /// Requester's address (for the desk's mails).
    pub requester_email: Option<String>,
    /// The order number the requester gave (unverified).
    pub order_number: Option<String>,
    /// The requester's description.
    pub description: Option<String>,
    /// Proposed or approved fee, cents.
    pub fee_cents: Option<i64>,
    /// Unix ms.
    pub created: i64,
    /// Unix ms.
    pub updated: i64,
    #[serde(skip)]
    challenge: Option<String>,
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Unix ms.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Details.
    pub detail: String,
}

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
    #[error("{}", crate::texts::own_address_next_step(*model))]
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

impl From<sqlx::Error> for DeskError {
    fn from(e: sqlx::Error) -> Self {
        DeskError::Store(e.into())
    }
}

/// A request from the Tech Support Form (docs/design.md §4), or a case staff opens.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportRequest {
    /// Requester's name.
    #[serde(default)]
    pub name: String,
    /// Requester's address.
    #[serde(default)]
    pub email: String,
    /// Order number.
    #[serde(default)]
    pub order_number: String,
    /// Serial as typed.
    #[serde(default)]
    pub serial: String,
    /// Model.
    #[serde(default)]
    pub model: String,
    /// `password_reset` or `factory_service`.
    #[serde(default)]
    pub kind: String,
    /// Factory service: `lost_password` (default) or `hardware_fault`.
    #[serde(default)]
    pub reason: String,
    /// What happened.
    #[serde(default)]
    pub description: String,
    /// The camera's challenge (optional).
    #[serde(default)]
    pub challenge: String,
}

fn invalid(field: &'static str, message: &'static str) -> DeskError {
    DeskError::Invalid { field, message }
}

/// A free text: at most [`MAX_TEXT`] characters, no control characters but new lines.
pub fn check_text(field: &'static str, s: &str, required: bool) -> Result<String, DeskError> {
    let s = s.trim();
    if s.chars().count() > MAX_TEXT {
        return Err(DeskError::TooLarge(field));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(invalid(field, "must not hold control characters"));
    }
    if required && s.is_empty() {
        return Err(invalid(field, "is required"));
    }
    Ok(s.replace("\r\n", "\n"))
}

/// A checked support request.
#[derive(Debug, Clone)]
struct Checked {
    name: String,
    email: String,
    order_number: Option<String>,
    serial: Option<String>,
    model: Option<String>,
    kind: Kind,
    reason: Option<Reason>,
    description: String,
    challenge: Option<String>,
}

fn check(r: &SupportRequest, staff: bool) -> Result<Checked, DeskError> {
    let name = r.name.trim();
    if (!staff && name.is_empty())
        || name.chars().count() > 200
        || name.chars().any(char::is_control)
    {
        return Err(invalid("name", "is 1 to 200 characters"));
    }
    let email = r.email.trim();
    let optional = staff && email.is_empty();
    if !optional && !camkey_proto::policy::check_email(email) {
        return Err(invalid("email", "is not an e-mail address"));
    }
    let order = r.order_number.trim();
    if !order.is_empty() && !camkey_proto::orders::valid_order_number(order) {
        return Err(invalid(
            "order_number",
            "is 1 to 40 letters, digits, '-' or '_'",
        ));
    }
    let serial = r.serial.trim().to_ascii_uppercase();
    if !serial.is_empty() && camkey_proto::factory::validate_serial(&serial).is_err() {
        return Err(invalid(
            "serial",
            "is not a camera serial (as on the label)",
        ));
    }
    let model = r.model.trim().to_ascii_uppercase();
    if !model.is_empty() && camkey_proto::catalogue::model(&model).is_none() {
        return Err(invalid("model", "is not one of our models"));
    }
    let kind = Kind::parse(r.kind.trim())
        .ok_or(invalid("kind", "is password_reset or factory_service"))?;
    let reason = match (kind, r.reason.trim()) {
        (Kind::PasswordReset, "") => None,
        (Kind::PasswordReset, _) => {
            return Err(invalid("reason", "is for factory service requests only"));
        }
        (Kind::FactoryService, "") => Some(Reason::LostPassword),
        (Kind::FactoryService, s) => {
            Some(Reason::parse(s).ok_or(invalid("reason", "is lost_password or hardware_fault"))?)
        }
    };
    let description = check_text("description", &r.description, false)?;
    let challenge = r.challenge.trim();
    if challenge.len() > 2048 {
        return Err(invalid("challenge", "is longer than 2048 characters"));
    }
    if !challenge.is_empty() && camkey_proto::challenge::parse(challenge).is_err() {
        return Err(invalid(
            "challenge",
            "could not be read: copy the whole text under the QR code (it starts with CK1)",
        ));
    }
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok(Checked {
        name: name.into(),
        email: email.into(),
        order_number: opt(order),
        serial: opt(&serial),
        model: opt(&model),
        kind,
        reason,
        description,
        challenge: opt(challenge),
    })
}

/// The model of a serial (`IPC4K15-...`), if it is a catalogue model.
pub fn model_of_serial(serial: &str) -> Option<&'static str> {
    let prefix = serial.split('-').next()?;
    camkey_proto::catalogue::model(prefix).map(|m| m.name)
}

/// What the reset path hands the desk when a camera has the factory recovery address.
#[derive(Debug, Clone)]
pub struct ResetCase {
    /// The challenge text.
    pub challenge: String,
    /// Its nonce (hex), from the signer: one case per challenge.
    pub nonce: String,
    /// Its serial, from the signer (genuine).
    pub serial: String,
    /// `web` or `mail`.
    pub channel: String,
    /// The requester's address (mail only).
    pub email: Option<String>,
    /// Unix ms.
    pub now: i64,
}

type CaseRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    bool,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
    i64,
);

macro_rules! case_columns {
    () => {
        "id, kind, state, source, reason, serial, serial_from_challenge, model, challenge, requester_name, requester_email, order_number, description, fee_cents, created, updated"
    };
}

fn case_of(r: CaseRow) -> Case {
    let (
        id,
        kind,
        state,
        source,
        reason,
        serial,
        serial_from_challenge,
        model,
        challenge,
        requester_name,
        requester_email,
        order_number,
        description,
        fee_cents,
        created,
        updated,
    ) = r;
    Case {
        id,
        kind: Kind::parse(&kind).unwrap_or(Kind::PasswordReset),
        state: State::parse(&state).unwrap_or(State::New),
        source,
        reason: reason.as_deref().and_then(Reason::parse),
        serial,
        serial_from_challenge,
        model,
        has_challenge: challenge.is_some(),
        challenge,
        requester_name,
        requester_email,
        order_number,
        description,
        fee_cents,
        created,
        updated,
    }
}

impl SqliteStore {
    /// Opens (or finds) the password-reset case of a factory-address challenge.
    pub async fn open_reset_case(&self, r: &ResetCase) -> Result<(i64, bool), StoreError> {
        let mut tx = self.pool().begin().await?;
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM cases WHERE challenge_nonce = ? AND kind = 'password_reset' ORDER BY id LIMIT 1",
        )
        .bind(&r.nonce)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = found {
            if let Some(email) = &r.email {
                sqlx::query(
                    "UPDATE cases SET requester_email = COALESCE(requester_email, ?) WHERE id = ?",
                )
                .bind(email)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            return Ok((id, false));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO cases (kind, state, source, serial, serial_from_challenge, model, challenge, challenge_nonce, requester_email, created, updated) VALUES ('password_reset', 'new', ?, ?, 1, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&r.channel)
        .bind(&r.serial)
        .bind(model_of_serial(&r.serial))
        .bind(&r.challenge)
        .bind(&r.nonce)
        .bind(&r.email)
        .bind(r.now)
        .bind(r.now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO audit (at, actor, action, case_id, detail) VALUES (?, 'system', 'opened', ?, ?)")
            .bind(r.now)
            .bind(id)
            .bind(format!(
                "password reset for a camera with the factory recovery address, by a reset request ({})",
                r.channel
            ))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((id, true))
    }

    /// One case.
    pub async fn case(&self, id: i64) -> Result<Option<Case>, StoreError> {
        let row: Option<CaseRow> = sqlx::query_as(concat!(
            "SELECT ",
            case_columns!(),
            " FROM cases WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(case_of))
    }

    /// The queue: newest first, filtered.
    pub async fn cases(
        &self,
        state: Option<State>,
        kind: Option<Kind>,
        limit: i64,
    ) -> Result<Vec<Case>, StoreError> {
        let rows: Vec<CaseRow> = sqlx::query_as(concat!(
            "SELECT ",
            case_columns!(),
            " FROM cases WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR kind = ?2) ORDER BY id DESC LIMIT ?3"
        ))
        .bind(state.map(State::name))
        .bind(kind.map(Kind::name))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(case_of).collect())
    }

    /// A case's history.
    pub async fn history(&self, id: i64) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT at, actor, action, detail FROM audit WHERE case_id = ? ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(at, actor, action, detail)| Event {
                at,
                actor,
                action,
                detail,
            })
            .collect())
    }
}

/// The desk.
#[derive(Clone)]
pub struct Desk {
    /// Storage.
    pub store: Arc<SqliteStore>,
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
}

impl Desk {
    fn now(&self) -> i64 {
        self.clock.wall_ms()
    }

    /// Mails a fixed text to a case's requester, if there is one and they are under the
    /// per-recipient limit.
    pub async fn notify(&self, case: &Case, mail: CaseMail) {
        let Some(to) = &case.requester_email else {
            return;
        };
        let now = self.now();
        match self.store.mails_to_since(to, now - 3_600_000).await {
            Ok(n) if n < MAILS_PER_RECIPIENT => {}
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

    async fn audit(&self, actor: &str, action: &str, case: Option<i64>, detail: &str) {
        if let Err(e) = self
            .store
            .audit(self.now(), actor, action, case, detail)
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
        let recent: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM cases WHERE requester_ip = ? AND created >= ?",
        )
        .bind(source)
        .bind(now - 600_000)
        .fetch_one(self.store.pool())
        .await?;
        if recent >= REQUESTS_PER_SOURCE {
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
        let now = self.now();
        let mut tx = self.store.pool().begin().await?;
        // One case per challenge: a form for a challenge whose reset request already
        // opened a case fills in what that case lacks (never overwrites) and is that case.
        if let (Kind::PasswordReset, Some(nonce)) = (c.kind, nonce.as_deref()) {
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM cases WHERE challenge_nonce = ? AND kind = 'password_reset' AND state != 'closed' ORDER BY id LIMIT 1",
            )
            .bind(nonce)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(id) = found {
                sqlx::query("UPDATE cases SET requester_name = COALESCE(requester_name, ?), requester_email = COALESCE(requester_email, ?), order_number = COALESCE(order_number, ?), description = COALESCE(description, ?), updated = ? WHERE id = ?")
                    .bind((!c.name.is_empty()).then_some(&c.name))
                    .bind((!c.email.is_empty()).then_some(&c.email))
                    .bind(&c.order_number)
                    .bind((!c.description.is_empty()).then_some(&c.description))
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO audit (at, actor, action, case_id, detail) VALUES (?, ?, 'details', ?, ?)")
                    .bind(now)
                    .bind(actor)
                    .bind(id)
                    .bind(format!("the same challenge again ({source}): details added"))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(id);
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO cases (kind, state, source, reason, serial, serial_from_challenge, model, challenge, challenge_nonce, requester_name, requester_email, requester_ip, order_number, description, created, updated) VALUES (?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(c.kind.name())
        .bind(source)
        .bind(c.reason.map(Reason::name))
        .bind(&serial)
        .bind(from_challenge)
        .bind(&model)
        .bind(if from_challenge { c.challenge.clone() } else { None })
        .bind(nonce)
        .bind((!c.name.is_empty()).then_some(&c.name))
        .bind((!c.email.is_empty()).then_some(&c.email))
        .bind(ip)
        .bind(&c.order_number)
        .bind((!c.description.is_empty()).then_some(&c.description))
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO audit (at, actor, action, case_id, detail) VALUES (?, ?, 'opened', ?, ?)",
        )
        .bind(now)
        .bind(actor)
        .bind(id)
        .bind(format!(
            "{} case opened ({source}){}",
            c.kind.name(),
            if from_challenge {
                ", with a genuine challenge"
            } else {
                ""
            }
        ))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
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

    async fn existing(&self, id: i64) -> Result<Case, DeskError> {
        self.store.case(id).await?.ok_or(DeskError::NotFound)
    }

    async fn set(&self, id: i64, state: State) -> Result<(), DeskError> {
        sqlx::query("UPDATE cases SET state = ?, updated = ? WHERE id = ?")
            .bind(state.name())
            .bind(self.now())
            .bind(id)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// An internal note (never mailed).
    pub async fn note(&self, staff: &Staff, id: i64, text: &str) -> Result<(), DeskError> {
        let text = check_text("note", text, true)?;
        self.existing(id).await?;
        self.store
            .audit(self.now(), &staff.username, "note", Some(id), &text)
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

    /// Releases a security code for a password-reset case to the customer of the order the
    /// agent names, through the signer. The typed serial never counts: the signer matches
    /// the serial inside the case's challenge against its own orders.
    pub async fn release_code(
        &self,
        staff: &Staff,
        id: i64,
        order_number: &str,
        note: &str,
    ) -> Result<String, DeskError> {
        let note = check_text("note", note, false)?;
        let order_number = order_number.trim();
        if !camkey_proto::orders::valid_order_number(order_number) {
            return Err(invalid(
                "order_number",
                "is 1 to 40 letters, digits, '-' or '_'",
            ));
        }
        let case = self.existing(id).await?;
        if case.kind != Kind::PasswordReset {
            return Err(DeskError::Conflict(
                "wrong_kind",
                "codes are released for password-reset cases only",
            ));
        }
        if case.state == State::Closed {
            return Err(DeskError::Conflict("closed", "the case is closed"));
        }
        let Some(challenge) = case.challenge.clone() else {
            return Err(DeskError::Conflict(
                "no_challenge",
                "the case holds no challenge from the camera: ask the owner for the text under the camera's QR code",
            ));
        };
        let req = Request::Release {
            challenge,
            order_number: order_number.into(),
            case: id.to_string(),
            agent: staff.username.clone(),
        };
        let answer = self.signer.call(&req).await;
        let detail = |what: &str| {
            if note.is_empty() {
                format!("order {order_number}: {what}")
            } else {
                format!("order {order_number}: {what}; note: {note}")
            }
        };
        match answer {
            Ok(Response::Released { hint, status, .. }) => {
                self.set(id, State::CodeReleased).await?;
                let what = format!("code released ({status:?}) to the order's address {hint}");
                self.audit(&staff.username, "release_code", Some(id), &detail(&what))
                    .await;
                self.notify(&case, CaseMail::CodeReleased).await;
                Ok(hint)
            }
            Ok(Response::Error { code }) => {
                self.audit(
                    &staff.username,
                    "release_refused",
                    Some(id),
                    &detail(&format!("refused by the signer: {code}")),
                )
                .await;
                if code == ErrorCode::OwnerAddress {
                    let model = case.serial.as_deref().and_then(model_of_serial);
                    self.notify(
                        &case,
                        CaseMail::OwnAddress {
                            model: model.map(String::from),
                        },
                    )
                    .await;
                    return Err(DeskError::OwnAddress { model });
                }
                Err(DeskError::Refused(code))
            }
            Ok(_) | Err(_) => {
                self.audit(
                    &staff.username,
                    "release_failed",
                    Some(id),
                    &detail("the signer could not be reached"),
                )
                .await;
                Err(DeskError::Unavailable)
            }
        }
    }

    /// Proposes a factory-service fee: the owner gets a mail with a link to approve it.
    pub async fn propose_fee(&self, staff: &Staff, id: i64, cents: i64) -> Result<(), DeskError> {
        if !(1..=MAX_FEE_CENTS).contains(&cents) {
            return Err(invalid("fee", "is between 0.01 and 1000.00"));
        }
        let view = self.view(id).await?;
        let case = &view.case;
        if case.kind != Kind::FactoryService {
            return Err(DeskError::Conflict(
                "wrong_kind",
                "fees are for factory-service cases only",
            ));
        }
        if view.fee_applies == Some(false) {
            return Err(DeskError::Conflict(
                "under_warranty",
                "a hardware fault under warranty is serviced free of charge",
            ));
        }
        if matches!(case.state, State::Closed | State::FeeApproved) {
            return Err(DeskError::Conflict(
                "state",
                "the fee can no longer be changed",
            ));
        }
        if case.requester_email.is_none() {
            return Err(DeskError::Conflict(
                "no_requester",
                "the case has no requester address to send the approval link to",
            ));
        }
        let token = random_token();
        sqlx::query("UPDATE cases SET fee_cents = ?, fee_token_hash = ?, state = 'fee_proposed', updated = ? WHERE id = ?")
            .bind(cents)
            .bind(token_hash(&token))
            .bind(self.now())
            .bind(id)
            .execute(self.store.pool())
            .await?;
        self.audit(
            &staff.username,
            "fee_proposed",
            Some(id),
            &format!("fee {}", money(cents)),
        )
        .await;
        let link = format!("{}/fees/{token}", self.public_url);
        let guide = case
            .model
            .as_ref()
            .map(|m| format!("{}/guides/{m}", self.public_url));
        self.notify(
            case,
            CaseMail::FeeProposed {
                fee: money(cents),
                link,
                guide,
            },
        )
        .await;
        Ok(())
    }

    /// The case a fee link names (nothing changes).
    pub async fn fee_case(&self, token: &str) -> Result<Option<Case>, DeskError> {
        if token.len() != 64 {
            return Ok(None);
        }
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM cases WHERE fee_token_hash = ?")
            .bind(token_hash(token))
            .fetch_optional(self.store.pool())
            .await?;
        match id {
            Some(id) => Ok(self.store.case(id).await?),
            None => Ok(None),
        }
    }

    /// The owner approves the fee (a POST from the approval page).
    pub async fn approve_fee(&self, token: &str) -> Result<Case, DeskError> {
        let case = self.fee_case(token).await?.ok_or(DeskError::NotFound)?;
        if case.state == State::FeeApproved {
            return Ok(case);
        }
        if case.state != State::FeeProposed {
            return Err(DeskError::Conflict(
                "state",
                "this fee can no longer be approved",
            ));
        }
        self.set(case.id, State::FeeApproved).await?;
        self.audit(
            "owner",
            "fee_approved",
            Some(case.id),
            &format!(
                "fee {} approved on the approval page",
                money(case.fee_cents.unwrap_or(0))
            ),
        )
        .await;
        self.notify(&case, CaseMail::FeeApproved).await;
        self.existing(case.id).await
    }
}

/// `49.00`.
pub fn money(cents: i64) -> String {
    format!("{}.{:02} EUR", cents / 100, cents % 100)
}

/// Parses `49`, `49.5` or `49.00` into cents.
pub fn parse_money(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches("EUR").trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || whole.len() > 6 || frac.len() > 2 {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cents = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse::<i64>().ok()?,
    };
    Some(whole.parse::<i64>().ok()? * 100 + cents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use camkey_proto::clock::ManualClock;

    const NOW: i64 = 1_790_000_000_000; // 2026-09-21

    async fn desk(dir: &std::path::Path) -> Desk {
        let store = Arc::new(SqliteStore::open(&dir.join("v.db")).await.unwrap());
        Desk {
            store,
            signer: SignerClient::new(dir.join("no-signer.sock")),
            clock: Arc::new(ManualClock::new(NOW)),
            public_url: "http://vendor.example".into(),
            support_address: "support@vendor.example".into(),
            wake: Arc::new(tokio::sync::Notify::new()),
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
        for _ in 0..REQUESTS_PER_SOURCE - 1 {
            d.support_request(&form(), "10.0.0.1").await.unwrap();
        }
        assert!(matches!(
            d.support_request(&form(), "10.0.0.1").await,
            Err(DeskError::Limited)
        ));
        assert_eq!(mails(&d, "ann@example.com").await, MAILS_PER_RECIPIENT);
    }

    #[tokio::test]
    async fn warranty_decides_the_fee_of_a_hardware_fault() {
        let dir = tempfile::tempdir().unwrap();
        let d = desk(dir.path()).await;
        let h = camkey_proto::orders::HEADER;
        let csv = format!(
            "{h}\nA-1,IPC4K15-000001,Ann,ann@example.com,2026-01-15\nA-2,IPC4K15-000002,Bo,bo@example.com,2020-01-15\n"
        );
        crate::orders::import(&d.store, csv.as_bytes())
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
        let body: String = sqlx::query_scalar(
            "SELECT body FROM outbox WHERE recipient = 'owner@example.com' ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(d.store.pool())
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
        let r = ResetCase {
            challenge: "CK1...".into(),
            nonce: "00ff".into(),
            serial: "IPC4K15D-000003".into(),
            channel: "web".into(),
            email: None,
            now: NOW,
        };
        let (a, new_a) = d.store.open_reset_case(&r).await.unwrap();
        let (b, new_b) = d
            .store
            .open_reset_case(&ResetCase {
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
        let (other, _) = d
            .store
            .open_reset_case(&ResetCase {
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
