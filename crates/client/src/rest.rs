//! The camera's REST API (docs/design.md §4, docs/api.md) over TLS settings that accept only
//! the expected camera ([`crate::verify`]). One [`CameraClient`] talks to one camera; its
//! first connection checks the certificate before any request is written, and
//! [`CameraClient::device`] also checks that the camera calls itself by the serial of its
//! certificate. Errors keep the camera's `{"error": {"code", "message"}}`.

use crate::error::Error;
use crate::verify::{CameraVerifier, DeviceCa, tls_config};
use camkey_proto::api::{DeviceInfo, ErrorBody, InitRequest, LoginRequest, PasswordChange};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// How long one call may take.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// `GET /recovery/qr`: the live challenge.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct QrChallenge {
    /// The challenge string to copy (what the QR code holds, after the reset page's `#`).
    pub text: String,
    /// The QR code as SVG.
    #[serde(default)]
    pub svg: String,
    /// Seconds it stays good.
    pub expires_in: u64,
    /// The vendor's reset page with the challenge (what the QR code holds).
    #[serde(default)]
    pub url: Option<String>,
    /// The vendor's automated reset address (mail the string there).
    #[serde(default)]
    pub reset_address: Option<String>,
}

/// A client of one camera's REST API.
#[derive(Debug, Clone)]
pub struct CameraClient {
    http: reqwest::Client,
    api: String,
    verifier: Arc<CameraVerifier>,
    token: Option<String>,
}

/// The API base of a camera address: `https://HOST:PORT/api`, whether given the API base
/// itself, the web page (`https://HOST:PORT/`) or any other URL of the camera (such as its
/// ONVIF device service address from discovery).
pub fn api_base(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    if trimmed.ends_with("/api") {
        return trimmed.to_string();
    }
    match reqwest::Url::parse(url) {
        Ok(u) => format!("{}/api", u.origin().ascii_serialization()),
        Err(_) => format!("{trimmed}/api"),
    }
}

impl CameraClient {
    /// A client of the camera at `url` (its web page or API base); with `expected_serial`,
    /// only that camera's certificate is accepted.
    pub fn new(url: &str, ca: &DeviceCa, expected_serial: Option<&str>) -> Result<Self, Error> {
        crate::verify::host_port(url)?;
        let (config, verifier) = tls_config(ca, expected_serial)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(config)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        Ok(CameraClient {
            http,
            api: api_base(url),
            verifier,
            token: None,
        })
    }

    /// The API base URL.
    pub fn api(&self) -> &str {
        &self.api
    }

    /// The serial in the camera's certificate, once a connection has been made.
    pub fn certificate_serial(&self) -> Option<String> {
        self.verifier.serial_seen()
    }

    /// The session token, after [`CameraClient::login`].
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// `GET /device`, and a check that the camera's own serial is its certificate's.
    pub async fn device(&self) -> Result<DeviceInfo, Error> {
        let info: DeviceInfo = self
            .call(reqwest::Method::GET, "/device", None::<&()>)
            .await?;
        if let Some(cert) = self.certificate_serial()
            && cert != info.serial
        {
            return Err(Error::WrongSerial {
                expected: cert,
                found: info.serial,
            });
        }
        Ok(info)
    }

    /// `POST /init`.
    pub async fn init(&self, req: &InitRequest) -> Result<(), Error> {
        self.call::<serde_json::Value, _>(reqwest::Method::POST, "/init", Some(req))
            .await
            .map(drop)
    }

    /// `POST /login`; the token is kept for the calls that need it.
    pub async fn login(&mut self, username: &str, password: &str) -> Result<(), Error> {
        #[derive(Deserialize)]
        struct Token {
            token: String,
        }
        let req = LoginRequest {
            username: username.into(),
            password: password.into(),
        };
        let t: Token = self
            .call(reqwest::Method::POST, "/login", Some(&req))
            .await?;
        self.token = Some(t.token);
        Ok(())
    }

    /// `POST /password` (after [`CameraClient::login`]).
    pub async fn change_password(&self, old: &str, new: &str) -> Result<(), Error> {
        let req = PasswordChange {
            old_password: old.into(),
            new_password: new.into(),
        };
        self.call::<serde_json::Value, _>(reqwest::Method::POST, "/password", Some(&req))
            .await
            .map(drop)
    }

    /// `GET /recovery/qr`: the live challenge (made if none).
    pub async fn recovery_qr(&self) -> Result<QrChallenge, Error> {
        self.call(reqwest::Method::GET, "/recovery/qr", None::<&()>)
            .await
    }

    /// `POST /recovery/qr/new`: a new challenge replaces the live one.
    pub async fn recovery_qr_new(&self) -> Result<QrChallenge, Error> {
        self.call(
            reqwest::Method::POST,
            "/recovery/qr/new",
            Some(&serde_json::json!({})),
        )
        .await
    }

    /// `POST /recovery/qr`: the vendor's security code and the new password.
    pub async fn recovery_qr_submit(&self, code: &str, new_password: &str) -> Result<(), Error> {
        let body = serde_json::json!({"code": code, "new_password": new_password});
        self.call::<serde_json::Value, _>(reqwest::Method::POST, "/recovery/qr", Some(&body))
            .await
            .map(drop)
    }

    async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, Error> {
        let mut req = self.http.request(method, format!("{}{path}", self.api));
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| send_error(&self.verifier, e))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(b) => Error::Api {
                    status,
                    code: b.error.code,
                    message: b.error.message,
                },
                Err(_) => Error::Protocol(format!("{path}: status {status} without an error body")),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::Protocol(format!("{path}: {e}")))
    }
}

/// A failed send: the identity failure if the verifier saw one, else unreachable.
pub(crate) fn send_error(verifier: &CameraVerifier, e: reqwest::Error) -> Error {
    verifier.take_failure().unwrap_or_else(|| {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        Error::Unreachable(msg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_base_from_page_or_api() {
        assert_eq!(api_base("https://h:1/"), "https://h:1/api");
        assert_eq!(api_base("https://h:1"), "https://h:1/api");
        assert_eq!(api_base("https://h:1/api/"), "https://h:1/api");
        assert_eq!(
            api_base("https://127.0.0.1:8443/onvif/device_service"),
            "https://127.0.0.1:8443/api"
        );
    }
}
