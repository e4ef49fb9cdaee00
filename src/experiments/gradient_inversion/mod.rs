//! `ppml run gradient-inversion`: an honest-but-curious server rebuilds a party's training
//! images from its FedSGD gradient (Zhu, Liu & Han 2019, "Deep Leakage from Gradients"), and
//! secure aggregation is the defense.
//!
//! As the paper sets it up: parties hold shards of real images and each sends the gradient of
//! one batch on the broadcast model. Under `plain` aggregation the server reads party 0's
//! gradient and attacks it. Under `secagg` it holds two things, and the attack runs on both:
//! party 0's own upload decoded as if it were a gradient (masked: it must fail), and the
//! revealed sum, which is the gradient of one batch of n·B images. Only the measurement opens
//! the parties' batches; the attacks get a [`GradientView`].

mod case;
mod config;
mod round;

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use super::{DataSummary, Experiment, RUN_AND_DATA_KEYS, ResultHeader, RunContext, RunSpec};
use crate::Result;
use crate::config::MovedKey;
use crate::report::METRICS;
use crate::runtime::Runtime;
use crate::train::evaluate_with_mean_softmax;

pub use case::CaseRecord;
pub use config::{GradientInversionConfig, InversionAttack, InversionSpec};
pub use round::{LocalDp, Target};

/// `ppml run gradient-inversion`.
pub struct GradientInversion;

/// `metrics.json` of `ppml run gradient-inversion`.
#[derive(Debug, Clone, Serialize)]
pub struct GradientInversionReport {
    /// Experiment, version, dataset, seed, quick.
    #[serde(flatten)]
    pub header: ResultHeader,
    /// The full resolved config.
    pub config: GradientInversionConfig,
    /// The parties' local DP, one entry per finite ε asked for (empty: no DP).
    pub privacy: Vec<LocalDp>,
    /// The data the parties held.
    pub data: DataSummary,
    /// One record per case.
    pub cases: Vec<CaseRecord>,
    /// Things a reader should know before trusting the numbers.
    pub warnings: Vec<String>,
    /// Wall-clock seconds of the whole run.
    pub wall_seconds: f64,
}

impl Experiment for GradientInversion {
    const NAME: &'static str = "gradient-inversion";
    type Config = GradientInversionConfig;
    type Report = GradientInversionReport;

    fn default_config(_private: bool) -> GradientInversionConfig {
        GradientInversionConfig::default()
    }

    fn moved_keys() -> Vec<MovedKey> {
        RUN_AND_DATA_KEYS.to_vec()
    }

    fn run_spec(config: &GradientInversionConfig) -> &RunSpec {
        &config.run
    }

    fn run(config: GradientInversionConfig, ctx: &mut RunContext) -> Result<Self::Report> {
        run(config, ctx)
    }

    fn warnings(report: &Self::Report) -> &[String] {
        &report.warnings
    }

    fn summary(report: &Self::Report) -> Vec<String> {
        case::summary(&report.cases)
    }
}

/// Runs every case and writes `metrics.json`, and per case an image grid and the originals and
/// reconstructions as `.npy`.
pub fn run(
    config: GradientInversionConfig,
    ctx: &mut RunContext,
) -> Result<GradientInversionReport> {
    let started = Instant::now();
    config.validate()?;
    let config = config.resolve();
    config.validate()?;
    let plan = case::enumerate(&config.inversion);
    let files: Vec<String> = plan.iter().flat_map(case::CaseId::files).collect();
    let names: Vec<&str> = std::iter::once(METRICS)
        .chain(files.iter().map(String::as_str))
        .collect();
    let output = ctx.prepare_output(&names)?;
    let splits = ctx.load_dataset(config.data.dataset)?;
    let train = config.data.train_part(&splits.train);
    round::check_batches_fit(&config.inversion, train.len())?;
    // σ of every local DP level, calibrated once.
    let local_dp = config
        .inversion
        .epsilons
        .iter()
        .map(|&e| round::local_dp(&config.inversion, e))
        .collect::<Result<Vec<_>>>()?;
    let sigmas: Vec<Option<f64>> = local_dp.iter().map(|l| l.as_ref().map(|l| l.0)).collect();
    // The server's public data is the test split: RDLV's prior is its mean image, and the
    // label counts' offset the broadcast model's mean softmax on it.
    let test = config.data.test_part(&splits.test);
    let prior = test.mean_image();
    let (device, progress) = (ctx.device.clone(), ctx.options.progress);
    let staged = output.stage()?;
    let mut cases = Vec::with_capacity(plan.len());
    let bar = progress.items(plan.len() as u64, "cases", "gradient inversion");
    let spec = &config.inversion;
    for seed in 0..spec.seeds {
        let mut rng = StdRng::seed_from_u64(ctx.rng.random());
        for &batch_size in &spec.batch_sizes {
            let levels = spec.aggregations.iter().flat_map(|&a| {
                spec.epsilons
                    .iter()
                    .zip(&sigmas)
                    .map(move |(&e, &s)| (a, e, s))
            });
            for (aggregation, epsilon, noise_multiplier) in levels {
                // One FedSGD round: fresh weights, fresh batches; the server observes it.
                let round = round::RoundSpec {
                    batch_size,
                    aggregation,
                    epsilon,
                    noise_multiplier,
                    side: train.rows(),
                };
                let fl = round::fedsgd_round(&config, &train, round, &device, &mut rng)?;
                // How far the federation had trained the model it broadcast: measurement only.
                let broadcast = round::broadcast_model(&config, &fl, round.side, &device);
                let (evaluation, mean_softmax) =
                    evaluate_with_mean_softmax(&broadcast, &test, &device);
                let accuracy = evaluation.accuracy;
                let public = case::Public {
                    prior: &prior,
                    mean_softmax: &mean_softmax,
                };
                let mut rt = Runtime::new(&device, &mut rng, &progress);
                let done = case::attack_round(&config, seed, round, &fl, public, &mut rt, &staged)?;
                bar.inc(done.len() as u64);
                cases.extend(done.into_iter().map(|c| CaseRecord {
                    model_accuracy: accuracy,
                    ..c
                }));
            }
        }
    }
    bar.finish_and_clear();
    let report = GradientInversionReport {
        header: ctx.header(GradientInversion::NAME, config.data.dataset, &config.run),
        privacy: local_dp.into_iter().flatten().map(|(_, l)| l).collect(),
        data: DataSummary {
            train: train.len(),
            test: test.len(),
            classes: train.classes(),
            source: splits.location.dir.display().to_string(),
        },
        cases,
        warnings: Vec::new(),
        wall_seconds: started.elapsed().as_secs_f64(),
        config,
    };
    staged.write_json(METRICS, &report)?;
    staged.commit()?;
    Ok(report)
}
