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
use crate::config::{ConfigError, at_least_one, count_in, positive};
use crate::data::DatasetName;
use crate::device::Backend;
use crate::fl::federated::{
    Algorithm, FederatedOptions, HonestServer, Party, Round, RoundRecord, run_round,
};
use crate::fl::{
    Aggregation, FixedPoint, Partition, RingWord, SecAggParams, Session, SumNoise,
    split_among_parties,
};
use crate::model::{Activation, Classifier, ModelConfig, ModelKind};
use crate::report::METRICS;
use crate::train::{Evaluation, evaluate};

/// Most rounds (and local steps per round) a run may ask for.
const MAX_ROUNDS: usize = 1_000_000;

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
    /// Number of parties n (at least 1; at least 2 for `additive` and `secagg`, where a sum of
    /// one update is that update).
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
    /// SecAgg threshold t (default: a majority of the share holders, ⌊h/2⌋ + 1, h = n for all
    /// pairs and k + 1 with SecAgg+). `metrics.json` holds the threshold used: with `secagg`
    /// the given or defaulted t; with `additive` n, since n-of-n sharing needs every party
    /// whatever t says; with `plain` null, since no threshold applies (any survivor's update
    /// is summed). A t given with `plain` or `additive` is ignored.
    pub threshold: Option<usize>,
    /// SecAgg neighbours per party k: n − 1 (the default) masks all pairs; an even k from 2 to
    /// n − 2 gives SecAgg+'s sparse ring graph. `metrics.json` holds the k used: n − 1 when
    /// defaulted, null under `plain` and `additive`, which have no graph (a k given with them
    /// is ignored).
    pub neighbours: Option<usize>,
    /// Update coordinates are clipped to [−clip_range, clip_range] before encoding. The
    /// fixed-point step is clip_range / units, where units ≈ 2^31 / n leaves headroom for the sum
    /// of n parties in Z_2^32. The range must make that step no coarser than
    /// [`MAX_UPDATE_STEP`](crate::fl::encoding::MAX_UPDATE_STEP) = 0.01, or updates round to zero,
    /// and no finer than the smallest normal f32: about 8.4e-30 to 7.2e6 for 3 parties.
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

    /// Checks what can be checked before the data is loaded: every check that needs only the
    /// config, so that a bad setting exits 2 before anything is trained. The number of parties
    /// comes first, since every other check (dropouts, thresholds, the encoding) depends on it.
    pub fn validate(&self) -> Result<()> {
        let n = at_least_one("parties", self.parties)?;
        count_in("rounds", self.rounds, MAX_ROUNDS)?;
        count_in("local_steps", self.local_steps, MAX_ROUNDS)?;
        at_least_one("batch_size", self.batch_size)?;
        positive("lr", self.lr)?;
        positive("clip_range", self.clip_range)?;
        let aggregation = self.aggregation.as_str();
        if n < 2 && self.aggregation != Aggregation::Plain {
            return Err(ConfigError::invalid(
                "parties",
                n,
                format!(
                    "aggregation = {aggregation} with a single party hides nothing: the sum the \
                     server learns is that party's update. Use at least 2 parties, or \
                     aggregation = plain (one-party plain FL is ordinary training)"
                ),
            )
            .into());
        }
        if self.dropouts_per_round >= n {
            return Err(ConfigError::invalid(
                "dropouts_per_round",
                self.dropouts_per_round,
                if n == 1 {
                    "must leave the one party".to_string()
                } else {
                    format!("must leave at least one of the {n} parties")
                },
            )
            .into());
        }
        self.partition.check()?;
        FixedPoint::for_updates::<u32>(self.clip_range, n)?;
        if self.aggregation == Aggregation::SecAgg {
            // The vector length is not known before the model is built; 1 stands in for it
            // (it only has to be non-zero).
            self.secagg_params(1)?;
        }
        Ok(())
    }

    /// The SecAgg neighbour count the masks use: k = n − 1 is all pairs (the complete graph,
    /// the one (n − 1)-regular graph). The SecAgg+ ring takes only an even k from 2 to n − 2.
    fn graph_neighbours(&self) -> Result<Option<usize>, ConfigError> {
        let n = self.parties;
        let all_pairs = n.saturating_sub(1);
        match self.neighbours {
            None => Ok(None),
            Some(k) if k == all_pairs => Ok(None),
            Some(k) if k >= 2 && k % 2 == 0 && k < all_pairs => Ok(Some(k)),
            Some(k) => Err(ConfigError::invalid(
                "neighbours",
                k,
                if n < 4 {
                    format!(
                        "must be n − 1 = {all_pairs} (all pairs): {n} parties leave no room for a sparse SecAgg+ graph"
                    )
                } else {
                    format!(
                        "must be n − 1 = {all_pairs} (all pairs, the default) or an even number from 2 to {} (SecAgg+)",
                        n - 2
                    )
                },
            )),
        }
    }

    /// The SecAgg parameters for update vectors of `vector_len` words: t given or a majority of
    /// the share holders.
    fn secagg_params(&self, vector_len: usize) -> Result<SecAggParams> {
        let graph = self.graph_neighbours()?;
        let holders = graph.map_or(self.parties, |k| k + 1);
        let threshold = self
            .threshold
            .unwrap_or_else(|| SecAggParams::majority(holders));
        Ok(SecAggParams::from_parts(
            self.parties,
            threshold,
            vector_len,
            graph,
        )?)
    }

    /// The aggregation parameters for update vectors of `vector_len` words (validated config).
    fn aggregation_params(&self, vector_len: usize) -> Result<SecAggParams> {
        match self.aggregation {
            Aggregation::Plain | Aggregation::Additive => {
                Ok(SecAggParams::every_party(self.parties, vector_len)?)
            }
            Aggregation::SecAgg => self.secagg_params(vector_len),
        }
    }

    /// Replaces the threshold and neighbour count with those the run uses (see the fields'
    /// docs), so that `metrics.json` records them. Config must be validated first. Returns a
    /// config that validates again and runs the same protocol.
    pub fn resolve_protocol(mut self) -> Result<Self> {
        let n = self.parties;
        (self.threshold, self.neighbours) = match self.aggregation {
            Aggregation::Plain => (None, None),
            Aggregation::Additive => (Some(n), None),
            Aggregation::SecAgg => {
                let params = self.secagg_params(1)?;
                (
                    Some(params.threshold()),
                    Some(params.neighbours().unwrap_or(n - 1)),
                )
            }
        };
        Ok(self)
    }
}

/// Errors unless every party's shard holds at least `batch_size` examples, naming the party with
/// the smallest shard. The same rule as `ppml run train`: a batch larger than the data would be
/// silently shrunk.
fn check_batch_fits(batch_size: usize, party_examples: &[usize]) -> Result<(), ConfigError> {
    let Some((party, &smallest)) = party_examples
        .iter()
        .enumerate()
        .min_by_key(|&(id, &len)| (len, id))
    else {
        return Ok(());
    };
    if batch_size > smallest {
        return Err(ConfigError::invalid(
            "batch_size",
            batch_size,
            format!(
                "larger than party {party}'s shard ({smallest} examples, the smallest of the {} shards); pick batch_size ≤ {smallest}",
                party_examples.len()
            ),
        ));
    }
    Ok(())
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
    let config = config.resolve_quick();
    config.validate()?;
    let config = config.resolve_protocol()?;
    let code = FixedPoint::for_updates::<u32>(config.clip_range, config.parties)?;
    let output = ctx.prepare_output(&[METRICS])?;
    let splits = ctx.load_dataset(config.dataset)?;
    let train_set = limit(&splits.train, config.train_limit);
    let test_set = limit(&splits.test, config.test_limit);
    let shards = split_among_parties(&train_set, config.parties, config.partition, &mut ctx.rng)?;
    let party_examples: Vec<usize> = shards.iter().map(|s| s.len()).collect();
    check_batch_fits(config.batch_size, &party_examples)?;
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
    model_config.check_fits(config.batch_size, "batch_size")?;
    let ad_device = ctx.device.clone().autodiff();
    let mut global = Classifier::new(&model_config, &ad_device, &mut ctx.rng);
    let parameters = global.num_params();
    let params = config.aggregation_params(parameters)?;
    let opts = FederatedOptions {
        algorithm: config.algorithm,
        local_steps: config.local_steps,
        batch_size: config.batch_size,
        lr: config.lr,
        aggregation: config.aggregation,
        params,
        clip_range: config.clip_range,
        dropouts_per_round: config.dropouts_per_round,
        noise: SumNoise::None,
        max_grad_norm: None,
    };
    let run_id: [u8; 16] = ctx.rng.random();
    let bar = ctx
        .options
        .progress
        .items(config.rounds as u64, "rounds", "federated");
    let mut history = Vec::with_capacity(config.rounds);
    for round in 1..=config.rounds as u64 {
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
        header: ctx.header("federated", config.dataset, config.seed, config.quick),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(parties: usize, aggregation: Aggregation) -> FederatedConfig {
        FederatedConfig {
            parties,
            aggregation,
            ..FederatedConfig::default()
        }
    }

    fn message(c: &FederatedConfig) -> String {
        c.validate().unwrap_err().to_string()
    }

    #[test]
    fn parties_are_checked_before_anything_that_depends_on_them() {
        // Used to read "invalid dropouts_per_round = 0: must leave some of the 0 parties".
        for agg in [
            Aggregation::Plain,
            Aggregation::Additive,
            Aggregation::SecAgg,
        ] {
            assert_eq!(
                message(&config(0, agg)),
                "invalid parties = 0: must be at least 1"
            );
        }
    }

    #[test]
    fn one_party_is_plain_training_and_no_secure_aggregation() {
        let plain = config(1, Aggregation::Plain);
        plain.validate().unwrap();
        let resolved = plain.resolve_protocol().unwrap();
        assert_eq!((resolved.threshold, resolved.neighbours), (None, None));
        let params = resolved.aggregation_params(10).unwrap();
        assert_eq!(params.parties(), 1);
        let mut drop = config(1, Aggregation::Plain);
        drop.dropouts_per_round = 1;
        let m = message(&drop);
        assert!(!m.contains("secure"), "{m}");
        assert!(m.contains("must leave the one party"), "{m}");
        for agg in [Aggregation::Additive, Aggregation::SecAgg] {
            let m = message(&config(1, agg));
            assert!(
                m.starts_with(&format!(
                    "invalid parties = 1: aggregation = {} with a single party hides nothing",
                    agg.as_str()
                )),
                "{m}"
            );
        }
    }

    #[test]
    fn the_protocol_values_used_are_the_ones_recorded() {
        // All pairs: t = ⌊n/2⌋ + 1 and k = n − 1.
        let secagg = config(4, Aggregation::SecAgg).resolve_protocol().unwrap();
        assert_eq!((secagg.threshold, secagg.neighbours), (Some(3), Some(3)));
        // The resolved config validates again and gives the same parameters.
        secagg.validate().unwrap();
        let params = secagg.aggregation_params(10).unwrap();
        assert_eq!((params.threshold(), params.neighbours()), (3, None));
        assert_eq!(
            params,
            config(4, Aggregation::SecAgg)
                .aggregation_params(10)
                .unwrap()
        );
        // SecAgg+ with k = 2 of 6: 3 holders, t = 2.
        let sparse = FederatedConfig {
            neighbours: Some(2),
            ..config(6, Aggregation::SecAgg)
        };
        let sparse = sparse.resolve_protocol().unwrap();
        assert_eq!((sparse.threshold, sparse.neighbours), (Some(2), Some(2)));
        assert_eq!(sparse.aggregation_params(10).unwrap().neighbours(), Some(2));
        // n − 1 odd is all pairs, not a refused odd SecAgg+ k.
        let odd = FederatedConfig {
            neighbours: Some(3),
            ..config(4, Aggregation::SecAgg)
        };
        odd.validate().unwrap();
        // Additive sharing needs every party; plain has no threshold. A given t is ignored.
        let additive = FederatedConfig {
            threshold: Some(2),
            neighbours: Some(2),
            ..config(3, Aggregation::Additive)
        };
        let additive = additive.resolve_protocol().unwrap();
        assert_eq!((additive.threshold, additive.neighbours), (Some(3), None));
        let plain = FederatedConfig {
            threshold: Some(2),
            ..config(3, Aggregation::Plain)
        };
        assert_eq!(plain.resolve_protocol().unwrap().threshold, None);
    }

    #[test]
    fn bad_neighbour_counts_name_the_allowed_ones() {
        let with = |n, k| FederatedConfig {
            neighbours: Some(k),
            ..config(n, Aggregation::SecAgg)
        };
        assert!(
            message(&with(6, 3))
                .contains("n − 1 = 5 (all pairs, the default) or an even number from 2 to 4")
        );
        assert!(message(&with(3, 1)).contains("must be n − 1 = 2 (all pairs)"));
        // A huge k is refused, not an overflow.
        assert!(message(&with(6, usize::MAX)).starts_with("invalid neighbours"));
        // Plain has no graph, so a k it cannot use is not an error.
        FederatedConfig {
            neighbours: Some(usize::MAX),
            threshold: Some(usize::MAX),
            ..config(3, Aggregation::Plain)
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn partition_and_clip_range_errors_name_their_keys() {
        let shards = FederatedConfig {
            partition: Partition::Shards { per_party: 0 },
            ..FederatedConfig::default()
        };
        assert!(message(&shards).starts_with("invalid partition.per_party = 0"));
        let alpha = FederatedConfig {
            partition: Partition::Dirichlet { alpha: f64::NAN },
            ..FederatedConfig::default()
        };
        assert!(message(&alpha).starts_with("invalid partition.alpha = NaN"));
        for (range, expect) in [(1e-300, "too small"), (1e300, "too large")] {
            let c = FederatedConfig {
                clip_range: range,
                ..FederatedConfig::default()
            };
            let m = message(&c);
            assert!(
                m.starts_with(&format!("clip_range = {range:e} is {expect}")),
                "{m}"
            );
        }
    }

    #[test]
    fn a_batch_must_fit_the_smallest_shard() {
        assert!(check_batch_fits(666, &[667, 667, 666]).is_ok());
        assert_eq!(
            check_batch_fits(667, &[667, 667, 666])
                .unwrap_err()
                .to_string(),
            "invalid batch_size = 667: larger than party 2's shard (666 examples, the smallest of \
             the 3 shards); pick batch_size ≤ 666"
        );
        let m = check_batch_fits(10, &[5, 3, 3]).unwrap_err().to_string();
        assert!(m.contains("party 1's shard (3 examples"), "{m}");
    }
}
