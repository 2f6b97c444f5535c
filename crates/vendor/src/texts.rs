//! The fixed answers of the reset service (`docs/vendor.md`). Whoever asks — on the web
//! page or by mail — gets one of these texts and nothing else: never their own input back,
//! never where a code went beyond a masked hint.

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

/// What is left when the owner's own recovery mailbox no longer works, for any model.
pub const OWN_ADDRESS_DEAD: &str = "If that mailbox no longer works, nobody can send the code anywhere else, not even our support desk: on a camera with a reset button, the button brings it back to its factory settings (see the reset guide for your model on our site); a model without one needs factory service, which you can ask for with the Tech Support Form.";

/// What is left to an owner whose camera has a recovery address they set (codes go only
/// there, docs/design.md §1), when that mailbox no longer works: the reset button where the model
/// has one, factory service where it has none. `model` comes from the challenge's serial.
pub fn own_address_next_step(model: Option<&str>) -> String {
    let intro = "This camera has a recovery address its owner set: security codes for it are mailed only there (ask on the reset page), and our support desk cannot send one to any other address.";
    match model.and_then(camkey_proto::catalogue::model) {
        Some(m) if m.reset_button.present => format!(
            "{intro} If that mailbox no longer works, what is left is the camera's reset button, {}: held {} seconds while the camera runs, it brings the camera back to its factory settings, ready to set up again. The reset guide for the {} on our site shows each step.",
            m.reset_button.location, m.reset_hold_secs, m.name
        ),
        Some(m) => format!(
            "{intro} If that mailbox no longer works, what is left is factory service: the {} has no reset button you can reach. Choose \"Factory service\" on the Tech Support Form; we reset the camera and send it back ready to set up again.",
            m.name
        ),
        None => format!("{intro} {OWN_ADDRESS_DEAD}"),
    }
}

/// The desk's mails to a requester: fixed texts, the case number and our own links only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseMail {
    /// A case was opened.
    Opened,
    /// The desk needs more from the requester.
    NeedInformation,
    /// A code went to the address on the order.
    CodeReleased,
    /// A factory-service fee waits for approval at `link`.
    FeeProposed {
        /// `49.00 EUR`.
        fee: String,
        /// The approval page.
        link: String,
        /// The model's reset guide.
        guide: Option<String>,
    },
    /// The fee was approved.
    FeeApproved,
    /// The case was closed.
    Closed,
    /// No code can be released: the camera has a recovery address its owner set. Carries
    /// the model, for the next step ([`own_address_next_step`]).
    OwnAddress {
        /// The camera's model, from the challenge's serial.
        model: Option<String>,
    },
}

impl CaseMail {
    /// Subject and body for case `case`.
    pub fn render(&self, case: i64, support: &str) -> (String, String) {
        let (subject, text) = match self {
            CaseMail::Opened => (
                "opened",
                format!(
                    "We opened support case {case} for your camera. Keep your order number and the camera's serial (on its label) at hand: our support desk checks that the camera is on your order before anything else happens. We write to you at each step."
                ),
            ),
            CaseMail::NeedInformation => (
                "we need more information",
                format!(
                    "Our support desk needs more information for case {case}: please write to {support}, naming case {case}, with your order number and the camera's serial (on its label)."
                ),
            ),
            CaseMail::CodeReleased => (
                "a security code was sent",
                format!(
                    "For case {case}, our support desk matched the camera to its order and sent a security code to the e-mail address on that order. It is valid for 24 hours: type it on the camera's Forgot password page with a new password."
                ),
            ),
            CaseMail::FeeProposed { fee, link, guide } => (
                "please approve the service fee",
                format!(
                    "The factory service of case {case} is not covered by the warranty; its fee is {fee}. To approve it, open this page and press the button there:\n\n{link}\n\nNothing is charged until you approve.{}",
                    guide
                        .as_ref()
                        .map(|g| format!(
                            " Before you send the camera in, see whether its reset guide helps: {g}"
                        ))
                        .unwrap_or_default()
                ),
            ),
            CaseMail::FeeApproved => (
                "fee approved",
                format!(
                    "Thank you: the service fee of case {case} is approved. We will tell you where to send the camera."
                ),
            ),
            CaseMail::OwnAddress { model } => (
                "no code can be released",
                format!(
                    "For case {case}: {}",
                    own_address_next_step(model.as_deref())
                ),
            ),
            CaseMail::Closed => (
                "closed",
                format!(
                    "Support case {case} is closed. If you still need help, write to {support}, naming case {case}."
                ),
            ),
        };
        (
            format!("Support case {case}: {subject}"),
            format!(
                "{text}\n\nThis mail was sent by the camera support desk. Do not reply with passwords or codes.\n"
            ),
        )
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
        let (subject, body) = CaseMail::FeeProposed {
            fee: "49.00 EUR".into(),
            link: "http://v.example/fees/x".into(),
            guide: Some("http://v.example/guides/IPC4K15".into()),
        }
        .render(9, "s@v.example");
        assert!(
            subject.contains("case 9") && body.contains("/fees/x") && body.contains("/guides/")
        );
    }

    #[test]
    fn an_owner_with_a_dead_own_address_is_told_what_is_left_per_model() {
        let bullet = own_address_next_step(Some("IPC4K15"));
        assert!(
            bullet.contains("reset button") && bullet.contains("compartment on the bottom"),
            "{bullet}"
        );
        assert!(!bullet.contains("factory service"), "{bullet}");
        let no_button = camkey_proto::catalogue::CATALOGUE
            .iter()
            .find(|m| !m.reset_button.present)
            .unwrap();
        let t = own_address_next_step(Some(no_button.name));
        assert!(t.contains("factory service") && !t.contains("held"), "{t}");
        let unknown = own_address_next_step(None);
        assert!(unknown.contains("reset button") && unknown.contains("factory service"));
        let (subject, body) = CaseMail::OwnAddress {
            model: Some("IPC4K15D".into()),
        }
        .render(3, "s@v.example");
        assert!(
            subject.contains("case 3") && body.contains("near the image sensor"),
            "{body}"
        );
    }
}
