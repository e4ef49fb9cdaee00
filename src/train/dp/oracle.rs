//! The test oracle for `clip.rs`: one forward and backward pass per example through burn's
//! autodiff, the full gradient formed, its norm taken and the gradient scaled. Slow (a batch of
//! 256 takes 256 passes) and obviously correct; the fast path must agree with it.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Int, Tensor};

use super::ParamGrads;
use crate::model::Classifier;
use crate::train::loss::cross_entropy;

/// `Σ_b min(1, C/‖∇θ_b‖) ∇θ_b` by a loop over the examples.
///
/// # Shapes
/// - `images`: `[batch, 1, side, side]` on `model`'s autodiff device
/// - `labels`: `[batch]`
pub fn clipped_sum_per_example_loop(
    model: &Classifier,
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    max_grad_norm: f64,
) -> ParamGrads {
    let model = model.clone().set_require_grad(true);
    let batch = labels.dims()[0];
    let mut total: Option<ParamGrads> = None;
    for b in 0..batch {
        let x = images.clone().slice(b..b + 1);
        let y = labels.clone().slice(b..b + 1);
        let loss = cross_entropy(model.forward(x), y);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let g = ParamGrads::from_autodiff(&model, &grads);
        let norm = g.squared_norm().into_scalar::<f64>().sqrt();
        let factor = if norm > max_grad_norm {
            max_grad_norm / norm
        } else {
            1.0
        };
        let clipped = g.map(|t| t * factor);
        total = Some(match total {
            None => clipped,
            Some(acc) => acc.accumulate(clipped),
        });
    }
    total.expect("the oracle needs a non-empty batch")
}
