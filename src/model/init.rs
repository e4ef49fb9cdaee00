//! Seeded parameter initialisation.
//!
//! burn initialises parameters lazily, in access order, from a global generator, so a seed alone
//! does not fix the weights. Drawing them here from the run's `StdRng` does, and matches
//! PyTorch's default for `nn.Linear` and `nn.Conv2d`: weights and biases uniform in
//! `[-1/√fan_in, 1/√fan_in]`.

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use rand::RngExt;
use rand::rngs::StdRng;

/// A tensor of `shape` with entries uniform in `[-1/√fan_in, 1/√fan_in]`.
pub fn uniform_fan_in<const D: usize>(
    shape: [usize; D],
    fan_in: usize,
    device: &Device,
    rng: &mut StdRng,
) -> Param<Tensor<D>> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.random_range(-bound..bound)).collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}
