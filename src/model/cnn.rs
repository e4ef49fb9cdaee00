//! The CNN of Papernot et al. 2021, Table 1 (MNIST / Fashion-MNIST):
//! conv 16@8×8 stride 2 pad 3 → maxpool 2 stride 1 → conv 32@4×4 stride 2 → maxpool 2 stride 1
//! → dense 32 → dense classes, with tanh (the "tempered sigmoid") after each hidden layer.
//! Channels and the dense width are configurable so a wider net can serve as the non-private
//! baseline.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use rand::rngs::StdRng;

use super::init::uniform_fan_in;
use super::mlp::dense;
use super::{Activation, ModelConfig};

const K1: usize = 8;
const S1: usize = 2;
const P1: usize = 3;
const K2: usize = 4;
const S2: usize = 2;
const POOL: usize = 2;

/// Output side of a convolution or pooling layer.
const fn out_side(side: usize, kernel: usize, stride: usize, pad: usize) -> usize {
    (side + 2 * pad - kernel) / stride + 1
}

/// Side of the feature map entering the dense layers, for `side × side` input.
pub fn feature_side(side: usize) -> usize {
    let s = out_side(side, K1, S1, P1); // conv1: 28 → 14
    let s = out_side(s, POOL, 1, 0); // pool: 14 → 13
    let s = out_side(s, K2, S2, 0); // conv2: 13 → 5
    out_side(s, POOL, 1, 0) // pool: 5 → 4
}

/// Papernot et al.'s two-conv, two-dense network.
#[derive(Module, Debug)]
pub struct Cnn {
    /// Weight `[c1, 1, 8, 8]`.
    pub conv1: Conv2d,
    /// Weight `[c2, c1, 4, 4]`.
    pub conv2: Conv2d,
    /// Max pooling 2×2, stride 1 (used after both convolutions).
    pub pool: MaxPool2d,
    /// `[c2·f², dense]` where `f` is [`feature_side`].
    pub fc1: Linear,
    /// `[dense, classes]`.
    pub fc2: Linear,
    /// The nonlinearity after every hidden layer.
    #[module(skip)]
    pub activation: Activation,
}

fn conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    pad: usize,
    device: &Device,
    rng: &mut StdRng,
) -> Conv2d {
    let mut layer = Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .init(device);
    let fan_in = channels[0] * kernel * kernel;
    layer.weight = uniform_fan_in(
        [channels[1], channels[0], kernel, kernel],
        fan_in,
        device,
        rng,
    );
    layer.bias = Some(uniform_fan_in([channels[1]], fan_in, device, rng));
    layer
}

impl Cnn {
    /// Builds the CNN of `config`.
    pub fn new(config: &ModelConfig, device: &Device, rng: &mut StdRng) -> Self {
        let [c1, c2] = config.cnn_channels;
        let f = feature_side(config.side);
        Self {
            conv1: conv([1, c1], K1, S1, P1, device, rng),
            conv2: conv([c1, c2], K2, S2, 0, device, rng),
            pool: MaxPool2dConfig::new([POOL, POOL])
                .with_strides([1, 1])
                .init(),
            fc1: dense(c2 * f * f, config.cnn_dense, device, rng),
            fc2: dense(config.cnn_dense, config.classes, device, rng),
            activation: config.activation,
        }
    }

    /// # Shapes
    /// - `images`: `[batch, 1, 28, 28]`
    /// - output: `[batch, classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let act = self.activation;
        let x = act.apply(self.conv1.forward(images)); // [batch, c1, 14, 14]
        let x = self.pool.forward(x); // [batch, c1, 13, 13]
        let x = act.apply(self.conv2.forward(x)); // [batch, c2, 5, 5]
        let x = self.pool.forward(x); // [batch, c2, 4, 4]
        let x: Tensor<2> = x.flatten(1, 3); // [batch, c2·16]
        let x = act.apply(self.fc1.forward(x)); // [batch, dense]
        self.fc2.forward(x) // [batch, classes]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_map_of_a_28_pixel_image_is_4_by_4() {
        assert_eq!(feature_side(28), 4);
    }
}
