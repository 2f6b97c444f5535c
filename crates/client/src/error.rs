//! The client's one error type. Identity failures come first and are told apart, because
//! what a person does next differs: a camera that is not genuine is unplugged, a camera
//! with another serial is the wrong one (or an impostor), an unreachable one is checked
//! for power and cabling.

/// What went wrong talking to a camera.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Its certificate does not chain to the device CA (self-signed, another vendor's,
    /// expired, or no serial in it): not a genuine camera. Nothing was sent.
    #[error("not a genuine camera: {0}")]
    NotGenuine(String),
    /// A genuine camera, but not the one expected. Nothing was sent.
    #[error("wrong camera: expected serial {expected}, its certificate says {found}")]
    WrongSerial {
        /// The serial asked for (label or discovery).
        expected: String,
        /// The serial in the camera's certificate.
        found: String,
    },
    /// No connection (refused, timed out, TLS failed for another reason).
    #[error("camera unreachable: {0}")]
    Unreachable(String),
    /// The camera answered with its JSON error.
    #[error("the camera refused ({status} {code}): {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The camera's stable code, e.g. `init_window_closed`.
        code: String,
        /// The camera's words.
        message: String,
    },
    /// An ONVIF SOAP fault (or an HTTP 401 after the digest answer).
    #[error("ONVIF fault ({status}): {reason}")]
    Fault {
        /// HTTP status.
        status: u16,
        /// The fault's reason text.
        reason: String,
    },
    /// An answer that is not what the API says.
    #[error("unexpected answer from the camera: {0}")]
    Protocol(String),
    /// The device CA file could not be read or holds no certificate.
    #[error("device CA: {0}")]
    Ca(String),
    /// An address that is not an `https://` URL with a host.
    #[error("bad camera address {0:?}")]
    Url(String),
}

impl Error {
    /// The camera's error code, for [`Error::Api`].
    pub fn api_code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the camera's identity check failed (not genuine, or another serial).
    pub fn is_identity(&self) -> bool {
        matches!(self, Error::NotGenuine(_) | Error::WrongSerial { .. })
    }
}
