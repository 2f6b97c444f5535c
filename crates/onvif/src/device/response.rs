//! Device service response bodies, rendered from plain structs in the element order of the
//! ONVIF schema (`devicemgmt.wsdl`, `onvif.xsd`), so strict and lenient clients alike read
//! them. Every value is escaped; the prefixes are those [`crate::soap::render`] declares.

use crate::xml::escape;

use super::UserLevel;

/// The ONVIF version camkey reports for its services.
pub const ONVIF_VERSION: (u32, u32) = (2, 60);

/// Writes `<name>text</name>` with `text` escaped.
pub(crate) fn el(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape(text));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

pub(crate) fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// An empty `<tds:{operation}Response/>` (Set and Create operations, DeleteUsers).
pub fn empty(operation: &str) -> String {
    format!("<tds:{operation}Response/>")
}

/// GetDeviceInformation's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInformation {
    /// `Manufacturer`.
    pub manufacturer: String,
    /// `Model`.
    pub model: String,
    /// `FirmwareVersion`.
    pub firmware_version: String,
    /// `SerialNumber`.
    pub serial_number: String,
    /// `HardwareId`.
    pub hardware_id: String,
}

/// `GetDeviceInformationResponse`.
pub fn device_information(info: &DeviceInformation) -> String {
    let mut out = String::from("<tds:GetDeviceInformationResponse>");
    el(&mut out, "tds:Manufacturer", &info.manufacturer);
    el(&mut out, "tds:Model", &info.model);
    el(&mut out, "tds:FirmwareVersion", &info.firmware_version);
    el(&mut out, "tds:SerialNumber", &info.serial_number);
    el(&mut out, "tds:HardwareId", &info.hardware_id);
    out.push_str("</tds:GetDeviceInformationResponse>");
    out
}

/// An IPv4 configuration of an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4 {
    /// The address.
    pub address: String,
    /// Its prefix length.
    pub prefix_length: u8,
    /// Whether it came from DHCP.
    pub dhcp: bool,
}

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInterface {
    /// Its reference token (e.g. `eth0`).
    pub token: String,
    /// Its name.
    pub name: String,
    /// Its MAC address, `aa:bb:cc:dd:ee:ff` (Home Assistant's unique id).
    pub hw_address: String,
    /// MTU.
    pub mtu: u32,
    /// Its IPv4 configuration, if any.
    pub ipv4: Option<Ipv4>,
}

/// `GetNetworkInterfacesResponse`.
pub fn network_interfaces(interfaces: &[NetworkInterface]) -> String {
    let mut out = String::from("<tds:GetNetworkInterfacesResponse>");
    for i in interfaces {
        out.push_str(&format!(
            "<tds:NetworkInterfaces token=\"{}\">",
            escape(&i.token)
        ));
        el(&mut out, "tt:Enabled", "true");
        out.push_str("<tt:Info>");
        el(&mut out, "tt:Name", &i.name);
        el(&mut out, "tt:HwAddress", &i.hw_address);
        el(&mut out, "tt:MTU", &i.mtu.to_string());
        out.push_str("</tt:Info>");
        if let Some(v4) = &i.ipv4 {
            out.push_str("<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config>");
            let tag = if v4.dhcp { "tt:FromDHCP" } else { "tt:Manual" };
            out.push_str(&format!("<{tag}>"));
            el(&mut out, "tt:Address", &v4.address);
            el(&mut out, "tt:PrefixLength", &v4.prefix_length.to_string());
            out.push_str(&format!("</{tag}>"));
            el(&mut out, "tt:DHCP", bool_str(v4.dhcp));
            out.push_str("</tt:Config></tt:IPv4>");
        }
        out.push_str("</tds:NetworkInterfaces>");
    }
    out.push_str("</tds:GetNetworkInterfacesResponse>");
    out
}

/// GetSystemDateAndTime's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemDateTime {
    /// `Manual` (true) or `NTP`. Home Assistant sets a camera's time only when Manual.
    pub manual: bool,
    /// `DaylightSavings`.
    pub daylight_savings: bool,
    /// POSIX `TZ`, e.g. `UTC0`.
    pub time_zone: String,
    /// The camera's wall clock, unix milliseconds (UTC).
    pub utc_ms: i64,
    /// Local time, unix milliseconds as if UTC, when the camera knows it.
    pub local_ms: Option<i64>,
}

fn date_time(out: &mut String, name: &str, unix_ms: i64) {
    let secs = unix_ms.div_euclid(1000);
    let at =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    out.push_str(&format!("<{name}><tt:Time>"));
    el(out, "tt:Hour", &at.hour().to_string());
    el(out, "tt:Minute", &at.minute().to_string());
    el(out, "tt:Second", &at.second().to_string());
    out.push_str("</tt:Time><tt:Date>");
    el(out, "tt:Year", &at.year().to_string());
    el(out, "tt:Month", &u8::from(at.month()).to_string());
    el(out, "tt:Day", &at.day().to_string());
    out.push_str(&format!("</tt:Date></{name}>"));
}

/// `GetSystemDateAndTimeResponse`.
pub fn system_date_and_time(t: &SystemDateTime) -> String {
    let mut out = String::from("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>");
    el(
        &mut out,
        "tt:DateTimeType",
        if t.manual { "Manual" } else { "NTP" },
    );
    el(&mut out, "tt:DaylightSavings", bool_str(t.daylight_savings));
    out.push_str("<tt:TimeZone>");
    el(&mut out, "tt:TZ", &t.time_zone);
    out.push_str("</tt:TimeZone>");
    date_time(&mut out, "tt:UTCDateTime", t.utc_ms);
    if let Some(local) = t.local_ms {
        date_time(&mut out, "tt:LocalDateTime", local);
    }
    out.push_str("</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>");
    out
}

/// What the device service says about itself (GetServiceCapabilities, GetCapabilities,
/// GetServices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceCapabilities {
    /// `MaxUsers`: accounts the camera holds.
    pub max_users: u32,
    /// `MaxUserNameLength`.
    pub max_username_length: u32,
    /// `MaxPasswordLength`.
    pub max_password_length: u32,
    /// TLS 1.2 on the HTTPS port.
    pub tls12: bool,
    /// A WS-Discovery Bye at power-off.
    pub discovery_bye: bool,
}

/// The device service's `tds:Capabilities` element (UsernameToken and HttpDigest are
/// always offered).
pub fn device_service_capabilities_element(c: &DeviceCapabilities) -> String {
    format!(
        "<tds:Capabilities>\
         <tds:Network IPFilter=\"false\" ZeroConfiguration=\"false\" IPVersion6=\"false\" DynDNS=\"false\" Dot11Configuration=\"false\" HostnameFromDHCP=\"false\" NTP=\"0\" DHCPv6=\"false\"/>\
         <tds:Security TLS1.0=\"false\" TLS1.1=\"false\" TLS1.2=\"{}\" OnboardKeyGeneration=\"false\" AccessPolicyConfig=\"false\" DefaultAccessPolicy=\"false\" Dot1X=\"false\" RemoteUserHandling=\"false\" X.509Token=\"false\" SAMLToken=\"false\" KerberosToken=\"false\" UsernameToken=\"true\" HttpDigest=\"true\" RELToken=\"false\" MaxUsers=\"{}\" MaxUserNameLength=\"{}\" MaxPasswordLength=\"{}\"/>\
         <tds:System DiscoveryResolve=\"false\" DiscoveryBye=\"{}\" RemoteDiscovery=\"false\" SystemBackup=\"false\" SystemLogging=\"false\" FirmwareUpgrade=\"false\" HttpFirmwareUpgrade=\"false\" HttpSystemBackup=\"false\" HttpSystemLogging=\"false\" HttpSupportInformation=\"false\"/>\
         </tds:Capabilities>",
        bool_str(c.tls12),
        c.max_users,
        c.max_username_length,
        c.max_password_length,
        bool_str(c.discovery_bye)
    )
}

/// `GetServiceCapabilitiesResponse` of the device service.
pub fn service_capabilities(c: &DeviceCapabilities) -> String {
    format!(
        "<tds:GetServiceCapabilitiesResponse>{}</tds:GetServiceCapabilitiesResponse>",
        device_service_capabilities_element(c)
    )
}

/// One entry of GetServices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The service's namespace (e.g. [`crate::ns::TDS`], [`crate::ns::TRT`]).
    pub namespace: String,
    /// Its address: the camera's own, on the transport the request came in on.
    pub xaddr: String,
    /// Its capabilities element, when the request asked for them.
    pub capabilities: Option<String>,
}

/// `GetServicesResponse`.
pub fn services(services: &[Service]) -> String {
    let mut out = String::from("<tds:GetServicesResponse>");
    for s in services {
        out.push_str("<tds:Service>");
        el(&mut out, "tds:Namespace", &s.namespace);
        el(&mut out, "tds:XAddr", &s.xaddr);
        if let Some(c) = &s.capabilities {
            out.push_str("<tds:Capabilities>");
            out.push_str(c);
            out.push_str("</tds:Capabilities>");
        }
        out.push_str("<tds:Version>");
        el(&mut out, "tt:Major", &ONVIF_VERSION.0.to_string());
        el(&mut out, "tt:Minor", &ONVIF_VERSION.1.to_string());
        out.push_str("</tds:Version></tds:Service>");
    }
    out.push_str("</tds:GetServicesResponse>");
    out
}

/// `GetCapabilitiesResponse` (the older call): device and/or media, as asked.
pub fn capabilities(
    c: &DeviceCapabilities,
    device_xaddr: Option<&str>,
    media_xaddr: Option<&str>,
) -> String {
    let mut out = String::from("<tds:GetCapabilitiesResponse><tds:Capabilities>");
    if let Some(xaddr) = device_xaddr {
        out.push_str("<tt:Device>");
        el(&mut out, "tt:XAddr", xaddr);
        out.push_str(
            "<tt:Network><tt:IPFilter>false</tt:IPFilter><tt:ZeroConfiguration>false</tt:ZeroConfiguration>\
             <tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS></tt:Network>",
        );
        out.push_str(&format!(
            "<tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>{}</tt:DiscoveryBye>\
             <tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup>\
             <tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>false</tt:FirmwareUpgrade>\
             <tt:SupportedVersions><tt:Major>{}</tt:Major><tt:Minor>{}</tt:Minor></tt:SupportedVersions></tt:System>",
            bool_str(c.discovery_bye),
            ONVIF_VERSION.0,
            ONVIF_VERSION.1
        ));
        out.push_str(&format!(
            "<tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>{}</tt:TLS1.2>\
             <tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration><tt:AccessPolicyConfig>false</tt:AccessPolicyConfig>\
             <tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>false</tt:SAMLToken>\
             <tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false</tt:RELToken></tt:Security></tt:Device>",
            bool_str(c.tls12)
        ));
    }
    if let Some(xaddr) = media_xaddr {
        out.push_str("<tt:Media>");
        el(&mut out, "tt:XAddr", xaddr);
        out.push_str(
            "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>\
             <tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>",
        );
    }
    out.push_str("</tds:Capabilities></tds:GetCapabilitiesResponse>");
    out
}

/// `GetHostnameResponse`.
pub fn hostname(name: &str) -> String {
    let mut out = String::from(
        "<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP>",
    );
    el(&mut out, "tt:Name", name);
    out.push_str("</tds:HostnameInformation></tds:GetHostnameResponse>");
    out
}

/// One scope of GetScopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The scope URI.
    pub uri: String,
    /// `Fixed` (true) or `Configurable`.
    pub fixed: bool,
}

/// `GetScopesResponse`.
pub fn scopes(scopes: &[Scope]) -> String {
    let mut out = String::from("<tds:GetScopesResponse>");
    for s in scopes {
        out.push_str("<tds:Scopes>");
        el(
            &mut out,
            "tt:ScopeDef",
            if s.fixed { "Fixed" } else { "Configurable" },
        );
        el(&mut out, "tt:ScopeItem", &s.uri);
        out.push_str("</tds:Scopes>");
    }
    out.push_str("</tds:GetScopesResponse>");
    out
}

/// `GetUsersResponse` (names and levels; never a password).
pub fn users(users: &[(String, UserLevel)]) -> String {
    let mut out = String::from("<tds:GetUsersResponse>");
    for (name, level) in users {
        out.push_str("<tds:User>");
        el(&mut out, "tt:Username", name);
        el(&mut out, "tt:UserLevel", level.as_str());
        out.push_str("</tds:User>");
    }
    out.push_str("</tds:GetUsersResponse>");
    out
}

/// `GetDiscoveryModeResponse`.
pub fn discovery_mode(discoverable: bool) -> String {
    format!(
        "<tds:GetDiscoveryModeResponse><tds:DiscoveryMode>{}</tds:DiscoveryMode></tds:GetDiscoveryModeResponse>",
        if discoverable {
            "Discoverable"
        } else {
            "NonDiscoverable"
        }
    )
}

/// `GetEndpointReferenceResponse` (the WS-Discovery endpoint address, `urn:uuid:...`).
pub fn endpoint_reference(guid: &str) -> String {
    let mut out = String::from("<tds:GetEndpointReferenceResponse>");
    el(&mut out, "tds:GUID", guid);
    out.push_str("</tds:GetEndpointReferenceResponse>");
    out
}

/// `GetWsdlUrlResponse` (ONVIF's own WSDL index).
pub fn wsdl_url() -> String {
    "<tds:GetWsdlUrlResponse><tds:WsdlUrl>http://www.onvif.org/Documents/Specifications.aspx</tds:WsdlUrl></tds:GetWsdlUrlResponse>".to_string()
}

/// `SystemRebootResponse` with its message.
pub fn system_reboot(message: &str) -> String {
    let mut out = String::from("<tds:SystemRebootResponse>");
    el(&mut out, "tds:Message", message);
    out.push_str("</tds:SystemRebootResponse>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ns;
    use crate::soap::{self, SoapVersion};
    use crate::xml::{Element, Limits};

    fn body(xml: &str) -> Element {
        let doc = soap::render(SoapVersion::V12, None, xml);
        soap::parse(doc.as_bytes(), &Limits::default())
            .unwrap()
            .body
    }

    fn caps() -> DeviceCapabilities {
        DeviceCapabilities {
            max_users: 8,
            max_username_length: 32,
            max_password_length: 128,
            tls12: true,
            discovery_bye: true,
        }
    }

    #[test]
    fn date_and_time_in_utc_fields() {
        let b = body(&system_date_and_time(&SystemDateTime {
            manual: true,
            daylight_savings: false,
            time_zone: "UTC0".into(),
            utc_ms: 1_796_193_601_999,
            local_ms: None,
        }));
        let sdt = b.child(ns::TDS, "SystemDateAndTime").unwrap();
        assert_eq!(sdt.child_text(ns::TT, "DateTimeType"), Some("Manual"));
        let utc = sdt.child(ns::TT, "UTCDateTime").unwrap();
        let date = utc.child(ns::TT, "Date").unwrap();
        let time = utc.child(ns::TT, "Time").unwrap();
        let got: Vec<&str> = [
            date.child_text(ns::TT, "Year"),
            date.child_text(ns::TT, "Month"),
            date.child_text(ns::TT, "Day"),
            time.child_text(ns::TT, "Hour"),
            time.child_text(ns::TT, "Minute"),
            time.child_text(ns::TT, "Second"),
        ]
        .into_iter()
        .map(Option::unwrap)
        .collect();
        assert_eq!(got, ["2026", "12", "2", "6", "40", "1"]);
        assert!(sdt.child(ns::TT, "LocalDateTime").is_none());
        // Order as in the schema.
        let order: Vec<&str> = sdt.children.iter().map(|c| c.local.as_str()).collect();
        assert_eq!(
            order,
            ["DateTimeType", "DaylightSavings", "TimeZone", "UTCDateTime"]
        );
    }

    #[test]
    fn interfaces_carry_the_mac() {
        let b = body(&network_interfaces(&[NetworkInterface {
            token: "eth0".into(),
            name: "eth0".into(),
            hw_address: "02:00:00:00:00:01".into(),
            mtu: 1500,
            ipv4: Some(Ipv4 {
                address: "127.0.0.2".into(),
                prefix_length: 8,
                dhcp: false,
            }),
        }]));
        let ni = b.child(ns::TDS, "NetworkInterfaces").unwrap();
        assert_eq!(ni.attr(None, "token"), Some("eth0"));
        let info = ni.child(ns::TT, "Info").unwrap();
        assert_eq!(
            info.child_text(ns::TT, "HwAddress"),
            Some("02:00:00:00:00:01")
        );
        let manual = ni
            .child(ns::TT, "IPv4")
            .and_then(|v| v.child(ns::TT, "Config"))
            .and_then(|c| c.child(ns::TT, "Manual"))
            .unwrap();
        assert_eq!(manual.child_text(ns::TT, "Address"), Some("127.0.0.2"));
    }

    #[test]
    fn capabilities_and_services() {
        let b = body(&service_capabilities(&caps()));
        let sec = b
            .child(ns::TDS, "Capabilities")
            .and_then(|c| c.child(ns::TDS, "Security"))
            .unwrap();
        assert_eq!(sec.attr(None, "MaxUsers"), Some("8"));
        assert_eq!(sec.attr(None, "MaxUserNameLength"), Some("32"));
        assert_eq!(sec.attr(None, "MaxPasswordLength"), Some("128"));
        assert_eq!(sec.attr(None, "UsernameToken"), Some("true"));
        assert_eq!(sec.attr(None, "HttpDigest"), Some("true"));

        let b = body(&services(&[
            Service {
                namespace: ns::TDS.into(),
                xaddr: "http://127.0.0.2:8080/onvif/device_service".into(),
                capabilities: Some(device_service_capabilities_element(&caps())),
            },
            Service {
                namespace: ns::TRT.into(),
                xaddr: "http://127.0.0.2:8080/onvif/media_service".into(),
                capabilities: None,
            },
        ]));
        let svc: Vec<&Element> = b.children_named(ns::TDS, "Service").collect();
        assert_eq!(svc.len(), 2);
        assert_eq!(svc[1].child_text(ns::TDS, "Namespace"), Some(ns::TRT));
        assert!(
            svc[0]
                .child(ns::TDS, "Capabilities")
                .and_then(|c| c.child(ns::TDS, "Capabilities"))
                .is_some()
        );
        assert_eq!(
            svc[0]
                .child(ns::TDS, "Version")
                .and_then(|v| v.child_text(ns::TT, "Major")),
            Some("2")
        );

        let b = body(&capabilities(&caps(), Some("https://d"), Some("https://m")));
        let c = b.child(ns::TDS, "Capabilities").unwrap();
        assert_eq!(
            c.child(ns::TT, "Media")
                .and_then(|m| m.child_text(ns::TT, "XAddr")),
            Some("https://m")
        );
        assert_eq!(
            c.child(ns::TT, "Device")
                .and_then(|m| m.child_text(ns::TT, "XAddr")),
            Some("https://d")
        );
        let only_media = body(&capabilities(&caps(), None, Some("https://m")));
        assert!(only_media.children[0].child(ns::TT, "Device").is_none());
    }

    #[test]
    fn small_responses_are_well_formed_and_escaped() {
        let b = body(&device_information(&DeviceInformation {
            manufacturer: "camkey".into(),
            model: "IPC4K15".into(),
            firmware_version: "1.0 <lab>".into(),
            serial_number: "IPC4K15-000001".into(),
            hardware_id: "IPC4K15".into(),
        }));
        assert_eq!(b.child_text(ns::TDS, "FirmwareVersion"), Some("1.0 <lab>"));
        assert_eq!(
            b.child_text(ns::TDS, "SerialNumber"),
            Some("IPC4K15-000001")
        );
        let b = body(&users(&[
            ("admin".into(), UserLevel::Administrator),
            ("nvr&1".into(), UserLevel::Operator),
        ]));
        let names: Vec<_> = b
            .children_named(ns::TDS, "User")
            .map(|u| {
                (
                    u.child_text(ns::TT, "Username").unwrap(),
                    u.child_text(ns::TT, "UserLevel").unwrap(),
                )
            })
            .collect();
        assert_eq!(names, [("admin", "Administrator"), ("nvr&1", "Operator")]);
        let b = body(&scopes(&[Scope {
            uri: "onvif://www.onvif.org/Profile/Streaming".into(),
            fixed: true,
        }]));
        assert_eq!(
            b.child(ns::TDS, "Scopes")
                .and_then(|s| s.child_text(ns::TT, "ScopeDef")),
            Some("Fixed")
        );
        assert_eq!(
            body(&discovery_mode(false)).child_text(ns::TDS, "DiscoveryMode"),
            Some("NonDiscoverable")
        );
        assert_eq!(
            body(&endpoint_reference("urn:uuid:1")).child_text(ns::TDS, "GUID"),
            Some("urn:uuid:1")
        );
        assert!(
            body(&hostname("cam"))
                .child(ns::TDS, "HostnameInformation")
                .is_some()
        );
        assert!(body(&wsdl_url()).is(ns::TDS, "GetWsdlUrlResponse"));
        assert!(body(&system_reboot("Rebooting")).is(ns::TDS, "SystemRebootResponse"));
        assert!(body(&empty("CreateUsers")).is(ns::TDS, "CreateUsersResponse"));
    }
}
