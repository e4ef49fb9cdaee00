//! The hyperparameters of a training run.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, MAX_EPOCHS, at_least_one, count_in, positive};

/// The update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// SGD with (optional) heavy-ball momentum.
    #[default]
    Sgd,
    /// Adam (Kingma & Ba 2015) with β = (0.9, 0.999).
    Adam,
}

/// How the learning rate changes over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// The same learning rate for every step.
    #[default]
    Constant,
    /// Cosine decay from `lr` to 0 over all steps (Loshchilov & Hutter 2017, without restarts).
    Cosine,
}

impl LrSchedule {
    /// The learning rate at step `t` (0-based) of `total`.
    pub fn at(self, lr: f64, t: usize, total: usize) -> f64 {
        match self {
            LrSchedule::Constant => lr,
            LrSchedule::Cosine => {
                let progress = t as f64 / total.max(1) as f64;
                0.5 * lr * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

/// How to train: the `[train]` table of a config. Every key is optional and unknown keys are
/// errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainOptions {
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Update rule.
    pub optimizer: OptimizerKind,
    /// Learning rate.
    pub lr: f64,
    /// Momentum for SGD (0 = plain SGD); ignored by Adam.
    pub momentum: f64,
    /// Learning-rate schedule.
    pub lr_schedule: LrSchedule,
    /// Start from the weights of this checkpoint (a `model.bpk` of an earlier run) instead of
    /// a fresh initialisation; used by [`super::fit`].
    pub init_from: Option<PathBuf>,
}

impl Default for TrainOptions {
    /// SGD with momentum 0.9 at lr 0.05, batches of 128, 10 epochs.
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 128,
            optimizer: OptimizerKind::Sgd,
            lr: 0.05,
            momentum: 0.9,
            lr_schedule: LrSchedule::Constant,
            init_from: None,
        }
    }
}

impl TrainOptions {
    /// The published DP-SGD hyperparameters (Tramèr & Boneh 2021 on Fashion-MNIST: expected
    /// batch 2048, SGD with lr 4 and momentum 0.9, 40 epochs), so that a DP run without a
    /// config reproduces the published row instead of non-private settings plus noise.
    pub fn dp_default() -> Self {
        Self {
            epochs: 40,
            batch_size: 2048,
            optimizer: OptimizerKind::Sgd,
            lr: 4.0,
            momentum: 0.9,
            ..Self::default()
        }
    }

    /// Checks the values against each other and against the training set size.
    pub fn validate(&self, train_len: usize) -> Result<(), ConfigError> {
        count_in("epochs", self.epochs, MAX_EPOCHS)?;
        at_least_one("batch_size", self.batch_size)?;
        if self.batch_size > train_len {
            return Err(ConfigError::invalid(
                "batch_size",
                self.batch_size,
                format!("larger than the training set ({train_len} examples)"),
            ));
        }
        positive("lr", self.lr)?;
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(ConfigError::invalid(
                "momentum",
                self.momentum,
                "must be in [0, 1)",
            ));
        }
        Ok(())
    }

    /// Optimizer steps in one epoch over `train_len` examples: `⌈N / B⌉` shuffled batches (the
    /// last may be short), or with Poisson sampling `⌊N / B⌋` steps of expected size `B`, as
    /// Opacus counts them (`1 / q` with `q = B / N`).
    pub fn steps_per_epoch(&self, train_len: usize, poisson: bool) -> usize {
        if poisson {
            (train_len / self.batch_size).max(1)
        } else {
            train_len.div_ceil(self.batch_size)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> TrainOptions {
        TrainOptions {
            epochs: 1,
            batch_size: 10,
            optimizer: OptimizerKind::Sgd,
            lr: 0.1,
            momentum: 0.9,
            lr_schedule: LrSchedule::Constant,
            init_from: None,
        }
    }

    #[test]
    fn a_batch_larger_than_the_data_is_rejected() {
        assert!(opts().validate(10).is_ok());
        let err = opts().validate(9).unwrap_err().to_string();
        assert!(
            err.contains("batch_size") && err.contains("9 examples"),
            "{err}"
        );
    }

    #[test]
    fn cosine_schedule_starts_at_lr_halves_midway_and_ends_near_zero() {
        let s = LrSchedule::Cosine;
        assert_eq!(s.at(0.1, 0, 100), 0.1);
        assert!((s.at(0.1, 50, 100) - 0.05).abs() < 1e-12);
        assert!(s.at(0.1, 99, 100) < 1e-4);
        assert_eq!(LrSchedule::Constant.at(0.1, 99, 100), 0.1);
    }

    #[test]
    fn momentum_of_one_is_rejected() {
        let o = TrainOptions {
            momentum: 1.0,
            ..opts()
        };
        assert!(o.validate(100).is_err());
    }
}
