//! Privacy accounting for DP-SGD: the (ε, δ) guarantee of T steps of the
//! Poisson-subsampled Gaussian mechanism, and the noise needed to meet a target.
//!
//! Two accountants:
//! - [`Accountant::Rdp`] — Rényi DP (Mironov 2017, "Rényi Differential Privacy"), with the
//!   exact RDP of the sampled Gaussian of Mironov, Talwar & Zhang 2019 ("Rényi
//!   Differential Privacy of the Sampled Gaussian Mechanism") and the RDP → (ε, δ)
//!   conversion of Balle, Barthe, Gaboardi, Hsu & Sato 2020 ("Hypothesis Testing
//!   Interpretations and Rényi Differential Privacy"). Matches Opacus's `RDPAccountant`.
//! - [`Accountant::Pld`] (default) — privacy loss distributions composed by FFT (Meiser &
//!   Mohammadi 2018; Koskela, Jälkö & Honkela 2020) with the pessimistic
//!   "connect the dots" discretisation of Doroshenko, Ghazi, Kamath, Kumar & Manurangsi
//!   2022. Matches Google's dp-accounting `PLDAccountant`; tighter than RDP.
//!
//! Adjacency is add/remove-one, the sensitivity (clipping norm) is 1 and σ is the noise
//! multiplier, as in Opacus.
//!
//! Every ε returned is ≥ 0 (a mechanism that is (ε', δ)-DP with ε' < 0 is (0, δ)-DP) and
//! never NaN (a computation that fails reports ∞, the one bound that is always true).
//! ε may be ∞; [`serialize_epsilon`] writes it to JSON as `"inf"`, not `null`.

mod calibrate;
mod ceiling;
mod json;
pub mod pld;
pub mod rdp;
mod spec;
pub(crate) mod special;
mod spent;

pub use calibrate::{
    Calibration, MAX_SIGMA, MIN_SIGMA, SIGMA_TOLERANCE, calibrate, calibrate_noise,
};
pub use ceiling::{AttackCeiling, attack_ceiling};
pub use json::{
    epsilon_from_json, epsilon_label, serialize_epsilon, serialize_epsilons,
    serialize_optional_epsilon,
};
pub use spec::{DpPlan, DpReport, Noise, PrivacySpec};
pub use spent::PrivacySpent;

/// Which accountant turns a noise multiplier and a number of steps into ε.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Accountant {
    /// Rényi DP with Opacus's orders (looser, a few ms).
    Rdp,
    /// Privacy loss distribution (tight, tens of ms).
    #[default]
    Pld,
}

impl Accountant {
    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Accountant::Rdp => "rdp",
            Accountant::Pld => "pld",
        }
    }
}

/// T steps of DP-SGD: Poisson sampling at rate q, Gaussian noise of σ × clipping norm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubsampledGaussian {
    /// Probability q that each example is in a step's batch (expected batch / dataset size).
    pub sample_rate: f64,
    /// Noise standard deviation σ divided by the clipping norm.
    pub noise_multiplier: f64,
    /// Number of noisy steps T.
    pub steps: u64,
}

impl SubsampledGaussian {
    /// Checked constructor: q ∈ (0, 1], σ > 0 and finite, steps ≥ 1.
    pub fn new(sample_rate: f64, noise_multiplier: f64, steps: u64) -> Result<Self, PrivacyError> {
        if !(sample_rate > 0.0 && sample_rate <= 1.0) {
            return Err(PrivacyError::InvalidSampleRate(sample_rate));
        }
        if !(noise_multiplier > 0.0 && noise_multiplier.is_finite()) {
            return Err(PrivacyError::InvalidNoiseMultiplier(noise_multiplier));
        }
        if steps == 0 {
            return Err(PrivacyError::InvalidSteps);
        }
        Ok(Self {
            sample_rate,
            noise_multiplier,
            steps,
        })
    }
}

/// The ε for which `mech` is (ε, δ)-DP under `accountant`.
///
/// May be `f64::INFINITY` (PLD: more than δ of the privacy loss is infinite, which takes
/// extremely little noise); never negative or NaN. The fields of `mech` are public, so
/// they are re-checked here.
pub fn epsilon(
    accountant: Accountant,
    mech: &SubsampledGaussian,
    delta: f64,
) -> Result<f64, PrivacyError> {
    let SubsampledGaussian {
        sample_rate: q,
        noise_multiplier: sigma,
        steps,
    } = SubsampledGaussian::new(mech.sample_rate, mech.noise_multiplier, mech.steps)?;
    check_delta(delta)?;
    Ok(epsilon_unchecked(accountant, q, sigma, steps, delta))
}

/// [`epsilon`] for arguments the caller has validated.
fn epsilon_unchecked(accountant: Accountant, q: f64, sigma: f64, steps: u64, delta: f64) -> f64 {
    clamp_epsilon(match accountant {
        Accountant::Rdp => rdp::epsilon(q, sigma, steps, delta).0,
        Accountant::Pld => pld::epsilon(
            q,
            sigma,
            steps,
            delta,
            pld::DEFAULT_VALUE_DISCRETIZATION_INTERVAL,
        ),
    })
}

/// An accountant's raw ε as a sound, reportable one: below 0 becomes 0 (any (ε', δ)-DP
/// mechanism with ε' < 0 is (0, δ)-DP; RDP's conversion goes negative for large δ), and
/// NaN becomes ∞ (`f64::max` would silently turn a NaN into the other operand).
pub(crate) fn clamp_epsilon(eps: f64) -> f64 {
    if eps.is_nan() {
        f64::INFINITY
    } else {
        eps.max(0.0)
    }
}

fn check_delta(delta: f64) -> Result<(), PrivacyError> {
    if delta > 0.0 && delta < 1.0 {
        Ok(())
    } else {
        Err(PrivacyError::InvalidDelta(delta))
    }
}

/// A privacy-accounting argument out of range, or a target no allowed noise reaches.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// Target ε not positive (or NaN).
    #[error("target epsilon must be greater than 0, got {0}")]
    InvalidEpsilon(f64),
    /// Target ε = ∞: every σ meets it, so there is no noise to calibrate.
    #[error(
        "target epsilon = inf needs no noise: omit --epsilon for non-private training, or \
         give --noise-multiplier"
    )]
    InfiniteEpsilon,
    /// δ outside (0, 1).
    #[error("delta must be strictly between 0 and 1, got {0}")]
    InvalidDelta(f64),
    /// Sample rate outside (0, 1].
    #[error("sample rate q must be in (0, 1] (expected batch size / dataset size), got {0}")]
    InvalidSampleRate(f64),
    /// Noise multiplier not a positive finite number.
    #[error("noise multiplier sigma must be a finite number greater than 0, got {0}")]
    InvalidNoiseMultiplier(f64),
    /// Zero steps.
    #[error("number of steps must be at least 1, got 0")]
    InvalidSteps,
    /// Even the largest allowed noise multiplier misses the target.
    #[error(
        "target epsilon {target_epsilon} at delta {delta} is unreachable: with sample rate {q} and \
         {steps} steps even noise multiplier {max_sigma} gives a larger epsilon"
    )]
    UnreachableEpsilon {
        /// The requested ε.
        target_epsilon: f64,
        /// The requested δ.
        delta: f64,
        /// Sample rate.
        q: f64,
        /// Number of steps.
        steps: u64,
        /// Largest noise multiplier tried.
        max_sigma: f64,
    },
}
