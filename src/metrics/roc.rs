//! The ROC curve of a membership-inference attack and the figures the literature reports from it
//! (Carlini et al. 2022, "Membership Inference Attacks From First Principles": TPR at low FPR;
//! Yeom et al. 2018: membership advantage TPR − FPR).
//!
//! The rule is "member iff score ≥ t". Every distinct score is a threshold, ties are crossed
//! together (a threshold cannot separate equal scores), so the curve is exactly the set of
//! operating points an attacker can reach with a deterministic threshold.

/// One operating point.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RocPoint {
    /// The threshold t: scores ≥ t are called members.
    pub threshold: f64,
    /// False-positive rate: non-members called members.
    pub fpr: f64,
    /// True-positive rate: members called members.
    pub tpr: f64,
}

/// The empirical ROC curve, from (0, 0) (threshold +∞) to (1, 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Roc {
    points: Vec<RocPoint>,
}

/// Scores that cannot make a ROC curve.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RocError {
    /// One of the two groups is empty.
    #[error("a ROC curve needs at least one member and one non-member score")]
    EmptyGroup,
    /// A NaN score.
    #[error("scores must not be NaN")]
    NaN,
}

impl Roc {
    /// The curve of the rule "member iff score ≥ t" over all thresholds.
    pub fn new(members: &[f64], non_members: &[f64]) -> Result<Self, RocError> {
        if members.is_empty() || non_members.is_empty() {
            return Err(RocError::EmptyGroup);
        }
        if members.iter().chain(non_members).any(|s| s.is_nan()) {
            return Err(RocError::NaN);
        }
        // (score, is_member), highest score first.
        let mut all: Vec<(f64, bool)> = members
            .iter()
            .map(|&s| (s, true))
            .chain(non_members.iter().map(|&s| (s, false)))
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (np, nn) = (members.len() as f64, non_members.len() as f64);
        let mut points = vec![RocPoint {
            threshold: f64::INFINITY,
            fpr: 0.0,
            tpr: 0.0,
        }];
        let (mut tp, mut fp) = (0usize, 0usize);
        let mut i = 0;
        while i < all.len() {
            let t = all[i].0;
            while i < all.len() && all[i].0 == t {
                if all[i].1 {
                    tp += 1
                } else {
                    fp += 1
                }
                i += 1;
            }
            points.push(RocPoint {
                threshold: t,
                fpr: fp as f64 / nn,
                tpr: tp as f64 / np,
            });
        }
        Ok(Self { points })
    }

    /// The operating points, threshold decreasing (FPR and TPR non-decreasing).
    pub fn points(&self) -> &[RocPoint] {
        &self.points
    }

    /// Area under the curve (trapezoids: a tie counts half), the probability that a random
    /// member scores above a random non-member.
    pub fn auc(&self) -> f64 {
        self.points
            .windows(2)
            .map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0)
            .sum()
    }

    /// The largest TPR at an operating point with FPR ≤ `max_fpr` (the convention of Carlini et
    /// al. 2022; no interpolation, so the attacker could really use the threshold).
    pub fn tpr_at_fpr(&self, max_fpr: f64) -> f64 {
        self.best_point_at_fpr(max_fpr).tpr
    }

    /// The operating point behind [`Roc::tpr_at_fpr`].
    pub fn best_point_at_fpr(&self, max_fpr: f64) -> RocPoint {
        // Points are sorted by FPR, and TPR never falls along them.
        *self
            .points
            .iter()
            .take_while(|p| p.fpr <= max_fpr)
            .last()
            .expect("the curve starts at FPR 0")
    }

    /// The largest membership advantage TPR − FPR over all thresholds (Yeom et al. 2018).
    pub fn max_advantage(&self) -> f64 {
        self.points
            .iter()
            .map(|p| p.tpr - p.fpr)
            .fold(0.0, f64::max)
    }

    /// The best balanced accuracy, (1 + max advantage) / 2.
    pub fn max_balanced_accuracy(&self) -> f64 {
        (1.0 + self.max_advantage()) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfect_attack_has_auc_one_and_full_tpr_at_zero_fpr() {
        let roc = Roc::new(&[3.0, 4.0], &[1.0, 2.0]).unwrap();
        assert_eq!(roc.auc(), 1.0);
        assert_eq!(roc.tpr_at_fpr(0.0), 1.0);
        assert_eq!(roc.max_advantage(), 1.0);
    }

    #[test]
    fn tied_scores_are_crossed_together_and_count_half_in_the_auc() {
        // All scores equal: the only points are (0, 0) and (1, 1).
        let roc = Roc::new(&[1.0, 1.0], &[1.0, 1.0, 1.0]).unwrap();
        assert_eq!(roc.points().len(), 2);
        assert_eq!(roc.auc(), 0.5);
        assert_eq!(roc.tpr_at_fpr(0.5), 0.0);
        assert_eq!(roc.max_advantage(), 0.0);
    }

    #[test]
    fn tpr_at_fpr_takes_the_largest_tpr_within_the_fpr_budget() {
        // Members 0.9, 0.7, 0.4; non-members 0.8, 0.3.
        let roc = Roc::new(&[0.9, 0.7, 0.4], &[0.8, 0.3]).unwrap();
        assert!((roc.tpr_at_fpr(0.0) - 1.0 / 3.0).abs() < 1e-12);
        assert!((roc.tpr_at_fpr(0.5) - 1.0).abs() < 1e-12);
        // AUC = P(member > non-member): 0.9 beats both, 0.7 and 0.4 beat 0.3 only: 4 / 6.
        assert!((roc.auc() - 4.0 / 6.0).abs() < 1e-12);
        assert!((roc.max_advantage() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn empty_groups_and_nan_scores_are_errors() {
        assert_eq!(Roc::new(&[], &[1.0]), Err(RocError::EmptyGroup));
        assert_eq!(Roc::new(&[f64::NAN], &[1.0]), Err(RocError::NaN));
    }
}
