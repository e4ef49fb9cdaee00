//! The Gaussian mechanism on the clipped sum: `(Σ_b ḡ_b + N(0, σ²C²·I)) / (q·N)`.
//!
//! The noise is drawn with rand_distr's ziggurat normal from generators seeded by the run's
//! `StdRng`, one per chunk of 16,384 coordinates, so the chunks fill in parallel and a seed still
//! fixes the whole training run whatever the number of threads. Like Opacus without `secure_mode`, the floating-point normal
//! sampler is not hardened against the attacks of Mironov 2012 on finite-precision noise.

use burn::tensor::{Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rayon::prelude::*;

use super::{DpSgd, ParamGrads};

/// Coordinates per independently seeded generator.
const CHUNK: usize = 1 << 14;

/// Adds `N(0, (σC)²)` to every coordinate of `clipped_sum` and divides by `q·N`.
pub fn add_noise(clipped_sum: ParamGrads, dp: &DpSgd, rng: &mut StdRng) -> ParamGrads {
    let std = dp.noise_std();
    let scale = 1.0 / dp.expected_batch_size();
    clipped_sum.map(|g| {
        let n = g.dims()[0];
        if std == 0.0 {
            return g * scale;
        }
        let mut noise = vec![0.0_f32; n];
        let seeds: Vec<u64> = (0..n.div_ceil(CHUNK)).map(|_| rng.random()).collect();
        noise
            .par_chunks_mut(CHUNK)
            .zip(seeds)
            .for_each(|(chunk, seed)| {
                let mut chunk_rng = StdRng::seed_from_u64(seed);
                for v in chunk {
                    *v = (chunk_rng.sample::<f64, _>(StandardNormal) * std) as f32;
                }
            });
        let noise = Tensor::<1>::from_data(TensorData::new(noise, [n]), &g.device());
        (g + noise) * scale
    })
}
