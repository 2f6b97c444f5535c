//! The device service's operations on the camera: what each one reads from or does to the
//! core. Changes (users, time, discovery, reboot, factory default) are the core's, with
//! their audit entries; SystemReboot and SetSystemFactoryDefault answer first and act a
//! moment later, so the client hears the answer.

use super::{Endpoint, Incoming, OnvifService, fault_response, ok_response};
use crate::core::{CoreError, MAX_ACCOUNTS, NewUser, Source, USERNAME_MAX_CHARS};
use crate::state::Role;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use camkey_onvif::device::response::{self as r, DeviceCapabilities};
use camkey_onvif::device::{DeviceRequest, User, UserLevel};
use camkey_onvif::media;
use camkey_onvif::ns;
use camkey_onvif::soap::{Fault, Subcode};
use camkey_proto::api::NetworkSettings;
use camkey_proto::policy::PASSWORD_MAX_CHARS;
use camkey_web::client::Client;
use std::time::Duration;

/// How long SystemReboot and SetSystemFactoryDefault wait after answering.
const ACT_AFTER: Duration = Duration::from_millis(300);

/// `POST /onvif/device_service`.
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
    let request = match DeviceRequest::parse(&envelope.body) {
        Ok(r) => r,
        Err(fault) => return fault_response(v, &fault),
    };
    let admitted = match incoming
        .admit(envelope, request.access(), request.carries_password())
        .await
    {
        Ok(a) => a,
        Err(resp) => return *resp,
    };
    let by = admitted.caller.map(|c| c.user).unwrap_or_default();
    match run(&ep, request, &by, client.ip()).await {
        Ok(body) => ok_response(v, &body),
        Err(fault) => fault_response(v, &fault),
    }
}

/// The fault answering a body over [`super::MAX_BODY`].
pub fn too_large(incoming: &Incoming<'_>) -> Response {
    fault_response(
        incoming.guessed_version(),
        &Fault::sender(
            Subcode::WellFormed,
            format!("Request larger than {} bytes", super::MAX_BODY),
        ),
    )
}

fn capabilities() -> DeviceCapabilities {
    DeviceCapabilities {
        max_users: u32::try_from(MAX_ACCOUNTS).unwrap_or(u32::MAX),
        max_username_length: u32::try_from(USERNAME_MAX_CHARS).unwrap_or(u32::MAX),
        max_password_length: u32::try_from(PASSWORD_MAX_CHARS).unwrap_or(u32::MAX),
        tls12: true,
        discovery_bye: true,
    }
}

/// The scopes the camera advertises: exactly its WS-Discovery advert's
/// ([`crate::discovery::facts`]), so GetScopes and a probe never disagree.
pub fn scopes(svc: &OnvifService) -> Vec<r::Scope> {
    let facts = crate::discovery::facts(svc.core(), &svc.https_base, svc.http_base.as_deref());
    camkey_onvif::discovery::Advert::for_camera(&facts)
        .scopes
        .into_iter()
        .map(|uri| r::Scope { uri, fixed: true })
        .collect()
}

fn level_role(level: UserLevel) -> Role {
    match level {
        UserLevel::Administrator => Role::Administrator,
        UserLevel::Operator => Role::Operator,
        UserLevel::User => Role::User,
    }
}

fn role_level(role: Role) -> UserLevel {
    match role {
        Role::Administrator => UserLevel::Administrator,
        Role::Operator => UserLevel::Operator,
        Role::User => UserLevel::User,
    }
}

fn new_users(users: Vec<User>) -> Vec<NewUser> {
    users
        .into_iter()
        .map(|u| NewUser {
            name: u.username,
            password: u.password.unwrap_or_default(),
            role: level_role(u.level),
        })
        .collect()
}

/// The fault of a refusal by the core.
pub fn core_fault(e: CoreError) -> Fault {
    let reason = e.to_string();
    match e {
        CoreError::NotInitialized | CoreError::Forbidden => Fault::not_authorized(reason),
        CoreError::UserExists(_) => {
            Fault::sender(Subcode::OperationProhibited, reason).with(Subcode::UsernameClash)
        }
        CoreError::UnknownUser(_) => Fault::invalid_arg(reason).with(Subcode::UsernameMissing),
        CoreError::TooManyUsers => {
            Fault::receiver(Subcode::Action, reason).with(Subcode::TooManyUsers)
        }
        CoreError::AdminFixed => {
            Fault::sender(Subcode::OperationProhibited, reason).with(Subcode::FixedUser)
        }
        CoreError::UserNameInvalid => Fault::invalid_arg(reason),
        CoreError::Password(_) => {
            Fault::sender(Subcode::OperationProhibited, reason).with(Subcode::Password)
        }
        CoreError::BadSetting(_) => Fault::invalid_arg(reason).with(Subcode::InvalidDateTime),
        CoreError::Store(_) => {
            Fault::receiver(Subcode::Action, "The camera could not save the change")
        }
        _ => Fault::receiver(Subcode::Action, reason),
    }
}

async fn run(
    ep: &Endpoint,
    request: DeviceRequest,
    by: &str,
    source: Source,
) -> Result<String, Fault> {
    let svc = &ep.svc;
    let core = svc.core();
    let f = core.factory();
    let device_xaddr = format!("{}{}", svc.base(ep.transport), super::DEVICE_PATH);
    let media_xaddr = format!("{}{}", svc.base(ep.transport), super::MEDIA_PATH);
    Ok(match request {
        DeviceRequest::GetSystemDateAndTime => r::system_date_and_time(&r::SystemDateTime {
            manual: true,
            daylight_savings: false,
            time_zone: "UTC0".into(),
            utc_ms: core.clock().wall_ms(),
            local_ms: Some(core.clock().wall_ms()),
        }),
        DeviceRequest::GetServices { include_capability } => r::services(&[
            r::Service {
                namespace: ns::TDS.into(),
                xaddr: device_xaddr,
                capabilities: include_capability
                    .then(|| r::device_service_capabilities_element(&capabilities())),
            },
            r::Service {
                namespace: ns::TRT.into(),
                xaddr: media_xaddr,
                capabilities: include_capability.then(|| media::capabilities_element(true, 1)),
            },
        ]),
        DeviceRequest::GetServiceCapabilities => r::service_capabilities(&capabilities()),
        DeviceRequest::GetCapabilities(cats) => r::capabilities(
            &capabilities(),
            cats.device.then_some(device_xaddr.as_str()),
            cats.media.then_some(media_xaddr.as_str()),
        ),
        DeviceRequest::GetHostname => r::hostname(&hostname(&f.serial)),
        DeviceRequest::GetWsdlUrl => r::wsdl_url(),
        DeviceRequest::GetEndpointReference => {
            r::endpoint_reference(&camkey_onvif::discovery::endpoint_for_serial(&f.serial))
        }
        DeviceRequest::GetDeviceInformation => r::device_information(&r::DeviceInformation {
            manufacturer: "camkey".into(),
            model: f.model.clone(),
            firmware_version: f.firmware.clone(),
            serial_number: f.serial.clone(),
            hardware_id: f.model.clone(),
        }),
        DeviceRequest::GetNetworkInterfaces => r::network_interfaces(&[r::NetworkInterface {
            token: "eth0".into(),
            name: "eth0".into(),
            hw_address: f.mac.clone(),
            mtu: 1500,
            ipv4: ipv4(svc),
        }]),
        DeviceRequest::GetScopes => r::scopes(&scopes(svc)),
        DeviceRequest::GetDiscoveryMode => r::discovery_mode(core.discoverable()),
        DeviceRequest::SetDiscoveryMode(on) => {
            core.set_discoverable(on, by, source).map_err(core_fault)?;
            r::empty("SetDiscoveryMode")
        }
        DeviceRequest::GetUsers => {
            let users: Vec<(String, UserLevel)> = core
                .users()
                .into_iter()
                .map(|u| (u.name, role_level(u.role)))
                .collect();
            r::users(&users)
        }
        DeviceRequest::CreateUsers(users) => {
            core.create_users(by, new_users(users), source)
                .await
                .map_err(core_fault)?;
            r::empty("CreateUsers")
        }
        DeviceRequest::SetUser(users) => {
            core.set_users(by, new_users(users), source)
                .await
                .map_err(core_fault)?;
            r::empty("SetUser")
        }
        DeviceRequest::DeleteUsers(names) => {
            core.delete_users(by, &names, source).map_err(core_fault)?;
            r::empty("DeleteUsers")
        }
        DeviceRequest::SetSystemDateAndTime(set) => {
            if !set.manual {
                return Err(Fault::invalid_arg(
                    "This camera has no NTP server set: send DateTimeType Manual with UTCDateTime",
                )
                .with(Subcode::NtpServerUndefined));
            }
            let utc = set
                .utc_ms
                .ok_or_else(|| Fault::invalid_arg("UTCDateTime is required"))?;
            core.set_wall_clock_utc(utc, source).map_err(core_fault)?;
            r::empty("SetSystemDateAndTime")
        }
        DeviceRequest::SystemReboot => {
            let core = core.clone();
            let by = by.to_string();
            later(move || core.request_reboot(&by, source));
            r::system_reboot("Rebooting")
        }
        DeviceRequest::SetSystemFactoryDefault { hard } => {
            let core = core.clone();
            let by = by.to_string();
            later(move || core.factory_default(hard, &by, source));
            r::empty("SetSystemFactoryDefault")
        }
    })
}

/// The interface's IPv4 settings: the owner's static address, or the address the camera
/// serves on, from DHCP.
fn ipv4(svc: &OnvifService) -> Option<r::Ipv4> {
    match svc.core().state().network {
        NetworkSettings::Static { address, .. } => {
            let (addr, len) = address.split_once('/').unwrap_or((address.as_str(), "24"));
            Some(r::Ipv4 {
                address: addr.parse::<std::net::Ipv4Addr>().ok()?.to_string(),
                prefix_length: len.parse().ok().filter(|l| *l <= 32)?,
                dhcp: false,
            })
        }
        NetworkSettings::Dhcp => svc
            .host()
            .parse::<std::net::Ipv4Addr>()
            .ok()
            .map(|a| r::Ipv4 {
                address: a.to_string(),
                prefix_length: 24,
                dhcp: true,
            }),
    }
}

/// Runs `act` a moment after the answer has gone out; its failure is logged.
fn later(act: impl FnOnce() -> Result<(), CoreError> + Send + 'static) {
    tokio::spawn(async move {
        tokio::time::sleep(ACT_AFTER).await;
        if let Err(e) = act() {
            tracing::warn!("ONVIF action failed after its answer: {e}");
        }
    });
}

/// The camera's host name: `camkey-` and its serial, lowercase.
pub fn hostname(serial: &str) -> String {
    format!("camkey-{}", serial.to_ascii_lowercase())
}
