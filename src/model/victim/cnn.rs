//! The project's CNN (Papernot et al. 2021, Table 1: conv 8×8 stride 2 → max-pool 2×2 stride 1
//! → conv 4×4 stride 2 → max-pool → dense → dense, tanh after every hidden layer) as a
//! gradient-inversion victim, its parameter gradient written explicitly.
//!
//! The layers, as [`Cnn::forward`] runs them, with a = f(z) after each hidden layer:
//! conv1 is a dense layer over the 8×8 input patches (im2col by a gather), so
//! ∂L/∂W₁ = Σ patchesᵀ δ₁ like any dense layer; conv2 is a convolution, whose weight gradient
//! and input gradient are `ops.rs`'s im2col matmul and transposed convolution; each max-pool
//! sends its output's gradient to the maximum of every 2×2 window (`ops.rs`). Backward, per
//! hidden layer: δ = (gradient at a) ⊙ f'(z), written from a (tanh: 1 − a²).

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

use super::ops::{MaxPool2, conv_bias_grad, conv_input_grad, conv_weight_grad};
use super::{constants, output_delta};
use crate::model::cnn::{K2, S2, gather_patches};
use crate::model::{Activation, Cnn};

/// A dense layer's `(weight [d_in, d_out], bias [d_out])`.
type Dense = (Tensor<2>, Tensor<1>);

/// Papernot et al.'s CNN, its weights constants, its parameter gradient written explicitly.
#[derive(Debug, Clone)]
pub struct ExplicitCnn {
    /// The first convolution as a dense layer over 8×8 patches: `[64, c1]`, `[c1]`.
    conv1: Dense,
    /// For each conv1 output position and kernel offset, the input pixel it reads (`side²` for
    /// the padding), as in [`Cnn::conv1_patches`].
    patches: Vec<i64>,
    /// The second convolution: `[c2, c1, 4, 4]`, `[c2]`.
    conv2: (Tensor<4>, Tensor<1>),
    /// `[c2·4·4, dense]`, `[dense]`.
    fc1: Dense,
    /// `[dense, classes]`, `[classes]`.
    fc2: Dense,
    activation: Activation,
}

/// What the backward pass needs from the forward one.
struct Trace {
    /// conv1's 8×8 input patches, `[batch, positions, 64]`.
    patches: Tensor<3>,
    /// conv1's activation before pooling, `[batch, c1, 14, 14]`.
    a1: Tensor<4>,
    pool1: MaxPool2,
    /// The pooled conv1 map, conv2's input, `[batch, c1, 13, 13]`.
    p1: Tensor<4>,
    /// conv2's activation before pooling, `[batch, c2, 5, 5]`.
    a2: Tensor<4>,
    pool2: MaxPool2,
    /// The pooled conv2 map, flattened: fc1's input, `[batch, c2·16]`.
    p2: Tensor<2>,
    /// fc1's activation, fc2's input, `[batch, dense]`.
    a3: Tensor<2>,
    /// `[batch, classes]`.
    logits: Tensor<2>,
}

/// `(weight, bias)` of a burn `Linear`, detached, on `device`.
fn dense_of(layer: &burn::nn::Linear, device: &Device) -> Dense {
    constants(&layer.weight, layer.bias.as_ref(), device)
}

impl ExplicitCnn {
    /// The weights of `cnn`, detached, on `device`: constants there, so that only the input
    /// (the attacker's dummy images) can carry gradients.
    pub fn of(cnn: &Cnn, device: &Device) -> Self {
        Self {
            conv1: dense_of(&cnn.conv1, device),
            patches: cnn.conv1_patches.clone(),
            conv2: constants(&cnn.conv2.weight, cnn.conv2.bias.as_ref(), device),
            fc1: dense_of(&cnn.fc1, device),
            fc2: dense_of(&cnn.fc2, device),
            activation: cnn.activation,
        }
    }

    /// The same weights on `device` (the autodiff device, to attack through them).
    pub fn to_device(&self, device: &Device) -> Self {
        let dense = |(w, b): &Dense| (w.clone().to_device(device), b.clone().to_device(device));
        Self {
            conv1: dense(&self.conv1),
            patches: self.patches.clone(),
            conv2: (
                self.conv2.0.clone().to_device(device),
                self.conv2.1.clone().to_device(device),
            ),
            fc1: dense(&self.fc1),
            fc2: dense(&self.fc2),
            activation: self.activation,
        }
    }

    /// Values in each parameter, in the flat order of [`ExplicitCnn::gradients`].
    pub fn param_sizes(&self) -> Vec<usize> {
        let n = |dims: &[usize]| dims.iter().product::<usize>();
        vec![
            n(&self.conv1.0.dims()),
            n(&self.conv1.1.dims()),
            n(&self.conv2.0.dims()),
            n(&self.conv2.1.dims()),
            n(&self.fc1.0.dims()),
            n(&self.fc1.1.dims()),
            n(&self.fc2.0.dims()),
            n(&self.fc2.1.dims()),
        ]
    }

    /// Number of parameters (the length of the flat gradient).
    pub fn num_params(&self) -> usize {
        self.param_sizes().iter().sum()
    }

    /// The forward pass of [`Cnn::forward`], keeping what the backward pass reads.
    ///
    /// # Shapes
    /// - `images`: `[batch, 1, 28, 28]` (sides in the comments are for 28)
    fn trace(&self, images: Tensor<4>) -> Trace {
        let act = self.activation;
        let [batch, ..] = images.dims();
        let patches = gather_patches(images, &self.patches); // [batch, 196, 64]
        let [_, positions, taps] = patches.dims();
        let s1 = (positions as f64).sqrt().round() as usize; // 14: the positions form a square
        let (w1, b1) = &self.conv1;
        let c1 = w1.dims()[1];
        let z1 = patches
            .clone()
            .reshape([batch * positions, taps])
            .matmul(w1.clone())
            + b1.clone().unsqueeze_dim(0); // [batch·196, c1]
        let z1: Tensor<4> = z1.reshape([batch, s1, s1, c1]).permute([0, 3, 1, 2]); // [batch, c1, 14, 14]
        let a1 = act.apply(z1);
        let (p1, pool1) = MaxPool2::forward(a1.clone()); // [batch, c1, 13, 13]

        let (w2, b2) = &self.conv2;
        let options = ConvOptions::new([S2, S2], [0, 0], [1, 1], 1);
        let a2 = act.apply(conv2d(p1.clone(), w2.clone(), Some(b2.clone()), options)); // [batch, c2, 5, 5]
        let (p2, pool2) = MaxPool2::forward(a2.clone()); // [batch, c2, 4, 4]
        let p2: Tensor<2> = p2.flatten(1, 3); // [batch, c2·16]

        let (w3, b3) = &self.fc1;
        let a3 = act.apply(p2.clone().matmul(w3.clone()) + b3.clone().unsqueeze_dim(0)); // [batch, dense]
        let (w4, b4) = &self.fc2;
        let logits = a3.clone().matmul(w4.clone()) + b4.clone().unsqueeze_dim(0); // [batch, classes]
        Trace {
            patches,
            a1,
            pool1,
            p1,
            a2,
            pool2,
            p2,
            a3,
            logits,
        }
    }

    /// Logits for a batch of images: [`Cnn::forward`] with these weights.
    ///
    /// # Shapes
    /// - `images`: `[batch, 1, side, side]`; output: `[batch, classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.trace(images).logits
    }

    /// ∇θ of the mean soft-label cross-entropy of `images` under `labels` (`[batch, classes]`,
    /// rows summing to 1), one flat tensor per parameter in the order of
    /// [`crate::model::flat::to_flat`] on the [`Cnn`]: `conv1.weight` (`[64, c1]`),
    /// `conv1.bias`, `conv2.weight` (`[c2, c1, 4, 4]`), `conv2.bias`, `fc1.weight`
    /// (`[c2·16, dense]`), `fc1.bias`, `fc2.weight` (`[dense, classes]`), `fc2.bias`, each
    /// row-major. Differentiable in `images` and `labels`.
    pub fn gradients(&self, images: Tensor<4>, labels: Tensor<2>) -> Vec<Tensor<1>> {
        let act = self.activation;
        let [batch, ..] = images.dims();
        let t = self.trace(images);
        let dense_grads = |input: Tensor<2>, delta: Tensor<2>| {
            let dw = input.transpose().matmul(delta.clone()).flatten::<1>(0, 1);
            (dw, delta.sum_dim(0).flatten::<1>(0, 1))
        };

        // fc2, then back through its weight and fc1's activation.
        let delta4 = output_delta(t.logits, labels, batch); // [batch, classes]
        let (dw4, db4) = dense_grads(t.a3.clone(), delta4.clone());
        let back = delta4.matmul(self.fc2.0.clone().transpose()); // [batch, dense]
        let delta3 = back * act.derivative_from_output(t.a3);

        // fc1, then back to the pooled conv2 map, through the pool to conv2's activation.
        let (dw3, db3) = dense_grads(t.p2, delta3.clone());
        let back = delta3.matmul(self.fc1.0.clone().transpose()); // [batch, c2·16]
        let [_, c2, s2, _] = t.a2.dims();
        let pooled = back.reshape([batch, c2, s2 - 1, s2 - 1]); // [batch, c2, 4, 4]
        let delta2 = t.pool2.backward(pooled) * act.derivative_from_output(t.a2); // [batch, c2, 5, 5]

        // conv2, then back to its input (the pooled conv1 map), through pool1 to conv1.
        let (w2, _) = &self.conv2;
        let [.., p1_side, _] = t.p1.dims();
        let db2 = conv_bias_grad(delta2.clone());
        let dw2 = conv_weight_grad(t.p1, delta2.clone(), K2, S2, 0).flatten::<1>(0, 3);
        let back = conv_input_grad(delta2, w2.clone(), S2, 0, p1_side); // [batch, c1, 13, 13]
        let delta1 = t.pool1.backward(back) * act.derivative_from_output(t.a1.clone()); // [batch, c1, 14, 14]

        // conv1 as a dense layer over patches: rows are (example, position) pairs.
        let [_, positions, taps] = t.patches.dims();
        let [_, c1, ..] = t.a1.dims();
        let delta1: Tensor<2> = delta1
            .permute([0, 2, 3, 1]) // [batch, 14, 14, c1]
            .reshape([batch * positions, c1]);
        let (dw1, db1) = dense_grads(t.patches.reshape([batch * positions, taps]), delta1);

        vec![dw1, db1, dw2, db2, dw3, db3, dw4, db4]
    }
}
