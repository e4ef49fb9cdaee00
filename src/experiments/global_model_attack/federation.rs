//! The federations of the experiment and the defense they run under.
//!
//! Shards are dealt once per seed and federation, and the parties are rebuilt from them with
//! the same seeds for every case, so every case of a seed sees the same batches (a paired
//! comparison across bin counts). Without DP the parties draw fixed batches of B and send
//! their mean gradient, as Fowl et al. attack; the DP aggregate is DP-SGD over the union of
//! the parties' data: every party Poisson-samples its batch (rate q = B / its shard), clips
//! each example's gradient to C, and the released sum carries Gaussian noise of σ·C/B, added
//! centrally or in shares inside SecAgg.

use burn::tensor::Device;
use rand::RngExt;
use rand::rngs::StdRng;
use serde::Serialize;

use super::config::{DefenseSpec, GlobalModelConfig};
use crate::Result;
use crate::config::ConfigError;
use crate::data::Dataset;
use crate::fl::federated::{
    Algorithm, BatchSampling, FederatedOptions, HonestServer, Party, Round, Server, run_round,
};
use crate::fl::{
    AggregationSpec, NoisePlacement, Partition, Session, SumNoise, dp_sum_noise,
    split_among_parties,
};
use crate::model::{Classifier, ModelConfig};
use crate::privacy::{Accountant, DpReport, PrivacySpec};
use crate::train::evaluate;

/// n parties with their shards and seeds.
pub struct Federation {
    /// Parties n.
    pub parties: usize,
    /// Images per batch B (the expected batch under Poisson sampling).
    pub batch_size: usize,
    shards: Vec<Dataset>,
    seeds: Vec<u64>,
    run_id: [u8; 16],
}

impl Federation {
    /// Deals `train` to `parties` parties (IID), each with its own seed.
    ///
    /// # Errors
    /// A batch larger than the smallest shard.
    pub fn deal(
        train: &Dataset,
        [parties, batch_size]: [usize; 2],
        rng: &mut StdRng,
    ) -> Result<Self> {
        let shards = split_among_parties(train, parties, Partition::Iid, rng)?;
        let smallest = shards.iter().map(Dataset::len).min().unwrap_or(0);
        if batch_size > smallest {
            return Err(ConfigError::invalid(
                "federations (batch size)",
                batch_size,
                format!(
                    "larger than a party's shard ({smallest} examples: {} training examples \
                     dealt to {parties} parties)",
                    train.len()
                ),
            )
            .into());
        }
        let seeds = (0..parties).map(|_| rng.random()).collect();
        Ok(Self {
            parties,
            batch_size,
            shards,
            seeds,
            run_id: rng.random(),
        })
    }

    /// The parties, freshly seeded: every call draws the same batches.
    pub fn parties(&self) -> Vec<Party> {
        self.shards
            .iter()
            .zip(&self.seeds)
            .enumerate()
            .map(|(id, (shard, &seed))| Party::new(id, shard.clone(), seed))
            .collect()
    }

    /// Poisson sampling rate of the party with the smallest shard: the largest, so the one the
    /// accounting must assume.
    pub fn sample_rate(&self) -> f64 {
        let smallest = self.shards.iter().map(Dataset::len).min().unwrap_or(1);
        (self.batch_size as f64 / smallest as f64).min(1.0)
    }

    /// Examples in the union of the shards.
    pub fn examples(&self) -> usize {
        self.shards.iter().map(Dataset::len).sum()
    }

    /// Round `round` of this federation.
    pub fn session(&self, round: u64) -> Session {
        Session::new(self.run_id, round)
    }
}

/// One defense level: ε, where the noise goes, and σ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// ε (∞: no defense).
    pub epsilon: f64,
    /// Central or distributed (`None` without DP).
    pub noise: Option<NoisePlacement>,
    /// σ calibrated for ε (`None` without DP).
    pub noise_multiplier: Option<f64>,
}

/// The DP aggregate's guarantee for one federation and ε, as `metrics.json` records it.
#[derive(Debug, Clone, Serialize)]
pub struct AggregateDp {
    /// Parties n.
    pub parties: usize,
    /// Expected batch per party B.
    pub batch_size: usize,
    /// DP-SGD's keys: ε, δ, σ, q, steps, both accountants' ε, C, the expected batch of the
    /// union.
    #[serde(flatten)]
    pub report: DpReport,
    /// What the guarantee protects.
    pub neighbouring: &'static str,
}

/// σ for `epsilon` over `defense.rounds` rounds at the federation's sampling rate, by the PLD
/// accountant (`None` for ε = ∞).
pub fn calibrate(
    defense: &DefenseSpec,
    federation: &Federation,
    epsilon: f64,
) -> Result<Option<(f64, AggregateDp)>> {
    let privacy = PrivacySpec {
        epsilon: Some(epsilon),
        noise_multiplier: None,
        delta: defense.delta,
        clip_norm: defense.clip_norm,
        accountant: Accountant::Pld,
    };
    let Some(plan) = privacy.plan()? else {
        return Ok(None);
    };
    let (sigma, report) = plan.resolve(
        federation.sample_rate(),
        defense.rounds as u64,
        federation.examples(),
    )?;
    Ok(Some((
        sigma,
        AggregateDp {
            parties: federation.parties,
            batch_size: federation.batch_size,
            report,
            neighbouring: "one example added to or removed from the union of the parties' data",
        },
    )))
}

/// The FedSGD options of `federation` at `level`, for a model of `parameters` values.
pub fn options(
    config: &GlobalModelConfig,
    federation: &Federation,
    level: Level,
    parameters: usize,
) -> Result<FederatedOptions> {
    let (spec, defense) = (&config.imprint, &config.defense);
    let n = federation.parties;
    let protocol = AggregationSpec {
        protocol: spec.aggregation,
        clip_range: spec.clip_range,
        ..AggregationSpec::default()
    };
    let plain = FederatedOptions {
        algorithm: Algorithm::FedSgd,
        local_steps: 1,
        batch_size: federation.batch_size,
        lr: defense.lr,
        aggregation: spec.aggregation,
        params: protocol.params(n, parameters)?,
        clip_range: spec.clip_range,
        dropouts_per_round: 0,
        noise: SumNoise::None,
        max_grad_norm: None,
        local_noise: None,
        sampling: BatchSampling::Fixed,
    };
    let (Some(placement), Some(sigma)) = (level.noise, level.noise_multiplier) else {
        return Ok(plain);
    };
    let noise = dp_sum_noise(
        placement,
        sigma,
        defense.clip_norm,
        federation.batch_size,
        spec.clip_range,
        n,
        parameters,
    )?;
    Ok(FederatedOptions {
        noise,
        max_grad_norm: Some(defense.clip_norm),
        sampling: BatchSampling::Poisson,
        lr: defense.dp_lr,
        ..plain
    })
}

/// Standard deviation of the noise in one coordinate of the sum `opts` release, in the
/// units of the updates.
pub fn noise_std(opts: &FederatedOptions) -> Result<f64> {
    Ok(match opts.noise {
        SumNoise::None => 0.0,
        SumNoise::Central { std } => std,
        // Every party contributes (no dropouts), so the sum carries σ² in integer units.
        SumNoise::Distributed(g) => g.sigma() / opts.code()?.scale(),
    })
}

/// The first round of `federation` on `global`, with `server` vetting the model.
pub fn first_round<S: Server>(
    global: Classifier,
    server: &mut S,
    federation: &Federation,
    opts: &FederatedOptions,
    rng: &mut StdRng,
) -> Result<Round<S::Secrets>> {
    let mut parties = federation.parties();
    let session = federation.session(1);
    Ok(run_round(global, server, &mut parties, opts, session, rng)?)
}

/// The test accuracy of the planted-free global model after `config.defense.rounds` FedSGD
/// rounds of `federation` at `level`, from weights drawn from `rng`.
pub fn trained_accuracy(
    config: &GlobalModelConfig,
    federation: &Federation,
    level: Level,
    (model, test): (&ModelConfig, &Dataset),
    device: &Device,
    rng: &mut StdRng,
) -> Result<f64> {
    let mut global = Classifier::new(model, &device.clone().autodiff(), rng);
    let parameters = burn::module::Module::num_params(&global);
    let opts = options(config, federation, level, parameters)?;
    let mut parties = federation.parties();
    for r in 1..=config.defense.rounds {
        let session = federation.session(r as u64);
        global = run_round(global, &mut HonestServer, &mut parties, &opts, session, rng)?.next;
    }
    Ok(evaluate(&global, test, device).accuracy)
}
