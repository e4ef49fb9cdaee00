//! Progress reporting for long loops. The library never prints: loops take a `&Progress` and ask
//! it for bars, which the binary shows on stderr and tests keep hidden.
//!
//! Where stderr is not a terminal (CI, a cluster job's log file, `2> run.log`), a redrawn bar
//! would print nothing until the run's summary, so the same calls write plain lines instead: one
//! per epoch, round or attack case, and for loops of many small steps one per tenth of the way.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Hands out progress bars: all drawn to stderr, all logged as plain lines, or all hidden.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    mode: Mode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bars,
    Lines,
    Hidden,
}

impl Progress {
    /// Bars on stderr when it is a terminal, plain lines otherwise.
    pub fn stderr() -> Self {
        let mode = if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        };
        Self { mode }
    }

    /// Plain lines on stderr whatever it is (what `stderr()` picks for a log file).
    pub fn lines() -> Self {
        Self { mode: Mode::Lines }
    }

    /// Nothing at all (tests, `--quiet`).
    pub fn hidden() -> Self {
        Self { mode: Mode::Hidden }
    }

    fn new_bar(&self, len: u64, template: &str, msg: &str, unit: &str) -> Bar {
        let target = match self.mode {
            Mode::Bars => ProgressDrawTarget::stderr(),
            Mode::Lines | Mode::Hidden => ProgressDrawTarget::hidden(),
        };
        let bar = ProgressBar::with_draw_target(Some(len), target);
        // The templates are constants of this file; a typo is a programming error.
        let style = ProgressStyle::with_template(template)
            .expect("progress templates are valid")
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(msg.to_string());
        if self.mode == Mode::Bars {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        let log = (self.mode == Mode::Lines).then(|| {
            Mutex::new(LineLog {
                label: msg.to_string(),
                msg: msg.to_string(),
                prefix: String::new(),
                unit: unit.to_string(),
                len,
                pos: 0,
                started: Instant::now(),
                // Steps are too many for a line each: a tenth of the way at a time (and a
                // line at every epoch's end, through `set_prefix`). Cases and rounds: each.
                every: if unit == "steps" || unit == "bytes" {
                    len.div_ceil(10).max(1)
                } else {
                    1
                },
                logged: 0,
            })
        });
        Bar { bar, log }
    }

    /// A bar counting items (samples, steps, cases, rounds) with rate and ETA.
    pub fn items(&self, len: u64, unit: &str, msg: &str) -> Bar {
        let template = format!(
            "{{msg:>12}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{per_sec}} ETA {{eta}} {{prefix}}"
        );
        self.new_bar(len, &template, msg, unit)
    }

    /// A bar counting bytes (downloads), with rate and ETA.
    pub fn bytes(&self, len: u64, msg: &str) -> Bar {
        self.new_bar(
            len,
            "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            msg,
            "bytes",
        )
    }
}

/// One loop's progress: an indicatif bar, or its plain-line log.
#[derive(Debug)]
pub struct Bar {
    bar: ProgressBar,
    log: Option<Mutex<LineLog>>,
}

/// What a plain line says, and when the next one is due.
#[derive(Debug)]
struct LineLog {
    /// What the loop is (the bar's first message): kept in every line.
    label: String,
    /// Where it is (the bar's latest message, such as the epoch).
    msg: String,
    prefix: String,
    unit: String,
    len: u64,
    pos: u64,
    started: Instant,
    /// A line each time the count passes a multiple of this.
    every: u64,
    /// The count at the last line.
    logged: u64,
}

impl LineLog {
    /// `[   12.3 s] training (epoch 3/40): 1200/4800 steps (25%), test acc 80.12%`
    fn line(&mut self) -> String {
        let what = if self.msg == self.label {
            self.label.clone()
        } else {
            format!("{} ({})", self.label, self.msg)
        };
        self.logged = self.pos;
        let elapsed = self.started.elapsed().as_secs_f64();
        let percent = 100.0 * self.pos as f64 / self.len.max(1) as f64;
        let mut line = format!(
            "[{elapsed:>9.1} s] {what}: {}/{} {} ({percent:.0}%)",
            self.pos, self.len, self.unit
        );
        if !self.prefix.is_empty() {
            line.push_str(", ");
            line.push_str(&self.prefix);
        }
        line
    }
}

impl Bar {
    fn log(&self, update: impl FnOnce(&mut LineLog) -> bool) {
        if let Some(log) = &self.log {
            // A poisoned lock only means another thread panicked mid-update: the counts are
            // still counts.
            let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
            if update(&mut log) {
                eprintln!("{}", log.line());
            }
        }
    }

    /// Advances by `n`.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        self.log(|log| {
            log.pos += n;
            log.pos / log.every > log.logged / log.every || log.pos == log.len
        });
    }

    /// The label before the bar (for example the epoch); no line of its own. A log forgets
    /// the figure of the previous stage (the last epoch's accuracy) with it.
    pub fn set_message(&self, msg: impl Into<String>) {
        let msg = msg.into();
        self.log(|log| {
            log.msg.clone_from(&msg);
            log.prefix.clear();
            false
        });
        self.bar.set_message(msg);
    }

    /// The figure after the bar (for example the test accuracy after an epoch): a line of its
    /// own unless the count's line just said it.
    pub fn set_prefix(&self, prefix: impl Into<String>) {
        let prefix = prefix.into();
        self.log(|log| {
            log.prefix.clone_from(&prefix);
            true
        });
        self.bar.set_prefix(prefix);
    }

    /// Forgets the length (a download of unknown size): the bar spins on, a log then writes
    /// no line at all.
    pub fn unset_length(&self) {
        self.bar.unset_length();
        self.log(|log| {
            log.every = u64::MAX;
            false
        });
    }

    /// Removes the bar (a log keeps its lines).
    pub fn finish_and_clear(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged_counts(unit: &str, len: u64, incs: u64) -> Vec<u64> {
        let bar = Progress::lines().items(len, unit, "test");
        let mut counts = Vec::new();
        for _ in 0..incs {
            bar.inc(1);
            let log = bar.log.as_ref().unwrap().lock().unwrap();
            if log.logged == log.pos {
                counts.push(log.pos);
            }
        }
        counts
    }

    #[test]
    fn steps_are_logged_a_tenth_at_a_time_and_cases_each() {
        assert_eq!(
            logged_counts("steps", 100, 100),
            (1..=10).map(|k| 10 * k).collect::<Vec<_>>()
        );
        // 7 steps: a line per step (a tenth rounds up to 1).
        assert_eq!(logged_counts("steps", 7, 7), (1..=7).collect::<Vec<_>>());
        assert_eq!(logged_counts("cases", 3, 3), vec![1, 2, 3]);
    }

    #[test]
    fn a_line_says_where_the_loop_is() {
        let bar = Progress::lines().items(4800, "steps", "training");
        bar.set_message("epoch 3/40");
        bar.inc(1200);
        bar.set_prefix("test acc 80.12%");
        let mut log = bar.log.as_ref().unwrap().lock().unwrap();
        let line = log.line();
        assert!(
            line.ends_with("] training (epoch 3/40): 1200/4800 steps (25%), test acc 80.12%"),
            "{line}"
        );
    }
}
