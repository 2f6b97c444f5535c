//! Releasing a security code for a password-reset case: the desk sends the case's challenge
//! and the order number the agent names to the signer, which checks the serial **inside**
//! the challenge against its own copy of the orders and mails the code to that order's
//! customer (S1, S5). No code ever passes through this process.

use crate::desk::{Desk, DeskError, Kind, State};
use crate::mails::CaseMail;
use crate::requests::{check_text, invalid};
use crate::staff::Staff;
use camkey_proto::catalogue::model_of_serial;
use camkey_signer::protocol::{ErrorCode, Request, Response};

impl Desk {
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
}
