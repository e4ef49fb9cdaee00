//! `ppml run global-model-attack`: a server that shapes the shared model reads the parties'
//! samples out of the secure aggregate (Fowl, Geiping, Czaja, Goldblum & Goldstein, ICLR 2022,
//! "Robbing the Fed"), and a differentially private aggregate is the defense.
//!
//! As the paper sets it up: n parties hold shards of real images. Before a FedSGD round the
//! server plants an imprint block of k bins in front of the global model, its cut-offs at
//! equal-mass quantiles of one statistic on public data of its own (the test split); every
//! party sends the gradient of one batch of B images on that model; SecAgg reveals only the
//! sum. The attack differences adjacent bins in the sum and divides: a sample alone in its bin
//! comes back exactly, which happens to n·B·(1 − 1/k)^(n·B − 1) samples on average. Under the
//! DP aggregate (DP-SGD over the union of the parties' data, noise added centrally or in shares
//! inside SecAgg) the same attack runs, and the planted-free global model trains for the
//! `rounds` rounds σ is calibrated for, so that the accuracy the defense costs sits beside the
//! leakage it stops. With `attack = "scale-mia"` (Shi et al. 2025) the bins look at the latent
//! code of an encoder the server trained on its own data and planted as the first layer, and a
//! decoder turns each recovered code back into an image (`lens.rs`). Only the measurement
//! (`case.rs`, through `metrics`) opens the parties' batches; the attack gets an
//! `ImprintView` or a `ScaleMiaView`.

mod case;
mod config;
mod federation;
mod lens;

use std::time::Instant;

use burn::module::Module;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use super::{DataSummary, Experiment, RUN_AND_DATA_KEYS, ResultHeader, RunContext, RunSpec};
use crate::Result;
use crate::attacks::imprint::bins::Cutoffs;
use crate::config::MovedKey;
use crate::data::Dataset;
use crate::fl::NoisePlacement;
use crate::fl::federated::HonestServer;
use crate::metrics::inversion::Originals;
use crate::metrics::leakage::SsimThreshold;
use crate::model::{Classifier, ModelConfig};
use crate::report::{METRICS, Staged};
use crate::runtime::Runtime;

pub use case::{CaseId, CaseRecord, Placement, Seconds};
pub use config::{AuxSource, DefenseSpec, GlobalAttack, GlobalModelConfig, ImprintSpec};
pub use federation::{AggregateDp, Level};
pub use lens::AutoencoderRecord;

use federation::Federation;
use lens::{Lens, RoundSetup};

/// `ppml run global-model-attack`.
pub struct GlobalModelAttack;

/// The planted-free global model after the run's rounds, at one defense level.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingRecord {
    /// Parties n.
    pub parties: usize,
    /// Images per batch B (expected, under DP).
    pub batch_size: usize,
    /// The DP aggregate's ε (`"inf"`: none).
    #[serde(serialize_with = "crate::privacy::serialize_epsilon")]
    pub epsilon: f64,
    /// Where its noise was added (`null`: none).
    pub noise: Option<NoisePlacement>,
    /// σ (`null`: none).
    pub noise_multiplier: Option<f64>,
    /// FedSGD rounds trained.
    pub rounds: usize,
    /// Test accuracy of the global model after them.
    pub test_accuracy: f64,
    /// Seconds of the training.
    pub seconds: f64,
}

/// `metrics.json` of `ppml run global-model-attack`.
#[derive(Debug, Clone, Serialize)]
pub struct GlobalModelReport {
    /// Experiment, version, dataset, seed, quick.
    #[serde(flatten)]
    pub header: ResultHeader,
    /// The full resolved config.
    pub config: GlobalModelConfig,
    /// The DP aggregate's guarantee, one entry per federation and finite ε (empty: no DP).
    pub privacy: Vec<AggregateDp>,
    /// The data the parties held.
    pub data: DataSummary,
    /// The planted-free global model's accuracy, one entry per federation and defense level.
    pub training: Vec<TrainingRecord>,
    /// Scale-MIA: the attacker's autoencoder (`null` for the pixel-space imprint).
    pub autoencoder: Option<AutoencoderRecord>,
    /// One record per attacked round.
    pub cases: Vec<CaseRecord>,
    /// Things a reader should know before trusting the numbers.
    pub warnings: Vec<String>,
    /// Wall-clock seconds of the whole run.
    pub wall_seconds: f64,
}

impl Experiment for GlobalModelAttack {
    const NAME: &'static str = "global-model-attack";
    type Config = GlobalModelConfig;
    type Report = GlobalModelReport;

    fn default_config(_private: bool) -> GlobalModelConfig {
        GlobalModelConfig::default()
    }

    fn moved_keys() -> Vec<MovedKey> {
        RUN_AND_DATA_KEYS.to_vec()
    }

    fn run_spec(config: &GlobalModelConfig) -> &RunSpec {
        &config.run
    }

    fn run(config: GlobalModelConfig, ctx: &mut RunContext) -> Result<Self::Report> {
        run(config, ctx)
    }

    fn warnings(report: &Self::Report) -> &[String] {
        &report.warnings
    }

    fn summary(report: &Self::Report) -> Vec<String> {
        let mut lines = case::summary(&report.cases);
        lines.extend(report.training.iter().map(|t| {
            let dp = match t.noise {
                Some(p) => format!("ε {} {}", t.epsilon, p.as_str()),
                None => "no DP".to_string(),
            };
            format!(
                "  global model, n {} B {}, {dp}: test accuracy {:.3} after {} rounds",
                t.parties, t.batch_size, t.test_accuracy, t.rounds
            )
        }));
        lines
    }
}

/// Every case of `config`, in the order the run takes them.
fn enumerate(config: &GlobalModelConfig) -> Vec<CaseId> {
    let spec = &config.imprint;
    let mut out = Vec::new();
    for seed in 0..spec.seeds {
        for &[parties, batch_size] in &spec.federations {
            for (epsilon, noise) in config.levels() {
                let id = |bins, placement| CaseId {
                    attack: spec.attack,
                    seed,
                    parties,
                    batch_size,
                    bins,
                    placement,
                    epsilon,
                    noise,
                };
                for k in config.bin_counts(parties * batch_size) {
                    out.push(id(k, Placement::EqualMass));
                }
                if spec.oracle {
                    out.push(id(parties * batch_size, Placement::OracleUpperBound));
                }
            }
        }
    }
    out
}

/// What every case of a run shares: what the bins look at, the attacker's statistic on its own
/// data, the prior, the honest model's description and the output.
struct Shared<'a> {
    config: &'a GlobalModelConfig,
    lens: Lens,
    aux: Vec<f64>,
    prior: Vec<f32>,
    model: ModelConfig,
    side: usize,
    staged: &'a Staged,
}

/// Runs every case and the defended training, and writes `metrics.json` and per case an image
/// grid and the originals and reconstructions as `.npy`.
pub fn run(config: GlobalModelConfig, ctx: &mut RunContext) -> Result<GlobalModelReport> {
    let started = Instant::now();
    config.validate()?;
    let config = config.resolve();
    config.validate()?;
    let plan = enumerate(&config);
    let files: Vec<String> = plan.iter().flat_map(CaseId::files).collect();
    let names: Vec<&str> = std::iter::once(METRICS)
        .chain(files.iter().map(String::as_str))
        .collect();
    let output = ctx.prepare_output(&names)?;
    let splits = ctx.load_dataset(config.data.dataset)?;
    let train = config.data.train_part(&splits.train);
    // The attacker's own data: the public test split, disjoint from every party's shard.
    let test = config.data.test_part(&splits.test);
    let side = train.rows();
    let (device, progress) = (ctx.device.clone(), ctx.options.progress);
    let model = config.model.for_data(side, train.classes());
    let mut rng = StdRng::seed_from_u64(ctx.rng.random());
    let (lens, autoencoder) = Lens::build(
        &config,
        &test,
        &model,
        &mut Runtime::new(&device, &mut rng, &progress),
    )?;
    let aux = lens.statistics(&test);
    // A constant statistic is refused here, before any round runs.
    Cutoffs::equal_mass(&aux, 1)?;
    // σ per federation and ε: the sampling rate depends only on the shard sizes.
    let mut privacy = Vec::new();
    let mut levels = Vec::new();
    for &fed in &config.imprint.federations {
        let federation = Federation::deal(&train, fed, &mut StdRng::seed_from_u64(0))?;
        for (epsilon, noise) in config.levels() {
            let dp = federation::calibrate(&config.defense, &federation, epsilon)?;
            let sigma = dp.as_ref().map(|(s, _)| *s);
            if let Some((_, record)) = dp
                && noise == config.defense.noise.first().copied()
            {
                privacy.push(record);
            }
            levels.push((
                fed,
                Level {
                    epsilon,
                    noise,
                    noise_multiplier: sigma,
                },
            ));
        }
    }
    let staged = output.stage()?;
    let shared = Shared {
        config: &config,
        lens,
        aux,
        prior: test.mean_image(),
        model,
        side,
        staged: &staged,
    };
    let bar = progress.items(plan.len() as u64, "cases", "global-model attack");
    let mut cases = Vec::with_capacity(plan.len());
    let mut ids = plan.iter().peekable();
    for seed in 0..config.imprint.seeds {
        let mut rng = StdRng::seed_from_u64(ctx.rng.random());
        for &fed in &config.imprint.federations {
            let federation = Federation::deal(&train, fed, &mut rng)?;
            let global = Classifier::new(&shared.model, &device.clone().autodiff(), &mut rng);
            for &(_, level) in levels.iter().filter(|(f, _)| *f == fed) {
                while let Some(&&id) = ids.peek() {
                    if id.seed != seed
                        || [id.parties, id.batch_size] != fed
                        || id.epsilon.to_bits() != level.epsilon.to_bits()
                        || id.noise != level.noise
                    {
                        break;
                    }
                    ids.next();
                    let mut rt = Runtime::new(&device, &mut rng, &progress);
                    let record = attack_case(&shared, id, &federation, &global, level, &mut rt)?;
                    cases.push(record);
                    bar.inc(1);
                }
            }
        }
    }
    bar.finish_and_clear();
    let training = train_defended(&config, &train, &test, &levels, &shared.model, ctx)?;
    let report = GlobalModelReport {
        header: ctx.header(GlobalModelAttack::NAME, config.data.dataset, &config.run),
        privacy,
        data: DataSummary {
            train: train.len(),
            test: test.len(),
            classes: train.classes(),
            source: splits.location.dir.display().to_string(),
        },
        training,
        autoencoder,
        cases,
        warnings: Vec::new(),
        wall_seconds: started.elapsed().as_secs_f64(),
        config,
    };
    staged.write_json(METRICS, &report)?;
    staged.commit()?;
    Ok(report)
}

/// One attacked round: place the cut-offs, plant, let the parties compute and SecAgg sum, read
/// the images back, measure.
fn attack_case(
    shared: &Shared<'_>,
    id: CaseId,
    federation: &Federation,
    global: &Classifier,
    level: Level,
    rt: &mut Runtime<'_>,
) -> Result<CaseRecord> {
    let config = shared.config;
    let started = Instant::now();
    let honest = global.num_params();
    let cutoffs = match id.placement {
        Placement::EqualMass => Cutoffs::equal_mass(&shared.aux, id.bins)?,
        Placement::OracleUpperBound => {
            // The idealised placement reads the private batch: run the round once with an honest
            // server to see it (the parties' draws depend only on their own seeds).
            let opts = federation::options(config, federation, level, honest)?;
            let peek = federation::first_round(
                global.clone(),
                &mut HonestServer,
                federation,
                &opts,
                rt.rng,
            )?;
            let batch = Originals::of(&peek.truth.iter().collect::<Vec<_>>());
            Cutoffs::oracle(&batch.statistics(|x| shared.lens.statistic(x)))
        }
    };
    let bins = cutoffs.len();
    let planted = cutoffs.clone();
    let plant = started.elapsed().as_secs_f64();
    let parameters = shared.lens.planted_parameters(global, bins);
    let opts = federation::options(config, federation, level, parameters)?;
    let setup = RoundSetup {
        global,
        federation,
        opts: &opts,
    };
    let attacked = shared.lens.attack(config, setup, cutoffs, rt)?;
    let seconds = Seconds {
        plant,
        round: attacked.round_seconds,
        reconstruct: attacked.reconstruct_seconds,
    };
    let lens = &shared.lens;
    let statistic = |x: &[f32]| lens.statistic(x);
    let outcome = case::Outcome {
        found: attacked.found,
        truth: &attacked.truth,
        cutoffs: &planted,
        statistic: &statistic,
        seconds,
    };
    let threshold = SsimThreshold::new(config.imprint.ssim_threshold)?;
    let id = CaseId { bins, ..id };
    let record = case::measure_case(
        id,
        outcome,
        &shared.prior,
        shared.side,
        threshold,
        shared.staged,
    )?;
    Ok(CaseRecord {
        noise_multiplier: level.noise_multiplier,
        ..record
    })
}

/// The planted-free global model trained at every defense level of every federation, from
/// seed 0's stream.
fn train_defended(
    config: &GlobalModelConfig,
    train: &Dataset,
    test: &Dataset,
    levels: &[([usize; 2], Level)],
    model: &ModelConfig,
    ctx: &mut RunContext,
) -> Result<Vec<TrainingRecord>> {
    let bar = ctx
        .options
        .progress
        .items(levels.len() as u64, "models", "defended training");
    let mut out = Vec::with_capacity(levels.len());
    for &(fed, level) in levels {
        let started = Instant::now();
        let mut rng = StdRng::seed_from_u64(ctx.rng.random());
        let federation = Federation::deal(train, fed, &mut rng)?;
        let accuracy = federation::trained_accuracy(
            config,
            &federation,
            level,
            (model, test),
            &ctx.device,
            &mut rng,
        )?;
        out.push(TrainingRecord {
            parties: fed[0],
            batch_size: fed[1],
            epsilon: level.epsilon,
            noise: level.noise,
            noise_multiplier: level.noise_multiplier,
            rounds: config.defense.rounds,
            test_accuracy: accuracy,
            seconds: started.elapsed().as_secs_f64(),
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}
