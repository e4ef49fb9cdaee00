//! A fully connected classifier: `side² → hidden… → classes`.

use std::ops::Range;

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};
use rand::rngs::StdRng;

use super::init::{fan_in_bound, seeded_linear};
use super::tape::{TappedLayer, tapped_linear};
use super::{Activation, ModelConfig};

/// Dense layers with the activation between them (none after the last).
#[derive(Module, Debug)]
pub struct Mlp {
    /// Layers in order; `layers[i].weight` is `[d_in, d_out]`.
    pub layers: Vec<Linear>,
    /// The nonlinearity after every layer but the last.
    #[module(skip)]
    pub activation: Activation,
}

/// A dense layer with PyTorch-style seeded initialisation.
pub(super) fn dense(d_in: usize, d_out: usize, device: &Device, rng: &mut StdRng) -> Linear {
    seeded_linear(d_in, d_out, fan_in_bound(d_in), device, rng)
}

impl Mlp {
    /// Builds the MLP of `config`.
    pub fn new(config: &ModelConfig, device: &Device, rng: &mut StdRng) -> Self {
        let widths: Vec<usize> = std::iter::once(config.side * config.side)
            .chain(config.mlp_hidden.iter().copied())
            .chain(std::iter::once(config.classes))
            .collect();
        let layers = widths
            .windows(2)
            .map(|w| dense(w[0], w[1], device, rng))
            .collect();
        Self {
            layers,
            activation: config.activation,
        }
    }

    /// # Shapes
    /// - `images`: `[batch, 1, side, side]`
    /// - output: `[batch, classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x: Tensor<2> = images.flatten(1, 3); // [batch, side²]
        self.forward_span(x, 0..self.layers.len())
    }

    /// [`Mlp::forward`] with every layer tapped (see `tape.rs`); same logits.
    pub fn forward_tapped(&self, images: Tensor<4>, tapes: &mut Vec<TappedLayer>) -> Tensor<2> {
        let batch = images.dims()[0];
        let x: Tensor<3> = images.flatten::<2>(1, 3).unsqueeze_dim(1); // [batch, 1, side²]
        let x = self.forward_span_tapped(x, 0..self.layers.len(), tapes); // [batch, 1, classes]
        let classes = x.dims()[2];
        x.reshape([batch, classes])
    }

    /// The layers in `span` alone, each followed by the activation unless it is the network's
    /// last: the MLP cut where a block is planted between two of its layers (`imprinted.rs`).
    ///
    /// # Shapes
    /// - `x`: `[batch, d_in of layers[span.start]]`
    /// - output: `[batch, d_out of layers[span.end − 1]]`
    pub fn forward_span(&self, mut x: Tensor<2>, span: Range<usize>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        for i in span {
            x = self.layers[i].forward(x);
            if i < last {
                x = self.activation.apply(x);
            }
        }
        x
    }

    /// [`Mlp::forward_span`] with every layer tapped (see `tape.rs`).
    ///
    /// # Shapes
    /// - `x`: `[batch, 1, d_in]`; output: `[batch, 1, d_out]`
    pub fn forward_span_tapped(
        &self,
        mut x: Tensor<3>,
        span: Range<usize>,
        tapes: &mut Vec<TappedLayer>,
    ) -> Tensor<3> {
        let last = self.layers.len() - 1;
        for i in span {
            x = tapped_linear(x, &self.layers[i], tapes); // [batch, 1, d_out]
            if i < last {
                x = self.activation.apply(x);
            }
        }
        x
    }
}
