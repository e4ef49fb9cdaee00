//! `ppml run train`: train one classifier on real data and report its accuracy.
//!
//! The base every other experiment stands on: the membership-inference target, the
//! federated-learning model and the DP-SGD baselines are all trained by this code.

use std::path::PathBuf;
use std::time::Instant;

use burn::module::Module;
use serde::{Deserialize, Serialize};

use super::{ResultHeader, RunContext, chance_warning};
use crate::Result;
use crate::config::{ConfigError, at_least_one, positive};
use crate::data::{Dataset, DatasetName};
use crate::device::Backend;
use crate::model::{Activation, Classifier, ModelConfig, ModelKind};
use crate::privacy::{Accountant, PrivacySpent, SubsampledGaussian, calibrate_noise};
use crate::report::METRICS;
use crate::train::dp::DpSgd;
use crate::train::{
    self, Evaluation, LrSchedule, OptimizerKind, TrainOptions, evaluate, load_checkpoint,
    save_checkpoint,
};

/// File name of the saved weights.
const CHECKPOINT: &str = "model.bpk";
/// Training examples kept by `--quick`.
const QUICK_TRAIN: usize = 2_000;
/// Test examples kept by `--quick`.
const QUICK_TEST: usize = 1_000;
/// Largest batch size kept by `--quick`.
const QUICK_BATCH: usize = 256;

/// Everything that defines a training run. One flat TOML table (see `experiments/*.toml`);
/// every key is optional and unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Dataset to train and test on.
    pub dataset: DatasetName,
    /// Seed of every random choice (weights, shuffles).
    pub seed: u64,
    /// Compute backend.
    pub backend: Backend,
    /// Model family.
    pub model: ModelKind,
    /// Nonlinearity.
    pub activation: Activation,
    /// MLP hidden widths.
    pub mlp_hidden: Vec<usize>,
    /// CNN conv channels.
    pub cnn_channels: [usize; 2],
    /// CNN hidden dense width.
    pub cnn_dense: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Update rule.
    pub optimizer: OptimizerKind,
    /// Learning rate.
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// Learning-rate schedule.
    pub lr_schedule: LrSchedule,
    /// Use only the first N training examples.
    pub train_limit: Option<usize>,
    /// Use only the first N test examples.
    pub test_limit: Option<usize>,
    /// Start from the weights in this checkpoint instead of a fresh initialisation.
    pub init_from: Option<PathBuf>,
    /// Target ε of DP-SGD; the noise multiplier is calibrated to meet it. Absent or `inf`:
    /// non-private training (unless `noise_multiplier` is set).
    pub epsilon: Option<f64>,
    /// δ of the (ε, δ) guarantee.
    pub delta: f64,
    /// DP-SGD's per-example gradient norm bound C.
    pub clip_norm: f64,
    /// DP-SGD's noise multiplier σ, when given directly instead of `epsilon`.
    pub noise_multiplier: Option<f64>,
    /// Accountant that calibrates σ and reports ε.
    pub accountant: Accountant,
    /// Shrink the run to seconds (smoke tests, CI).
    pub quick: bool,
}

impl Default for TrainConfig {
    /// Papernot et al.'s tanh CNN, trained with SGD + momentum.
    fn default() -> Self {
        Self {
            dataset: DatasetName::default(),
            seed: 0,
            backend: Backend::default(),
            model: ModelKind::Cnn,
            activation: Activation::Tanh,
            mlp_hidden: vec![256],
            cnn_channels: [16, 32],
            cnn_dense: 32,
            epochs: 10,
            batch_size: 128,
            optimizer: OptimizerKind::Sgd,
            lr: 0.05,
            momentum: 0.9,
            lr_schedule: LrSchedule::Constant,
            train_limit: None,
            test_limit: None,
            init_from: None,
            epsilon: None,
            delta: 1e-5,
            clip_norm: 1.0,
            noise_multiplier: None,
            accountant: Accountant::default(),
            quick: false,
        }
    }
}

impl TrainConfig {
    /// The defaults of a DP-SGD run when no config file is given: the hyperparameters of the
    /// published `dp-fashion-eps*.toml` runs (Tramèr & Boneh 2021: expected batch 2048, SGD
    /// with lr 4 and momentum 0.9, C = 0.1, 40 epochs), so that `ppml run train --epsilon 3`
    /// reproduces the published row instead of training with non-private settings plus noise.
    pub fn dp_default() -> Self {
        Self {
            epochs: 40,
            batch_size: 2048,
            optimizer: OptimizerKind::Sgd,
            lr: 4.0,
            momentum: 0.9,
            clip_norm: 0.1,
            ..Self::default()
        }
    }

    /// Whether this config asks for DP-SGD (a finite ε, or a noise multiplier).
    pub fn is_private(&self) -> bool {
        self.epsilon.is_some_and(f64::is_finite) || self.noise_multiplier.is_some()
    }

    /// Applies `--quick` (a small slice of the data, one epoch) and reads `epsilon = inf` as
    /// "no DP", so the resolved config never holds an infinity (JSON has none).
    pub fn resolve_quick(mut self) -> Self {
        if self.epsilon == Some(f64::INFINITY) {
            self.epsilon = None;
        }
        if self.quick {
            self.train_limit = Some(self.train_limit.map_or(QUICK_TRAIN, |n| n.min(QUICK_TRAIN)));
            self.test_limit = Some(self.test_limit.map_or(QUICK_TEST, |n| n.min(QUICK_TEST)));
            self.epochs = 1;
            // A DP config's large batches would not fit the quick slice.
            self.batch_size = self.batch_size.min(QUICK_BATCH);
        }
        self
    }

    /// The model this config describes, for a dataset with `classes` classes of `side²` images.
    pub fn model_config(&self, side: usize, classes: usize) -> ModelConfig {
        ModelConfig {
            kind: self.model,
            activation: self.activation,
            mlp_hidden: self.mlp_hidden.clone(),
            cnn_channels: self.cnn_channels,
            cnn_dense: self.cnn_dense,
            side,
            classes,
        }
    }

    /// The optimisation part of the config.
    pub fn train_options(&self) -> TrainOptions {
        TrainOptions {
            epochs: self.epochs,
            batch_size: self.batch_size,
            optimizer: self.optimizer,
            lr: self.lr,
            momentum: self.momentum,
            lr_schedule: self.lr_schedule,
        }
    }

    /// Checks everything that can be checked before the data is loaded. Called on the config
    /// as given, before `--quick` shrinks it (so that quick never hides an invalid value), and
    /// again after.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(n) = self.train_limit {
            at_least_one("train_limit", n)?;
        }
        if let Some(n) = self.test_limit {
            at_least_one("test_limit", n)?;
        }
        let model = self.model_config(28, 2);
        model.validate()?;
        model.check_fits(self.batch_size, "batch_size")?;
        if let Some(eps) = self.epsilon
            && (eps.is_nan() || eps <= 0.0)
        {
            return Err(ConfigError::invalid(
                "epsilon",
                eps,
                "must be greater than 0 (inf = no DP)",
            ));
        }
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(ConfigError::invalid(
                "delta",
                self.delta,
                "must be strictly between 0 and 1",
            ));
        }
        positive("clip_norm", self.clip_norm)?;
        if let Some(sigma) = self.noise_multiplier {
            positive("noise_multiplier", sigma)?;
            // `epsilon = inf` too: it says "no DP", which a noise multiplier contradicts.
            if self.epsilon.is_some() {
                return Err(ConfigError::invalid(
                    "noise_multiplier",
                    sigma,
                    "give either epsilon (σ is then calibrated) or noise_multiplier, not both",
                ));
            }
        }
        // The training-set size is not known yet; `usize::MAX` defers that check.
        self.train_options().validate(usize::MAX)
    }
}

/// Sizes and origin of the data a run used.
#[derive(Debug, Clone, Serialize)]
pub struct DataSummary {
    /// Training examples used.
    pub train: usize,
    /// Test examples used.
    pub test: usize,
    /// Classes.
    pub classes: usize,
    /// Folder the files were read from.
    pub source: String,
}

/// Timings of a run. These are the only fields that differ between two runs with the same seed.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    /// Whole run, data loading included.
    pub wall_seconds: f64,
    /// Optimizer steps only.
    pub train_seconds: f64,
    /// Training examples per second of `train_seconds`.
    pub samples_per_second: f64,
}

/// `metrics.json` of `ppml run train`.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// Experiment, version, dataset, seed, quick.
    #[serde(flatten)]
    pub header: ResultHeader,
    /// The full resolved config.
    pub config: TrainConfig,
    /// Privacy accounting (`null`: non-private training).
    pub privacy: Option<DpReport>,
    /// The data used.
    pub data: DataSummary,
    /// Trainable parameters.
    pub parameters: usize,
    /// Final accuracy on the training set (a full pass in inference mode).
    pub train_accuracy: f64,
    /// Final mean loss on the training set.
    pub train_loss: f64,
    /// Final accuracy on the test set.
    pub test_accuracy: f64,
    /// Final mean loss on the test set.
    pub test_loss: f64,
    /// Optimizer steps taken.
    pub steps: usize,
    /// One record per epoch.
    pub history: Vec<train::EpochRecord>,
    /// File name of the saved weights, in the output folder.
    pub checkpoint: String,
    /// Things a reader should know before trusting the numbers (a model at chance, say).
    pub warnings: Vec<String>,
    /// Wall-clock figures.
    pub timing: Timing,
}

/// The `privacy` block of a DP-SGD run.
#[derive(Debug, Clone, Serialize)]
pub struct DpReport {
    /// ε, δ, σ, q, steps and the accountants' figures.
    #[serde(flatten)]
    pub spent: PrivacySpent,
    /// The ε asked for (`null` when σ was given directly).
    pub target_epsilon: Option<f64>,
    /// Per-example clipping norm C.
    pub clip_norm: f64,
    /// Expected Poisson batch size q·N.
    pub expected_batch_size: f64,
}

/// DP-SGD's parameters for this config on `train_len` examples, with the privacy they spend;
/// `None` for non-private training. Calibrates σ when a target ε is given.
pub fn resolve_privacy(
    config: &TrainConfig,
    train_len: usize,
) -> Result<Option<(DpSgd, DpReport)>> {
    let opts = config.train_options();
    let sample_rate = config.batch_size as f64 / train_len as f64;
    let steps = (opts.steps_per_epoch(train_len, true) * opts.epochs) as u64;
    let noise_multiplier = match (config.epsilon, config.noise_multiplier) {
        (None, None) => return Ok(None),
        (None, Some(sigma)) => sigma,
        (Some(eps), _) => {
            calibrate_noise(config.accountant, sample_rate, steps, eps, config.delta)?
        }
    };
    let mech = SubsampledGaussian::new(sample_rate, noise_multiplier, steps)?;
    let spent = PrivacySpent::of(&mech, config.delta, config.accountant)?;
    let dp = DpSgd::new(sample_rate, noise_multiplier, config.clip_norm, train_len)?;
    let report = DpReport {
        spent,
        target_epsilon: config.epsilon,
        clip_norm: config.clip_norm,
        expected_batch_size: dp.expected_batch_size(),
    };
    Ok(Some((dp, report)))
}

/// The first `n` examples of `data` (all of them for `None`).
pub(crate) fn limit(data: &Dataset, n: Option<usize>) -> Dataset {
    match n {
        Some(n) if n < data.len() => data.take(n),
        _ => data.clone(),
    }
}

/// Trains the configured classifier and writes `metrics.json` and `model.bpk` to the output
/// folder. Nothing is written unless the whole run succeeds.
pub fn run(config: TrainConfig, ctx: &mut RunContext) -> Result<TrainReport> {
    let started = Instant::now();
    config.validate()?;
    let config = config.resolve_quick();
    config.validate()?;
    let output = ctx.prepare_output(&[CHECKPOINT, METRICS])?;
    let splits = ctx.load_dataset(config.dataset)?;
    let train_set = limit(&splits.train, config.train_limit);
    let test_set = limit(&splits.test, config.test_limit);
    let opts = config.train_options();
    opts.validate(train_set.len())?;
    let privacy = resolve_privacy(&config, train_set.len())?;

    let model_config = config.model_config(train_set.rows(), train_set.classes());
    model_config.validate()?;
    let ad_device = ctx.device.clone().autodiff();
    let mut model = Classifier::new(&model_config, &ad_device, &mut ctx.rng);
    if let Some(path) = &config.init_from {
        model = load_checkpoint(model, path)?;
    }
    let parameters = model.num_params();

    let trained = train::train(
        model,
        &train_set,
        &test_set,
        &opts,
        privacy.as_ref().map(|(dp, _)| dp),
        &ctx.device,
        &mut ctx.rng,
        &ctx.options.progress,
    )?;
    let Evaluation {
        loss: train_loss,
        accuracy: train_accuracy,
    } = evaluate(&trained.model, &train_set, &ctx.device);
    let final_test = trained
        .history
        .last()
        .expect("epochs >= 1 was validated, so there is a history");

    let warnings: Vec<String> =
        chance_warning("model", final_test.test_accuracy, train_set.classes())
            .into_iter()
            .collect();
    let report = TrainReport {
        header: ctx.header("train", config.dataset, config.seed, config.quick),
        privacy: privacy.map(|(_, report)| report),
        data: DataSummary {
            train: train_set.len(),
            test: test_set.len(),
            classes: train_set.classes(),
            source: splits.location.dir.display().to_string(),
        },
        parameters,
        train_accuracy,
        train_loss,
        test_accuracy: final_test.test_accuracy,
        test_loss: final_test.test_loss,
        steps: trained.steps,
        history: trained.history.clone(),
        checkpoint: CHECKPOINT.into(),
        warnings,
        timing: Timing {
            wall_seconds: started.elapsed().as_secs_f64(),
            train_seconds: trained.train_seconds,
            samples_per_second: trained.samples_per_second,
        },
        config,
    };
    let staged = output.stage()?;
    save_checkpoint(&trained.model, &staged.path(CHECKPOINT))?;
    staged.write_json(METRICS, &report)?;
    staged.commit()?;
    Ok(report)
}
