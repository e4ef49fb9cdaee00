//! The MLP victim (the project's default gradient-inversion target, a sigmoid 784-256-10
//! network): a dense layer's gradient is ∂L/∂W = aᵀδ and ∂L/∂b = Σ_b δ, and the
//! error goes back as δ_prev = (δ Wᵀ) ⊙ f'(a), every step an ordinary tensor op.

use burn::tensor::{Device, Tensor};

use super::{constants, output_delta};
use crate::model::{Activation, Mlp};

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
            .map(|layer| constants(&layer.weight, layer.bias.as_ref(), device))
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
        let mut delta = output_delta(logits, labels, batch); // [batch, classes]
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
