//! Victim models whose parameter gradient is written out as ordinary tensor operations, for
//! gradient inversion (Zhu, Liu & Han 2019, "Deep Leakage from Gradients").
//!
//! The attacker looks for dummy inputs x' whose gradient matches the observed one:
//! min over x' of ‖∇θ L(x', y') − g*‖². Minimising that needs d/dx' of a function of a
//! gradient, a second-order quantity, and burn 0.22's autodiff is first-order only: a second
//! `backward()` through a gradient is not possible. So the victim computes ∇θ L itself, by the
//! chain rule as tensor ops (the backward pass written forward), and burn's first-order autodiff
//! differentiates *that* with respect to x'. Tests check the written gradient against burn's
//! autodiff (f64) and the matching loss's input gradient against finite differences.
//!
//! The loss is the mean cross-entropy over the batch with soft labels (rows summing to 1), as
//! DLG optimises dummy labels too: for logits z and labels y, ∂L/∂z = (softmax(z) − y) / B.

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

use super::{Activation, Mlp};

/// An MLP's weights as constants, with its parameter gradient written explicitly.
#[derive(Debug, Clone)]
pub struct ExplicitMlp {
    /// `(weight [d_in, d_out], bias [d_out])` per layer, in order.
    layers: Vec<(Tensor<2>, Tensor<1>)>,
    activation: Activation,
}

impl ExplicitMlp {
    /// The weights of `mlp`, detached, on `device`: constants there, so that only the input
    /// (the attacker's dummy images) can carry gradients.
    pub fn of(mlp: &Mlp, device: &Device) -> Self {
        let layers = mlp
            .layers
            .iter()
            .map(|layer| {
                let weight = layer.weight.val().inner().to_device(device);
                let bias = layer
                    .bias
                    .as_ref()
                    .expect("every dense layer of the MLP has a bias")
                    .val()
                    .inner()
                    .to_device(device);
                (weight, bias)
            })
            .collect();
        Self {
            layers,
            activation: mlp.activation,
        }
    }

    /// The same weights on `device` (the autodiff device, to attack through them).
    pub fn to_device(&self, device: &Device) -> Self {
        Self {
            layers: self
                .layers
                .iter()
                .map(|(w, b)| (w.clone().to_device(device), b.clone().to_device(device)))
                .collect(),
            activation: self.activation,
        }
    }

    /// Values in each parameter, in the flat order of [`ExplicitMlp::gradients`].
    pub fn param_sizes(&self) -> Vec<usize> {
        self.layers
            .iter()
            .flat_map(|(w, b)| [w.shape().num_elements(), b.shape().num_elements()])
            .collect()
    }

    /// Number of parameters (the length of the flat gradient).
    pub fn num_params(&self) -> usize {
        self.layers
            .iter()
            .map(|(w, b)| w.shape().num_elements() + b.shape().num_elements())
            .sum()
    }

    /// The input of every layer (the flattened images, then each hidden activation) and the
    /// logits.
    ///
    /// # Shapes
    /// - `images`: `[batch, 1, side, side]`
    /// - inputs: `[batch, d_in]` per layer; logits: `[batch, classes]`
    fn trace(&self, images: Tensor<4>) -> (Vec<Tensor<2>>, Tensor<2>) {
        let mut x: Tensor<2> = images.flatten(1, 3); // [batch, side²]
        let mut inputs = Vec::with_capacity(self.layers.len());
        let last = self.layers.len() - 1;
        for (i, (w, b)) in self.layers.iter().enumerate() {
            inputs.push(x.clone());
            let z = x.matmul(w.clone()) + b.clone().unsqueeze_dim(0); // [batch, d_out]
            x = if i < last {
                self.activation.apply(z)
            } else {
                z
            };
        }
        (inputs, x)
    }

    /// Logits for a batch of images.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.trace(images).1
    }

    /// ∇θ of the mean soft-label cross-entropy of `images` under `labels` (`[batch, classes]`,
    /// rows summing to 1), one flat tensor per parameter in the model's visiting order (each
    /// layer's weight, row-major `[d_in, d_out]`, then its bias): the order of
    /// [`crate::model::flat::to_flat`] and of a federated update.
    pub fn gradients(&self, images: Tensor<4>, labels: Tensor<2>) -> Vec<Tensor<1>> {
        let [batch, ..] = images.dims();
        let (inputs, logits) = self.trace(images);
        // ∂L/∂z of the last layer.
        let mut delta = (softmax(logits, 1) - labels).div_scalar(batch as f64); // [batch, classes]
        let mut grads = Vec::with_capacity(2 * self.layers.len());
        for (i, (w, _)) in self.layers.iter().enumerate().rev() {
            let input = &inputs[i]; // [batch, d_in]
            let dw = input.clone().transpose().matmul(delta.clone()); // [d_in, d_out]
            let db = delta.clone().sum_dim(0).flatten::<1>(0, 1); // [d_out]
            grads.push(db);
            grads.push(dw.flatten::<1>(0, 1));
            if i > 0 {
                // Back through this layer's weight, then the activation that produced `input`.
                let back = delta.matmul(w.clone().transpose()); // [batch, d_in]
                delta = back * self.activation.derivative_from_output(input.clone());
            }
        }
        grads.reverse();
        grads
    }
}

/// Σ over parameters of ‖g − target‖²: DLG's gradient-matching loss.
pub fn squared_distance(gradients: &[Tensor<1>], target: &[Tensor<1>]) -> Tensor<1> {
    gradients
        .iter()
        .zip(target)
        .map(|(g, t)| (g.clone() - t.clone()).powi_scalar(2).sum())
        .reduce(|a, b| a + b)
        .expect("a model has parameters")
}
