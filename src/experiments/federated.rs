//! `ppml run federated`: parties train one classifier on their own shards of real data, and the
//! server only learns the aggregate the chosen protocol reveals (McMahan et al. 2017's FedAvg
//! and FedSGD; Bonawitz et al. 2017's SecAgg).
//!
//! The run is the substrate of the gradient-inversion and imprint experiments: it shows that
//! secure aggregation changes what the server sees, not what the parties learn — the global
//! model reaches the same accuracy under `plain`, `additive` and `secagg` (up to the
//! fixed-point encoding), at the traffic each protocol costs.

use std::time::Instant;

use burn::module::Module;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::{
    DataSummary, Experiment, MODEL_KEYS, RUN_AND_DATA_KEYS, ResultHeader, RunContext, RunSpec,
};
use crate::Result;
use crate::config::MovedKey;
use crate::data::DataSpec;
use crate::fl::federated::{FederatedOptions, HonestServer, Party, Round, RoundRecord, run_round};
use crate::fl::{
    AggregationSpec, FederationSpec, FixedPoint, RingWord, Session, SumNoise, split_among_parties,
};
use crate::model::{Classifier, ModelSpec};
use crate::report::METRICS;
use crate::train::{Evaluation, evaluate};

/// Training and test examples kept by `--quick`.
const QUICK_DATA: (usize, usize) = (2_000, 1_000);

/// Everything that defines a federated run: `[run]`, `[data]`, `[model]`, `[federated]` and
/// `[aggregation]` tables, every key optional, unknown keys refused.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederatedConfig {
    /// Seed, backend, quick.
    pub run: RunSpec,
    /// Dataset, split among the parties (its test set evaluates the global model).
    pub data: DataSpec,
    /// The global model (default: Papernot et al.'s tanh CNN).
    pub model: ModelSpec,
    /// The parties and their training (default: three hospitals, FedAvg).
    pub federated: FederationSpec,
    /// The protocol that sums the updates (default: SecAgg).
    pub aggregation: AggregationSpec,
}

impl FederatedConfig {
    /// Applies `--quick`: 2,000 training and 1,000 test examples, 3 rounds of 5 local steps.
    pub fn resolve_quick(mut self) -> Self {
        if self.run.quick {
            self.data.cap(QUICK_DATA.0, QUICK_DATA.1);
            self.federated.rounds = self.federated.rounds.min(3);
            self.federated.local_steps = self.federated.local_steps.min(5);
        }
        self
    }

    /// Checks what can be checked before the data is loaded, so that a bad setting exits 2
    /// before anything is trained.
    pub fn validate(&self) -> Result<()> {
        self.data.validate()?;
        self.federated.validate()?;
        self.aggregation.validate(self.federated.parties)?;
        Ok(self
            .model
            .validate(self.federated.batch_size, "batch_size")?)
    }
}

impl FederatedConfig {
    /// How every round runs, for a model of `parameters` values (a validated, resolved config).
    /// No noise in the sum and no per-example clipping: this experiment trains in the open.
    fn options(&self, parameters: usize) -> Result<FederatedOptions> {
        let (federation, aggregation) = (&self.federated, &self.aggregation);
        Ok(FederatedOptions {
            algorithm: federation.algorithm,
            local_steps: federation.local_steps,
            batch_size: federation.batch_size,
            sampling: crate::fl::federated::BatchSampling::Fixed,
            lr: federation.lr,
            aggregation: aggregation.protocol,
            params: aggregation.params(federation.parties, parameters)?,
            clip_range: aggregation.clip_range,
            dropouts_per_round: aggregation.dropouts_per_round,
            noise: SumNoise::None,
            max_grad_norm: None,
            local_noise: None,
        })
    }
}

/// `ppml run federated`.
pub struct Federated;

impl Experiment for Federated {
    const NAME: &'static str = "federated";
    type Config = FederatedConfig;
    type Report = FederatedReport;

    fn default_config(_private: bool) -> FederatedConfig {
        FederatedConfig::default()
    }

    fn moved_keys() -> Vec<MovedKey> {
        let federated = [
            "parties",
            "partition",
            "algorithm",
            "rounds",
            "local_steps",
            "batch_size",
            "lr",
        ]
        .map(|key| (key, "[federated]"));
        let aggregation = [
            ("aggregation", "[aggregation] protocol"),
            ("threshold", "[aggregation]"),
            ("neighbours", "[aggregation]"),
            ("clip_range", "[aggregation]"),
            ("dropouts_per_round", "[aggregation]"),
        ];
        [RUN_AND_DATA_KEYS, MODEL_KEYS, &federated, &aggregation].concat()
    }

    fn run_spec(config: &FederatedConfig) -> &RunSpec {
        &config.run
    }

    fn run(config: FederatedConfig, ctx: &mut RunContext) -> Result<FederatedReport> {
        run(config, ctx)
    }

    fn warnings(_report: &FederatedReport) -> &[String] {
        &[]
    }

    fn summary(report: &FederatedReport) -> Vec<String> {
        let (federation, aggregation) = (&report.config.federated, &report.config.aggregation);
        let parties = match federation.parties {
            1 => "1 party".to_string(),
            n => format!("{n} parties"),
        };
        vec![format!(
            "federated: {parties}, {:?} over {}, {} rounds on {}: test accuracy {:.2}%, {:.0} kB per party per round",
            federation.algorithm,
            aggregation.protocol.as_str(),
            federation.rounds,
            report.header.dataset,
            100.0 * report.test_accuracy,
            report.bytes_per_party_per_round / 1e3,
        )]
    }
}

/// `metrics.json` of `ppml run federated`.
#[derive(Debug, Clone, Serialize)]
pub struct FederatedReport {
    /// Experiment, version, dataset, seed, quick.
    #[serde(flatten)]
    pub header: ResultHeader,
    /// The full resolved config.
    pub config: FederatedConfig,
    /// No DP in this experiment.
    pub privacy: Option<()>,
    /// The data used (the training set before it was split).
    pub data: DataSummary,
    /// Examples held by each party.
    pub party_examples: Vec<usize>,
    /// Trainable parameters (the length of every update vector).
    pub parameters: usize,
    /// The fixed-point code the updates were encoded with.
    pub encoding: EncodingSummary,
    /// Test accuracy of the final global model.
    pub test_accuracy: f64,
    /// Test loss of the final global model.
    pub test_loss: f64,
    /// One record per round, with the global model's test accuracy after it.
    pub history: Vec<RoundResult>,
    /// Mean bytes per party per round in the aggregation.
    pub bytes_per_party_per_round: f64,
    /// Wall-clock seconds of the whole run.
    pub wall_seconds: f64,
}

/// The fixed-point code of a run: [`FixedPoint::for_updates`] for `clip_range` and n parties.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EncodingSummary {
    /// Bits of the ring words (the run encodes into Z_2^32).
    pub ring_bits: u32,
    /// Integer units per 1.0 of an update coordinate.
    pub scale: f64,
    /// The quantisation step, 1/scale (a party's rounding error is below one step).
    pub step: f64,
    /// The largest |encoded coordinate| of one party, ⌈clip_range · scale⌉.
    pub max_abs: u64,
}

impl EncodingSummary {
    fn new(code: &FixedPoint) -> Self {
        Self {
            ring_bits: <u32 as RingWord>::BITS,
            scale: code.scale(),
            step: code.step(),
            max_abs: code.max_abs(),
        }
    }
}

/// A round and the global model's quality after it.
#[derive(Debug, Clone, Serialize)]
pub struct RoundResult {
    /// What the round did.
    #[serde(flatten)]
    pub round: RoundRecord,
    /// Test accuracy after the round.
    pub test_accuracy: f64,
    /// Test loss after the round.
    pub test_loss: f64,
}

/// Runs the federated training and writes `metrics.json`.
pub fn run(config: FederatedConfig, ctx: &mut RunContext) -> Result<FederatedReport> {
    let started = Instant::now();
    // Validated as given, so that `--quick` never hides an invalid value, and again after.
    config.validate()?;
    let mut config = config.resolve_quick();
    config.validate()?;
    let n = config.federated.parties;
    config.aggregation = config.aggregation.resolve(n)?;
    let (federation, aggregation) = (&config.federated, &config.aggregation);
    let code = FixedPoint::for_updates::<u32>(aggregation.clip_range, n)?;
    let output = ctx.prepare_output(&[METRICS])?;
    let splits = ctx.load_dataset(config.data.dataset)?;
    let train_set = config.data.train_part(&splits.train);
    let test_set = config.data.test_part(&splits.test);
    let shards = split_among_parties(&train_set, n, federation.partition, &mut ctx.rng)?;
    let party_examples: Vec<usize> = shards.iter().map(|s| s.len()).collect();
    federation.check_batch_fits(&party_examples)?;
    let mut parties: Vec<Party> = shards
        .into_iter()
        .enumerate()
        .map(|(id, shard)| Party::new(id, shard, ctx.rng.random()))
        .collect();

    let model_config = config.model.for_data(train_set.rows(), train_set.classes());
    model_config.validate()?;
    model_config.check_fits(federation.batch_size, "batch_size")?;
    let ad_device = ctx.device.clone().autodiff();
    let mut global = Classifier::new(&model_config, &ad_device, &mut ctx.rng);
    let parameters = global.num_params();
    let opts = config.options(parameters)?;
    let run_id: [u8; 16] = ctx.rng.random();
    let bar = ctx
        .options
        .progress
        .items(federation.rounds as u64, "rounds", "federated");
    let mut history = Vec::with_capacity(federation.rounds);
    for round in 1..=federation.rounds as u64 {
        let session = Session::new(run_id, round);
        // The honest server's observations and the parties' batches are what the attack
        // experiments read; training needs only the next model and the record.
        let Round { next, record, .. } = run_round(
            global,
            &mut HonestServer,
            &mut parties,
            &opts,
            session,
            &mut ctx.rng,
        )?;
        global = next;
        let Evaluation { loss, accuracy } = evaluate(&global, &test_set, &ctx.device);
        bar.set_prefix(format!("test acc {:.2}%", 100.0 * accuracy));
        bar.inc(1);
        history.push(RoundResult {
            round: record,
            test_accuracy: accuracy,
            test_loss: loss,
        });
    }
    bar.finish_and_clear();
    let last = history.last().expect("rounds >= 1 was validated");
    let report = FederatedReport {
        header: ctx.header(Federated::NAME, config.data.dataset, &config.run),
        privacy: None,
        data: DataSummary {
            train: train_set.len(),
            test: test_set.len(),
            classes: train_set.classes(),
            source: splits.location.dir.display().to_string(),
        },
        party_examples,
        parameters,
        encoding: EncodingSummary::new(&code),
        test_accuracy: last.test_accuracy,
        test_loss: last.test_loss,
        bytes_per_party_per_round: history.iter().map(|r| r.round.bytes_per_party).sum::<f64>()
            / history.len() as f64,
        history,
        wall_seconds: started.elapsed().as_secs_f64(),
        config,
    };
    let staged = output.stage()?;
    staged.write_json(METRICS, &report)?;
    staged.commit()?;
    Ok(report)
}
