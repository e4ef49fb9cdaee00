//! Rényi-DP accountant for the Poisson-subsampled Gaussian mechanism.
//!
//! One step of DP-SGD releases `Σ_{i∈B} g_i + N(0, σ²)` for a batch `B` that holds each
//! example independently with probability `q` (gradients clipped to norm 1). Mironov,
//! Talwar & Zhang (2019) show its Rényi divergence of order α is
//!
//! `ε(α) = ln A_α / (α − 1)`, with `A_α = E_{z∼μ₀}[((1 − q) + q·μ₁(z)/μ₀(z))^α]`,
//! `μ₀ = N(0, σ²)`, `μ₁ = N(1, σ²)`.
//!
//! For integer α the binomial theorem gives
//! `A_α = Σ_{k=0}^{α} C(α,k) (1 − q)^{α−k} q^k e^{(k² − k)/(2σ²)}`;
//! for fractional α the same expansion is an infinite signed series split at
//! `z₀ = σ² ln(1/q − 1) + ½` into two halves, each weighted by a Gaussian tail
//! (`erfc`). Both are evaluated in log space exactly as TF-Privacy and Opacus do, so the
//! numbers agree with theirs to rounding. RDP composes additively over steps, and
//! [`epsilon_from_rdp`] turns the curve into (ε, δ)-DP with Balle et al. (2020).

use std::f64::consts::FRAC_1_SQRT_2;

use super::special::{log_add, log_erfc, log_sub};

/// Opacus's default orders: 1.1, 1.2, …, 10.9 then 12, 13, …, 63.
///
/// 11 is missing (Opacus builds the list as `[1 + x / 10 for x in 1..100] + range(12, 64)`)
/// and so is 1 itself, where RDP degenerates to KL divergence.
pub fn default_orders() -> Vec<f64> {
    (1..100)
        .map(|x| 1.0 + f64::from(x) / 10.0)
        .chain((12..64).map(f64::from))
        .collect()
}

/// RDP ε(α) of one step of the Poisson-subsampled Gaussian with sample rate `q` and
/// noise multiplier `sigma`.
///
/// `q = 0` releases pure noise (ε = 0); `q = 1` is the plain Gaussian mechanism,
/// `ε(α) = α / (2σ²)`. Callers validate `q ∈ [0, 1]`, `σ > 0` and `α > 1`.
///
/// σ² is never formed (it overflows past σ ≈ 1.3e154, and `0 · ∞` then gives NaN):
/// everything is divided by σ twice instead, so huge σ gives ε(α) → 0 as it should.
pub fn rdp_single_step(q: f64, sigma: f64, alpha: f64) -> f64 {
    if q == 0.0 {
        return 0.0;
    }
    if q == 1.0 {
        return alpha * 0.5 / sigma / sigma;
    }
    if alpha.is_infinite() {
        return f64::INFINITY;
    }
    let log_a = if alpha.fract() == 0.0 {
        log_a_int(q, sigma, alpha)
    } else {
        log_a_frac(q, sigma, alpha)
    };
    // A Rényi divergence is ≥ 0; for huge σ, A_α = 1 + O(1/σ²) and rounding can put ln A_α
    // a hair below 0. (A NaN is kept: `epsilon_from_rdp` skips it.)
    let eps = log_a / (alpha - 1.0);
    if eps < 0.0 { 0.0 } else { eps }
}

/// ln A_α for integer α: `logsumexp_k [ln C(α,k) + k ln q + (α−k) ln(1−q) + (k²−k)/(2σ²)]`.
fn log_a_int(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (ln_q, ln_1mq) = (q.ln(), (-q).ln_1p());
    let n = alpha as u64;
    let mut log_a = f64::NEG_INFINITY;
    // ln C(α, k), built up as ln C(α, k-1) + ln((α - k + 1) / k).
    let mut log_binom = 0.0;
    for k in 0..=n {
        let kf = k as f64;
        if k > 0 {
            log_binom += ((alpha - kf + 1.0) / kf).ln();
        }
        let term = log_binom + kf * ln_q + (alpha - kf) * ln_1mq + half_over_var(kf, sigma);
        log_a = log_add(log_a, term);
    }
    log_a
}

/// ln A_α for fractional α: TF-Privacy's `_compute_log_a_frac`.
///
/// `A_α = Σ_i C(α,i) [ q^i (1−q)^{α−i} e^{(i²−i)/(2σ²)} ½ erfc((i − z₀)/(√2σ))
///                  + q^{α−i} (1−q)^i e^{(j²−j)/(2σ²)} ½ erfc((z₀ − j)/(√2σ)) ]`, `j = α − i`.
///
/// The generalised binomial coefficients change sign once `i > α + 1`, so the two
/// partial sums are kept as logs and updated with log_add or log_sub by that sign. The
/// series is cut once both new terms fall below e^-30 (relative error far below 1e-12).
fn log_a_frac(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (ln_q, ln_1mq) = (q.ln(), (-q).ln_1p());
    // z₀/σ rather than z₀ = σ² ln(1/q − 1) + ½: the erfc arguments (i − z₀)/(√2σ) are
    // (i/σ − z₀/σ)/√2, finite for every finite σ (and no ∞ · 0 at q = ½).
    let z0_over_sigma = sigma * (1.0 / q - 1.0).ln() + 0.5 / sigma;
    let (mut log_a0, mut log_a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let (mut log_coef, mut coef_positive) = (0.0_f64, true);
    // Terms decay polynomially (like i^-(α+2)), so a few thousand iterations are typical
    // for orders near 1 and large q; the cap only guards against a non-finite input.
    for i in 0..2_000_000_u32 {
        let fi = f64::from(i);
        if i > 0 {
            let ratio = (alpha - fi + 1.0) / fi;
            log_coef += ratio.abs().ln();
            coef_positive ^= ratio < 0.0;
        }
        let j = alpha - fi;
        let log_t0 = log_coef + fi * ln_q + j * ln_1mq;
        let log_t1 = log_coef + j * ln_q + fi * ln_1mq;
        let log_e0 = 0.5_f64.ln() + log_erfc((fi / sigma - z0_over_sigma) * FRAC_1_SQRT_2);
        let log_e1 = 0.5_f64.ln() + log_erfc((z0_over_sigma - j / sigma) * FRAC_1_SQRT_2);
        let log_s0 = log_t0 + half_over_var(fi, sigma) + log_e0;
        let log_s1 = log_t1 + half_over_var(j, sigma) + log_e1;
        if coef_positive {
            log_a0 = log_add(log_a0, log_s0);
            log_a1 = log_add(log_a1, log_s1);
        } else {
            log_a0 = log_sub(log_a0, log_s0);
            log_a1 = log_sub(log_a1, log_s1);
        }
        if log_s0.max(log_s1) < -30.0 {
            break;
        }
    }
    log_add(log_a0, log_a1)
}

/// `(k² − k)/(2σ²)`, computed as `((k² − k)/σ)/σ/2` so that huge σ underflows to 0
/// instead of overflowing σ² to ∞.
fn half_over_var(k: f64, sigma: f64) -> f64 {
    (k * k - k) / sigma / sigma * 0.5
}

/// RDP curve of `steps` composed steps at each of `orders` (RDP adds up under composition).
pub fn rdp_composed(q: f64, sigma: f64, steps: u64, orders: &[f64]) -> Vec<f64> {
    orders
        .iter()
        .map(|&a| rdp_single_step(q, sigma, a) * steps as f64)
        .collect()
}

/// (ε, best order) from an RDP curve, by the conversion of Balle et al. (2020,
/// "Hypothesis testing interpretations and Rényi DP", Thm 21), as Opacus's
/// `get_privacy_spent`:
///
/// `ε = min_α  rdp(α) − (ln δ + ln α)/(α − 1) + ln((α − 1)/α)`.
///
/// Orders whose ε is NaN are skipped; the first minimiser wins ties (as `np.nanargmin`).
/// Returns (∞, NaN) when no order gives a number.
///
/// Unlike Opacus, ε is clamped at 0: for large δ the bound goes negative (q = 0.01, 10
/// steps, σ = 100, δ = ½ gives −0.69), but (ε', δ)-DP with ε' < 0 is just (0, δ)-DP. The
/// order reported is still the minimiser of the unclamped bound.
pub fn epsilon_from_rdp(orders: &[f64], rdp: &[f64], delta: f64) -> (f64, f64) {
    let ln_delta = delta.ln();
    let mut best = (f64::INFINITY, f64::NAN);
    for (&a, &r) in orders.iter().zip(rdp) {
        let eps = r - (ln_delta + a.ln()) / (a - 1.0) + ((a - 1.0) / a).ln();
        if !eps.is_nan() && (best.1.is_nan() || eps < best.0) {
            best = (eps, a);
        }
    }
    (super::clamp_epsilon(best.0), best.1)
}

/// (ε, best order) for `steps` steps of DP-SGD under Opacus's default orders.
pub fn epsilon(q: f64, sigma: f64, steps: u64, delta: f64) -> (f64, f64) {
    let orders = default_orders();
    epsilon_from_rdp(&orders, &rdp_composed(q, sigma, steps, &orders), delta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_orders_follow_opacus() {
        let orders = default_orders();
        assert_eq!(orders.len(), 99 + 52);
        assert_eq!(orders[0], 1.1);
        assert_eq!(orders[98], 10.9);
        assert_eq!(orders[99], 12.0);
        assert_eq!(*orders.last().unwrap(), 63.0);
        assert!(!orders.contains(&11.0) && !orders.contains(&1.0));
    }

    #[test]
    fn no_sampling_costs_nothing_and_full_sampling_is_the_plain_gaussian() {
        assert_eq!(rdp_single_step(0.0, 1.0, 8.0), 0.0);
        assert_eq!(rdp_single_step(1.0, 2.0, 8.0), 1.0);
        assert_eq!(rdp_single_step(1.0, 2.0, 2.5), 2.5 / 8.0);
    }

    #[test]
    fn integer_order_two_matches_the_closed_form() {
        // A_2 = (1-q)² + 2q(1-q) + q² e^{1/σ²} = 1 + q²(e^{1/σ²} - 1).
        let (q, sigma) = (0.01_f64, 0.8_f64);
        let want = (q * q * ((1.0 / (sigma * sigma)).exp() - 1.0)).ln_1p();
        let got = rdp_single_step(q, sigma, 2.0);
        assert!((got - want).abs() <= 1e-12 * want, "{got} vs {want}");
    }

    #[test]
    fn fractional_orders_interpolate_between_their_integer_neighbours() {
        // ε(α) is non-decreasing in α, so the signed series must land between neighbours.
        let (q, sigma) = (0.05, 1.3);
        for a in [2.0, 3.0, 7.0, 20.0] {
            let (lo, mid, hi) = (
                rdp_single_step(q, sigma, a),
                rdp_single_step(q, sigma, a + 0.5),
                rdp_single_step(q, sigma, a + 1.0),
            );
            assert!(lo <= mid && mid <= hi, "α={a}: {lo} {mid} {hi}");
        }
    }

    #[test]
    fn huge_noise_gives_finite_rdp_that_vanishes_like_one_over_sigma_squared() {
        // σ² overflows from σ ≈ 1.34e154; at q = ½ the old z₀ = σ² ln(1/q − 1) was ∞ · 0.
        for q in [0.01, 0.5, 0.9, 1.0] {
            for sigma in [1e154, 1e155, 1e300, f64::MAX] {
                for alpha in [1.5, 2.0, 10.5, 63.0] {
                    let got = rdp_single_step(q, sigma, alpha);
                    assert!(
                        (0.0..1e-12).contains(&got),
                        "q={q} σ={sigma} α={alpha}: {got}"
                    );
                }
            }
        }
        // Where the value is still resolvable, it follows ε(α) ≈ α q² / (2σ²) (from
        // A_α = 1 + C(α, 2) q² (e^{1/σ²} − 1) + …), for integer and fractional α alike.
        let (q, sigma) = (0.5, 1e3);
        for alpha in [1.5, 2.0, 2.5, 4.0] {
            let want = alpha * q * q / (2.0 * sigma * sigma);
            let got = rdp_single_step(q, sigma, alpha);
            assert!(
                (got - want).abs() <= 1e-3 * want,
                "α={alpha}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn balle_conversion_of_a_linear_curve_picks_the_interior_minimum() {
        // Plain Gaussian, σ = 1, one step: rdp(α) = α/2; the optimum is near α = 6.
        let orders = default_orders();
        let rdp: Vec<f64> = orders.iter().map(|a| a / 2.0).collect();
        let (eps, order) = epsilon_from_rdp(&orders, &rdp, 1e-5);
        assert!((4.0..5.0).contains(&eps), "{eps}");
        assert!(order > 2.0 && order < 12.0, "{order}");
    }
}
