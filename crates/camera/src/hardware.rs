//! The hardware seam: the reset button and the status LED (docs/design.md §1 step 2, S7).
//!
//! The camera's logic sees the button only as a [`ButtonLine`] (a level that changes) and
//! the LED only as a [`StatusLed`]. Real cameras use a Linux GPIO character-device line
//! ([`gpio`](crate::gpio), feature `gpio`); the lab and the tests use [`SimButton`] and
//! [`SimLed`], driven through the lab's hardware API. [`watch_for_reset`] is the one piece
//! of logic: a press held for the model's hold time (15 s) while the camera runs asks for
//! a factory reset; a shorter hold does nothing but a log line; contact bounce shorter
//! than the debounce period is neither a press nor a release.
//!
//! All waiting goes through tokio's timer, which tests pause and advance: a 15-second hold
//! is tested in milliseconds.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The button could not be read.
#[derive(Debug, thiserror::Error)]
#[error("reset button: {0}")]
pub struct HardwareError(pub String);

/// A reset button's input line.
pub trait ButtonLine: Send {
    /// Whether the button is pressed now.
    fn pressed(&mut self) -> Result<bool, HardwareError>;
    /// Waits until the line changes (it may change back before the caller looks again).
    fn changed(&mut self) -> BoxFuture<'_, Result<(), HardwareError>>;
}

/// What the status LED shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LedSignal {
    /// Unpowered.
    Off,
    /// Slow blink: booting.
    Booting,
    /// Steady: running.
    Running,
    /// Fast blink: the button is held, keep holding.
    ButtonHeld,
    /// Rapid flashes: factory reset under way, do not cut the power.
    Resetting,
}

/// The camera's status LED.
pub trait StatusLed: Send + Sync {
    /// Shows `signal` until told otherwise.
    fn show(&self, signal: LedSignal);
}

/// How the button is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ButtonTiming {
    /// How long a press must last to reset (the model's value, e.g. 15 s).
    pub hold: Duration,
    /// A level must stay this long to count (contact bounce is shorter).
    pub debounce: Duration,
}

impl ButtonTiming {
    /// The model's hold time (in whole seconds), divided by `time_scale`; 30 ms debounce.
    pub fn for_model(hold_secs: u64, time_scale: u32) -> Self {
        ButtonTiming {
            hold: Duration::from_secs(hold_secs) / time_scale.max(1),
            debounce: Duration::from_millis(30),
        }
    }
}

/// Waits until the button is `pressed` and stays so for the debounce period.
async fn settle(
    line: &mut dyn ButtonLine,
    pressed: bool,
    debounce: Duration,
) -> Result<(), HardwareError> {
    loop {
        if line.pressed()? != pressed {
            line.changed().await?;
            continue;
        }
        match tokio::time::timeout(debounce, line.changed()).await {
            Err(_) => return Ok(()), // stable for the whole period
            Ok(r) => r?,             // it moved: look again
        }
    }
}

/// Watches the button while the camera runs; returns when a press has been held for
/// `timing.hold` (the caller then resets). A button already held when watching starts
/// (pressed during boot) must be released first: a press during boot is ignored. Each
/// shorter hold is reported to `short_hold` (how long it lasted), which may record it.
pub async fn watch_for_reset(
    line: &mut dyn ButtonLine,
    timing: ButtonTiming,
    led: &dyn StatusLed,
    short_hold: &(dyn Fn(Duration) + Send + Sync),
) -> Result<(), HardwareError> {
    if line.pressed()? {
        tracing::info!("reset button held since boot: ignored until released");
        settle(line, false, timing.debounce).await?;
    }
    loop {
        settle(line, true, timing.debounce).await?;
        let started = tokio::time::Instant::now();
        led.show(LedSignal::ButtonHeld);
        // The debounce period already passed while pressed.
        let left = timing.hold.saturating_sub(timing.debounce);
        match tokio::time::timeout(left, settle(line, false, timing.debounce)).await {
            Err(_) => {
                tracing::warn!(
                    "reset button held {:?}: factory reset",
                    timing.hold.as_secs_f64()
                );
                return Ok(());
            }
            Ok(r) => {
                r?;
                led.show(LedSignal::Running);
                // The release was confirmed one debounce period after it happened.
                let held = started.elapsed();
                tracing::info!(
                    held_ms = held.as_millis() as u64,
                    need_ms = timing.hold.as_millis() as u64,
                    "reset button released too soon: nothing done"
                );
                short_hold(held);
            }
        }
    }
}

/// A simulated button: a level set by the lab's hardware API (or a test).
#[derive(Debug, Clone)]
pub struct SimButton {
    rx: watch::Receiver<bool>,
}

/// The lab's hand on a [`SimButton`].
#[derive(Debug, Clone)]
pub struct SimButtonHand {
    tx: std::sync::Arc<watch::Sender<bool>>,
}

impl SimButtonHand {
    /// Presses (`true`) or releases the button.
    pub fn set(&self, pressed: bool) {
        self.tx.send_replace(pressed);
    }

    /// Whether it is pressed.
    pub fn pressed(&self) -> bool {
        *self.tx.borrow()
    }

    /// A line that reads this button.
    pub fn line(&self) -> SimButton {
        SimButton {
            rx: self.tx.subscribe(),
        }
    }
}

/// A new simulated button, released.
pub fn sim_button() -> SimButtonHand {
    let (tx, _) = watch::channel(false);
    SimButtonHand {
        tx: std::sync::Arc::new(tx),
    }
}

impl ButtonLine for SimButton {
    fn pressed(&mut self) -> Result<bool, HardwareError> {
        Ok(*self.rx.borrow_and_update())
    }

    fn changed(&mut self) -> BoxFuture<'_, Result<(), HardwareError>> {
        Box::pin(async move {
            self.rx
                .changed()
                .await
                .map_err(|_| HardwareError("the simulated button is gone".into()))
        })
    }
}

/// A simulated LED: remembers what it shows.
#[derive(Debug)]
pub struct SimLed(Mutex<LedSignal>);

impl Default for SimLed {
    fn default() -> Self {
        SimLed(Mutex::new(LedSignal::Off))
    }
}

impl SimLed {
    /// What it shows now.
    pub fn signal(&self) -> LedSignal {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl StatusLed for SimLed {
    fn show(&self, signal: LedSignal) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = signal;
    }
}

/// An LED that only logs (a camera run without one).
#[derive(Debug, Default)]
pub struct LogLed;

impl StatusLed for LogLed {
    fn show(&self, signal: LedSignal) {
        tracing::debug!(?signal, "status LED");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const TIMING: ButtonTiming = ButtonTiming {
        hold: Duration::from_secs(15),
        debounce: Duration::from_millis(30),
    };

    async fn sleep_ms(ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    /// Starts watching (and lets the watcher look at the button once); the handle says
    /// when (in paused time) the reset was asked for.
    async fn watch(
        hand: &SimButtonHand,
        led: Arc<SimLed>,
    ) -> tokio::task::JoinHandle<tokio::time::Instant> {
        let mut line = hand.line();
        let task = tokio::spawn(async move {
            watch_for_reset(&mut line, TIMING, led.as_ref(), &|_| {})
                .await
                .unwrap();
            tokio::time::Instant::now()
        });
        sleep_ms(100).await;
        task
    }

    #[tokio::test(start_paused = true)]
    async fn fifteen_seconds_held_resets_and_the_led_says_so() {
        let hand = sim_button();
        let led = Arc::new(SimLed::default());
        let task = watch(&hand, led.clone()).await;
        sleep_ms(1000).await;
        let pressed_at = tokio::time::Instant::now();
        hand.set(true);
        sleep_ms(100).await;
        assert_eq!(led.signal(), LedSignal::ButtonHeld);
        sleep_ms(14_800).await;
        assert!(!task.is_finished(), "14.9 s is not enough");
        sleep_ms(200).await;
        let at = task.await.unwrap();
        let held = at - pressed_at;
        assert!(
            held >= Duration::from_secs(15) && held < Duration::from_millis(15_100),
            "{held:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_hold_does_nothing() {
        let hand = sim_button();
        let led = Arc::new(SimLed::default());
        let holds = Arc::new(Mutex::new(Vec::new()));
        let seen = holds.clone();
        let mut line = hand.line();
        let watcher_led = led.clone();
        let task = tokio::spawn(async move {
            let report = move |d: Duration| seen.lock().unwrap().push(d.as_millis());
            watch_for_reset(&mut line, TIMING, watcher_led.as_ref(), &report)
                .await
                .unwrap();
        });
        sleep_ms(100).await;
        for hold in [100, 5_000, 14_000] {
            hand.set(true);
            sleep_ms(hold).await;
            hand.set(false);
            sleep_ms(20_000).await;
            assert!(!task.is_finished(), "a {hold} ms hold reset the camera");
            assert_eq!(led.signal(), LedSignal::Running);
        }
        task.abort();
        // Each short hold was reported, with its length (to the debounce period).
        let holds = holds.lock().unwrap().clone();
        assert_eq!(holds.len(), 3, "{holds:?}");
        for (got, want) in holds.iter().zip([100u128, 5_000, 14_000]) {
            assert!(got.abs_diff(want) <= 40, "{got} vs {want}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn contact_bounce_is_not_two_presses() {
        let hand = sim_button();
        let led = Arc::new(SimLed::default());
        let task = watch(&hand, led).await;
        // Press with bounce, hold 15 s with a bounce in the middle (a finger slipping for
        // 5 ms), then release with bounce: still one 15 s hold, so a reset.
        for _ in 0..4 {
            hand.set(true);
            sleep_ms(2).await;
            hand.set(false);
            sleep_ms(3).await;
        }
        hand.set(true);
        let start = tokio::time::Instant::now();
        sleep_ms(7_000).await;
        hand.set(false);
        sleep_ms(5).await;
        hand.set(true);
        sleep_ms(8_100).await;
        let at = task.await.unwrap();
        assert!(at - start < Duration::from_millis(15_100));
    }

    #[tokio::test(start_paused = true)]
    async fn bounces_alone_never_reset() {
        let hand = sim_button();
        let led = Arc::new(SimLed::default());
        let task = watch(&hand, led).await;
        // A minute of chatter, never stable for 30 ms.
        for _ in 0..3_000 {
            hand.set(true);
            sleep_ms(10).await;
            hand.set(false);
            sleep_ms(10).await;
        }
        sleep_ms(30_000).await;
        assert!(!task.is_finished());
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_button_held_since_boot_must_be_released_first() {
        let hand = sim_button();
        hand.set(true); // pressed during boot
        let led = Arc::new(SimLed::default());
        let task = watch(&hand, led).await;
        sleep_ms(60_000).await;
        assert!(!task.is_finished(), "a press during boot counted");
        hand.set(false);
        sleep_ms(1_000).await;
        hand.set(true);
        sleep_ms(15_100).await;
        assert!(task.is_finished());
    }

    #[test]
    fn timing_follows_the_model_and_the_time_scale() {
        let t = ButtonTiming::for_model(15, 10);
        assert_eq!(t.hold, Duration::from_millis(1_500));
        assert_eq!(ButtonTiming::for_model(15, 0).hold, Duration::from_secs(15));
    }
}
