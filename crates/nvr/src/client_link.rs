//! [`CameraLink`] over `camkey-client`: the NVR's real way to its cameras.
//!
//! Each call builds a client pinned to the device CA and, after [`CameraLink::identify`],
//! to the serial it proved: the TLS handshake itself refuses another certificate, so no
//! request (let alone a secret) reaches a camera that is not the one identified. REST for
//! `GET /device`, `POST /init` and `POST /login`; ONVIF (HTTP digest, on the camera's
//! HTTPS device service) for the time, the media profile, the snapshot URI and the
//! snapshot itself.

use crate::link::{CameraLink, Credentials, Identity, LinkError, Media};
use camkey_client::{CameraClient, DeviceCa, Error, OnvifClient};
use camkey_proto::api::InitRequest;
use std::net::SocketAddr;

/// The link: the device CA that every camera's certificate must chain to.
#[derive(Debug, Clone)]
pub struct ClientLink {
    ca: DeviceCa,
}

impl ClientLink {
    /// A link trusting `ca` (the vendor's device CA).
    pub fn new(ca: DeviceCa) -> Self {
        ClientLink { ca }
    }

    fn rest(&self, addr: SocketAddr, serial: Option<&str>) -> Result<CameraClient, LinkError> {
        CameraClient::new(&format!("https://{addr}/"), &self.ca, serial).map_err(map)
    }

    fn onvif(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
    ) -> Result<OnvifClient, LinkError> {
        OnvifClient::new(
            &format!("https://{addr}/onvif/device_service"),
            &self.ca,
            Some(serial),
            &creds.username,
            &creds.password,
        )
        .map_err(map)
    }
}

/// The client's errors in the words the state machine acts on.
pub fn map(e: Error) -> LinkError {
    match e {
        Error::NotGenuine(m) => LinkError::NotGenuine(m),
        Error::WrongSerial { expected, found } => LinkError::WrongSerial { expected, found },
        Error::Unreachable(m) => LinkError::Unreachable(m),
        Error::Api {
            status,
            code,
            message,
        } => match (status, code.as_str()) {
            (_, "init_window_closed") => LinkError::WindowClosed,
            (_, "already_initialized") => LinkError::AlreadyInitialized,
            (_, c) if c.contains("setup_code") => LinkError::SetupCode,
            (401, _) | (_, "bad_credentials" | "login_failed" | "wrong_password") => {
                LinkError::SignIn
            }
            (429, _) => LinkError::Limited(0),
            _ => LinkError::Other(format!("{status} {code}: {message}")),
        },
        Error::Fault { status, reason }
            if status == 401 || reason.contains("NotAuthorized") || reason.contains("auth") =>
        {
            LinkError::SignIn
        }
        other => LinkError::Other(other.to_string()),
    }
}

impl CameraLink for ClientLink {
    async fn identify(&self, addr: SocketAddr) -> Result<Identity, LinkError> {
        let c = self.rest(addr, None)?;
        let info = c.device().await.map_err(map)?;
        let Some(serial) = c.certificate_serial() else {
            return Err(LinkError::NotGenuine("no serial in its certificate".into()));
        };
        if serial != info.serial {
            return Err(LinkError::NotGenuine(format!(
                "its certificate names {serial}, its device information {}",
                info.serial
            )));
        }
        Ok(Identity {
            serial,
            model: info.model,
            initialized: info.initialized,
            init_window_open: info.init_window_open,
            setup_code_required: info.setup_code_required,
        })
    }

    async fn init(
        &self,
        addr: SocketAddr,
        serial: &str,
        req: &InitRequest,
    ) -> Result<(), LinkError> {
        self.rest(addr, Some(serial))?.init(req).await.map_err(map)
    }

    async fn sign_in(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
    ) -> Result<(), LinkError> {
        let mut c = self.rest(addr, Some(serial))?;
        c.login(&creds.username, &creds.password).await.map_err(map)
    }

    async fn enable_onvif(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
    ) -> Result<(), LinkError> {
        // Cameras the NVR initialized have it on; a camera set up by hand may not, and
        // only its owner can turn it on (the camera asks for the password over HTTPS).
        match self.onvif(addr, serial, creds)?.device_information().await {
            Ok(_) => Ok(()),
            Err(e) => match map(e) {
                LinkError::SignIn => Err(LinkError::Other(
                    "ONVIF access is off on the camera: turn it on in the camera's account settings".into(),
                )),
                other => Err(other),
            },
        }
    }

    async fn set_time(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
        wall_ms: i64,
    ) -> Result<(), LinkError> {
        self.onvif(addr, serial, creds)?
            .set_system_date_and_time(wall_ms)
            .await
            .map_err(map)
    }

    async fn media(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
    ) -> Result<Media, LinkError> {
        let c = self.onvif(addr, serial, creds)?;
        let profiles = c.profiles().await.map_err(map)?;
        let profile = profiles
            .into_iter()
            .next()
            .ok_or_else(|| LinkError::Other("the camera has no media profile".into()))?;
        let snapshot_uri = c.snapshot_uri(&profile.token).await.map_err(map)?;
        Ok(Media {
            profile: profile.token,
            snapshot_uri,
        })
    }

    async fn snapshot(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
        uri: &str,
    ) -> Result<Vec<u8>, LinkError> {
        self.onvif(addr, serial, creds)?
            .snapshot(uri)
            .await
            .map_err(map)
    }
}
