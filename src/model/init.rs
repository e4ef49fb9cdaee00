//! Seeded parameter initialisation.
//!
//! burn initialises parameters lazily, in access order, from a global generator, so a seed alone
//! does not fix the weights. Drawing them here from the run's `StdRng` does. Weights and
//! biases are uniform in `[-bound, bound]`: for the MLP and the CNN PyTorch's default for
//! `nn.Linear` and `nn.Conv2d`, `bound = 1/√fan_in` ([`fan_in_bound`]); for DLG's LeNet
//! Zhu et al.'s fixed 0.5.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::{Device, Tensor, TensorData};
use rand::RngExt;
use rand::rngs::StdRng;

/// PyTorch's default bound for a layer with `fan_in` inputs per output: `1/√fan_in`.
pub fn fan_in_bound(fan_in: usize) -> f32 {
    1.0 / (fan_in as f32).sqrt()
}

/// A tensor of `shape` with entries uniform in `[-bound, bound]`, drawn in row-major order.
pub fn uniform<const D: usize>(
    shape: [usize; D],
    bound: f32,
    device: &Device,
    rng: &mut StdRng,
) -> Param<Tensor<D>> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.random_range(-bound..bound)).collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}

/// A `channels[0] → channels[1]` convolution with square `kernel`, `[stride, pad]`, weight
/// `[c_out, c_in, kernel, kernel]` then bias drawn uniform in `[-bound, bound]` from `rng`.
pub fn seeded_conv(
    channels: [usize; 2],
    kernel: usize,
    [stride, pad]: [usize; 2],
    bound: f32,
    device: &Device,
    rng: &mut StdRng,
) -> Conv2d {
    let mut layer = Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .init(device);
    layer.weight = uniform(
        [channels[1], channels[0], kernel, kernel],
        bound,
        device,
        rng,
    );
    layer.bias = Some(uniform([channels[1]], bound, device, rng));
    layer
}

/// A `d_in → d_out` dense layer, weight `[d_in, d_out]` then bias drawn uniform in
/// `[-bound, bound]` from `rng`.
pub fn seeded_linear(
    d_in: usize,
    d_out: usize,
    bound: f32,
    device: &Device,
    rng: &mut StdRng,
) -> Linear {
    Linear {
        weight: uniform([d_in, d_out], bound, device, rng),
        bias: Some(uniform([d_out], bound, device, rng)),
    }
}
