//! A minimal ONVIF media service (`trt`, `http://www.onvif.org/ver10/media/wsdl`): enough
//! for NVRs and Home Assistant to add a channel — one profile with an H264 video encoder
//! configuration, its stream and snapshot URIs, the video source, the service's
//! capabilities. camkey simulates no video: the stream URI is where a real camera's RTSP
//! server would be; the snapshot is real (a test card).
//!
//! [`MediaRequest::parse`] reads a request (unknown operations are
//! `ter:ActionNotSupported`, bad arguments `ter:InvalidArgVal`), [`MediaRequest::access`]
//! says who may call it, and the functions below render the responses.

use crate::args::{self, invalid, required};
use crate::device::Access;
use crate::device::response::{bool_str, el};
use crate::ns;
use crate::soap::{Fault, Subcode};
use crate::xml::{Element, escape};

/// A transport asked for in GetStreamUri.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// RTP over UDP.
    Udp,
    /// RTP over TCP.
    Tcp,
    /// RTP over RTSP (interleaved).
    Rtsp,
    /// RTP over RTSP over HTTP.
    Http,
}

/// A media service request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaRequest {
    /// `GetServiceCapabilities`.
    GetServiceCapabilities,
    /// `GetProfiles`.
    GetProfiles,
    /// `GetProfile` (`ProfileToken`).
    GetProfile(String),
    /// `GetStreamUri` (unicast only).
    GetStreamUri {
        /// `ProfileToken`.
        profile: String,
        /// `StreamSetup/Transport/Protocol`.
        protocol: Protocol,
    },
    /// `GetSnapshotUri` (`ProfileToken`).
    GetSnapshotUri(String),
    /// `GetVideoSources`.
    GetVideoSources,
}

impl MediaRequest {
    /// Reads the Body's element.
    pub fn parse(body: &Element) -> Result<MediaRequest, Fault> {
        if body.ns != ns::TRT {
            return Err(not_supported());
        }
        let t = ns::TRT;
        let profile = || args::token(required(body, t, "ProfileToken")?, "ProfileToken");
        Ok(match body.local.as_str() {
            "GetServiceCapabilities" => MediaRequest::GetServiceCapabilities,
            "GetProfiles" => MediaRequest::GetProfiles,
            "GetProfile" => MediaRequest::GetProfile(profile()?),
            "GetSnapshotUri" => MediaRequest::GetSnapshotUri(profile()?),
            "GetVideoSources" => MediaRequest::GetVideoSources,
            "GetStreamUri" => {
                let protocol = match body.child(t, "StreamSetup") {
                    None => Protocol::Rtsp,
                    Some(setup) => stream_setup(setup)?,
                };
                MediaRequest::GetStreamUri {
                    profile: profile()?,
                    protocol,
                }
            }
            _ => return Err(not_supported()),
        })
    }

    /// The access the operation needs: GetServiceCapabilities is `PRE_AUTH` as in every
    /// ONVIF service; the rest need a signed-in user.
    pub fn access(&self) -> Access {
        match self {
            MediaRequest::GetServiceCapabilities => Access::Anonymous,
            _ => Access::User,
        }
    }

    /// The operation's name.
    pub fn name(&self) -> &'static str {
        match self {
            MediaRequest::GetServiceCapabilities => "GetServiceCapabilities",
            MediaRequest::GetProfiles => "GetProfiles",
            MediaRequest::GetProfile(_) => "GetProfile",
            MediaRequest::GetStreamUri { .. } => "GetStreamUri",
            MediaRequest::GetSnapshotUri(_) => "GetSnapshotUri",
            MediaRequest::GetVideoSources => "GetVideoSources",
        }
    }
}

fn not_supported() -> Fault {
    Fault::action_not_supported("The requested operation is not supported")
}

fn stream_setup(setup: &Element) -> Result<Protocol, Fault> {
    let bad = || Fault::invalid_arg("Unsupported stream setup").with(Subcode::InvalidStreamSetup);
    match required(setup, ns::TT, "Stream")? {
        "RTP-Unicast" => {}
        "RTP-Multicast" => return Err(bad()),
        _ => return Err(invalid("Stream")),
    }
    let transport = setup
        .child(ns::TT, "Transport")
        .ok_or_else(|| invalid("Transport"))?;
    Ok(match required(transport, ns::TT, "Protocol")? {
        "UDP" => Protocol::Udp,
        "TCP" => Protocol::Tcp,
        "RTSP" => Protocol::Rtsp,
        "HTTP" => Protocol::Http,
        _ => return Err(invalid("Protocol")),
    })
}

/// `env:Sender` / `ter:InvalidArgVal` / `ter:NoProfile`: no profile with that token.
pub fn no_profile() -> Fault {
    Fault::invalid_arg("The requested profile token does not exist").with(Subcode::NoProfile)
}

/// The one media profile a camkey camera offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Profile token.
    pub token: String,
    /// Profile name.
    pub name: String,
    /// Video source token.
    pub source_token: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub framerate: u32,
    /// Bitrate limit in kbit/s.
    pub bitrate_kbps: u32,
    /// H264 GOP length.
    pub gov_length: u32,
}

impl Profile {
    /// The lab's profile: 1080p25 H264 Main.
    pub fn main() -> Profile {
        Profile {
            token: "Profile_1".into(),
            name: "MainStream".into(),
            source_token: "VideoSource_1".into(),
            width: 1920,
            height: 1080,
            framerate: 25,
            bitrate_kbps: 4096,
            gov_length: 50,
        }
    }
}

fn profile_xml(out: &mut String, tag: &str, p: &Profile) {
    out.push_str(&format!(
        "<{tag} token=\"{}\" fixed=\"true\">",
        escape(&p.token)
    ));
    el(out, "tt:Name", &p.name);
    out.push_str("<tt:VideoSourceConfiguration token=\"VideoSourceConfig_1\">");
    el(out, "tt:Name", "VideoSourceConfig");
    el(out, "tt:UseCount", "1");
    el(out, "tt:SourceToken", &p.source_token);
    out.push_str(&format!(
        "<tt:Bounds x=\"0\" y=\"0\" width=\"{}\" height=\"{}\"/></tt:VideoSourceConfiguration>",
        p.width, p.height
    ));
    out.push_str("<tt:VideoEncoderConfiguration token=\"VideoEncoderConfig_1\">");
    el(out, "tt:Name", "VideoEncoderConfig");
    el(out, "tt:UseCount", "1");
    el(out, "tt:Encoding", "H264");
    out.push_str(&format!(
        "<tt:Resolution><tt:Width>{}</tt:Width><tt:Height>{}</tt:Height></tt:Resolution>\
         <tt:Quality>5</tt:Quality><tt:RateControl><tt:FrameRateLimit>{}</tt:FrameRateLimit>\
         <tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>{}</tt:BitrateLimit></tt:RateControl>\
         <tt:H264><tt:GovLength>{}</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>\
         <tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address>\
         <tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>\
         <tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration>",
        p.width, p.height, p.framerate, p.bitrate_kbps, p.gov_length
    ));
    out.push_str(&format!("</{tag}>"));
}

/// `GetProfilesResponse`.
pub fn profiles(profiles: &[Profile]) -> String {
    let mut out = String::from("<trt:GetProfilesResponse>");
    for p in profiles {
        profile_xml(&mut out, "trt:Profiles", p);
    }
    out.push_str("</trt:GetProfilesResponse>");
    out
}

/// `GetProfileResponse`.
pub fn profile(p: &Profile) -> String {
    let mut out = String::from("<trt:GetProfileResponse>");
    profile_xml(&mut out, "trt:Profile", p);
    out.push_str("</trt:GetProfileResponse>");
    out
}

fn media_uri(op: &str, uri: &str) -> String {
    let mut out = format!("<trt:{op}Response><trt:MediaUri>");
    el(&mut out, "tt:Uri", uri);
    out.push_str(
        "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>\
         <tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>",
    );
    out.push_str(&format!("</trt:MediaUri></trt:{op}Response>"));
    out
}

/// `GetStreamUriResponse` (an `rtsp://` URI on the camera's own address).
pub fn stream_uri(uri: &str) -> String {
    media_uri("GetStreamUri", uri)
}

/// `GetSnapshotUriResponse` (the camera's own snapshot URL).
pub fn snapshot_uri(uri: &str) -> String {
    media_uri("GetSnapshotUri", uri)
}

/// `GetVideoSourcesResponse`.
pub fn video_sources(profiles: &[Profile]) -> String {
    let mut out = String::from("<trt:GetVideoSourcesResponse>");
    for p in profiles {
        out.push_str(&format!(
            "<trt:VideoSources token=\"{}\"><tt:Framerate>{}</tt:Framerate><tt:Resolution>\
             <tt:Width>{}</tt:Width><tt:Height>{}</tt:Height></tt:Resolution></trt:VideoSources>",
            escape(&p.source_token),
            p.framerate,
            p.width,
            p.height
        ));
    }
    out.push_str("</trt:GetVideoSourcesResponse>");
    out
}

/// The media service's `trt:Capabilities` element (for GetServices too).
pub fn capabilities_element(snapshot: bool, max_profiles: u32) -> String {
    format!(
        "<trt:Capabilities SnapshotUri=\"{}\" Rotation=\"false\" VideoSourceMode=\"false\" OSD=\"false\">\
         <trt:ProfileCapabilities MaximumNumberOfProfiles=\"{max_profiles}\"/>\
         <trt:StreamingCapabilities RTPMulticast=\"false\" RTP_TCP=\"true\" RTP_RTSP_TCP=\"true\" NonAggregateControl=\"false\" NoRTSPStreaming=\"false\"/>\
         </trt:Capabilities>",
        bool_str(snapshot)
    )
}

/// `GetServiceCapabilitiesResponse` of the media service.
pub fn service_capabilities(snapshot: bool, max_profiles: u32) -> String {
    format!(
        "<trt:GetServiceCapabilitiesResponse>{}</trt:GetServiceCapabilitiesResponse>",
        capabilities_element(snapshot, max_profiles)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap::{self, SoapVersion};
    use crate::xml::Limits;

    fn zeep(op: &str, inner: &str) -> Element {
        let doc = format!(
            "<soap-env:Envelope xmlns:soap-env=\"{}\"><soap-env:Body><ns0:{op} xmlns:ns0=\"{}\" xmlns:ns1=\"{}\">{inner}</ns0:{op}></soap-env:Body></soap-env:Envelope>",
            ns::SOAP12,
            ns::TRT,
            ns::TT
        );
        soap::parse(doc.as_bytes(), &Limits::default())
            .unwrap()
            .body
    }

    fn body(xml: &str) -> Element {
        let doc = soap::render(SoapVersion::V12, None, xml);
        soap::parse(doc.as_bytes(), &Limits::default())
            .unwrap()
            .body
    }

    #[test]
    fn requests_parse_as_zeep_sends_them() {
        assert_eq!(
            MediaRequest::parse(&zeep("GetProfiles", "")),
            Ok(MediaRequest::GetProfiles)
        );
        assert_eq!(
            MediaRequest::parse(&zeep(
                "GetStreamUri",
                "<ns0:StreamSetup><ns1:Stream>RTP-Unicast</ns1:Stream><ns1:Transport><ns1:Protocol>RTSP</ns1:Protocol></ns1:Transport></ns0:StreamSetup><ns0:ProfileToken>Profile_1</ns0:ProfileToken>"
            )),
            Ok(MediaRequest::GetStreamUri {
                profile: "Profile_1".into(),
                protocol: Protocol::Rtsp
            })
        );
        assert_eq!(
            MediaRequest::parse(&zeep(
                "GetSnapshotUri",
                "<ns0:ProfileToken>Profile_1</ns0:ProfileToken>"
            )),
            Ok(MediaRequest::GetSnapshotUri("Profile_1".into()))
        );
        let r = MediaRequest::parse(&zeep(
            "GetProfile",
            "<ns0:ProfileToken>P</ns0:ProfileToken>",
        ))
        .unwrap();
        assert_eq!((r.name(), r.access()), ("GetProfile", Access::User));
        let caps = MediaRequest::parse(&zeep("GetServiceCapabilities", "")).unwrap();
        assert_eq!(caps.access(), Access::Anonymous);
        assert_eq!(
            MediaRequest::parse(&zeep("GetVideoSources", ""))
                .unwrap()
                .access(),
            Access::User
        );
    }

    #[test]
    fn bad_requests_fault() {
        let cases: Vec<(&str, String, Subcode)> = vec![
            ("GetProfile", String::new(), Subcode::InvalidArgVal),
            ("GetProfile", format!("<ns0:ProfileToken>{}</ns0:ProfileToken>", "p".repeat(65)), Subcode::InvalidArgVal),
            ("GetSnapshotUri", "<ns0:ProfileToken> </ns0:ProfileToken>".into(), Subcode::InvalidArgVal),
            ("GetStreamUri", "<ns0:StreamSetup><ns1:Stream>RTP-Multicast</ns1:Stream><ns1:Transport><ns1:Protocol>UDP</ns1:Protocol></ns1:Transport></ns0:StreamSetup><ns0:ProfileToken>P</ns0:ProfileToken>".into(), Subcode::InvalidArgVal),
            ("GetStreamUri", "<ns0:StreamSetup><ns1:Stream>RTP-Unicast</ns1:Stream><ns1:Transport><ns1:Protocol>SCTP</ns1:Protocol></ns1:Transport></ns0:StreamSetup><ns0:ProfileToken>P</ns0:ProfileToken>".into(), Subcode::InvalidArgVal),
            ("GetStreamUri", "<ns0:StreamSetup><ns1:Stream>RTP-Unicast</ns1:Stream></ns0:StreamSetup><ns0:ProfileToken>P</ns0:ProfileToken>".into(), Subcode::InvalidArgVal),
            ("GetOSDs", String::new(), Subcode::ActionNotSupported),
        ];
        for (op, inner, sub) in cases {
            let f = MediaRequest::parse(&zeep(op, &inner)).expect_err(op);
            assert_eq!(f.subcodes[0], sub, "{op}");
        }
        let multicast = MediaRequest::parse(&zeep("GetStreamUri", "<ns0:StreamSetup><ns1:Stream>RTP-Multicast</ns1:Stream><ns1:Transport><ns1:Protocol>UDP</ns1:Protocol></ns1:Transport></ns0:StreamSetup><ns0:ProfileToken>P</ns0:ProfileToken>")).unwrap_err();
        assert_eq!(
            multicast.subcodes,
            vec![Subcode::InvalidArgVal, Subcode::InvalidStreamSetup]
        );
        let device_op = body("<tds:GetUsers/>");
        assert!(MediaRequest::parse(&device_op).is_err());
        assert_eq!(
            no_profile().subcodes,
            vec![Subcode::InvalidArgVal, Subcode::NoProfile]
        );
    }

    #[test]
    fn profiles_declare_h264() {
        let b = body(&profiles(&[Profile::main()]));
        let p = b.child(ns::TRT, "Profiles").unwrap();
        assert_eq!(p.attr(None, "token"), Some("Profile_1"));
        let vec = p.child(ns::TT, "VideoEncoderConfiguration").unwrap();
        assert_eq!(vec.child_text(ns::TT, "Encoding"), Some("H264"));
        let order: Vec<&str> = vec.children.iter().map(|c| c.local.as_str()).collect();
        assert_eq!(
            order,
            [
                "Name",
                "UseCount",
                "Encoding",
                "Resolution",
                "Quality",
                "RateControl",
                "H264",
                "Multicast",
                "SessionTimeout"
            ]
        );
        let one = body(&profile(&Profile::main()));
        assert!(one.child(ns::TRT, "Profile").is_some());
        let uri = body(&stream_uri("rtsp://127.0.0.2:554/stream1?a=1&b=2"));
        assert_eq!(
            uri.child(ns::TRT, "MediaUri")
                .and_then(|m| m.child_text(ns::TT, "Uri")),
            Some("rtsp://127.0.0.2:554/stream1?a=1&b=2")
        );
        assert!(
            body(&snapshot_uri("https://x/onvif/snapshot.jpg"))
                .is(ns::TRT, "GetSnapshotUriResponse")
        );
        let vs = body(&video_sources(&[Profile::main()]));
        assert_eq!(
            vs.child(ns::TRT, "VideoSources")
                .and_then(|v| v.attr(None, "token")),
            Some("VideoSource_1")
        );
        let caps = body(&service_capabilities(true, 1));
        assert_eq!(
            caps.child(ns::TRT, "Capabilities")
                .and_then(|c| c.attr(None, "SnapshotUri")),
            Some("true")
        );
    }
}
