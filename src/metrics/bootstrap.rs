//! Percentile-bootstrap confidence intervals for ROC figures (Efron & Tibshirani 1993, ch. 13).
//!
//! Low-FPR figures rest on a handful of non-members above the threshold (TPR at 0.1% FPR of 10,000
//! non-members is decided by 10 of them), so a point estimate alone overstates what a run shows.
//! Members and non-members are resampled separately, with replacement, keeping both group sizes.

use rand::RngExt;
use rand::rngs::StdRng;
use serde::Serialize;

use super::{Roc, RocError};

/// A point estimate and its two-sided percentile interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// The statistic on the observed scores.
    pub estimate: f64,
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Coverage the interval aims at (0.95 for a 95% interval).
    pub level: f64,
}

/// The `level` (e.g. 0.95) percentile-bootstrap interval of `statistic` over `resamples`
/// resamplings of the two groups.
pub fn bootstrap_interval(
    members: &[f64],
    non_members: &[f64],
    statistic: impl Fn(&Roc) -> f64,
    resamples: usize,
    level: f64,
    rng: &mut StdRng,
) -> Result<Interval, RocError> {
    let mut one = bootstrap_intervals(members, non_members, &[&statistic], resamples, level, rng)?;
    Ok(one.remove(0))
}

/// [`bootstrap_interval`] for several statistics of the same resamples: sorting the scores into
/// a ROC curve is the cost, so each resample's curve serves every statistic.
pub fn bootstrap_intervals(
    members: &[f64],
    non_members: &[f64],
    statistics: &[&dyn Fn(&Roc) -> f64],
    resamples: usize,
    level: f64,
    rng: &mut StdRng,
) -> Result<Vec<Interval>, RocError> {
    let observed = Roc::new(members, non_members)?;
    let resample = |scores: &[f64], rng: &mut StdRng| -> Vec<f64> {
        (0..scores.len())
            .map(|_| scores[rng.random_range(0..scores.len())])
            .collect()
    };
    let mut values: Vec<Vec<f64>> = vec![Vec::with_capacity(resamples.max(1)); statistics.len()];
    for _ in 0..resamples.max(1) {
        let m = resample(members, rng);
        let n = resample(non_members, rng);
        let roc = Roc::new(&m, &n).expect("resamples of valid groups are valid");
        for (stat, v) in statistics.iter().zip(&mut values) {
            v.push(stat(&roc));
        }
    }
    let tail = (1.0 - level) / 2.0;
    Ok(statistics
        .iter()
        .zip(values)
        .map(|(stat, mut values)| {
            values.sort_by(f64::total_cmp);
            let quantile = |p: f64| {
                let at = (p * (values.len() - 1) as f64).round() as usize;
                values[at.min(values.len() - 1)]
            };
            Interval {
                estimate: stat(&observed),
                low: quantile(tail),
                high: quantile(1.0 - tail),
                level,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    fn scores(n: usize, mu: f64, rng: &mut StdRng) -> Vec<f64> {
        (0..n)
            .map(|_| mu + <StandardNormal as Distribution<f64>>::sample(&StandardNormal, rng))
            .collect()
    }

    #[test]
    fn the_interval_covers_the_true_value_and_narrows_with_more_data() {
        // Members ~ N(1, 1), non-members ~ N(0, 1): TPR at 1% FPR is 0.092362
        // (mia_metric_vectors.json).
        let truth = 0.092362;
        let mut rng = StdRng::seed_from_u64(7);
        let mut widths = Vec::new();
        for n in [2_000, 20_000] {
            let (m, nm) = (scores(n, 1.0, &mut rng), scores(n, 0.0, &mut rng));
            let i =
                bootstrap_interval(&m, &nm, |r| r.tpr_at_fpr(0.01), 200, 0.95, &mut rng).unwrap();
            assert!(i.low <= i.estimate && i.estimate <= i.high, "{i:?}");
            assert!(i.low <= truth && truth <= i.high, "n = {n}: {i:?}");
            widths.push(i.high - i.low);
        }
        // Ten times the data: about √10 ≈ 3.2 times narrower.
        let ratio = widths[0] / widths[1];
        assert!((2.0..5.0).contains(&ratio), "{widths:?}");
    }
}
