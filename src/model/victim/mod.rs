//! Victim models whose parameter gradient is written out as ordinary tensor operations, for
//! gradient inversion (Zhu, Liu & Han 2019, "Deep Leakage from Gradients").
//!
//! The attacker looks for dummy inputs x' whose gradient matches the observed one:
//! min over x' of ‖∇θ L(x', y') − g*‖². Minimising that needs d/dx' of a function of a
//! gradient, a second-order quantity, and burn 0.22's autodiff is first-order only: a second
//! `backward()` through a gradient is not possible. So the victim computes ∇θ L itself, by the
//! chain rule as tensor ops (the backward pass written forward), and burn's first-order autodiff
//! differentiates *that* with respect to x'. Tests (`tests/f64.rs`) check each written gradient
//! against burn's autodiff (f64) and the matching loss's input gradient against finite
//! differences.
//!
//! The loss is the mean cross-entropy over the batch with soft labels (rows summing to 1), as
//! DLG optimises dummy labels too: for logits z and labels y, ∂L/∂z = (softmax(z) − y) / B.
//!
//! Three victims, one per [`Classifier`] kind: [`ExplicitMlp`] (`mlp.rs`), [`ExplicitLenet`]
//! (`lenet.rs`, the LeNet of DLG's experiments) and [`ExplicitCnn`] (`cnn.rs`, the project's
//! Papernot et al. tanh CNN). The convolution and max-pool backward steps they share are in
//! `ops.rs`.

mod cnn;
mod lenet;
mod mlp;
mod ops;

use burn::module::Param;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

use super::Classifier;

pub use cnn::ExplicitCnn;
pub use lenet::ExplicitLenet;
pub use mlp::ExplicitMlp;

/// A victim of the federated models ppml trains (a [`Classifier`]) with its gradient written
/// out: what a gradient-inversion attack differentiates through.
#[derive(Debug, Clone)]
pub enum Victim {
    /// The MLP, whose dense first layer also admits the analytic inversion.
    Mlp(ExplicitMlp),
    /// Papernot et al.'s CNN (max-pool backward as a mask). Boxed: it is several times the
    /// MLP's size, and one victim exists per attacked gradient.
    Cnn(Box<ExplicitCnn>),
    /// DLG's LeNet (three convolutions, no pooling, then dense). Boxed like the CNN.
    Lenet(Box<ExplicitLenet>),
}

impl Victim {
    /// The weights of `model`, as constants on `device`.
    ///
    /// # Panics
    /// On an imprinted model: gradient inversion attacks the honest server's broadcast, and
    /// only the global-model attack plants one.
    pub fn of(model: &Classifier, device: &Device) -> Self {
        match model {
            Classifier::Imprinted(_) => {
                panic!("gradient inversion attacks an honest model, not an imprinted one")
            }
            Classifier::Mlp(m) => Victim::Mlp(ExplicitMlp::of(m, device)),
            Classifier::Cnn(c) => Victim::Cnn(Box::new(ExplicitCnn::of(c, device))),
            Classifier::Lenet(l) => Victim::Lenet(Box::new(ExplicitLenet::of(l, device))),
        }
    }

    /// The same weights on `device`.
    pub fn to_device(&self, device: &Device) -> Self {
        match self {
            Victim::Mlp(m) => Victim::Mlp(m.to_device(device)),
            Victim::Cnn(c) => Victim::Cnn(Box::new(c.to_device(device))),
            Victim::Lenet(l) => Victim::Lenet(Box::new(l.to_device(device))),
        }
    }

    /// Values in each parameter, in the flat order of the gradients.
    pub fn param_sizes(&self) -> Vec<usize> {
        match self {
            Victim::Mlp(m) => m.param_sizes(),
            Victim::Cnn(c) => c.param_sizes(),
            Victim::Lenet(l) => l.param_sizes(),
        }
    }

    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        self.param_sizes().iter().sum()
    }

    /// Logits for a batch of images.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Victim::Mlp(m) => m.forward(images),
            Victim::Cnn(c) => c.forward(images),
            Victim::Lenet(l) => l.forward(images),
        }
    }

    /// ∇θ of the mean soft-label cross-entropy, one flat tensor per parameter in the model's
    /// flat order (that of a federated update).
    pub fn gradients(&self, images: Tensor<4>, labels: Tensor<2>) -> Vec<Tensor<1>> {
        match self {
            Victim::Mlp(m) => m.gradients(images, labels),
            Victim::Cnn(c) => c.gradients(images, labels),
            Victim::Lenet(l) => l.gradients(images, labels),
        }
    }
}

/// A layer's `(weight, bias)`, detached, on `device`: constants there, so that only the input
/// (the attacker's dummy images) can carry gradients.
fn constants<const D: usize>(
    weight: &Param<Tensor<D>>,
    bias: Option<&Param<Tensor<1>>>,
    device: &Device,
) -> (Tensor<D>, Tensor<1>) {
    let bias = bias.expect("every layer of ppml's classifiers has a bias");
    (
        weight.val().inner().to_device(device),
        bias.val().inner().to_device(device),
    )
}

/// ∂L/∂z of the mean soft-label cross-entropy at the logits: (softmax(z) − y) / B.
///
/// # Shapes
/// - `logits`, `labels`, output: `[batch, classes]`
fn output_delta(logits: Tensor<2>, labels: Tensor<2>, batch: usize) -> Tensor<2> {
    (softmax(logits, 1) - labels).div_scalar(batch as f64)
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
