//! `ppml run train`: train one classifier on real data and report its accuracy.
//!
//! The base every other experiment stands on: the same [`fit`] trains the
//! membership-inference target and LiRA's shadows. Without `[privacy]` this is ordinary
//! training; with a target ε it is DP-SGD (Abadi et al. 2016) with σ calibrated by the
//! accountant, as in the published `dp-fashion-eps*.toml` runs (Tramèr & Boneh 2021).

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{
    DataSummary, Experiment, MODEL_KEYS, RUN_AND_DATA_KEYS, ResultHeader, RunContext, RunSpec,
    TRAIN_AND_PRIVACY_KEYS, chance_warning,
};
use crate::Result;
use crate::config::MovedKey;
use crate::data::DataSpec;
use crate::model::ModelSpec;
use crate::privacy::{DpReport, PrivacySpec};
use crate::report::METRICS;
use crate::runtime::Runtime;
use crate::train::dp::AuditBreak;
use crate::train::{self, Evaluation, FitSpec, TrainOptions, evaluate, fit};

/// File name of the saved weights.
const CHECKPOINT: &str = "model.bpk";
/// Training and test examples kept by `--quick`.
const QUICK_DATA: (usize, usize) = (2_000, 1_000);
/// Largest batch size kept by `--quick`.
const QUICK_BATCH: usize = 256;

/// Everything that defines a training run: `[run]`, `[data]`, `[model]`, `[train]` and
/// `[privacy]` tables, every key optional, unknown keys refused.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Seed, backend, quick.
    pub run: RunSpec,
    /// Dataset and caps.
    pub data: DataSpec,
    /// The network (default: Papernot et al.'s tanh CNN).
    pub model: ModelSpec,
    /// Optimiser, batches, epochs.
    pub train: TrainOptions,
    /// DP-SGD (default: none).
    pub privacy: PrivacySpec,
}

impl TrainConfig {
    /// Applies `--quick` (a small slice of the data, one epoch) and reads `epsilon = inf` as
    /// "no DP", so the resolved config never holds an infinity (JSON has none).
    pub fn resolve(mut self) -> Self {
        self.privacy.normalize();
        if self.run.quick {
            self.data.cap(QUICK_DATA.0, QUICK_DATA.1);
            self.train.epochs = 1;
            // A DP config's large batches would not fit the quick slice.
            self.train.batch_size = self.train.batch_size.min(QUICK_BATCH);
        }
        self
    }

    /// Checks everything that can be checked before the data is loaded. Called on the config
    /// as given, before `--quick` shrinks it (so that quick never hides an invalid value), and
    /// again after.
    pub fn validate(&self) -> Result<()> {
        self.data.validate()?;
        self.model.validate(self.train.batch_size, "batch_size")?;
        self.privacy.validate()?;
        // The training-set size is not known yet; `usize::MAX` defers that check.
        Ok(self.train.validate(usize::MAX)?)
    }
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

/// `ppml run train`.
pub struct Train;

impl Experiment for Train {
    const NAME: &'static str = "train";
    type Config = TrainConfig;
    type Report = TrainReport;

    /// Without a config file: the tanh CNN with SGD, or with DP the published DP-SGD
    /// hyperparameters (`dp-fashion-eps*.toml`: expected batch 2048, lr 4, momentum 0.9,
    /// C = 0.1, 40 epochs), so that `ppml run train --epsilon 3` reproduces the published row.
    fn default_config(private: bool) -> TrainConfig {
        if !private {
            return TrainConfig::default();
        }
        TrainConfig {
            train: TrainOptions::dp_default(),
            privacy: PrivacySpec {
                clip_norm: 0.1,
                ..PrivacySpec::default()
            },
            ..TrainConfig::default()
        }
    }

    fn moved_keys() -> Vec<MovedKey> {
        [RUN_AND_DATA_KEYS, MODEL_KEYS, TRAIN_AND_PRIVACY_KEYS].concat()
    }

    fn run_spec(config: &TrainConfig) -> &RunSpec {
        &config.run
    }

    fn run(config: TrainConfig, ctx: &mut RunContext) -> Result<TrainReport> {
        run(config, ctx)
    }

    fn warnings(report: &TrainReport) -> &[String] {
        &report.warnings
    }

    fn summary(report: &TrainReport) -> Vec<String> {
        let privacy = match &report.privacy {
            None => "non-private".to_string(),
            Some(p) => format!(
                "DP-SGD ε = {:.3} at δ = {:e} ({}; σ = {:.4}, q = {:.5}, {} steps)",
                p.spent.epsilon,
                p.spent.delta,
                p.spent.accountant.as_str(),
                p.spent.noise_multiplier,
                p.spent.sample_rate,
                p.spent.steps
            ),
        };
        let model = &report.config.model;
        vec![format!(
            "train: {} {} on {}, {privacy}: test accuracy {:.2}%, train accuracy {:.2}% ({:.0} samples/s)",
            format!("{:?}", model.kind).to_lowercase(),
            format!("{:?}", model.activation).to_lowercase(),
            report.header.dataset,
            100.0 * report.test_accuracy,
            100.0 * report.train_accuracy,
            report.timing.samples_per_second,
        )]
    }
}

/// Trains the configured classifier and writes `metrics.json` and `model.bpk` to the output
/// folder. Nothing is written unless the whole run succeeds.
pub fn run(config: TrainConfig, ctx: &mut RunContext) -> Result<TrainReport> {
    let started = Instant::now();
    config.validate()?;
    let config = config.resolve();
    config.validate()?;
    let output = ctx.prepare_output(&[CHECKPOINT, METRICS])?;
    let splits = ctx.load_dataset(config.data.dataset)?;
    let train_set = config.data.train_part(&splits.train);
    let test_set = config.data.test_part(&splits.test);

    let plan = config.privacy.plan()?;
    let spec = FitSpec {
        model: &config.model,
        train: &config.train,
        privacy: plan.as_ref(),
        audit_break: AuditBreak::None,
    };
    let (device, progress) = (ctx.device.clone(), ctx.options.progress);
    let fitted = fit(
        &spec,
        &train_set,
        &test_set,
        &mut Runtime::new(&device, &mut ctx.rng, &progress),
    )?;
    let trained = &fitted.trained;
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
        header: ctx.header(Train::NAME, config.data.dataset, &config.run),
        privacy: fitted.privacy.clone(),
        data: DataSummary {
            train: train_set.len(),
            test: test_set.len(),
            classes: train_set.classes(),
            source: splits.location.dir.display().to_string(),
        },
        parameters: fitted.parameters,
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
    staged.write_checkpoint(CHECKPOINT, &trained.model)?;
    staged.write_json(METRICS, &report)?;
    staged.commit()?;
    Ok(report)
}
