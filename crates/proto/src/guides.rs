//! The reset guide of every model (docs/design.md §1 step 2, as the vendor's support article
//! tells owners): what the owner does, in order, with every caution, a drawing of where the
//! button is, and what to do on models without one. The camera's help page and the vendor's site render the same text.

use crate::catalogue::Model;

/// One model's reset guide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetGuide {
    /// The model.
    pub model: &'static Model,
    /// Read this first (warranty, damage).
    pub warnings: Vec<String>,
    /// The steps, in order (empty on models without a button).
    pub steps: Vec<String>,
    /// What happens afterwards.
    pub after: Vec<String>,
    /// For models without a reachable button: what to do instead.
    pub instead: Vec<String>,
    /// An SVG drawing of the camera with the button's place marked (or its absence).
    pub svg: &'static str,
}

/// The warning of the vendor's support article, for every model with a button.
pub const WARRANTY_WARNING: &str = "Use extreme caution when pressing the reset button, especially where it sits on an exposed circuit board. Damage caused by negligence or user error is not covered by the limited warranty against manufacturing defects.";

/// Why servicing a sealed camera yourself is a bad idea.
pub const SELF_SERVICE_WARNING: &str = "Do not open a sealed camera yourself: that voids the warranty and can damage the camera beyond repair.";

/// The reset guide of `model`.
pub fn reset_guide(model: &'static Model) -> ResetGuide {
    let boot_minutes = model.boot_secs.div_ceil(60);
    let mut g = ResetGuide {
        model,
        warnings: Vec::new(),
        steps: Vec::new(),
        after: Vec::new(),
        instead: Vec::new(),
        svg: drawing(model.form),
    };
    if model.web_reset {
        g.instead.push("If you can still reach the camera's web page, use \"Forgot password?\" on its sign-in page first: security questions, a code mailed to your recovery address, or the QR code you send to the vendor. It keeps your settings.".into());
    }
    if model.reset_button.present {
        g.warnings.push(WARRANTY_WARNING.into());
        g.steps = vec![
            "Turn the camera off: unplug its network cable from the PoE switch or NVR, or unplug its 12 V DC supply.".into(),
            "Work on a table, not on carpet: static discharge (ESD) from carpet damages the camera.".into(),
            format!(
                "With a hand-driven screwdriver or Allen key (never a power tool), open the housing: the reset button is {}.",
                model.reset_button.location
            ),
            format!(
                "Power the camera again over PoE (or 12 V DC) and wait about {boot_minutes} minutes until it has completely booted: presses while it boots are ignored."
            ),
            format!(
                "Press the reset button gently and hold it for {} seconds, with a plastic tool, the eraser on a pencil or your finger. Where the button is very thin, use the edge of your fingernail. Never use metal.",
                model.reset_hold_secs
            ),
            "The status light flashes rapidly and the camera restarts by itself; wait for it to boot again, then close the housing.".into(),
        ];
        g.after = vec![
            "The camera is now uninitialized: every user setting is gone (password, recovery address, security questions, mail and network settings).".into(),
            "Plugged into a compatible NVR's PoE port, the NVR initializes it and adds it as a channel. Otherwise open its web page (or use `camkey init`) and follow the setup guide.".into(),
        ];
    } else {
        if !model.web_reset {
            g.warnings.push(SELF_SERVICE_WARNING.into());
        }
        g.instead.push(format!(
            "The {} has no reset button you can reach ({}).",
            model.name, model.reset_button.location
        ));
        g.instead.push("If no other way in works, the camera needs factory servicing: our technicians find the button if there is one, or reflash its firmware over the serial console. There is no master password. A lost-password reset is an out-of-warranty service with a fee; hardware faults follow the warranty.".into());
        g.instead.push("File the Tech Support Form with your order number and the product information (model and serial from the label).".into());
    }
    g
}

fn drawing(form: &str) -> &'static str {
    match form {
        "bullet" => BULLET,
        "dome" => DOME,
        "turret" => TURRET,
        _ => PTZ,
    }
}

const BULLET: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 180" width="320" height="180" role="img" aria-labelledby="t"><title id="t">Bullet camera seen from below: the reset button is in the compartment on the bottom, under a cover held by two screws</title><rect x="40" y="40" width="200" height="70" rx="14" fill="#e8ebf0" stroke="#3b4252" stroke-width="3"/><rect x="30" y="30" width="220" height="16" rx="6" fill="#cfd5de" stroke="#3b4252" stroke-width="2"/><circle cx="255" cy="75" r="22" fill="#3b4252"/><circle cx="255" cy="75" r="10" fill="#8fa3bf"/><rect x="100" y="110" width="80" height="30" rx="4" fill="#fff" stroke="#3b4252" stroke-width="2" stroke-dasharray="5 3"/><circle cx="108" cy="125" r="3" fill="#3b4252"/><circle cx="172" cy="125" r="3" fill="#3b4252"/><circle cx="140" cy="125" r="8" fill="#d33" stroke="#7a1010" stroke-width="2"/><path d="M140 145 L140 165" stroke="#d33" stroke-width="2"/><text x="140" y="176" font-size="12" text-anchor="middle" fill="#7a1010">RESET (bottom compartment)</text></svg>"##;

const DOME: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 200" width="320" height="200" role="img" aria-labelledby="t"><title id="t">Dome camera with its dome removed: the reset button is on the board near the image sensor, under the lens assembly</title><circle cx="160" cy="100" r="80" fill="#e8ebf0" stroke="#3b4252" stroke-width="3"/><circle cx="160" cy="100" r="52" fill="#cfd5de" stroke="#3b4252" stroke-width="2"/><rect x="138" y="78" width="44" height="44" rx="6" fill="#3b4252"/><circle cx="160" cy="100" r="14" fill="#8fa3bf"/><circle cx="198" cy="118" r="7" fill="#d33" stroke="#7a1010" stroke-width="2"/><path d="M204 124 L250 170" stroke="#d33" stroke-width="2"/><text x="252" y="185" font-size="12" text-anchor="middle" fill="#7a1010">RESET (board, by the sensor)</text></svg>"##;

const TURRET: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 180" width="320" height="180" role="img" aria-labelledby="t"><title id="t">Turret camera: it has no reset button; use Forgot password? on its web page</title><circle cx="160" cy="90" r="60" fill="#e8ebf0" stroke="#3b4252" stroke-width="3"/><circle cx="160" cy="90" r="30" fill="#3b4252"/><circle cx="160" cy="90" r="14" fill="#8fa3bf"/><text x="160" y="172" font-size="12" text-anchor="middle" fill="#3b4252">no reset button: use Forgot password?</text></svg>"##;

const PTZ: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 200" width="320" height="200" role="img" aria-labelledby="t"><title id="t">PTZ camera: sealed housing, no reachable reset button; factory servicing only</title><rect x="110" y="20" width="100" height="40" rx="8" fill="#cfd5de" stroke="#3b4252" stroke-width="2"/><circle cx="160" cy="110" r="55" fill="#e8ebf0" stroke="#3b4252" stroke-width="3"/><circle cx="160" cy="120" r="20" fill="#3b4252"/><circle cx="160" cy="120" r="9" fill="#8fa3bf"/><text x="160" y="190" font-size="12" text-anchor="middle" fill="#3b4252">sealed: factory servicing only</text></svg>"##;

/// What is left when the owner's own recovery mailbox no longer works, for any model.
pub const OWN_ADDRESS_DEAD: &str = "If that mailbox no longer works, nobody can send the code anywhere else, not even our support desk: on a camera with a reset button, the button brings it back to its factory settings (see the reset guide for your model on our site); a model without one needs factory service, which you can ask for with the Tech Support Form.";

/// What is left to an owner whose camera has a recovery address they set (codes go only
/// there, docs/design.md §1), when that mailbox no longer works: the reset button where the model
/// has one, factory service where it has none. `model` comes from the challenge's serial.
pub fn own_address_next_step(model: Option<&str>) -> String {
    let intro = "This camera has a recovery address its owner set: security codes for it are mailed only there (ask on the reset page), and our support desk cannot send one to any other address.";
    match model.and_then(crate::catalogue::model) {
        Some(m) if m.reset_button.present => format!(
            "{intro} If that mailbox no longer works, what is left is the camera's reset button, {}: held {} seconds while the camera runs, it brings the camera back to its factory settings, ready to set up again. The reset guide for the {} on our site shows each step.",
            m.reset_button.location, m.reset_hold_secs, m.name
        ),
        Some(m) => format!(
            "{intro} If that mailbox no longer works, what is left is factory service: the {} has no reset button you can reach. Choose \"Factory service\" on the Tech Support Form; we reset the camera and send it back ready to set up again.",
            m.name
        ),
        None => format!("{intro} {OWN_ADDRESS_DEAD}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{CATALOGUE, model};

    #[test]
    fn guides_with_a_button_carry_every_caution_of_the_seed() {
        for m in CATALOGUE.iter().filter(|m| m.reset_button.present) {
            let g = reset_guide(m);
            let text = [g.warnings.clone(), g.steps.clone(), g.after.clone()]
                .concat()
                .join(" ");
            for needle in [
                "warranty",
                "carpet",
                "ESD",
                "hand-driven screwdriver",
                "Allen key",
                "PoE",
                "12 V",
                "about 3 minutes",
                "15 seconds",
                "plastic tool",
                "eraser",
                "fingernail",
                m.reset_button.location,
                "uninitialized",
                "NVR",
            ] {
                assert!(text.contains(needle), "{}: no {needle:?}", m.name);
            }
            assert!(g.svg.contains("RESET"), "{}", m.name);
        }
    }

    #[test]
    fn models_without_a_button_say_what_to_do_instead() {
        let turret = reset_guide(model("IPC4T8").unwrap());
        assert!(turret.steps.is_empty());
        assert!(turret.instead.join(" ").contains("Forgot password?"));
        let ptz = reset_guide(model("IPC4PTZ25").unwrap());
        let text = ptz.instead.join(" ");
        assert!(text.contains("factory servicing") && text.contains("Tech Support Form"));
        assert!(text.contains("out-of-warranty"));
        assert!(
            !text.contains("Forgot password?"),
            "the PTZ has no web reset"
        );
        assert!(ptz.warnings.join(" ").contains("voids the warranty"));
    }

    #[test]
    fn drawings_are_well_formed_svg_with_a_title() {
        for m in CATALOGUE {
            let svg = reset_guide(m).svg;
            assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
            assert!(svg.ends_with("</svg>") && svg.contains("<title"));
            assert!(!svg.contains("<script") && !svg.contains("style="));
        }
    }

    #[test]
    fn an_owner_with_a_dead_own_address_is_told_what_is_left_per_model() {
        let bullet = own_address_next_step(Some("IPC4K15"));
        assert!(
            bullet.contains("reset button") && bullet.contains("compartment on the bottom"),
            "{bullet}"
        );
        assert!(!bullet.contains("factory service"), "{bullet}");
        let no_button = crate::catalogue::CATALOGUE
            .iter()
            .find(|m| !m.reset_button.present)
            .unwrap();
        let t = own_address_next_step(Some(no_button.name));
        assert!(t.contains("factory service") && !t.contains("held"), "{t}");
        let unknown = own_address_next_step(None);
        assert!(unknown.contains("reset button") && unknown.contains("factory service"));
    }
}
