//! Where the imprint rows cut: at equal-mass quantiles of the statistic on data the attacker
//! owns, so that each of the k bins holds a sample with probability 1/k.
//!
//! With m samples drawn from the same distribution, a sample is alone in its bin, and so
//! recovered exactly, with probability (1 − 1/k)^(m − 1): the expected recovered count is
//! m·(1 − 1/k)^(m − 1) (k = m gives m/e; k = 10m about 0.90m). breaching's
//! `analysis/imprint_guarantee.py` gives much less; this is the formula its own simulation
//! matches.

use crate::config::{ConfigError, at_least_one};

/// The k cut-offs, ascending. Neuron i fires for a sample whose statistic exceeds cut-off i;
/// the first lies below every value of the attacker's data, so neuron 0 fires for every
/// plausible sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Cutoffs(Vec<f64>);

impl Cutoffs {
    /// Cut-offs at the i/k quantiles (i = 1 … k − 1) of `aux`, the statistic on the attacker's
    /// own data, after one below its range.
    ///
    /// # Errors
    /// `bins` of 0, no auxiliary data, or a statistic constant on it (no bin could separate
    /// anything).
    pub fn equal_mass(aux: &[f64], bins: usize) -> Result<Self, ConfigError> {
        at_least_one("bins", bins)?;
        let mut sorted: Vec<f64> = aux.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let (Some(&lo), Some(&hi)) = (sorted.first(), sorted.last()) else {
            return Err(ConfigError::invalid(
                "aux",
                "no images",
                "the attacker needs auxiliary data to place its cut-offs",
            ));
        };
        if hi <= lo {
            return Err(ConfigError::invalid(
                "statistic",
                lo,
                "the statistic is constant on the auxiliary data: no cut-off can separate samples",
            ));
        }
        let mut cuts = Vec::with_capacity(bins);
        cuts.push(lo - (hi - lo));
        cuts.extend((1..bins).map(|i| quantile(&sorted, i as f64 / bins as f64)));
        Ok(Self(cuts))
    }

    /// The idealised placement of Fowl et al.'s paragraph ("all samples in the first neuron,
    /// all but one in the second, …"): one cut-off below every value of `batch` and one
    /// midway between each pair of its sorted values, so that each sample is alone in its bin.
    /// `batch` is the private batch's statistic: no real attacker has it, and this placement is
    /// an upper bound, never the attack.
    pub fn oracle(batch: &[f64]) -> Self {
        let mut sorted = batch.to_vec();
        sorted.sort_by(f64::total_cmp);
        let Some(&lo) = sorted.first() else {
            return Self(vec![0.0]);
        };
        let mut cuts = vec![lo - 1.0];
        cuts.extend(sorted.windows(2).map(|w| (w[0] + w[1]) / 2.0));
        Self(cuts)
    }

    /// Cut-offs as given (ascending), for tests and the idealised placements.
    pub fn from_values(values: Vec<f64>) -> Self {
        debug_assert!(values.windows(2).all(|w| w[0] <= w[1]), "cut-offs ascend");
        Self(values)
    }

    /// The cut-offs, ascending.
    pub fn values(&self) -> &[f64] {
        &self.0
    }

    /// Number of bins (and imprint rows).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: there is at least one bin.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bin of a sample with statistic `value`: the last cut-off it exceeds (`None` below
    /// the first: no neuron fires, the sample is invisible).
    pub fn bin_of(&self, value: f64) -> Option<usize> {
        self.0.iter().rposition(|&c| value > c)
    }
}

/// The expected number of m samples alone in their bin among k equal-mass bins:
/// m·(1 − 1/k)^(m − 1).
pub fn expected_alone(samples: usize, bins: usize) -> f64 {
    if samples == 0 || bins == 0 {
        return 0.0;
    }
    let m = samples as f64;
    m * (1.0 - 1.0 / bins as f64).powf(m - 1.0)
}

/// The p-quantile of ascending `sorted` (linear interpolation between order statistics, the
/// default of numpy's `quantile`).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let at = p * (sorted.len() - 1) as f64;
    let (i, frac) = (at.floor() as usize, at.fract());
    match sorted.get(i + 1) {
        Some(&next) => sorted[i] + frac * (next - sorted[i]),
        None => sorted[i],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn the_formula_has_its_known_values() {
        assert_eq!(expected_alone(1, 1), 1.0);
        assert_eq!(expected_alone(2, 1), 0.0);
        let m = 1000;
        assert!((expected_alone(m, m) / m as f64 - (-1.0f64).exp()).abs() < 1e-3);
        assert!((expected_alone(m, 10 * m) / m as f64 - 0.905).abs() < 1e-3);
    }

    #[test]
    fn quantiles_split_the_data_into_equal_shares() {
        let aux: Vec<f64> = (0..1000).map(f64::from).collect();
        let cuts = Cutoffs::equal_mass(&aux, 4).unwrap();
        assert_eq!(cuts.len(), 4);
        assert_eq!(&cuts.values()[1..], &[249.75, 499.5, 749.25]);
        assert!(cuts.values()[0] < 0.0);
        let mut counts = [0; 4];
        for &v in &aux {
            counts[cuts.bin_of(v).unwrap()] += 1;
        }
        assert_eq!(counts, [250; 4]);
    }

    #[test]
    fn oracle_cutoffs_give_every_distinct_sample_its_own_bin() {
        let batch = [0.4, 0.1, 0.9, 0.35];
        let cuts = Cutoffs::oracle(&batch);
        assert_eq!(cuts.len(), 4);
        let mut bins: Vec<usize> = batch.iter().map(|&v| cuts.bin_of(v).unwrap()).collect();
        bins.sort_unstable();
        assert_eq!(bins, vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_constant_statistic_or_no_bins_is_an_error() {
        let e = Cutoffs::equal_mass(&[0.5; 10], 4).unwrap_err().to_string();
        assert!(e.contains("constant"), "{e}");
        assert!(Cutoffs::equal_mass(&[0.0, 1.0], 0).is_err());
        assert!(Cutoffs::equal_mass(&[], 3).is_err());
    }

    /// The measured share of samples alone in their bin, over many draws of m samples from the
    /// distribution the cut-offs were fitted on, matches (1 − 1/k)^(m − 1) within its sampling
    /// error.
    #[test]
    fn the_alone_share_matches_the_formula_in_simulation() {
        let mut rng = StdRng::seed_from_u64(7);
        let aux: Vec<f64> = (0..200_000).map(|_| rng.random::<f64>().powi(2)).collect();
        for (m, k) in [(16, 16), (16, 64), (24, 96)] {
            let cuts = Cutoffs::equal_mass(&aux, k).unwrap();
            let trials = 3000;
            let mut alone = 0usize;
            for _ in 0..trials {
                let bins: Vec<usize> = (0..m)
                    .map(|_| cuts.bin_of(rng.random::<f64>().powi(2)).unwrap())
                    .collect();
                alone += bins
                    .iter()
                    .filter(|&&b| bins.iter().filter(|&&c| c == b).count() == 1)
                    .count();
            }
            let measured = alone as f64 / (trials * m) as f64;
            let expected = expected_alone(m, k) / m as f64;
            // Samples of one draw are dependent; the per-draw share has variance below p(1 − p),
            // so p(1 − p)/trials bounds the variance of the mean: 4 standard errors.
            let se = (expected * (1.0 - expected) / trials as f64).sqrt();
            assert!(
                (measured - expected).abs() < 4.0 * se,
                "m {m}, k {k}: measured {measured:.4}, formula {expected:.4} (se {se:.4})"
            );
        }
    }
}
