//! Taps for per-example gradients (DP-SGD).
//!
//! Every trainable layer of both classifiers is, or can be written as, a dense map applied at
//! some positions: `z[b, p, :] = a[b, p, :] · W + bias` with `a` of shape `[batch, positions,
//! fan_in]` (one position for a dense layer; the output pixels for a convolution, whose input
//! is unfolded into patches, "im2col"). A *tapped* forward pass adds a zero tensor `t` marked
//! `require_grad` to each `z` and records `a`. Back-propagating the *summed* loss then gives
//! `∂L/∂t[b] = δ[b]`, the per-example gradient of the loss with respect to the layer's output,
//! and with `a[b]` that fixes example `b`'s gradient of `W` (`a[b]ᵀ δ[b]`) and of the bias
//! (`Σ_p δ[b, p]`) without ever forming it for the whole batch. `train::dp` turns these into
//! per-example norms and clipped sums.

use burn::module::{Param, ParamId};
use burn::tensor::Tensor;

/// How a layer's `[fan_in, fan_out]` weight matrix is stored in its parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightLayout {
    /// `[fan_in, fan_out]`, as burn's `Linear`.
    InOut,
    /// `[fan_out, fan_in…]` with the fan-in dimensions in unfold order (`[c_out, c_in, kh, kw]`
    /// for burn's `Conv2d`): row-major, the transpose of the matrix.
    OutIn,
}

/// One tapped layer of a forward pass.
#[derive(Debug)]
pub struct TappedLayer {
    /// The layer's input in matmul form, without autodiff: `[batch, positions, fan_in]`.
    pub input: Tensor<3>,
    /// The zero tensor added to the layer's output, `[batch, positions, fan_out]`; the gradient
    /// of the summed loss with respect to it is the per-example output gradient δ.
    pub tap: Tensor<3>,
    /// The weight parameter.
    pub weight: ParamId,
    /// How the weight parameter stores the `[fan_in, fan_out]` matrix.
    pub layout: WeightLayout,
    /// The bias parameter, if the layer has one.
    pub bias: Option<ParamId>,
}

/// `input · weight + bias + tap`, recording the tap.
///
/// # Shapes
/// - `input`: `[batch, positions, fan_in]`
/// - `weight`: `[fan_in, fan_out]` (already in matrix form)
/// - output: `[batch, positions, fan_out]`
pub(super) fn tapped_dense(
    input: Tensor<3>,
    weight: (Tensor<2>, ParamId, WeightLayout),
    bias: Option<&Param<Tensor<1>>>,
    tapes: &mut Vec<TappedLayer>,
) -> Tensor<3> {
    let (w, weight_id, layout) = weight;
    let [batch, positions, fan_in] = input.dims();
    let fan_out = w.dims()[1];
    let tap = Tensor::<3>::zeros([batch, positions, fan_out], &input.device()).require_grad();
    // One 2-D matmul: burn broadcasts a 3-D × 2-D product as a batched one, which is slower.
    let mut out = input
        .clone()
        .reshape([batch * positions, fan_in])
        .matmul(w)
        .reshape([batch, positions, fan_out]);
    if let Some(b) = bias {
        out = out + b.val().reshape([1, 1, fan_out]);
    }
    tapes.push(TappedLayer {
        input: input.inner(),
        tap: tap.clone(),
        weight: weight_id,
        layout,
        bias: bias.map(|b| b.id),
    });
    out + tap
}
