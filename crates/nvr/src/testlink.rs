//! A test [`CameraLink`] over simulated cameras, for the state machine's unit tests where
//! running real cameras adds nothing but time: each camera keeps what a real one keeps
//! (serial in its certificate, password, init window, setup code) and records every secret
//! it was sent, so a test can prove an impostor got none.

use crate::adopt::{Adopter, Notice};
use crate::link::{CameraLink, Credentials, Identity, LinkError, Media};
use crate::store::Store;
use crate::switch::{PoeSwitch, SimSwitch};
use camkey_proto::api::InitRequest;
use camkey_proto::clock::ManualClock;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One simulated camera.
#[derive(Debug, Clone, Default)]
pub struct FakeCam {
    pub serial: String,
    pub model: String,
    /// `false`: its certificate does not chain to the device CA.
    pub genuine: bool,
    pub password: Option<String>,
    pub window_open: bool,
    pub setup_code: Option<String>,
    pub recovery_email: Option<String>,
    pub time_ms: Option<i64>,
    pub onvif: bool,
    /// Every secret this device was sent (init and sign-in passwords).
    pub secrets: Vec<String>,
}

impl FakeCam {
    pub fn new(serial: &str) -> Self {
        FakeCam {
            serial: serial.into(),
            model: "IPC4K15".into(),
            genuine: true,
            window_open: true,
            ..FakeCam::default()
        }
    }
}

#[derive(Debug, Default)]
pub struct FakeLink {
    pub cams: Mutex<HashMap<SocketAddr, FakeCam>>,
}

impl FakeLink {
    pub fn put(&self, addr: SocketAddr, cam: FakeCam) {
        self.cams.lock().unwrap().insert(addr, cam);
    }
    pub fn get(&self, addr: SocketAddr) -> FakeCam {
        self.cams.lock().unwrap()[&addr].clone()
    }
    pub fn edit(&self, addr: SocketAddr, f: impl FnOnce(&mut FakeCam)) {
        f(self.cams.lock().unwrap().get_mut(&addr).unwrap())
    }

    fn with<T>(
        &self,
        addr: SocketAddr,
        serial: &str,
        f: impl FnOnce(&mut FakeCam) -> Result<T, LinkError>,
    ) -> Result<T, LinkError> {
        let mut cams = self.cams.lock().unwrap();
        let cam = cams
            .get_mut(&addr)
            .ok_or_else(|| LinkError::Unreachable("connection refused".into()))?;
        if !cam.genuine {
            return Err(LinkError::NotGenuine("unknown issuer".into()));
        }
        if cam.serial != serial {
            return Err(LinkError::WrongSerial {
                expected: serial.into(),
                found: cam.serial.clone(),
            });
        }
        f(cam)
    }

    fn signed_in(cam: &mut FakeCam, creds: &Credentials) -> Result<(), LinkError> {
        cam.secrets.push(creds.password.clone());
        if creds.username == "admin" && cam.password.as_deref() == Some(&creds.password) {
            Ok(())
        } else {
            Err(LinkError::SignIn)
        }
    }
}

impl CameraLink for FakeLink {
    async fn identify(&self, addr: SocketAddr) -> Result<Identity, LinkError> {
        let cams = self.cams.lock().unwrap();
        let cam = cams
            .get(&addr)
            .ok_or_else(|| LinkError::Unreachable("connection refused".into()))?;
        if !cam.genuine {
            return Err(LinkError::NotGenuine("unknown issuer".into()));
        }
        Ok(Identity {
            serial: cam.serial.clone(),
            model: cam.model.clone(),
            initialized: cam.password.is_some(),
            init_window_open: cam.window_open,
            setup_code_required: cam.setup_code.is_some(),
        })
    }

    async fn init(
        &self,
        addr: SocketAddr,
        serial: &str,
        req: &InitRequest,
    ) -> Result<(), LinkError> {
        self.with(addr, serial, |cam| {
            cam.secrets.push(req.password.clone());
            if cam.password.is_some() {
                return Err(LinkError::AlreadyInitialized);
            }
            if !cam.window_open {
                return Err(LinkError::WindowClosed);
            }
            if cam.setup_code.is_some() && cam.setup_code != req.setup_code {
                return Err(LinkError::SetupCode);
            }
            cam.password = Some(req.password.clone());
            cam.recovery_email = req.recovery_email.clone();
            cam.onvif = req.onvif;
            Ok(())
        })
    }

    async fn sign_in(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
    ) -> Result<(), LinkError> {
        self.with(addr, serial, |cam| Self::signed_in(cam, creds))
    }

    async fn enable_onvif(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
    ) -> Result<(), LinkError> {
        self.with(addr, serial, |cam| {
            Self::signed_in(cam, creds)?;
            cam.onvif = true;
            Ok(())
        })
    }

    async fn set_time(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
        wall_ms: i64,
    ) -> Result<(), LinkError> {
        self.with(addr, serial, |cam| {
            Self::signed_in(cam, creds)?;
            cam.time_ms = Some(wall_ms);
            Ok(())
        })
    }

    async fn media(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
    ) -> Result<Media, LinkError> {
        self.with(addr, serial, |cam| {
            Self::signed_in(cam, creds)?;
            Ok(Media {
                profile: "profile_1".into(),
                snapshot_uri: format!("https://{addr}/onvif/snapshot"),
            })
        })
    }

    async fn snapshot(
        &self,
        addr: SocketAddr,
        serial: &str,
        creds: &Credentials,
        _uri: &str,
    ) -> Result<Vec<u8>, LinkError> {
        self.with(addr, serial, |cam| {
            Self::signed_in(cam, creds)?;
            Ok(b"\xff\xd8jpeg".to_vec())
        })
    }
}

pub struct Rig {
    pub _dir: tempfile::TempDir,
    pub switch: Arc<SimSwitch>,
    pub link: Arc<FakeLink>,
    pub nvr: Arc<Adopter<FakeLink>>,
    pub notices: Arc<Mutex<Vec<Notice>>>,
    /// The store's raw clock.
    pub clock: ManualClock,
}

pub fn addr(n: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 10_000 + n))
}

pub fn rig(ports: u8) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_800_000_000_000);
    let store = Arc::new(Store::open(dir.path(), Arc::new(clock.clone())).unwrap());
    store
        .set_admin(
            "admin",
            "installer-chosen-passphrase",
            Some("owner@example.com".into()),
        )
        .unwrap();
    let switch = Arc::new(SimSwitch::new(ports));
    let link = Arc::new(FakeLink::default());
    // A power cycle reopens the simulated camera's init window, as a reboot does.
    let (l, s) = (link.clone(), Arc::downgrade(&switch));
    switch.set_power_hook(Arc::new(move |port, on| {
        if let (true, Some(s)) = (on, s.upgrade())
            && let Ok(st) = s.status(port)
            && let Some(a) = st.address
        {
            l.edit(a, |c| c.window_open = true);
        }
    }));
    let notices = Arc::new(Mutex::new(Vec::new()));
    let n = notices.clone();
    let nvr = Arc::new(Adopter::new(
        store,
        switch.clone(),
        link.clone(),
        Arc::new(move |x| n.lock().unwrap().push(x)),
    ));
    Rig {
        _dir: dir,
        switch,
        link,
        nvr,
        notices,
        clock,
    }
}
