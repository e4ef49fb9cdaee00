//! Log-space arithmetic and the normal distribution, shared by both accountants.
//!
//! The RDP series sums terms as small as e^-1000 and the PLD tails go down to e^-50, so
//! everything that can underflow is kept as a logarithm.

use std::f64::consts::{FRAC_1_SQRT_2, LN_2, PI};

/// ln(e^a + e^b), exact for infinite arguments.
pub(crate) fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    // ln(e^hi + e^lo) = hi + ln(1 + e^(lo - hi)); lo - hi <= 0 so the exp cannot overflow.
    hi + (lo - hi).exp().ln_1p()
}

/// ln(e^a - e^b) for a >= b; -inf when they are equal.
///
/// A signed series can momentarily make a partial sum smaller than the next term because
/// of rounding; that case returns -inf (the difference is zero to working precision)
/// rather than NaN.
pub(crate) fn log_sub(a: f64, b: f64) -> f64 {
    if b == f64::NEG_INFINITY {
        return a;
    }
    if a <= b {
        return f64::NEG_INFINITY;
    }
    // ln(e^a - e^b) = b + ln(e^(a - b) - 1), with expm1 keeping precision when a ≈ b.
    let d = a - b;
    if d > 700.0 {
        // e^(a-b) - 1 == e^(a-b) to double precision, and expm1 would overflow.
        return a;
    }
    b + d.exp_m1().ln()
}

/// ln(erfc(x)), accurate where erfc underflows (x ≳ 26.5, erfc(x) < 1e-300).
///
/// Below the switch point libm's erfc has full relative precision (it is computed as
/// e^(-x²) times a rational correction), so its log is accurate. Above it we use the
/// asymptotic expansion (as TF-Privacy's `_log_erfc` does)
/// ln erfc(x) = -x² - ln x - ½ ln π - 1/(2x²) + 5/(8x⁴) - 37/(24x⁶) + 353/(64x⁸) + O(x⁻¹⁰),
/// whose truncation error at x = 26 is below 1e-15.
pub(crate) fn log_erfc(x: f64) -> f64 {
    if x < 26.0 {
        return libm::erfc(x).ln();
    }
    let r = 1.0 / (x * x);
    -x * x - x.ln() - 0.5 * PI.ln() - 0.5 * r + 0.625 * r * r - 37.0 / 24.0 * r * r * r
        + 353.0 / 64.0 * r * r * r * r
}

/// Standard normal CDF Φ(z) = ½ erfc(-z/√2), with full relative precision in the lower
/// tail (where the hockey-stick divergences live).
pub(crate) fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z * FRAC_1_SQRT_2)
}

/// ln Φ(z), finite far into the lower tail.
pub(crate) fn log_normal_cdf(z: f64) -> f64 {
    log_erfc(-z * FRAC_1_SQRT_2) - LN_2
}

/// The z with ln Φ(z) = `log_p` (for `log_p` < ln ½), by bisection on [-40, 0].
///
/// Used once per PLD to place the noise truncation point; 200 halvings of a width-40
/// interval reach the spacing of doubles, so the answer is exact to rounding.
pub(crate) fn normal_quantile_from_log(log_p: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0_f64, 0.0_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid == lo || mid == hi {
            break;
        }
        if log_normal_cdf(mid) < log_p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn log_add_adds_probabilities_in_log_space() {
        assert!(close(log_add(2f64.ln(), 3f64.ln()), 5f64.ln(), 1e-15));
        assert_eq!(log_add(f64::NEG_INFINITY, 1.5), 1.5);
        assert_eq!(log_add(-3.0, f64::NEG_INFINITY), -3.0);
        // Terms 1000 nats apart: the smaller one vanishes instead of overflowing.
        assert_eq!(log_add(1000.0, 0.0), 1000.0);
        assert!(close(log_add(-1000.0, -1000.0), -1000.0 + LN_2, 1e-15));
    }

    #[test]
    fn log_sub_subtracts_probabilities_in_log_space() {
        assert!(close(log_sub(5f64.ln(), 3f64.ln()), 2f64.ln(), 1e-14));
        assert_eq!(log_sub(-2.0, f64::NEG_INFINITY), -2.0);
        assert_eq!(log_sub(0.7, 0.7), f64::NEG_INFINITY);
        // ln(e^1e-10 - 1) = ln(1e-10 + 5e-21) needs expm1 to be right.
        assert!(close(log_sub(1e-10, 0.0), (1e-10f64).ln(), 1e-9));
    }

    #[test]
    fn log_erfc_matches_high_precision_values() {
        // Reference values from mpmath at 50 digits: log(erfc(x)).
        let cases = [
            (-3.0, 0.693_136_135_250_446_8),
            (0.0, 0.0),
            (0.5, -0.735_011_129_837_084_4),
            (1.0, -1.849_605_509_933_248_2),
            (5.0, -27.200_889_545_537_434),
            (10.0, -102.879_889_024_844_89),
            (25.5, -654.061_810_857_538),
            (26.0, -679.831_199_763_194_2),
            (30.0, -903.974_117_110_643_9),
            (100.0, -10_005.177_585_122_664),
        ];
        for (x, want) in cases {
            let got = log_erfc(x);
            let ok = if want == 0.0 {
                got.abs() < 1e-16
            } else {
                close(got, want, 1e-13)
            };
            assert!(ok, "log_erfc({x}) = {got}, want {want}");
        }
    }

    #[test]
    fn log_erfc_is_continuous_at_the_switch_to_the_asymptotic_series() {
        let below = libm::erfc(26.0 - 1e-9).ln();
        let above = log_erfc(26.0 + 1e-9);
        assert!((below - above).abs() < 1e-6, "{below} vs {above}");
    }

    #[test]
    fn normal_quantile_inverts_the_log_cdf() {
        for log_p in [-50.0 - LN_2, -10.0, -1.0] {
            let z = normal_quantile_from_log(log_p);
            assert!(close(log_normal_cdf(z), log_p, 1e-12), "{log_p}: z = {z}");
        }
        // Φ(-1.959963984540054) = 0.025.
        let z = normal_quantile_from_log(0.025f64.ln());
        assert!((z + 1.959_963_984_540_054).abs() < 1e-12, "{z}");
    }
}
