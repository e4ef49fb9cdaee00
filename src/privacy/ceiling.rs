//! What any membership-inference attack can achieve against a DP-SGD model, at most.
//!
//! A test that tells "member" from "non-member" is a test between the mechanism's output laws on
//! neighbouring datasets, so its power is bounded by the mechanism's privacy profile δ(ε): for
//! every ε ≥ 0, `TPR ≤ e^ε · FPR + δ(ε)` (Kairouz, Oh & Viswanath 2015; Dong, Roth & Su 2022,
//! "Gaussian Differential Privacy", the trade-off function as the envelope of these lines).
//! Taking the whole curve from the PLD accountant, not one (ε, δ) pair, gives the tight ceiling:
//! `max TPR at FPR α = min_ε (e^ε α + δ(ε))` and `max advantage = δ(0)`. A measured attack
//! above its ceiling is a bug in training, sampling or accounting.

use serde::Serialize;

use super::{PrivacyError, SubsampledGaussian, check_delta, pld};

/// Grid of ε over which the envelope is minimised: steps of 0.02 up to 12 (beyond, e^ε · FPR
/// exceeds 1 for every FPR ≥ 10^-5 worth reporting). A coarser grid only loosens the ceiling.
fn epsilon_grid() -> Vec<f64> {
    (0..=600).map(|i| f64::from(i) * 0.02).collect()
}

/// The ceilings at some false-positive rates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackCeiling {
    /// `(fpr, max tpr)` pairs.
    pub max_tpr_at_fpr: Vec<(f64, f64)>,
    /// The largest TPR − FPR any attack reaches.
    pub max_advantage: f64,
}

/// The ceilings of `mech` at each false-positive rate in `fprs` (each in (0, 1)).
pub fn attack_ceiling(
    mech: &SubsampledGaussian,
    fprs: &[f64],
) -> Result<AttackCeiling, PrivacyError> {
    let mech = SubsampledGaussian::new(mech.sample_rate, mech.noise_multiplier, mech.steps)?;
    for &fpr in fprs {
        // The same range check as δ: an FPR is a probability strictly between 0 and 1.
        check_delta(fpr)?;
    }
    let grid = epsilon_grid();
    let deltas = pld::deltas(
        mech.sample_rate,
        mech.noise_multiplier,
        mech.steps,
        &grid,
        pld::DEFAULT_VALUE_DISCRETIZATION_INTERVAL,
    );
    let max_tpr_at_fpr = fprs
        .iter()
        .map(|&fpr| {
            let tpr = grid
                .iter()
                .zip(&deltas)
                .map(|(eps, delta)| eps.exp() * fpr + delta)
                .fold(1.0, f64::min);
            (fpr, tpr)
        })
        .collect();
    Ok(AttackCeiling {
        max_tpr_at_fpr,
        max_advantage: deltas[0],
    })
}
