//! Progress reporting for long loops. The library never prints: loops take a `&Progress` and ask
//! it for bars, which the binary shows on stderr and tests keep hidden.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Hands out progress bars, all drawn to stderr or all hidden.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    visible: bool,
}

impl Progress {
    /// Bars on stderr; indicatif itself stays silent when stderr is not a terminal.
    pub fn stderr() -> Self {
        Self { visible: true }
    }

    /// No bars at all (tests, `--quiet`).
    pub fn hidden() -> Self {
        Self { visible: false }
    }

    fn new_bar(&self, len: u64, template: &str, msg: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(
            Some(len),
            if self.visible {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        // The templates are constants of this file; a typo is a programming error.
        let style = ProgressStyle::with_template(template)
            .expect("progress templates are valid")
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(msg.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    /// A bar counting items (samples, steps) with rate and ETA.
    pub fn items(&self, len: u64, unit: &str, msg: &str) -> ProgressBar {
        let template = format!(
            "{{msg:>12}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{per_sec}} ETA {{eta}} {{prefix}}"
        );
        self.new_bar(len, &template, msg)
    }

    /// A bar counting bytes (downloads), with rate and ETA.
    pub fn bytes(&self, len: u64, msg: &str) -> ProgressBar {
        self.new_bar(
            len,
            "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            msg,
        )
    }
}
