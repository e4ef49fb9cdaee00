//! Federated learning with the aggregation protocols of this module: parties (think: three
//! hospitals) each hold a private shard and train one model without pooling their data
//! (McMahan, Moore, Ramage, Hampson & Agüera y Arcas 2017, "Communication-Efficient Learning of
//! Deep Networks from Decentralized Data").
//!
//! Each round the server broadcasts the global model; every party computes an update on its
//! own shard — FedSGD: the mean gradient of one local batch; FedAvg: the change of the model
//! after `local_steps` local SGD steps — and the updates are summed by the chosen protocol
//! (plain, additive sharing or SecAgg), so the server sees what [`ServerView`] holds and
//! nothing else. The server then moves the global model by the mean update of the parties whose
//! input made it into the sum.
//!
//! [`Party`] keeps its shard and its randomness private: the only thing that leaves it is the
//! update vector it hands to the protocol.

use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::aggregation::{Aggregation, Dropouts, Phase, RoundOutcome, ServerView};
use super::sum::{SecureSum, SumNoise, secure_sum};
use super::{FixedPoint, SecAggError, SecAggParams, Session};
use crate::data::Dataset;
use crate::model::Classifier;
use crate::model::flat::{from_flat, to_flat};
use crate::train::dp::ParamGrads;
use crate::train::{LrSchedule, OptimizerKind, TrainOptions, cross_entropy};

/// What a party sends each round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// The mean gradient of one local batch; the server takes the SGD step.
    FedSgd,
    /// The model change after `local_steps` local SGD steps; the server averages the changes.
    #[default]
    FedAvg,
}

/// How rounds run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FederatedOptions {
    /// FedSGD or FedAvg.
    pub algorithm: Algorithm,
    /// Local SGD steps per round (FedAvg).
    pub local_steps: usize,
    /// Local batch size.
    pub batch_size: usize,
    /// Learning rate (local steps for FedAvg, the server step for FedSGD).
    pub lr: f64,
    /// The protocol that sums the updates.
    pub aggregation: Aggregation,
    /// SecAgg parameters (n, t, vector length, neighbours); for plain and additive aggregation
    /// those of [`SecAggParams::every_party`].
    pub params: SecAggParams,
    /// Each update coordinate is clipped to [−range, range] before the fixed-point encoding.
    pub clip_range: f64,
    /// Parties that go silent each round after computing their update (before it is sent).
    pub dropouts_per_round: usize,
}

/// One party: its shard and its own random stream.
pub struct Party {
    id: usize,
    shard: Dataset,
    rng: StdRng,
}

impl std::fmt::Debug for Party {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The shard is private: only its size is shown.
        f.debug_struct("Party")
            .field("id", &self.id)
            .field("examples", &self.shard.len())
            .finish()
    }
}

impl Party {
    /// Party `id` holding `shard`, with a random stream seeded by `seed`.
    pub fn new(id: usize, shard: Dataset, seed: u64) -> Self {
        Self {
            id,
            shard,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Number of examples held.
    pub fn examples(&self) -> usize {
        self.shard.len()
    }

    /// This round's update, computed from the broadcast `global` model (on an autodiff device)
    /// and this party's shard, as a flat vector in [`to_flat`]'s layout.
    pub fn update(&mut self, global: &Classifier, opts: &FederatedOptions) -> Vec<f32> {
        let device = global
            .devices()
            .into_iter()
            .next()
            .expect("a classifier has parameters on a device");
        match opts.algorithm {
            Algorithm::FedSgd => {
                let batch = self.draw_batch(opts.batch_size);
                let (images, labels) = crate::train::batch_tensors(&self.shard, &batch, &device);
                let loss = cross_entropy(global.forward(images), labels);
                let grads = GradientsParams::from_grads(loss.backward(), global);
                ParamGrads::from_autodiff(global, &grads).to_flat()
            }
            Algorithm::FedAvg => {
                let start = to_flat(global);
                let mut local = global.clone();
                let mut optim = crate::train::optimizer(&TrainOptions {
                    epochs: 1,
                    batch_size: opts.batch_size,
                    optimizer: OptimizerKind::Sgd,
                    lr: opts.lr,
                    momentum: 0.0,
                    lr_schedule: LrSchedule::Constant,
                });
                for _ in 0..opts.local_steps {
                    let batch = self.draw_batch(opts.batch_size);
                    let (images, labels) =
                        crate::train::batch_tensors(&self.shard, &batch, &device);
                    local = crate::train::step(local, &mut optim, opts.lr, images, labels).0;
                }
                let end = to_flat(&local);
                end.iter().zip(&start).map(|(e, s)| e - s).collect()
            }
        }
    }

    fn draw_batch(&mut self, batch_size: usize) -> Vec<usize> {
        let all: Vec<usize> = (0..self.shard.len()).collect();
        all.sample(&mut self.rng, batch_size.min(self.shard.len()))
            .copied()
            .collect()
    }
}

/// What one round did.
#[derive(Debug, Clone, Serialize)]
pub struct RoundRecord {
    /// 1-based round number.
    pub round: u64,
    /// Parties whose update is in the sum.
    pub contributors: Vec<usize>,
    /// Mean bytes sent plus received per party in the aggregation.
    pub bytes_per_party: f64,
    /// Seconds spent in the aggregation protocol (all parties and the server, simulated).
    pub aggregation_seconds: f64,
    /// L2 norm of the mean update the server applied.
    pub mean_update_norm: f64,
}

/// One federated round: broadcast, local updates, secure sum, server step. Returns the new
/// global model, the round's record and the server's view of the aggregation (what an attacker
/// in the server's seat would have).
pub fn run_round(
    global: Classifier,
    parties: &mut [Party],
    opts: &FederatedOptions,
    session: Session,
    rng: &mut StdRng,
) -> Result<(Classifier, RoundRecord, ServerView<u32>), SecAggError> {
    let updates: Vec<Vec<f32>> = parties
        .iter_mut()
        .map(|p| p.update(&global, opts))
        .collect();
    let mut order: Vec<usize> = (0..parties.len()).collect();
    order.shuffle(rng);
    let dropouts = order
        .iter()
        .take(opts.dropouts_per_round)
        .fold(Dropouts::none(), |d, &p| {
            d.silent_from(p, Phase::MaskedInput)
        });
    // for_updates, not finest: a clip range whose step cannot carry an update is an error,
    // not a run that silently trains on zeros.
    let code = FixedPoint::for_updates::<u32>(opts.clip_range, parties.len())?;
    let started = Instant::now();
    let setup = SecureSum {
        aggregation: opts.aggregation,
        params: &opts.params,
        session,
        code: &code,
        noise: &SumNoise::None,
        dropouts: &dropouts,
        seed: rng.random(),
    };
    let (sum, outcome): (Vec<f32>, RoundOutcome<u32>) = secure_sum(&setup, &updates)?;
    let aggregation_seconds = started.elapsed().as_secs_f64();
    let contributors = outcome.contributors.len().max(1) as f32;
    let mean: Vec<f32> = sum.iter().map(|v| v / contributors).collect();
    let mean_update_norm = mean.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
    let current = to_flat(&global);
    let next: Vec<f32> = match opts.algorithm {
        Algorithm::FedSgd => current
            .iter()
            .zip(&mean)
            .map(|(w, g)| w - opts.lr as f32 * g)
            .collect(),
        Algorithm::FedAvg => current.iter().zip(&mean).map(|(w, d)| w + d).collect(),
    };
    let record = RoundRecord {
        round: session.round,
        contributors: outcome.contributors.clone(),
        bytes_per_party: outcome.traffic.mean_party_total(),
        aggregation_seconds,
        mean_update_norm,
    };
    Ok((from_flat(global, &next), record, outcome.view))
}
