//! Offline LiRA (Carlini et al. 2022, "Membership Inference Attacks From First Principles",
//! §VI-C). The attacker trains k shadow models the way the target was trained, on random halves
//! of its public data, so none of them has seen a candidate. For each candidate it queries the
//! shadows, models the logit-scaled confidence φ of a non-member as Gaussian with the mean the
//! shadows give and a variance pooled over all candidates (the paper's choice for few shadows),
//! and scores the target's φ by how far above that law it lies: `(φ − μ_out(x)) / σ_out`.

use rand::seq::SliceRandom;

use super::{MembershipScores, MembershipView, logit_confidence};
use crate::Result;
use crate::attacks::Attack;
use crate::runtime::Runtime;
use crate::train::{FitSpec, fit};

/// Offline LiRA: `shadows` models trained by the target's recipe (`recipe`: the attacker knows
/// how the target was trained, not on what), each on `shadow_size` public records drawn at
/// random, then queried on the candidates. A shadow is evaluated, epoch by epoch, on the public
/// records it did not train on: the attacker owns no other labelled data.
#[derive(Debug, Clone, Copy)]
pub struct LiraAttack<'a> {
    /// Shadow models k (at least 1).
    pub shadows: usize,
    /// Public records each shadow trains on.
    pub shadow_size: usize,
    /// How the target was trained.
    pub recipe: FitSpec<'a>,
    /// The false-positive rates the thresholds aim at.
    pub alphas: &'a [f64],
}

impl Attack<MembershipView> for LiraAttack<'_> {
    type Output = MembershipScores;

    fn run(&self, view: &MembershipView, rt: &mut Runtime<'_>) -> Result<MembershipScores> {
        let (public, candidates) = (view.public(), view.candidates());
        let mut shadows = Vec::with_capacity(self.shadows);
        for _ in 0..self.shadows {
            let mut order: Vec<usize> = (0..public.len()).collect();
            order.shuffle(&mut *rt.rng);
            let (inside, outside) = order.split_at(self.shadow_size);
            let shadow = fit(
                &self.recipe,
                &public.subset(inside),
                &public.subset(outside),
                rt,
            )?;
            let access = super::QueryAccess::new(&shadow.trained.model, rt.device);
            shadows.push(logit_confidence(&access.logits(candidates), candidates));
        }
        let target = logit_confidence(view.candidate_logits(), candidates);
        Ok(offline_scores(&target, &shadows, self.alphas))
    }
}

/// Scores from the target's confidences and the shadows' (`shadows[j][i]` is shadow j on
/// candidate i). Thresholds are those of a standard normal, as for the quantile attack.
pub fn offline_scores(target: &[f64], shadows: &[Vec<f64>], alphas: &[f64]) -> MembershipScores {
    let k = shadows.len() as f64;
    let means: Vec<f64> = (0..target.len())
        .map(|i| shadows.iter().map(|s| s[i]).sum::<f64>() / k)
        .collect();
    // Pooled within-candidate variance; with one shadow, the spread of φ over candidates.
    let pooled = if shadows.len() >= 2 {
        let ss: f64 = (0..target.len())
            .map(|i| {
                shadows
                    .iter()
                    .map(|s| (s[i] - means[i]).powi(2))
                    .sum::<f64>()
            })
            .sum();
        ss / (target.len() as f64 * (k - 1.0))
    } else {
        let m = means.iter().sum::<f64>() / means.len() as f64;
        means.iter().map(|v| (v - m).powi(2)).sum::<f64>() / means.len() as f64
    };
    let sigma = pooled.sqrt().max(1e-9);
    MembershipScores {
        scores: target
            .iter()
            .zip(&means)
            .map(|(phi, mu)| (phi - mu) / sigma)
            .collect(),
        thresholds: alphas
            .iter()
            .map(|&a| (a, super::quantile::upper_normal_quantile(a)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_standardised_by_the_shadow_mean_and_pooled_spread() {
        // Two candidates, shadows at μ ± 1 around means 0 and 10: pooled σ² = (1+1+1+1)/(2·1).
        let shadows = vec![vec![-1.0, 9.0], vec![1.0, 11.0]];
        let out = offline_scores(&[2.0_f64.sqrt(), 10.0], &shadows, &[0.5]);
        assert!((out.scores[0] - 1.0).abs() < 1e-12, "{:?}", out.scores);
        assert!(out.scores[1].abs() < 1e-12);
        assert!(out.thresholds[0].1.abs() < 1e-9);
    }
}
