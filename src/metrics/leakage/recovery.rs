//! When a reconstruction counts as recovered, and how much it gained over the attacker's
//! starting point.
//!
//! Recovered: its SSIM with the original reaches a threshold. The default, 0.6, is this
//! harness's reporting convention, not a published constant: set it to a paper's own value to
//! compare with that paper.
//!
//! NVIDIA's relative data leakage value (Hatamizadeh et al. 2023, "Do Gradient Inversion
//! Attacks Make Federated Learning Unsafe?", IEEE Transactions on Medical Imaging):
//!
//! RDLV = (SSIM(x̂, x) − SSIM(x₀, x)) / SSIM(x₀, x),
//!
//! where x̂ is the reconstruction and x₀ the prior, the attacker's starting guess or the public
//! mean image: how much closer than its own starting point the attack got, in units of that
//! starting point. 0 means the attack learned nothing from the gradient.

use serde::Serialize;

use super::LeakageError;

/// The SSIM a matched reconstruction must reach to count as recovered, in (0, 1].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct SsimThreshold(f64);

impl SsimThreshold {
    /// The default threshold, 0.6 (see the module docs).
    pub const DEFAULT: SsimThreshold = SsimThreshold(0.6);

    /// Checks that `value` lies in (0, 1].
    pub fn new(value: f64) -> Result<Self, LeakageError> {
        if value > 0.0 && value <= 1.0 {
            Ok(Self(value))
        } else {
            Err(LeakageError::Threshold { value })
        }
    }

    /// The threshold's value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for SsimThreshold {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How many of `ssims` reach `threshold` (an SSIM equal to it counts).
pub fn recovered_count(ssims: &[f64], threshold: SsimThreshold) -> usize {
    ssims.iter().filter(|&&s| s >= threshold.0).count()
}

/// RDLV from SSIM(reconstruction, x) and SSIM(prior, x). `None` when the prior's SSIM is not
/// positive: the ratio would flip sign and rank a worse reconstruction higher.
pub fn rdlv(ssim_reconstruction: f64, ssim_prior: f64) -> Option<f64> {
    (ssim_prior > 0.0).then(|| (ssim_reconstruction - ssim_prior) / ssim_prior)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_must_lie_in_zero_to_one() {
        for bad in [0.0, -0.2, 1.0001, f64::NAN, f64::INFINITY] {
            let err = SsimThreshold::new(bad).unwrap_err();
            assert!(err.is_bad_setting());
            assert!(err.to_string().contains("outside (0, 1]"), "{err}");
        }
        assert_eq!(SsimThreshold::new(1.0).unwrap().get(), 1.0);
        assert_eq!(SsimThreshold::default().get(), 0.6);
        let t = SsimThreshold::new(0.5).unwrap();
        assert_eq!(recovered_count(&[0.5, 0.49999, 0.9, -0.1], t), 2);
    }

    #[test]
    fn rdlv_is_the_gain_over_the_prior_in_units_of_the_prior() {
        assert!((rdlv(0.9, 0.3).unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(rdlv(0.3, 0.3), Some(0.0));
        assert!(
            rdlv(0.1, 0.2).unwrap() < 0.0,
            "worse than the prior is negative"
        );
        assert_eq!(rdlv(0.9, 0.0), None);
        assert_eq!(rdlv(0.9, -0.05), None);
    }
}
