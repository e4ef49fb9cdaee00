//! The CNN of Papernot et al. 2021, Table 1 (MNIST / Fashion-MNIST):
//! conv 16@8×8 stride 2 pad 3 → maxpool 2 stride 1 → conv 32@4×4 stride 2 → maxpool 2 stride 1
//! → dense 32 → dense classes, with tanh (the "tempered sigmoid") after each hidden layer.
//! Channels and the dense width are configurable so a wider net can serve as the non-private
//! baseline.
//!
//! Two ways through the same function: the burn layers below, which burn's autodiff
//! differentiates (any backend; the GPU's path), and on the CPU backends an explicit forward and
//! backward pass without a tape (`host.rs`, over the loops of `kernels.rs`), which training and
//! inference take there because burn 0.22's CPU pooling and elementwise kernels are slow. Tests
//! hold the two to the same logits and gradients in f64 (`tests/f64.rs`).

mod host;
mod kernels;

use burn::module::Module;
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::rngs::StdRng;

use super::init::{fan_in_bound, seeded_conv};
use super::mlp::dense;
use super::tape::{LayerGrads, TappedLayer, tapped_conv, tapped_linear};
use super::{Activation, ModelConfig};

const K1: usize = 8;
const S1: usize = 2;
const P1: usize = 3;
pub(super) const K2: usize = 4;
pub(super) const S2: usize = 2;
const POOL: usize = 2;

/// Output side of a convolution or pooling layer.
pub(super) const fn out_side(side: usize, kernel: usize, stride: usize, pad: usize) -> usize {
    (side + 2 * pad - kernel) / stride + 1
}

/// Sides of conv1's output, of the pooled map after it, and of conv2's output, for
/// `side × side` input.
pub(super) fn conv_sides(side: usize) -> (usize, usize, usize) {
    let s1 = out_side(side, K1, S1, P1);
    let p1 = out_side(s1, POOL, 1, 0);
    (s1, p1, out_side(p1, K2, S2, 0))
}

/// Side of the feature map entering the dense layers, for `side × side` input.
pub fn feature_side(side: usize) -> usize {
    let s = out_side(side, K1, S1, P1); // conv1: 28 → 14
    let s = out_side(s, POOL, 1, 0); // pool: 14 → 13
    let s = out_side(s, K2, S2, 0); // conv2: 13 → 5
    out_side(s, POOL, 1, 0) // pool: 5 → 4
}

/// Papernot et al.'s two-conv, two-dense network.
#[derive(Module, Debug)]
pub struct Cnn {
    /// The first convolution as a dense layer over 8×8 input patches (im2col): weight
    /// `[64, c1]`, row `kh·8 + kw`. Same function as a `Conv2d`, but burn 0.22's CPU conv kernel
    /// for one input channel is slow (33 ms vs 8 ms for forward + backward at batch 256), and
    /// DP-SGD's per-example norms need this im2col form anyway.
    pub conv1: Linear,
    /// For each output position and kernel offset, the input pixel it reads (`side²` = the
    /// zero padding). `[positions · 64]`.
    #[module(skip)]
    pub conv1_patches: Vec<i64>,
    /// Weight `[c2, c1, 4, 4]`.
    pub conv2: Conv2d,
    /// Max pooling 2×2, stride 1 (used after both convolutions).
    pub pool: MaxPool2d,
    /// `[c2·f², dense]` where `f` is [`feature_side`].
    pub fc1: Linear,
    /// `[dense, classes]`.
    pub fc2: Linear,
    /// The nonlinearity after every hidden layer.
    #[module(skip)]
    pub activation: Activation,
}

impl Cnn {
    /// Builds the CNN of `config`.
    pub fn new(config: &ModelConfig, device: &Device, rng: &mut StdRng) -> Self {
        let [c1, c2] = config.cnn_channels;
        let f = feature_side(config.side);
        Self {
            conv1: dense(K1 * K1, c1, device, rng),
            conv1_patches: patch_indices(config.side, K1, S1, P1),
            conv2: seeded_conv(
                [c1, c2],
                K2,
                [S2, 0],
                fan_in_bound(c1 * K2 * K2),
                device,
                rng,
            ),
            pool: MaxPool2dConfig::new([POOL, POOL])
                .with_strides([1, 1])
                .init(),
            fc1: dense(c2 * f * f, config.cnn_dense, device, rng),
            fc2: dense(config.cnn_dense, config.classes, device, rng),
            activation: config.activation,
        }
    }

    /// # Shapes
    /// - `images`: `[batch, 1, 28, 28]`
    /// - output: `[batch, classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let device = images.device();
        if !device.is_autodiff() && crate::device::on_host(&device) {
            // Inference on a CPU: the same function through `host.rs`'s kernels.
            return self.host_forward(images);
        }
        let act = self.activation;
        let [batch, _, side, _] = images.dims();
        let s1 = out_side(side, K1, S1, P1);
        let patches = self.patches_of(images); // [batch, 196, 64]
        let c1 = self.conv1.weight.dims()[1];
        let x = self
            .conv1
            .forward(patches.reshape([batch * s1 * s1, K1 * K1])) // [batch·196, c1]
            .reshape([batch, s1, s1, c1])
            .permute([0, 3, 1, 2]); // [batch, c1, 14, 14]
        let x = act.apply(x);
        let x = self.pool.forward(x); // [batch, c1, 13, 13]
        let x = act.apply(self.conv2.forward(x)); // [batch, c2, 5, 5]
        let x = self.pool.forward(x); // [batch, c2, 4, 4]
        let x: Tensor<2> = x.flatten(1, 3); // [batch, c2·16]
        let x = act.apply(self.fc1.forward(x)); // [batch, dense]
        self.fc2.forward(x) // [batch, classes]
    }

    /// [`Cnn::forward`] with every layer tapped (see `tape.rs`); same logits. The second
    /// convolution runs as unfold + matmul here, so its patches are at hand for the
    /// per-example gradients.
    pub fn forward_tapped(&self, images: Tensor<4>, tapes: &mut Vec<TappedLayer>) -> Tensor<2> {
        let act = self.activation;
        let [batch, _, side, _] = images.dims();
        let s1 = out_side(side, K1, S1, P1);
        let patches = self.patches_of(images); // [batch, 196, 64]
        let c1 = self.conv1.weight.dims()[1];
        let x = tapped_linear(patches, &self.conv1, tapes) // [batch, 196, c1]
            .reshape([batch, s1, s1, c1])
            .permute([0, 3, 1, 2]); // [batch, c1, 14, 14]
        let x = self.pool.forward(act.apply(x)); // [batch, c1, 13, 13]

        let x = tapped_conv(x, &self.conv2, tapes); // [batch, c2, 5, 5]
        let x = self.pool.forward(act.apply(x)); // [batch, c2, 4, 4]

        let x: Tensor<3> = x.flatten::<2>(1, 3).unsqueeze_dim(1); // [batch, 1, c2·16]
        let x = act.apply(tapped_linear(x, &self.fc1, tapes)); // [batch, 1, dense]
        let x = tapped_linear(x, &self.fc2, tapes); // [batch, 1, classes]
        let classes = x.dims()[2];
        x.reshape([batch, classes])
    }

    /// Each layer's input and output gradient δ when the gradient at the logits is
    /// `output_grad(logits)` (the taps' gradients of [`Cnn::forward_tapped`], without a tape),
    /// and the logits, detached: on a CPU backend only (`host.rs`), `None` elsewhere.
    pub fn backprop_with(
        &self,
        images: Tensor<4>,
        output_grad: impl FnOnce(Tensor<2>) -> Tensor<2>,
    ) -> Option<(Vec<LayerGrads>, Tensor<2>)> {
        crate::device::on_host(&images.device()).then(|| self.host_backprop(images, output_grad))
    }

    /// The 8×8 input patches of the first convolution, zero padding included.
    ///
    /// # Shapes
    /// - `images`: `[batch, 1, side, side]`
    /// - output: `[batch, positions, 64]`
    fn patches_of(&self, images: Tensor<4>) -> Tensor<3> {
        gather_patches(images, &self.conv1_patches)
    }
}

/// The 8×8 input patches that `indices` (from [`patch_indices`], as in [`Cnn::conv1_patches`])
/// pick from `images`, zero padding included: conv1's im2col, a differentiable gather.
///
/// # Shapes
/// - `images`: `[batch, 1, side, side]`
/// - output: `[batch, positions, 64]`
pub(super) fn gather_patches(images: Tensor<4>, indices: &[i64]) -> Tensor<3> {
    let [batch, _, side, _] = images.dims();
    let device = images.device();
    let s1 = out_side(side, K1, S1, P1);
    let flat: Tensor<2> = images.reshape([batch, side * side]);
    let padded = Tensor::cat(vec![flat, Tensor::zeros([batch, 1], &device)], 1); // [batch, side² + 1]
    let n = indices.len();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(indices.to_vec(), [n]), &device);
    padded.select(1, idx).reshape([batch, s1 * s1, K1 * K1])
}

/// im2col indices for a one-channel `side × side` image: for each output position (row-major)
/// and kernel offset `(kh, kw)`, the flat index of the input pixel, or `side²` where the kernel
/// overlaps the zero padding.
fn patch_indices(side: usize, kernel: usize, stride: usize, pad: usize) -> Vec<i64> {
    let out = out_side(side, kernel, stride, pad);
    let mut idx = Vec::with_capacity(out * out * kernel * kernel);
    for oh in 0..out {
        for ow in 0..out {
            for kh in 0..kernel {
                for kw in 0..kernel {
                    let (r, c) = (
                        (oh * stride + kh) as isize - pad as isize,
                        (ow * stride + kw) as isize - pad as isize,
                    );
                    let inside = (0..side as isize).contains(&r) && (0..side as isize).contains(&c);
                    idx.push(if inside {
                        r as i64 * side as i64 + c as i64
                    } else {
                        (side * side) as i64
                    });
                }
            }
        }
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use rand::SeedableRng;

    #[test]
    fn feature_map_of_a_28_pixel_image_is_4_by_4() {
        assert_eq!(feature_side(28), 4);
    }

    /// The im2col first layer computes exactly what burn's `Conv2d` computes with the same
    /// weights, padding included.
    #[test]
    fn im2col_conv1_matches_burns_conv2d() {
        let device = Device::flex();
        let mut rng = StdRng::seed_from_u64(3);
        let c1 = 5;
        let dense = dense(K1 * K1, c1, &device, &mut rng);
        let bound = fan_in_bound(K1 * K1);
        let mut reference = seeded_conv([1, c1], K1, [S1, P1], bound, &device, &mut rng);
        // Conv2d weight [c1, 1, 8, 8] from the dense weight [64, c1].
        let w: Tensor<2> = dense.weight.val();
        reference.weight = Param::from_tensor(w.transpose().reshape([c1, 1, K1, K1]));
        reference.bias = dense.bias.clone();
        let images =
            Tensor::<4>::random([3, 1, 28, 28], burn::tensor::Distribution::Default, &device);

        let idx = patch_indices(28, K1, S1, P1);
        let n = idx.len();
        let flat: Tensor<2> = images.clone().reshape([3, 784]);
        let padded = Tensor::cat(vec![flat, Tensor::zeros([3, 1], &device)], 1);
        let patches = padded.select(
            1,
            Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), &device),
        );
        let ours: Tensor<4> = dense
            .forward(patches.reshape([3 * 196, 64]))
            .reshape([3, 14, 14, c1])
            .permute([0, 3, 1, 2]);
        let theirs = reference.forward(images);
        let diff = (ours - theirs).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-5, "max difference {diff}");
    }
}
