//! The classifiers every experiment trains and attacks: an MLP, the small tanh CNN of
//! Papernot et al. 2021 ("Tempered sigmoid activations for deep learning with differential
//! privacy"), with widths and activation configurable, and the LeNet of DLG's experiments
//! (Zhu et al. 2019, "Deep Leakage from Gradients"), with its activation configurable.
//!
//! Parameters are drawn from the run's seeded RNG (see `init.rs`), not from burn's global
//! generator, so a seed fixes the initial weights on every backend.

mod cnn;
mod config;
pub mod flat;
mod footprint;
pub mod imprint;
mod imprinted;
mod init;
mod layout;
mod lenet;
mod mlp;
mod spec;
mod tape;
pub mod victim;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, activation};
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

pub use cnn::Cnn;
pub use config::{ModelConfig, ModelKind};
pub use footprint::{Footprint, available_memory};
pub use imprinted::{Honest, IMPRINT_BIAS, IMPRINT_WEIGHT, Imprinted};
pub use init::{fan_in_bound, seeded_linear};
pub use layout::{ModelDelta, ModelSnapshot, ParamLayout, ParamSpec};
pub use lenet::Lenet;
pub use mlp::Mlp;
pub use spec::ModelSpec;
pub use tape::{LayerGrads, TappedLayer, WeightLayout};
pub use victim::{ExplicitCnn, ExplicitLenet, ExplicitMlp, Victim};

/// The nonlinearity between layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// tanh: the tempered sigmoid Papernot et al. recommend under DP-SGD.
    #[default]
    Tanh,
    /// ReLU.
    Relu,
    /// The logistic sigmoid: the activation of the models DLG attacks (Zhu et al. 2019), whose
    /// smooth, nowhere-flat gradient is what lets gradient matching recover inputs.
    Sigmoid,
}

impl Activation {
    /// Applies the nonlinearity elementwise.
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            // tanh(x) = 2σ(2x) − 1, an exact identity. burn 0.22's CPU tanh (forward and
            // backward) is about 3.5× slower than its sigmoid: measured 35 ms vs 10 ms for a
            // forward + backward pass over the 256×16×14×14 activations of the CNN's first layer.
            Activation::Tanh => activation::sigmoid(x.mul_scalar(2.0))
                .mul_scalar(2.0)
                .sub_scalar(1.0),
            Activation::Relu => activation::relu(x),
            Activation::Sigmoid => activation::sigmoid(x),
        }
    }

    /// The derivative at the pre-activation, written from the activation's output `y`:
    /// tanh: 1 − y², sigmoid: y(1 − y), ReLU: 1 where y > 0. Used by the explicit parameter
    /// gradients of gradient inversion (see `victim/`), which must stay differentiable in
    /// the input: these are ordinary tensor ops (ReLU's mask is a constant).
    pub fn derivative_from_output<const D: usize>(self, y: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Tanh => y.clone().mul(y).neg().add_scalar(1.0),
            Activation::Sigmoid => y.clone().mul(y.neg().add_scalar(1.0)),
            Activation::Relu => y.greater_elem(0.0).float(),
        }
    }
}

/// A classifier of `[batch, 1, side, side]` images into `classes` logits.
// A model exists once or twice per run, so the size difference of the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Classifier {
    /// Fully connected network.
    Mlp(Mlp),
    /// Convolutional network.
    Cnn(Cnn),
    /// DLG's LeNet.
    Lenet(Lenet),
    /// A malicious server's imprint block in front of one of the others (never built from a
    /// config: only a server that plants it makes one).
    Imprinted(Imprinted),
}

impl Classifier {
    /// Builds the model described by `config`, weights drawn from `rng`.
    pub fn new(config: &ModelConfig, device: &Device, rng: &mut StdRng) -> Self {
        match config.kind {
            ModelKind::Mlp => Classifier::Mlp(Mlp::new(config, device, rng)),
            ModelKind::Cnn => Classifier::Cnn(Cnn::new(config, device, rng)),
            ModelKind::Lenet => Classifier::Lenet(Lenet::new(config, device, rng)),
        }
    }

    /// Logits for a batch of images.
    ///
    /// # Shapes
    /// - `images`: `[batch, 1, side, side]`, values in `[0, 1]`
    /// - output: `[batch, classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Classifier::Mlp(m) => m.forward(images),
            Classifier::Cnn(m) => m.forward(images),
            Classifier::Lenet(m) => m.forward(images),
            Classifier::Imprinted(m) => m.forward(images),
        }
    }

    /// Every trainable layer's input and per-example output gradient δ of the summed
    /// cross-entropy (what the taps of [`Classifier::forward_tapped`] give after a backward
    /// pass), and the detached logits, from an explicit backward pass without burn's tape:
    /// the CNN on a CPU backend. `None` where there is none; train then uses the tape.
    pub fn backprop(
        &self,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
    ) -> Option<(Vec<LayerGrads>, Tensor<2>)> {
        self.backprop_with(images, |logits| {
            // ∂/∂z of Σ_b −log softmax(z_b)[y_b]: softmax(z) − onehot(y), row by row.
            let classes = logits.dims()[1];
            let onehot: Tensor<2> = labels.inner().one_hot::<2>(classes).float();
            activation::softmax(logits, 1) - onehot
        })
    }

    /// [`Classifier::backprop`] for any loss of the logits: `output_grad` gives ∂L/∂logits
    /// from the (detached) logits, and each layer's δ is the gradient of that same L.
    pub fn backprop_with(
        &self,
        images: Tensor<4>,
        output_grad: impl FnOnce(Tensor<2>) -> Tensor<2>,
    ) -> Option<(Vec<LayerGrads>, Tensor<2>)> {
        match self {
            Classifier::Cnn(m) => m.backprop_with(images, output_grad),
            Classifier::Mlp(_) | Classifier::Lenet(_) | Classifier::Imprinted(_) => None,
        }
    }

    /// [`Classifier::forward`] that also records, for every trainable layer, its input and a
    /// zero "tap" on its output whose gradient is the per-example output gradient (DP-SGD's
    /// per-example norms; see `tape.rs`). Layers are pushed in forward order.
    pub fn forward_tapped(&self, images: Tensor<4>, tapes: &mut Vec<TappedLayer>) -> Tensor<2> {
        match self {
            Classifier::Mlp(m) => m.forward_tapped(images, tapes),
            Classifier::Cnn(m) => m.forward_tapped(images, tapes),
            Classifier::Lenet(m) => m.forward_tapped(images, tapes),
            Classifier::Imprinted(m) => m.forward_tapped(images, tapes),
        }
    }
}
