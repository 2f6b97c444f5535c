//! The lab plan: which cameras the lab has, where their directories are and which ports
//! they listen on. Saved at first start (after binding) so that a restart resumes the same
//! lab: same serials, same state, same URLs.

use crate::{LabError, LabOptions};
use camkey_camera::store::AtomicFile;
use camkey_proto::catalogue::CATALOGUE;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// File name of the plan in the lab directory.
pub const PLAN_FILE: &str = "lab-plan.json";

/// One lab camera.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CameraPlan {
    /// Serial.
    pub serial: String,
    /// Model.
    pub model: String,
    /// Directory under the lab directory (`cameras/<serial>`).
    pub dir: String,
    /// HTTPS port (0 until first bound).
    pub https_port: u16,
    /// Plain HTTP port (0 until first bound).
    pub http_port: u16,
    /// Simulated hardware API port (0 until first bound).
    #[serde(default)]
    pub hardware_port: u16,
    /// The NVR PoE port the camera is plugged into (`None`: elsewhere on the LAN).
    #[serde(default)]
    pub poe_port: Option<u8>,
}

/// The lab.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LabPlan {
    /// The lab home page's port.
    pub home_port: u16,
    /// The inbox's web port.
    #[serde(default)]
    pub inbox_http_port: u16,
    /// The inbox's SMTP port.
    #[serde(default)]
    pub inbox_smtp_port: u16,
    /// The vendor's web port.
    #[serde(default)]
    pub vendor_http_port: u16,
    /// The vendor's SMTP port (the automated reset mailbox).
    #[serde(default)]
    pub vendor_smtp_port: u16,
    /// The NVR's web port.
    #[serde(default)]
    pub nvr_http_port: u16,
    /// Cameras.
    pub cameras: Vec<CameraPlan>,
}

/// The model the lab plugs into its NVR's ports.
pub const NVR_MODEL: &str = "IPC4K15";
/// The fewest PoE ports the lab's NVR has.
pub const MIN_NVR_PORTS: u8 = 4;

fn camera(model: &str, n: usize, poe_port: Option<u8>) -> CameraPlan {
    let serial = format!("{model}-LAB{n:04}");
    CameraPlan {
        dir: format!("cameras/{serial}"),
        serial,
        model: model.into(),
        https_port: 0,
        http_port: 0,
        hardware_port: 0,
        poe_port,
    }
}

impl LabPlan {
    /// The plan saved in `dir`, grown to the requested number of cameras; or a new one.
    pub fn load_or_new(dir: &Path, opts: &LabOptions) -> Result<LabPlan, LabError> {
        let file = AtomicFile::new(dir, PLAN_FILE).map_err(|e| LabError::Plan(e.to_string()))?;
        let mut plan = file
            .load::<LabPlan>()
            .map_err(|e| LabError::Plan(e.to_string()))?
            .unwrap_or(LabPlan {
                home_port: 0,
                inbox_http_port: 0,
                inbox_smtp_port: 0,
                vendor_http_port: 0,
                vendor_smtp_port: 0,
                nvr_http_port: 0,
                cameras: Vec::new(),
            });
        // One camera of every catalogue model off the NVR, then `--cameras N` more,
        // cycling models; and `--nvr-cameras N` on the NVR's ports 1..=N.
        let wanted = CATALOGUE.len() + opts.extra_cameras as usize;
        let mut off = plan.cameras.iter().filter(|c| c.poe_port.is_none()).count();
        while off < wanted {
            let model = CATALOGUE[off % CATALOGUE.len()].name;
            plan.cameras
                .push(camera(model, plan.cameras.len() + 1, None));
            off += 1;
        }
        for port in 1..=opts.nvr_cameras.min(u32::from(u8::MAX)) as u8 {
            if !plan.cameras.iter().any(|c| c.poe_port == Some(port)) {
                plan.cameras
                    .push(camera(NVR_MODEL, plan.cameras.len() + 1, Some(port)));
            }
        }
        Ok(plan)
    }

    /// The NVR's number of PoE ports: every planned NVR camera's port, and at least
    /// [`MIN_NVR_PORTS`].
    pub fn nvr_ports(&self) -> u8 {
        self.cameras
            .iter()
            .filter_map(|c| c.poe_port)
            .max()
            .unwrap_or(0)
            .max(MIN_NVR_PORTS)
    }

    /// Saves the plan.
    pub fn save(&self, dir: &Path) -> Result<(), LabError> {
        AtomicFile::new(dir, PLAN_FILE)
            .and_then(|f| f.save(self))
            .map_err(|e| LabError::Plan(e.to_string()))
    }
}
