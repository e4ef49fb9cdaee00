//! The Gaussian mechanism on the clipped sum: `(Σ_b ḡ_b + N(0, σ²C²·I)) / (q·N)`.
//!
//! The noise is drawn with the 32-bit ziggurat of [`super::normal`] from generators seeded by the
//! run's `StdRng` (ChaCha12), one per chunk of 4,096 coordinates, so the chunks fill in parallel
//! and a seed still fixes the whole training run whatever the number of threads. Like Opacus
//! without `secure_mode`, the floating-point normal sampler is not hardened against the attacks
//! of Mironov 2012 on finite-precision noise, and the seed, which fixes the noise, is the run's.

use burn::tensor::{DType, Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use super::normal::map_standard_normals;
use super::{DpSgd, ParamGrads};
use crate::device::on_host;

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
        let seeds = chunk_seeds(n, rng);
        let device = g.device();
        if g.dtype() == DType::F32 && on_host(&device) {
            // One fused pass over the gradient on the host, `(g + noise) · scale` in f32 as the
            // tensor ops below compute it (the same bits, tested), instead of three passes.
            let mut values = g.into_data().try_into_vec::<f32>().expect("an f32 tensor");
            let scale = scale as f32;
            fill(&mut values, &seeds, std, |v, z| (v + z) * scale);
            Tensor::<1>::from_data(TensorData::new(values, [n]), &device)
        } else {
            // A GPU keeps the gradient where it is (only the noise travels), and f64 gradients
            // take the f32 noise in f64 arithmetic.
            (g + noise_tensor(n, &seeds, std, &device)) * scale
        }
    })
}

/// One generator seed per chunk of `n` coordinates, drawn from the run's generator.
fn chunk_seeds(n: usize, rng: &mut StdRng) -> Vec<u64> {
    (0..n.div_ceil(CHUNK)).map(|_| rng.random()).collect()
}

/// The noise alone, `N(0, std²)` rounded to f32, as a tensor on `device`.
fn noise_tensor(n: usize, seeds: &[u64], std: f64, device: &Device) -> Tensor<1> {
    let mut noise = vec![0.0_f32; n];
    fill(&mut noise, seeds, std, |_, z| z);
    Tensor::<1>::from_data(TensorData::new(noise, [n]), device)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn seeds(n: usize) -> Vec<u64> {
        chunk_seeds(n, &mut StdRng::seed_from_u64(9))
    }

    /// The fused host pass gives the bits the tensor path gives: `(g + noise) · scale`.
    #[test]
    fn the_fused_pass_equals_the_tensor_ops_bit_for_bit() {
        let device = Device::flex();
        let n = 3 * CHUNK + 17;
        let g: Vec<f32> = (0..n).map(|i| ((i % 89) as f32 - 44.0) / 7.0).collect();
        let (std, scale) = (1.7, 1.0 / 2048.0);
        let mut fused = g.clone();
        fill(&mut fused, &seeds(n), std, |v, z| (v + z) * scale as f32);
        let g = Tensor::<1>::from_data(TensorData::new(g, [n]), &device);
        let tensor = (g + noise_tensor(n, &seeds(n), std, &device)) * scale;
        let tensor: Vec<f32> = tensor.into_data().try_into_vec().unwrap();
        assert!(
            fused
                .iter()
                .zip(&tensor)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }

    /// A seed fixes the noise whatever the number of threads that draw it.
    #[test]
    fn the_noise_does_not_depend_on_the_number_of_threads() {
        let n = 5 * CHUNK + 3;
        let draw = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut values = vec![0.0_f32; n];
            pool.install(|| fill(&mut values, &seeds(n), 1.0, |_, z| z));
            values
        };
        let one = draw(1);
        assert!(one.iter().any(|&v| v != 0.0));
        assert_eq!(one, draw(4));
    }
}
