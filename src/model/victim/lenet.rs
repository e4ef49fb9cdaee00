//! The LeNet of DLG's experiments (Zhu, Liu & Han 2019, code `models/vision.py`), with its
//! parameter gradient written explicitly: three 5×5 convolutions of 12 channels (padding 2,
//! strides 2, 2, 1), a sigmoid after each, then one dense layer to the classes. No pooling and
//! a smooth activation everywhere: the model DLG recovers images from. Here with one input
//! channel (Zhu et al. use CIFAR's three): a 28×28 image gives 12·7·7 = 588 features.
//!
//! Weights and biases are uniform in [−0.5, 0.5], as Zhu et al.'s `weights_init` draws them
//! (larger than PyTorch's default, which keeps the sigmoids away from saturation).
//!
//! The backward pass, per convolution ℓ with input a_{ℓ−1} and output a_ℓ = σ(z_ℓ):
//! δ_ℓ = ∂L/∂z_ℓ, ∂L/∂W_ℓ = Σ_b δ_ℓ · cols(a_{ℓ−1})ᵀ, ∂L/∂b_ℓ = Σ δ_ℓ, and
//! δ_{ℓ−1} = convᵀ(δ_ℓ, W_ℓ) ⊙ a_{ℓ−1}(1 − a_{ℓ−1}) (see `ops.rs`).

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use rand::RngExt;
use rand::rngs::StdRng;

use super::ops::{conv_bias_grad, conv_input_grad, conv_out, conv_weight_grad};
use super::output_delta;
use crate::model::Activation;

/// Output channels of every convolution.
const CHANNELS: usize = 12;
/// Kernel side of every convolution.
const KERNEL: usize = 5;
/// Zero padding of every convolution (`KERNEL / 2`).
const PAD: usize = 2;
/// Strides of the three convolutions.
const STRIDES: [usize; 3] = [2, 2, 1];
/// Half-width of the uniform initialisation, Zhu et al.'s `uniform_(-0.5, 0.5)`.
const INIT: f64 = 0.5;

/// DLG's sigmoid LeNet, its weights constants, its parameter gradient written explicitly.
#[derive(Debug, Clone)]
pub struct ExplicitLenet {
    /// `(weight [12, c_in, 5, 5], bias [12])` per convolution, `c_in` 1 then 12.
    convs: Vec<(Tensor<4>, Tensor<1>)>,
    /// `(weight [588, classes], bias [classes])` for 28×28 input (`[d_in, d_out]`, as burn's
    /// `Linear`).
    dense: (Tensor<2>, Tensor<1>),
}

/// A tensor of `shape` uniform in [−`INIT`, `INIT`], drawn from `rng` in row-major order.
fn uniform<const D: usize>(shape: [usize; D], device: &Device, rng: &mut StdRng) -> Tensor<D> {
    let n: usize = shape.iter().product();
    let values: Vec<f64> = (0..n).map(|_| rng.random_range(-INIT..INIT)).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

impl ExplicitLenet {
    /// A LeNet for `side × side` one-channel images and `classes` outputs, every parameter drawn
    /// from `rng` in the order of [`ExplicitLenet::gradients`].
    pub fn new(classes: usize, side: usize, device: &Device, rng: &mut StdRng) -> Self {
        let mut convs = Vec::with_capacity(STRIDES.len());
        let mut s = side;
        let mut c_in = 1;
        for stride in STRIDES {
            let weight = uniform([CHANNELS, c_in, KERNEL, KERNEL], device, rng);
            let bias = uniform([CHANNELS], device, rng);
            convs.push((weight, bias));
            s = conv_out(s, KERNEL, stride, PAD);
            c_in = CHANNELS;
        }
        let features = CHANNELS * s * s; // 588 for side 28
        let dense = (
            uniform([features, classes], device, rng),
            uniform([classes], device, rng),
        );
        Self { convs, dense }
    }

    /// The same weights on `device` (the autodiff device, to attack through them).
    pub fn to_device(&self, device: &Device) -> Self {
        Self {
            convs: self
                .convs
                .iter()
                .map(|(w, b)| (w.clone().to_device(device), b.clone().to_device(device)))
                .collect(),
            dense: (
                self.dense.0.clone().to_device(device),
                self.dense.1.clone().to_device(device),
            ),
        }
    }

    /// The parameters, flat, in the order of [`ExplicitLenet::gradients`]: what a party's
    /// model snapshot holds.
    pub fn parameters(&self) -> Vec<Tensor<1>> {
        let mut params = Vec::with_capacity(2 * self.convs.len() + 2);
        for (w, b) in &self.convs {
            params.push(w.clone().flatten(0, 3));
            params.push(b.clone());
        }
        params.push(self.dense.0.clone().flatten(0, 1));
        params.push(self.dense.1.clone());
        params
    }

    /// The shape of each parameter, in the order of [`ExplicitLenet::gradients`].
    pub fn param_shapes(&self) -> Vec<Vec<usize>> {
        let mut shapes = Vec::with_capacity(2 * self.convs.len() + 2);
        for (w, b) in &self.convs {
            shapes.push(w.dims().to_vec());
            shapes.push(b.dims().to_vec());
        }
        shapes.push(self.dense.0.dims().to_vec());
        shapes.push(self.dense.1.dims().to_vec());
        shapes
    }

    /// Values in each parameter, in the order of [`ExplicitLenet::gradients`].
    pub fn param_sizes(&self) -> Vec<usize> {
        self.param_shapes()
            .iter()
            .map(|s| s.iter().product())
            .collect()
    }

    /// Number of parameters (the length of the flat gradient).
    pub fn num_params(&self) -> usize {
        self.param_sizes().iter().sum()
    }

    /// The input of every convolution (the images, then each sigmoid output), the input of
    /// the dense layer, and the logits.
    ///
    /// # Shapes
    /// - `images`: `[batch, 1, side, side]`
    /// - conv inputs: `[batch, 1, 28, 28]`, `[batch, 12, 14, 14]`, `[batch, 12, 7, 7]`
    /// - dense input: `[batch, 12, 7, 7]`; logits: `[batch, classes]`
    fn trace(&self, images: Tensor<4>) -> (Vec<Tensor<4>>, Tensor<4>, Tensor<2>) {
        let mut x = images;
        let mut inputs = Vec::with_capacity(self.convs.len());
        for ((w, b), stride) in self.convs.iter().zip(STRIDES) {
            inputs.push(x.clone());
            let options = ConvOptions::new([stride, stride], [PAD, PAD], [1, 1], 1);
            x = Activation::Sigmoid.apply(conv2d(x, w.clone(), Some(b.clone()), options));
        }
        let (w, b) = &self.dense;
        let flat: Tensor<2> = x.clone().flatten(1, 3); // [batch, 588]
        let logits = flat.matmul(w.clone()) + b.clone().unsqueeze_dim(0); // [batch, classes]
        (inputs, x, logits)
    }

    /// Logits for a batch of images.
    ///
    /// # Shapes
    /// - `images`: `[batch, 1, side, side]`; output: `[batch, classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.trace(images).2
    }

    /// ∇θ of the mean soft-label cross-entropy of `images` under `labels` (`[batch, classes]`,
    /// rows summing to 1), one flat tensor per parameter: for each convolution its weight
    /// (row-major `[12, c_in, 5, 5]`) then its bias, then the dense weight (row-major
    /// `[588, classes]`) and bias. Differentiable in `images` and `labels`.
    pub fn gradients(&self, images: Tensor<4>, labels: Tensor<2>) -> Vec<Tensor<1>> {
        let [batch, ..] = images.dims();
        let (inputs, features, logits) = self.trace(images);
        let sigmoid = Activation::Sigmoid;
        let delta = output_delta(logits, labels, batch); // [batch, classes]
        let mut grads = Vec::with_capacity(2 * self.convs.len() + 2);

        let (w, _) = &self.dense;
        let flat: Tensor<2> = features.clone().flatten(1, 3); // [batch, 588]
        grads.push(delta.clone().sum_dim(0).flatten::<1>(0, 1)); // bias, pushed in reverse
        grads.push(flat.transpose().matmul(delta.clone()).flatten::<1>(0, 1));
        let back = delta.matmul(w.clone().transpose()); // [batch, 588]
        let mut delta: Tensor<4> =
            back.reshape(features.dims()) * sigmoid.derivative_from_output(features); // [batch, 12, 7, 7]

        for (i, ((w, _), stride)) in self.convs.iter().zip(STRIDES).enumerate().rev() {
            let input = &inputs[i];
            grads.push(conv_bias_grad(delta.clone()));
            let dw = conv_weight_grad(input.clone(), delta.clone(), KERNEL, stride, PAD);
            grads.push(dw.flatten::<1>(0, 3));
            if i > 0 {
                // Back through this convolution, then the sigmoid that produced its input.
                let [.., side, _] = input.dims();
                let back = conv_input_grad(delta, w.clone(), stride, PAD, side); // like `input`
                delta = back * sigmoid.derivative_from_output(input.clone());
            }
        }
        grads.reverse();
        grads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_seed_fixes_the_weights_and_they_lie_in_zhu_et_als_range() {
        let device = Device::flex();
        let a = ExplicitLenet::new(10, 28, &device, &mut StdRng::seed_from_u64(1));
        let b = ExplicitLenet::new(10, 28, &device, &mut StdRng::seed_from_u64(1));
        assert_eq!(a.num_params(), 300 + 12 + 2 * (3600 + 12) + 5880 + 10);
        for (p, q) in a.parameters().into_iter().zip(b.parameters()) {
            let (p, q) = (p.into_data(), q.into_data());
            p.assert_eq(&q, true);
            let values = p.convert::<f32>().try_to_vec::<f32>().unwrap();
            assert!(values.iter().all(|v| v.abs() <= 0.5), "outside [-0.5, 0.5]");
        }
    }

    #[test]
    fn the_logits_of_a_28_pixel_batch_have_one_row_per_image() {
        let device = Device::flex();
        let lenet = ExplicitLenet::new(10, 28, &device, &mut StdRng::seed_from_u64(2));
        let images = Tensor::<4>::ones([3, 1, 28, 28], &device);
        assert_eq!(lenet.forward(images).dims(), [3, 10]);
    }
}
