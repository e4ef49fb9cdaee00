//! The `[privacy]` table: how private a training run must be. One spec serves every DP-SGD
//! run — `ppml run train`, the membership target and LiRA's shadows — and, next, the DP
//! aggregate of federated learning. It is checked once into a [`DpPlan`] (no DP, a target ε,
//! or a given noise multiplier σ), and the plan is resolved for a concrete run (its sampling
//! rate and number of steps) into σ and the privacy the run spends ([`DpReport`]).

use serde::{Deserialize, Serialize};

use super::{Accountant, PrivacySpent, SubsampledGaussian, calibrate_noise};
use crate::Result;
use crate::config::{ConfigError, positive};

/// What the config says about DP. A `[privacy]` table in TOML; every key is optional, and
/// without `epsilon` (or with `epsilon = inf`) and without `noise_multiplier` training is
/// non-private.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacySpec {
    /// Target ε; the noise multiplier is calibrated to meet it. Absent or `inf`: no DP
    /// (unless `noise_multiplier` is set).
    pub epsilon: Option<f64>,
    /// The noise multiplier σ, when given directly instead of `epsilon`.
    pub noise_multiplier: Option<f64>,
    /// δ of the (ε, δ) guarantee.
    pub delta: f64,
    /// The per-example gradient norm bound C.
    pub clip_norm: f64,
    /// The accountant that calibrates σ and reports ε.
    pub accountant: Accountant,
}

impl Default for PrivacySpec {
    fn default() -> Self {
        Self {
            epsilon: None,
            noise_multiplier: None,
            delta: 1e-5,
            clip_norm: 1.0,
            accountant: Accountant::default(),
        }
    }
}

/// How the noise is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Noise {
    /// Calibrate σ to spend exactly this ε (finite, > 0).
    TargetEpsilon(f64),
    /// Use this σ (finite, > 0) and report the ε it spends.
    Multiplier(f64),
}

/// A checked DP-SGD plan: only a [`PrivacySpec`] that passed [`PrivacySpec::plan`] makes one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DpPlan {
    noise: Noise,
    delta: f64,
    clip_norm: f64,
    accountant: Accountant,
}

/// The `privacy` block of a DP-SGD run's `metrics.json`.
#[derive(Debug, Clone, Serialize)]
pub struct DpReport {
    /// ε, δ, σ, q, steps and the accountants' figures.
    #[serde(flatten)]
    pub spent: PrivacySpent,
    /// The ε asked for (`null` when σ was given directly).
    pub target_epsilon: Option<f64>,
    /// Per-example clipping norm C.
    pub clip_norm: f64,
    /// Expected Poisson batch size q·N.
    pub expected_batch_size: f64,
}

impl PrivacySpec {
    /// Whether this spec asks for DP (a finite ε, or a noise multiplier).
    pub fn is_private(&self) -> bool {
        self.epsilon.is_some_and(f64::is_finite) || self.noise_multiplier.is_some()
    }

    /// Reads `epsilon = inf` as "no DP", so that a resolved config never holds an infinity
    /// (JSON has none).
    pub fn normalize(&mut self) {
        if self.epsilon == Some(f64::INFINITY) {
            self.epsilon = None;
        }
    }

    /// Checks every value, and that ε and σ are not both given.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.plan().map(|_| ())
    }

    /// The checked plan; `None` for non-private training.
    pub fn plan(&self) -> Result<Option<DpPlan>, ConfigError> {
        if let Some(eps) = self.epsilon
            && (eps.is_nan() || eps <= 0.0)
        {
            return Err(ConfigError::invalid(
                "epsilon",
                eps,
                "must be greater than 0 (inf = no DP)",
            ));
        }
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(ConfigError::invalid(
                "delta",
                self.delta,
                "must be strictly between 0 and 1",
            ));
        }
        positive("clip_norm", self.clip_norm)?;
        let noise = match (self.epsilon, self.noise_multiplier) {
            (_, Some(sigma)) => {
                positive("noise_multiplier", sigma)?;
                // `epsilon = inf` too: it says "no DP", which a noise multiplier contradicts.
                if self.epsilon.is_some() {
                    return Err(ConfigError::invalid(
                        "noise_multiplier",
                        sigma,
                        "give either epsilon (σ is then calibrated) or noise_multiplier, not both",
                    ));
                }
                Noise::Multiplier(sigma)
            }
            (Some(eps), None) if eps.is_finite() => Noise::TargetEpsilon(eps),
            _ => return Ok(None),
        };
        Ok(Some(DpPlan {
            noise,
            delta: self.delta,
            clip_norm: self.clip_norm,
            accountant: self.accountant,
        }))
    }
}

impl DpPlan {
    /// How the noise is set.
    pub fn noise(&self) -> Noise {
        self.noise
    }

    /// The per-example gradient norm bound C.
    pub fn clip_norm(&self) -> f64 {
        self.clip_norm
    }

    /// σ for `steps` steps at sampling rate `sample_rate` on `dataset_size` examples
    /// (calibrated when the plan names a target ε), and the privacy those steps spend.
    pub fn resolve(
        &self,
        sample_rate: f64,
        steps: u64,
        dataset_size: usize,
    ) -> Result<(f64, DpReport)> {
        let (noise_multiplier, target_epsilon) = match self.noise {
            Noise::Multiplier(sigma) => (sigma, None),
            Noise::TargetEpsilon(eps) => (
                calibrate_noise(self.accountant, sample_rate, steps, eps, self.delta)?,
                Some(eps),
            ),
        };
        let mech = SubsampledGaussian::new(sample_rate, noise_multiplier, steps)?;
        let spent = PrivacySpent::of(&mech, self.delta, self.accountant)?;
        let report = DpReport {
            spent,
            target_epsilon,
            clip_norm: self.clip_norm,
            expected_batch_size: sample_rate * dataset_size as f64,
        };
        Ok((noise_multiplier, report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(epsilon: Option<f64>, sigma: Option<f64>) -> PrivacySpec {
        PrivacySpec {
            epsilon,
            noise_multiplier: sigma,
            ..PrivacySpec::default()
        }
    }

    #[test]
    fn no_epsilon_or_an_infinite_one_means_no_dp() {
        assert_eq!(spec(None, None).plan().unwrap(), None);
        assert_eq!(spec(Some(f64::INFINITY), None).plan().unwrap(), None);
        assert!(!spec(Some(f64::INFINITY), None).is_private());
    }

    #[test]
    fn epsilon_and_sigma_together_are_refused_even_when_epsilon_is_inf() {
        for eps in [1.0, f64::INFINITY] {
            let m = spec(Some(eps), Some(1.0)).plan().unwrap_err().to_string();
            assert!(m.contains("not both"), "{m}");
        }
    }

    #[test]
    fn bad_values_name_their_key() {
        let m = spec(Some(0.0), None).plan().unwrap_err().to_string();
        assert!(m.starts_with("invalid epsilon = 0"), "{m}");
        let bad_delta = PrivacySpec {
            delta: 1.0,
            ..spec(Some(1.0), None)
        };
        assert!(bad_delta.plan().unwrap_err().to_string().contains("delta"));
    }

    #[test]
    fn a_target_epsilon_is_met_by_the_calibrated_sigma() {
        let plan = spec(Some(3.0), None).plan().unwrap().unwrap();
        let (sigma, report) = plan.resolve(0.01, 1000, 60_000).unwrap();
        assert!(sigma > 0.5 && sigma < 2.0, "{sigma}");
        assert!(report.spent.epsilon <= 3.0 && report.spent.epsilon > 2.9);
        assert_eq!(report.target_epsilon, Some(3.0));
        assert_eq!(report.expected_batch_size, 600.0);
    }
}
