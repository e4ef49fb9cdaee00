//! The backward steps of a convolution and of a 2×2 stride-1 max-pool, written as tensor ops
//! that burn's autodiff can differentiate once more (the second derivative DLG needs).
//!
//! A convolution z = W ⋆ x + b (stride s, padding p, kernel k) is a matmul over im2col columns:
//! with cols(x) = `unfold4d(x)` (`[batch, c_in·k², positions]`), z_b = W·cols(x_b) + b. So
//! ∂L/∂W = Σ_b δ_b · cols(x_b)ᵀ, ∂L/∂b = Σ over batch and positions of δ, and ∂L/∂x is the
//! adjoint of the convolution, the transposed convolution of δ with the same W. `unfold4d` runs
//! on burn's differentiable `conv2d` (padded) or `unfold` (unpadded), and `conv_transpose2d` has
//! an autodiff backward, so both stay in the graph.
//!
//! Max-pool with 2×2 windows at stride 1: the pooled value at (i, j) is the largest of x at
//! (i, j), (i, j+1), (i+1, j), (i+1, j+1), i.e. of four shifted views of x. The gradient goes
//! to the window's maximum; which element that is, is a constant of the graph (piecewise, the
//! pool is one of the four views, so the second derivative is exact almost everywhere). On a
//! tie it goes to the first maximum in row-major order, as burn's own `max_pool2d` does (its CPU
//! kernels keep a candidate only when it is strictly larger).

use burn::tensor::module::{conv_transpose2d, unfold4d};
use burn::tensor::ops::{ConvTransposeOptions, PadMode, UnfoldOptions};
use burn::tensor::{Bool, Tensor};

/// ∂L/∂W of a convolution of `input` whose output has error `delta`: Σ_b δ_b · cols(x_b)ᵀ, as
/// one matmul over every batch position.
///
/// # Shapes
/// - `input`: `[batch, c_in, side, side]`
/// - `delta`: `[batch, c_out, out, out]`
/// - output: `[c_out, c_in, kernel, kernel]`, the layout of burn's `Conv2d` weight
pub(super) fn conv_weight_grad(
    input: Tensor<4>,
    delta: Tensor<4>,
    kernel: usize,
    stride: usize,
    pad: usize,
) -> Tensor<4> {
    let [batch, c_in, ..] = input.dims();
    let [_, c_out, oh, ow] = delta.dims();
    let options = UnfoldOptions::new([stride, stride], [pad, pad], [1, 1]);
    let cols = unfold4d(input, [kernel, kernel], options) // [batch, c_in·k², oh·ow]
        .swap_dims(1, 2) // [batch, oh·ow, c_in·k²]
        .reshape([batch * oh * ow, c_in * kernel * kernel]);
    let delta: Tensor<2> = delta
        .reshape([batch, c_out, oh * ow])
        .swap_dims(0, 1) // [c_out, batch, oh·ow]
        .reshape([c_out, batch * oh * ow]);
    delta
        .matmul(cols) // [c_out, c_in·k²]
        .reshape([c_out, c_in, kernel, kernel])
}

/// ∂L/∂b of a convolution: δ summed over batch and positions.
///
/// # Shapes
/// - `delta`: `[batch, c_out, out, out]`; output: `[c_out]`
pub(super) fn conv_bias_grad(delta: Tensor<4>) -> Tensor<1> {
    let [_, c_out, ..] = delta.dims();
    delta.sum_dim(0).sum_dim(2).sum_dim(3).reshape([c_out])
}

/// ∂L/∂x of a convolution with weight `weight`: the transposed convolution of `delta`. When
/// `side + 2·pad − kernel` is not a multiple of the stride, the last rows and columns of the
/// padded input are reached by no window, and the transposed convolution stops short of them;
/// the output padding adds them back (gradient zero: nothing read them) to restore `side`.
///
/// # Shapes
/// - `delta`: `[batch, c_out, out, out]`
/// - `weight`: `[c_out, c_in, kernel, kernel]`
/// - output: `[batch, c_in, side, side]`
pub(super) fn conv_input_grad(
    delta: Tensor<4>,
    weight: Tensor<4>,
    stride: usize,
    pad: usize,
    side: usize,
) -> Tensor<4> {
    let [_, _, out, _] = delta.dims();
    let [.., kernel, _] = weight.dims();
    // conv_transpose2d's output side is (out − 1)·stride − 2·pad + kernel + padding_out.
    let padding_out = side + 2 * pad - ((out - 1) * stride + kernel);
    let options = ConvTransposeOptions::new(
        [stride, stride],
        [pad, pad],
        [padding_out, padding_out],
        [1, 1],
        1,
    );
    conv_transpose2d(delta, weight, None, options)
}

/// Window offsets `(row, column)` of a 2×2 max-pool, in the row-major order burn scans them.
const OFFSETS: [(usize, usize); 4] = [(0, 0), (0, 1), (1, 0), (1, 1)];

/// A 2×2, stride-1 max-pool applied to one tensor, with its routing kept: for each offset, 1
/// where that element is the window's first maximum.
#[derive(Debug, Clone)]
pub(super) struct MaxPool2 {
    /// One 0/1 mask per entry of [`OFFSETS`], `[batch, c, side − 1, side − 1]`; exactly one
    /// mask is 1 at each output position.
    masks: Vec<Tensor<4>>,
}

impl MaxPool2 {
    /// Pools `x` and keeps the routing.
    ///
    /// # Shapes
    /// - `x`: `[batch, c, side, side]`; pooled: `[batch, c, side − 1, side − 1]`
    pub(super) fn forward(x: Tensor<4>) -> (Tensor<4>, Self) {
        let views: Vec<Tensor<4>> = OFFSETS.iter().map(|&o| shifted(&x, o)).collect();
        let max = views
            .iter()
            .cloned()
            .reduce(Tensor::max_pair)
            .expect("four views");
        // First maximum wins: a view is chosen where it equals the max and no earlier one did.
        let mut taken: Option<Tensor<4, Bool>> = None;
        let mut masks = Vec::with_capacity(OFFSETS.len());
        for view in &views {
            let is_max = view.clone().equal(max.clone());
            let chosen = match &taken {
                None => is_max.clone(),
                Some(t) => is_max.clone().bool_and(t.clone().bool_not()),
            };
            taken = Some(match taken {
                None => is_max,
                Some(t) => t.bool_or(is_max),
            });
            masks.push(chosen.float());
        }
        // Σ mask·view equals the max, but differentiates as the routing says (masks are
        // constants: comparisons carry no gradient).
        let pooled = views
            .into_iter()
            .zip(&masks)
            .map(|(v, m)| v * m.clone())
            .reduce(|a, b| a + b)
            .expect("four views");
        (pooled, Self { masks })
    }

    /// The gradient at the pool's input from the gradient at its output: each output's
    /// gradient goes to its window's maximum, and overlapping windows add up.
    ///
    /// # Shapes
    /// - `grad`: `[batch, c, side − 1, side − 1]`; output: `[batch, c, side, side]`
    pub(super) fn backward(&self, grad: Tensor<4>) -> Tensor<4> {
        OFFSETS
            .iter()
            .zip(&self.masks)
            .map(|(&(r, c), m)| {
                // Put the routed gradient back where the view was cut from.
                (grad.clone() * m.clone()).pad([(r, 1 - r), (c, 1 - c)], PadMode::Constant(0.0))
            })
            .reduce(|a, b| a + b)
            .expect("four views")
    }
}

/// The `[side − 1, side − 1]` view of `x` starting at `(row, column)`.
fn shifted(x: &Tensor<4>, (r, c): (usize, usize)) -> Tensor<4> {
    let [batch, channels, h, w] = x.dims();
    x.clone()
        .slice([0..batch, 0..channels, r..r + h - 1, c..c + w - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::module::max_pool2d;
    use burn::tensor::ops::MaxPoolOptions;
    use burn::tensor::{Device, TensorData};

    /// Plateaus and repeated values, so that most windows hold a tie.
    fn tied_input(device: &Device) -> Tensor<4> {
        let values: Vec<f32> = (0..2 * 3 * 5 * 5).map(|i| ((i * 7) % 4) as f32).collect();
        Tensor::from_data(TensorData::new(values, [2, 3, 5, 5]), device)
    }

    #[test]
    fn the_pool_routes_ties_to_the_first_maximum_as_burns_max_pool2d_does() {
        let device = Device::flex();
        let ad = device.clone().autodiff();
        let x = tied_input(&device);
        let grad_out: Tensor<4> = Tensor::<1, burn::tensor::Int>::arange(0..2 * 3 * 4 * 4, &device)
            .float()
            .add_scalar(1.0)
            .reshape([2, 3, 4, 4]);
        let (pooled, pool) = MaxPool2::forward(x.clone());
        let ours = pool.backward(grad_out.clone());

        let x_ad = Tensor::<4>::from_data(x.to_data(), &ad).require_grad();
        let options = MaxPoolOptions::new([2, 2]).with_stride([1, 1]);
        let theirs_pooled = max_pool2d(x_ad.clone(), options);
        let weighted = theirs_pooled.clone() * Tensor::from_data(grad_out.to_data(), &ad);
        let theirs = x_ad.grad(&weighted.sum().backward()).unwrap();

        pooled
            .into_data()
            .assert_eq(&theirs_pooled.inner().into_data(), true);
        ours.into_data().assert_eq(&theirs.into_data(), true);
    }

    #[test]
    fn the_weight_and_input_gradients_of_a_padded_strided_conv_match_autodiff() {
        use burn::tensor::Distribution;
        use burn::tensor::module::conv2d;
        use burn::tensor::ops::ConvOptions;
        let device = Device::flex();
        let ad = device.clone().autodiff();
        let x = Tensor::<4>::random([2, 3, 10, 10], Distribution::Default, &device);
        let w = Tensor::<4>::random([4, 3, 3, 3], Distribution::Default, &device);
        let delta = Tensor::<4>::random([2, 4, 5, 5], Distribution::Default, &device);

        let x_ad = Tensor::<4>::from_data(x.to_data(), &ad).require_grad();
        let w_ad = Tensor::<4>::from_data(w.to_data(), &ad).require_grad();
        let z = conv2d(
            x_ad.clone(),
            w_ad.clone(),
            None,
            ConvOptions::new([2, 2], [1, 1], [1, 1], 1),
        ); // [2, 4, 5, 5]
        let grads = (z * Tensor::from_data(delta.to_data(), &ad))
            .sum()
            .backward();

        let dw = conv_weight_grad(x, delta.clone(), 3, 2, 1);
        // Side 10: output padding 1, as no window reaches the bottom padding row.
        let dx = conv_input_grad(delta, w, 2, 1, 10);

        let close = |a: Tensor<4>, b: Tensor<4>| (a - b).abs().max().into_scalar::<f32>();
        assert!(close(dw, w_ad.grad(&grads).unwrap()) < 1e-4);
        assert!(close(dx, x_ad.grad(&grads).unwrap()) < 1e-4);
    }
}
