//! The signer's narrow API: one JSON request per line over a local (Unix) socket, one JSON
//! answer per line. Lines are bounded ([`MAX_LINE`]); anything else closes the connection.
//!
//! The API can open a challenge, issue a code for it (mailed by the signer itself to the
//! address sealed inside), and release a code for a support case (mailed to the customer
//! address of the order that holds the challenge's serial). **No answer ever carries a
//! code**: a compromised front end can at worst make the signer mail real owners.
//!
//! A reset request is one round trip: `Issue` answers [`Response::Issued`], or, for a
//! camera that still has the factory recovery address, [`Response::FactoryDefault`] with
//! the challenge's serial and nonce (what `Open` tells of such a challenge, which has no
//! address to hint at), so the front end opens the support case without asking again.

use serde::{Deserialize, Serialize};

/// Longest request or answer line, bytes.
pub const MAX_LINE: usize = 8 * 1024;

/// A request to the signer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Opens a challenge: who it is from, and where codes for it would go (masked).
    Open {
        /// The challenge string (or a URL holding it).
        challenge: String,
    },
    /// Issues a code for a challenge and mails it to the sealed recovery address; for a
    /// factory-default challenge, no code: [`Response::FactoryDefault`].
    Issue {
        /// The challenge string (or a URL holding it).
        challenge: String,
        /// How the request came: `web` or `mail`.
        channel: String,
        /// Who asked (address or IP), for the audit log only.
        requester: String,
    },
    /// Releases a code for a support case: mailed to the customer address of the order
    /// that holds the serial **inside** the challenge, from the signer's own orders.
    Release {
        /// The case's challenge string.
        challenge: String,
        /// The order number the agent matched.
        order_number: String,
        /// The support case.
        case: String,
        /// The agent who released it.
        agent: String,
    },
    /// Liveness.
    Health,
}

/// What a challenge says, without its secrets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Opened {
    /// Camera serial.
    pub serial: String,
    /// Master-key version.
    pub key_version: u32,
    /// The challenge's nonce (hex): its identity.
    pub nonce: String,
    /// Whether the camera still has the factory recovery address.
    pub factory_default: bool,
    /// A masked hint of the recovery address (`o***@***`: its first letter, nothing of
    /// its length or domain), if the owner set one.
    pub hint: Option<String>,
    /// Whether the camera's clock was trustworthy when it made the challenge.
    pub clock_trusted: bool,
    /// The challenge's creation time by the camera's clock (Unix seconds).
    pub created_unix: u32,
}

/// What happened to an issue request.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IssueStatus {
    /// A new code was made and queued for mailing.
    Sent,
    /// The code already made for this challenge was queued again (not counted).
    Resent,
    /// The same request again within minutes: nothing new was sent (idempotent).
    AlreadySent,
}

/// An answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    /// `Open` succeeded.
    Opened(Opened),
    /// `Issue` succeeded.
    Issued {
        /// New or re-sent.
        status: IssueStatus,
        /// Masked hint of where the code went.
        hint: String,
        /// The camera's serial.
        serial: String,
    },
    /// `Issue` for a camera that still has the factory recovery address: no code, no mail;
    /// support must release it. The challenge is genuine (opened) and recorded as seen.
    FactoryDefault {
        /// The camera's serial (from inside the opened challenge).
        serial: String,
        /// The challenge's nonce (hex): its identity, which names the support case.
        nonce: String,
    },
    /// `Release` succeeded.
    Released {
        /// New or re-sent.
        status: IssueStatus,
        /// Masked hint of the order's address.
        hint: String,
        /// The camera's serial (from inside the challenge).
        serial: String,
    },
    /// `Health`.
    Healthy {
        /// Master-key versions held.
        key_versions: Vec<u32>,
        /// Mails waiting to go out.
        pending_mail: u64,
    },
    /// Refused.
    Error {
        /// Stable code.
        code: ErrorCode,
    },
}

/// Why the signer refused.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not a challenge, a typo, or damaged.
    #[error("the challenge string could not be read")]
    Unreadable,
    /// Forged, altered, or for another device.
    #[error("the challenge did not verify")]
    NotGenuine,
    /// A master-key version the signer does not hold.
    #[error("unknown key version")]
    UnknownKeyVersion,
    /// The device's daily cap of codes is reached.
    #[error("too many codes for this camera today")]
    CapReached,
    /// The same code was re-sent too often.
    #[error("this code was re-sent too often")]
    ResendLimited,
    /// The challenge was first seen too long ago.
    #[error("the challenge is too old")]
    TooLate,
    /// The challenge's serial is not on that order (or the signer has no such order).
    #[error("the camera is not on that order")]
    NotOnOrder,
    /// (Release) The challenge is sealed to an address the owner set: codes go only there,
    /// never to an order's address (docs/design.md §1, S5).
    #[error("the camera has a recovery address its owner set")]
    OwnerAddress,
    /// The camera has made two newer challenges since this one (by the counter sealed
    /// inside): it is ignored, and counts against nothing.
    #[error("the camera has made newer challenges since this one")]
    Superseded,
    /// A request that does not parse.
    #[error("bad request")]
    BadRequest,
    /// The signer failed (storage).
    #[error("the signer could not complete the request")]
    Internal,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shapes() {
        let r: Request = serde_json::from_str(
            r#"{"op":"issue","challenge":"CK1","channel":"web","requester":"10.0.0.1"}"#,
        )
        .unwrap();
        assert!(matches!(r, Request::Issue { .. }));
        assert!(
            serde_json::from_str::<Request>(
                r#"{"op":"issue","challenge":"x","channel":"web","requester":"a","code":"x"}"#
            )
            .is_err()
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"give_me_the_key"}"#).is_err());
        let e = serde_json::to_string(&Response::Error {
            code: ErrorCode::CapReached,
        })
        .unwrap();
        assert_eq!(e, r#"{"result":"error","code":"cap_reached"}"#);
    }

    /// The example lines of `docs/vendor.md`, exactly as the types write and read them.
    #[test]
    fn the_documented_lines() {
        let doc = include_str!("../../../docs/vendor.md");
        let lines = [
            serde_json::to_string(&Request::Issue {
                challenge: "CK1…".into(),
                channel: "web".into(),
                requester: "203.0.113.7".into(),
            }),
            serde_json::to_string(&Response::Issued {
                status: IssueStatus::Sent,
                hint: "o***@***".into(),
                serial: "IPC4K15-000001".into(),
            }),
            serde_json::to_string(&Response::FactoryDefault {
                serial: "IPC4K15-000001".into(),
                nonce: "00112233445566778899aabb".into(),
            }),
            serde_json::to_string(&Response::Error {
                code: ErrorCode::NotGenuine,
            }),
        ];
        for line in lines {
            let line = line.unwrap();
            assert!(
                doc.contains(&format!("\n{line}\n")),
                "not in docs/vendor.md: {line}"
            );
        }
    }

    /// The factory-default answer to `Issue`, as `docs/vendor.md` shows it: the serial and
    /// the nonce, and never an address, a hint or a code.
    #[test]
    fn the_factory_default_answer() {
        let r = Response::FactoryDefault {
            serial: "IPC4K15-000001".into(),
            nonce: "00112233445566778899aabb".into(),
        };
        let wire = r#"{"result":"factory_default","serial":"IPC4K15-000001","nonce":"00112233445566778899aabb"}"#;
        assert_eq!(serde_json::to_string(&r).unwrap(), wire);
        assert_eq!(serde_json::from_str::<Response>(wire).unwrap(), r);
        // The refusal it replaces is no longer a code.
        assert!(
            serde_json::from_str::<Response>(r#"{"result":"error","code":"factory_default"}"#)
                .is_err()
        );
    }
}
