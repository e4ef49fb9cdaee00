//! `ppml run federated`: parties train one classifier on their own shards of real data, and the
//! server only learns the aggregate the chosen protocol reveals.
//!
//! The run is the substrate of the gradient-inversion and imprint experiments: it shows that
//! secure aggregation changes what the server sees, not what the parties learn — the global
//! model reaches the same accuracy under `plain`, `additive` and `secagg` (up to the
//! fixed-point encoding), at the traffic each protocol costs.

use std::time::Instant;

use burn::module::Module;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::train::{DataSummary, limit};
use super::{ResultHeader, RunContext};
use crate::Result;
use crate::config::{ConfigError, at_least_one, positive};
use crate::data::DatasetName;
use crate::device::Backend;
use crate::fl::federated::{Algorithm, FederatedOptions, Party, RoundRecord, run_round};
use crate::fl::{Aggregation, Partition, SecAggParams, Session, split_among_parties};
use crate::model::{Activation, Classifier, ModelConfig, ModelKind};
use crate::report::write_json_atomic;
use crate::train::{Evaluation, evaluate};

/// Everything that defines a federated run (one flat TOML table; unknown keys are errors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederatedConfig {
    /// Dataset, split among the parties (its test set evaluates the global model).
    pub dataset: DatasetName,
    /// Seed of every random choice.
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
    /// Number of parties n.
    pub parties: usize,
    /// How the training set is dealt to the parties (`{ kind = "iid" }`,
    /// `{ kind = "shards", per_party = 2 }`, `{ kind = "dirichlet", alpha = 0.5 }`).
    pub partition: Partition,
    /// FedSGD or FedAvg.
    pub algorithm: Algorithm,
    /// Federated rounds.
    pub rounds: usize,
    /// Local SGD steps per round (FedAvg).
    pub local_steps: usize,
    /// Local batch size.
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f64,
    /// `plain`, `additive` or `secagg`.
    pub aggregation: Aggregation,
    /// SecAgg threshold t (default: a majority, ⌊n/2⌋ + 1).
    pub threshold: Option<usize>,
    /// SecAgg+ neighbours per party (default: all pairs).
    pub neighbours: Option<usize>,
    /// Update coordinates are clipped to [−clip_range, clip_range] before encoding.
    pub clip_range: f64,
    /// Parties that drop out of each round after computing their update.
    pub dropouts_per_round: usize,
    /// Use only the first N training examples.
    pub train_limit: Option<usize>,
    /// Use only the first N test examples.
    pub test_limit: Option<usize>,
    /// Shrink the run to seconds.
    pub quick: bool,
}

impl Default for FederatedConfig {
    /// Three hospitals, IID shards, FedAvg over SecAgg with Papernot et al.'s tanh CNN.
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
            parties: 3,
            partition: Partition::Iid,
            algorithm: Algorithm::FedAvg,
            rounds: 30,
            local_steps: 20,
            batch_size: 64,
            lr: 0.1,
            aggregation: Aggregation::SecAgg,
            threshold: None,
            neighbours: None,
            clip_range: 1.0,
            dropouts_per_round: 0,
            train_limit: None,
            test_limit: None,
            quick: false,
        }
    }
}

impl FederatedConfig {
    /// Applies `--quick`: 2,000 training and 1,000 test examples, 3 rounds of 5 local steps.
    pub fn resolve_quick(mut self) -> Self {
        if self.quick {
            self.train_limit = Some(self.train_limit.map_or(2_000, |n| n.min(2_000)));
            self.test_limit = Some(self.test_limit.map_or(1_000, |n| n.min(1_000)));
            self.rounds = self.rounds.min(3);
            self.local_steps = self.local_steps.min(5);
        }
        self
    }

    /// Checks what can be checked before the data is loaded.
    pub fn validate(&self) -> Result<(), ConfigError> {
        at_least_one("rounds", self.rounds)?;
        at_least_one("local_steps", self.local_steps)?;
        at_least_one("batch_size", self.batch_size)?;
        positive("lr", self.lr)?;
        positive("clip_range", self.clip_range)?;
        if self.dropouts_per_round >= self.parties {
            return Err(ConfigError::invalid(
                "dropouts_per_round",
                self.dropouts_per_round,
                format!("must leave some of the {} parties", self.parties),
            ));
        }
        Ok(())
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
    let config = config.resolve_quick();
    config.validate()?;
    let splits = ctx.load_dataset(config.dataset)?;
    let train_set = limit(&splits.train, config.train_limit);
    let test_set = limit(&splits.test, config.test_limit);
    let shards = split_among_parties(&train_set, config.parties, config.partition, &mut ctx.rng)?;
    let party_examples: Vec<usize> = shards.iter().map(|s| s.len()).collect();
    let mut parties: Vec<Party> = shards
        .into_iter()
        .enumerate()
        .map(|(id, shard)| Party::new(id, shard, ctx.rng.random()))
        .collect();

    let model_config = ModelConfig {
        kind: config.model,
        activation: config.activation,
        mlp_hidden: config.mlp_hidden.clone(),
        cnn_channels: config.cnn_channels,
        cnn_dense: config.cnn_dense,
        side: train_set.rows(),
        classes: train_set.classes(),
    };
    model_config.validate()?;
    let ad_device = ctx.device.clone().autodiff();
    let mut global = Classifier::new(&model_config, &ad_device, &mut ctx.rng);
    let parameters = global.num_params();
    let threshold = config.threshold.unwrap_or_else(|| {
        SecAggParams::majority(config.neighbours.map_or(config.parties, |k| k + 1))
    });
    let params =
        SecAggParams::from_parts(config.parties, threshold, parameters, config.neighbours)?;
    let opts = FederatedOptions {
        algorithm: config.algorithm,
        local_steps: config.local_steps,
        batch_size: config.batch_size,
        lr: config.lr,
        aggregation: config.aggregation,
        params,
        clip_range: config.clip_range,
        dropouts_per_round: config.dropouts_per_round,
    };
    let run_id: [u8; 16] = ctx.rng.random();
    let bar = ctx
        .options
        .progress
        .items(config.rounds as u64, "rounds", "federated");
    let mut history = Vec::with_capacity(config.rounds);
    for round in 1..=config.rounds as u64 {
        let session = Session::new(run_id, round);
        let (next, record, _view) = run_round(global, &mut parties, &opts, session, &mut ctx.rng)?;
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
        header: ResultHeader::new("federated", config.dataset, config.seed, config.quick),
        privacy: None,
        data: DataSummary {
            train: train_set.len(),
            test: test_set.len(),
            classes: train_set.classes(),
            source: splits.location.dir.display().to_string(),
        },
        party_examples,
        parameters,
        test_accuracy: last.test_accuracy,
        test_loss: last.test_loss,
        bytes_per_party_per_round: history.iter().map(|r| r.round.bytes_per_party).sum::<f64>()
            / history.len() as f64,
        history,
        wall_seconds: started.elapsed().as_secs_f64(),
        config,
    };
    write_json_atomic(&ctx.out_path("metrics.json"), &report)?;
    Ok(report)
}
