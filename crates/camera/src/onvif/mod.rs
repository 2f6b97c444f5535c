//! The camera's ONVIF service: the device service at [`DEVICE_PATH`], a minimal media
//! service at [`MEDIA_PATH`] and a snapshot at [`SNAPSHOT_PATH`], on the HTTPS app and on
//! the plain HTTP app alike (docs/onvif.md). The protocol is `camkey_onvif`'s; what each
//! operation may do, and to whom, is decided here and in the core.
//!
//! Every call goes the same way: the body (at most [`MAX_BODY`] bytes) is parsed as SOAP
//! with bounds; the operation is read and its access level known; anonymous operations
//! answer at once; an uninitialized camera answers nothing else (S8); a call that carries a
//! password in clear is refused over plain HTTP (S10); then the caller authenticates
//! ([`auth`]: WS-UsernameToken or HTTP digest, counted under the sign-in limits of S4);
//! its role must reach the operation's level; and only then does the operation run.
//! Hostile input gets a fault and changes nothing (S9). Addresses in answers (XAddrs,
//! stream and snapshot URIs) are the camera's own, never a request's Host header (S6).
//!
//! # Layout
//! - [`auth`]: who the caller is (UsernameToken, HTTP digest).
//! - [`replay`]: credentials already used, refused again.
//! - [`device`]: the device service's operations.
//! - [`media`]: the media service's operations and the snapshot.

pub mod auth;
pub mod device;
pub mod media;
pub mod replay;

use crate::core::{Core, Source};
use crate::state::Role;
use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use camkey_onvif::Access;
use camkey_onvif::auth::digest::NonceKey;
use camkey_onvif::ns;
use camkey_onvif::soap::{self, Envelope, Fault, SoapVersion, Subcode};
use camkey_onvif::xml::Limits;
use camkey_web::headers::SecurityHeaders;
use std::sync::{Arc, Mutex, MutexGuard};

/// The device service.
pub const DEVICE_PATH: &str = "/onvif/device_service";
/// The media service.
pub const MEDIA_PATH: &str = "/onvif/media_service";
/// The snapshot (a JPEG test card).
pub const SNAPSHOT_PATH: &str = "/onvif/snapshot.jpg";
/// Largest SOAP request accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// The JPEG test card served as the snapshot.
pub const TEST_CARD: &[u8] = include_bytes!("../../assets/testcard.jpg");

/// Which listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The HTTPS port.
    Https,
    /// The plain HTTP port: no password may travel in clear.
    Http,
}

/// The ONVIF service of one camera (shared by both listeners).
pub struct OnvifService {
    core: Arc<Core>,
    pub(crate) https_base: String,
    pub(crate) http_base: Option<String>,
    nonce_key: NonceKey,
    replay: Mutex<replay::ReplayCache>,
}

impl OnvifService {
    /// The service of `core`, whose own addresses are `https_base` and `http_base` (e.g.
    /// `https://10.0.0.5`, `http://10.0.0.5`). A new digest nonce key is drawn (per boot).
    pub fn new(core: Arc<Core>, https_base: String, http_base: Option<String>) -> Arc<Self> {
        Arc::new(OnvifService {
            core,
            https_base: https_base.trim_end_matches('/').to_string(),
            http_base: http_base.map(|b| b.trim_end_matches('/').to_string()),
            nonce_key: NonceKey::random(),
            replay: Mutex::new(replay::ReplayCache::default()),
        })
    }

    /// The camera's core.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    fn replay_lock(&self) -> MutexGuard<'_, replay::ReplayCache> {
        self.replay.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The camera's own base address on `transport` (HTTPS when it has no plain one).
    pub fn base(&self, transport: Transport) -> &str {
        match (transport, &self.http_base) {
            (Transport::Http, Some(b)) => b,
            _ => &self.https_base,
        }
    }

    /// The host of the camera's own address (for the RTSP URI and the interface).
    pub fn host(&self) -> &str {
        let rest = self
            .https_base
            .split_once("://")
            .map_or(self.https_base.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        if let Some(end) = authority.find(']') {
            return &authority[..=end];
        }
        authority.split(':').next().unwrap_or(authority)
    }
}

/// The routes of the ONVIF service on one listener.
pub fn routes(svc: Arc<OnvifService>, transport: Transport) -> Router {
    let ep = Endpoint { svc, transport };
    let headers = match transport {
        Transport::Https => SecurityHeaders::HTTPS,
        Transport::Http => SecurityHeaders::BASIC,
    };
    Router::new()
        .route(DEVICE_PATH, post(device::handle))
        .route(MEDIA_PATH, post(media::handle))
        .route(SNAPSHOT_PATH, get(media::snapshot))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(
            headers,
            camkey_web::headers::layer,
        ))
        .with_state(ep)
}

/// One listener's view of the service.
#[derive(Clone)]
pub struct Endpoint {
    svc: Arc<OnvifService>,
    transport: Transport,
}

/// A SOAP response in `version` with `status`.
pub fn soap_response(version: SoapVersion, status: StatusCode, envelope: String) -> Response {
    let mut resp = (status, envelope).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(soap::content_type(version)),
    );
    resp
}

/// A fault with its HTTP status.
pub fn fault_response(version: SoapVersion, fault: &Fault) -> Response {
    let status = StatusCode::from_u16(fault.http_status(version))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    soap_response(version, status, fault.render(version))
}

/// A body rendered as a 200 response.
pub fn ok_response(version: SoapVersion, body: &str) -> Response {
    soap_response(version, StatusCode::OK, soap::render(version, None, body))
}

/// HTTP 401 with the digest challenges (and the fault as body).
pub fn challenge_response(
    svc: &OnvifService,
    version: SoapVersion,
    stale: bool,
    fault: &Fault,
) -> Response {
    let mut resp = soap_response(version, StatusCode::UNAUTHORIZED, fault.render(version));
    for c in svc.challenges(stale) {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}

/// The ONVIF level of a role.
pub fn access_of(role: Role) -> Access {
    match role {
        Role::Administrator => Access::Administrator,
        Role::Operator => Access::Operator,
        Role::User => Access::User,
    }
}

/// A request that passed the common checks: its envelope, and its caller when the
/// operation needed one.
pub struct Admitted {
    /// The parsed envelope.
    pub envelope: Envelope,
    /// The signed-in caller (`None` for an anonymous operation).
    pub caller: Option<auth::Caller>,
}

/// What a SOAP request is before it runs: parsed, then checked for access.
pub struct Incoming<'a> {
    /// The listener's view.
    pub ep: &'a Endpoint,
    /// HTTP headers.
    pub headers: &'a HeaderMap,
    /// The request target.
    pub uri: &'a Uri,
    /// The client's address.
    pub source: Source,
}

impl Incoming<'_> {
    /// The SOAP version to answer a request that could not be parsed.
    pub fn guessed_version(&self) -> SoapVersion {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map_or(SoapVersion::V12, SoapVersion::from_content_type)
    }

    /// Parses the body (a fault response on failure). A body a browser form could send
    /// across sites (`text/plain`, form types) is refused before it is read, so a page
    /// elsewhere cannot use digest credentials a browser cached for the camera.
    pub fn parse(&self, body: &Bytes) -> Result<Envelope, Box<Response>> {
        let media = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase());
        if let Some(m) = media.as_deref()
            && matches!(
                m,
                "text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data"
            )
        {
            return Err(Box::new(fault_response(
                self.guessed_version(),
                &Fault::sender(
                    Subcode::WellFormed,
                    "A SOAP request is sent as application/soap+xml (or text/xml)",
                ),
            )));
        }
        let envelope = soap::parse(body, &Limits::default())
            .map_err(|e| Box::new(fault_response(self.guessed_version(), &e.fault())))?;
        if let Some((_, local)) = envelope.not_understood(&[ns::WSSE, ns::WSA, ns::WSA10]) {
            return Err(Box::new(fault_response(
                envelope.version,
                &Fault::must_understand(&local),
            )));
        }
        Ok(envelope)
    }

    /// The checks every operation passes: initialized (unless anonymous), no password in
    /// clear over plain HTTP, authenticated, and a role that reaches `access`.
    pub async fn admit(
        &self,
        envelope: Envelope,
        access: Access,
        carries_password: bool,
    ) -> Result<Admitted, Box<Response>> {
        let v = envelope.version;
        let svc = &self.ep.svc;
        if access == Access::Anonymous {
            return Ok(Admitted {
                envelope,
                caller: None,
            });
        }
        if !svc.core.initialized() {
            return Err(Box::new(fault_response(
                v,
                &Fault::not_authorized(
                    "Sender not authorized: this camera must be initialized first; until then only GetSystemDateAndTime, GetServices, GetServiceCapabilities, GetCapabilities, GetHostname, GetWsdlUrl and GetEndpointReference answer",
                ),
            )));
        }
        if carries_password && self.ep.transport == Transport::Http {
            return Err(Box::new(fault_response(
                v,
                &Fault::sender(
                    Subcode::OperationProhibited,
                    format!(
                        "This call carries a password in clear and is refused over plain HTTP: use HTTPS ({}{})",
                        svc.https_base, DEVICE_PATH
                    ),
                ),
            )));
        }
        let presented = auth::Presented {
            header: envelope.header.as_ref(),
            authorization: self
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok()),
            method: "POST",
            uri: self.uri.path_and_query().map_or("/", |p| p.as_str()),
        };
        let caller = match svc
            .authenticate(&presented, self.ep.transport, self.source)
            .await
        {
            Ok(c) => c,
            Err(auth::Denied::Challenge { stale }) => {
                let fault = auth::Denied::Challenge { stale }.fault();
                return Err(Box::new(challenge_response(svc, v, stale, &fault)));
            }
            Err(denied) => return Err(Box::new(fault_response(v, &denied.fault()))),
        };
        if access_of(caller.role) < access {
            return Err(Box::new(fault_response(
                v,
                &Fault::not_authorized(
                    "Sender not authorized: this account's role does not allow this operation",
                ),
            )));
        }
        Ok(Admitted {
            envelope,
            caller: Some(caller),
        })
    }
}
