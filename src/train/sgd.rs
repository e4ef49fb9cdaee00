//! The training loop: each epoch shuffles the training set with the run's RNG, takes one
//! optimizer step per mini-batch, then evaluates on the test set.

use std::time::Instant;

use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Int, Tensor};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use super::evaluate::{batch_tensors, count_correct};
use super::{Evaluation, OptimizerKind, TrainOptions, cross_entropy, evaluate};
use crate::data::Dataset;
use crate::model::Classifier;
use crate::progress::Progress;

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
pub fn train(
    mut model: Classifier,
    train: &Dataset,
    test: &Dataset,
    opts: &TrainOptions,
    device: &Device,
    rng: &mut StdRng,
    progress: &Progress,
) -> Trained {
    let ad_device = device.clone().autodiff();
    let mut optim = optimizer(opts);
    let steps_per_epoch = opts.steps_per_epoch(train.len());
    let bar = progress.items((steps_per_epoch * opts.epochs) as u64, "steps", "training");
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut history = Vec::with_capacity(opts.epochs);
    let mut train_seconds = 0.0;
    let mut steps = 0;
    for epoch in 1..=opts.epochs {
        bar.set_message(format!("epoch {epoch}/{}", opts.epochs));
        order.shuffle(rng);
        let started = Instant::now();
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        for batch in order.chunks(opts.batch_size) {
            let (images, labels) = batch_tensors(train, batch, &ad_device);
            let lr = opts
                .lr_schedule
                .at(opts.lr, steps, steps_per_epoch * opts.epochs);
            let (next, loss, logits) = step(model, &mut optim, lr, images, labels.clone());
            model = next;
            correct += count_correct(logits, labels);
            loss_sum += loss * batch.len() as f64;
            steps += 1;
            bar.inc(1);
        }
        train_seconds += started.elapsed().as_secs_f64();
        let Evaluation {
            loss: test_loss,
            accuracy: test_accuracy,
        } = evaluate(&model, test, device);
        bar.set_prefix(format!("test acc {:.2}%", 100.0 * test_accuracy));
        history.push(EpochRecord {
            epoch,
            train_loss: loss_sum / train.len() as f64,
            train_accuracy: correct as f64 / train.len() as f64,
            test_loss,
            test_accuracy,
        });
    }
    bar.finish_and_clear();
    let samples = (train.len() * opts.epochs) as f64;
    Trained {
        model,
        history,
        steps,
        train_seconds,
        samples_per_second: samples / train_seconds.max(f64::MIN_POSITIVE),
    }
}
