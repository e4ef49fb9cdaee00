//! Poisson sampling: the batch of every step holds each example independently with
//! probability `q`. The privacy amplification the accountants credit (the "subsampled" in
//! subsampled Gaussian) holds for exactly this sampler, not for shuffled fixed-size batches.

use rand::RngExt;
use rand::rngs::StdRng;

/// Draws Poisson batches of indices into a dataset of `len` examples.
#[derive(Debug, Clone, Copy)]
pub struct PoissonSampler {
    len: usize,
    sample_rate: f64,
}

impl PoissonSampler {
    /// A sampler over `0..len` with inclusion probability `sample_rate` (checked by `DpSgd`).
    pub fn new(len: usize, sample_rate: f64) -> Self {
        Self { len, sample_rate }
    }

    /// The inclusion probability q.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// One batch: every index with probability q, in increasing order. May be empty.
    pub fn sample(&self, rng: &mut StdRng) -> Vec<usize> {
        // One Bernoulli draw per example: O(N) per step, about 0.2 ms for N = 60,000, small
        // next to a training step, and obviously the distribution the analysis assumes.
        (0..self.len)
            .filter(|_| rng.random_bool(self.sample_rate))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn batch_sizes_are_binomial_and_every_index_is_equally_likely() {
        let (n, q, draws) = (200, 0.05, 4000);
        let sampler = PoissonSampler::new(n, q);
        let mut rng = StdRng::seed_from_u64(1);
        let mut hits = vec![0usize; n];
        let mut sizes = Vec::with_capacity(draws);
        for _ in 0..draws {
            let batch = sampler.sample(&mut rng);
            assert!(batch.windows(2).all(|w| w[0] < w[1]));
            sizes.push(batch.len() as f64);
            batch.iter().for_each(|&i| hits[i] += 1);
        }
        let mean = sizes.iter().sum::<f64>() / draws as f64;
        let var = sizes.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / draws as f64;
        // Binomial(200, 0.05): mean 10, variance 9.5. Standard error of the mean ≈ 0.05.
        assert!((mean - 10.0).abs() < 0.25, "mean batch {mean}");
        assert!((var - 9.5).abs() < 1.0, "variance {var}");
        // Each index: Binomial(4000, 0.05), mean 200, sd ≈ 13.8; 6 sd bounds.
        assert!(hits.iter().all(|&h| (117..=283).contains(&h)), "{hits:?}");
        assert!(
            sizes.contains(&0.0) || sizes.iter().any(|&s| s != mean),
            "sizes vary"
        );
    }
}
