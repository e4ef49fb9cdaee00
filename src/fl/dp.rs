//! Distributed discrete Gaussian noise, so that the sum revealed by secure aggregation is
//! already differentially private (Kairouz, Liu & Steinke 2021, "The Distributed Discrete
//! Gaussian Mechanism for Federated Learning with Secure Aggregation", ICML).
//!
//! Each party adds integer noise N_Z(0, σ²/t) to every coordinate of its *encoded* update (the
//! noise must be an integer to live in Z_{2^k}). Whenever at least t parties survive — the
//! SecAgg threshold, below which nothing is revealed — the revealed sum carries noise of
//! variance at least σ². A sum of discrete Gaussians is not exactly a discrete Gaussian, but
//! for σ²/t ≳ 1 it is very close (KLS21, Theorem 1: ε grows by a term τ that vanishes
//! exponentially in σ²/t); the Gaussian mechanism's accounting then applies with noise
//! multiplier σ / Δ₂, where Δ₂ is the L2 sensitivity in integer units
//! ([`DistributedGaussian::sensitivity`]).
//!
//! Not done here (KLS21 §4): the random rotation that flattens the vector before rounding and
//! the conditional rounding that tightens Δ₂; we use the conservative bound Δ₂ ≤ C·scale + √d
//! (stochastic rounding moves each coordinate by less than 1).
//!
//! The noise is sized in integer units of the fixed-point code, and the code must leave ring
//! headroom for the noise: each depends on the other. [`DistributedGaussian::calibrated`]
//! breaks the circle by sizing a first code without noise, reserving that noise's margin, and
//! calibrating again on the (slightly coarser) code that reserve leaves.
//!
//! The sampler is Canonne, Kamath & Steinke 2020 ("The Discrete Gaussian for Differential
//! Privacy", NeurIPS, Algorithms 2 and 3), written by hand since no maintained Rust crate
//! offers it; its Bernoulli(exp(−γ)) trials use f64, so it is exact up to floating point
//! (the floating-point attacks of Mironov 2012 are out of scope for a simulation).

use rand::{Rng, RngExt};

use crate::fl::SecAggError;
use crate::fl::encoding::FixedPoint;
use crate::fl::ring::RingWord;

/// Tail allowance for the headroom check: the noise of the sum stays within this many
/// standard deviations except with probability below 10⁻²².
const TAIL_SDS: f64 = 10.0;

/// Per-party discrete Gaussian noise for a total standard deviation σ (integer units) once at
/// least `min_survivors` parties contribute.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DistributedGaussian {
    sigma: f64,
    min_survivors: usize,
    /// Ring headroom the code was sized with ([`DistributedGaussian::calibrated`]): the margin
    /// never reports less, so the code derived from it is the one σ was calibrated on.
    #[serde(skip_serializing_if = "is_zero")]
    reserved_margin: u64,
}

fn is_zero(margin: &u64) -> bool {
    *margin == 0
}

impl DistributedGaussian {
    /// Total noise σ in integer units, split over at least `min_survivors` (t) parties.
    pub fn new(sigma: f64, min_survivors: usize) -> Result<Self, SecAggError> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(SecAggError::BadNoise {
                what: "noise standard deviation",
                value: sigma,
            });
        }
        if min_survivors == 0 {
            return Err(SecAggError::NoParties);
        }
        Ok(DistributedGaussian {
            sigma,
            min_survivors,
            reserved_margin: 0,
        })
    }

    /// Noise of multiplier `noise_multiplier` for updates clipped to L2 norm `l2_clip` and
    /// per coordinate to `clip_range`, from `parties` parties in `W`, sized on the very code
    /// the run will use: [`FederatedOptions::code`] of this noise returns it.
    ///
    /// σ depends on the code's scale (Δ₂ = C · scale + √d) and the code on σ's ring margin.
    /// So: (a) the code for no noise, code₀ = [`FixedPoint::for_updates`]; (b) g₀ sized on
    /// code₀; (c) reserve M₀ = g₀'s margin, code₁ = [`FixedPoint::for_noisy_updates`] with
    /// M₀, and σ sized on code₁, keeping M₀ as the margin. code₁ is coarser than code₀, so
    /// σ₁ ≤ σ₀ and its own margin ≤ M₀: the margin stays M₀, and code₁ is what the margin
    /// gives back. The decoded sum's noise is σ₁ / scale₁ = noise_multiplier · (C + √d /
    /// scale₁) in float units, at least noise_multiplier · C.
    ///
    /// [`FederatedOptions::code`]: crate::fl::federated::FederatedOptions::code
    pub fn calibrated<W: RingWord>(
        noise_multiplier: f64,
        l2_clip: f64,
        clip_range: f64,
        parties: usize,
        dim: usize,
        min_survivors: usize,
    ) -> Result<Self, SecAggError> {
        if !(l2_clip.is_finite() && l2_clip > 0.0) {
            return Err(SecAggError::BadNoise {
                what: "L2 clipping bound",
                value: l2_clip,
            });
        }
        let code0 = FixedPoint::for_updates::<W>(clip_range, parties)?;
        let g0 = Self::for_noise_multiplier(noise_multiplier, l2_clip, &code0, dim, min_survivors)?;
        let reserved_margin = g0.margin(parties);
        let code1 = FixedPoint::for_noisy_updates::<W>(clip_range, parties, reserved_margin)?;
        let g1 = Self::for_noise_multiplier(noise_multiplier, l2_clip, &code1, dim, min_survivors)?;
        Ok(DistributedGaussian {
            reserved_margin,
            ..g1
        })
    }

    /// σ = noise_multiplier · Δ₂ for updates clipped to L2 norm `l2_clip` before encoding with
    /// `code`, in dimension `dim`.
    pub fn for_noise_multiplier(
        noise_multiplier: f64,
        l2_clip: f64,
        code: &FixedPoint,
        dim: usize,
        min_survivors: usize,
    ) -> Result<Self, SecAggError> {
        if !(noise_multiplier.is_finite() && noise_multiplier > 0.0) {
            return Err(SecAggError::BadNoise {
                what: "noise multiplier",
                value: noise_multiplier,
            });
        }
        Self::new(
            noise_multiplier * Self::sensitivity(l2_clip, code, dim),
            min_survivors,
        )
    }

    /// Δ₂ in integer units of one party's encoded update: C · scale + √d.
    pub fn sensitivity(l2_clip: f64, code: &FixedPoint, dim: usize) -> f64 {
        l2_clip * code.scale() + (dim as f64).sqrt()
    }

    /// σ of the revealed sum with t contributors.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// σ of one party's noise, σ / √t.
    pub fn party_sigma(&self) -> f64 {
        self.sigma / (self.min_survivors as f64).sqrt()
    }

    /// Integer units to reserve in the ring for the noise of `parties` parties: the noise's
    /// own tail allowance, or the margin its code was sized with if that is larger.
    pub fn margin(&self, parties: usize) -> u64 {
        let own = (TAIL_SDS * self.party_sigma() * (parties as f64).sqrt()).ceil() as u64;
        own.max(self.reserved_margin)
    }

    /// Adds N_Z(0, σ²/t) to every word.
    pub fn add_noise<W: RingWord, R: Rng + ?Sized>(&self, encoded: &mut [W], rng: &mut R) {
        let sigma = self.party_sigma();
        for w in encoded {
            *w = w.add(W::from_signed(discrete_gaussian(sigma, rng)));
        }
    }
}

fn bernoulli_exp<R: Rng + ?Sized>(gamma: f64, rng: &mut R) -> bool {
    rng.random::<f64>() < (-gamma).exp()
}

/// Discrete Laplace with scale t (CKS20 Algorithm 2 with s = 1): P(y) ∝ exp(−|y|/t).
fn discrete_laplace<R: Rng + ?Sized>(t: u64, rng: &mut R) -> i64 {
    loop {
        let u = rng.random_range(0..t);
        if !bernoulli_exp(u as f64 / t as f64, rng) {
            continue;
        }
        let mut v = 0u64;
        while bernoulli_exp(1.0, rng) {
            v += 1;
        }
        let y = (u + t * v) as i64;
        let negative = rng.random::<bool>();
        if negative && y == 0 {
            continue;
        }
        return if negative { -y } else { y };
    }
}

/// Discrete Gaussian N_Z(0, σ²) (CKS20 Algorithm 3): P(y) ∝ exp(−y²/(2σ²)).
pub fn discrete_gaussian<R: Rng + ?Sized>(sigma: f64, rng: &mut R) -> i64 {
    let t = sigma.floor() as u64 + 1;
    let s2 = sigma * sigma;
    loop {
        let y = discrete_laplace(t, rng);
        let d = y.unsigned_abs() as f64 - s2 / t as f64;
        if bernoulli_exp(d * d / (2.0 * s2), rng) {
            return y;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn moments(samples: &[i64]) -> (f64, f64) {
        let n = samples.len() as f64;
        let mean = samples.iter().map(|&y| y as f64).sum::<f64>() / n;
        let var = samples
            .iter()
            .map(|&y| (y as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        (mean, var)
    }

    #[test]
    fn discrete_gaussian_samples_have_mean_zero_and_variance_sigma_squared() {
        let mut rng = StdRng::seed_from_u64(1);
        for sigma in [0.8, 3.0, 25.0] {
            let samples: Vec<i64> = (0..60_000)
                .map(|_| discrete_gaussian(sigma, &mut rng))
                .collect();
            let (mean, var) = moments(&samples);
            assert!(
                mean.abs() < 4.0 * sigma / 60_000f64.sqrt(),
                "σ {sigma}: mean {mean}"
            );
            // For σ ≥ 0.8 the discrete Gaussian's variance is σ² to within 1e-5.
            assert!(
                (var / (sigma * sigma) - 1.0).abs() < 0.03,
                "σ {sigma}: var {var}"
            );
        }
    }

    #[test]
    fn t_parties_noise_adds_up_to_the_target_variance() {
        let g = DistributedGaussian::new(20.0, 4).unwrap();
        let mut rng = StdRng::seed_from_u64(2);
        let mut sum = vec![0u32; 40_000];
        for _ in 0..4 {
            g.add_noise(&mut sum, &mut rng);
        }
        let signed: Vec<i64> = sum.iter().map(|w| w.to_signed()).collect();
        let (_, var) = moments(&signed);
        assert!((var / 400.0 - 1.0).abs() < 0.05, "var {var}");
        assert_eq!(g.party_sigma(), 10.0);
    }

    #[test]
    fn bad_noise_parameters_are_refused() {
        assert!(DistributedGaussian::new(0.0, 3).is_err());
        assert!(DistributedGaussian::new(1.0, 0).is_err());
        let code = FixedPoint::new(1.0, 100.0).unwrap();
        let g = DistributedGaussian::for_noise_multiplier(1.0, 1.0, &code, 100, 4).unwrap();
        assert_eq!(g.sigma(), 110.0);
    }

    #[test]
    fn calibrated_noise_is_sized_on_the_code_its_margin_gives_back() {
        // DP-SGD's aggregate: C = 1, B = 64, so l2_clip = 1/64; σ takes about 5% of the ring.
        let (mult, l2, range, n, d) = (1.0, 1.0 / 64.0, 1.0, 3, 10_000);
        let g = DistributedGaussian::calibrated::<u32>(mult, l2, range, n, d, n).unwrap();
        let code = FixedPoint::for_noisy_updates::<u32>(range, n, g.margin(n)).unwrap();
        let on_code = DistributedGaussian::for_noise_multiplier(mult, l2, &code, d, n).unwrap();
        assert_eq!(g.sigma(), on_code.sigma());
        code.check_headroom::<u32>(n, g.margin(n)).unwrap();
        // The naive way is not consistent: noise sized on the noiseless code reserves a
        // margin that coarsens the code, so the code the run uses is not the one σ assumed.
        let code0 = FixedPoint::for_updates::<u32>(range, n).unwrap();
        let naive = DistributedGaussian::for_noise_multiplier(mult, l2, &code0, d, n).unwrap();
        let used = FixedPoint::for_noisy_updates::<u32>(range, n, naive.margin(n)).unwrap();
        assert!(used.scale() < 0.97 * code0.scale(), "{used:?} vs {code0:?}");
        assert_eq!(used, code);
        // In float units the noise is at least noise_multiplier · l2_clip.
        assert!(g.sigma() / code.scale() >= mult * l2);
    }

    #[test]
    fn calibration_refuses_noise_the_ring_cannot_hold_and_bad_clips() {
        // σ = 10⁴ · C · scale is far beyond 2³¹: no code leaves room for it.
        let err = DistributedGaussian::calibrated::<u32>(1e4, 1.0, 1.0, 3, 100, 3).unwrap_err();
        assert!(
            matches!(
                err,
                SecAggError::Headroom { .. } | SecAggError::ClipRangeTooLarge { .. }
            ),
            "{err}"
        );
        for l2 in [0.0, -1.0, f64::NAN] {
            let err = DistributedGaussian::calibrated::<u32>(1.0, l2, 1.0, 3, 100, 3).unwrap_err();
            assert!(matches!(err, SecAggError::BadNoise { .. }), "{l2}: {err}");
        }
        let err = DistributedGaussian::calibrated::<u32>(0.0, 1.0, 1.0, 3, 100, 3).unwrap_err();
        assert!(matches!(err, SecAggError::BadNoise { .. }), "{err}");
    }
}
