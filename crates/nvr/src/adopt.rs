//! Plug-and-play adoption (docs/design.md §1 step 3, issue 14): a state machine run per
//! port when the switch reports a change and periodically.
//!
//! For each port, [`Adopter::tick_port`]:
//! 1. takes the port's link and address from the switch — the only addresses the NVR ever
//!    contacts, so a camera elsewhere on the LAN is never adopted;
//! 2. asks the camera who it is ([`CameraLink::identify`]: certificate chain and serial,
//!    no secret sent); a device that fails gets nothing and the note says so;
//! 3. a different serial on a port that had an adopted camera goes to
//!    [`ChannelState::AwaitingApproval`]: an audit entry, and the owner is told through the
//!    [`Notice`] hook; only the admin's approval lets it be adopted;
//! 4. an uninitialized camera (a new one, or the adopted one after a factory reset) gets a
//!    fresh random password, sealed and saved **before** it is sent, with the port's setup
//!    code, the owner's recovery address and ONVIF on; a closed init window makes the NVR
//!    power-cycle the port once and say so;
//! 5. then sign in, set the time (ONVIF `SetSystemDateAndTime`), and add the channel (media
//!    profile, snapshot URI): [`ChannelState::Adopted`]. A camera the NVR cannot sign into
//!    is [`ChannelState::AuthFailed`] until it is reset or the admin enters its password.

use crate::link::{CameraLink, Credentials, Identity, LinkError};
use crate::store::vault::generate_password;
use crate::store::{self, Channel, ChannelState, Store};
use crate::switch::PoeSwitch;
use camkey_proto::api::InitRequest;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The account the NVR uses on its cameras.
pub const CAMERA_USER: &str = "admin";

/// How often an adopted camera that stays up is signed into again (its password checked,
/// its time set again), on the elapsed clock. Not on every look: each sign-in costs the
/// camera a password hash and a session, and would crowd its owner's sessions out. A
/// camera that went offline (a reboot, a power cut) is set up again as soon as it answers.
pub const RECHECK_MS: u64 = 10 * 60_000;

/// Something the owner must be told (the lab mails it; a real NVR also pushes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The port.
    pub port: u8,
    /// Plain words.
    pub message: String,
}

/// Where notices go.
pub type NoticeHook = Arc<dyn Fn(Notice) + Send + Sync>;

/// Adoption failures that are the NVR's own (a camera's refusals are channel states).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// The switch.
    #[error(transparent)]
    Switch(#[from] crate::switch::SwitchError),
    /// A sealed password does not open.
    #[error(transparent)]
    Vault(#[from] store::vault::VaultError),
    /// The admin's action does not apply to the port as it is now.
    #[error("{0}")]
    Refused(String),
    /// The camera refused.
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// The adoption engine of one NVR.
pub struct Adopter<L> {
    store: Arc<Store>,
    switch: Arc<dyn PoeSwitch>,
    link: Arc<L>,
    notice: NoticeHook,
    ports: Vec<tokio::sync::Mutex<()>>,
    /// Per port: the serial and address last set up successfully, and when.
    checked: std::sync::Mutex<std::collections::HashMap<u8, (String, SocketAddr, u64)>>,
}

impl<L: CameraLink> Adopter<L> {
    /// An engine over `switch`'s ports.
    pub fn new(
        store: Arc<Store>,
        switch: Arc<dyn PoeSwitch>,
        link: Arc<L>,
        notice: NoticeHook,
    ) -> Self {
        let n = switch.ports();
        Adopter {
            store,
            switch,
            link,
            notice,
            ports: (0..n).map(|_| tokio::sync::Mutex::new(())).collect(),
            checked: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The switch.
    pub fn switch(&self) -> &Arc<dyn PoeSwitch> {
        &self.switch
    }

    /// The camera link.
    pub fn link(&self) -> &Arc<L> {
        &self.link
    }

    fn set(
        &self,
        port: u8,
        f: impl FnOnce(&mut Channel, &mut store::State, &store::NvrClock),
    ) -> Result<ChannelState, Error> {
        self.store.update(|s, clock| {
            let mut ch = s.channels.get(&port).cloned().unwrap_or_default();
            f(&mut ch, s, clock);
            let state = ch.state;
            s.channels.insert(port, ch);
            Ok::<_, Error>(state)
        })
    }

    fn note(&self, port: u8, state: ChannelState, note: String) -> Result<ChannelState, Error> {
        self.set(port, |ch, _, _| {
            ch.state = state;
            ch.note = note;
        })
    }

    fn checked(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<u8, (String, SocketAddr, u64)>> {
        self.checked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the adopted camera `serial` at `addr` was set up less than [`RECHECK_MS`] ago.
    fn recently_checked(&self, port: u8, serial: &str, addr: SocketAddr) -> bool {
        let now = self.store.clock().elapsed_ms();
        self.checked().get(&port).is_some_and(|(s, a, at)| {
            s == serial && *a == addr && now.saturating_sub(*at) < RECHECK_MS
        })
    }

    /// The sealed password of `serial` on `port`, opened, if the NVR holds one.
    pub fn credentials(&self, port: u8, serial: &str) -> Result<Option<Credentials>, Error> {
        let sealed = self.store.read(|s| {
            s.channels
                .get(&port)
                .filter(|c| c.serial.as_deref() == Some(serial))
                .and_then(|c| c.sealed_password.clone())
        });
        Ok(match sealed {
            Some(sealed) => Some(Credentials {
                username: CAMERA_USER.into(),
                password: self.store.vault().open(port, serial, &sealed)?,
            }),
            None => None,
        })
    }

    /// Records the setup code of the camera on `port` (from its label, given by the
    /// installer `who`); an empty code removes it. Audited.
    pub fn set_setup_code(&self, port: u8, code: &str, who: &str) -> Result<(), Error> {
        self.store.update(|s, clock| {
            if code.is_empty() {
                s.setup_codes.remove(&port);
            } else {
                s.setup_codes.insert(port, code.to_string());
            }
            s.audit(
                clock,
                "setup_code",
                Some(port),
                format!("{who} set the setup code of port {port}"),
            );
            Ok::<_, Error>(())
        })
    }

    /// Runs every port once, all at once.
    pub async fn tick_all(self: &Arc<Self>) {
        let mut set = tokio::task::JoinSet::new();
        for port in 1..=self.switch.ports() {
            let me = self.clone();
            set.spawn(async move {
                if let Err(e) = me.tick_port(port).await {
                    tracing::warn!("port {port}: {e}");
                }
            });
        }
        while set.join_next().await.is_some() {}
    }

    /// Runs the ports whenever the switch changes and every `period`, until dropped.
    pub fn spawn(self: &Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        let mut changes = self.switch.changes();
        tokio::spawn(async move {
            loop {
                me.tick_all().await;
                tokio::select! {
                    _ = tokio::time::sleep(period) => {}
                    r = changes.changed() => if r.is_err() { return },
                }
            }
        })
    }

    /// Runs the state machine for one port; returns the channel's state.
    pub async fn tick_port(&self, port: u8) -> Result<ChannelState, Error> {
        let turn = self
            .ports
            .get(usize::from(port).wrapping_sub(1))
            .ok_or(crate::switch::SwitchError::NoSuchPort(port))?;
        let _turn = turn.lock().await;
        let status = self.switch.status(port)?;
        let ch = self.store.read(|s| s.channels.get(&port).cloned());
        let addr = match (status.link, status.address) {
            (true, Some(a)) => a,
            _ => {
                return match ch {
                    None => Ok(ChannelState::Offline),
                    Some(ch) if ch.state == ChannelState::AwaitingApproval => Ok(ch.state),
                    Some(_) => self.note(
                        port,
                        ChannelState::Offline,
                        "Nothing is plugged in, or the port has no power.".into(),
                    ),
                };
            }
        };
        let ch = ch.unwrap_or_default();
        let id = match self.link.identify(addr).await {
            Ok(id) => id,
            Err(LinkError::Unreachable(why)) => {
                return self.note(
                    port,
                    ChannelState::Offline,
                    format!("The camera does not answer ({why})."),
                );
            }
            Err(e) => return self.impostor(port, &ch, addr, &e),
        };
        let known = ch.serial.as_deref() == Some(id.serial.as_str());
        if ch.had_adopted && !known {
            return self.await_approval(port, &ch, addr, &id);
        }
        if ch.state == ChannelState::AwaitingApproval && !known {
            return Ok(ch.state);
        }
        if id.initialized {
            if known
                && ch.state == ChannelState::Adopted
                && self.recently_checked(port, &id.serial, addr)
            {
                return Ok(ChannelState::Adopted);
            }
            match self.credentials(port, &id.serial)? {
                Some(creds) => self.configure(port, addr, &id, &creds).await,
                None => self.set(port, |c, _, _| {
                    c.serial = Some(id.serial.clone());
                    c.model = Some(id.model.clone());
                    c.address = Some(addr.to_string());
                    c.state = ChannelState::AuthFailed;
                    c.note = "This camera was set up before and the NVR does not know its password: reset the camera or enter its password.".into();
                }),
            }
        } else {
            self.initialize(port, addr, &id, &ch).await
        }
    }

    fn impostor(
        &self,
        port: u8,
        ch: &Channel,
        addr: SocketAddr,
        e: &LinkError,
    ) -> Result<ChannelState, Error> {
        let state = ChannelState::Adopting;
        let detail = format!("device at {addr} failed the identity check, nothing was sent: {e}");
        let first = ch.note != format!("Not adopted: {e}. Nothing was sent to it.");
        let out = self.set(port, |c, s, clock| {
            c.state = state;
            c.address = Some(addr.to_string());
            c.note = format!("Not adopted: {e}. Nothing was sent to it.");
            if first {
                s.audit(clock, "identity_refused", Some(port), detail.clone());
            }
        })?;
        if first && ch.had_adopted {
            (self.notice)(Notice {
                port,
                message: format!(
                    "A device on port {port} is not a genuine camera; nothing was sent to it."
                ),
            });
        }
        Ok(out)
    }

    fn await_approval(
        &self,
        port: u8,
        ch: &Channel,
        addr: SocketAddr,
        id: &Identity,
    ) -> Result<ChannelState, Error> {
        if ch.state == ChannelState::AwaitingApproval
            && ch.pending_serial.as_deref() == Some(&id.serial)
        {
            return Ok(ch.state);
        }
        let old = ch.serial.clone().unwrap_or_default();
        let message = format!(
            "Port {port} had camera {old}; now camera {} ({}) is on it. It will not be set up until you approve it on the NVR.",
            id.serial, id.model
        );
        let out = self.set(port, |c, s, clock| {
            c.state = ChannelState::AwaitingApproval;
            c.pending_serial = Some(id.serial.clone());
            c.address = Some(addr.to_string());
            c.note = message.clone();
            s.audit(
                clock,
                "awaiting_approval",
                Some(port),
                format!("serial {} replaced {old}", id.serial),
            );
        })?;
        (self.notice)(Notice { port, message });
        Ok(out)
    }

    /// Power-cycles the port once per camera to reopen a closed init window.
    fn window_closed(&self, port: u8, ch: &Channel) -> Result<ChannelState, Error> {
        if ch.power_cycled {
            return self.note(port, ChannelState::Adopting, format!("The camera's setup window is still closed after the NVR power-cycled port {port}: unplug it for a few seconds and plug it in again."));
        }
        if let Err(e) = self.switch.set_power(port, false) {
            return self.note(port, ChannelState::Adopting, format!("The camera's setup window has closed and the NVR cannot power-cycle port {port}: {e}."));
        }
        let saved = self.set(port, |c, s, clock| {
            c.state = ChannelState::Adopting;
            c.power_cycled = true;
            c.note = format!("The camera's setup window had closed: the NVR power-cycled port {port} once to reopen it.");
            s.audit(clock, "power_cycle", Some(port), "init window closed: port power-cycled once".into());
        });
        // Power comes back whatever the store said.
        self.switch.set_power(port, true)?;
        saved?;
        Ok(ChannelState::Adopting)
    }

    async fn initialize(
        &self,
        port: u8,
        addr: SocketAddr,
        id: &Identity,
        ch: &Channel,
    ) -> Result<ChannelState, Error> {
        if !id.init_window_open {
            return self.window_closed(port, ch);
        }
        let (code, recovery) = self.store.read(|s| {
            (
                s.setup_codes.get(&port).cloned(),
                s.admin.as_ref().and_then(|a| a.recovery_email.clone()),
            )
        });
        if id.setup_code_required && code.is_none() {
            return self.note(port, ChannelState::Adopting, format!("This camera needs the setup code printed on its label: enter it for port {port}."));
        }
        // The password is saved before it is sent: a power cut after the camera took it
        // leaves the NVR able to sign in.
        let password = generate_password();
        let sealed = self.store.vault().seal(port, &id.serial, &password);
        let reset = ch.had_adopted && ch.serial.as_deref() == Some(id.serial.as_str());
        self.set(port, |c, s, clock| {
            c.serial = Some(id.serial.clone());
            c.model = Some(id.model.clone());
            c.address = Some(addr.to_string());
            c.state = ChannelState::Adopting;
            c.sealed_password = Some(sealed);
            c.note = "Setting up the camera.".into();
            if reset {
                s.audit(
                    clock,
                    "factory_reset_seen",
                    Some(port),
                    format!("{} is uninitialized again: adopting it again", id.serial),
                );
            }
        })?;
        let req = InitRequest {
            password: password.clone(),
            recovery_email: recovery,
            security_questions: Vec::new(),
            setup_code: if id.setup_code_required { code } else { None },
            network: None,
            time: None,
            onvif: true,
        };
        match self.link.init(addr, &id.serial, &req).await {
            Ok(()) | Err(LinkError::AlreadyInitialized) => {}
            Err(LinkError::WindowClosed) => return self.window_closed(port, ch),
            Err(LinkError::SetupCode) => {
                return self.note(port, ChannelState::Adopting, format!("The camera refused the setup code for port {port}: check the code on its label and enter it again."));
            }
            Err(LinkError::Unreachable(why)) => {
                return self.note(
                    port,
                    ChannelState::Offline,
                    format!("The camera stopped answering during setup ({why})."),
                );
            }
            Err(e @ (LinkError::NotGenuine(_) | LinkError::WrongSerial { .. })) => {
                return self.impostor(port, ch, addr, &e);
            }
            Err(e) => {
                return self.note(
                    port,
                    ChannelState::Adopting,
                    format!("The camera refused setup: {e}."),
                );
            }
        }
        let creds = Credentials {
            username: CAMERA_USER.into(),
            password,
        };
        self.configure(port, addr, id, &creds).await
    }

    /// Signs in, sets the time, adds the channel.
    async fn configure(
        &self,
        port: u8,
        addr: SocketAddr,
        id: &Identity,
        creds: &Credentials,
    ) -> Result<ChannelState, Error> {
        let serial = id.serial.as_str();
        let step = async {
            self.link.sign_in(addr, serial, creds).await?;
            self.link.enable_onvif(addr, serial, creds).await?;
            self.link
                .set_time(addr, serial, creds, self.store.clock().wall_ms())
                .await?;
            self.link.media(addr, serial, creds).await
        };
        let outcome = step.await;
        match &outcome {
            Ok(_) => {
                let now = self.store.clock().elapsed_ms();
                self.checked().insert(port, (serial.to_string(), addr, now));
            }
            Err(_) => {
                self.checked().remove(&port);
            }
        }
        match outcome {
            Ok(media) => self.set(port, |c, s, clock| {
                if c.state != ChannelState::Adopted || !c.had_adopted {
                    s.audit(clock, "adopted", Some(port), format!("{serial} ({}) adopted at {addr}", id.model));
                }
                c.serial = Some(serial.into());
                c.model = Some(id.model.clone());
                c.address = Some(addr.to_string());
                c.state = ChannelState::Adopted;
                c.had_adopted = true;
                c.power_cycled = false;
                c.pending_serial = None;
                c.profile = Some(media.profile);
                c.snapshot_uri = Some(media.snapshot_uri);
                c.note = "Recording. The NVR set its password, recovery address and time.".into();
            }),
            Err(LinkError::SignIn) => self.set(port, |c, s, clock| {
                if c.state != ChannelState::AuthFailed {
                    s.audit(clock, "auth_failed", Some(port), format!("{serial} refused the password the NVR holds"));
                }
                c.serial = Some(serial.into());
                c.address = Some(addr.to_string());
                c.state = ChannelState::AuthFailed;
                c.note = "The camera refused the NVR's password: reset the camera or enter its password.".into();
            }),
            Err(LinkError::Unreachable(why)) => self.note(port, ChannelState::Offline, format!("The camera stopped answering ({why}).")),
            Err(e @ (LinkError::NotGenuine(_) | LinkError::WrongSerial { .. })) => {
                let ch = self.store.read(|s| s.channels.get(&port).cloned()).unwrap_or_default();
                self.impostor(port, &ch, addr, &e)
            }
            Err(e) => self.note(port, ChannelState::Adopting, format!("The camera refused a setting: {e}.")),
        }
    }

    /// The admin approves the camera waiting on `port`: it is adopted as a new camera.
    pub async fn approve(&self, port: u8, who: &str) -> Result<ChannelState, Error> {
        self.store.update(|s, clock| {
            let ch = s.channels.get_mut(&port).filter(|c| {
                c.state == ChannelState::AwaitingApproval && c.pending_serial.is_some()
            });
            let Some(ch) = ch else {
                return Err(Error::Refused(format!(
                    "No camera is waiting for approval on port {port}."
                )));
            };
            let serial = ch.pending_serial.take().unwrap_or_default();
            let old = ch.serial.replace(serial.clone()).unwrap_or_default();
            *ch = Channel {
                serial: Some(serial.clone()),
                address: ch.address.take(),
                state: ChannelState::Adopting,
                note: "Approved: setting up the camera.".into(),
                ..Channel::default()
            };
            s.audit(
                clock,
                "approved",
                Some(port),
                format!("{who} approved {serial} in place of {old}"),
            );
            Ok(())
        })?;
        self.tick_port(port).await
    }

    /// The admin enters the password of a camera the NVR cannot sign into.
    pub async fn enter_password(
        &self,
        port: u8,
        password: &str,
        who: &str,
    ) -> Result<ChannelState, Error> {
        let addr = self
            .switch
            .status(port)?
            .address
            .ok_or_else(|| Error::Refused(format!("Nothing answers on port {port}.")))?;
        let ch = self
            .store
            .read(|s| s.channels.get(&port).cloned())
            .unwrap_or_default();
        if ch.state == ChannelState::AwaitingApproval {
            return Err(Error::Refused("Approve the camera first.".into()));
        }
        let id = self.link.identify(addr).await?;
        if ch.had_adopted && ch.serial.as_deref() != Some(id.serial.as_str()) {
            return Err(Error::Refused("Another camera is on this port now.".into()));
        }
        let creds = Credentials {
            username: CAMERA_USER.into(),
            password: password.into(),
        };
        self.link.sign_in(addr, &id.serial, &creds).await?;
        let sealed = self.store.vault().seal(port, &id.serial, password);
        self.set(port, |c, s, clock| {
            c.serial = Some(id.serial.clone());
            c.sealed_password = Some(sealed);
            s.audit(
                clock,
                "password_entered",
                Some(port),
                format!("{who} entered the password of {}", id.serial),
            );
        })?;
        self.tick_port(port).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testlink::{FakeCam, Rig, addr, rig};

    fn channel(r: &Rig, port: u8) -> Channel {
        r.nvr.store().read(|s| s.channels[&port].clone())
    }

    #[tokio::test]
    async fn adopts_an_uninitialized_camera_on_its_port() {
        let r = rig(4);
        r.link.put(addr(1), FakeCam::new("IPC4K15-A1"));
        r.switch.plug(1, Some(addr(1))).unwrap();
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::Adopted);
        let cam = r.link.get(addr(1));
        let creds = r.nvr.credentials(1, "IPC4K15-A1").unwrap().unwrap();
        assert_eq!(cam.password.as_deref(), Some(creds.password.as_str()));
        assert_eq!(cam.recovery_email.as_deref(), Some("owner@example.com"));
        assert!(cam.onvif);
        assert_eq!(cam.time_ms, Some(1_800_000_000_000));
        let ch = channel(&r, 1);
        assert_eq!(ch.serial.as_deref(), Some("IPC4K15-A1"));
        assert!(ch.snapshot_uri.is_some());
        // The password is only sealed on disk.
        let doc = std::fs::read_to_string(r._dir.path().join(store::STATE_FILE)).unwrap();
        assert!(!doc.contains(&creds.password));
        // A second run changes nothing and audits nothing new.
        let audits = r.nvr.store().read(|s| s.audit.len());
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::Adopted);
        assert_eq!(r.nvr.store().read(|s| s.audit.len()), audits);
        // Unplugged: offline.
        r.switch.plug(1, None).unwrap();
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::Offline);
    }

    #[tokio::test]
    async fn a_camera_off_its_ports_is_never_adopted() {
        let r = rig(2);
        // On the LAN, answering, uninitialized: but on no port of the switch.
        r.link.put(addr(9), FakeCam::new("IPC4K15-LAN"));
        r.nvr.tick_all().await;
        assert!(r.nvr.store().read(|s| s.channels.is_empty()));
        let cam = r.link.get(addr(9));
        assert!(cam.password.is_none() && cam.secrets.is_empty());
    }

    #[tokio::test]
    async fn an_impostor_gets_no_secret() {
        let r = rig(2);
        let mut fake = FakeCam::new("IPC4K15-A1");
        fake.genuine = false;
        r.link.put(addr(1), fake);
        r.switch.plug(1, Some(addr(1))).unwrap();
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::Adopting);
        assert!(r.link.get(addr(1)).secrets.is_empty());
        assert!(channel(&r, 1).note.contains("not a genuine camera"));
        assert!(
            r.nvr
                .store()
                .read(|s| s.audit.iter().any(|a| a.event == "identity_refused"))
        );
    }

    #[tokio::test]
    async fn a_replaced_camera_waits_for_approval_and_the_owner_is_told() {
        let r = rig(2);
        r.link.put(addr(1), FakeCam::new("IPC4K15-A1"));
        r.switch.plug(1, Some(addr(1))).unwrap();
        r.nvr.tick_port(1).await.unwrap();
        r.link.put(addr(2), FakeCam::new("IPC4K15-B2"));
        r.switch.plug(1, Some(addr(2))).unwrap();
        assert_eq!(
            r.nvr.tick_port(1).await.unwrap(),
            ChannelState::AwaitingApproval
        );
        assert_eq!(
            r.nvr.tick_port(1).await.unwrap(),
            ChannelState::AwaitingApproval
        );
        assert!(
            r.link.get(addr(2)).secrets.is_empty(),
            "nothing sent before approval"
        );
        assert_eq!(r.notices.lock().unwrap().len(), 1, "told once");
        assert!(r.notices.lock().unwrap()[0].message.contains("IPC4K15-B2"));
        assert_eq!(channel(&r, 1).pending_serial.as_deref(), Some("IPC4K15-B2"));
        assert_eq!(
            r.nvr.approve(1, "admin").await.unwrap(),
            ChannelState::Adopted
        );
        assert_eq!(channel(&r, 1).serial.as_deref(), Some("IPC4K15-B2"));
        assert!(
            r.nvr.approve(1, "admin").await.is_err(),
            "nothing left to approve"
        );
    }

    #[tokio::test]
    async fn a_factory_reset_camera_is_adopted_again() {
        let r = rig(1);
        r.link.put(addr(1), FakeCam::new("IPC4K15-A1"));
        r.switch.plug(1, Some(addr(1))).unwrap();
        r.nvr.tick_port(1).await.unwrap();
        let first = r.nvr.credentials(1, "IPC4K15-A1").unwrap().unwrap();
        r.link.edit(addr(1), |c| c.password = None);
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::Adopted);
        let second = r.nvr.credentials(1, "IPC4K15-A1").unwrap().unwrap();
        assert_ne!(first.password, second.password);
        assert_eq!(r.link.get(addr(1)).password, Some(second.password));
        assert!(
            r.nvr
                .store()
                .read(|s| s.audit.iter().any(|a| a.event == "factory_reset_seen"))
        );
    }

    #[tokio::test]
    async fn a_closed_window_power_cycles_the_port_once() {
        let r = rig(2);
        let mut cam = FakeCam::new("IPC4K15-A1");
        cam.window_open = false;
        r.link.put(addr(1), cam);
        r.switch.plug(1, Some(addr(1))).unwrap();
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::Adopting);
        assert_eq!(r.switch.power_cycles(), vec![1]);
        assert!(channel(&r, 1).note.contains("power-cycled port 1"));
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::Adopted);
        // Closed again and never reopening: one power cycle only, and it says so.
        r.link.put(
            addr(2),
            FakeCam {
                window_open: false,
                ..FakeCam::new("IPC4K15-B2")
            },
        );
        r.switch.set_power_hook(Arc::new(|_, _| {}));
        r.switch.plug(2, Some(addr(2))).unwrap();
        r.nvr.tick_port(2).await.unwrap();
        r.nvr.tick_port(2).await.unwrap();
        r.nvr.tick_port(2).await.unwrap();
        assert_eq!(r.switch.power_cycles(), vec![1, 2]);
        assert!(channel(&r, 2).note.contains("still closed"));
    }

    #[tokio::test]
    async fn setup_codes_come_from_the_installer() {
        let r = rig(1);
        r.link.put(
            addr(1),
            FakeCam {
                setup_code: Some("7K3M-Q9TX".into()),
                ..FakeCam::new("IPCT-1")
            },
        );
        r.switch.plug(1, Some(addr(1))).unwrap();
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::Adopting);
        assert!(channel(&r, 1).note.contains("setup code"));
        assert!(r.link.get(addr(1)).secrets.is_empty());
        r.nvr
            .store()
            .update(|s, _| {
                s.setup_codes.insert(1, "7K3M-Q9TX".into());
                Ok::<_, Error>(())
            })
            .unwrap();
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::Adopted);
    }

    #[tokio::test]
    async fn a_camera_set_up_elsewhere_is_auth_failed_until_its_password_is_entered() {
        let r = rig(1);
        r.link.put(
            addr(1),
            FakeCam {
                password: Some("owners-own-password-1".into()),
                ..FakeCam::new("IPC4K15-A1")
            },
        );
        r.switch.plug(1, Some(addr(1))).unwrap();
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::AuthFailed);
        assert!(
            channel(&r, 1)
                .note
                .contains("reset the camera or enter its password")
        );
        assert!(matches!(
            r.nvr.enter_password(1, "wrong", "admin").await,
            Err(Error::Link(LinkError::SignIn))
        ));
        assert_eq!(
            r.nvr
                .enter_password(1, "owners-own-password-1", "admin")
                .await
                .unwrap(),
            ChannelState::Adopted
        );
        // The owner changes it on the camera: auth_failed again at the next check.
        r.link
            .edit(addr(1), |c| c.password = Some("changed-by-owner-2".into()));
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::Adopted);
        r.clock.advance(RECHECK_MS);
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::AuthFailed);
    }

    #[tokio::test]
    async fn an_adopted_camera_is_signed_into_again_only_every_recheck_period() {
        let r = rig(1);
        r.link.put(addr(1), FakeCam::new("IPC4K15-A1"));
        r.switch.plug(1, Some(addr(1))).unwrap();
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::Adopted);
        let sent = r.link.get(addr(1)).secrets.len();
        for _ in 0..10 {
            r.clock.advance(RECHECK_MS / 20);
            assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::Adopted);
        }
        assert_eq!(
            r.link.get(addr(1)).secrets.len(),
            sent,
            "no sign-in within the period"
        );
        r.clock.advance(RECHECK_MS / 2);
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::Adopted);
        let again = r.link.get(addr(1)).secrets.len();
        assert!(again > sent, "signed into again after the period");
        // Offline in between (a reboot): set up again as soon as it answers.
        r.switch.plug(1, None).unwrap();
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::Offline);
        r.switch.plug(1, Some(addr(1))).unwrap();
        assert_eq!(r.nvr.tick_port(1).await.unwrap(), ChannelState::Adopted);
        assert!(r.link.get(addr(1)).secrets.len() > again);
    }

    #[tokio::test]
    async fn the_loop_adopts_on_link_changes() {
        let r = rig(2);
        let task = r.nvr.spawn(Duration::from_secs(3600));
        r.link.put(addr(1), FakeCam::new("IPC4K15-A1"));
        r.switch.plug(1, Some(addr(1))).unwrap();
        for _ in 0..200 {
            if r.nvr.store().read(|s| s.channels.get(&1).map(|c| c.state))
                == Some(ChannelState::Adopted)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(channel(&r, 1).state, ChannelState::Adopted);
        task.abort();
    }
}
