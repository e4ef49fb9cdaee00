//! Federated learning with the aggregation protocols of this module: parties (think: three
//! hospitals) each hold a private shard and train one model without pooling their data
//! (McMahan, Moore, Ramage, Hampson & Agüera y Arcas 2017, "Communication-Efficient Learning of
//! Deep Networks from Decentralized Data").
//!
//! A round reads as the protocol, one role per file:
//! 1. the server vets the model it broadcasts ([`Server::vet_model`], `server.rs`): an
//!    [`HonestServer`] sends the global model unchanged;
//! 2. every [`Party`] computes its update on its own shard (`party.rs`, the gradients in
//!    `gradient.rs`) — FedSGD: the mean gradient of one local batch, fixed-size or Poisson
//!    sampled ([`BatchSampling`]); FedAvg: the change of the model after `local_steps` local
//!    SGD steps — optionally from per-example gradients clipped to L2 norm C (Abadi et al.
//!    2016; McMahan et al. 2018, DP-FedAvg);
//! 3. the updates are summed by the chosen protocol (plain, additive sharing or SecAgg, with
//!    the [`SumNoise`] asked for), and the server moves the global model by the mean update of
//!    the parties whose input made it into the sum (`round.rs`).
//!
//! [`run_round`] returns a [`Round`]: the next model, the record that goes into `metrics.json`,
//! what the server observed ([`ObservedRound`], the value an attack in the server's seat is
//! handed) and the parties' batches sealed as ground truth ([`BatchTruth`], read only by
//! measurement code).

mod gradient;
mod party;
mod round;
mod server;
#[cfg(test)]
mod testing;

use serde::{Deserialize, Serialize};

pub use party::{BatchTruth, Party, PartyUpdate};
pub use round::{Round, RoundRecord, run_round};
pub use server::{HonestServer, ObservedRound, Revealed, Server};

use super::{FixedPoint, SecAggError, SecAggParams, SumNoise};
use crate::fl::aggregation::Aggregation;

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

/// How a party draws its FedSGD batch from its shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BatchSampling {
    /// `batch_size` distinct examples drawn uniformly; the update is their mean gradient.
    #[default]
    Fixed,
    /// Every example of the shard independently with probability q = batch_size / shard
    /// length (capped at 1), so the batch size varies and may be 0 (Abadi et al. 2016, the
    /// sampling that the subsampled Gaussian's accounting assumes). The update is the sum of
    /// the drawn examples' gradients divided by `batch_size`, the *expected* batch B, not by
    /// the count drawn: then one example moves the update by at most C/B whatever else was
    /// drawn, and that is the sensitivity the noise σ·C/B is sized for. FedSGD only
    /// ([`SecAggError::PoissonFedAvg`]).
    Poisson,
}

/// How rounds run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FederatedOptions {
    /// FedSGD or FedAvg.
    pub algorithm: Algorithm,
    /// Local SGD steps per round (FedAvg).
    pub local_steps: usize,
    /// Local batch size; with [`BatchSampling::Poisson`] the expected one.
    pub batch_size: usize,
    /// Fixed-size or Poisson-sampled FedSGD batches.
    pub sampling: BatchSampling,
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
    /// DP noise in the revealed sum; [`SumNoise::None`] by default.
    pub noise: SumNoise,
    /// Per-example clipping at the parties: each example's gradient is scaled to L2 norm at
    /// most C before the batch mean (FedSGD) or each local step (FedAvg). `None`: no clipping.
    /// Without noise this bounds each example's influence but is not private by itself.
    pub max_grad_norm: Option<f64>,
    /// Local DP: each party adds Gaussian noise of this standard deviation to every coordinate
    /// of its update before sending it (after clipping), drawn from its own random stream.
    /// With `max_grad_norm` = C and FedSGD batches of B, σ·C/B is DP-SGD's noise on the mean
    /// gradient. `None`: no local noise.
    pub local_noise: Option<f64>,
}

impl FederatedOptions {
    /// Errors unless the options can run: a positive finite `max_grad_norm` and `local_noise`
    /// when given, and Poisson sampling only under FedSGD with an expected batch of at least 1.
    pub fn check(&self) -> Result<(), SecAggError> {
        if self.sampling == BatchSampling::Poisson {
            if self.algorithm == Algorithm::FedAvg {
                return Err(SecAggError::PoissonFedAvg);
            }
            if self.batch_size == 0 {
                return Err(SecAggError::PoissonZeroBatch);
            }
        }
        if let Some(c) = self.max_grad_norm
            && !(c.is_finite() && c > 0.0)
        {
            return Err(SecAggError::BadMaxGradNorm { value: c });
        }
        if let Some(std) = self.local_noise
            && !(std.is_finite() && std > 0.0)
        {
            return Err(SecAggError::BadLocalNoise { value: std });
        }
        Ok(())
    }

    /// The fixed-point code every party encodes with: the finest for `clip_range` and n
    /// parties in Z_2^32 that leaves room for the distributed noise, if any. Without
    /// distributed noise it is [`FixedPoint::for_updates`].
    pub fn code(&self) -> Result<FixedPoint, SecAggError> {
        let parties = self.params.parties();
        FixedPoint::for_noisy_updates::<u32>(self.clip_range, parties, self.noise.margin(parties))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fl::DistributedGaussian;

    fn options() -> FederatedOptions {
        FederatedOptions {
            algorithm: Algorithm::FedSgd,
            local_steps: 1,
            batch_size: 4,
            sampling: BatchSampling::Fixed,
            lr: 0.1,
            aggregation: Aggregation::Plain,
            params: SecAggParams::every_party(3, 10).unwrap(),
            clip_range: 1.0,
            dropouts_per_round: 0,
            noise: SumNoise::None,
            max_grad_norm: None,
            local_noise: None,
        }
    }

    #[test]
    fn a_clipping_bound_must_be_positive_and_finite() {
        options().check().unwrap();
        for c in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let opts = FederatedOptions {
                max_grad_norm: Some(c),
                ..options()
            };
            assert!(
                matches!(opts.check(), Err(SecAggError::BadMaxGradNorm { .. })),
                "{c}"
            );
        }
    }

    #[test]
    fn poisson_sampling_is_refused_under_fedavg_and_for_an_empty_expected_batch() {
        let poisson = FederatedOptions {
            sampling: BatchSampling::Poisson,
            ..options()
        };
        poisson.check().unwrap();
        let fedavg = FederatedOptions {
            algorithm: Algorithm::FedAvg,
            ..poisson.clone()
        };
        assert_eq!(fedavg.check(), Err(SecAggError::PoissonFedAvg));
        let empty = FederatedOptions {
            batch_size: 0,
            ..poisson
        };
        assert_eq!(empty.check(), Err(SecAggError::PoissonZeroBatch));
        // Fixed batches under FedAvg are today's default and stay allowed.
        FederatedOptions {
            algorithm: Algorithm::FedAvg,
            ..options()
        }
        .check()
        .unwrap();
    }

    #[test]
    fn sampling_reads_and_writes_as_kebab_case_and_defaults_to_fixed() {
        assert_eq!(BatchSampling::default(), BatchSampling::Fixed);
        assert_eq!(
            serde_json::to_string(&BatchSampling::Poisson).unwrap(),
            "\"poisson\""
        );
        let fixed: BatchSampling = serde_json::from_str("\"fixed\"").unwrap();
        assert_eq!(fixed, BatchSampling::Fixed);
    }

    #[test]
    fn the_code_leaves_room_for_distributed_noise_only() {
        let plain = options().code().unwrap();
        assert_eq!(plain, FixedPoint::for_updates::<u32>(1.0, 3).unwrap());
        let central = FederatedOptions {
            noise: SumNoise::Central { std: 0.1 },
            ..options()
        };
        assert_eq!(central.code().unwrap(), plain);
        let g = DistributedGaussian::new(1e6, 2).unwrap();
        let noisy = FederatedOptions {
            noise: SumNoise::Distributed(g),
            ..options()
        };
        let code = noisy.code().unwrap();
        assert!(code.scale() < plain.scale());
        code.check_headroom::<u32>(3, g.margin(3)).unwrap();
    }
}
