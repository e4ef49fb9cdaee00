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
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::Tensor;
use burn::tensor::module::unfold4d;
use burn::tensor::ops::UnfoldOptions;

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

/// A layer after the backward pass: its input and its per-example output gradients, from the
/// taps of a [`TappedLayer`] or from an explicit backward pass (`cnn/host.rs`).
#[derive(Debug, Clone)]
pub struct LayerGrads {
    /// `[batch, positions, fan_in]`.
    pub input: Tensor<3>,
    /// `[batch, positions, fan_out]`: δ, the gradient of the summed loss at the layer's output.
    pub delta: Tensor<3>,
    /// Weight parameter and how it stores the `[fan_in, fan_out]` matrix.
    pub weight: (ParamId, WeightLayout),
    /// Bias parameter.
    pub bias: Option<ParamId>,
}

/// `input · weight + bias + tap`, recording the tap.
///
/// # Shapes
/// - `input`: `[batch, positions, fan_in]`
/// - `weight`: `[fan_in, fan_out]` (already in matrix form)
/// - output: `[batch, positions, fan_out]`
fn tapped_dense(
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

/// `conv.forward(x)` as unfold + [`tapped_dense`] (im2col), recording the tap: the
/// convolution's output pixels are the positions, its `[c_out, c_in, kh, kw]` weight the
/// [`WeightLayout::OutIn`] matrix.
///
/// # Shapes
/// - `x`: `[batch, c_in, h, w]`
/// - output: `[batch, c_out, oh, ow]`, as `conv.forward`
///
/// # Panics
/// If `conv` is dilated, grouped or padded otherwise than symmetrically (none of ppml's
/// convolutions is).
pub(super) fn tapped_conv(x: Tensor<4>, conv: &Conv2d, tapes: &mut Vec<TappedLayer>) -> Tensor<4> {
    let [batch, c_in, h, w] = x.dims();
    let [c_out, _, kh, kw] = conv.weight.dims();
    assert!(
        conv.dilation == [1, 1] && conv.groups == 1,
        "ppml's convolutions are neither dilated nor grouped"
    );
    let pad = match conv.padding {
        PaddingConfig2d::Valid => [0, 0],
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => {
            [top, left]
        }
        ref other => panic!("ppml's convolutions are padded symmetrically, not {other:?}"),
    };
    let [sh, sw] = conv.stride;
    let (oh, ow) = (
        (h + 2 * pad[0] - kh) / sh + 1,
        (w + 2 * pad[1] - kw) / sw + 1,
    );
    let patches = unfold4d(x, [kh, kw], UnfoldOptions::new(conv.stride, pad, [1, 1])) // [batch, c_in·kh·kw, oh·ow]
        .swap_dims(1, 2); // [batch, oh·ow, c_in·kh·kw]
    let matrix = conv
        .weight
        .val()
        .reshape([c_out, c_in * kh * kw])
        .transpose(); // [c_in·kh·kw, c_out]
    let weight = (matrix, conv.weight.id, WeightLayout::OutIn);
    tapped_dense(patches, weight, conv.bias.as_ref(), tapes) // [batch, oh·ow, c_out]
        .reshape([batch, oh, ow, c_out])
        .permute([0, 3, 1, 2])
}

/// `layer.forward(x)` through [`tapped_dense`], recording the tap.
///
/// # Shapes
/// - `x`: `[batch, positions, d_in]`; output: `[batch, positions, d_out]`
pub(super) fn tapped_linear(
    x: Tensor<3>,
    layer: &Linear,
    tapes: &mut Vec<TappedLayer>,
) -> Tensor<3> {
    let weight = (layer.weight.val(), layer.weight.id, WeightLayout::InOut);
    tapped_dense(x, weight, layer.bias.as_ref(), tapes)
}
