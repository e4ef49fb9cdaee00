//! Gradient inversion: an honest-but-curious server rebuilds a party's training images from the
//! gradient it observed (Zhu, Liu & Han 2019, "Deep Leakage from Gradients"; Zhao, Mopuri &
//! Bilen 2020, "iDLG").
//!
//! The attacker's view ([`GradientView`]) is what such a server holds: the model it broadcast,
//! the gradient a party sent for it (decoded from the upload), and the batch size, which the
//! field assumes the server knows. Nothing else: no images, no labels, no random state of the
//! party. Each attack is one file:
//! - [`analytic`]: a dense first layer with a bias gives each input exactly at batch 1;
//! - [`labels`]: iDLG's rule reading the label off the last layer's gradient;
//! - [`dlg`]: gradient matching by L-BFGS over dummy images (and, in DLG proper, labels);
//! - [`ig`]: Inverting Gradients, cosine matching with a total-variation prior by signed Adam.

pub mod analytic;
pub mod bench;
pub mod dlg;
pub mod ig;
pub mod labels;

use burn::tensor::{Device, Tensor, TensorData};

use crate::model::{ModelDelta, Victim};

/// What an honest-but-curious server observed for one party (or one sum) in a FedSGD round.
#[derive(Debug, Clone)]
pub struct GradientView {
    model: Victim,
    gradient: Vec<Tensor<1>>,
    batch_size: usize,
    side: usize,
    public_softmax: Option<Vec<f64>>,
}

impl GradientView {
    /// The view of a server that broadcast `model` (for `side × side` images) and observed
    /// `gradient`, the mean gradient of a batch of `batch_size` images, in the model's flat
    /// parameter order.
    ///
    /// # Panics
    /// When the gradient does not have the model's parameter count (a programming error).
    pub fn new(
        model: Victim,
        gradient: &ModelDelta,
        batch_size: usize,
        side: usize,
        device: &Device,
    ) -> Self {
        let values = gradient.values();
        assert_eq!(
            values.len(),
            model.num_params(),
            "gradient of another model"
        );
        let mut at = 0;
        let gradient = model
            .param_sizes()
            .into_iter()
            .map(|n| {
                let part = values[at..at + n].to_vec();
                at += n;
                Tensor::from_data(TensorData::new(part, [n]), device)
            })
            .collect();
        Self {
            model,
            gradient,
            batch_size,
            side,
            public_softmax: None,
        }
    }

    /// The same view, with the broadcast model's mean softmax on public data the server owns
    /// (see `labels.rs`): no private input, the server's own model on its own images.
    pub fn with_public_softmax(mut self, mean_softmax: Vec<f64>) -> Self {
        self.public_softmax = Some(mean_softmax);
        self
    }

    /// The broadcast model's mean softmax on the server's public data, when it computed one.
    pub fn public_softmax(&self) -> Option<&[f64]> {
        self.public_softmax.as_deref()
    }

    /// The broadcast model.
    pub fn model(&self) -> &Victim {
        &self.model
    }

    /// The observed gradient, one flat tensor per parameter.
    pub fn gradient(&self) -> &[Tensor<1>] {
        &self.gradient
    }

    /// The model and the observed gradient on `device` (the autodiff device an attack
    /// differentiates on): constants there.
    pub fn on_device(&self, device: &Device) -> (Victim, Vec<Tensor<1>>) {
        let gradient = self
            .gradient
            .iter()
            .map(|g| g.clone().to_device(device))
            .collect();
        (self.model.to_device(device), gradient)
    }

    /// The last parameter's gradient (the last layer's bias) as f64 values: what the label
    /// rules read.
    pub fn last_bias_gradient(&self) -> Vec<f64> {
        self.gradient
            .last()
            .expect("a model has parameters")
            .clone()
            .into_data()
            .convert::<f64>()
            .try_into_vec::<f64>()
            .expect("a float gradient")
    }

    /// Images in the batch behind the gradient.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Side of the (square) images.
    pub fn side(&self) -> usize {
        self.side
    }
}

/// What a gradient-inversion attack returns: its images (pixel values, `side²` each, in the
/// attack's own order: measurement matches them to the originals) and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconstruction {
    /// One image per sample of the batch, row-major.
    pub images: Vec<Vec<f32>>,
    /// The label the attack assigns to each image.
    pub labels: Vec<usize>,
    /// The final objective of the returned images (DLG: the squared gradient distance;
    /// Inverting Gradients: 1 − cosine similarity); `None` for the analytic inversion, which
    /// optimises nothing.
    pub matching_loss: Option<f64>,
    /// Loss-and-gradient evaluations spent.
    pub evaluations: usize,
}
