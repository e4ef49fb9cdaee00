//! The global-threshold baselines: one threshold for every record, read off the scores of
//! public non-members. On the logit margin this is the "marginal quantile" baseline of Bertran
//! et al. 2023; on the negated loss it is the loss attack of Yeom et al. 2018 (with the threshold
//! set from public data instead of the target's average training loss, which the attacker does
//! not know).

use super::{MembershipScores, MembershipView, margin, negative_loss};
use crate::Result;
use crate::attacks::Attack;
use crate::runtime::Runtime;

/// The statistic a global threshold is put on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    /// The logit margin z_y − max_{y' ≠ y} z_{y'} (Bertran et al.'s marginal baseline).
    Margin,
    /// The negated loss (Yeom et al. 2018).
    Loss,
}

/// One threshold for every candidate, read off the public records' statistic.
#[derive(Debug, Clone, Copy)]
pub struct ThresholdAttack<'a> {
    /// Margin or loss.
    pub statistic: Statistic,
    /// The false-positive rates the thresholds aim at.
    pub alphas: &'a [f64],
}

impl Attack<MembershipView> for ThresholdAttack<'_> {
    type Output = MembershipScores;

    fn run(&self, view: &MembershipView, _rt: &mut Runtime<'_>) -> Result<MembershipScores> {
        let statistic = match self.statistic {
            Statistic::Margin => margin,
            Statistic::Loss => negative_loss,
        };
        Ok(global_threshold(
            &statistic(view.public_logits(), view.public()),
            &statistic(view.candidate_logits(), view.candidates()),
            self.alphas,
        ))
    }
}

/// The smallest threshold t with at most a fraction α of `public` scores ≥ t: the empirical
/// (1 − α) quantile, placed so that the rule "score ≥ t" keeps the false-positive rate on the
/// public records at or below α.
pub fn marginal_threshold(sorted_desc: &[f64], alpha: f64) -> f64 {
    let n = sorted_desc.len();
    // The largest count of public records we may flag.
    let k = ((alpha * n as f64).floor() as usize).min(n);
    if k == n {
        return f64::NEG_INFINITY;
    }
    // Flag only scores strictly above the (k+1)-th largest: at most k records.
    sorted_desc[k].next_up()
}

/// The candidates' own scores, with the marginal thresholds of the public scores for each α.
pub fn global_threshold(public: &[f64], candidates: &[f64], alphas: &[f64]) -> MembershipScores {
    let mut sorted = public.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    MembershipScores {
        scores: candidates.to_vec(),
        thresholds: alphas
            .iter()
            .map(|&a| (a, marginal_threshold(&sorted, a)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_flags_at_most_alpha_of_the_public_scores() {
        let public: Vec<f64> = (0..1000).map(|i| f64::from(i % 250)).collect(); // ties galore
        let mut sorted = public.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        for alpha in [1e-4, 1e-3, 0.01, 0.05, 0.2, 0.5, 0.999] {
            let t = marginal_threshold(&sorted, alpha);
            let flagged = public.iter().filter(|&&s| s >= t).count();
            assert!(flagged as f64 <= alpha * 1000.0, "α = {alpha}: {flagged}");
            // The largest such set: lowering t to the next public score breaks the bound,
            // unless a tie block makes the bound unreachable exactly.
            let next = sorted.iter().rev().find(|&&s| s < t).copied();
            if let Some(lower) = next {
                let more = public.iter().filter(|&&s| s >= lower).count();
                assert!(
                    more as f64 > alpha * 1000.0,
                    "α = {alpha}: t could be lower"
                );
            }
        }
        assert_eq!(marginal_threshold(&sorted, 1.0), f64::NEG_INFINITY);
    }
}
