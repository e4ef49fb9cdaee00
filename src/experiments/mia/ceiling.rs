//! The DP ceilings of a membership attack against a DP-SGD target, as the report holds them:
//! the point estimates above the ceiling (information) and the threshold test that may report
//! a bug (`metrics::ceiling_test`).

use serde::Serialize;

use crate::Result;
use crate::metrics::ceiling_test::{CeilingTest, ThresholdOutcome, test_ceiling};
use crate::metrics::membership::{AttackMetrics, LOW_FPRS};
use crate::privacy::DpReport;
use crate::privacy::{SubsampledGaussian, attack_ceiling};

/// The ceilings measured against a run's attacks.
pub(super) struct Measured {
    /// The `dp_ceiling` block.
    pub report: CeilingReport,
    /// `(fpr, max tpr)` down to the smallest FPR the run resolves, for the plot.
    pub curve: Vec<(f64, f64)>,
    /// One message per violation of the threshold test (the run then exits 1).
    pub errors: Vec<String>,
}

/// The ceilings of the target's mechanism, the point estimates above them, and the threshold
/// test that may report a bug at false-alarm rate `beta`, for `attacks` measured on `members`
/// members and `non_members` non-members.
pub(super) fn measure_ceiling(
    privacy: &DpReport,
    attacks: &[&AttackMetrics],
    (members, non_members): (usize, usize),
    beta: f64,
) -> Result<Measured> {
    let p = &privacy.spent;
    let mech = SubsampledGaussian::new(p.sample_rate, p.noise_multiplier, p.steps)?;
    let n = LOW_FPRS.len();
    let mut fprs = LOW_FPRS.to_vec();
    let min_fpr = 1.0 / non_members as f64;
    fprs.extend(ceiling_curve_fprs(min_fpr.min(1e-3)));
    let c = attack_ceiling(&mech, &fprs)?;
    let (low, curve) = c.max_tpr_at_fpr.split_at(n);
    let outcomes = threshold_outcomes(attacks, members, non_members);
    let test = test_ceiling(&outcomes, beta, |fprs| {
        attack_ceiling(&mech, fprs).map(|c| c.max_tpr_at_fpr.into_iter().map(|(_, t)| t).collect())
    })?;
    let errors = test
        .violations
        .iter()
        .map(|v| {
            format!(
                "{} at α = {}: {} of {} members flagged (TPR ≥ {:.4}) against {} of {} \
                 non-members (FPR ≤ {:.4}), above the DP ceiling {:.4} at that FPR. A correct \
                 run shows this with probability below {} (exact bounds over {} thresholds): \
                 training, sampling or accounting has a bug",
                v.outcome.attack,
                v.outcome.alpha,
                v.outcome.members_flagged,
                v.outcome.members,
                v.tpr_lower,
                v.outcome.non_members_flagged,
                v.outcome.non_members,
                v.fpr_upper,
                v.ceiling,
                test.false_alarm_rate,
                test.comparisons
            )
        })
        .collect();
    Ok(Measured {
        report: CeilingReport {
            max_tpr_at_fpr: low.to_vec(),
            max_advantage: c.max_advantage,
            above: above_ceiling(attacks, low, c.max_advantage),
            respected: test.violations.is_empty(),
            test,
        },
        curve: curve.to_vec(),
        errors,
    })
}

/// A point estimate above the DP ceiling. Expected now and then by chance, on small runs above
/// all (the largest advantage over all thresholds is biased upwards): reported, never an error.
#[derive(Debug, Clone, Serialize)]
pub struct AboveCeiling {
    /// Which attack.
    pub attack: String,
    /// Which figure (e.g. `tpr_at_fpr_0.001`).
    pub metric: String,
    /// The point estimate.
    pub measured: f64,
    /// The ceiling.
    pub ceiling: f64,
}

/// The most any attack can reach against the DP target, and whether the measured attacks
/// contradict it.
#[derive(Debug, Clone, Serialize)]
pub struct CeilingReport {
    /// `(fpr, max tpr)` at the reported FPRs.
    pub max_tpr_at_fpr: Vec<(f64, f64)>,
    /// The largest TPR − FPR.
    pub max_advantage: f64,
    /// Point estimates above their ceiling (informational).
    pub above: Vec<AboveCeiling>,
    /// The test that may report a bug: exact bounds at the attackers' own α thresholds, with a
    /// stated false-alarm rate (see `metrics::ceiling_test`).
    pub test: CeilingTest,
    /// Whether the test found no violation.
    pub respected: bool,
}

/// FPRs at which the ceiling curve is drawn.
fn ceiling_curve_fprs(min_fpr: f64) -> Vec<f64> {
    let lo = min_fpr.log10();
    (0..=40)
        .map(|i| 10f64.powf(lo * (1.0 - f64::from(i) / 40.0)).min(0.999))
        .collect()
}

/// Point estimates (TPR at the low FPRs, largest advantage) above their ceilings.
pub(super) fn above_ceiling(
    attacks: &[&AttackMetrics],
    max_tpr_at_fpr: &[(f64, f64)],
    max_advantage: f64,
) -> Vec<AboveCeiling> {
    let mut above = Vec::new();
    for a in attacks {
        for (point, &(_, ceiling)) in a.tpr_at_fpr.iter().zip(max_tpr_at_fpr) {
            if point.tpr.estimate > ceiling {
                above.push(AboveCeiling {
                    attack: a.name.clone(),
                    metric: format!("tpr_at_fpr_{}", point.max_fpr),
                    measured: point.tpr.estimate,
                    ceiling,
                });
            }
        }
        if a.max_advantage.estimate > max_advantage {
            above.push(AboveCeiling {
                attack: a.name.clone(),
                metric: "max_advantage".into(),
                measured: a.max_advantage.estimate,
                ceiling: max_advantage,
            });
        }
    }
    above
}

/// What each attack's α thresholds flagged. These thresholds were fixed from the attacker's
/// public records before any candidate was scored, which is what makes the exact binomial
/// bounds of the ceiling test valid.
fn threshold_outcomes(
    attacks: &[&AttackMetrics],
    members: usize,
    non_members: usize,
) -> Vec<ThresholdOutcome> {
    let count = |rate: f64, n: usize| (rate * n as f64).round() as usize;
    attacks
        .iter()
        .flat_map(|a| {
            a.alpha_grid.iter().map(|p| ThresholdOutcome {
                attack: a.name.clone(),
                alpha: p.alpha,
                members_flagged: count(p.tpr, members),
                members,
                non_members_flagged: count(p.fpr, non_members),
                non_members,
            })
        })
        .collect()
}
