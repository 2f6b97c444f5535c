//! The desk's mails to a requester: fixed texts, the case number and our own links only
//! (`docs/vendor.md`), queued on the durable outbox by [`crate::desk::Desk::notify`].

use camkey_proto::guides::own_address_next_step;

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
    fn mails_carry_the_case_and_our_links_only() {
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
    fn an_owner_with_a_dead_own_address_is_told_the_models_next_step() {
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
