//! What a requester (the Tech Support Form) or staff ask the desk to open, checked field by
//! field before anything is stored: every refusal names the field and says what is wrong.

use crate::desk::DeskError;
use camkey_store::{Kind, Reason};
use serde::Deserialize;

/// Longest note, description or staff comment (characters).
pub const MAX_TEXT: usize = 4000;

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

pub(crate) fn invalid(field: &'static str, message: &'static str) -> DeskError {
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
pub(crate) struct Checked {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) order_number: Option<String>,
    pub(crate) serial: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) kind: Kind,
    pub(crate) reason: Option<Reason>,
    pub(crate) description: String,
    pub(crate) challenge: Option<String>,
}

pub(crate) fn check(r: &SupportRequest, staff: bool) -> Result<Checked, DeskError> {
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
