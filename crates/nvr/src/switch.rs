//! The PoE switch seam: what the NVR learns from its own switch chip and DHCP leases.
//!
//! A real NVR reads each port's link state from its switch chip, the address of the camera
//! on that port from the DHCP leases it hands out on that port, and powers ports through
//! the PoE controller. [`PoeSwitch`] is that seam; [`SimSwitch`] is the simulated switch
//! of the tests and the lab, where a test (or the lab's hardware panel) plugs a camera in,
//! and a power change is handed to a hook that powers the simulated camera.
//!
//! The NVR never contacts an address it did not learn here: that is what keeps it to the
//! cameras on its own ports (issue 14: "never one elsewhere on the LAN").

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// One port as the switch sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortStatus {
    /// Link up (a device is plugged in and powered).
    pub link: bool,
    /// The address of the device on that port (its DHCP lease), once known.
    pub address: Option<SocketAddr>,
    /// Whether the port supplies power.
    pub power: bool,
}

/// Switch failures.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SwitchError {
    /// The port number is outside 1..=N.
    #[error("port {0} does not exist on this NVR")]
    NoSuchPort(u8),
    /// The PoE controller refused.
    #[error("the PoE controller refused: {0}")]
    Power(String),
}

/// An NVR's PoE switch: ports `1..=ports()`.
pub trait PoeSwitch: Send + Sync + 'static {
    /// Number of PoE ports.
    fn ports(&self) -> u8;
    /// A port's state.
    fn status(&self, port: u8) -> Result<PortStatus, SwitchError>;
    /// Turns a port's power on or off.
    fn set_power(&self, port: u8, on: bool) -> Result<(), SwitchError>;
    /// A receiver that changes whenever any port's link, address or power changes (the
    /// adoption loop wakes on it).
    fn changes(&self) -> watch::Receiver<u64>;
}

/// What a power change does to the simulated device on a port (the lab powers its
/// simulated camera; tests record it).
pub type PowerHook = Arc<dyn Fn(u8, bool) + Send + Sync>;

#[derive(Debug, Clone, Default)]
struct SimPort {
    plugged: Option<SocketAddr>,
    power: bool,
}

/// The simulated switch.
pub struct SimSwitch {
    ports: Mutex<Vec<SimPort>>,
    hook: Mutex<Option<PowerHook>>,
    tx: watch::Sender<u64>,
    cycles: Mutex<Vec<u8>>,
}

impl std::fmt::Debug for SimSwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimSwitch")
            .field("ports", &self.ports)
            .finish_non_exhaustive()
    }
}

impl SimSwitch {
    /// A switch with `n` powered, empty ports.
    pub fn new(n: u8) -> Self {
        SimSwitch {
            ports: Mutex::new(vec![
                SimPort {
                    plugged: None,
                    power: true
                };
                usize::from(n)
            ]),
            hook: Mutex::new(None),
            tx: watch::channel(0).0,
            cycles: Mutex::new(Vec::new()),
        }
    }

    /// Sets what happens to the device on a port when its power changes.
    pub fn set_power_hook(&self, hook: PowerHook) {
        *lock(&self.hook) = Some(hook);
    }

    fn bump(&self) {
        self.tx.send_modify(|v| *v += 1);
    }

    fn with_port<T>(&self, port: u8, f: impl FnOnce(&mut SimPort) -> T) -> Result<T, SwitchError> {
        let mut ports = lock(&self.ports);
        let p = port
            .checked_sub(1)
            .and_then(|i| ports.get_mut(usize::from(i)))
            .ok_or(SwitchError::NoSuchPort(port))?;
        Ok(f(p))
    }

    /// Plugs a device answering at `address` into `port` (`None` unplugs it).
    pub fn plug(&self, port: u8, address: Option<SocketAddr>) -> Result<(), SwitchError> {
        self.with_port(port, |p| p.plugged = address)?;
        self.bump();
        Ok(())
    }

    /// Ports whose power was turned off and on again, in order (for tests and the lab's
    /// panel).
    pub fn power_cycles(&self) -> Vec<u8> {
        lock(&self.cycles).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl PoeSwitch for SimSwitch {
    fn ports(&self) -> u8 {
        u8::try_from(lock(&self.ports).len()).unwrap_or(u8::MAX)
    }

    fn status(&self, port: u8) -> Result<PortStatus, SwitchError> {
        self.with_port(port, |p| PortStatus {
            link: p.power && p.plugged.is_some(),
            address: if p.power { p.plugged } else { None },
            power: p.power,
        })
    }

    fn set_power(&self, port: u8, on: bool) -> Result<(), SwitchError> {
        let was = self.with_port(port, |p| std::mem::replace(&mut p.power, on))?;
        if was && !on {
            lock(&self.cycles).push(port);
        }
        let hook = lock(&self.hook).clone();
        if let Some(h) = hook {
            h(port, on);
        }
        self.bump();
        Ok(())
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}

/// A switch whose table is fixed at start: `camkey nvr --port N=ADDR`, for an NVR whose
/// segment is wired by hand (each camera on a reserved address). Its link is up wherever
/// an address is given; it has no PoE controller, so a power cycle is refused with what to
/// do instead.
#[derive(Debug)]
pub struct StaticSwitch {
    ports: Vec<Option<SocketAddr>>,
    tx: watch::Sender<u64>,
}

impl StaticSwitch {
    /// `n` ports, with the given addresses (ports outside `1..=n` are refused).
    pub fn new(
        n: u8,
        leases: impl IntoIterator<Item = (u8, SocketAddr)>,
    ) -> Result<Self, SwitchError> {
        let mut ports = vec![None; usize::from(n)];
        for (port, addr) in leases {
            let slot = port
                .checked_sub(1)
                .and_then(|i| ports.get_mut(usize::from(i)))
                .ok_or(SwitchError::NoSuchPort(port))?;
            *slot = Some(addr);
        }
        Ok(StaticSwitch {
            ports,
            tx: watch::channel(0).0,
        })
    }
}

impl PoeSwitch for StaticSwitch {
    fn ports(&self) -> u8 {
        u8::try_from(self.ports.len()).unwrap_or(u8::MAX)
    }

    fn status(&self, port: u8) -> Result<PortStatus, SwitchError> {
        let addr = port
            .checked_sub(1)
            .and_then(|i| self.ports.get(usize::from(i)))
            .ok_or(SwitchError::NoSuchPort(port))?;
        Ok(PortStatus {
            link: addr.is_some(),
            address: *addr,
            power: true,
        })
    }

    fn set_power(&self, port: u8, _on: bool) -> Result<(), SwitchError> {
        self.status(port)?;
        Err(SwitchError::Power(format!(
            "this NVR has no PoE controller: unplug the camera on port {port} for a few seconds and plug it in again"
        )))
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn ports_link_address_and_power() {
        let s = SimSwitch::new(4);
        assert_eq!(s.ports(), 4);
        assert_eq!(s.status(0), Err(SwitchError::NoSuchPort(0)));
        assert_eq!(s.status(5), Err(SwitchError::NoSuchPort(5)));
        let addr: SocketAddr = "127.0.0.1:4443".parse().unwrap();
        let rx = s.changes();
        s.plug(2, Some(addr)).unwrap();
        assert!(rx.has_changed().unwrap());
        assert_eq!(
            s.status(2).unwrap(),
            PortStatus {
                link: true,
                address: Some(addr),
                power: true
            }
        );
        assert!(!s.status(1).unwrap().link);
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        s.set_power_hook(Arc::new(move |port, _| {
            assert_eq!(port, 2);
            c.fetch_add(1, Ordering::SeqCst);
        }));
        s.set_power(2, false).unwrap();
        assert_eq!(
            s.status(2).unwrap(),
            PortStatus {
                link: false,
                address: None,
                power: false
            }
        );
        s.set_power(2, true).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(s.power_cycles(), vec![2]);
    }

    #[test]
    fn a_static_table_has_links_where_addresses_are_and_no_power_control() {
        let addr: SocketAddr = "127.0.0.1:4443".parse().unwrap();
        assert_eq!(
            StaticSwitch::new(2, [(3, addr)]).unwrap_err(),
            SwitchError::NoSuchPort(3)
        );
        let s = StaticSwitch::new(2, [(2, addr)]).unwrap();
        assert_eq!(s.ports(), 2);
        assert!(!s.status(1).unwrap().link);
        assert_eq!(s.status(2).unwrap().address, Some(addr));
        let e = s.set_power(2, false).unwrap_err();
        assert!(e.to_string().contains("unplug the camera on port 2"), "{e}");
        assert_eq!(s.set_power(9, true), Err(SwitchError::NoSuchPort(9)));
    }
}
