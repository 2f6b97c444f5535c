//! Scopes: the ones a camkey camera advertises, and how a probe's scopes are matched
//! against them (WS-Discovery 2005/04 §5.1, also the 2009 rule URIs).
//!
//! RFC 3986 matching (the default, `rfc2396` in 2005 and `rfc3986` in 2009): scheme and
//! authority compare case-insensitively, the probe's path is a segment-wise prefix of the
//! advertised path (segments compare case-sensitively after percent-decoding), query and
//! fragment are ignored, a `.` or `..` segment on either side never matches, and a
//! trailing `/` is insignificant (`.../Profile/` matches `.../Profile/Streaming`).
//! `strcmp0` is an exact, case-sensitive string comparison. Any other rule (`ldap`,
//! `uuid`, unknown URIs) matches nothing, so the camera stays silent.

/// The 2005/04 RFC 2396 rule (WS-Discovery's default when `MatchBy` is absent).
pub const MATCH_RFC2396_2005: &str = "http://schemas.xmlsoap.org/ws/2005/04/discovery/rfc2396";
/// The 2005/04 spelling some clients use for the same rule.
pub const MATCH_RFC3986_2005: &str = "http://schemas.xmlsoap.org/ws/2005/04/discovery/rfc3986";
/// The 2009 RFC 3986 rule.
pub const MATCH_RFC3986_2009: &str =
    "http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01/rfc3986";
/// The 2005/04 exact string rule.
pub const MATCH_STRCMP0_2005: &str = "http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0";
/// The 2009 exact string rule.
pub const MATCH_STRCMP0_2009: &str =
    "http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01/strcmp0";

/// The profile scope every camkey camera advertises (Home Assistant filters on it).
pub const SCOPE_PROFILE_STREAMING: &str = "onvif://www.onvif.org/Profile/Streaming";
/// camkey's own scope prefix for the camera's state.
pub const SCOPE_STATE_PREFIX: &str = "onvif://camkey/state/";
/// camkey's own scope prefix for the camera's serial (printed on its label, not secret).
pub const SCOPE_SERIAL_PREFIX: &str = "onvif://camkey/serial/";
/// The ONVIF hardware scope prefix.
pub const SCOPE_HARDWARE_PREFIX: &str = "onvif://www.onvif.org/hardware/";
/// The ONVIF name scope prefix.
pub const SCOPE_NAME_PREFIX: &str = "onvif://www.onvif.org/name/";

/// How a probe asks its scopes to be compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchBy {
    /// RFC 3986 (RFC 2396 in 2005) segment-wise prefix: the default.
    Rfc3986,
    /// Exact, case-sensitive comparison.
    Strcmp0,
    /// A rule camkey does not implement (`ldap`, `uuid`, anything else): matches nothing.
    Unsupported,
}

impl MatchBy {
    /// The rule named by a `MatchBy` attribute (`None` or empty: the default).
    pub fn from_uri(uri: Option<&str>) -> MatchBy {
        match uri.map(str::trim) {
            None | Some("") => MatchBy::Rfc3986,
            Some(MATCH_RFC2396_2005 | MATCH_RFC3986_2005 | MATCH_RFC3986_2009) => MatchBy::Rfc3986,
            Some(MATCH_STRCMP0_2005 | MATCH_STRCMP0_2009) => MatchBy::Strcmp0,
            Some(_) => MatchBy::Unsupported,
        }
    }
}

/// Whether every scope the probe names matches one of the advertised scopes (an empty
/// list always matches).
pub fn all_match(rule: MatchBy, wanted: &[String], advertised: &[String]) -> bool {
    wanted
        .iter()
        .all(|w| advertised.iter().any(|a| scope_matches(rule, w, a)))
}

/// Whether the probe's scope `wanted` matches the advertised scope `have`.
pub fn scope_matches(rule: MatchBy, wanted: &str, have: &str) -> bool {
    match rule {
        MatchBy::Strcmp0 => wanted == have,
        MatchBy::Rfc3986 => rfc3986_matches(wanted, have),
        MatchBy::Unsupported => false,
    }
}

/// A URI cut into the parts RFC 3986 matching compares.
struct Parts<'a> {
    scheme: &'a str,
    authority: &'a str,
    segments: Vec<String>,
}

fn split(uri: &str) -> Option<Parts<'_>> {
    let (scheme, rest) = uri.split_once(':')?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    // Query and fragment are not compared.
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.strip_prefix("//") {
        Some(r) => match r.find('/') {
            Some(i) => (&r[..i], &r[i..]),
            None => (r, ""),
        },
        None => ("", rest),
    };
    let mut segments = Vec::new();
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    if !path.is_empty() {
        for s in path.split('/') {
            let s = percent_decode(s)?;
            if s == "." || s == ".." {
                return None;
            }
            segments.push(s);
        }
    }
    Some(Parts {
        scheme,
        authority,
        segments,
    })
}

fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn rfc3986_matches(wanted: &str, have: &str) -> bool {
    let (Some(w), Some(h)) = (split(wanted.trim()), split(have.trim())) else {
        return false;
    };
    w.scheme.eq_ignore_ascii_case(h.scheme)
        && w.authority.eq_ignore_ascii_case(h.authority)
        && w.segments.len() <= h.segments.len()
        && w.segments.iter().zip(&h.segments).all(|(a, b)| a == b)
}

/// Whether the camera is still waiting for its owner (camkey's state scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraState {
    /// No admin password yet.
    Uninitialized,
    /// Initialized by its owner.
    Initialized,
}

impl CameraState {
    /// The word in the scope (`uninitialized` or `initialized`).
    pub fn as_str(self) -> &'static str {
        match self {
            CameraState::Uninitialized => "uninitialized",
            CameraState::Initialized => "initialized",
        }
    }
}

/// Percent-encodes what may not stand in a scope's path segment (RFC 3986 unreserved
/// characters stay; everything else, including `/` and space, is `%XX`).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The scopes a camkey camera advertises, in this order: profile, the two ONVIF types,
/// hardware, name, state, serial. `name` is shown to installers (the model and serial).
pub fn camera_scopes(model: &str, serial: &str, name: &str, state: CameraState) -> Vec<String> {
    vec![
        SCOPE_PROFILE_STREAMING.to_string(),
        "onvif://www.onvif.org/type/video_encoder".to_string(),
        "onvif://www.onvif.org/type/Network_Video_Transmitter".to_string(),
        format!("{SCOPE_HARDWARE_PREFIX}{}", encode_segment(model)),
        format!("{SCOPE_NAME_PREFIX}{}", encode_segment(name)),
        format!("{SCOPE_STATE_PREFIX}{}", state.as_str()),
        format!("{SCOPE_SERIAL_PREFIX}{}", encode_segment(serial)),
    ]
}

/// Reads camkey's scopes back (client side): `(state, serial, model, name)` where present.
pub fn read_camkey_scopes(scopes: &[String]) -> ScopeInfo {
    let mut info = ScopeInfo::default();
    for s in scopes {
        let seg = |p: &str| s.strip_prefix(p).and_then(percent_decode);
        if let Some(v) = seg(SCOPE_STATE_PREFIX) {
            info.state = match v.as_str() {
                "uninitialized" => Some(CameraState::Uninitialized),
                "initialized" => Some(CameraState::Initialized),
                _ => info.state,
            };
        } else if let Some(v) = seg(SCOPE_SERIAL_PREFIX) {
            info.serial = Some(v);
        } else if let Some(v) = seg(SCOPE_HARDWARE_PREFIX) {
            info.model = Some(v);
        } else if let Some(v) = seg(SCOPE_NAME_PREFIX) {
            info.name = Some(v);
        }
    }
    info
}

/// What a client learns from a camera's scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeInfo {
    /// camkey's state scope.
    pub state: Option<CameraState>,
    /// camkey's serial scope.
    pub serial: Option<String>,
    /// ONVIF hardware scope (the model).
    pub model: Option<String>,
    /// ONVIF name scope.
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adv() -> Vec<String> {
        camera_scopes(
            "CK-200",
            "CK2-0001",
            "camkey CK-200 CK2-0001",
            CameraState::Uninitialized,
        )
    }

    #[test]
    fn rfc3986_table() {
        let r = MatchBy::Rfc3986;
        let have = "onvif://www.onvif.org/Profile/Streaming";
        for (wanted, want) in [
            ("onvif://www.onvif.org/Profile/Streaming", true),
            ("onvif://www.onvif.org/Profile", true),
            ("onvif://www.onvif.org/Profile/", true),
            ("onvif://www.onvif.org/Profile/Streaming/", true),
            ("onvif://www.onvif.org", true),
            ("onvif://www.onvif.org/", true),
            ("ONVIF://WWW.ONVIF.ORG/Profile/Streaming", true),
            ("onvif://www.onvif.org/profile/streaming", false),
            ("onvif://www.onvif.org/Prof", false),
            ("onvif://www.onvif.org/Profile/Stream", false),
            ("onvif://www.onvif.org/Profile/Streaming/More", false),
            ("onvif://www.onvif.org/Profile/S%74reaming", true),
            ("onvif://www.onvif.org/Profile/Streaming?x=1", true),
            ("onvif://www.onvif.org/Profile/Streaming#frag", true),
            ("onvif://other.org/Profile/Streaming", false),
            ("http://www.onvif.org/Profile/Streaming", false),
            ("onvif://www.onvif.org/Profile/../Profile/Streaming", false),
            ("onvif://www.onvif.org/./Profile", false),
            ("onvif://www.onvif.org/Profile/%zz", false),
            ("no scheme", false),
            ("", false),
        ] {
            assert_eq!(scope_matches(r, wanted, have), want, "{wanted}");
        }
    }

    #[test]
    fn strcmp0_is_exact() {
        let s = MatchBy::Strcmp0;
        let have = "onvif://www.onvif.org/Profile/Streaming";
        assert!(scope_matches(s, have, have));
        assert!(!scope_matches(s, "onvif://www.onvif.org/Profile", have));
        assert!(!scope_matches(
            s,
            "ONVIF://www.onvif.org/Profile/Streaming",
            have
        ));
        assert!(!scope_matches(
            s,
            "onvif://www.onvif.org/Profile/Streaming/",
            have
        ));
    }

    #[test]
    fn rule_uris() {
        assert_eq!(MatchBy::from_uri(None), MatchBy::Rfc3986);
        assert_eq!(MatchBy::from_uri(Some(" ")), MatchBy::Rfc3986);
        assert_eq!(
            MatchBy::from_uri(Some(MATCH_RFC2396_2005)),
            MatchBy::Rfc3986
        );
        assert_eq!(
            MatchBy::from_uri(Some(MATCH_RFC3986_2009)),
            MatchBy::Rfc3986
        );
        assert_eq!(
            MatchBy::from_uri(Some(MATCH_STRCMP0_2005)),
            MatchBy::Strcmp0
        );
        assert_eq!(
            MatchBy::from_uri(Some(MATCH_STRCMP0_2009)),
            MatchBy::Strcmp0
        );
        let ldap = "http://schemas.xmlsoap.org/ws/2005/04/discovery/ldap";
        assert_eq!(MatchBy::from_uri(Some(ldap)), MatchBy::Unsupported);
        assert!(!all_match(
            MatchBy::Unsupported,
            &["onvif://www.onvif.org".into()],
            &adv()
        ));
    }

    #[test]
    fn all_scopes_must_match_and_none_is_all() {
        let a = adv();
        assert!(all_match(MatchBy::Rfc3986, &[], &a));
        let both = [
            "onvif://www.onvif.org/Profile/Streaming".to_string(),
            "onvif://camkey/state/uninitialized".to_string(),
        ];
        assert!(all_match(MatchBy::Rfc3986, &both, &a));
        let wrong = ["onvif://camkey/state/initialized".to_string()];
        assert!(!all_match(MatchBy::Rfc3986, &wrong, &a));
        assert!(all_match(
            MatchBy::Rfc3986,
            &["onvif://camkey/serial/CK2-0001".into()],
            &a
        ));
    }

    #[test]
    fn scopes_round_trip() {
        let a = camera_scopes("CK 200/x", "S/1", "a b", CameraState::Initialized);
        assert_eq!(a[3], "onvif://www.onvif.org/hardware/CK%20200%2Fx");
        let info = read_camkey_scopes(&a);
        assert_eq!(info.model.as_deref(), Some("CK 200/x"));
        assert_eq!(info.serial.as_deref(), Some("S/1"));
        assert_eq!(info.name.as_deref(), Some("a b"));
        assert_eq!(info.state, Some(CameraState::Initialized));
    }
}
