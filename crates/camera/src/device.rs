//! The camera as a device: power, boot, run, and the reset button (docs/design.md §1 step 2,
//! S7, S8).
//!
//! A [`Device`] owns one camera's life: while the power is off nothing answers; at power
//! on it boots for the model's boot time (divided by the lab's time scale; zero on a real
//! camera, whose boot has already happened) with its web page and API down and the button
//! not watched; then it serves, and the init window (S8) opens. While it runs, the reset
//! button held for the model's hold time wipes every user setting in one atomic save
//! ([`Core::factory_reset`](crate::core::Core::factory_reset)) and reboots it,
//! uninitialized. A reboot asked for over the network
//! ([`Core::request_reboot`](crate::core::Core::request_reboot), and after
//! [`Core::factory_default`](crate::core::Core::factory_default)) stops the camera
//! gracefully and boots it again without cutting the power: the init window reopens and
//! sessions end, as after a power cycle. Cutting the power drops everything in RAM; the
//! flash is whatever the last atomic save left (S7).

use crate::core::Core;
use crate::hardware::{ButtonLine, ButtonTiming, LedSignal, StatusLed, watch_for_reset};
use crate::server::{Camera, CameraConfig, Listeners};
use camkey_proto::clock::Clock;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What the device is doing (the lab's hardware API reports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerState {
    /// No power.
    Off,
    /// Powered, booting: nothing answers yet.
    Booting,
    /// Serving.
    Running,
    /// Factory reset under way (then it reboots).
    Resetting,
}

/// How to run one device.
pub struct DeviceConfig {
    /// The camera it runs.
    pub camera: CameraConfig,
    /// Where HTTPS is served: held all along, listening only while the camera runs.
    pub https: Reserved,
    /// Where plain HTTP (redirects) is served, if anywhere.
    pub http: Option<Reserved>,
    /// How long a boot takes.
    pub boot_time: Duration,
    /// The reset button's timing; `None` on models without a button.
    pub button: Option<ButtonTiming>,
}

/// A TCP port held for a camera without listening on it: connections are refused (the
/// camera is off or booting) and no other socket, outgoing connections included, can take
/// the port meanwhile.
#[derive(Debug)]
pub struct Reserved {
    socket: Option<socket2::Socket>,
    addr: SocketAddr,
}

impl Reserved {
    /// Binds `addr` (port 0: any free port) without listening.
    pub fn bind(addr: SocketAddr) -> std::io::Result<Reserved> {
        let socket = hold(addr)?;
        let addr = socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| std::io::Error::other("not an IP socket"))?;
        Ok(Reserved {
            socket: Some(socket),
            addr,
        })
    }

    /// The address held.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts listening: the listener for the camera (the port is no longer held here).
    fn listen(&mut self) -> std::io::Result<std::net::TcpListener> {
        let socket = match self.socket.take() {
            Some(s) => s,
            None => hold(self.addr)?,
        };
        socket.listen(1024)?;
        Ok(socket.into())
    }

    /// Holds the port again once the camera's listener is closed.
    fn hold_again(&mut self) -> std::io::Result<()> {
        if self.socket.is_none() {
            self.socket = Some(hold(self.addr)?);
        }
        Ok(())
    }
}

fn hold(addr: SocketAddr) -> std::io::Result<socket2::Socket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    // Like std's listeners: a port whose old connections linger in TIME_WAIT can be bound.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// A running device.
pub struct Device {
    power: watch::Sender<bool>,
    state: watch::Receiver<PowerState>,
    core: watch::Receiver<Option<Arc<Core>>>,
    failure: watch::Receiver<Option<String>>,
    quit: watch::Sender<bool>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

enum Ended {
    PowerOff,
    Quit,
    Reset,
    Reboot,
}

impl Device {
    /// Starts the device, powered or not. `button` is its reset button's line (none on
    /// models without one); `clock` the raw wall clock its camera reads.
    pub fn spawn(
        config: DeviceConfig,
        clock: Arc<dyn Clock>,
        button: Option<Box<dyn ButtonLine>>,
        led: Arc<dyn StatusLed>,
        powered: bool,
    ) -> Device {
        let (power, power_rx) = watch::channel(powered);
        let (state_tx, state) = watch::channel(PowerState::Off);
        let (quit, quit_rx) = watch::channel(false);
        let (failure_tx, failure) = watch::channel(None);
        let (core_tx, core) = watch::channel(None);
        let signals = Signals {
            power: power_rx,
            state: state_tx,
            core: core_tx,
            failure: failure_tx,
            quit: quit_rx,
        };
        let task = tokio::spawn(run(config, clock, button, led, signals));
        Device {
            power,
            state,
            core,
            failure,
            quit,
            task: tokio::sync::Mutex::new(Some(task)),
        }
    }

    /// Switches the power on or off.
    pub fn set_power(&self, on: bool) {
        self.power.send_replace(on);
    }

    /// Whether the power is on.
    pub fn powered(&self) -> bool {
        *self.power.borrow()
    }

    /// What the device is doing now.
    pub fn state(&self) -> PowerState {
        *self.state.borrow()
    }

    /// A receiver that sees every change of [`Device::state`] (ends when the device does).
    pub fn states(&self) -> watch::Receiver<PowerState> {
        self.state.clone()
    }

    /// The core of the camera running now (`None` while off or booting); each boot has a
    /// new one.
    pub fn core(&self) -> Option<Arc<Core>> {
        self.core.borrow().clone()
    }

    /// Waits until the device is in `state` (at most `limit`); whether it got there.
    pub async fn wait_for(&self, state: PowerState, limit: Duration) -> bool {
        let mut rx = self.state.clone();
        tokio::time::timeout(limit, rx.wait_for(|s| *s == state))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Waits until the camera serves (`Ok`) or could not start (`Err`, why: e.g. its
    /// factory data or state is damaged, or its ports are taken).
    pub async fn started(&self) -> Result<(), String> {
        let mut state = self.state.clone();
        let mut failure = self.failure.clone();
        tokio::select! {
            _ = state.wait_for(|s| *s == PowerState::Running) => Ok(()),
            f = failure.wait_for(|f| f.is_some()) => Err(f
                .ok()
                .and_then(|f| f.clone())
                .unwrap_or_else(|| "the device stopped".into())),
        }
    }

    /// Stops the device: a running camera shuts down cleanly.
    pub async fn stop(&self) {
        self.quit.send_replace(true);
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

/// Starts listening on the camera's ports, retrying for a while (the previous boot's
/// sockets may still be closing).
async fn bind(config: &mut DeviceConfig) -> Option<Listeners> {
    for attempt in 0..50 {
        let https = config.https.listen();
        let http = config.http.as_mut().map(Reserved::listen).transpose();
        match (https, http) {
            (Ok(https), Ok(http)) => return Some(Listeners { https, http }),
            (Err(e), _) | (_, Err(e)) => {
                if attempt == 0 {
                    tracing::warn!("camera listeners: {e}; retrying");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    tracing::error!("camera listeners could not be bound: the camera stays dark");
    None
}

/// Holds the camera's ports again after its listeners closed (retrying a while).
async fn hold_ports(config: &mut DeviceConfig) {
    for _ in 0..50 {
        let https = config.https.hold_again();
        let http = config.http.as_mut().map(Reserved::hold_again).transpose();
        match (https, http) {
            (Ok(()), Ok(_)) => return,
            (Err(e), _) | (_, Err(e)) => {
                tracing::debug!("holding the camera's ports: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// The device task's side of the [`Device`] handle.
struct Signals {
    /// The power switch.
    power: watch::Receiver<bool>,
    /// What the device is doing.
    state: watch::Sender<PowerState>,
    /// The running camera's core.
    core: watch::Sender<Option<Arc<Core>>>,
    /// Why the camera could not start, if it could not.
    failure: watch::Sender<Option<String>>,
    /// Set to stop the task.
    quit: watch::Receiver<bool>,
}

async fn run(
    mut config: DeviceConfig,
    clock: Arc<dyn Clock>,
    mut button: Option<Box<dyn ButtonLine>>,
    led: Arc<dyn StatusLed>,
    signals: Signals,
) {
    let Signals {
        mut power,
        state,
        core: running_core,
        failure,
        mut quit,
    } = signals;
    let serial = config.camera.https_base.clone();
    loop {
        state.send_replace(PowerState::Off);
        led.show(LedSignal::Off);
        tokio::select! {
            r = power.wait_for(|on| *on) => if r.is_err() { return },
            _ = quit.wait_for(|q| *q) => return,
        }
        // Powered: boot, run, and reboot after a reset, until the power goes.
        loop {
            state.send_replace(PowerState::Booting);
            led.show(LedSignal::Booting);
            tracing::info!(camera = %serial, "booting ({:?})", config.boot_time);
            tokio::select! {
                _ = tokio::time::sleep(config.boot_time) => {}
                _ = power.wait_for(|on| !*on) => break,
                _ = quit.wait_for(|q| *q) => return,
            }
            let camera = match bind(&mut config).await {
                Some(listeners) => {
                    Camera::start(config.camera.clone(), listeners, clock.clone()).await
                }
                None => Err(crate::server::CameraError::Io(std::io::Error::other(
                    "listeners not bound",
                ))),
            };
            let camera = match camera {
                Ok(c) => c,
                Err(e) => {
                    // A camera that cannot start stays booting (its LED says so) until
                    // the power is cycled.
                    tracing::error!(camera = %serial, "cannot start: {e}");
                    failure.send_replace(Some(e.to_string()));
                    tokio::select! {
                        _ = power.wait_for(|on| !*on) => break,
                        _ = quit.wait_for(|q| *q) => return,
                    }
                }
            };
            failure.send_replace(None);
            running_core.send_replace(Some(camera.core().clone()));
            state.send_replace(PowerState::Running);
            led.show(LedSignal::Running);
            tracing::info!(camera = %serial, "running");
            let watch_button = async {
                match (button.as_deref_mut(), config.button) {
                    (Some(line), Some(timing)) => {
                        let core = camera.core().clone();
                        let short_hold = move |held: Duration| {
                            core.record_hardware_event(
                                "reset_button_short",
                                format!(
                                    "reset button held {:.1} s, less than the {} s a reset takes: nothing done",
                                    held.as_secs_f64(),
                                    timing.hold.as_secs_f64()
                                ),
                            );
                        };
                        match watch_for_reset(line, timing, led.as_ref(), &short_hold).await {
                            Ok(()) => {}
                            Err(e) => {
                                tracing::error!("{e}; the reset button is not watched");
                                std::future::pending::<()>().await;
                            }
                        }
                    }
                    _ => std::future::pending::<()>().await,
                }
            };
            let core = camera.core().clone();
            let ended = tokio::select! {
                _ = power.wait_for(|on| !*on) => Ended::PowerOff,
                _ = quit.wait_for(|q| *q) => Ended::Quit,
                _ = watch_button => Ended::Reset,
                _ = core.reboot_requested().notified() => Ended::Reboot,
            };
            drop(core);
            running_core.send_replace(None);
            match ended {
                Ended::PowerOff => {
                    camera.power_cut().await;
                    hold_ports(&mut config).await;
                    break;
                }
                Ended::Quit => {
                    camera.stop().await;
                    return;
                }
                Ended::Reboot => {
                    tracing::info!(camera = %serial, "rebooting as asked");
                    camera.stop().await;
                    hold_ports(&mut config).await;
                }
                Ended::Reset => {
                    state.send_replace(PowerState::Resetting);
                    led.show(LedSignal::Resetting);
                    if let Err(e) = camera.core().factory_reset("button") {
                        // The old state is intact (the save is atomic): reboot into it.
                        tracing::error!(camera = %serial, "factory reset failed: {e}");
                    } else {
                        tracing::warn!(camera = %serial, "factory reset by button: rebooting uninitialized");
                    }
                    camera.power_cut().await;
                    hold_ports(&mut config).await;
                }
            }
        }
    }
}
