//! One federated round, in the protocol's order: the server vets the model, every party
//! computes its update, the updates are summed by the chosen protocol, and the server moves
//! the global model by their mean (McMahan et al. 2017, Algorithm 1 for FedAvg; FedSGD is the
//! server taking one SGD step with the mean gradient).

use std::time::Instant;

use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use super::party::{BatchTruth, Party, PartyUpdate};
use super::server::{ObservedRound, Revealed, Server};
use super::{Algorithm, FederatedOptions};
use crate::fl::aggregation::{Aggregation, Dropouts, Phase, RoundOutcome};
use crate::fl::secagg::Session;
use crate::fl::sum::{SecureSum, secure_sum};
use crate::fl::{PartyId, SecAggError};
use crate::model::flat::{from_flat, to_flat};
use crate::model::{Classifier, ModelDelta, ModelSnapshot, ParamLayout};

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

/// A finished round.
#[derive(Debug)]
pub struct Round<Secrets = ()> {
    /// The global model after the round: the broadcast model moved by the mean update.
    pub next: Classifier,
    /// What goes into `metrics.json`.
    pub record: RoundRecord,
    /// What the server observed: the value an attack in the server's seat is handed.
    pub observed: ObservedRound,
    /// The secrets the server kept when it vetted the model (`()` for an honest server).
    pub secrets: Secrets,
    /// The examples each party used, sorted by party, sealed for measurement code.
    pub truth: Vec<BatchTruth>,
}

/// One federated round: the server vets `global`, every party computes its update from the
/// broadcast model, parties drop out as `opts` says, the protocol sums the updates, and the
/// server steps. `rng` is the run's stream: it picks who drops out and seeds the protocol.
pub fn run_round<S: Server>(
    global: Classifier,
    server: &mut S,
    parties: &mut [Party],
    opts: &FederatedOptions,
    session: Session,
    rng: &mut StdRng,
) -> Result<Round<S::Secrets>, SecAggError> {
    opts.check()?;
    let (broadcast, secrets) = server.vet_model(global);
    let (updates, truth): (Vec<PartyUpdate>, Vec<BatchTruth>) = parties
        .iter_mut()
        .map(|p| p.update(&broadcast, opts))
        .unzip();
    let layout = ParamLayout::of(&broadcast);
    let mut order: Vec<PartyId> = (0..parties.len()).collect();
    order.shuffle(rng);
    let dropouts = order
        .iter()
        .take(opts.dropouts_per_round)
        .fold(Dropouts::none(), |d, &p| {
            d.silent_from(p, Phase::MaskedInput)
        });
    // Checked for updates, not merely the finest code: a clip range whose step cannot carry
    // an update is an error, not a run that silently trains on zeros.
    let code = opts.code()?;
    let setup = SecureSum {
        aggregation: opts.aggregation,
        params: &opts.params,
        session,
        code: &code,
        noise: &opts.noise,
        dropouts: &dropouts,
        seed: rng.random(),
    };
    let vectors: Vec<Vec<f32>> = updates.into_iter().map(|u| u.delta.into_values()).collect();
    let started = Instant::now();
    let (sum, outcome): (Vec<f32>, RoundOutcome<u32>) = secure_sum(&setup, &vectors)?;
    let aggregation_seconds = started.elapsed().as_secs_f64();
    // The parties' own updates end here: from now on only what the server received is kept.
    drop(vectors);

    let contributors = outcome.contributors.len().max(1) as f32;
    let mean: Vec<f32> = sum.iter().map(|v| v / contributors).collect();
    let mean_update_norm = mean.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
    let broadcast_snapshot = ModelSnapshot::new(layout.clone(), to_flat(&broadcast));
    let current = broadcast_snapshot.values();
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
    let revealed = match opts.aggregation {
        Aggregation::Plain => Revealed::Updates(
            outcome
                .contributors
                .iter()
                .map(|&p| {
                    let words = outcome.view.upload(p).expect("a contributor uploaded");
                    (p, ModelDelta::new(layout.clone(), code.decode(words)))
                })
                .collect(),
        ),
        Aggregation::Additive | Aggregation::SecAgg => Revealed::Sum {
            sum: ModelDelta::new(layout.clone(), code.decode(&outcome.sum)),
            contributors: outcome.contributors,
        },
    };
    // What the model moved by: with central noise, not the sum `revealed` holds.
    let released = ModelDelta::new(layout, sum);
    Ok(Round {
        next: from_flat(broadcast, &next),
        record,
        observed: ObservedRound {
            broadcast: broadcast_snapshot,
            batch_size: opts.batch_size,
            revealed,
            released,
            code,
            transcript: outcome.view,
        },
        secrets,
        truth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fl::ProtocolAbort;
    use crate::fl::federated::HonestServer;
    use crate::fl::federated::testing::{model, options, shard};
    use crate::fl::{SecAggParams, SumNoise};
    use crate::model::ModelKind;
    use burn::module::Module;
    use rand::SeedableRng;

    fn parties(n: usize) -> Vec<Party> {
        (0..n)
            .map(|id| Party::new(id, shard(12, 100 + id as u64), 10 + id as u64))
            .collect()
    }

    /// One seeded FedSGD round of 3 parties (one dropping out) under `aggregation`.
    fn round<S: Server>(aggregation: Aggregation, server: &mut S) -> Round<S::Secrets> {
        noisy_round(aggregation, SumNoise::None, server)
    }

    /// [`round`] with `noise` in the sum.
    fn noisy_round<S: Server>(
        aggregation: Aggregation,
        noise: SumNoise,
        server: &mut S,
    ) -> Round<S::Secrets> {
        let global = model(ModelKind::Mlp, 1);
        let len = global.num_params();
        let params = match aggregation {
            Aggregation::SecAgg => SecAggParams::new(3, 2, len).unwrap(),
            _ => SecAggParams::every_party(3, len).unwrap(),
        };
        let opts = FederatedOptions {
            aggregation,
            params,
            dropouts_per_round: usize::from(aggregation != Aggregation::Additive),
            noise,
            ..options(Algorithm::FedSgd, 3, 4, len)
        };
        let mut rng = StdRng::seed_from_u64(5);
        let session = Session::new([1; 16], 1);
        run_round(global, server, &mut parties(3), &opts, session, &mut rng).unwrap()
    }

    fn sum_of(updates: &[&ModelDelta]) -> Vec<f32> {
        let mut sum = vec![0.0f32; updates[0].values().len()];
        for u in updates {
            for (s, v) in sum.iter_mut().zip(u.values()) {
                *s += v;
            }
        }
        sum
    }

    #[test]
    fn the_server_observes_every_update_in_plain_and_only_their_sum_under_secagg() {
        let plain = round(Aggregation::Plain, &mut HonestServer);
        let secagg = round(Aggregation::SecAgg, &mut HonestServer);
        // Same seeds: the same party drops out and the same encodings go in.
        let contributors = plain.observed.contributors();
        assert_eq!(contributors.len(), 2);
        assert_eq!(secagg.observed.contributors(), contributors);
        assert_eq!(plain.record.contributors, contributors);
        let updates: Vec<&ModelDelta> = contributors
            .iter()
            .map(|&p| plain.observed.update_of(p).expect("plain reveals it"))
            .collect();
        for (&p, u) in contributors.iter().zip(&updates) {
            assert_eq!(plain.observed.decode_upload(p).as_ref(), Some(*u));
        }
        let Revealed::Sum { sum, .. } = &secagg.observed.revealed else {
            panic!("SecAgg reveals only a sum")
        };
        let step = secagg.observed.code.step() as f32;
        let exact = sum_of(&updates);
        for (s, e) in sum.values().iter().zip(&exact) {
            assert!((s - e).abs() <= 2.0 * step + 1e-7, "{s} vs {e}");
        }
        assert!(secagg.observed.update_of(contributors[0]).is_none());
        // A masked upload decodes to uniform noise over the whole ring, ±n·clip_range = ±3
        // here (RMS √3 per coordinate), not to the update.
        let masked = secagg.observed.decode_upload(contributors[0]).unwrap();
        let rms = masked.l2_norm() / (masked.values().len() as f64).sqrt();
        assert!((rms / 3f64.sqrt() - 1.0).abs() < 0.1, "RMS {rms}");
        assert!(masked.l2_norm() > 10.0 * updates[0].l2_norm());
        // Both saw the same broadcast model, and the parties' batch size.
        assert_eq!(plain.observed.broadcast, secagg.observed.broadcast);
        assert_eq!(
            plain.observed.broadcast,
            ModelSnapshot::of(&model(ModelKind::Mlp, 1))
        );
        assert_eq!(plain.observed.batch_size, 4);
        // Every party computed an update, the dropped one too: three sealed batches.
        let who: Vec<PartyId> = plain.truth.iter().map(|t| t.party).collect();
        assert_eq!(who, vec![0, 1, 2]);
    }

    #[test]
    fn the_next_model_is_the_broadcast_one_moved_by_the_mean_update() {
        let r = round(Aggregation::Additive, &mut HonestServer);
        let Revealed::Sum { sum, contributors } = &r.observed.revealed else {
            panic!("additive sharing reveals only a sum")
        };
        assert_eq!(contributors, &vec![0, 1, 2]);
        let next = ModelSnapshot::of(&r.next);
        for ((n, w), g) in next
            .values()
            .iter()
            .zip(r.observed.broadcast.values())
            .zip(sum.values())
        {
            assert!((n - (w - 0.1 * g / 3.0)).abs() < 1e-6);
        }
        // The partial sums the server holds are uploads too; none is an update.
        assert!(r.observed.upload(1).is_some());
    }

    /// A server that halves the model and remembers that it did.
    struct Halving;

    impl Server for Halving {
        type Secrets = &'static str;

        fn vet_model(&mut self, global: Classifier) -> (Classifier, &'static str) {
            let halved: Vec<f32> = to_flat(&global).iter().map(|w| w / 2.0).collect();
            (from_flat(global, &halved), "halved")
        }
    }

    #[test]
    fn the_parties_train_the_model_the_server_vetted_and_its_secrets_come_back() {
        let r = round(Aggregation::Plain, &mut Halving);
        assert_eq!(r.secrets, "halved");
        let original = ModelSnapshot::of(&model(ModelKind::Mlp, 1));
        for (b, o) in r.observed.broadcast.values().iter().zip(original.values()) {
            assert_eq!(*b, o / 2.0);
        }
    }

    #[test]
    fn an_additive_round_with_a_dropout_aborts_and_a_bad_clip_norm_is_a_setting() {
        let global = model(ModelKind::Mlp, 2);
        let len = global.num_params();
        let opts = FederatedOptions {
            aggregation: Aggregation::Additive,
            dropouts_per_round: 1,
            ..options(Algorithm::FedSgd, 3, 4, len)
        };
        let mut rng = StdRng::seed_from_u64(1);
        let session = Session::new([0; 16], 1);
        let err = run_round(
            global.clone(),
            &mut HonestServer,
            &mut parties(3),
            &opts,
            session,
            &mut rng,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                SecAggError::Aborted(ProtocolAbort::PartyMissing { .. })
            ),
            "{err}"
        );
        let bad = FederatedOptions {
            max_grad_norm: Some(-1.0),
            ..opts
        };
        let err = run_round(
            global,
            &mut HonestServer,
            &mut parties(3),
            &bad,
            session,
            &mut rng,
        )
        .unwrap_err();
        assert_eq!(err, SecAggError::BadMaxGradNorm { value: -1.0 });
    }

    fn moments(x: &[f64]) -> (f64, f64) {
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        let var = x.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / x.len() as f64;
        (mean, var)
    }

    #[test]
    fn the_released_sum_carries_the_central_noise_and_the_revealed_one_does_not() {
        let plain = round(Aggregation::Plain, &mut HonestServer);
        let noisy = noisy_round(
            Aggregation::SecAgg,
            SumNoise::Central { std: 0.05 },
            &mut HonestServer,
        );
        // Same seeds: the same contributors and updates as the plain round, which shows them.
        let contributors = plain.observed.contributors();
        assert_eq!(noisy.observed.contributors(), contributors);
        let updates: Vec<&ModelDelta> = contributors
            .iter()
            .map(|&p| plain.observed.update_of(p).unwrap())
            .collect();
        let exact = sum_of(&updates);
        let Revealed::Sum { sum, .. } = &noisy.observed.revealed else {
            panic!("SecAgg reveals only a sum")
        };
        let errors = |d: &ModelDelta| -> Vec<f64> {
            d.values()
                .iter()
                .zip(&exact)
                .map(|(v, e)| f64::from(v - e))
                .collect()
        };
        // 2,083 coordinates: the variance is known to about ±3%; 15% is a wide margin.
        let (mean, var) = moments(&errors(&noisy.observed.released));
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!((var / 0.0025 - 1.0).abs() < 0.15, "variance {var}");
        // The decoded sum before the noise is exact up to the fixed-point rounding.
        let (_, var) = moments(&errors(sum));
        assert!(var < 1e-12, "variance {var}");
        // The model moved by the released sum, noise and all.
        let next = ModelSnapshot::of(&noisy.next);
        for ((n, w), g) in next
            .values()
            .iter()
            .zip(noisy.observed.broadcast.values())
            .zip(noisy.observed.released.values())
        {
            assert!((n - (w - 0.1 * g / 2.0)).abs() < 1e-6);
        }
    }

    #[test]
    fn without_central_noise_the_released_sum_is_the_revealed_one() {
        let secagg = round(Aggregation::SecAgg, &mut HonestServer);
        let Revealed::Sum { sum, .. } = &secagg.observed.revealed else {
            panic!("SecAgg reveals only a sum")
        };
        assert_eq!(&secagg.observed.released, sum);
        // Plain: the sum of the updates it revealed, as the protocol added them.
        let plain = round(Aggregation::Plain, &mut HonestServer);
        let updates: Vec<&ModelDelta> = plain
            .observed
            .contributors()
            .iter()
            .map(|&p| plain.observed.update_of(p).unwrap())
            .collect();
        let exact = sum_of(&updates);
        for (r, e) in plain.observed.released.values().iter().zip(&exact) {
            assert!((r - e).abs() < 1e-6, "{r} vs {e}");
        }
    }
}
