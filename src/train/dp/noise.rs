//! The Gaussian mechanism on the clipped sum: `(Σ_b ḡ_b + N(0, σ²C²·I)) / (q·N)`.
//!
//! The noise is drawn from the run's seeded `StdRng` (rand_distr's ziggurat normal), so a seed
//! fixes the whole training run. Like Opacus without `secure_mode`, the floating-point normal
//! sampler is not hardened against the attacks of Mironov 2012 on finite-precision noise.

use burn::tensor::{Tensor, TensorData};
use rand::RngExt;
use rand::rngs::StdRng;
use rand_distr::StandardNormal;

use super::{DpSgd, ParamGrads};

/// Adds `N(0, (σC)²)` to every coordinate of `clipped_sum` and divides by `q·N`.
pub fn add_noise(clipped_sum: ParamGrads, dp: &DpSgd, rng: &mut StdRng) -> ParamGrads {
    let std = dp.noise_multiplier * dp.max_grad_norm;
    let scale = 1.0 / dp.expected_batch_size();
    clipped_sum.map(|g| {
        let n = g.dims()[0];
        if std == 0.0 {
            return g * scale;
        }
        let noise: Vec<f32> = (0..n)
            .map(|_| (rng.sample::<f64, _>(StandardNormal) * std) as f32)
            .collect();
        let noise = Tensor::<1>::from_data(TensorData::new(noise, [n]), &g.device());
        (g + noise) * scale
    })
}
