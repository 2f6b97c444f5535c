//! The reset button of a real camera: one line of a Linux GPIO character device
//! (`/dev/gpiochipN`, uAPI v2, through `gpiocdev`), read with edge events.
//!
//! The kernel debounces the line when the chip supports it (`debounce`); the logic in
//! [`hardware::watch_for_reset`](crate::hardware::watch_for_reset) debounces again, so a
//! chip without hardware debounce behaves the same.

use crate::hardware::{BoxFuture, ButtonLine, HardwareError};
use gpiocdev::line::{EdgeDetection, Value};
use gpiocdev::tokio::AsyncRequest;
use std::path::PathBuf;
use std::time::Duration;

/// Where the button is wired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpioButtonConfig {
    /// The chip, e.g. `/dev/gpiochip0`.
    pub chip: PathBuf,
    /// The line offset on that chip.
    pub line: u32,
    /// Whether a pressed button pulls the line low (the usual wiring with a pull-up).
    pub active_low: bool,
    /// Debounce period asked of the kernel.
    pub debounce: Duration,
}

/// A reset button on a GPIO line.
pub struct GpioButton {
    request: AsyncRequest,
    line: u32,
}

impl GpioButton {
    /// Requests the line as an input with edge detection on both edges.
    pub fn open(config: &GpioButtonConfig) -> Result<Self, HardwareError> {
        let mut builder = gpiocdev::Request::builder();
        builder
            .on_chip(&config.chip)
            .with_consumer("camkey-reset-button")
            .with_line(config.line)
            .as_input()
            .with_edge_detection(EdgeDetection::BothEdges)
            .with_debounce_period(config.debounce);
        if config.active_low {
            builder.as_active_low();
        }
        let request = builder.request().map_err(|e| {
            HardwareError(format!(
                "{} line {}: {e}",
                config.chip.display(),
                config.line
            ))
        })?;
        Ok(GpioButton {
            request: AsyncRequest::new(request),
            line: config.line,
        })
    }
}

impl ButtonLine for GpioButton {
    fn pressed(&mut self) -> Result<bool, HardwareError> {
        self.request
            .as_ref()
            .value(self.line)
            .map(|v| v == Value::Active)
            .map_err(|e| HardwareError(e.to_string()))
    }

    fn changed(&mut self) -> BoxFuture<'_, Result<(), HardwareError>> {
        Box::pin(async move {
            self.request
                .read_edge_event()
                .await
                .map(|_| ())
                .map_err(|e| HardwareError(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_chip_is_a_clear_error() {
        let err = GpioButton::open(&GpioButtonConfig {
            chip: "/dev/gpiochip-camkey-none".into(),
            line: 17,
            active_low: true,
            debounce: Duration::from_millis(30),
        })
        .err()
        .expect("no such chip here");
        assert!(
            err.to_string().contains("gpiochip-camkey-none line 17"),
            "{err}"
        );
    }
}
