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
    /// Cameras.
    pub cameras: Vec<CameraPlan>,
}

fn camera(model: &str, n: usize) -> CameraPlan {
    let serial = format!("{model}-LAB{n:04}");
    CameraPlan {
        dir: format!("cameras/{serial}"),
        serial,
        model: model.into(),
        https_port: 0,
        http_port: 0,
        hardware_port: 0,
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
                cameras: Vec::new(),
            });
        // One camera of every catalogue model, then `--cameras N` more, cycling models.
        let wanted = CATALOGUE.len() + opts.extra_cameras as usize;
        while plan.cameras.len() < wanted {
            let n = plan.cameras.len() + 1;
            let model = CATALOGUE[(n - 1) % CATALOGUE.len()].name;
            plan.cameras.push(camera(model, n));
        }
        Ok(plan)
    }

    /// Saves the plan.
    pub fn save(&self, dir: &Path) -> Result<(), LabError> {
        AtomicFile::new(dir, PLAN_FILE)
            .and_then(|f| f.save(self))
            .map_err(|e| LabError::Plan(e.to_string()))
    }
}
