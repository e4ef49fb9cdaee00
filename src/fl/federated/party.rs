//! A party of federated learning: its private shard, its own random stream, and the update it
//! computes from the broadcast model (McMahan et al. 2017: FedSGD sends the mean gradient of
//! one batch, FedAvg the model change after local SGD steps).
//!
//! Optionally the gradients are built from per-example gradients clipped to L2 norm C, as in
//! DP-SGD (Abadi et al. 2016) and DP-FedAvg (McMahan, Ramage, Talwar & Zhang 2018): the batch
//! gradient is `(1/B) Σ_b min(1, C/‖g_b‖) g_b` (`gradient.rs`). A FedSGD batch is either
//! `batch_size` examples drawn without replacement or, with [`BatchSampling::Poisson`], every
//! example independently with probability B / shard length, the sum then divided by the
//! expected B.
//!
//! What leaves a party is its [`PartyUpdate`]. The examples it used come out beside it, sealed
//! as [`BatchTruth`], for measurement code to score an attack against: the simulation knows
//! them, the server does not.

use burn::module::Module;
use burn::tensor::Device;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;

use super::gradient::{batch_gradient, clipped_step};
use super::{Algorithm, BatchSampling, FederatedOptions};
use crate::data::{Dataset, Truth};
use crate::fl::PartyId;
use crate::model::flat::to_flat;
use crate::model::{Classifier, ModelDelta, ParamLayout};
use crate::train::dp::PoissonSampler;
use crate::train::{LrSchedule, OptimizerKind, TrainOptions, batch_tensors};

/// What a party sends: its update, laid out as the model.
#[derive(Debug, Clone)]
pub struct PartyUpdate {
    /// The sender.
    pub party: PartyId,
    /// FedSGD: the mean batch gradient; FedAvg: local model minus broadcast model.
    pub delta: ModelDelta,
    /// Examples the update was computed from, counted once per use (FedAvg: Σ over local
    /// steps of the batch size, so an example drawn twice counts twice).
    pub examples: usize,
}

/// The examples a party used in one round, in the order it used them (FedSGD: its one batch;
/// FedAvg: every local batch, one after another), sealed: only measurement code reads them.
#[derive(Debug, Clone)]
pub struct BatchTruth {
    /// The party.
    pub party: PartyId,
    /// Examples per batch: `examples` holds consecutive batches of this many. Under Poisson
    /// sampling, the count this round drew (possibly 0), not the expected batch size.
    pub batch_len: usize,
    /// The images and labels, as a dataset of `Σ batches` examples.
    pub examples: Truth<Dataset>,
}

/// One party: its shard and its own random stream.
pub struct Party {
    id: PartyId,
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
    pub fn new(id: PartyId, shard: Dataset, seed: u64) -> Self {
        Self {
            id,
            shard,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// This party's id.
    pub fn id(&self) -> PartyId {
        self.id
    }

    /// Number of examples held.
    pub fn examples(&self) -> usize {
        self.shard.len()
    }

    /// This round's update, computed from the broadcast `global` model (on an autodiff device)
    /// and this party's shard, and the examples it used. `opts` are checked
    /// ([`FederatedOptions::check`]; [`run_round`](super::run_round) does it).
    ///
    /// With fixed batches the random stream is used exactly as by the pre-layout code: one
    /// batch draw per step, nothing else (clipping draws nothing), so seeded runs are
    /// unchanged. A Poisson batch takes one uniform draw per example of the shard.
    pub fn update(
        &mut self,
        global: &Classifier,
        opts: &FederatedOptions,
    ) -> (PartyUpdate, BatchTruth) {
        let device = global
            .devices()
            .into_iter()
            .next()
            .expect("a classifier has parameters on a device");
        let clip = opts.max_grad_norm;
        let (values, used) = match opts.algorithm {
            Algorithm::FedSgd => {
                let (batch, divisor) = match opts.sampling {
                    BatchSampling::Fixed => {
                        let batch = self.draw_batch(opts.batch_size);
                        let len = batch.len();
                        (batch, len)
                    }
                    // Divided by the expected B, not the count drawn (see `BatchSampling`).
                    BatchSampling::Poisson => (self.draw_poisson(opts.batch_size), opts.batch_size),
                };
                let gradient = batch_gradient(global, &self.shard, &batch, clip, divisor, &device);
                (gradient, batch)
            }
            Algorithm::FedAvg => self.local_steps(global, opts, &device),
        };
        let mut values = values;
        if let Some(std) = opts.local_noise {
            // Local DP: the noise is added before anything leaves the party.
            for v in &mut values {
                let z: f64 =
                    rand_distr::Distribution::sample(&rand_distr::StandardNormal, &mut self.rng);
                *v += (std * z) as f32;
            }
        }
        let batch_len = match opts.sampling {
            BatchSampling::Fixed => opts.batch_size.min(self.shard.len()),
            // FedSGD only (`FederatedOptions::check`): one batch, all of what was used.
            BatchSampling::Poisson => used.len(),
        };
        let update = PartyUpdate {
            party: self.id,
            delta: ModelDelta::new(ParamLayout::of(global), values),
            examples: used.len(),
        };
        let truth = BatchTruth {
            party: self.id,
            batch_len,
            examples: Truth::new(self.shard.subset(&used)),
        };
        (update, truth)
    }

    /// FedAvg: `local_steps` SGD steps from `global`; the model change and the examples used.
    fn local_steps(
        &mut self,
        global: &Classifier,
        opts: &FederatedOptions,
        device: &Device,
    ) -> (Vec<f32>, Vec<usize>) {
        let start = to_flat(global);
        let mut local = global.clone();
        let mut optim = crate::train::optimizer(&TrainOptions {
            epochs: 1,
            batch_size: opts.batch_size,
            optimizer: OptimizerKind::Sgd,
            lr: opts.lr,
            momentum: 0.0,
            lr_schedule: LrSchedule::Constant,
            init_from: None,
        });
        let mut used = Vec::with_capacity(opts.local_steps * opts.batch_size);
        for _ in 0..opts.local_steps {
            let batch = self.draw_batch(opts.batch_size);
            let (images, labels) = batch_tensors(&self.shard, &batch, device);
            local = match opts.max_grad_norm {
                None => crate::train::step(local, &mut optim, opts.lr, images, labels).0,
                Some(c) => clipped_step(local, &mut optim, opts.lr, images, labels, c),
            };
            used.extend(batch);
        }
        let end = to_flat(&local);
        let delta = end.iter().zip(&start).map(|(e, s)| e - s).collect();
        (delta, used)
    }

    /// Every example of the shard with probability q = `batch_size` / shard length, capped
    /// at 1, from this party's own stream.
    fn draw_poisson(&mut self, batch_size: usize) -> Vec<usize> {
        PoissonSampler::new(self.shard.len(), poisson_rate(batch_size, self.shard.len()))
            .sample(&mut self.rng)
    }

    fn draw_batch(&mut self, batch_size: usize) -> Vec<usize> {
        let all: Vec<usize> = (0..self.shard.len()).collect();
        all.sample(&mut self.rng, batch_size.min(self.shard.len()))
            .copied()
            .collect()
    }
}

/// q = B / N, capped at 1 (an expected batch larger than the shard takes all of it); 1 for
/// an empty shard, which draws nothing anyway.
fn poisson_rate(batch_size: usize, shard_len: usize) -> f64 {
    if shard_len == 0 {
        return 1.0;
    }
    (batch_size as f64 / shard_len as f64).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fl::federated::gradient::flat_in_layout;
    use crate::fl::federated::testing::{model, options, shard};
    use crate::model::ModelKind;
    use crate::train::dp::{ParamGrads, clipped_sum_per_example_loop};
    use crate::train::{cross_entropy, step};
    use burn::optim::GradientsParams;

    /// The update as the code before layouts and truth computed it (commit f01ff65), kept
    /// verbatim apart from names: the random draws must not move.
    fn pre_layout_update(
        shard: &Dataset,
        rng: &mut StdRng,
        global: &Classifier,
        opts: &FederatedOptions,
    ) -> Vec<f32> {
        let device = global.devices().into_iter().next().unwrap();
        let mut draw = |bs: usize| -> Vec<usize> {
            let all: Vec<usize> = (0..shard.len()).collect();
            all.sample(rng, bs.min(shard.len())).copied().collect()
        };
        match opts.algorithm {
            Algorithm::FedSgd => {
                let batch = draw(opts.batch_size);
                let (images, labels) = batch_tensors(shard, &batch, &device);
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
                    init_from: None,
                });
                for _ in 0..opts.local_steps {
                    let batch = draw(opts.batch_size);
                    let (images, labels) = batch_tensors(shard, &batch, &device);
                    local = step(local, &mut optim, opts.lr, images, labels).0;
                }
                let end = to_flat(&local);
                end.iter().zip(&start).map(|(e, s)| e - s).collect()
            }
        }
    }

    #[test]
    fn updates_draw_the_same_batches_as_before_and_report_them() {
        let global = model(ModelKind::Mlp, 1);
        for algorithm in [Algorithm::FedSgd, Algorithm::FedAvg] {
            let opts = options(algorithm, 1, 5, global.num_params());
            let data = shard(40, 2);
            let mut party = Party::new(3, data.clone(), 77);
            let mut rng = StdRng::seed_from_u64(77);
            // Two rounds: the stream must also be left where the old code left it.
            for _ in 0..2 {
                let (update, truth) = party.update(&global, &opts);
                let expected = pre_layout_update(&data, &mut rng, &global, &opts);
                assert_eq!(update.delta.values(), expected.as_slice(), "{algorithm:?}");
                assert_eq!(update.delta.layout().len(), global.num_params());
                let steps = if algorithm == Algorithm::FedSgd { 1 } else { 2 };
                assert_eq!((update.party, update.examples), (3, 5 * steps));
                assert_eq!((truth.party, truth.batch_len), (3, 5));
                assert_eq!(format!("{:?}", truth.examples), "Truth(<sealed>)");
            }
        }
    }

    /// The oracle's clipped mean over the whole of `data`, flat in `global`'s layout.
    fn oracle_mean(global: &Classifier, data: &Dataset, c: f64) -> Vec<f32> {
        let device = global.devices().into_iter().next().unwrap();
        let all: Vec<usize> = (0..data.len()).collect();
        let (images, labels) = batch_tensors(data, &all, &device);
        let sum = clipped_sum_per_example_loop(global, images, labels, c);
        let mean = sum.map(|g| g / data.len() as f64);
        flat_in_layout(&mean, global)
    }

    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn clipped_fedsgd_is_the_mean_of_per_example_clipped_gradients() {
        for kind in [ModelKind::Mlp, ModelKind::Cnn, ModelKind::Lenet] {
            let global = model(kind, 4);
            // The batch is the whole shard (in a drawn order), so the oracle sees the same
            // examples. C = 0.05 binds: the unclipped mean is longer than 0.1 (checked below).
            let data = shard(6, 5);
            let opts = FederatedOptions {
                max_grad_norm: Some(0.05),
                ..options(Algorithm::FedSgd, 1, 6, global.num_params())
            };
            let (update, _) = Party::new(0, data.clone(), 9).update(&global, &opts);
            let expected = oracle_mean(&global, &data, 0.05);
            let diff = max_abs_diff(update.delta.values(), &expected);
            assert!(diff < 1e-6, "{kind:?}: {diff}");
            // Each clipped example has norm ≤ C, so their mean does too; unclipped it is larger.
            assert!(update.delta.l2_norm() <= 0.05 + 1e-6, "{kind:?}");
            let (plain, _) =
                Party::new(0, data, 9).update(&global, &options(Algorithm::FedSgd, 1, 6, 1));
            assert!(
                plain.delta.l2_norm() > 0.1,
                "{kind:?}: {}",
                plain.delta.l2_norm()
            );
        }
    }

    #[test]
    fn clipped_fedavg_steps_along_the_clipped_mean_gradient() {
        let global = model(ModelKind::Cnn, 6);
        let data = shard(4, 7);
        let opts = FederatedOptions {
            local_steps: 1,
            max_grad_norm: Some(0.05),
            ..options(Algorithm::FedAvg, 1, 4, global.num_params())
        };
        let (update, truth) = Party::new(0, data.clone(), 3).update(&global, &opts);
        let expected: Vec<f32> = oracle_mean(&global, &data, 0.05)
            .iter()
            .map(|g| -0.1 * g)
            .collect();
        let diff = max_abs_diff(update.delta.values(), &expected);
        assert!(diff < 1e-7, "{diff}");
        assert_eq!((update.examples, truth.batch_len), (4, 4));
    }

    #[test]
    fn a_clipping_bound_no_gradient_reaches_changes_nothing_but_rounding() {
        let global = model(ModelKind::Mlp, 8);
        let data = shard(20, 9);
        for algorithm in [Algorithm::FedSgd, Algorithm::FedAvg] {
            let opts = options(algorithm, 1, 5, global.num_params());
            let (plain, _) = Party::new(0, data.clone(), 1).update(&global, &opts);
            let loose = FederatedOptions {
                max_grad_norm: Some(1e6),
                ..opts
            };
            let (clipped, _) = Party::new(0, data.clone(), 1).update(&global, &loose);
            let diff = max_abs_diff(plain.delta.values(), clipped.delta.values());
            assert!(diff < 1e-6, "{algorithm:?}: {diff}");
        }
    }

    #[test]
    fn local_noise_has_the_requested_spread_and_leaves_the_batch_as_it_was() {
        let global = model(ModelKind::Mlp, 8);
        let data = shard(20, 9);
        let opts = options(Algorithm::FedSgd, 1, 5, global.num_params());
        let (clean, _) = Party::new(0, data.clone(), 1).update(&global, &opts);
        let noisy_opts = FederatedOptions {
            local_noise: Some(0.01),
            ..opts
        };
        // The batch is drawn before the noise, from the same stream, so the two updates differ
        // by the noise alone (a different batch would add the gradients' own spread).
        let (noisy, _) = Party::new(0, data.clone(), 1).update(&global, &noisy_opts);
        let diffs: Vec<f64> = noisy
            .delta
            .values()
            .iter()
            .zip(clean.delta.values())
            .map(|(a, b)| f64::from(a - b))
            .collect();
        let n = diffs.len() as f64;
        let mean = diffs.iter().sum::<f64>() / n;
        let std = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n).sqrt();
        // Thousands of coordinates: the spread is known to about 1%.
        assert!((std - 0.01).abs() < 5e-4, "std {std} over {n} coordinates");
        assert!(mean.abs() < 5e-4, "mean {mean}");
        let bad = FederatedOptions {
            local_noise: Some(-1.0),
            ..noisy_opts
        };
        assert!(matches!(
            bad.check(),
            Err(crate::fl::SecAggError::BadLocalNoise { .. })
        ));
    }

    fn poisson(batch_size: usize, global: &Classifier) -> FederatedOptions {
        FederatedOptions {
            sampling: BatchSampling::Poisson,
            ..options(Algorithm::FedSgd, 1, batch_size, global.num_params())
        }
    }

    #[test]
    fn poisson_batches_hold_q_times_the_shard_on_average_and_vary() {
        let global = model(ModelKind::Mlp, 3);
        // q = 5 / 40: Binomial(40, 0.125) examples a round, mean 5, variance 4.375.
        let opts = poisson(5, &global);
        let mut party = Party::new(0, shard(40, 4), 21);
        let rounds = 1000;
        let mut sizes = Vec::with_capacity(rounds);
        let mut empty = 0;
        for _ in 0..rounds {
            let (update, truth) = party.update(&global, &opts);
            assert_eq!(truth.batch_len, update.examples);
            if update.examples == 0 {
                // P(empty) = 0.875⁴⁰ ≈ 0.5%: a few rounds of this seed draw nothing.
                assert!(update.delta.values().iter().all(|v| *v == 0.0));
                empty += 1;
            }
            sizes.push(update.examples as f64);
        }
        let mean = sizes.iter().sum::<f64>() / rounds as f64;
        let var = sizes.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / rounds as f64;
        // Standard errors: 0.066 for the mean, about 0.2 for the variance; bounds of 4.5 and
        // 4 of them. A fixed batch would have variance 0.
        assert!((mean - 5.0).abs() < 0.3, "mean {mean}");
        assert!((var - 4.375).abs() < 0.8, "variance {var}");
        assert!(empty > 0, "no empty draw in {rounds} rounds");
    }

    #[test]
    fn a_poisson_update_is_the_clipped_sum_of_its_draw_over_the_expected_batch() {
        let global = model(ModelKind::Mlp, 4);
        let data = shard(20, 5);
        let (b, c) = (5, 0.05);
        let device = global.devices().into_iter().next().unwrap();
        // The first seed whose first draw is neither empty nor of the expected size, so that
        // dividing by the count drawn would give a different update.
        let sampler = PoissonSampler::new(20, 0.25);
        let seed = (0..)
            .find(|&s| {
                let n = sampler.sample(&mut StdRng::seed_from_u64(s)).len();
                n != 0 && n != b
            })
            .unwrap();
        let opts = FederatedOptions {
            max_grad_norm: Some(c),
            ..poisson(b, &global)
        };
        let mut party = Party::new(0, data.clone(), seed);
        let mut rng = StdRng::seed_from_u64(seed);
        // Two rounds: the party's own stream carries on from where the first draw left it.
        for _ in 0..2 {
            let batch = sampler.sample(&mut rng);
            let (update, truth) = party.update(&global, &opts);
            assert_eq!(
                (update.examples, truth.batch_len),
                (batch.len(), batch.len())
            );
            let expected: Vec<f32> = if batch.is_empty() {
                vec![0.0; global.num_params()]
            } else {
                let (images, labels) = batch_tensors(&data, &batch, &device);
                let sum = clipped_sum_per_example_loop(&global, images, labels, c);
                flat_in_layout(&sum.map(|g| g / b as f64), &global)
            };
            let diff = max_abs_diff(update.delta.values(), &expected);
            assert!(diff < 1e-6, "{diff}");
        }
    }

    #[test]
    fn an_expected_batch_beyond_the_shard_takes_every_example() {
        let global = model(ModelKind::Mlp, 6);
        let data = shard(6, 7);
        // q = min(1, 10/6) = 1: all 6 examples, their sum divided by 10.
        let (update, truth) = Party::new(0, data.clone(), 1).update(&global, &poisson(10, &global));
        assert_eq!((update.examples, truth.batch_len), (6, 6));
        let mean = oracle_mean(&global, &data, 1e6);
        let expected: Vec<f32> = mean.iter().map(|g| g * 0.6).collect();
        assert!(max_abs_diff(update.delta.values(), &expected) < 1e-6);
    }
}
