//! Privacy auditing in one training run (Steinke, Nasr & Jagielski, NeurIPS 2023, "Privacy
//! Auditing with One (1) Training Run"): m canaries, each included in training independently
//! with probability ½; the auditor guesses "in" for its k₊ highest-scored canaries and "out"
//! for its k₋ lowest, abstaining on the rest. Under (ε, δ)-DP the number of correct guesses
//! among r = k₊ + k₋ is stochastically dominated by Binomial(r, e^ε / (1 + e^ε)), up to a
//! δ-dependent term (their Theorem 3.1), so a count that the binomial makes unlikely proves
//! that the training was *not* (ε, δ)-DP: an empirical lower bound on ε, to set beside the
//! accountant's upper bound.
//!
//! [`p_value`] is the paper's Appendix D test, [`epsilon_lower_bound`] the largest ε it rejects
//! at a given confidence. Written by hand: no crate implements the test, and it is a short sum
//! over the exact binomial of [`super::binomial`].

use crate::config::ConfigError;
use crate::data::Truth;

use super::binomial::{pmf, upper_tail};

/// What an auditor's guesses came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guesses {
    /// Canaries m, each included with probability ½.
    pub canaries: usize,
    /// Guesses made r (canaries not abstained on).
    pub made: usize,
    /// Correct guesses v.
    pub correct: usize,
}

impl Guesses {
    /// Checks 0 ≤ v ≤ r ≤ m and m ≥ 2.
    pub fn new(canaries: usize, made: usize, correct: usize) -> Result<Self, ConfigError> {
        if canaries < 2 {
            return Err(ConfigError::invalid(
                "canaries",
                canaries,
                "an audit needs at least 2 canaries",
            ));
        }
        if made > canaries || correct > made {
            return Err(ConfigError::invalid(
                "guesses",
                format!("{correct} correct of {made} made on {canaries} canaries"),
                "need correct ≤ made ≤ canaries",
            ));
        }
        Ok(Self {
            canaries,
            made,
            correct,
        })
    }

    /// The guesses of an auditor who says "in" for the `k_in` highest of `scores` and "out" for
    /// the `k_out` lowest, against `included` (whether each canary was trained on). Ties in
    /// the scores are broken by index, which the auditor could do too.
    ///
    /// # Errors
    /// Scores and truths of different lengths, or k₊ + k₋ beyond the canaries.
    pub fn top_and_bottom(
        scores: &[f64],
        included: &[bool],
        k_in: usize,
        k_out: usize,
    ) -> Result<Self, ConfigError> {
        if scores.len() != included.len() {
            return Err(ConfigError::invalid(
                "canaries",
                format!("{} scores for {} canaries", scores.len(), included.len()),
                "one score per canary",
            ));
        }
        let m = scores.len();
        if k_in.saturating_add(k_out) > m {
            return Err(ConfigError::invalid(
                "guesses",
                format!("{k_in} in + {k_out} out"),
                format!("at most the {m} canaries"),
            ));
        }
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let right_in = order[..k_in].iter().filter(|&&i| included[i]).count();
        let right_out = order[m - k_out..].iter().filter(|&&i| !included[i]).count();
        Self::new(m, k_in + k_out, right_in + right_out)
    }
}

/// The guesses of an auditor who says "in" for its `k` highest-scored canaries and "out" for
/// its `k` lowest, measured against which canaries were trained on: the one place the
/// inclusion coins are read.
pub fn guess(
    scores: &[f64],
    included: &Truth<Vec<bool>>,
    k: usize,
) -> Result<Guesses, ConfigError> {
    Guesses::top_and_bottom(scores, included.unseal(), k, k)
}

/// The probability, were the training (ε, δ)-DP, of at least `g.correct` correct guesses
/// (Steinke et al. 2023, Appendix D): P[Binomial(r, q) ≥ v] with q = e^ε / (1 + e^ε), plus
/// 2mδ times the largest average, over i = 1 … v, of P[v − i ≤ Binomial(r, q) < v].
pub fn p_value(g: Guesses, epsilon: f64, delta: f64) -> f64 {
    let (m, r, v) = (g.canaries, g.made, g.correct);
    // The accuracy of ε-DP randomized response, 1 / (1 + e^−ε).
    let q = 1.0 / (1.0 + (-epsilon).exp());
    let beta = upper_tail(v, r, q);
    let mut alpha = 0.0f64;
    let mut below = 0.0;
    for i in 1..=v {
        below += pmf(v - i, r, q);
        alpha = alpha.max(below / i as f64);
    }
    (beta + alpha * delta * 2.0 * m as f64).min(1.0)
}

/// The largest ε at which `g` rejects (ε, δ)-DP at `confidence` (p-value below
/// 1 − confidence), to 1e-9: with that confidence the training was not (ε, δ)-DP. 0 when the
/// guesses prove nothing.
///
/// # Errors
/// A confidence outside (0, 1) or a δ outside [0, 1).
pub fn epsilon_lower_bound(g: Guesses, delta: f64, confidence: f64) -> Result<f64, ConfigError> {
    let level = test_level(delta, confidence)?;
    let rejects = |eps: f64| p_value(g, eps, delta) < level;
    if !rejects(0.0) {
        return Ok(0.0);
    }
    // The p-value grows with ε; find an ε it no longer rejects, then bisect.
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while rejects(hi) {
        lo = hi;
        hi *= 2.0;
        if hi > 1e6 {
            // Not reached: q → 1 as ε grows, and the p-value with it.
            return Ok(lo);
        }
    }
    while hi - lo > 1e-9 {
        let mid = 0.5 * (lo + hi);
        if rejects(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// The test's level 1 − confidence, after checking confidence ∈ (0, 1) and δ ∈ [0, 1): what
/// every lower bound of one-run auditing takes.
pub(crate) fn test_level(delta: f64, confidence: f64) -> Result<f64, ConfigError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(ConfigError::invalid(
            "confidence",
            confidence,
            "must be in (0, 1)",
        ));
    }
    if !(0.0..1.0).contains(&delta) {
        return Err(ConfigError::invalid("delta", delta, "must be in [0, 1)"));
    }
    Ok(1.0 - confidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    /// Reference values from the paper's Appendix D algorithm run with
    /// `scipy.stats.binom` 1.17 (the same sums in Python, bisection to 2^−60:
    /// tests/fixtures/audit_steinke_ref.py).
    #[test]
    fn the_test_matches_an_independent_computation() {
        let g = |m, r, v| Guesses::new(m, r, v).unwrap();
        for (guesses, eps, delta, want) in [
            (g(1000, 100, 80), 1.0, 1e-5, 0.07300911594917776),
            (g(1000, 100, 80), 2.0, 0.0, 0.9932531940591989),
            (g(10000, 1000, 700), 0.5, 1e-5, 0.0018660565715199332),
            (g(200, 20, 20), 3.0, 1e-5, 0.3799285854258722),
        ] {
            let got = p_value(guesses, eps, delta);
            assert!(
                (got - want).abs() <= 1e-10 * want.max(1e-3),
                "{guesses:?} ε {eps}: {got} vs {want}"
            );
        }
        for (guesses, delta, want) in [
            (g(1000, 100, 80), 1e-5, 0.9553185349552558),
            (g(1000, 100, 100), 1e-5, 3.4653763478110453),
            (g(10000, 1000, 700), 1e-5, 0.7292532390257122),
            (g(1000, 100, 50), 1e-5, 0.0),
            (g(100000, 1000, 990), 0.0, 4.063206133426406),
        ] {
            let got = epsilon_lower_bound(guesses, delta, 0.95).unwrap();
            assert!((got - want).abs() < 1e-6, "{guesses:?}: {got} vs {want}");
        }
    }

    /// How many of `runs` one-run audits of ε_true-DP randomized response (each canary's
    /// score tells its membership truthfully with probability e^ε / (1 + e^ε), the worst case
    /// the theorem allows) prove more than `claimed` at 95% confidence.
    fn audits_above(eps_true: f64, claimed: f64, runs: usize, seed: u64) -> usize {
        let (m, q) = (400, 1.0 / (1.0 + (-eps_true).exp()));
        let mut rng = StdRng::seed_from_u64(seed);
        (0..runs)
            .filter(|_| {
                let included: Vec<bool> = (0..m).map(|_| rng.random_bool(0.5)).collect();
                let scores: Vec<f64> = included
                    .iter()
                    .map(|&b| {
                        let told = if rng.random_bool(q) { b } else { !b };
                        f64::from(u8::from(told)) + rng.random::<f64>() * 1e-3
                    })
                    .collect();
                let g = Guesses::top_and_bottom(&scores, &included, 100, 100).unwrap();
                epsilon_lower_bound(g, 0.0, 0.95).unwrap() > claimed
            })
            .count()
    }

    #[test]
    fn on_an_exactly_dp_mechanism_the_bound_rarely_exceeds_its_epsilon() {
        // 5% of 400 is 20; allow its binomial spread (P[Bin(400, 0.05) > 32] < 0.5%).
        let over = audits_above(1.0, 1.0, 400, 7);
        assert!(over <= 32, "{over} of 400 audits exceeded ε = 1");
        // The positive control: a 3-DP mechanism claimed as 1-DP is caught in most runs.
        let caught = audits_above(3.0, 1.0, 100, 8);
        assert!(
            caught >= 90,
            "only {caught} of 100 audits caught ε = 3 claimed as 1"
        );
    }

    #[test]
    fn perfect_guesses_on_many_canaries_prove_a_large_epsilon() {
        let g = Guesses::new(1000, 200, 200).unwrap();
        let eps = epsilon_lower_bound(g, 1e-5, 0.95).unwrap();
        assert!(eps > 3.0 && eps.is_finite(), "{eps}");
        // With δ = 0 the test is q^200 < 0.05 exactly: ε = logit(0.05^(1/200)), and δ > 0
        // can only lower the bound.
        let q = 0.05f64.powf(1.0 / 200.0);
        let closed_form = (q / (1.0 - q)).ln();
        let strict = epsilon_lower_bound(g, 0.0, 0.95).unwrap();
        assert!(
            (strict - closed_form).abs() < 1e-6,
            "{strict} vs {closed_form}"
        );
        assert!(strict >= eps, "{strict} vs {eps}");
    }

    #[test]
    fn impossible_audits_are_refused() {
        assert!(Guesses::new(1, 1, 1).is_err());
        assert!(Guesses::new(10, 11, 0).is_err());
        assert!(Guesses::new(10, 4, 5).is_err());
        assert!(Guesses::top_and_bottom(&[0.0; 4], &[true; 4], 3, 2).is_err());
        assert!(Guesses::top_and_bottom(&[0.0; 4], &[true; 3], 1, 1).is_err());
        let g = Guesses::new(10, 4, 4).unwrap();
        for confidence in [0.0, 1.0, -0.5, f64::NAN] {
            assert!(
                epsilon_lower_bound(g, 1e-5, confidence).is_err(),
                "{confidence}"
            );
        }
        assert!(epsilon_lower_bound(g, 1.0, 0.95).is_err());
    }

    #[test]
    fn guesses_count_the_top_as_in_and_the_bottom_as_out() {
        let scores = [0.9, 0.1, 0.8, 0.2, 0.5];
        let included = [true, false, false, false, true];
        // In: canaries 0 and 2 (one right); out: canaries 1 and 3 (both right).
        let g = Guesses::top_and_bottom(&scores, &included, 2, 2).unwrap();
        assert_eq!(g, Guesses::new(5, 4, 3).unwrap());
    }
}
