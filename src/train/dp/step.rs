//! One batch's per-example-clipped gradient sum, from a single tapped forward and backward pass.

use burn::tensor::{Int, Tensor};

use super::{LayerGrads, ParamGrads, clipped_sum};
use crate::model::Classifier;
use crate::train::loss::per_example_cross_entropy;

/// What one batch contributes to a DP-SGD step before the noise.
#[derive(Debug)]
pub struct ClippedBatch {
    /// `Σ_b min(1, C/‖∇θ_b‖) ∇θ_b`.
    pub sum: ParamGrads,
    /// `Σ_b ℓ_b`, the summed (unclipped) loss, for progress reporting.
    pub loss_sum: f64,
    /// The batch's logits, detached.
    pub logits: Tensor<2>,
}

/// The clipped gradient sum of a non-empty batch.
///
/// `model` lives on an autodiff device; its parameters need not require gradients (DP training
/// turns that off, since only the taps' gradients are used). `images`/`labels` live on the same
/// device.
pub fn clipped_batch_gradient(
    model: &Classifier,
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    max_grad_norm: f64,
) -> ClippedBatch {
    if let Some((layers, logits)) = model.backprop(images.clone(), labels.clone()) {
        // An explicit backward pass (the CNN on a CPU): the same δ's, no tape.
        let loss = per_example_cross_entropy(logits.clone(), labels.inner()).sum();
        return ClippedBatch {
            sum: clipped_sum(&layers, max_grad_norm),
            loss_sum: loss.into_scalar::<f64>(),
            logits,
        };
    }
    let mut tapes = Vec::new();
    let logits = model.forward_tapped(images, &mut tapes);
    // The summed loss: its gradient at a tap is each example's own δ, unscaled.
    let loss = per_example_cross_entropy(logits.clone(), labels).sum();
    let grads = loss.backward();
    let layers: Vec<LayerGrads> = tapes
        .into_iter()
        .map(|t| LayerGrads {
            delta: t
                .tap
                .grad(&grads)
                .expect("every tap lies on the path from the inputs to the loss"),
            input: t.input,
            weight: (t.weight, t.layout),
            bias: t.bias,
        })
        .collect();
    ClippedBatch {
        sum: clipped_sum(&layers, max_grad_norm),
        loss_sum: loss.into_scalar::<f64>(),
        logits: logits.detach(),
    }
}
