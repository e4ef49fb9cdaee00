//! The privacy a DP-SGD run spends, as every results file reports it: ε under the chosen
//! accountant and, for comparison, under both.

use serde::Serialize;

use super::{Accountant, PrivacyError, SubsampledGaussian, epsilon, rdp};

/// The `privacy` block of `metrics.json` and of `ppml accountant --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrivacySpent {
    /// ε under `accountant`: the guarantee this run claims.
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
    pub epsilon_rdp: f64,
    /// The RDP order that gave `epsilon_rdp`.
    pub rdp_order: f64,
    /// ε under the PLD accountant (dp-accounting-compatible, tighter).
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
