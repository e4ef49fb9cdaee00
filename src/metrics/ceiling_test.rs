//! Whether measured membership attacks contradict a DP ceiling, decided by a test whose
//! false-alarm rate is stated.
//!
//! A DP-SGD target bounds every attack: at each false-positive rate f, TPR ≤ c(f) for the
//! ceiling curve c of its privacy profile (`privacy::ceiling`). Comparing a *maximised* figure
//! with it — the best TPR over all thresholds, or the largest advantage — is biased upwards (a
//! random scorer's largest advantage over all thresholds is at least 1/n), so its bootstrap
//! interval cannot accuse the code of a bug. This test uses only thresholds that were fixed
//! before any member was scored: the attacker's own α thresholds, which come from public
//! records alone. At such a threshold the flagged members are k_m of n_m trials at the true TPR
//! and the flagged non-members k_n of n_n trials at the true FPR, so exact Clopper–Pearson
//! bounds hold: with K comparisons and a total false-alarm rate β, each bound errs with
//! probability at most β / (2K), and a violation is declared only when
//! `TPR_lower > c(FPR_upper)`. If both bounds hold, `TPR_lower ≤ TPR ≤ c(FPR) ≤ c(FPR_upper)`
//! (c is non-decreasing), so by the union bound a correct run is accused with probability at
//! most β. The binomial model treats records as independent trials given the threshold; the
//! integration tests measure the rate on real DP targets as well.

use serde::Serialize;

use super::binomial::{clopper_pearson_lower, clopper_pearson_upper};

/// The chance that a correct run is reported as a bug: the default β.
pub const FALSE_ALARM_RATE: f64 = 1e-3;

/// What one attacker threshold flagged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdOutcome {
    /// Which attack.
    pub attack: String,
    /// The α the threshold was set for.
    pub alpha: f64,
    /// Members flagged, of `members`.
    pub members_flagged: usize,
    /// Members scored.
    pub members: usize,
    /// Non-members flagged, of `non_members`.
    pub non_members_flagged: usize,
    /// Non-members scored.
    pub non_members: usize,
}

/// A threshold at which even the exact bounds contradict the ceiling.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdViolation {
    /// What the threshold flagged.
    #[serde(flatten)]
    pub outcome: ThresholdOutcome,
    /// Lower confidence bound on the TPR.
    pub tpr_lower: f64,
    /// Upper confidence bound on the FPR.
    pub fpr_upper: f64,
    /// The ceiling at `fpr_upper`, which `tpr_lower` exceeds.
    pub ceiling: f64,
}

/// The outcome of the test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CeilingTest {
    /// β: the largest chance that a correct run has any violation.
    pub false_alarm_rate: f64,
    /// Thresholds compared (K); each bound is taken at error β / (2K).
    pub comparisons: usize,
    /// Thresholds whose bounds contradict the ceiling (empty for a correct run, except with
    /// probability at most β).
    pub violations: Vec<ThresholdViolation>,
}

/// Tests every outcome against `ceiling`, which maps false-positive rates in (0, 1) to the most
/// TPR any attack may reach there. Outcomes whose FPR bound reaches 1 cannot contradict any
/// ceiling and are not counted.
pub fn test_ceiling<E>(
    outcomes: &[ThresholdOutcome],
    false_alarm_rate: f64,
    ceiling: impl FnOnce(&[f64]) -> Result<Vec<f64>, E>,
) -> Result<CeilingTest, E> {
    // K is fixed before any bound is looked at: every threshold that could ever be tested.
    let testable: Vec<&ThresholdOutcome> = outcomes
        .iter()
        .filter(|o| o.members > 0 && o.non_members > 0 && o.non_members_flagged < o.non_members)
        .collect();
    let k = testable.len();
    if k == 0 {
        return Ok(CeilingTest {
            false_alarm_rate,
            comparisons: 0,
            violations: Vec::new(),
        });
    }
    let beta = false_alarm_rate / (2 * k) as f64;
    let bounds: Vec<(f64, f64)> = testable
        .iter()
        .map(|o| {
            (
                clopper_pearson_lower(o.members_flagged, o.members, beta),
                clopper_pearson_upper(o.non_members_flagged, o.non_members, beta),
            )
        })
        .collect();
    let fpr_uppers: Vec<f64> = bounds.iter().map(|&(_, f)| f.min(1.0 - 1e-12)).collect();
    let ceilings = ceiling(&fpr_uppers)?;
    let violations = testable
        .iter()
        .zip(bounds.iter().zip(ceilings))
        .filter(|(_, ((tpr_lower, _), c))| tpr_lower > c)
        .map(
            |(o, (&(tpr_lower, fpr_upper), ceiling))| ThresholdViolation {
                outcome: (*o).clone(),
                tpr_lower,
                fpr_upper,
                ceiling,
            },
        )
        .collect();
    Ok(CeilingTest {
        false_alarm_rate,
        comparisons: k,
        violations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::special::normal_quantile_from_log;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, StandardNormal};
    use std::convert::Infallible;

    /// Φ⁻¹(p).
    fn probit(p: f64) -> f64 {
        normal_quantile_from_log(p.ln())
    }
    /// Φ(x).
    fn phi(x: f64) -> f64 {
        0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
    }

    fn outcome(members_flagged: usize, non_members_flagged: usize) -> ThresholdOutcome {
        ThresholdOutcome {
            attack: "a".into(),
            alpha: 0.01,
            members_flagged,
            members: 1000,
            non_members_flagged,
            non_members: 1000,
        }
    }

    #[test]
    fn a_flagrant_violation_is_found_and_a_near_miss_is_not() {
        // Ceiling TPR ≤ 2·FPR: 300 of 1000 members at 10 of 1000 non-members is impossible.
        let double =
            |f: &[f64]| Ok::<_, Infallible>(f.iter().map(|x| (2.0 * x).min(1.0)).collect());
        let t = test_ceiling(&[outcome(300, 10)], FALSE_ALARM_RATE, double).unwrap();
        assert_eq!(t.violations.len(), 1);
        assert!(t.violations[0].tpr_lower > t.violations[0].ceiling);
        // 30 of 1000 at 10 of 1000 is above 2·FPR as a point estimate, but within chance.
        let t = test_ceiling(&[outcome(30, 10)], FALSE_ALARM_RATE, double).unwrap();
        assert!(t.violations.is_empty());
        // All non-members flagged: not testable, not counted.
        let t = test_ceiling(&[outcome(1000, 1000)], FALSE_ALARM_RATE, double).unwrap();
        assert_eq!(t.comparisons, 0);
    }

    /// The worst case for the test: an attack that sits exactly on its ceiling. Members score
    /// N(μ, 1) and non-members N(0, 1), the μ-GDP trade-off curve TPR = Φ(Φ⁻¹(FPR) + μ) is the
    /// ceiling, and 5 fixed thresholds are tested per run with 20 members each. Over 2,000 runs
    /// the alarm rate must stay below β = 5% (a large β so that the bound is visible).
    #[test]
    fn an_attack_exactly_on_its_ceiling_raises_alarms_at_most_at_the_stated_rate() {
        let mu = 1.0;
        let beta = 0.05;
        let thresholds = [-1.0, 0.0, 0.5, 1.0, 2.0];
        let ceiling = |f: &[f64]| {
            Ok::<_, Infallible>(f.iter().map(|&x| phi(probit(x) + mu)).collect::<Vec<_>>())
        };
        let mut rng = StdRng::seed_from_u64(7);
        let (runs, n) = (2000, 20);
        let mut alarms = 0;
        for _ in 0..runs {
            let members: Vec<f64> = (0..n)
                .map(|_| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    mu + z
                })
                .collect::<Vec<f64>>();
            let non: Vec<f64> = (0..n)
                .map(|_| -> f64 { StandardNormal.sample(&mut rng) })
                .collect::<Vec<f64>>();
            let outcomes: Vec<ThresholdOutcome> = thresholds
                .iter()
                .map(|&t| ThresholdOutcome {
                    attack: "gdp".into(),
                    alpha: t,
                    members_flagged: members.iter().filter(|&&s| s >= t).count(),
                    members: n,
                    non_members_flagged: non.iter().filter(|&&s| s >= t).count(),
                    non_members: n,
                })
                .collect();
            if !test_ceiling(&outcomes, beta, ceiling)
                .unwrap()
                .violations
                .is_empty()
            {
                alarms += 1;
            }
        }
        let rate = alarms as f64 / runs as f64;
        eprintln!("attack on its ceiling: {alarms} alarms in {runs} runs (β = {beta})");
        assert!(rate <= beta, "false-alarm rate {rate} above β = {beta}");
    }
}
