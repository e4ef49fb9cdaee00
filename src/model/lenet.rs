//! The LeNet of DLG's experiments (Zhu, Liu & Han 2019, "Deep Leakage from Gradients", code
//! `models/vision.py`): three 5×5 convolutions of 12 channels (padding 2, strides 2, 2, 1), the
//! activation after each, then one dense layer to the classes. With `activation = "sigmoid"` it
//! is DLG's model: no pooling and a smooth activation everywhere, so its gradient keeps enough
//! of the input for gradient matching to recover it. Here with one input channel (Zhu et al.
//! use CIFAR's three): a 28×28 image gives 12·7·7 = 588 features.
//!
//! Weights and biases are uniform in [−0.5, 0.5], as Zhu et al.'s `weights_init` draws them
//! (wider than PyTorch's default), drawn from the run's RNG in parameter order.

use burn::module::Module;
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};
use rand::rngs::StdRng;

use super::cnn::out_side;
use super::init::{seeded_conv, seeded_linear};
use super::tape::{TappedLayer, tapped_conv, tapped_linear};
use super::{Activation, ModelConfig};

/// Output channels of every convolution.
pub(super) const CHANNELS: usize = 12;
/// Kernel side of every convolution.
pub(super) const KERNEL: usize = 5;
/// Zero padding of every convolution (`KERNEL / 2`).
pub(super) const PAD: usize = 2;
/// Strides of the three convolutions.
pub(super) const STRIDES: [usize; 3] = [2, 2, 1];
/// Half-width of the uniform initialisation, Zhu et al.'s `uniform_(-0.5, 0.5)`.
const INIT: f32 = 0.5;
/// The smallest image side: the two stride-2 convolutions divide the side by 4, and below 8
/// the last maps are 1×1 and the 5×5 kernels read mostly zero padding.
pub(super) const MIN_SIDE: usize = 8;

/// Side of each convolution's output map for `side × side` input: 28 → 14, 7, 7.
pub(super) fn conv_sides(side: usize) -> [usize; 3] {
    let mut s = side;
    STRIDES.map(|stride| {
        s = out_side(s, KERNEL, stride, PAD);
        s
    })
}

/// DLG's LeNet: three convolutions and a dense layer.
#[derive(Module, Debug)]
pub struct Lenet {
    /// Weight `[12, 1, 5, 5]`, stride 2.
    pub conv1: Conv2d,
    /// Weight `[12, 12, 5, 5]`, stride 2.
    pub conv2: Conv2d,
    /// Weight `[12, 12, 5, 5]`, stride 1.
    pub conv3: Conv2d,
    /// `[12·f², classes]` where `f` is the last map's side (7 for 28×28 images).
    pub fc: Linear,
    /// The nonlinearity after every convolution.
    #[module(skip)]
    pub activation: Activation,
}

impl Lenet {
    /// Builds the LeNet of `config` (only its activation, side and classes matter: the widths
    /// are DLG's), every parameter drawn from `rng` in the module's parameter order.
    pub fn new(config: &ModelConfig, device: &Device, rng: &mut StdRng) -> Self {
        let mut conv = |c_in: usize, stride: usize| {
            seeded_conv([c_in, CHANNELS], KERNEL, [stride, PAD], INIT, device, rng)
        };
        let [s1, s2, s3] = STRIDES;
        let (conv1, conv2, conv3) = (conv(1, s1), conv(CHANNELS, s2), conv(CHANNELS, s3));
        let f = conv_sides(config.side)[2];
        Self {
            conv1,
            conv2,
            conv3,
            fc: seeded_linear(CHANNELS * f * f, config.classes, INIT, device, rng),
            activation: config.activation,
        }
    }

    /// The convolutions, in order.
    pub fn convs(&self) -> [&Conv2d; 3] {
        [&self.conv1, &self.conv2, &self.conv3]
    }

    /// # Shapes
    /// - `images`: `[batch, 1, side, side]`
    /// - output: `[batch, classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for conv in self.convs() {
            x = self.activation.apply(conv.forward(x)); // [batch, 12, 14, 14], then 7, 7
        }
        self.fc.forward(x.flatten(1, 3)) // [batch, 588] → [batch, classes]
    }

    /// [`Lenet::forward`] with every layer tapped (see `tape.rs`); same logits. The
    /// convolutions run as unfold + matmul, so their patches are at hand for the per-example
    /// gradients.
    pub fn forward_tapped(&self, images: Tensor<4>, tapes: &mut Vec<TappedLayer>) -> Tensor<2> {
        let batch = images.dims()[0];
        let mut x = images;
        for conv in self.convs() {
            x = self.activation.apply(tapped_conv(x, conv, tapes)); // [batch, 12, 14, 14], …
        }
        let x: Tensor<3> = x.flatten::<2>(1, 3).unsqueeze_dim(1); // [batch, 1, 588]
        let x = tapped_linear(x, &self.fc, tapes); // [batch, 1, classes]
        let classes = x.dims()[2];
        x.reshape([batch, classes])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Classifier, ModelKind, ModelSpec};
    use rand::SeedableRng;

    fn lenet(seed: u64) -> Classifier {
        lenet_on(&Device::flex(), seed)
    }

    fn lenet_on(device: &Device, seed: u64) -> Classifier {
        let config = ModelSpec {
            kind: ModelKind::Lenet,
            activation: Activation::Sigmoid,
            ..ModelSpec::default()
        }
        .for_data(28, 10);
        Classifier::new(&config, device, &mut StdRng::seed_from_u64(seed))
    }

    fn weights(model: &Classifier) -> Vec<f32> {
        crate::model::flat::to_flat(model)
    }

    #[test]
    fn a_28_pixel_image_gives_7_by_7_maps_and_588_features() {
        assert_eq!(conv_sides(28), [14, 7, 7]);
        let Classifier::Lenet(m) = lenet(1) else {
            panic!("a LeNet spec builds a LeNet")
        };
        assert_eq!(m.fc.weight.dims(), [588, 10]);
    }

    #[test]
    fn an_image_smaller_than_8_pixels_is_refused_by_its_side() {
        let spec = ModelSpec {
            kind: ModelKind::Lenet,
            ..ModelSpec::default()
        };
        let err = spec.for_data(7, 10).validate().unwrap_err().to_string();
        assert!(err.contains("side = 7") && err.contains("LeNet"), "{err}");
        let smallest = spec.for_data(MIN_SIDE, 10);
        smallest.validate().unwrap();
        let device = Device::flex();
        let model = Classifier::new(&smallest, &device, &mut StdRng::seed_from_u64(0));
        let logits = model.forward(Tensor::ones([2, 1, MIN_SIDE, MIN_SIDE], &device));
        assert_eq!(logits.dims(), [2, 10]);
    }

    #[test]
    fn a_seed_fixes_the_weights_and_they_lie_in_zhu_et_als_range() {
        let (a, b, c) = (lenet(1), lenet(1), lenet(2));
        assert_eq!(a.num_params(), 300 + 12 + 2 * (3600 + 12) + 5880 + 10);
        assert_eq!(weights(&a), weights(&b));
        assert_ne!(weights(&a), weights(&c));
        let w = weights(&a);
        assert!(w.iter().all(|v| v.abs() <= 0.5), "outside [-0.5, 0.5]");
        // The range is used, not only its middle.
        assert!(w.iter().any(|v| v.abs() > 0.45), "all weights small");
    }

    #[test]
    fn the_tapped_forward_gives_the_plain_logits_with_one_tap_per_layer() {
        let device = Device::flex().autodiff();
        let Classifier::Lenet(m) = lenet_on(&device, 3) else {
            panic!("a LeNet spec builds a LeNet")
        };
        let images =
            Tensor::<4>::random([3, 1, 28, 28], burn::tensor::Distribution::Default, &device);
        let mut tapes = Vec::new();
        let tapped = m.forward_tapped(images.clone(), &mut tapes);
        let plain = m.forward(images);
        assert_eq!(plain.dims(), [3, 10]);
        let diff = (tapped - plain).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-5, "{diff}");
        assert_eq!(tapes.len(), 4);
        let positions: Vec<usize> = tapes.iter().map(|t| t.input.dims()[1]).collect();
        assert_eq!(positions, [196, 49, 49, 1]);
    }
}
