//! The LeNet of DLG's experiments ([`Lenet`], Zhu, Liu & Han 2019, code `models/vision.py`:
//! three 5×5 convolutions of 12 channels, padding 2, strides 2, 2, 1, the activation after each,
//! then one dense layer) with its parameter gradient written explicitly. With the sigmoid, no
//! pooling and a smooth activation everywhere: the model DLG recovers images from.
//!
//! The backward pass, per convolution ℓ with input a_{ℓ−1} and output a_ℓ = f(z_ℓ):
//! δ_ℓ = ∂L/∂z_ℓ, ∂L/∂W_ℓ = Σ_b δ_ℓ · cols(a_{ℓ−1})ᵀ, ∂L/∂b_ℓ = Σ δ_ℓ, and
//! δ_{ℓ−1} = convᵀ(δ_ℓ, W_ℓ) ⊙ f′ at a_{ℓ−1} (sigmoid: a_{ℓ−1}(1 − a_{ℓ−1})) (see `ops.rs`).

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};
use rand::rngs::StdRng;

use super::ops::{conv_bias_grad, conv_input_grad, conv_weight_grad};
use super::{constants, output_delta};
use crate::model::lenet::{KERNEL, PAD, STRIDES};
use crate::model::{Activation, Lenet, ModelKind, ModelSpec};

/// DLG's LeNet, its weights constants, its parameter gradient written explicitly.
#[derive(Debug, Clone)]
pub struct ExplicitLenet {
    /// `(weight [12, c_in, 5, 5], bias [12])` per convolution, `c_in` 1 then 12.
    convs: Vec<(Tensor<4>, Tensor<1>)>,
    /// `(weight [588, classes], bias [classes])` for 28×28 input (`[d_in, d_out]`, as burn's
    /// `Linear`).
    dense: (Tensor<2>, Tensor<1>),
    /// The nonlinearity after every convolution.
    activation: Activation,
}

impl ExplicitLenet {
    /// The weights of `lenet`, detached, on `device`: constants there, so that only the input
    /// (the attacker's dummy images) can carry gradients.
    pub fn of(lenet: &Lenet, device: &Device) -> Self {
        let convs = lenet
            .convs()
            .into_iter()
            .map(|conv| constants(&conv.weight, conv.bias.as_ref(), device))
            .collect();
        Self {
            convs,
            dense: constants(&lenet.fc.weight, lenet.fc.bias.as_ref(), device),
            activation: lenet.activation,
        }
    }

    /// A fresh LeNet with `activation` for `side × side` one-channel images and `classes`
    /// outputs, drawn from `rng` as [`Lenet::new`] draws it (`Sigmoid`: DLG's model).
    pub fn new(
        activation: Activation,
        classes: usize,
        side: usize,
        device: &Device,
        rng: &mut StdRng,
    ) -> Self {
        let spec = ModelSpec {
            kind: ModelKind::Lenet,
            activation,
            ..ModelSpec::default()
        };
        Self::of(
            &Lenet::new(&spec.for_data(side, classes), device, rng),
            device,
        )
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
            activation: self.activation,
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

    /// The input of every convolution (the images, then each activation's output), the input of
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
            x = self
                .activation
                .apply(conv2d(x, w.clone(), Some(b.clone()), options));
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
    /// rows summing to 1), one flat tensor per parameter in the order of
    /// [`crate::model::flat::to_flat`] on the [`Lenet`] (that of a federated update): for each
    /// convolution its weight (row-major `[12, c_in, 5, 5]`) then its bias, then the dense
    /// weight (row-major `[588, classes]`) and bias. Differentiable in `images` and `labels`.
    pub fn gradients(&self, images: Tensor<4>, labels: Tensor<2>) -> Vec<Tensor<1>> {
        let [batch, ..] = images.dims();
        let (inputs, features, logits) = self.trace(images);
        let act = self.activation;
        let delta = output_delta(logits, labels, batch); // [batch, classes]
        let mut grads = Vec::with_capacity(2 * self.convs.len() + 2);

        let (w, _) = &self.dense;
        let flat: Tensor<2> = features.clone().flatten(1, 3); // [batch, 588]
        grads.push(delta.clone().sum_dim(0).flatten::<1>(0, 1)); // bias, pushed in reverse
        grads.push(flat.transpose().matmul(delta.clone()).flatten::<1>(0, 1));
        let back = delta.matmul(w.clone().transpose()); // [batch, 588]
        let mut delta: Tensor<4> =
            back.reshape(features.dims()) * act.derivative_from_output(features); // [batch, 12, 7, 7]

        for (i, ((w, _), stride)) in self.convs.iter().zip(STRIDES).enumerate().rev() {
            let input = &inputs[i];
            grads.push(conv_bias_grad(delta.clone()));
            let dw = conv_weight_grad(input.clone(), delta.clone(), KERNEL, stride, PAD);
            grads.push(dw.flatten::<1>(0, 3));
            if i > 0 {
                // Back through this convolution, then the activation that produced its input.
                let [.., side, _] = input.dims();
                let back = conv_input_grad(delta, w.clone(), stride, PAD, side); // like `input`
                delta = back * act.derivative_from_output(input.clone());
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
        let sigmoid = Activation::Sigmoid;
        let a = ExplicitLenet::new(sigmoid, 10, 28, &device, &mut StdRng::seed_from_u64(1));
        let b = ExplicitLenet::new(sigmoid, 10, 28, &device, &mut StdRng::seed_from_u64(1));
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
        let mut rng = StdRng::seed_from_u64(2);
        let lenet = ExplicitLenet::new(Activation::Tanh, 10, 28, &device, &mut rng);
        let images = Tensor::<4>::ones([3, 1, 28, 28], &device);
        assert_eq!(lenet.forward(images).dims(), [3, 10]);
    }
}
