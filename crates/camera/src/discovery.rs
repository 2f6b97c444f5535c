//! The camera's WS-Discovery responder, tied to its core: the advert is built from what
//! the camera knows (serial, model, initialized, its own HTTP and HTTPS bases — never a
//! request's Host header) and refreshed every tick, so a change of state bumps the
//! metadata version and sends a Hello, and a change of the discovery mode (ONVIF
//! SetDiscoveryMode, `Core::set_discoverable`) sends Hello or Bye. Hello at start, Bye at a graceful stop; a power
//! cut sends nothing (a camera losing power cannot).

use crate::core::Core;
use camkey_onvif::discovery::{Advert, CameraFacts, Responder, ResponderConfig};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// What goes into the advert now.
pub fn facts(core: &Core, https_base: &str, http_base: Option<&str>) -> CameraFacts {
    let f = core.factory();
    CameraFacts {
        serial: f.serial.clone(),
        model: f.model.clone(),
        initialized: core.initialized(),
        http_base: http_base.map(str::to_string),
        https_base: https_base.to_string(),
    }
}

/// Starts the responder on `interface`; a failure is logged and the camera runs on
/// without discovery (it is still reachable by address).
pub async fn start(
    core: &Arc<Core>,
    interface: Ipv4Addr,
    https_base: &str,
    http_base: Option<&str>,
) -> Option<Responder> {
    let advert = Advert::for_camera(&facts(core, https_base, http_base));
    // InstanceId must grow from one start to the next: the wall clock in seconds.
    let instance = u64::try_from(core.clock().wall_ms() / 1000).unwrap_or(1);
    let config = ResponderConfig::new(interface, instance);
    // The persisted discovery mode (ONVIF SetDiscoveryMode), read on every probe; its
    // changes are announced (Hello or Bye) by the next refresh.
    let mode_core = core.clone();
    let discoverable = Arc::new(move || discoverable(&mode_core));
    match Responder::start(config, advert, discoverable).await {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!("discovery on {interface}: {e}; the camera runs without it");
            None
        }
    }
}

/// The camera's discovery mode.
fn discoverable(core: &Core) -> bool {
    core.discoverable()
}
