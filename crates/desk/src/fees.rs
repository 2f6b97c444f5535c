//! The factory-service fee: staff propose it (never for a hardware fault under warranty),
//! the owner gets a mail with a link, and approves it on the page the link opens. The link's
//! token is 256 random bits; only its hash is stored.

use crate::desk::{Case, Desk, DeskError, Kind, State};
use crate::mails::CaseMail;
use crate::requests::invalid;
use crate::staff::{Staff, random_token, token_hash};

/// Largest fee (cents).
pub const MAX_FEE_CENTS: i64 = 100_000;
/// The fee of an out-of-warranty factory service, suggested to staff (cents).
pub const SERVICE_FEE_CENTS: i64 = 4_900;

impl Desk {
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
        self.store
            .propose_fee(id, cents, &token_hash(&token), self.now())
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
        Ok(self.store.case_by_fee_token(&token_hash(token)).await?)
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
