//! The fixed answers of the reset service (`docs/vendor.md`). Whoever asks — on the web
//! page or by mail — gets one of these texts and nothing else: never their own input back,
//! never where a code went beyond a masked hint.

use camkey_proto::guides::OWN_ADDRESS_DEAD;
use serde::Serialize;

/// What became of a reset request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A code was mailed (or re-sent) to the camera's recovery address.
    CodeSent {
        /// `o***@***`.
        hint: String,
    },
    /// The camera has the factory recovery address: the support desk takes over, in the
    /// case numbered here (none if the desk could not open one).
    FactoryAddress {
        /// The support case.
        case: Option<i64>,
    },
    /// The string could not be read.
    Unreadable,
    /// The string is not from a genuine camera, or was altered.
    NotGenuine,
    /// Too many codes for this camera, or too many requests from here.
    Limit,
    /// The challenge is too old.
    TooOld,
    /// The service cannot issue codes right now.
    Unavailable,
}

impl Outcome {
    /// A short stable name.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::CodeSent { .. } => "code_sent",
            Outcome::FactoryAddress { .. } => "factory_address",
            Outcome::Unreadable => "unreadable",
            Outcome::NotGenuine => "not_genuine",
            Outcome::Limit => "limit",
            Outcome::TooOld => "too_old",
            Outcome::Unavailable => "unavailable",
        }
    }

    /// The fixed text for people. `support` is the support desk's address.
    pub fn message(&self, support: &str) -> String {
        match self {
            Outcome::CodeSent { hint } => format!(
                "A security code is on its way to the camera's recovery address, {hint}. It is valid for 24 hours: type it on the camera's Forgot password page with a new password. If no mail arrives within a few minutes, look in the spam folder; asking again re-sends the same code. {OWN_ADDRESS_DEAD}"
            ),
            Outcome::FactoryAddress { case: Some(case) } => format!(
                "This camera still has its factory recovery address, so no code can be mailed to you directly. Our support desk will check that the camera is yours: we opened support case {case} for it. Have your order number and the camera's serial (on its label) at hand, and fill in the Tech Support Form or write to {support}, naming case {case}. Once the order matches, the code is sent to the address on the order."
            ),
            Outcome::FactoryAddress { case: None } => format!(
                "This camera still has its factory recovery address, so no code can be mailed to you directly. Our support desk will check that the camera is yours: fill in the Tech Support Form with your order number and the camera's serial, or write to {support}. Once the order matches, the code is sent to the address on the order."
            ),
            Outcome::Unreadable => "We could not read that code. Copy the whole text shown under the QR code on the camera's page (it starts with CK1), or open the camera's page and scan the QR code with your phone. Line breaks and spaces do not matter; a missing or changed character does.".into(),
            Outcome::NotGenuine => "This text does not come from one of our cameras, or it was changed on the way. Make a new QR code on the camera's Forgot password page and send that.".into(),
            Outcome::Limit => "Too many codes were asked for this camera (or from here) today. The codes already sent stay valid for 24 hours: look for them in the recovery mailbox, or try again tomorrow.".into(),
            Outcome::TooOld => "This QR code is too old, or the camera has made newer ones since. Open the camera's Forgot password page again and send the QR code it shows now.".into(),
            Outcome::Unavailable => "The reset service cannot issue codes right now. Nothing was sent; please try again in a few minutes.".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_never_carry_more_than_the_hint() {
        let all = [
            Outcome::CodeSent {
                hint: "o***@***".into(),
            },
            Outcome::FactoryAddress { case: Some(7) },
            Outcome::FactoryAddress { case: None },
            Outcome::Unreadable,
            Outcome::NotGenuine,
            Outcome::Limit,
            Outcome::TooOld,
            Outcome::Unavailable,
        ];
        for o in all {
            let m = o.message("support@vendor.example");
            assert!(!m.is_empty() && !m.contains("owner@"), "{m}");
        }
        let m = Outcome::CodeSent {
            hint: "o***@***".into(),
        }
        .message("s@v.example");
        assert!(
            m.contains("reset button") && m.contains("factory service"),
            "{m}"
        );
        let m = Outcome::FactoryAddress { case: Some(7) }.message("s@v.example");
        assert!(m.contains("case 7") && m.contains("order number") && m.contains("serial"));
    }
}
