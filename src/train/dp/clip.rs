//! Per-example gradient norms and clipped gradient sums without per-example gradients.
//!
//! For a layer `z[b, p] = a[b, p] · W + bias` (see `model/tape.rs`) with per-example output
//! gradients `δ[b, p] = ∂ℓ_b/∂z[b, p]`, example `b`'s gradients are
//! `∇W_b = Σ_p a[b, p]ᵀ δ[b, p] = a_bᵀ δ_b` and `∇bias_b = Σ_p δ[b, p]`. Their squared norms:
//!
//! - one position (dense layers): `‖∇W_b‖² = ‖a_b‖² ‖δ_b‖²`, the "ghost norm" identity of
//!   Goodfellow 2015 (Li et al. 2022 call it ghost clipping);
//! - many positions (convolutions, as im2col): either `‖∇W_b‖² = Σ_{p,p'} (a_p·a_p')(δ_p·δ_p')`,
//!   two `P × P` Gram matrices (the ghost form for sequences), or `∇W_b` formed explicitly
//!   with one batched matmul; whichever costs fewer multiplications, `P²(K + C)` vs `P·K·C`.
//!
//! With clip factors `c_b = min(1, C / ‖∇θ_b‖)` the clipped sum is again one matmul per layer:
//! `Σ_b c_b ∇W_b = aᵀ (c ⊙ δ)` over all `(b, p)` rows, and `Σ_b c_b ∇bias_b = Σ_{b,p} c_b δ[b, p]`.

use burn::tensor::Tensor;

use super::ParamGrads;
use crate::model::{LayerGrads, WeightLayout};

// The layer type is the model's (its explicit backward passes produce it too); DP-SGD's
// arithmetic on it lives here.
impl LayerGrads {
    /// `‖∇W_b‖² + ‖∇bias_b‖²` for every example: `[batch]`.
    fn squared_norms(&self) -> Tensor<1> {
        let [batch, positions, fan_in] = self.input.dims();
        let fan_out = self.delta.dims()[2];
        let (a, d) = (self.input.clone(), self.delta.clone());
        let weight: Tensor<3> = if positions == 1 {
            a.square().sum_dim(2) * d.square().sum_dim(2) // [batch, 1, 1]
        } else if positions * (fan_in + fan_out) < fan_in * fan_out {
            let gram_a = a.clone().matmul(a.swap_dims(1, 2)); // [batch, P, P]
            let gram_d = d.clone().matmul(d.swap_dims(1, 2)); // [batch, P, P]
            (gram_a * gram_d).sum_dim(2).sum_dim(1) // [batch, 1, 1]
        } else {
            let per_example = a.swap_dims(1, 2).matmul(d); // [batch, fan_in, fan_out]
            per_example.square().sum_dim(2).sum_dim(1) // [batch, 1, 1]
        };
        let mut norms = weight.reshape([batch]);
        if self.bias.is_some() {
            let bias = self.delta.clone().sum_dim(1); // [batch, 1, fan_out]
            norms = norms + bias.square().sum_dim(2).reshape([batch]);
        }
        norms
    }

    /// `Σ_b c_b ∇θ_b` for this layer's parameters, given `factors` `c`: `[batch]`.
    fn weighted_sum(&self, factors: Tensor<1>, out: &mut ParamGrads) {
        let [batch, positions, fan_in] = self.input.dims();
        let fan_out = self.delta.dims()[2];
        let scaled = self.delta.clone() * factors.reshape([batch, 1, 1]); // [batch, P, fan_out]
        let rows = batch * positions;
        let a = self.input.clone().reshape([rows, fan_in]);
        let scaled = scaled.reshape([rows, fan_out]);
        let (weight_id, layout) = self.weight;
        let weight = match layout {
            WeightLayout::InOut => transposed_product(a, scaled.clone()), // [fan_in, fan_out]
            WeightLayout::OutIn => transposed_product(scaled.clone(), a), // [fan_out, fan_in]
        };
        out.insert(weight_id, weight.flatten(0, 1));
        if let Some(bias_id) = self.bias {
            out.insert(bias_id, scaled.sum_dim(0).reshape([fan_out]));
        }
    }
}

/// `xᵀ · y` for a reduction over many rows (`x`: `[rows, m]`, `y`: `[rows, n]`: a weight
/// gradient summed over every example and position), as the sum of [`SPLIT`] partial products
/// over consecutive rows. burn's CPU matmul splits its work over blocks of the output, and a
/// `[64, 16]` output has too few for two cores: measured at batch 256, conv1's
/// `[64, 50176] · [50176, 16]` takes 1.5 ms in one product and 0.8 ms in eight (conv2's 2.0 and
/// 0.8 ms). The sum is the same up to rounding. (Only views are reshaped: a reshape of a
/// transposed tensor would copy it, slowly.)
fn transposed_product(x: Tensor<2>, y: Tensor<2>) -> Tensor<2> {
    let ([rows, m], n) = (x.dims(), y.dims()[1]);
    if rows < SPLIT * 1024 || rows % SPLIT != 0 {
        return x.transpose().matmul(y);
    }
    let part = rows / SPLIT;
    let x = x.reshape([SPLIT, part, m]).swap_dims(1, 2); // [SPLIT, m, part]
    let y = y.reshape([SPLIT, part, n]);
    x.matmul(y).sum_dim(0).reshape([m, n])
}

/// Partial products of [`transposed_product`].
const SPLIT: usize = 8;

/// Squared norm of every example's whole gradient (all layers): `[batch]`.
pub fn per_example_squared_norms(layers: &[LayerGrads]) -> Tensor<1> {
    let mut parts = layers.iter().map(LayerGrads::squared_norms);
    let first = parts.next().expect("a classifier has at least one layer");
    parts.fold(first, |acc, n| acc + n)
}

/// Clip factors `min(1, max_grad_norm / ‖∇θ_b‖)` from squared norms (1 for a zero gradient).
pub fn clip_factors(squared_norms: Tensor<1>, max_grad_norm: f64) -> Tensor<1> {
    // Dividing by at least 1e-30 keeps a zero norm finite; its factor then clamps to 1.
    (squared_norms.sqrt().clamp_min(1e-30).recip() * max_grad_norm).clamp_max(1.0)
}

/// `Σ_b c_b ∇θ_b` over all layers.
pub fn weighted_sum(layers: &[LayerGrads], factors: Tensor<1>) -> ParamGrads {
    let mut out = ParamGrads::default();
    for layer in layers {
        layer.weighted_sum(factors.clone(), &mut out);
    }
    out
}

/// The per-example-clipped gradient sum `Σ_b min(1, C/‖∇θ_b‖) ∇θ_b`.
pub fn clipped_sum(layers: &[LayerGrads], max_grad_norm: f64) -> ParamGrads {
    let factors = clip_factors(per_example_squared_norms(layers), max_grad_norm);
    weighted_sum(layers, factors)
}
