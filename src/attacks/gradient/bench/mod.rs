//! The ppml side of a DLG speed comparison with PyTorch: the peers' `dlg_closure_timing` and
//! `dlg_attack` (shared/peers/opacus_bench.py), repeated on burn.
//!
//! The case (`setup.rs`): the 784-256-10 sigmoid MLP with PyTorch's default init, a true batch
//! x ~ U[0, 1) with random labels, dummy images and dummy label logits l' ~ N(0, 1), and the
//! DLG objective Σ over parameters of ‖∇θ CE(x', softmax(l')) − ∇θ CE(x, y)‖² (Zhu, Liu & Han
//! 2019), whose d/dx' comes from burn's first-order autodiff through the victim's
//! explicit gradient. Two measurements:
//! - **evaluation time**: warm-up, then timed loss-and-gradient evaluations at the starting
//!   point (seed 0), summarised by their median;
//! - **the attack**: L-BFGS (lr 1, history 100, strong Wolfe) until the image MSE is below a
//!   threshold, checked only at accepted iterates, or until an evaluation cap (`lbfgs.rs`).
//!   At batch > 1 the MSE is the best over the orders of the dummies. The checks' time is not
//!   counted.
//!
//! This is measurement code: it holds the true images to stop the run. The objective that
//! L-BFGS minimises reads only the victim and its gradient, as the attack in `dlg.rs` does.

mod lbfgs;
mod setup;

use std::time::Instant;

use burn::tensor::Device;
use serde::Serialize;

use crate::config::{ConfigError, at_least_one, count_in, positive};
use crate::train::bench::median;

use lbfgs::Stop;
use setup::{CLASSES, Case, SIDE};

/// Largest batch measured: the best-order MSE looks at all 2^batch subsets.
pub const MAX_BATCH: usize = 16;

/// Largest count any flag of the bench takes (seeds, evaluations, warm-up).
const MAX_COUNT: usize = 1_000_000;

/// One measurement's settings, the peer's by default.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DlgBench {
    /// Images in the attacked batch.
    pub batch: usize,
    /// Attack runs, seeds 0, 1, …
    pub seeds: usize,
    /// Loss-and-gradient evaluations an attack may make.
    pub max_evals: usize,
    /// An attack succeeds at the first accepted iterate with image MSE below this.
    pub threshold: f64,
    /// Untimed evaluations before the timed ones.
    pub warmup: usize,
    /// Timed evaluations.
    pub evals: usize,
}

impl Default for DlgBench {
    fn default() -> Self {
        Self {
            batch: 1,
            seeds: 3,
            max_evals: 300,
            threshold: 1e-4,
            warmup: 5,
            evals: 50,
        }
    }
}

/// Evaluation times, summarised as the peer's `summarize_times` does.
#[derive(Debug, Clone, Serialize)]
pub struct EvalTiming {
    /// Timed evaluations.
    pub evaluations: usize,
    /// Median milliseconds per evaluation.
    pub median_ms: f64,
    /// Fastest evaluation.
    pub min_ms: f64,
    /// Slowest evaluation.
    pub max_ms: f64,
    /// 10th percentile (the peer's nearest-rank rule).
    pub p10_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
}

impl EvalTiming {
    /// The summary of `seconds` (at least one).
    fn of(seconds: &[f64]) -> Self {
        let mut s = seconds.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let q = |f: f64| 1e3 * s[(n - 1).min((f * (n - 1) as f64 + 0.5) as usize)];
        Self {
            evaluations: n,
            median_ms: 1e3 * median(&s),
            min_ms: 1e3 * s[0],
            max_ms: 1e3 * s[n - 1],
            p10_ms: q(0.1),
            p90_ms: q(0.9),
        }
    }
}

/// One attack run, with the peer's fields.
#[derive(Debug, Clone, Serialize)]
pub struct AttackRun {
    /// The seed of the victim (`seed`), the true batch (`seed + 100`) and the dummies
    /// (`seed + 200`).
    pub seed: u64,
    /// Whether an accepted iterate came below the threshold within the cap.
    pub reached: bool,
    /// Evaluations made when it did.
    pub evals_to_threshold: Option<usize>,
    /// Seconds from the start to that check (checks not counted).
    pub seconds_to_threshold: Option<f64>,
    /// Accepted L-BFGS iterates.
    pub lbfgs_iterations: usize,
    /// torch `step` calls the run amounts to; each opened with one evaluation, counted.
    pub torch_steps: usize,
    /// Evaluations made in all.
    pub evals_total: usize,
    /// Seconds until the run ended (checks not counted).
    pub seconds_total: f64,
    /// Image MSE of the last accepted iterate, best order.
    pub final_mse_best_order: f64,
    /// The same in the dummies' own order.
    pub final_mse_identity_order: f64,
    /// The objective at the last accepted iterate.
    pub final_matching_loss: f64,
    /// Median milliseconds of the evaluations inside the run.
    pub in_run_eval_median_ms: Option<f64>,
    /// Seconds spent inside those evaluations, of `seconds_total`; the rest is L-BFGS itself.
    pub seconds_in_evaluations: f64,
}

impl DlgBench {
    /// Refuses settings no measurement can use: every count at least 1 (warm-up may be 0),
    /// within bounds, and a threshold above 0.
    pub fn check(&self) -> Result<(), ConfigError> {
        at_least_one("batch", self.batch)?;
        if self.batch > MAX_BATCH {
            return Err(ConfigError::invalid(
                "batch",
                self.batch,
                format!("must be at most {MAX_BATCH}: the best-order MSE tries every order"),
            ));
        }
        count_in("seeds", self.seeds, MAX_COUNT)?;
        count_in("max_evals", self.max_evals, MAX_COUNT)?;
        count_in("evals", self.evals, MAX_COUNT)?;
        if self.warmup > MAX_COUNT {
            count_in("warmup", self.warmup, MAX_COUNT)?;
        }
        positive("threshold", self.threshold)?;
        Ok(())
    }

    /// Times `evals` loss-and-gradient evaluations at the starting point of seed 0 after
    /// `warmup` untimed ones (the peer's `dlg_closure_timing`), on `device` (plain; the
    /// dummies live on its autodiff twin). Each ends with a device sync.
    pub fn time_evaluations(&self, device: &Device) -> crate::Result<EvalTiming> {
        let case = Case::new(self.batch, 0, &device.clone().autodiff());
        let mut seconds = Vec::with_capacity(self.evals);
        for i in 0..self.warmup + self.evals {
            let started = Instant::now();
            let evaluated = case.evaluate(&case.start);
            device
                .sync()
                .map_err(|e| crate::Error::Backend(format!("{e:?}")))?;
            let elapsed = started.elapsed().as_secs_f64();
            drop(evaluated);
            if i >= self.warmup {
                seconds.push(elapsed);
            }
        }
        Ok(EvalTiming::of(&seconds))
    }

    /// One attack run from `seed` (the peer's `dlg_attack`) on `device`.
    pub fn attack(&self, seed: u64, device: &Device) -> AttackRun {
        let case = Case::new(self.batch, seed, &device.clone().autodiff());
        let stop = Stop {
            max_evals: self.max_evals,
            threshold: self.threshold,
        };
        let trace = lbfgs::run(&case, stop);
        let pixels = case.truth().len();
        let last = lbfgs::point_of(&trace.last);
        let images = &last[..pixels];
        AttackRun {
            seed,
            reached: trace.reached.is_some(),
            evals_to_threshold: trace.reached.map(|(evals, _)| evals),
            seconds_to_threshold: trace.reached.map(|(_, seconds)| seconds),
            lbfgs_iterations: trace.iterations,
            torch_steps: trace.steps,
            evals_total: trace.evals,
            seconds_total: trace.seconds,
            final_mse_best_order: best_order_mse(images, case.truth()),
            final_mse_identity_order: identity_order_mse(images, case.truth()),
            final_matching_loss: trace.last_loss,
            in_run_eval_median_ms: (!trace.eval_seconds.is_empty())
                .then(|| 1e3 * median(&trace.eval_seconds)),
            seconds_in_evaluations: trace.eval_seconds.iter().sum(),
        }
    }
}

/// The measured setup, spelled out for a results file (the settings aside).
pub fn setup() -> serde_json::Value {
    serde_json::json!({
        "victim": format!("{}-256-{CLASSES} MLP, sigmoid, PyTorch default init \
            (weights and biases U[±1/√fan_in]) from StdRng(seed)", SIDE * SIDE),
        "true_batch": format!("x ~ U[0, 1) of [batch, 1, {SIDE}, {SIDE}], labels uniform \
            in 0..{CLASSES}, from StdRng(seed + 100)"),
        "dummies": "images and label logits ~ N(0, 1), from StdRng(seed + 200)",
        "objective": "Σ over parameters ‖∇θ CE(x', softmax(l')) − ∇θ CE(x, y)‖², mean \
            cross-entropy over the batch, explicit victim gradient, burn first-order autodiff",
        "evaluation_timing": "seed 0, at the starting dummies; warm-up, then timed \
            evaluations each ending with a device sync; median",
        "optimizer": lbfgs::describe(),
        "stopping": "image MSE < threshold at an accepted iterate (best order over the \
            batch), or the evaluation cap, or a non-finite opening loss; check time excluded",
        "seeds": "victim seed, data seed + 100, dummies seed + 200 (the peer's scheme; \
            StdRng streams, not torch's)",
    })
}

/// Mean squared pixel error of each (dummy, true image) pair, row-major `[dummy][true]`.
fn pair_mse(images: &[f32], truth: &[f32]) -> (Vec<f64>, usize) {
    let side2 = SIDE * SIDE;
    let batch = truth.len() / side2;
    let mut pair = vec![0.0; batch * batch];
    for (i, d) in images.chunks(side2).enumerate() {
        for (j, t) in truth.chunks(side2).enumerate() {
            let sum: f64 = d.iter().zip(t).map(|(a, b)| f64::from(a - b).powi(2)).sum();
            pair[i * batch + j] = sum / side2 as f64;
        }
    }
    (pair, batch)
}

/// Image MSE under the best pairing of dummies with true images: the minimum over orders of
/// the mean pair MSE, by dynamic programming over the subsets of true images taken.
fn best_order_mse(images: &[f32], truth: &[f32]) -> f64 {
    let (pair, batch) = pair_mse(images, truth);
    if pair.iter().any(|p| p.is_nan()) {
        return f64::NAN;
    }
    // best[taken]: the least total for dummies 0..|taken| given the true images in `taken`.
    let mut best = vec![f64::INFINITY; 1 << batch];
    best[0] = 0.0;
    for taken in 0..(1usize << batch) {
        let i = taken.count_ones() as usize;
        for j in (0..batch).filter(|j| taken & (1 << j) == 0) {
            let total = best[taken] + pair[i * batch + j];
            best[taken | (1 << j)] = best[taken | (1 << j)].min(total);
        }
    }
    best[(1 << batch) - 1] / batch as f64
}

/// Image MSE with dummy i paired with true image i.
fn identity_order_mse(images: &[f32], truth: &[f32]) -> f64 {
    let (pair, batch) = pair_mse(images, truth);
    (0..batch).map(|i| pair[i * batch + i]).sum::<f64>() / batch as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_order_pairs_each_dummy_with_its_own_image() {
        let side2 = SIDE * SIDE;
        let truth: Vec<f32> = (0..3 * side2).map(|k| (k % 11) as f32 / 11.0).collect();
        // The true images in the order 2, 0, 1, one pixel of the first off by 0.5.
        let mut images: Vec<f32> = [2, 0, 1]
            .iter()
            .flat_map(|&i| truth[i * side2..(i + 1) * side2].to_vec())
            .collect();
        images[0] += 0.5;
        let best = best_order_mse(&images, &truth);
        assert!(
            (best / (0.25 / (3 * side2) as f64) - 1.0).abs() < 1e-6,
            "{best}"
        );
        assert!(identity_order_mse(&images, &truth) > 0.01);
        assert_eq!(best_order_mse(&truth[..side2], &truth[..side2]), 0.0);
        let mut nan = images.clone();
        nan[5] = f32::NAN;
        assert!(best_order_mse(&nan, &truth).is_nan());
    }

    #[test]
    fn the_percentiles_follow_the_peers_nearest_rank_rule() {
        let seconds: Vec<f64> = (1..=11).rev().map(|k| f64::from(k) / 1e3).collect();
        let t = EvalTiming::of(&seconds);
        assert_eq!((t.evaluations, t.min_ms, t.max_ms), (11, 1.0, 11.0));
        assert_eq!((t.median_ms, t.p10_ms, t.p90_ms), (6.0, 2.0, 10.0));
    }

    #[test]
    fn settings_no_measurement_can_use_are_refused_by_name() {
        let ok = DlgBench::default();
        assert!(ok.check().is_ok());
        assert!(DlgBench { warmup: 0, ..ok }.check().is_ok());
        for (bad, name) in [
            (DlgBench { batch: 0, ..ok }, "batch"),
            (
                DlgBench {
                    batch: MAX_BATCH + 1,
                    ..ok
                },
                "batch",
            ),
            (DlgBench { seeds: 0, ..ok }, "seeds"),
            (DlgBench { max_evals: 0, ..ok }, "max_evals"),
            (DlgBench { evals: 0, ..ok }, "evals"),
            (
                DlgBench {
                    warmup: usize::MAX,
                    ..ok
                },
                "warmup",
            ),
            (
                DlgBench {
                    threshold: 0.0,
                    ..ok
                },
                "threshold",
            ),
            (
                DlgBench {
                    threshold: -1e-4,
                    ..ok
                },
                "threshold",
            ),
            (
                DlgBench {
                    threshold: f64::NAN,
                    ..ok
                },
                "threshold",
            ),
        ] {
            let err = bad.check().unwrap_err().to_string();
            assert!(err.contains(&format!("invalid {name} = ")), "{err}");
        }
    }

    #[test]
    fn a_tiny_run_gives_sane_figures() {
        let device = Device::flex();
        let bench = DlgBench {
            max_evals: 12,
            warmup: 1,
            evals: 3,
            ..DlgBench::default()
        };
        let timing = bench.time_evaluations(&device).unwrap();
        assert_eq!(timing.evaluations, 3);
        assert!(0.0 < timing.min_ms && timing.min_ms <= timing.median_ms);
        assert!(timing.median_ms <= timing.max_ms, "{timing:?}");

        let run = bench.attack(0, &device);
        let start = Case::new(1, 0, &device.clone().autodiff());
        let start_loss = start.evaluate(&start.start).0;
        assert!(run.evals_total >= 1 && run.evals_total <= 12, "{run:?}");
        assert!(run.lbfgs_iterations >= 1 && run.torch_steps >= 1, "{run:?}");
        assert!(run.seconds_total > 0.0, "{run:?}");
        assert!(run.final_matching_loss < start_loss, "{run:?}");
        assert!(run.final_mse_best_order.is_finite(), "{run:?}");
        assert_eq!(run.final_mse_best_order, run.final_mse_identity_order);
        assert_eq!(run.reached, run.evals_to_threshold.is_some());
        assert!(run.in_run_eval_median_ms.is_some_and(|ms| ms > 0.0));
    }
}
