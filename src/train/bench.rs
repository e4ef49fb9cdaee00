//! Training-step throughput, measured the way the peer figures in DESIGN.md were: random inputs
//! `x ~ U[0, 1)` of shape `[batch, 1, 28, 28]`, uniform labels, four fixed batches used in
//! rotation, mean cross-entropy, plain SGD (lr 0.05, no momentum), warm-up steps first, then the
//! median over timed steps. DP-SGD modes use the peers' settings too: a fixed batch (no Poisson
//! sampling), σ = 1, C = 1.

use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use super::dp::{DpSgd, add_noise, clipped_batch_gradient, clipped_sum_per_example_loop};
use super::sgd::{optimizer, step};
use super::{LrSchedule, OptimizerKind, TrainOptions};
use crate::model::{Classifier, ModelConfig};
use crate::progress::Progress;

/// What one timed step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum StepMode {
    /// Non-private SGD: mean loss, one backward pass.
    Plain,
    /// DP-SGD: tapped forward/backward, ghost norms, clipped sum, noise (σ = 1, C = 1).
    Dp,
    /// DP-SGD with the per-example loop oracle: one backward pass per example.
    DpLoop,
}

impl StepMode {
    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            StepMode::Plain => "plain",
            StepMode::Dp => "dp",
            StepMode::DpLoop => "dp-loop",
        }
    }
}

/// Step timings of one model on one backend.
#[derive(Debug, Clone, Serialize)]
pub struct StepTiming {
    /// Examples per step.
    pub batch_size: usize,
    /// Steps timed (after warm-up).
    pub steps: usize,
    /// Median seconds per step.
    pub median_seconds: f64,
    /// Fastest and slowest step.
    pub min_seconds: f64,
    /// Slowest step.
    pub max_seconds: f64,
    /// `batch_size / median_seconds`.
    pub samples_per_second: f64,
}

/// Median of a non-empty slice.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// What to time.
#[derive(Debug, Clone, Copy)]
pub struct StepBench {
    /// What a step does.
    pub mode: StepMode,
    /// Examples per step.
    pub batch_size: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Timed steps.
    pub steps: usize,
}

/// Times `bench.steps` SGD steps of a fresh `model` on `device` (with autodiff) after
/// `bench.warmup` untimed ones.
pub fn time_steps(
    model: &ModelConfig,
    bench: StepBench,
    device: &Device,
    rng: &mut StdRng,
    progress: &Progress,
) -> StepTiming {
    let StepBench {
        mode,
        batch_size,
        warmup,
        steps,
    } = bench;
    let (side, classes) = (model.side, model.classes);
    let ad = device.clone().autodiff();
    let mut model = Classifier::new(model, &ad, rng);
    if mode == StepMode::Dp {
        model = model.no_grad(); // as DP training runs it: only the taps need gradients
    }
    // Fixed batches, as the peers: the sample rate only sets the noise's divisor q·N = batch.
    let dp = DpSgd::new(1.0, 1.0, 1.0, batch_size).expect("valid constants");
    let mut noise_rng = StdRng::seed_from_u64(0);
    let opts = TrainOptions {
        epochs: 1,
        batch_size,
        optimizer: OptimizerKind::Sgd,
        lr: 0.05,
        momentum: 0.0,
        lr_schedule: LrSchedule::Constant,
        init_from: None,
    };
    let mut optim = optimizer(&opts);
    let batches: Vec<(Tensor<4>, Tensor<1, Int>)> = (0..4)
        .map(|_| {
            let x: Vec<f32> = (0..batch_size * side * side)
                .map(|_| rng.random::<f32>())
                .collect();
            let y: Vec<i64> = (0..batch_size)
                .map(|_| rng.random_range(0..classes as i64))
                .collect();
            (
                Tensor::from_data(TensorData::new(x, [batch_size, 1, side, side]), &ad),
                Tensor::from_data(TensorData::new(y, [batch_size]), &ad),
            )
        })
        .collect();
    let bar = progress.items((warmup + steps) as u64, "steps", "timing");
    let mut times = Vec::with_capacity(steps);
    for i in 0..warmup + steps {
        let (x, y) = batches[i % batches.len()].clone();
        let started = Instant::now();
        // Every step reads the loss back, so it has finished when it returns.
        model = match mode {
            StepMode::Plain => step(model, &mut optim, opts.lr, x, y).0,
            StepMode::Dp => {
                let clipped = clipped_batch_gradient(&model, x, y, dp.max_grad_norm);
                let grads =
                    add_noise(clipped.sum, &dp, &mut noise_rng).into_gradients_params(&model);
                optim.step(opts.lr, model, grads)
            }
            StepMode::DpLoop => {
                let sum = clipped_sum_per_example_loop(&model, x, y, dp.max_grad_norm);
                let grads = add_noise(sum, &dp, &mut noise_rng).into_gradients_params(&model);
                optim.step(opts.lr, model, grads)
            }
        };
        if i >= warmup {
            times.push(started.elapsed().as_secs_f64());
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let med = median(&times);
    StepTiming {
        batch_size,
        steps,
        median_seconds: med,
        min_seconds: times.iter().copied().fold(f64::INFINITY, f64::min),
        max_seconds: times.iter().copied().fold(0.0, f64::max),
        samples_per_second: batch_size as f64 / med,
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
