//! The ONVIF device service (`tds`, `http://www.onvif.org/ver10/device/wsdl`): the
//! operations camkey answers, what access each needs, and their responses.
//!
//! [`DeviceRequest::parse`] turns the Body's element into a typed request, its arguments
//! bounded and checked (`ter:InvalidArgVal` otherwise; an operation camkey does not
//! implement is `ter:ActionNotSupported`). [`DeviceRequest::access`] is the level ONVIF
//! Core 5.9.4 gives it. The camera decides who the caller is and what to do; the
//! [`response`] renderers turn its plain answers into response bodies.
//!
//! # Layout
//!
//! - [`response`]: the response bodies, from plain structs.

pub mod response;

use crate::args::{self, at_most, bounded, invalid, required};
use crate::ns;
use crate::soap::{Fault, Subcode};
use crate::xml::Element;

/// Most users in one CreateUsers or SetUser request, and most names in one DeleteUsers.
pub const MAX_USERS_PER_REQUEST: usize = 16;
/// Longest username read (bytes); the camera's own, shorter, limit is its policy.
pub const MAX_USERNAME_BYTES: usize = 64;
/// Longest password read (bytes); the camera's own limit is its policy.
pub const MAX_PASSWORD_BYTES: usize = 512;
/// Longest `TZ` read.
pub const MAX_TZ_BYTES: usize = 64;

/// The access an operation needs (ONVIF Core 5.9.4 user levels), lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// No credentials needed (`PRE_AUTH`).
    Anonymous,
    /// Any signed-in user (`READ_SYSTEM`, media reads).
    User,
    /// Operators and administrators.
    Operator,
    /// Administrators only (`WRITE_SYSTEM`, `UNRECOVERABLE`).
    Administrator,
}

/// An ONVIF user level, as CreateUsers, SetUser and GetUsers carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserLevel {
    /// `Administrator`.
    Administrator,
    /// `Operator`.
    Operator,
    /// `User`.
    User,
}

impl UserLevel {
    /// The schema name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserLevel::Administrator => "Administrator",
            UserLevel::Operator => "Operator",
            UserLevel::User => "User",
        }
    }

    /// The access this level grants.
    pub fn access(self) -> Access {
        match self {
            UserLevel::Administrator => Access::Administrator,
            UserLevel::Operator => Access::Operator,
            UserLevel::User => Access::User,
        }
    }
}

/// A user in CreateUsers or SetUser.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The account name (trimmed).
    pub username: String,
    /// The password, as sent (not trimmed); `None` when left out (SetUser keeps the old).
    pub password: Option<String>,
    /// The level.
    pub level: UserLevel,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("level", &self.level)
            .finish()
    }
}

/// SetSystemDateAndTime's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetDateTime {
    /// `DateTimeType`: true for `Manual`, false for `NTP`.
    pub manual: bool,
    /// `DaylightSavings`.
    pub daylight_savings: bool,
    /// `TimeZone/TZ` (POSIX TZ), if given.
    pub time_zone: Option<String>,
    /// `UTCDateTime` as unix milliseconds, if given (required for Manual).
    pub utc_ms: Option<i64>,
}

/// GetCapabilities categories asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Categories {
    /// The device category (or All).
    pub device: bool,
    /// The media category (or All).
    pub media: bool,
}

/// A device service request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceRequest {
    /// `GetSystemDateAndTime`.
    GetSystemDateAndTime,
    /// `SetSystemDateAndTime`.
    SetSystemDateAndTime(SetDateTime),
    /// `GetServices` (`IncludeCapability`).
    GetServices {
        /// Whether each service's capabilities are included.
        include_capability: bool,
    },
    /// `GetServiceCapabilities`.
    GetServiceCapabilities,
    /// `GetCapabilities`.
    GetCapabilities(Categories),
    /// `GetHostname`.
    GetHostname,
    /// `GetWsdlUrl`.
    GetWsdlUrl,
    /// `GetEndpointReference`.
    GetEndpointReference,
    /// `GetDeviceInformation`.
    GetDeviceInformation,
    /// `GetNetworkInterfaces`.
    GetNetworkInterfaces,
    /// `GetScopes`.
    GetScopes,
    /// `GetDiscoveryMode`.
    GetDiscoveryMode,
    /// `SetDiscoveryMode` (true: `Discoverable`).
    SetDiscoveryMode(bool),
    /// `GetUsers`.
    GetUsers,
    /// `CreateUsers`.
    CreateUsers(Vec<User>),
    /// `SetUser`.
    SetUser(Vec<User>),
    /// `DeleteUsers`.
    DeleteUsers(Vec<String>),
    /// `SystemReboot`.
    SystemReboot,
    /// `SetSystemFactoryDefault` (true: `Hard`).
    SetSystemFactoryDefault {
        /// `Hard` (wipe like the button) rather than `Soft` (keep network settings).
        hard: bool,
    },
}

impl DeviceRequest {
    /// Reads the Body's element. Elements outside the `tds` namespace or operations camkey
    /// does not implement are `ter:ActionNotSupported`; bad arguments `ter:InvalidArgVal`.
    pub fn parse(body: &Element) -> Result<DeviceRequest, Fault> {
        if body.ns != ns::TDS {
            return Err(not_supported());
        }
        let t = ns::TDS;
        Ok(match body.local.as_str() {
            "GetSystemDateAndTime" => DeviceRequest::GetSystemDateAndTime,
            "SetSystemDateAndTime" => DeviceRequest::SetSystemDateAndTime(set_date_time(body)?),
            "GetServices" => DeviceRequest::GetServices {
                include_capability: match body.child_text(t, "IncludeCapability") {
                    Some(v) => args::boolean(v, "IncludeCapability")?,
                    None => false,
                },
            },
            "GetServiceCapabilities" => DeviceRequest::GetServiceCapabilities,
            "GetCapabilities" => DeviceRequest::GetCapabilities(categories(body)?),
            "GetHostname" => DeviceRequest::GetHostname,
            "GetWsdlUrl" => DeviceRequest::GetWsdlUrl,
            "GetEndpointReference" => DeviceRequest::GetEndpointReference,
            "GetDeviceInformation" => DeviceRequest::GetDeviceInformation,
            "GetNetworkInterfaces" => DeviceRequest::GetNetworkInterfaces,
            "GetScopes" => DeviceRequest::GetScopes,
            "GetDiscoveryMode" => DeviceRequest::GetDiscoveryMode,
            "SetDiscoveryMode" => {
                DeviceRequest::SetDiscoveryMode(match required(body, t, "DiscoveryMode")? {
                    "Discoverable" => true,
                    "NonDiscoverable" => false,
                    _ => return Err(invalid("DiscoveryMode")),
                })
            }
            "GetUsers" => DeviceRequest::GetUsers,
            "CreateUsers" => DeviceRequest::CreateUsers(users(body, true)?),
            "SetUser" => DeviceRequest::SetUser(users(body, false)?),
            "DeleteUsers" => {
                let names = body
                    .children_named(t, "Username")
                    .map(|u| username(u.text()))
                    .collect::<Result<Vec<_>, _>>()?;
                if names.is_empty() {
                    return Err(invalid("Username"));
                }
                DeviceRequest::DeleteUsers(at_most(names, "Username", MAX_USERS_PER_REQUEST)?)
            }
            "SystemReboot" => DeviceRequest::SystemReboot,
            "SetSystemFactoryDefault" => DeviceRequest::SetSystemFactoryDefault {
                hard: match required(body, t, "FactoryDefault")? {
                    "Hard" => true,
                    "Soft" => false,
                    _ => return Err(invalid("FactoryDefault")),
                },
            },
            _ => return Err(not_supported()),
        })
    }

    /// The access the operation needs (ONVIF Core 5.9.4).
    pub fn access(&self) -> Access {
        use DeviceRequest::*;
        match self {
            GetSystemDateAndTime
            | GetServices { .. }
            | GetServiceCapabilities
            | GetCapabilities(_)
            | GetHostname
            | GetWsdlUrl
            | GetEndpointReference => Access::Anonymous,
            GetDeviceInformation | GetNetworkInterfaces | GetScopes | GetDiscoveryMode => {
                Access::User
            }
            GetUsers
            | CreateUsers(_)
            | SetUser(_)
            | DeleteUsers(_)
            | SetSystemDateAndTime(_)
            | SystemReboot
            | SetSystemFactoryDefault { .. }
            | SetDiscoveryMode(_) => Access::Administrator,
        }
    }

    /// Whether the request carries a password in clear (refused over plain HTTP).
    pub fn carries_password(&self) -> bool {
        match self {
            DeviceRequest::CreateUsers(users) | DeviceRequest::SetUser(users) => {
                users.iter().any(|u| u.password.is_some())
            }
            _ => false,
        }
    }

    /// The operation's name, for logs and the audit log.
    pub fn name(&self) -> &'static str {
        use DeviceRequest::*;
        match self {
            GetSystemDateAndTime => "GetSystemDateAndTime",
            SetSystemDateAndTime(_) => "SetSystemDateAndTime",
            GetServices { .. } => "GetServices",
            GetServiceCapabilities => "GetServiceCapabilities",
            GetCapabilities(_) => "GetCapabilities",
            GetHostname => "GetHostname",
            GetWsdlUrl => "GetWsdlUrl",
            GetEndpointReference => "GetEndpointReference",
            GetDeviceInformation => "GetDeviceInformation",
            GetNetworkInterfaces => "GetNetworkInterfaces",
            GetScopes => "GetScopes",
            GetDiscoveryMode => "GetDiscoveryMode",
            SetDiscoveryMode(_) => "SetDiscoveryMode",
            GetUsers => "GetUsers",
            CreateUsers(_) => "CreateUsers",
            SetUser(_) => "SetUser",
            DeleteUsers(_) => "DeleteUsers",
            SystemReboot => "SystemReboot",
            SetSystemFactoryDefault { .. } => "SetSystemFactoryDefault",
        }
    }
}

fn not_supported() -> Fault {
    Fault::action_not_supported("The requested operation is not supported")
}

fn username(text: &str) -> Result<String, Fault> {
    let name = bounded(
        text.trim(),
        "Username",
        MAX_USERNAME_BYTES,
        Some(Subcode::UsernameTooLong),
    )?;
    if name.is_empty() {
        return Err(invalid("Username"));
    }
    Ok(name)
}

fn users(body: &Element, password_required: bool) -> Result<Vec<User>, Fault> {
    let t = ns::TDS;
    let mut out = Vec::new();
    for u in body.children_named(t, "User") {
        let name = username(required(u, ns::TT, "Username")?)?;
        let password = match u.child(ns::TT, "Password") {
            Some(p) => Some(bounded(
                &p.text,
                "Password",
                MAX_PASSWORD_BYTES,
                Some(Subcode::PasswordTooLong),
            )?),
            None if password_required => return Err(invalid("Password")),
            None => None,
        };
        let level = match required(u, ns::TT, "UserLevel")? {
            "Administrator" => UserLevel::Administrator,
            "Operator" => UserLevel::Operator,
            "User" => UserLevel::User,
            "Anonymous" => {
                return Err(Fault::sender(
                    Subcode::OperationProhibited,
                    "Anonymous users are not supported",
                )
                .with(Subcode::AnonymousNotAllowed));
            }
            _ => return Err(invalid("UserLevel")),
        };
        if out.iter().any(|o: &User| o.username == name) {
            return Err(invalid("Username"));
        }
        if out.len() == MAX_USERS_PER_REQUEST {
            return Err(Fault::invalid_arg(format!(
                "Too many User (at most {MAX_USERS_PER_REQUEST})"
            )));
        }
        out.push(User {
            username: name,
            password,
            level,
        });
    }
    if out.is_empty() {
        return Err(invalid("User"));
    }
    Ok(out)
}

fn set_date_time(body: &Element) -> Result<SetDateTime, Fault> {
    let t = ns::TDS;
    let manual = match required(body, t, "DateTimeType")? {
        "Manual" => true,
        "NTP" => false,
        _ => return Err(invalid("DateTimeType")),
    };
    let daylight_savings = match body.child_text(t, "DaylightSavings") {
        Some(v) => args::boolean(v, "DaylightSavings")?,
        None => false,
    };
    let time_zone = match body.child(t, "TimeZone") {
        Some(tz) => {
            let text = required(tz, ns::TT, "TZ")?;
            let tz = bounded(text, "TZ", MAX_TZ_BYTES, None).map_err(|_| time_zone_fault())?;
            Some(tz)
        }
        None => None,
    };
    let utc_ms = match body.child(t, "UTCDateTime") {
        Some(dt) => Some(date_time(dt)?),
        None => None,
    };
    if manual && utc_ms.is_none() {
        return Err(invalid("UTCDateTime"));
    }
    Ok(SetDateTime {
        manual,
        daylight_savings,
        time_zone,
        utc_ms,
    })
}

fn time_zone_fault() -> Fault {
    Fault::invalid_arg("Invalid time zone").with(Subcode::InvalidTimeZone)
}

/// A `tt:DateTime` (`Date/Year,Month,Day`, `Time/Hour,Minute,Second`) as unix ms.
fn date_time(el: &Element) -> Result<i64, Fault> {
    let bad = || Fault::invalid_arg("Invalid date or time").with(Subcode::InvalidDateTime);
    let date = el.child(ns::TT, "Date").ok_or_else(bad)?;
    let time = el.child(ns::TT, "Time").ok_or_else(bad)?;
    let field = |e: &Element, name: &str, lo: i64, hi: i64| -> Result<i64, Fault> {
        let text = e.child_text(ns::TT, name).ok_or_else(bad)?;
        args::int(text, name, lo, hi).map_err(|_| bad())
    };
    let year = field(date, "Year", 1970, 9999)?;
    let month = field(date, "Month", 1, 12)?;
    let day = field(date, "Day", 1, 31)?;
    let hour = field(time, "Hour", 0, 23)?;
    let minute = field(time, "Minute", 0, 59)?;
    let second = field(time, "Second", 0, 59)?;
    let month =
        time::Month::try_from(u8::try_from(month).map_err(|_| bad())?).map_err(|_| bad())?;
    let d = time::Date::from_calendar_date(
        i32::try_from(year).map_err(|_| bad())?,
        month,
        u8::try_from(day).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    let t = time::Time::from_hms(
        u8::try_from(hour).map_err(|_| bad())?,
        u8::try_from(minute).map_err(|_| bad())?,
        u8::try_from(second).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    Ok(time::PrimitiveDateTime::new(d, t)
        .assume_utc()
        .unix_timestamp()
        * 1000)
}

fn categories(body: &Element) -> Result<Categories, Fault> {
    let mut cats = Categories::default();
    let mut any = false;
    for c in body.children_named(ns::TDS, "Category") {
        any = true;
        match c.text() {
            "All" => {
                cats.device = true;
                cats.media = true;
            }
            "Device" => cats.device = true,
            "Media" => cats.media = true,
            "Analytics" | "Events" | "Imaging" | "PTZ" => {}
            _ => return Err(invalid("Category")),
        }
    }
    if !any {
        return Ok(Categories {
            device: true,
            media: true,
        });
    }
    if !cats.device && !cats.media {
        return Err(Fault::action_not_supported("No such service").with(Subcode::NoSuchService));
    }
    Ok(cats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap::{self, FaultCode, SoapVersion};
    use crate::xml::Limits;

    /// A body as onvif-zeep-async writes it: its own `ns0`/`ns1` prefixes on the elements.
    fn zeep(op: &str, inner: &str) -> Element {
        let doc = format!(
            "<soap-env:Envelope xmlns:soap-env=\"{}\"><soap-env:Body><ns0:{op} xmlns:ns0=\"{}\" xmlns:ns1=\"{}\">{inner}</ns0:{op}></soap-env:Body></soap-env:Envelope>",
            ns::SOAP12,
            ns::TDS,
            ns::TT
        );
        soap::parse(doc.as_bytes(), &Limits::default())
            .unwrap()
            .body
    }

    fn parse(op: &str, inner: &str) -> Result<DeviceRequest, Fault> {
        DeviceRequest::parse(&zeep(op, inner))
    }

    #[test]
    fn every_operation_parses_with_its_access() {
        use Access::*;
        let table: Vec<(&str, &str, Access)> = vec![
            ("GetSystemDateAndTime", "", Anonymous),
            (
                "GetServices",
                "<ns0:IncludeCapability>true</ns0:IncludeCapability>",
                Anonymous,
            ),
            ("GetServiceCapabilities", "", Anonymous),
            (
                "GetCapabilities",
                "<ns0:Category>All</ns0:Category>",
                Anonymous,
            ),
            ("GetHostname", "", Anonymous),
            ("GetWsdlUrl", "", Anonymous),
            ("GetEndpointReference", "", Anonymous),
            ("GetDeviceInformation", "", User),
            ("GetNetworkInterfaces", "", User),
            ("GetScopes", "", User),
            ("GetDiscoveryMode", "", User),
            (
                "SetDiscoveryMode",
                "<ns0:DiscoveryMode>NonDiscoverable</ns0:DiscoveryMode>",
                Administrator,
            ),
            ("GetUsers", "", Administrator),
            (
                "CreateUsers",
                "<ns0:User><ns1:Username>nvr</ns1:Username><ns1:Password>Pw-1234567</ns1:Password><ns1:UserLevel>Operator</ns1:UserLevel></ns0:User>",
                Administrator,
            ),
            (
                "SetUser",
                "<ns0:User><ns1:Username>nvr</ns1:Username><ns1:UserLevel>User</ns1:UserLevel></ns0:User>",
                Administrator,
            ),
            (
                "DeleteUsers",
                "<ns0:Username>nvr</ns0:Username>",
                Administrator,
            ),
            (
                "SetSystemDateAndTime",
                "<ns0:DateTimeType>Manual</ns0:DateTimeType><ns0:DaylightSavings>false</ns0:DaylightSavings><ns0:TimeZone><ns1:TZ>UTC0</ns1:TZ></ns0:TimeZone><ns0:UTCDateTime><ns1:Time><ns1:Hour>6</ns1:Hour><ns1:Minute>40</ns1:Minute><ns1:Second>1</ns1:Second></ns1:Time><ns1:Date><ns1:Year>2026</ns1:Year><ns1:Month>12</ns1:Month><ns1:Day>2</ns1:Day></ns1:Date></ns0:UTCDateTime>",
                Administrator,
            ),
            ("SystemReboot", "", Administrator),
            (
                "SetSystemFactoryDefault",
                "<ns0:FactoryDefault>Soft</ns0:FactoryDefault>",
                Administrator,
            ),
        ];
        for (op, inner, access) in table {
            let req = parse(op, inner).unwrap_or_else(|f| panic!("{op}: {f:?}"));
            assert_eq!(req.name(), op);
            assert_eq!(req.access(), access, "{op}");
        }
    }

    #[test]
    fn arguments_are_read() {
        assert_eq!(
            parse(
                "SetSystemDateAndTime",
                "<ns0:DateTimeType>Manual</ns0:DateTimeType><ns0:DaylightSavings>true</ns0:DaylightSavings><ns0:UTCDateTime><ns1:Time><ns1:Hour>6</ns1:Hour><ns1:Minute>40</ns1:Minute><ns1:Second>1</ns1:Second></ns1:Time><ns1:Date><ns1:Year>2026</ns1:Year><ns1:Month>12</ns1:Month><ns1:Day>2</ns1:Day></ns1:Date></ns0:UTCDateTime>"
            ),
            Ok(DeviceRequest::SetSystemDateAndTime(SetDateTime {
                manual: true,
                daylight_savings: true,
                time_zone: None,
                utc_ms: Some(1_796_193_601_000),
            }))
        );
        let users = match parse(
            "CreateUsers",
            "<ns0:User><ns1:Username> nvr </ns1:Username><ns1:Password> Pw 1234567</ns1:Password><ns1:UserLevel>Administrator</ns1:UserLevel></ns0:User><ns0:User><ns1:Username>view</ns1:Username><ns1:Password>x</ns1:Password><ns1:UserLevel>User</ns1:UserLevel></ns0:User>",
        ) {
            Ok(DeviceRequest::CreateUsers(u)) => u,
            other => panic!("{other:?}"),
        };
        assert_eq!(users[0].username, "nvr");
        assert_eq!(users[0].password.as_deref(), Some(" Pw 1234567"));
        assert_eq!(users[1].level, UserLevel::User);
        assert!(!format!("{:?}", users[0]).contains("1234567"));
        assert!(DeviceRequest::CreateUsers(users).carries_password());
        let set = parse("SetUser", "<ns0:User><ns1:Username>nvr</ns1:Username><ns1:UserLevel>User</ns1:UserLevel></ns0:User>").unwrap();
        assert!(!set.carries_password());
        assert_eq!(
            parse("GetCapabilities", "<ns0:Category>Media</ns0:Category>"),
            Ok(DeviceRequest::GetCapabilities(Categories {
                device: false,
                media: true
            }))
        );
        assert_eq!(
            parse("GetCapabilities", ""),
            Ok(DeviceRequest::GetCapabilities(Categories {
                device: true,
                media: true
            }))
        );
        assert_eq!(
            parse("GetServices", ""),
            Ok(DeviceRequest::GetServices {
                include_capability: false
            })
        );
        assert_eq!(
            parse(
                "SetSystemFactoryDefault",
                "<ns0:FactoryDefault>Hard</ns0:FactoryDefault>"
            ),
            Ok(DeviceRequest::SetSystemFactoryDefault { hard: true })
        );
        assert_eq!(
            parse(
                "DeleteUsers",
                "<ns0:Username>a</ns0:Username><ns0:Username>b</ns0:Username>"
            ),
            Ok(DeviceRequest::DeleteUsers(vec!["a".into(), "b".into()]))
        );
    }

    #[test]
    fn bad_arguments_are_invalid_arg_faults() {
        let many_users: String = (0..17)
            .map(|i| format!("<ns0:User><ns1:Username>u{i}</ns1:Username><ns1:Password>p</ns1:Password><ns1:UserLevel>User</ns1:UserLevel></ns0:User>"))
            .collect();
        let dt = |y: &str, mo: &str, d: &str, h: &str| {
            format!(
                "<ns0:DateTimeType>Manual</ns0:DateTimeType><ns0:DaylightSavings>false</ns0:DaylightSavings><ns0:UTCDateTime><ns1:Time><ns1:Hour>{h}</ns1:Hour><ns1:Minute>0</ns1:Minute><ns1:Second>0</ns1:Second></ns1:Time><ns1:Date><ns1:Year>{y}</ns1:Year><ns1:Month>{mo}</ns1:Month><ns1:Day>{d}</ns1:Day></ns1:Date></ns0:UTCDateTime>"
            )
        };
        let cases: Vec<(&str, String, Subcode)> = vec![
            ("SetDiscoveryMode", "<ns0:DiscoveryMode>Sometimes</ns0:DiscoveryMode>".into(), Subcode::InvalidArgVal),
            ("SetDiscoveryMode", String::new(), Subcode::InvalidArgVal),
            ("CreateUsers", String::new(), Subcode::InvalidArgVal),
            ("CreateUsers", "<ns0:User><ns1:Username>u</ns1:Username><ns1:UserLevel>User</ns1:UserLevel></ns0:User>".into(), Subcode::InvalidArgVal),
            ("CreateUsers", "<ns0:User><ns1:Username>u</ns1:Username><ns1:Password>p</ns1:Password><ns1:UserLevel>Root</ns1:UserLevel></ns0:User>".into(), Subcode::InvalidArgVal),
            ("CreateUsers", "<ns0:User><ns1:Username>u</ns1:Username><ns1:Password>p</ns1:Password><ns1:UserLevel>Anonymous</ns1:UserLevel></ns0:User>".into(), Subcode::OperationProhibited),
            ("CreateUsers", format!("<ns0:User><ns1:Username>{}</ns1:Username><ns1:Password>p</ns1:Password><ns1:UserLevel>User</ns1:UserLevel></ns0:User>", "u".repeat(65)), Subcode::OperationProhibited),
            ("CreateUsers", format!("<ns0:User><ns1:Username>u</ns1:Username><ns1:Password>{}</ns1:Password><ns1:UserLevel>User</ns1:UserLevel></ns0:User>", "p".repeat(513)), Subcode::OperationProhibited),
            ("CreateUsers", "<ns0:User><ns1:Username>u</ns1:Username><ns1:Password>a&#x7;b</ns1:Password><ns1:UserLevel>User</ns1:UserLevel></ns0:User>".into(), Subcode::InvalidArgVal),
            ("CreateUsers", "<ns0:User><ns1:Username> </ns1:Username><ns1:Password>p</ns1:Password><ns1:UserLevel>User</ns1:UserLevel></ns0:User>".into(), Subcode::InvalidArgVal),
            ("CreateUsers", "<ns0:User><ns1:Username>u</ns1:Username><ns1:Password>p</ns1:Password><ns1:UserLevel>User</ns1:UserLevel></ns0:User><ns0:User><ns1:Username>u</ns1:Username><ns1:Password>q</ns1:Password><ns1:UserLevel>User</ns1:UserLevel></ns0:User>".into(), Subcode::InvalidArgVal),
            ("CreateUsers", many_users, Subcode::InvalidArgVal),
            ("DeleteUsers", String::new(), Subcode::InvalidArgVal),
            ("SetSystemDateAndTime", "<ns0:DateTimeType>Manual</ns0:DateTimeType><ns0:DaylightSavings>false</ns0:DaylightSavings>".into(), Subcode::InvalidArgVal),
            ("SetSystemDateAndTime", "<ns0:DateTimeType>Sundial</ns0:DateTimeType>".into(), Subcode::InvalidArgVal),
            ("SetSystemDateAndTime", dt("2026", "2", "30", "0"), Subcode::InvalidArgVal),
            ("SetSystemDateAndTime", dt("2026", "13", "1", "0"), Subcode::InvalidArgVal),
            ("SetSystemDateAndTime", dt("2026", "1", "1", "24"), Subcode::InvalidArgVal),
            ("SetSystemDateAndTime", dt("1969", "1", "1", "0"), Subcode::InvalidArgVal),
            ("SetSystemDateAndTime", dt("x", "1", "1", "0"), Subcode::InvalidArgVal),
            ("SetSystemDateAndTime", format!("<ns0:DateTimeType>NTP</ns0:DateTimeType><ns0:DaylightSavings>false</ns0:DaylightSavings><ns0:TimeZone><ns1:TZ>{}</ns1:TZ></ns0:TimeZone>", "x".repeat(65)), Subcode::InvalidArgVal),
            ("SetSystemFactoryDefault", "<ns0:FactoryDefault>Medium</ns0:FactoryDefault>".into(), Subcode::InvalidArgVal),
            ("GetServices", "<ns0:IncludeCapability>maybe</ns0:IncludeCapability>".into(), Subcode::InvalidArgVal),
            ("GetCapabilities", "<ns0:Category>Toaster</ns0:Category>".into(), Subcode::InvalidArgVal),
            ("GetCapabilities", "<ns0:Category>PTZ</ns0:Category>".into(), Subcode::ActionNotSupported),
        ];
        for (op, inner, first) in cases {
            let fault = parse(op, &inner).expect_err(op);
            assert_eq!(fault.subcodes[0], first, "{op} {inner:.120}: {fault:?}");
            // Faults never echo argument values.
            assert!(!fault.reason.contains("Toaster") && !fault.reason.contains("Sundial"));
        }
    }

    #[test]
    fn unknown_operations_are_not_supported() {
        for op in ["SetHostname", "UpgradeSystemFirmware", "GetSystemLog"] {
            let f = parse(op, "").unwrap_err();
            assert_eq!(f.code, FaultCode::Receiver);
            assert_eq!(f.subcodes, vec![Subcode::ActionNotSupported]);
        }
        let doc = soap::render(SoapVersion::V12, None, "<trt:GetProfiles/>");
        let body = soap::parse(doc.as_bytes(), &Limits::default())
            .unwrap()
            .body;
        assert_eq!(
            DeviceRequest::parse(&body).unwrap_err().subcodes,
            vec![Subcode::ActionNotSupported]
        );
    }

    #[test]
    fn levels_order_and_map() {
        assert!(Access::Anonymous < Access::User);
        assert!(Access::User < Access::Operator);
        assert!(Access::Operator < Access::Administrator);
        assert_eq!(UserLevel::Operator.access(), Access::Operator);
        assert_eq!(UserLevel::Administrator.as_str(), "Administrator");
    }
}
