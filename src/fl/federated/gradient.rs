//! The gradients a party computes, flat in the model's layout: plain (autodiff on the batch
//! mean loss) or from per-example gradients clipped to L2 norm C, `Σ_b min(1, C/‖g_b‖) g_b`,
//! by `train::dp`'s one-pass clipping (Abadi et al. 2016, DP-SGD; McMahan, Ramage, Talwar &
//! Zhang 2018, DP-FedAvg). No noise here: noise is the sum's
//! ([`SumNoise`](crate::fl::SumNoise)) or the party's `local_noise`.
//!
//! The sum is divided by the batch's own length for a fixed batch (the mean gradient) and by
//! the expected batch B for a Poisson batch (DP-SGD's normalisation, under which one example
//! moves the result by at most C/B whatever else was drawn).

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor};

use crate::data::Dataset;
use crate::model::Classifier;
use crate::train::dp::{ParamGrads, clipped_batch_gradient};
use crate::train::{batch_tensors, cross_entropy};

/// Σ over the examples `batch` of `shard` of their gradients (each clipped to L2 norm
/// `max_grad_norm` if given), divided by `divisor`, flat in `model`'s layout: the mean when
/// `divisor` is the batch's length, DP-SGD's Σ/B under Poisson sampling.
///
/// An empty batch (a Poisson draw may be empty) is a zero gradient, computed without running
/// the model: burn's tensors have no batch of 0 examples.
pub(super) fn batch_gradient(
    model: &Classifier,
    shard: &Dataset,
    batch: &[usize],
    max_grad_norm: Option<f64>,
    divisor: usize,
    device: &Device,
) -> Vec<f32> {
    if batch.is_empty() {
        return vec![0.0; model.num_params()];
    }
    let (images, labels) = batch_tensors(shard, batch, device);
    match max_grad_norm {
        None => {
            let mean = plain_gradient(model, images, labels);
            if divisor == batch.len() {
                // Untouched: a fixed batch's update is bit for bit what it always was.
                return mean;
            }
            // The loss is the batch mean; back to the sum, then over the divisor.
            let factor = batch.len() as f64 / divisor as f64;
            mean.into_iter()
                .map(|g| (f64::from(g) * factor) as f32)
                .collect()
        }
        Some(c) => clipped_gradient(model, images, labels, c, divisor),
    }
}

/// The mean gradient of the batch, by autodiff, flat in the model's layout.
fn plain_gradient(model: &Classifier, images: Tensor<4>, labels: Tensor<1, Int>) -> Vec<f32> {
    let loss = cross_entropy(model.forward(images), labels);
    let grads = GradientsParams::from_grads(loss.backward(), model);
    ParamGrads::from_autodiff(model, &grads).to_flat()
}

/// `(1/divisor) Σ_b min(1, C/‖g_b‖) g_b` for the batch, as [`ParamGrads`] of `model`'s
/// parameters.
fn clipped_sum_over(
    model: &Classifier,
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    max_grad_norm: f64,
    divisor: usize,
) -> ParamGrads {
    let clipped = clipped_batch_gradient(model, images, labels, max_grad_norm);
    let divisor = divisor as f64;
    clipped.sum.map(|g| g / divisor)
}

/// [`clipped_sum_over`], flat in the model's layout.
fn clipped_gradient(
    model: &Classifier,
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    max_grad_norm: f64,
    divisor: usize,
) -> Vec<f32> {
    // Only the layer taps need gradients; the parameters' own would be computed and dropped.
    let model = model.clone().no_grad();
    let sum = clipped_sum_over(&model, images, labels, max_grad_norm, divisor);
    flat_in_layout(&sum, &model)
}

/// One local SGD step on the clipped mean gradient (DP-FedAvg's local step, without noise).
pub(super) fn clipped_step(
    model: Classifier,
    optim: &mut ModuleOptimizer,
    lr: f64,
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    max_grad_norm: f64,
) -> Classifier {
    let model = model.no_grad();
    let batch = labels.dims()[0];
    let mean = clipped_sum_over(&model, images, labels, max_grad_norm, batch);
    let grads = mean.into_gradients_params(&model);
    optim.step(lr, model, grads)
}

/// `grads` concatenated in `model`'s visiting order (the layout of `model::flat`), whatever
/// order they were computed in.
pub(super) fn flat_in_layout(grads: &ParamGrads, model: &Classifier) -> Vec<f32> {
    struct Collect<'a> {
        grads: &'a ParamGrads,
        out: Vec<f32>,
    }
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let g = self
                .grads
                .get(param.id)
                .expect("clipping taps every layer, so every parameter has a gradient");
            let data = g.clone().into_data().convert::<f32>();
            self.out
                .extend(data.try_to_vec::<f32>().expect("converted to f32"));
        }
    }
    let mut c = Collect {
        grads,
        out: Vec::with_capacity(model.num_params()),
    };
    model.visit(&mut c);
    c.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fl::federated::testing::{model, shard};
    use crate::model::ModelKind;
    use crate::train::dp::clipped_sum_per_example_loop;

    fn device(model: &Classifier) -> Device {
        model.devices().into_iter().next().unwrap()
    }

    /// The slow way: one example at a time, each gradient by plain autodiff of its own loss
    /// (clipped by the per-example loop oracle when `c` is given), summed, divided by `b`.
    fn slow_sum_over(
        global: &Classifier,
        data: &Dataset,
        batch: &[usize],
        c: Option<f64>,
        b: usize,
    ) -> Vec<f32> {
        let device = device(global);
        let mut sum = vec![0f64; global.num_params()];
        for &i in batch {
            let (images, labels) = batch_tensors(data, &[i], &device);
            let g = match c {
                None => plain_gradient(global, images, labels),
                Some(c) => flat_in_layout(
                    &clipped_sum_per_example_loop(global, images, labels, c),
                    global,
                ),
            };
            for (s, v) in sum.iter_mut().zip(g) {
                *s += f64::from(v);
            }
        }
        sum.into_iter().map(|s| (s / b as f64) as f32).collect()
    }

    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn a_poisson_batch_gradient_is_the_sum_of_per_example_gradients_over_the_expected_batch() {
        let global = model(ModelKind::Mlp, 4);
        let data = shard(10, 5);
        let device = device(&global);
        // Seven examples drawn against an expected batch of 4: dividing by the count drawn
        // (the mean) would be 4/7 of the right answer, far outside the tolerance.
        let batch = [0, 2, 3, 5, 6, 8, 9];
        for c in [None, Some(0.05)] {
            let fast = batch_gradient(&global, &data, &batch, c, 4, &device);
            let slow = slow_sum_over(&global, &data, &batch, c, 4);
            let diff = max_abs_diff(&fast, &slow);
            assert!(diff < 1e-6, "{c:?}: {diff}");
            let mean = slow_sum_over(&global, &data, &batch, c, batch.len());
            assert!(max_abs_diff(&fast, &mean) > 1e-3, "{c:?}: not the mean");
        }
        // C = 0.05 binds, so the clipped sum is at most 7 · C / 4 long.
        let clipped = batch_gradient(&global, &data, &batch, Some(0.05), 4, &device);
        let norm = clipped
            .iter()
            .map(|g| f64::from(*g).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(norm <= 7.0 * 0.05 / 4.0 + 1e-6, "{norm}");
    }

    #[test]
    fn a_fixed_batch_gradient_is_the_plain_mean_bit_for_bit() {
        let global = model(ModelKind::Cnn, 6);
        let data = shard(8, 7);
        let device = device(&global);
        let batch = [7, 1, 4];
        let (images, labels) = batch_tensors(&data, &batch, &device);
        let mean = plain_gradient(&global, images, labels);
        assert_eq!(
            batch_gradient(&global, &data, &batch, None, 3, &device),
            mean
        );
    }

    #[test]
    fn an_empty_batch_is_a_zero_gradient_without_running_the_model() {
        let global = model(ModelKind::Lenet, 2);
        let data = shard(3, 1);
        let device = device(&global);
        for c in [None, Some(1.0)] {
            let g = batch_gradient(&global, &data, &[], c, 5, &device);
            assert_eq!(g.len(), global.num_params());
            assert!(g.iter().all(|v| *v == 0.0), "{c:?}");
        }
    }
}
