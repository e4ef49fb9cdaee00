//! Flags several experiments share, each defined once and applied to the config table it
//! belongs to: `[run]` and `[data]` ([`CommonArgs`]), `[model]` ([`ModelArgs`]), `[train]`
//! ([`TrainingArgs`]) and `[privacy]` ([`DpArgs`]).

use std::path::PathBuf;

use clap::Args;

use ppml::config::ConfigError;
use ppml::data::{DataSpec, DatasetName};
use ppml::device::Backend;
use ppml::experiments::RunSpec;
use ppml::model::{Activation, ModelKind, ModelSpec};
use ppml::privacy::{Accountant, PrivacySpec};
use ppml::train::{LrSchedule, OptimizerKind, TrainOptions};

/// Replaces `slot` with the flag's value, when the flag was given.
pub fn set<T>(slot: &mut T, flag: Option<T>) {
    if let Some(v) = flag {
        *slot = v;
    }
}

/// Options every experiment takes.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Config file (TOML); flags override its values.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Dataset [default: emnist-letters, the reference results' dataset; fashion-mnist installs
    /// from Debian where EMNIST cannot be downloaded].
    #[arg(long)]
    pub dataset: Option<DatasetName>,
    /// Folder searched first for datasets.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Seed of every random choice [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output folder for metrics.json and artefacts [default: runs/<experiment>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compute backend [default: flex].
    #[arg(long)]
    pub backend: Option<Backend>,
    /// Shrink the run to seconds (smoke tests, CI).
    #[arg(long)]
    pub quick: bool,
    /// Never download a missing dataset.
    #[arg(long)]
    pub offline: bool,
}

impl CommonArgs {
    /// Applies the flags to the `[run]` and `[data]` tables.
    pub fn apply(&self, run: &mut RunSpec, data: &mut DataSpec) {
        set(&mut data.dataset, self.dataset);
        set(&mut run.seed, self.seed);
        set(&mut run.backend, self.backend);
        run.quick |= self.quick;
    }
}

/// The `[model]` flags.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Model family [default: cnn, Papernot et al.'s tanh CNN].
    #[arg(long)]
    pub model: Option<ModelKind>,
    /// Nonlinearity [default: tanh].
    #[arg(long)]
    pub activation: Option<Activation>,
    /// MLP hidden widths, comma-separated (e.g. 256 or 512,256) [default: 256].
    #[arg(long, value_delimiter = ',')]
    pub mlp_hidden: Option<Vec<usize>>,
    /// CNN conv channels, two comma-separated numbers (e.g. 16,32) [default: 16,32].
    #[arg(long, value_delimiter = ',')]
    pub cnn_channels: Option<Vec<usize>>,
    /// CNN hidden dense width [default: 32].
    #[arg(long)]
    pub cnn_dense: Option<usize>,
}

impl ModelArgs {
    /// Applies the flags to a `[model]` table.
    pub fn apply(self, model: &mut ModelSpec) -> Result<(), ConfigError> {
        set(&mut model.kind, self.model);
        set(&mut model.activation, self.activation);
        set(&mut model.mlp_hidden, self.mlp_hidden);
        if let Some(ch) = self.cnn_channels {
            model.cnn_channels = <[usize; 2]>::try_from(ch.as_slice()).map_err(|_| {
                ConfigError::invalid(
                    "cnn_channels",
                    format!("{ch:?}"),
                    "give two numbers, e.g. 16,32",
                )
            })?;
        }
        set(&mut model.cnn_dense, self.cnn_dense);
        Ok(())
    }
}

/// The `[train]` flags (for `mia`, the target's training; its shadows train the same way).
#[derive(Debug, Args)]
pub struct TrainingArgs {
    /// Passes over the training set [default: train 10, mia 60; 40 with --epsilon or
    /// --noise-multiplier].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Examples per step (DP-SGD: the expected Poisson batch) [default: 128; with DP, train
    /// 2048 and mia 1024].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Update rule [default: train sgd, mia adam; sgd with DP].
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    /// Learning rate [default: train 0.05, mia 0.001; 4 with DP].
    #[arg(long)]
    pub lr: Option<f64>,
    /// SGD momentum (0 = plain SGD) [default: 0.9].
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Learning-rate schedule [default: constant].
    #[arg(long)]
    pub lr_schedule: Option<LrSchedule>,
    /// Start from the weights of this checkpoint (a model.bpk written by an earlier run).
    #[arg(long)]
    pub init_from: Option<PathBuf>,
}

impl TrainingArgs {
    /// Applies the flags to a `[train]` table.
    pub fn apply(self, train: &mut TrainOptions) {
        set(&mut train.epochs, self.epochs);
        set(&mut train.batch_size, self.batch_size);
        set(&mut train.optimizer, self.optimizer);
        set(&mut train.lr, self.lr);
        set(&mut train.momentum, self.momentum);
        set(&mut train.lr_schedule, self.lr_schedule);
        if self.init_from.is_some() {
            train.init_from = self.init_from;
        }
    }
}

/// The `[privacy]` flags: DP-SGD.
#[derive(Debug, Args)]
pub struct DpArgs {
    /// Train with DP-SGD to this ε (the noise multiplier is calibrated); `inf` = no DP
    /// [default: inf]. Without --config, DP runs take the published DP hyperparameters.
    #[arg(long)]
    pub epsilon: Option<f64>,
    /// δ of the (ε, δ) guarantee [default: 1e-5].
    #[arg(long)]
    pub delta: Option<f64>,
    /// Per-example gradient norm bound C [default: 0.1 for a DP run without --config, else 1].
    #[arg(long)]
    pub clip_norm: Option<f64>,
    /// Train with DP-SGD at this noise multiplier σ instead of a target ε.
    #[arg(long)]
    pub noise_multiplier: Option<f64>,
    /// Accountant that calibrates σ and reports ε [default: pld].
    #[arg(long)]
    pub accountant: Option<Accountant>,
}

impl DpArgs {
    /// Whether the flags ask for DP-SGD (a finite ε or a noise multiplier): a run without a
    /// config file then starts from the published DP hyperparameters.
    pub fn asks_for_dp(&self) -> bool {
        self.epsilon.is_some_and(f64::is_finite) || self.noise_multiplier.is_some()
    }

    /// Applies the flags to a `[privacy]` table.
    pub fn apply(self, privacy: &mut PrivacySpec) {
        if self.epsilon.is_some() || self.noise_multiplier.is_some() {
            // A flag picks how the noise is set; the file's other choice no longer applies.
            privacy.epsilon = self.epsilon;
            privacy.noise_multiplier = self.noise_multiplier;
        }
        set(&mut privacy.delta, self.delta);
        set(&mut privacy.clip_norm, self.clip_norm);
        set(&mut privacy.accountant, self.accountant);
    }
}
