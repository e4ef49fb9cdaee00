//! The peer's optimiser run, `torch.optim.LBFGS(lr=1, history_size=100,
//! line_search_fn="strong_wolfe")` stepped until a stop, on burn's own `LBFGS`, with every
//! accepted iterate seen.
//!
//! What burn 0.22.1's `LBFGS` does (read from `burn-optim-0.22.1/src/optim/lbfgs.rs`):
//! - it is a port of torch's: the same two-loop recursion, first step min(1, 1/‖g‖₁)·lr,
//!   strong-Wolfe search (c1 = 1e-4, c2 = 0.9, cubic interpolation) and stopping tests;
//! - its state (the s/y history, the direction d, the step t, the previous gradient and the
//!   global iteration count) lives in the optimiser and carries over from one `step` call to
//!   the next, as torch's does; so one-iteration steps continue one L-BFGS run;
//! - like torch, each `step` call first evaluates the closure at the current point;
//! - unlike torch, the line search may spend only `max_eval` minus the evaluations already made
//!   in this `step` (torch gives every search 25, `_strong_wolfe`'s `max_ls`). The default
//!   `max_eval` is `max_iter · 5/4`, so with `max_iter = 1` alone the search gets no budget: one
//!   trial, kept only if it lowers the loss, and once a trial does not, every later step
//!   repeats it (the s/y pair of a zero step is not stored) and the run stalls.
//!
//! So burn's `step` runs one iteration at a time (`max_iter = 1`, each accepted iterate is
//! returned and checked) with `max_eval = 26`, which gives the search torch's 25. torch makes up
//! to 20 iterations (25 evaluations) per `step` and evaluates the current point again only at
//! the start of each `step`, where one-iteration burn steps would do it at every iteration. So
//! the driver follows torch's steps: the opening evaluation of a burn step is made (counted and
//! timed) only where a torch step would open, and is otherwise answered with the evaluation
//! already made at that point in the last line search. That point is found by its exact
//! parameter values: burn forms the accepted point with the same operations as the trial.

use std::time::{Duration, Instant};

use burn::optim::{GradientsParams, LBFGS, LBFGSConfig, LineSearchFn};
use burn::tensor::{Tensor, TensorData};

use super::best_order_mse;
use super::setup::{Case, Dummy};

/// torch's settings in the peer's run: lr 1, history 100, and the defaults max_iter 20,
/// max_eval 25 (max_iter · 5/4), tolerance_grad 1e-7, tolerance_change 1e-9.
const LR: f64 = 1.0;
const HISTORY: usize = 100;
const TORCH_MAX_ITER: usize = 20;
const TORCH_MAX_EVAL: usize = 25;
/// Evaluations one strong-Wolfe search may make in torch (`max_ls`).
const TORCH_MAX_LS: usize = 25;
const TOLERANCE_GRAD: f64 = 1e-7;
const TOLERANCE_CHANGE: f64 = 1e-9;

/// The peer's stopping rule.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stop {
    /// Evaluations at most; the next one asked for ends the run.
    pub max_evals: usize,
    /// The run ends at the first accepted iterate whose best-order image MSE is below this.
    pub threshold: f64,
}

/// What one run measured. Times leave out the MSE checks and the driver's own bookkeeping.
pub(super) struct Trace {
    /// Evaluations made (the opening ones of torch's steps included, as torch counts them).
    pub evals: usize,
    /// torch steps opened (each with one evaluation at the current point).
    pub steps: usize,
    /// Accepted iterates (line searches completed).
    pub iterations: usize,
    /// Evaluations and seconds at the first accepted iterate below the threshold.
    pub reached: Option<(usize, f64)>,
    /// Seconds until the run ended (the threshold, the cap or a non-finite loss).
    pub seconds: f64,
    /// Seconds of each evaluation.
    pub eval_seconds: Vec<f64>,
    /// The last accepted iterate and its objective.
    pub last: Dummy,
    /// The objective at `last`.
    pub last_loss: f64,
}

/// An evaluated point: its exact parameter values (images, then label logits), the objective
/// and its gradient.
struct Evaluated {
    point: Vec<f32>,
    loss: f64,
    images_grad: Tensor<4>,
    logits_grad: Tensor<2>,
}

impl Evaluated {
    fn new(dummy: &Dummy, loss: f64, grads: &GradientsParams) -> Self {
        Self {
            point: point_of(dummy),
            loss,
            images_grad: grads
                .get(dummy.images.id)
                .expect("the images carry a gradient"),
            logits_grad: grads
                .get(dummy.label_logits.id)
                .expect("the label logits carry a gradient"),
        }
    }

    /// The same gradient, for `dummy` (the same parameters at the same point).
    fn gradients(&self, dummy: &Dummy) -> GradientsParams {
        let mut grads = GradientsParams::new();
        grads.register(dummy.images.id, self.images_grad.clone());
        grads.register(dummy.label_logits.id, self.logits_grad.clone());
        grads
    }

    /// max |g|, torch's first-order optimality test.
    fn gradient_max(&self) -> f64 {
        let images = self.images_grad.clone().abs().max().into_scalar::<f64>();
        let logits = self.logits_grad.clone().abs().max().into_scalar::<f64>();
        images.max(logits)
    }
}

/// The parameter values of `dummy`, images then label logits (burn's flat order).
pub(super) fn point_of(dummy: &Dummy) -> Vec<f32> {
    let values = |data: TensorData| {
        data.convert::<f32>()
            .try_into_vec::<f32>()
            .expect("float parameters")
    };
    let mut point = values(dummy.images.val().inner().into_data());
    point.extend(values(dummy.label_logits.val().inner().into_data()));
    point
}

/// Bit for bit the same values.
fn same_point(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// torch's step in progress.
struct TorchStep {
    iterations: usize,
    evaluations: usize,
    opening_loss: f64,
}

/// burn's L-BFGS making one of torch's iterations per `step`, with torch's line-search budget.
fn optimizer() -> LBFGS {
    LBFGSConfig::new()
        .with_max_iter(1)
        .with_max_eval(Some(1 + TORCH_MAX_LS))
        .with_history_size(HISTORY)
        .with_tolerance_grad(TOLERANCE_GRAD)
        .with_tolerance_change(TOLERANCE_CHANGE)
        .with_line_search_fn(LineSearchFn::StrongWolfe)
        .init()
}

/// The optimiser as run, for a results file.
pub(super) fn describe() -> serde_json::Value {
    serde_json::json!({
        "algorithm": "burn 0.22.1 LBFGS, strong-Wolfe line search (c1 1e-4, c2 0.9), stepped \
            one iteration per call; evaluations counted as torch.optim.LBFGS.step makes them",
        "lr": LR,
        "history_size": HISTORY,
        "torch_step": { "max_iter": TORCH_MAX_ITER, "max_eval": TORCH_MAX_EVAL },
        "line_search_max_evals": TORCH_MAX_LS,
        "tolerance_grad": TOLERANCE_GRAD,
        "tolerance_change": TOLERANCE_CHANGE,
    })
}

/// Runs L-BFGS from the case's dummies until `stop`, as the peer does (see the module docs).
pub(super) fn run(case: &Case, stop: Stop) -> Trace {
    let mut optim = optimizer();
    let pixels = case.truth().len();
    let mut dummy = case.start.clone();
    // The evaluation at `dummy`, and torch's open step (none: the next burn step opens one).
    let mut accepted: Option<Evaluated> = None;
    let mut torch: Option<TorchStep> = None;
    let (mut evals, mut steps, mut iterations) = (0, 0, 0);
    let mut eval_seconds = Vec::new();
    let mut excluded = Duration::ZERO;
    let mut capped_at: Option<Instant> = None;
    let mut reached = None;
    let started = Instant::now();
    loop {
        let mut opening = true;
        let mut trials: Vec<Evaluated> = Vec::new();
        let (next, _) = optim.step(LR, dummy.clone(), |d: Dummy| {
            let is_opening = std::mem::replace(&mut opening, false);
            if is_opening
                && torch.is_some()
                && let Some(at) = &accepted
            {
                // Mid-step, torch does not evaluate here again: the value is at hand.
                return (at.loss, at.gradients(&d));
            }
            if evals >= stop.max_evals {
                // The peer's closure raises here, which ends the run at once. A loss of −∞
                // with a zero gradient makes burn's line search accept and its step return.
                capped_at.get_or_insert_with(Instant::now);
                let mut zero = GradientsParams::new();
                zero.register(d.images.id, d.images.val().inner().zeros_like());
                zero.register(d.label_logits.id, d.label_logits.val().inner().zeros_like());
                return (f64::NEG_INFINITY, zero);
            }
            evals += 1;
            let eval_started = Instant::now();
            let (loss, grads) = case.evaluate(&d);
            eval_seconds.push(eval_started.elapsed().as_secs_f64());
            let book = Instant::now();
            let at = Evaluated::new(&d, loss, &grads);
            if is_opening {
                steps += 1;
                torch = Some(TorchStep {
                    iterations: 0,
                    evaluations: 1,
                    opening_loss: loss,
                });
                accepted = Some(at);
            } else {
                if let Some(step) = torch.as_mut() {
                    step.evaluations += 1;
                }
                trials.push(at);
            }
            excluded += book.elapsed();
            (loss, grads)
        });
        if capped_at.is_some() {
            break;
        }
        let book = Instant::now();
        let step = torch
            .as_mut()
            .expect("a burn step runs inside a torch step");
        // No line search: torch leaves its step before one (gtd > −tolerance_change), and the
        // iterate has not moved.
        let mut closes = trials.is_empty();
        if !closes {
            iterations += 1;
            step.iterations += 1;
            let point = point_of(&next);
            let old = accepted.take().expect("the opening evaluation is at hand");
            let step_max = old
                .point
                .iter()
                .zip(&point)
                .map(|(a, b)| f64::from((b - a).abs()))
                .fold(0.0, f64::max);
            let loss_before = old.loss;
            accepted = trials
                .into_iter()
                .chain(std::iter::once(old))
                .find(|e| same_point(&e.point, &point));
            if best_order_mse(&point[..pixels], case.truth()) < stop.threshold {
                let at = book.duration_since(started).saturating_sub(excluded);
                reached = Some((evals, at.as_secs_f64()));
                excluded += book.elapsed();
                dummy = next;
                break;
            }
            // torch's tests after an iteration, in its order. An accepted point not found among
            // the evaluated ones (never seen) closes the step, so that the next opens with an
            // evaluation.
            closes = accepted.as_ref().is_none_or(|at| {
                step.iterations == TORCH_MAX_ITER
                    || step.evaluations >= TORCH_MAX_EVAL
                    || at.gradient_max() <= TOLERANCE_GRAD
                    // torch tests max|d·t|; this is the step actually taken, its rounding.
                    || step_max <= TOLERANCE_CHANGE
                    || (at.loss - loss_before).abs() < TOLERANCE_CHANGE
            });
        }
        dummy = next;
        excluded += book.elapsed();
        if closes {
            let opening_loss = torch.take().map_or(f64::NAN, |s| s.opening_loss);
            // The peer's loop: `loss = opt.step(closure)` (the opening loss) must be finite.
            if !opening_loss.is_finite() {
                break;
            }
        }
    }
    let ended = capped_at.unwrap_or_else(Instant::now);
    Trace {
        evals,
        steps,
        iterations,
        reached,
        seconds: (ended.duration_since(started).saturating_sub(excluded)).as_secs_f64(),
        eval_seconds,
        last_loss: accepted.as_ref().map_or(f64::NAN, |a| a.loss),
        last: dummy,
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;

    #[test]
    fn answering_openings_from_the_line_search_leaves_every_iterate_as_it_was() {
        let ad = Device::flex().autodiff();
        for (batch, max_evals) in [(1, 20), (1, 40), (2, 20), (2, 40)] {
            let case = Case::new(batch, 1, &ad);
            // A threshold of 0 is never reached: the run goes to the cap.
            let stop = Stop {
                max_evals,
                threshold: 0.0,
            };
            let trace = run(&case, stop);
            assert!(trace.reached.is_none() && trace.evals == max_evals);
            if max_evals == 20 {
                // Within torch's first step: one opening evaluation for all the iterations.
                assert_eq!(trace.steps, 1);
                assert!(trace.iterations >= 10, "{} iterations", trace.iterations);
            }
            // The oracle: burn's L-BFGS alone, evaluating afresh at every step's opening.
            let mut optim = optimizer();
            let (mut dummy, mut iterations) = (case.start.clone(), 0);
            while iterations < trace.iterations {
                let mut in_step = 0;
                let (next, loss) = optim.step(LR, dummy, |d: Dummy| {
                    in_step += 1;
                    case.evaluate(&d)
                });
                iterations += usize::from(in_step > 1);
                dummy = next;
                assert!(loss.is_finite());
            }
            assert!(
                same_point(&point_of(&dummy), &point_of(&trace.last)),
                "batch {batch}, {max_evals} evaluations: not the same iterate after \
                 {iterations} iterations"
            );
        }
    }
}
