//! The lab's NVR: the NVR service of `camkey-nvr` on the simulated PoE switch, with the
//! lab's NVR cameras plugged into its ports, their power wired to the ports, their setup
//! codes given to it as an installer would, and its notices mailed to the lab customer.
//! A camera's address is on its port while it runs, as its DHCP lease would be.

use crate::hardware::SimCamera;
use crate::plan::LabPlan;
use crate::{LAB_CUSTOMER, LabError, LabOptions};
use camkey_camera::device::PowerState;
use camkey_camera::mail::SmtpSettings;
use camkey_factory::VendorKeys;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The lab NVR's directory (in the lab directory).
pub const NVR_DIR: &str = "nvr";
/// The lab NVR's admin account file, kept beside the NVR's store so that a resumed lab
/// signs in with the same password.
pub const NVR_ADMIN_FILE: &str = "lab-admin.json";

/// Starts the lab's NVR over the simulated switch: each NVR camera plugged into its port at
/// its HTTPS address, a port's power wired to that camera's power, its setup code given to
/// the NVR as an installer would, and the owner told by mail. Returns the NVR and its
/// admin's password.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn start_nvr(
    opts: &LabOptions,
    plan: &LabPlan,
    keys: &VendorKeys,
    cameras: &[Arc<SimCamera>],
    setup_codes: &[String],
    switch: Arc<camkey_nvr::switch::SimSwitch>,
    listener: tokio::net::TcpListener,
    smtp: SmtpSettings,
) -> Result<(camkey_nvr::service::RunningNvr, String), LabError> {
    use camkey_nvr::switch::PoeSwitch;
    let err = |e: &dyn std::fmt::Display| LabError::Nvr(e.to_string());
    let dir = opts.dir.join(NVR_DIR);
    camkey_camera::store::create_private_dir(&dir).map_err(|e| LabError::Io(dir.clone(), e))?;
    let password = crate::kept_password(
        &dir,
        NVR_ADMIN_FILE,
        camkey_nvr::adopt::CAMERA_USER,
        camkey_nvr::store::vault::generate_password,
    )
    .map_err(|e| err(&e))?;
    // A camera's address shows on its port once it runs (its DHCP lease, as a real switch
    // and DHCP server see it), and goes while it is off, booting or resetting: the NVR is
    // woken by the change, as a real NVR by a new lease.
    let mut by_port = std::collections::HashMap::new();
    for (cam, sim) in plan.cameras.iter().zip(cameras) {
        if let Some(port) = cam.poe_port {
            let addr = SocketAddr::new(opts.bind, cam.https_port);
            let (switch, mut states) = (switch.clone(), sim.device.states());
            tokio::spawn(async move {
                loop {
                    let running = *states.borrow_and_update() == PowerState::Running;
                    if let Err(e) = switch.plug(port, running.then_some(addr)) {
                        tracing::warn!("lab NVR: port {port}: {e}");
                    }
                    if states.changed().await.is_err() {
                        return;
                    }
                }
            });
            by_port.insert(port, sim.clone());
        }
    }
    // Power back on only once the camera is really off: the NVR's power cycle switches
    // off and on at once, and the camera must see the cut to reboot.
    switch.set_power_hook(Arc::new(move |port, on| {
        if let Some(cam) = by_port.get(&port) {
            if on {
                let cam = cam.clone();
                tokio::spawn(async move {
                    cam.device
                        .wait_for(PowerState::Off, Duration::from_secs(10))
                        .await;
                    cam.device.set_power(true);
                });
            } else {
                cam.device.set_power(false);
            }
        }
    }));
    let smtp = smtp.with_sender("nvr");
    let notice = Arc::new(move |n: camkey_nvr::adopt::Notice| {
        let smtp = smtp.clone();
        tokio::spawn(async move {
            let subject = format!("Your NVR: port {}", n.port);
            if let Err(e) = smtp.send(LAB_CUSTOMER, &subject, n.message).await {
                tracing::warn!("lab NVR: the notice to the owner was not sent: {e}");
            }
        });
    });
    let nvr_opts = camkey_nvr::service::NvrOptions {
        dir,
        device_ca: keys.path(camkey_factory::files::DEVICE_CA),
        admin_username: camkey_nvr::adopt::CAMERA_USER.into(),
        admin_password: Some(password.clone()),
        recovery_email: Some(LAB_CUSTOMER.into()),
        period: Duration::from_secs(5),
    };
    let ports = switch.ports();
    let nvr = camkey_nvr::service::start(
        &nvr_opts,
        switch,
        listener,
        notice,
        Arc::new(camkey_proto::clock::SystemClock::default()),
    )
    .await
    .map_err(|e| err(&e))?;
    // The installer gives the NVR each port's setup code, from the camera's label.
    let adopter = nvr.nvr().adopter();
    for (cam, code) in plan.cameras.iter().zip(setup_codes) {
        let Some(port) = cam.poe_port.filter(|p| *p <= ports) else {
            continue;
        };
        let known = adopter
            .store()
            .read(|s| s.setup_codes.get(&port) == Some(code));
        if !known {
            adopter
                .set_setup_code(port, code, "the lab's installer")
                .map_err(|e| err(&e))?;
        }
    }
    Ok((nvr, password))
}
