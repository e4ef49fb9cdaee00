//! How well a membership attack did, measured against the truth (which records were members):
//! AUC, TPR at low FPR, precision, advantage, each low-FPR figure with a bootstrap interval, and
//! the operating points the attacker's own thresholds (one per α) reach.
//!
//! Conventions: "TPR at FPR f" is the largest TPR at an operating point with FPR ≤ f (no
//! interpolation: the attacker could really use that threshold). Precision is given two ways:
//! at a 50% prior, TPR / (TPR + FPR), and among the records the rule flagged, TP / (TP + FP);
//! with as many members as non-members among the candidates, as here, the two agree.

use rand::rngs::StdRng;
use serde::Serialize;

use super::{Interval, Roc, RocError, bootstrap_intervals};
use crate::attacks::membership::MembershipScores;
use crate::data::Truth;

/// The FPRs at which TPR is reported.
pub const LOW_FPRS: [f64; 2] = [0.001, 0.01];

/// TPR at one target FPR, with the operating point behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LowFprPoint {
    /// The FPR the point may not exceed.
    pub max_fpr: f64,
    /// TPR with its bootstrap interval.
    pub tpr: Interval,
    /// The FPR actually reached (≤ `max_fpr`).
    pub fpr: f64,
    /// TPR / (TPR + FPR) at that point (`null` when nothing is flagged).
    pub precision_at_50_prior: Option<f64>,
    /// Members among the records flagged at that point (`null` when nothing is flagged).
    pub precision_flagged: Option<f64>,
    /// Records flagged at that point.
    pub flagged: usize,
}

/// The operating point of the attacker's threshold for one α.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlphaPoint {
    /// The false-positive rate the attacker aimed at.
    pub alpha: f64,
    /// The FPR it got.
    pub fpr: f64,
    /// The TPR it got.
    pub tpr: f64,
    /// TPR / (TPR + FPR) (`null` when nothing is flagged).
    pub precision_at_50_prior: Option<f64>,
    /// Members among the flagged records (`null` when nothing is flagged).
    pub precision_flagged: Option<f64>,
    /// Records flagged.
    pub flagged: usize,
}

/// Everything measured about one attack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackMetrics {
    /// Which attack.
    pub name: String,
    /// Area under the ROC curve, with its bootstrap interval.
    pub auc: Interval,
    /// TPR at each of [`LOW_FPRS`].
    pub tpr_at_fpr: Vec<LowFprPoint>,
    /// The largest TPR − FPR over all thresholds, with its bootstrap interval.
    pub max_advantage: Interval,
    /// The attacker's own α thresholds (empty for attacks that only rank).
    pub alpha_grid: Vec<AlphaPoint>,
    /// The ROC curve sampled at log-spaced FPRs (for plots): `(fpr, tpr)` pairs.
    pub roc: Vec<(f64, f64)>,
}

fn precisions(tp: usize, fp: usize, tpr: f64, fpr: f64) -> (Option<f64>, Option<f64>) {
    let at_prior = (tpr + fpr > 0.0).then(|| tpr / (tpr + fpr));
    let flagged = (tp + fp > 0).then(|| tp as f64 / (tp + fp) as f64);
    (at_prior, flagged)
}

/// Which candidates were members, for the run's raw arrays (`is_member.npy`): written beside
/// the attacks' scores once the attack is over, so that another tool can recompute every
/// figure. Measurement output, like the figures themselves.
pub fn membership_for_export(is_member: &Truth<Vec<bool>>) -> &[bool] {
    is_member.unseal()
}

/// Measures `attack` against the sealed truth of which candidates were members (only
/// measurement code opens it). `resamples` bootstrap resamples
/// give the 95% intervals.
pub fn measure(
    name: &str,
    attack: &MembershipScores,
    is_member: &Truth<Vec<bool>>,
    resamples: usize,
    rng: &mut StdRng,
) -> Result<AttackMetrics, RocError> {
    let (mut members, mut non_members) = (Vec::new(), Vec::new());
    for (&s, &m) in attack.scores.iter().zip(is_member.unseal()) {
        if m {
            members.push(s)
        } else {
            non_members.push(s)
        }
    }
    let (np, nn) = (members.len() as f64, non_members.len() as f64);
    let roc = Roc::new(&members, &non_members)?;
    let auc = |r: &Roc| r.auc();
    let adv = |r: &Roc| r.max_advantage();
    let tpr0 = |r: &Roc| r.tpr_at_fpr(LOW_FPRS[0]);
    let tpr1 = |r: &Roc| r.tpr_at_fpr(LOW_FPRS[1]);
    let stats: [&dyn Fn(&Roc) -> f64; 4] = [&auc, &adv, &tpr0, &tpr1];
    let intervals = bootstrap_intervals(&members, &non_members, &stats, resamples, 0.95, rng)?;
    let tpr_at_fpr = LOW_FPRS
        .iter()
        .zip(&intervals[2..])
        .map(|(&max_fpr, &tpr)| {
            let p = roc.best_point_at_fpr(max_fpr);
            let (tp, fp) = ((p.tpr * np).round() as usize, (p.fpr * nn).round() as usize);
            let (precision_at_50_prior, precision_flagged) = precisions(tp, fp, p.tpr, p.fpr);
            LowFprPoint {
                max_fpr,
                tpr,
                fpr: p.fpr,
                precision_at_50_prior,
                precision_flagged,
                flagged: tp + fp,
            }
        })
        .collect();
    let alpha_grid = attack
        .thresholds
        .iter()
        .map(|&(alpha, t)| {
            let tp = members.iter().filter(|&&s| s >= t).count();
            let fp = non_members.iter().filter(|&&s| s >= t).count();
            let (tpr, fpr) = (tp as f64 / np, fp as f64 / nn);
            let (precision_at_50_prior, precision_flagged) = precisions(tp, fp, tpr, fpr);
            AlphaPoint {
                alpha,
                fpr,
                tpr,
                precision_at_50_prior,
                precision_flagged,
                flagged: tp + fp,
            }
        })
        .collect();
    Ok(AttackMetrics {
        name: name.to_string(),
        auc: intervals[0],
        tpr_at_fpr,
        max_advantage: intervals[1],
        alpha_grid,
        roc: sample_curve(&roc, nn),
    })
}

/// The curve at 100 log-spaced FPRs from 1 / non-members to 1 (the step function an attacker
/// can reach, as [`Roc::tpr_at_fpr`] reads it).
fn sample_curve(roc: &Roc, non_members: f64) -> Vec<(f64, f64)> {
    let lo = (1.0 / non_members).log10();
    let mut out: Vec<(f64, f64)> = (0..=100)
        .map(|i| {
            let fpr = 10f64.powf(lo * (1.0 - f64::from(i) / 100.0));
            (fpr, roc.tpr_at_fpr(fpr * (1.0 + 1e-12)))
        })
        .collect();
    out.dedup();
    out
}

/// `count` α values spaced evenly in log scale from 10⁻⁴ to 1, both ends included.
pub fn alpha_grid(count: usize) -> Vec<f64> {
    match count {
        0 => Vec::new(),
        1 => vec![1.0],
        _ => (0..count)
            .map(|i| 10f64.powf(-4.0 + 4.0 * i as f64 / (count - 1) as f64))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn alpha_points_count_what_each_threshold_flags() {
        let attack = MembershipScores {
            scores: vec![0.9, 0.8, 0.3, 0.7, 0.1, 0.2],
            thresholds: vec![(0.5, 0.75), (1.0, f64::NEG_INFINITY)],
        };
        let is_member = Truth::new(vec![true, true, true, false, false, false]);
        let m = measure("t", &attack, &is_member, 50, &mut StdRng::seed_from_u64(0)).unwrap();
        let a = &m.alpha_grid[0];
        assert_eq!((a.tpr, a.fpr, a.flagged), (2.0 / 3.0, 0.0, 2));
        assert_eq!(a.precision_flagged, Some(1.0));
        let all = &m.alpha_grid[1];
        assert_eq!((all.tpr, all.fpr, all.flagged), (1.0, 1.0, 6));
        assert_eq!(all.precision_at_50_prior, Some(0.5));
        // AUC: 8 of the 9 member/non-member pairs are ordered right.
        assert!((m.auc.estimate - 8.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn the_alpha_grid_is_log_spaced_from_1e_minus_4_to_1() {
        let g = alpha_grid(5);
        let want = [1e-4, 1e-3, 1e-2, 1e-1, 1.0];
        for (a, w) in g.iter().zip(want) {
            assert!((a / w - 1.0).abs() < 1e-12, "{g:?}");
        }
    }
}
