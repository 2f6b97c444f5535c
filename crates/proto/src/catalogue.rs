//! The model catalogue (docs/design.md §1): what each camera model can do for its owner.
//!
//! Everything that differs between models is data here, so the camera, the vendor's
//! reset guides and the lab all read the same table.

use serde::Serialize;

/// Where a model's reset button is, if it has one the owner may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResetButton {
    /// Whether the owner can reach a reset button at all.
    pub present: bool,
    /// Plain words on where it is (or why there is none).
    pub location: &'static str,
}

/// One camera model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Model {
    /// Model name as printed on the label, e.g. `IPC4K15`.
    pub name: &'static str,
    /// Housing form: bullet, dome, turret, PTZ.
    pub form: &'static str,
    /// Whether the web page offers "Forgot password?".
    pub web_reset: bool,
    /// The reset button.
    pub reset_button: ResetButton,
    /// Whether initialization needs the setup code printed on the label (S8).
    pub setup_code_required: bool,
    /// How long the real hardware takes to boot, in seconds (divided by the lab's time scale).
    pub boot_secs: u64,
    /// How long the reset button must be held, in seconds.
    pub reset_hold_secs: u64,
    /// Limited warranty against manufacturing defects, in months.
    pub warranty_months: u32,
    /// Firmware version shipped from the factory.
    pub firmware: &'static str,
}

/// Every model we ship.
pub const CATALOGUE: &[Model] = &[
    Model {
        name: "IPC4K15",
        form: "bullet",
        web_reset: true,
        reset_button: ResetButton {
            present: true,
            location: "in the compartment on the bottom of the camera",
        },
        setup_code_required: false,
        boot_secs: 180,
        reset_hold_secs: 15,
        warranty_months: 36,
        firmware: "5.7.3",
    },
    Model {
        name: "IPC4K15D",
        form: "dome",
        web_reset: true,
        reset_button: ResetButton {
            present: true,
            location: "on the board near the image sensor, under the lens assembly",
        },
        setup_code_required: false,
        boot_secs: 180,
        reset_hold_secs: 15,
        warranty_months: 36,
        firmware: "5.7.3",
    },
    Model {
        name: "IPC4T8",
        form: "turret",
        web_reset: true,
        reset_button: ResetButton {
            present: false,
            location: "none: use Forgot password? on the camera's web page",
        },
        setup_code_required: true,
        boot_secs: 180,
        reset_hold_secs: 15,
        warranty_months: 36,
        firmware: "5.7.3",
    },
    Model {
        name: "IPC4PTZ25",
        form: "PTZ",
        web_reset: false,
        reset_button: ResetButton {
            present: false,
            location: "sealed inside the housing: factory servicing only",
        },
        setup_code_required: false,
        boot_secs: 180,
        reset_hold_secs: 15,
        warranty_months: 24,
        firmware: "5.7.3",
    },
];

/// Looks a model up by name (case-insensitive).
pub fn model(name: &str) -> Option<&'static Model> {
    CATALOGUE.iter().find(|m| m.name.eq_ignore_ascii_case(name))
}

/// The model of a serial (`IPC4K15-...`: the part before the first `-`), if it is one of
/// the catalogue's.
pub fn model_of_serial(serial: &str) -> Option<&'static str> {
    model(serial.split('-').next()?).map(|m| m.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_the_four_kinds_of_design() {
        assert!(model("ipc4k15").is_some_and(|m| m.web_reset && m.reset_button.present));
        assert!(model("IPC4K15D").is_some_and(|m| m.reset_button.present));
        assert!(
            CATALOGUE
                .iter()
                .any(|m| m.web_reset && !m.reset_button.present && m.setup_code_required)
        );
        assert!(
            CATALOGUE
                .iter()
                .any(|m| !m.web_reset && !m.reset_button.present)
        );
        assert!(model("NOPE").is_none());
    }
}
