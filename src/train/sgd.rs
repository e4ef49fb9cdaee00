//! The training loop: each epoch shuffles the training set with the run's RNG, takes one
//! optimizer step per mini-batch, then evaluates on the test set.

use std::time::Instant;

use burn::module::Module;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Int, Tensor};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use super::dp::{
    Audit, DpSgd, ParamGrads, PoissonSampler, add_noise, clipped_batch_gradient, weighted_sum,
};
use super::evaluate::{batch_tensors, count_correct};
use super::{Evaluation, OptimizerKind, TrainOptions, cross_entropy, evaluate};
use crate::data::Dataset;
use crate::model::Classifier;
use crate::runtime::Runtime;

/// What one epoch achieved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches, measured while training.
    pub train_loss: f64,
    /// Training accuracy over the epoch's batches, measured while training.
    pub train_accuracy: f64,
    /// Test loss after the epoch.
    pub test_loss: f64,
    /// Test accuracy after the epoch.
    pub test_accuracy: f64,
}

/// Training stopped at a loss that is not a finite number: the run diverged (a learning rate
/// too large, or a checkpoint with non-finite weights). Nothing after it would mean anything.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "training diverged: the loss was {loss} at step {step} of epoch {epoch}; \
     lower the learning rate (or check the weights the run started from)"
)]
pub struct Diverged {
    /// 1-based epoch of the step.
    pub epoch: usize,
    /// 1-based step within the run.
    pub step: usize,
    /// The loss (NaN or infinite).
    pub loss: f64,
}

/// A trained model and how it got there.
#[derive(Debug)]
pub struct Trained {
    /// The final weights (on the autodiff device).
    pub model: Classifier,
    /// One record per epoch.
    pub history: Vec<EpochRecord>,
    /// Optimizer steps taken.
    pub steps: usize,
    /// Wall-clock seconds spent in optimizer steps (evaluation excluded).
    pub train_seconds: f64,
    /// Training examples processed per second of `train_seconds`.
    pub samples_per_second: f64,
}

/// One optimizer step on one batch. Returns the updated model, the batch's mean loss and its
/// logits (detached).
pub(crate) fn step(
    model: Classifier,
    optim: &mut ModuleOptimizer,
    lr: f64,
    images: Tensor<4>,
    labels: Tensor<1, Int>,
) -> (Classifier, f64, Tensor<2>) {
    if let Some((layers, logits)) = model.backprop(images.clone(), labels.clone()) {
        // An explicit backward pass (the CNN on a CPU): the mean loss's gradient is
        // Σ_b ∇θ ℓ_b / B, every example weighted 1/B.
        let batch = labels.dims()[0];
        let weights = Tensor::full([batch], 1.0 / batch as f64, &logits.device());
        let grads = weighted_sum(&layers, weights).into_gradients_params(&model);
        let loss = cross_entropy(logits.clone(), labels.inner()).into_scalar::<f32>() as f64;
        return (optim.step(lr, model, grads), loss, logits);
    }
    let logits = model.forward(images);
    let loss = cross_entropy(logits.clone(), labels);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let loss = loss.into_scalar::<f32>() as f64;
    (optim.step(lr, model, grads), loss, logits.detach())
}

/// The optimizer `opts` asks for.
pub(crate) fn optimizer(opts: &TrainOptions) -> ModuleOptimizer {
    match opts.optimizer {
        OptimizerKind::Sgd => {
            let momentum = (opts.momentum > 0.0).then(|| {
                // PyTorch semantics: no dampening.
                MomentumConfig::new()
                    .with_momentum(opts.momentum)
                    .with_dampening(0.0)
            });
            SgdConfig::new().with_momentum(momentum).init()
        }
        OptimizerKind::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
    }
}

/// Trains `model` (whose parameters live on the autodiff version of `device`) on `train`,
/// evaluating on `test` after every epoch.
///
/// Without `dp`, each epoch takes the shuffled training set in batches of `opts.batch_size`.
/// With `dp`, each epoch is `N / batch_size` DP-SGD steps on Poisson batches of expected size
/// `q·N` (see [`super::dp`]); the model's parameters stop requiring gradients for the run,
/// since only the layer taps' gradients are used.
pub fn train(
    model: Classifier,
    train: &Dataset,
    test: &Dataset,
    opts: &TrainOptions,
    dp: Option<&DpSgd>,
    rt: &mut Runtime<'_>,
) -> Result<Trained, Diverged> {
    let mut run = dp.map(|dp| DpRun::new(dp, Audit::NONE));
    train_loop(model, train, test, opts, run.as_mut(), rt)
}

/// [`train`] with DP-SGD and an auditor's additions: `audit.dirac`'s gradient canaries join
/// the training data (Poisson-sampled and clipped like every example), and the released noisy
/// gradient at `audit.watch`'s coordinates is summed over all steps and returned beside the
/// model, in `watch`'s order.
pub fn train_audited(
    model: Classifier,
    train: &Dataset,
    test: &Dataset,
    opts: &TrainOptions,
    dp: &DpSgd,
    audit: Audit<'_>,
    rt: &mut Runtime<'_>,
) -> Result<(Trained, Vec<f64>), Diverged> {
    let mut run = DpRun::new(dp, audit);
    let trained = train_loop(model, train, test, opts, Some(&mut run), rt)?;
    Ok((trained, run.watched))
}

/// A DP-SGD run's state across steps: its parameters, the auditor's additions, and the
/// watched coordinates' sums so far.
pub(crate) struct DpRun<'a> {
    dp: &'a DpSgd,
    audit: Audit<'a>,
    watched: Vec<f64>,
}

impl<'a> DpRun<'a> {
    pub(crate) fn new(dp: &'a DpSgd, audit: Audit<'a>) -> Self {
        let watched = vec![0.0; audit.watch.len()];
        Self { dp, audit, watched }
    }
}

fn train_loop(
    mut model: Classifier,
    train: &Dataset,
    test: &Dataset,
    opts: &TrainOptions,
    mut dp: Option<&mut DpRun<'_>>,
    rt: &mut Runtime<'_>,
) -> Result<Trained, Diverged> {
    let (device, progress) = (rt.device, rt.progress);
    let rng = &mut *rt.rng;
    let ad_device = device.clone().autodiff();
    let mut optim = optimizer(opts);
    // DP takes the steps its accounting counted, from the dataset size it was planned for
    // (the training set's, or an audit's fixed size whatever its coins drew).
    let steps_per_epoch = match dp.as_ref() {
        Some(run) => opts.steps_per_epoch(run.dp.dataset_size, true),
        None => opts.steps_per_epoch(train.len(), false),
    };
    let total_steps = steps_per_epoch * opts.epochs;
    let bar = progress.items(total_steps as u64, "steps", "training");
    if dp.is_some() {
        model = model.no_grad();
    }
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut history = Vec::with_capacity(opts.epochs);
    let (mut train_seconds, mut steps, mut samples) = (0.0, 0, 0usize);
    for epoch in 1..=opts.epochs {
        bar.set_message(format!("epoch {epoch}/{}", opts.epochs));
        let started = Instant::now();
        let batches: Vec<Vec<usize>> = match dp.as_deref() {
            None => {
                order.shuffle(rng);
                order
                    .chunks(opts.batch_size)
                    .map(<[usize]>::to_vec)
                    .collect()
            }
            Some(run) => {
                // Gradient canaries are examples too: indices past the images stand for them.
                let examples = train.len() + run.audit.dirac.len();
                let sampler = PoissonSampler::new(examples, run.dp.sample_rate);
                (0..steps_per_epoch).map(|_| sampler.sample(rng)).collect()
            }
        };
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for batch in &batches {
            let lr = opts.lr_schedule.at(opts.lr, steps, total_steps);
            let (next, batch_loss, batch_correct) = match dp.as_deref_mut() {
                None => {
                    let (images, labels) = batch_tensors(train, batch, &ad_device);
                    let (next, loss, logits) = step(model, &mut optim, lr, images, labels.clone());
                    (
                        next,
                        loss * batch.len() as f64,
                        count_correct(logits, labels),
                    )
                }
                Some(run) => dp_step(model, &mut optim, lr, train, batch, run, rng),
            };
            model = next;
            if !batch_loss.is_finite() {
                bar.finish_and_clear();
                return Err(Diverged {
                    epoch,
                    step: steps + 1,
                    loss: batch_loss,
                });
            }
            loss_sum += batch_loss;
            correct += batch_correct;
            seen += batch.iter().filter(|&&i| i < train.len()).count(); // images, not canaries
            steps += 1;
            bar.inc(1);
        }
        samples += seen;
        train_seconds += started.elapsed().as_secs_f64();
        let Evaluation {
            loss: test_loss,
            accuracy: test_accuracy,
        } = evaluate(&model, test, device);
        if !test_loss.is_finite() {
            // The last step of the epoch may have produced non-finite weights.
            bar.finish_and_clear();
            return Err(Diverged {
                epoch,
                step: steps,
                loss: test_loss,
            });
        }
        bar.set_prefix(format!("test acc {:.2}%", 100.0 * test_accuracy));
        let seen = seen.max(1) as f64;
        history.push(EpochRecord {
            epoch,
            train_loss: loss_sum / seen,
            train_accuracy: correct as f64 / seen,
            test_loss,
            test_accuracy,
        });
    }
    bar.finish_and_clear();
    if dp.is_some() {
        model = model.set_require_grad(true);
    }
    Ok(Trained {
        model,
        history,
        steps,
        train_seconds,
        samples_per_second: samples as f64 / train_seconds.max(f64::MIN_POSITIVE),
    })
}

/// One DP-SGD step on the examples `batch` of `train` (possibly none; indices past `train`
/// are the run's gradient canaries): clipped sum, noise, optimizer update. Returns the model,
/// the batch's summed loss and its correct count.
pub(crate) fn dp_step(
    model: Classifier,
    optim: &mut ModuleOptimizer,
    lr: f64,
    train: &Dataset,
    batch: &[usize],
    run: &mut DpRun<'_>,
    rng: &mut StdRng,
) -> (Classifier, f64, usize) {
    let dp = run.dp;
    let split = batch.partition_point(|&i| i < train.len());
    let (batch, canaries) = batch.split_at(split);
    let (sum, loss_sum, correct) = if batch.is_empty() {
        // An empty Poisson batch still takes a step: pure noise, as the analysis assumes.
        let zeros = ParamGrads::from_autodiff(&model, &GradientsParams::new());
        (zeros, 0.0, 0)
    } else {
        let device = model_device(&model);
        let (images, labels) = batch_tensors(train, batch, &device);
        let clip = dp.applied_clip_norm();
        let clipped = clipped_batch_gradient(&model, images, labels.clone(), clip);
        let correct = count_correct(clipped.logits, labels);
        (clipped.sum, clipped.loss_sum, correct)
    };
    let noisy = if run.audit.is_active() {
        // Gradient canaries: each sampled one adds its clipped Dirac gradient.
        let coordinates: Vec<usize> = canaries
            .iter()
            .map(|&i| run.audit.dirac[i - train.len()])
            .collect();
        let norm = run.audit.dirac_norm.min(dp.applied_clip_norm()) as f32;
        let sum = sum.in_model_order(&model).add_at_flat(&coordinates, norm);
        let noisy = add_noise(sum, dp, rng);
        let flat = noisy.to_flat();
        for (total, &j) in run.watched.iter_mut().zip(run.audit.watch) {
            *total += f64::from(flat[j]);
        }
        noisy
    } else {
        add_noise(sum, dp, rng)
    };
    let grads = noisy.into_gradients_params(&model);
    (optim.step(lr, model, grads), loss_sum, correct)
}

/// The (autodiff) device `model`'s parameters live on.
pub(crate) fn model_device(model: &Classifier) -> Device {
    model
        .devices()
        .into_iter()
        .next()
        .expect("a classifier has parameters on a device")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;
    use crate::model::{Activation, ModelSpec};
    use crate::train::LrSchedule;
    use rand::SeedableRng;

    /// All parameters of `model`, flattened, as f64.
    fn params(model: &Classifier) -> Vec<f64> {
        crate::model::flat::to_flat(model)
            .into_iter()
            .map(f64::from)
            .collect()
    }

    /// An empty Poisson batch is a zero gradient: the step must move every parameter by
    /// exactly lr × noise, with noise ~ N(0, (σC / qN)²).
    #[test]
    fn an_empty_batch_step_moves_parameters_by_noise_of_the_calibrated_scale() {
        let device = Device::flex();
        let ad = device.clone().autodiff();
        let config = ModelSpec::mlp(&[64], Activation::Tanh).for_data(28, 10);
        let mut rng = StdRng::seed_from_u64(3);
        let mut model = Classifier::new(&config, &ad, &mut rng).no_grad();
        let opts = TrainOptions {
            epochs: 1,
            batch_size: 1,
            optimizer: OptimizerKind::Sgd,
            lr: 1.0,
            momentum: 0.0,
            lr_schedule: LrSchedule::Constant,
            init_from: None,
        };
        let mut optim = optimizer(&opts);
        // σ = 1.5, C = 2, q·N = 0.05 · 200 = 10: per-coordinate std 0.3.
        let dp = DpSgd::new(0.05, 1.5, 2.0, 200).unwrap();
        let data = Dataset::new(vec![0; 200 * 784], vec![0; 200], 28, 28, 10).unwrap();
        let (mut sum, mut sum_sq, mut count) = (0.0, 0.0, 0.0);
        for _ in 0..5 {
            let before = params(&model);
            let mut run = DpRun::new(&dp, Audit::NONE);
            let (next, loss, correct) =
                dp_step(model, &mut optim, 1.0, &data, &[], &mut run, &mut rng);
            model = next;
            assert_eq!((loss, correct), (0.0, 0));
            for (a, b) in before.iter().zip(params(&model)) {
                let d = b - a;
                sum += d;
                sum_sq += d * d;
                count += 1.0;
            }
        }
        let mean = sum / count;
        let std = (sum_sq / count - mean * mean).sqrt();
        // 5 × 50,890 draws: the std estimate is good to well under 1%.
        assert!((std - 0.3).abs() < 0.006, "std {std}");
        assert!(mean.abs() < 0.006, "mean {mean}");
    }
}
