//! The privacy a DP-SGD run spends, as every results file reports it: ε under the chosen
//! accountant and, for comparison, under both.

use serde::Serialize;

use super::{Accountant, PrivacyError, SubsampledGaussian, clamp_epsilon, epsilon, rdp};

/// The `privacy` block of `metrics.json` and of `ppml accountant --json`.
///
/// The ε fields may be ∞ (too little noise to bound anything) and are then written as
/// `"inf"` (see [`serialize_epsilon`](super::serialize_epsilon)), never as `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrivacySpent {
    /// ε under `accountant`: the guarantee this run claims.
    #[serde(serialize_with = "super::serialize_epsilon")]
    pub epsilon: f64,
    /// δ.
    pub delta: f64,
    /// Noise multiplier σ (noise std / clipping norm).
    pub noise_multiplier: f64,
    /// Poisson sample rate q.
    pub sample_rate: f64,
    /// Noisy steps T.
    pub steps: u64,
    /// The accountant behind `epsilon`.
    pub accountant: Accountant,
    /// ε under the RDP accountant (Opacus-compatible).
    #[serde(serialize_with = "super::serialize_epsilon")]
    pub epsilon_rdp: f64,
    /// The RDP order that gave `epsilon_rdp`.
    pub rdp_order: f64,
    /// ε under the PLD accountant (dp-accounting-compatible, tighter).
    #[serde(serialize_with = "super::serialize_epsilon")]
    pub epsilon_pld: f64,
}

impl PrivacySpent {
    /// Accounts `mech` at `delta` under both accountants.
    pub fn of(
        mech: &SubsampledGaussian,
        delta: f64,
        accountant: Accountant,
    ) -> Result<Self, PrivacyError> {
        let epsilon_pld = epsilon(Accountant::Pld, mech, delta)?;
        // Validated by the PLD call above.
        let rdp = rdp::epsilon(mech.sample_rate, mech.noise_multiplier, mech.steps, delta);
        Ok(Self::from_epsilons(
            mech,
            delta,
            accountant,
            epsilon_pld,
            rdp,
        ))
    }

    /// The block for `mech` from ε values already computed: `epsilon_pld` from
    /// [`epsilon`] with [`Accountant::Pld`], and `(ε, order)` from [`rdp::epsilon`].
    pub fn from_epsilons(
        mech: &SubsampledGaussian,
        delta: f64,
        accountant: Accountant,
        epsilon_pld: f64,
        (epsilon_rdp, rdp_order): (f64, f64),
    ) -> Self {
        // Already sound if they come from this module; re-clamped for hand-made values.
        let (epsilon_pld, epsilon_rdp) = (clamp_epsilon(epsilon_pld), clamp_epsilon(epsilon_rdp));
        Self {
            epsilon: match accountant {
                Accountant::Rdp => epsilon_rdp,
                Accountant::Pld => epsilon_pld,
            },
            delta,
            noise_multiplier: mech.noise_multiplier,
            sample_rate: mech.sample_rate,
            steps: mech.steps,
            accountant,
            epsilon_rdp,
            rdp_order,
            epsilon_pld,
        }
    }
}
