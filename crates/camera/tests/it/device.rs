//! The camera as a device: boot time, power cycles and the reset button, with the
//! simulated hardware, real HTTPS and real files. Model-sized times (a 3-minute boot, a
//! 15-second hold) run on tokio's paused clock, so they take milliseconds.

use crate::common::{GOOD_PASSWORD, TestCamera};
use camkey_camera::device::{Device, DeviceConfig, PowerState, Reserved};
use camkey_camera::hardware::{ButtonTiming, LedSignal, SimButtonHand, SimLed, sim_button};
use camkey_camera::state::UserState;
use camkey_camera::store::AtomicFile;
use camkey_camera::{CameraConfig, core::CoreConfig};
use camkey_proto::clock::ManualClock;
use std::sync::Arc;
use std::time::Duration;

const BOOT: Duration = Duration::from_secs(180);
const HOLD: Duration = Duration::from_secs(15);

/// A provisioned camera (initialized if `init`), stopped, and a device for it with the
/// model's times.
async fn device(init: bool, powered: bool) -> (TestCamera, Device, SimButtonHand, Arc<SimLed>) {
    let mut cam = TestCamera::start("IPC4K15").await;
    if init {
        cam.init().await;
    }
    cam.camera.take().unwrap().stop().await;
    let timing = ButtonTiming {
        hold: HOLD,
        debounce: Duration::from_millis(30),
    };
    let (dev, hand, led) = spawn_device(&cam, BOOT, timing, true, powered);
    (cam, dev, hand, led)
}

/// A device for `cam`'s (stopped) camera, on its ports, with a simulated button and LED.
fn spawn_device(
    cam: &TestCamera,
    boot_time: Duration,
    timing: ButtonTiming,
    with_http: bool,
    powered: bool,
) -> (Device, SimButtonHand, Arc<SimLed>) {
    let hand = sim_button();
    let led = Arc::new(SimLed::default());
    let hold = |port: u16| Reserved::bind(([127, 0, 0, 1], port).into()).unwrap();
    let config = DeviceConfig {
        camera: CameraConfig {
            factory_dir: cam.factory_dir(),
            data_dir: cam.data_dir(),
            https_base: cam.base(),
            http_base: None,
            core: CoreConfig::default(),
            discovery: None,
        },
        https: hold(cam.https_port),
        http: with_http.then(|| hold(cam.http_port)),
        boot_time,
        button: Some(timing),
    };
    let dev = Device::spawn(
        config,
        Arc::new(ManualClock::new(1_790_000_000_000)),
        Some(Box::new(hand.line())),
        led.clone(),
        powered,
    );
    (dev, hand, led)
}

fn answers(cam: &TestCamera) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", cam.https_port)).is_ok()
}

fn flash(cam: &TestCamera) -> UserState {
    AtomicFile::new(&cam.data_dir(), "state.json")
        .unwrap()
        .load()
        .unwrap()
        .unwrap()
}

async fn run_until(dev: &Device, state: PowerState) {
    assert!(
        dev.wait_for(state, Duration::from_secs(3600)).await,
        "never {state:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn boot_takes_the_model_time_with_everything_down() {
    let (cam, dev, _hand, led) = device(false, true).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(dev.state(), PowerState::Booting);
    assert_eq!(led.signal(), LedSignal::Booting);
    tokio::time::sleep(BOOT - Duration::from_secs(2)).await;
    assert_eq!(dev.state(), PowerState::Booting);
    assert!(!answers(&cam), "the web page answered during boot");
    tokio::time::sleep(Duration::from_secs(2)).await;
    run_until(&dev, PowerState::Running).await;
    assert!(answers(&cam));
    assert_eq!(led.signal(), LedSignal::Running);
    dev.stop().await;
}

#[tokio::test(start_paused = true)]
async fn holding_the_button_wipes_user_settings_and_reboots_uninitialized() {
    let (cam, dev, hand, led) = device(true, false).await;
    // Give the flash a firmware floor, as an update would have.
    let store = AtomicFile::new(&cam.data_dir(), "state.json").unwrap();
    let mut st: UserState = store.load().unwrap().unwrap();
    st.firmware_floor = 7;
    store.save(&st).unwrap();
    let before = flash(&cam);
    assert!(before.initialized() && before.recovery_email.is_some());

    dev.set_power(true);
    run_until(&dev, PowerState::Running).await;
    // A short hold does nothing.
    hand.set(true);
    tokio::time::sleep(Duration::from_secs(10)).await;
    hand.set(false);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(dev.state(), PowerState::Running);
    assert!(flash(&cam).initialized());
    let short = flash(&cam).audit.back().unwrap().clone();
    assert_eq!(short.event, "reset_button_short", "{short:?}");
    assert!(short.detail.contains("held 10.0 s"), "{}", short.detail);

    // 15 seconds: LED, reset, reboot.
    hand.set(true);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(led.signal(), LedSignal::ButtonHeld);
    run_until(&dev, PowerState::Booting).await;
    hand.set(false);
    let after = flash(&cam);
    assert!(!after.initialized());
    assert!(after.accounts.is_empty());
    assert_eq!(after.recovery_email, None);
    assert!(after.questions.is_empty() && after.smtp.is_none() && after.challenges.is_empty());
    assert_eq!(after.network, UserState::default().network);
    assert_eq!(after.limits, UserState::default().limits);
    assert_eq!(
        after.firmware_floor, 7,
        "the security-version floor survives"
    );
    assert!(after.generation > before.generation);
    let last = after.audit.back().unwrap();
    assert_eq!(last.event, "factory_reset");
    assert!(
        last.detail.starts_with("factory reset by button at "),
        "{}",
        last.detail
    );
    assert!(
        after.audit.len() > before.audit.len(),
        "the audit log survives the reset"
    );
    run_until(&dev, PowerState::Running).await;
    dev.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_press_during_boot_is_ignored() {
    let (cam, dev, hand, _led) = device(true, true).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    hand.set(true); // pressed while booting, and held well past the boot
    tokio::time::sleep(BOOT + HOLD * 2).await;
    assert_eq!(dev.state(), PowerState::Running);
    hand.set(false);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        flash(&cam).initialized(),
        "a press during boot reset the camera"
    );
    dev.stop().await;
}

#[tokio::test]
async fn power_off_drops_ram_and_keeps_flash() {
    let mut cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    cam.camera.take().unwrap().stop().await;
    let timing = ButtonTiming {
        hold: Duration::from_millis(300),
        debounce: Duration::from_millis(10),
    };
    let (dev, _hand, _led) = spawn_device(&cam, Duration::from_millis(20), timing, false, true);
    run_until(&dev, PowerState::Running).await;
    let token = cam.token().await;
    assert_eq!(cam.get("/audit", Some(&token)).await.0, 200);
    dev.set_power(false);
    run_until(&dev, PowerState::Off).await;
    assert!(!answers(&cam), "an unpowered camera answered");
    dev.set_power(true);
    run_until(&dev, PowerState::Running).await;
    // RAM is gone (the session), flash is not (the password).
    assert_eq!(cam.get("/audit", Some(&token)).await.0, 401);
    let (st, _) = cam.login(GOOD_PASSWORD).await;
    assert_eq!(st, 200);
    dev.stop().await;
}

#[tokio::test]
async fn the_help_page_carries_the_models_reset_guide() {
    for (model, button) in [("IPC4K15", true), ("IPC4K15D", true), ("IPC4T8", false)] {
        let cam = TestCamera::start(model).await;
        let r = cam
            .client()
            .get(format!("{}/help", cam.base()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let html = r.text().await.unwrap();
        assert!(html.contains("<svg"), "{model}: no drawing");
        let m = camkey_proto::catalogue::model(model).unwrap();
        if button {
            assert!(html.contains(m.reset_button.location), "{model}");
        }
        assert_eq!(html.contains("hold it for 15 seconds"), button, "{model}");
        assert_eq!(html.contains("not on carpet"), button, "{model}");
        if !button {
            assert!(html.contains("no reset button you can reach"), "{model}");
        }
    }
}

/// The core of the camera once it runs again after `old` (a reboot gives a new one).
async fn next_core(
    dev: &Device,
    old: &Arc<camkey_camera::core::Core>,
) -> Arc<camkey_camera::core::Core> {
    for _ in 0..1_000 {
        if let Some(c) = dev.core()
            && !Arc::ptr_eq(&c, old)
            && dev.state() == PowerState::Running
        {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the camera did not come back");
}

#[tokio::test]
async fn a_reboot_request_restarts_the_camera_and_ends_every_session() {
    let mut cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    cam.camera.take().unwrap().stop().await;
    let timing = ButtonTiming {
        hold: Duration::from_millis(300),
        debounce: Duration::from_millis(10),
    };
    let (dev, _hand, _led) = spawn_device(&cam, Duration::from_millis(20), timing, true, true);
    run_until(&dev, PowerState::Running).await;
    let token = cam.token().await;
    assert_eq!(cam.get("/audit", Some(&token)).await.0, 200);
    let core = dev.core().unwrap();
    core.request_reboot("admin", "127.0.0.1".parse().unwrap())
        .unwrap();
    let again = next_core(&dev, &core).await;
    assert!(dev.powered(), "a reboot keeps the power");
    // Sessions are RAM: gone. The flash is kept, with the request in the audit log.
    assert_eq!(cam.get("/audit", Some(&token)).await.0, 401);
    assert!(again.initialized());
    assert!(again.audit().iter().any(|e| e.event == "reboot_requested"));
    assert_eq!(cam.login(GOOD_PASSWORD).await.0, 200);
    dev.stop().await;
}

#[tokio::test]
async fn factory_defaults_over_the_network_reboot_with_the_init_window_open_again() {
    let mut cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    cam.camera.take().unwrap().stop().await;
    let hand = sim_button();
    let hold = |port: u16| Reserved::bind(([127, 0, 0, 1], port).into()).unwrap();
    let clock = ManualClock::new(1_790_000_000_000);
    let dev = Device::spawn(
        DeviceConfig {
            camera: CameraConfig {
                factory_dir: cam.factory_dir(),
                data_dir: cam.data_dir(),
                https_base: cam.base(),
                http_base: None,
                core: CoreConfig::default(),
                discovery: None,
            },
            https: hold(cam.https_port),
            http: Some(hold(cam.http_port)),
            boot_time: Duration::from_millis(20),
            button: None,
        },
        Arc::new(clock.clone()),
        Some(Box::new(hand.line())),
        Arc::new(SimLed::default()),
        true,
    );
    run_until(&dev, PowerState::Running).await;
    let core = dev.core().unwrap();
    // Long after boot: the init window has closed.
    clock.advance(31 * 60_000);
    assert!(!core.init_window_open());
    core.factory_default(true, "admin", "127.0.0.1".parse().unwrap())
        .unwrap();
    let again = next_core(&dev, &core).await;
    assert!(!again.initialized());
    assert!(again.init_window_open(), "the init window did not reopen");
    let (st, body) = cam
        .post("/init", serde_json::json!({"password": GOOD_PASSWORD}))
        .await;
    assert_eq!(st, 200, "{body}");
    dev.stop().await;
}
