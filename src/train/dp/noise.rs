//! The Gaussian mechanism on the clipped sum: `(Σ_b ḡ_b + N(0, σ²C²·I)) / (q·N)`.
//!
//! The noise is drawn with the 32-bit ziggurat of [`super::normal`] from generators seeded by the
//! run's `StdRng` (ChaCha12), one per chunk of 4,096 coordinates, so the chunks fill in parallel
//! and a seed still fixes the whole training run whatever the number of threads. Like Opacus
//! without `secure_mode`, the floating-point normal sampler is not hardened against the attacks
//! of Mironov 2012 on finite-precision noise, and the seed, which fixes the noise, is the run's.

use burn::tensor::{DType, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use super::normal::map_standard_normals;
use super::{DpSgd, ParamGrads};

/// Coordinates per independently seeded generator: small enough that two threads split the
/// MLP's 200,704-coordinate weight evenly (49 chunks), large enough that seeding is free.
const CHUNK: usize = 1 << 12;

/// Adds `N(0, (σC)²)` to every coordinate of `clipped_sum` and divides by `q·N`.
pub fn add_noise(clipped_sum: ParamGrads, dp: &DpSgd, rng: &mut StdRng) -> ParamGrads {
    let std = dp.noise_std();
    let scale = 1.0 / dp.expected_batch_size();
    clipped_sum.map(|g| {
        if std == 0.0 {
            return g * scale;
        }
        let n = g.dims()[0];
        let seeds: Vec<u64> = (0..n.div_ceil(CHUNK)).map(|_| rng.random()).collect();
        let device = g.device();
        let data = g.into_data();
        if data.dtype() == DType::F32 {
            // One fused pass on the host, `(g + noise) · scale` in f32 as the tensor ops below
            // compute it (the same bits), instead of zeroing, adding and scaling in three.
            let mut values = data.try_into_vec::<f32>().expect("an f32 tensor's data");
            let scale = scale as f32;
            fill(&mut values, &seeds, std, |v, z| (v + z) * scale);
            Tensor::<1>::from_data(TensorData::new(values, [n]), &device)
        } else {
            let mut noise = vec![0.0_f32; n];
            fill(&mut noise, &seeds, std, |_, z| z);
            let noise = Tensor::<1>::from_data(TensorData::new(noise, [n]), &device);
            (Tensor::<1>::from_data(data, &device) + noise) * scale
        }
    })
}

/// Sets each coordinate `v` to `f(v, z)`, `z ~ N(0, std²)` rounded to f32, chunk `i` drawing
/// from a generator seeded with `seeds[i]`.
fn fill(values: &mut [f32], seeds: &[u64], std: f64, f: impl Fn(f32, f32) -> f32 + Sync) {
    values
        .par_chunks_mut(CHUNK)
        .zip(seeds)
        .for_each(|(chunk, &seed)| {
            map_standard_normals(&mut StdRng::seed_from_u64(seed), chunk, |v, z| {
                f(v, (z * std) as f32)
            });
        });
}
