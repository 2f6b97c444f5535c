//! The media service on the camera: one H264 profile, its stream and snapshot URIs on the
//! camera's own address, and the snapshot itself (a JPEG test card behind the same
//! credentials as the rest: HTTP digest, as snapshot fetchers send). Video streaming is
//! not simulated: the `rtsp://` URI is where a real camera's RTSP server would be.

use super::device::too_large;
use super::{Endpoint, Incoming, TEST_CARD, auth, fault_response, ok_response};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use camkey_onvif::Access;
use camkey_onvif::media::{self, MediaRequest, Profile};
use camkey_web::client::Client;

/// The RTSP port named in stream URIs.
pub const RTSP_PORT: u16 = 554;

/// `POST /onvif/media_service`.
pub async fn handle(
    State(ep): State<Endpoint>,
    client: Client,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let incoming = Incoming {
        ep: &ep,
        headers: &headers,
        uri: &uri,
        source: client.ip(),
    };
    let body = match body {
        Ok(b) => b,
        Err(_) => return too_large(&incoming),
    };
    let envelope = match incoming.parse(&body) {
        Ok(e) => e,
        Err(resp) => return *resp,
    };
    let v = envelope.version;
    let request = match MediaRequest::parse(&envelope.body) {
        Ok(r) => r,
        Err(fault) => return fault_response(v, &fault),
    };
    if let Err(resp) = incoming.admit(envelope, request.access(), false).await {
        return *resp;
    }
    let profile = Profile::main();
    let known = |token: &str| token == profile.token;
    let svc = &ep.svc;
    let body = match request {
        MediaRequest::GetServiceCapabilities => media::service_capabilities(true, 1),
        MediaRequest::GetProfiles => media::profiles(std::slice::from_ref(&profile)),
        MediaRequest::GetProfile(t) if known(&t) => media::profile(&profile),
        MediaRequest::GetStreamUri { profile: t, .. } if known(&t) => {
            media::stream_uri(&format!("rtsp://{}:{RTSP_PORT}/stream1", svc.host()))
        }
        MediaRequest::GetSnapshotUri(t) if known(&t) => media::snapshot_uri(&format!(
            "{}{}",
            svc.base(ep.transport),
            super::SNAPSHOT_PATH
        )),
        MediaRequest::GetVideoSources => media::video_sources(std::slice::from_ref(&profile)),
        MediaRequest::GetProfile(_)
        | MediaRequest::GetStreamUri { .. }
        | MediaRequest::GetSnapshotUri(_) => return fault_response(v, &media::no_profile()),
    };
    ok_response(v, &body)
}

/// `GET /onvif/snapshot.jpg`: the test card, for a signed-in user (HTTP digest).
pub async fn snapshot(
    State(ep): State<Endpoint>,
    client: Client,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let svc = &ep.svc;
    if !svc.core().initialized() {
        return (
            StatusCode::FORBIDDEN,
            "This camera must be initialized first.\n",
        )
            .into_response();
    }
    let presented = auth::Presented {
        header: None,
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok()),
        method: "GET",
        uri: uri.path_and_query().map_or("/", |p| p.as_str()),
    };
    let denied = match svc
        .authenticate(&presented, ep.transport, client.ip())
        .await
    {
        Ok(caller) if super::access_of(caller.role) >= Access::User => {
            let mut resp = TEST_CARD.into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
            return resp;
        }
        Ok(_) => auth::Denied::Refused("This account may not view the camera.".into()),
        Err(d) => d,
    };
    let stale = matches!(denied, auth::Denied::Challenge { stale: true });
    let text = match &denied {
        auth::Denied::Refused(reason) => format!("{reason}\n"),
        auth::Denied::Challenge { .. } => "Sign in with HTTP digest.\n".to_string(),
    };
    let mut resp = (StatusCode::UNAUTHORIZED, text).into_response();
    for c in svc.challenges(stale) {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}
