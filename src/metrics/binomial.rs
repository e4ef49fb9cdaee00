//! Exact (Clopper–Pearson) confidence bounds on a binomial proportion.
//!
//! The DP-ceiling check of `ppml run mia` may only accuse the code of a bug with a test whose
//! false-alarm rate is known; a bootstrap interval around a figure that was itself maximised
//! over thresholds has no such guarantee. Clopper & Pearson's bounds (1934) do: for k successes
//! in n independent trials, `P(lower(k) > p) ≤ β` and `P(upper(k) < p) ≤ β` for every true p.
//! They are computed here by bisection on the exact binomial tail (no crate in the project
//! offers the inverse incomplete beta function, and bisection on a sum is easy to check).

/// `ln C(n, k) + k ln p + (n − k) ln(1 − p)`, the log-probability of exactly `k` successes.
fn ln_pmf(k: usize, n: usize, p: f64) -> f64 {
    let (kf, nf) = (k as f64, n as f64);
    let ln_choose = libm::lgamma(nf + 1.0) - libm::lgamma(kf + 1.0) - libm::lgamma(nf - kf + 1.0);
    let term = |count: f64, q: f64| if count == 0.0 { 0.0 } else { count * q.ln() };
    ln_choose + term(kf, p) + term(nf - kf, 1.0 - p)
}

/// `P(X = k)` for `X ~ Binomial(n, p)`.
pub fn pmf(k: usize, n: usize, p: f64) -> f64 {
    if k > n {
        return 0.0;
    }
    if p <= 0.0 {
        return if k == 0 { 1.0 } else { 0.0 };
    }
    if p >= 1.0 {
        return if k == n { 1.0 } else { 0.0 };
    }
    ln_pmf(k, n, p).exp()
}

/// `P(X ≥ k)` for `X ~ Binomial(n, p)`. The sum always starts at its term nearest the mean and
/// runs away from it, where terms only shrink: above the mean the tail itself is summed (and
/// is accurate however small), below it the complement `1 − P(X ≤ k − 1)` is (the tail is then
/// at least about one half, so the subtraction loses nothing that matters).
pub fn upper_tail(k: usize, n: usize, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    if (k as f64) <= n as f64 * p {
        return (1.0 - sum_down(k - 1, n, p)).clamp(0.0, 1.0);
    }
    // From k upwards: pmf(i + 1) = pmf(i) · (n − i) / (i + 1) · p / (1 − p).
    let ratio = p / (1.0 - p);
    let mut term = ln_pmf(k, n, p).exp();
    let mut sum = 0.0;
    for i in k..=n {
        sum += term;
        if term <= sum * 1e-17 {
            break;
        }
        term *= (n - i) as f64 / (i + 1) as f64 * ratio;
    }
    sum.min(1.0)
}

/// `P(X ≤ j)` summed from `j` downwards, for `j` at or below the mean (terms shrink).
fn sum_down(j: usize, n: usize, p: f64) -> f64 {
    // pmf(i − 1) = pmf(i) · i / (n − i + 1) · (1 − p) / p.
    let ratio = (1.0 - p) / p;
    let mut term = ln_pmf(j, n, p).exp();
    let mut sum = 0.0;
    for i in (0..=j).rev() {
        sum += term;
        if term <= sum * 1e-17 || i == 0 {
            break;
        }
        term *= i as f64 / (n - i + 1) as f64 * ratio;
    }
    sum.min(1.0)
}

/// `P(X ≤ k)` for `X ~ Binomial(n, p)`.
pub fn lower_tail(k: usize, n: usize, p: f64) -> f64 {
    if k >= n {
        return 1.0;
    }
    // Successes of p are failures of 1 − p.
    upper_tail(n - k, n, 1.0 - p)
}

/// Bisects a monotone `f` on [0, 1] for the point where it crosses `target`; `increasing` says
/// which way `f` goes.
fn bisect(f: impl Fn(f64) -> f64, target: f64, increasing: bool) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if (f(mid) < target) == increasing {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The one-sided lower bound on p from `k` of `n` at error `beta`: the p at which
/// `P(X ≥ k) = beta` (0 when k = 0).
pub fn clopper_pearson_lower(k: usize, n: usize, beta: f64) -> f64 {
    assert!(k <= n && n > 0, "k = {k} successes of n = {n} trials");
    if k == 0 {
        return 0.0;
    }
    // Rounded down a hair so that floating-point error never makes the bound too high.
    let p = bisect(|p| upper_tail(k, n, p), beta, true);
    (p * (1.0 - 1e-12)).max(0.0)
}

/// The one-sided upper bound on p from `k` of `n` at error `beta`: the p at which
/// `P(X ≤ k) = beta` (1 when k = n).
pub fn clopper_pearson_upper(k: usize, n: usize, beta: f64) -> f64 {
    assert!(k <= n && n > 0, "k = {k} successes of n = {n} trials");
    if k == n {
        return 1.0;
    }
    1.0 - clopper_pearson_lower(n - k, n, beta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_match_closed_forms() {
        // P(X ≥ 1) = 1 − (1 − p)^n; P(X ≥ n) = p^n.
        assert!((upper_tail(1, 10, 0.1) - (1.0 - 0.9f64.powi(10))).abs() < 1e-14);
        assert!((upper_tail(10, 10, 0.3) - 0.3f64.powi(10)).abs() < 1e-18);
        // Binomial(20, 0.5): P(X ≥ 15) = 21700 / 2^20.
        assert!((upper_tail(15, 20, 0.5) - 21_700.0 / 1_048_576.0).abs() < 1e-14);
        assert!((lower_tail(5, 20, 0.5) - 21_700.0 / 1_048_576.0).abs() < 1e-14);
    }

    #[test]
    fn bounds_match_published_clopper_pearson_values() {
        // k = 0: the upper bound solves (1 − p)^n = β.
        let u = clopper_pearson_upper(0, 100, 0.025);
        assert!((u - (1.0 - 0.025f64.powf(0.01))).abs() < 1e-12, "{u}");
        // 5 of 10, two-sided 95% (β = 0.025 each side): [0.187086, 0.812914].
        assert!((clopper_pearson_lower(5, 10, 0.025) - 0.187_086).abs() < 1e-6);
        assert!((clopper_pearson_upper(5, 10, 0.025) - 0.812_914).abs() < 1e-6);
        // 1 of 20 at 95% two-sided: [0.001265, 0.248733].
        assert!((clopper_pearson_lower(1, 20, 0.025) - 0.001_265).abs() < 1e-6);
        assert!((clopper_pearson_upper(1, 20, 0.025) - 0.248_733).abs() < 1e-6);
        assert_eq!(clopper_pearson_lower(0, 7, 0.01), 0.0);
        assert_eq!(clopper_pearson_upper(7, 7, 0.01), 1.0);
    }

    #[test]
    fn tails_on_both_sides_of_the_mean_agree_with_the_direct_sum() {
        for (n, p) in [(30, 0.2), (30, 0.7), (200, 0.05)] {
            for k in 0..=n {
                let direct: f64 = (k..=n).map(|i| ln_pmf(i, n, p).exp()).sum();
                let got = upper_tail(k, n, p);
                assert!((got - direct).abs() < 1e-12 + 1e-9 * direct, "{n} {p} {k}");
            }
        }
        // Far below the mean the tail is 1, not an underflowed 0.
        assert!((upper_tail(230, 20_000, 0.5) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn bounds_are_exact_for_large_n_and_tiny_beta() {
        let (k, n, beta) = (230, 20_000, 1e-6);
        let lo = clopper_pearson_lower(k, n, beta);
        let hi = clopper_pearson_upper(k, n, beta);
        assert!(lo < k as f64 / n as f64 && hi > k as f64 / n as f64);
        assert!((upper_tail(k, n, lo) - beta).abs() < 1e-9 * beta.max(1e-300) + 1e-12);
        assert!((lower_tail(k, n, hi) - beta).abs() < 1e-9 + 1e-12);
    }
}
