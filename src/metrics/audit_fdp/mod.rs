//! Auditing f-DP in one run (Mahloujifar, Melis & Chaudhuri, ICML 2025, "Auditing
//! f-Differential Privacy in One Run", arXiv 2410.22235): the same experiment as
//! [`super::audit`] (m canaries, each trained on with probability ½, r guesses, v right), but
//! the hypothesis tested is a whole trade-off curve f (Dong, Roth & Su's f-DP) instead of one
//! (ε, δ) pair. Steinke et al. bound the number of right guesses by that of ε-randomized
//! response, the worst case over *every* (ε, δ)-DP mechanism; a Gaussian-noise mechanism is
//! much less leaky than the (ε, δ) pair that describes it at one δ, and testing its own curve
//! (μ-GDP, or DP-SGD's curve from the PLD) turns the same guesses into a larger empirical ε
//! (35–65% larger in the tests). For pure ε-DP itself the bound is a little weaker than
//! Steinke's, which is exact for randomized response (at most 1.5× its p-value in the tests).
//!
//! The bound is the paper's numerical procedure on a pair of sequences (r_i, h_i), the
//! probability mass of "≥ i right" on right and on wrong guesses, walked down from i = v
//! ([`rejects`]); [`p_value`] is the least τ it rejects, and a family's empirical ε is the ε
//! at δ of the strongest rejected curve in it at level 1 − confidence (the largest μ, the
//! smallest σ), as in the paper. Only the paper's opening pages could be read here, so its
//! theorem and algorithm *numbers* are not cited: the recursion is that of the authors'
//! released code (PrivacyGuard, `FDPAnalysisNode.audit_rh_with_cap`), which DeepMind's
//! jax_privacy reimplements (`_epsilon_one_run_fdp`); its step is re-derived at [`rejects`].
//! Written by hand: no Rust crate implements it, and it is a short loop.
//!
//! That ε is empirical *for the family*: rejecting μ-GDP does not reject (ε(μ), δ)-DP, a
//! weaker claim. For a family-free (ε, δ) test, use [`super::audit`].

use crate::config::ConfigError;
use crate::privacy::special::{log_normal_cdf, normal_cdf};

use super::audit::{Guesses, test_level as level};

mod dpsgd;
#[cfg(test)]
mod tests;

pub use dpsgd::{DpSgdBound, dpsgd_curve, dpsgd_epsilon_lower_bound};

/// A hypothesised privacy curve: the trade-off function f of f-DP.
///
/// Implemented for closures `Fn(f64) -> f64` giving f(α) for a symmetric f (f = f⁻¹, as the
/// curves of add/remove-symmetric mechanisms and the (ε, δ)-DP curves are).
pub trait TradeOff {
    /// f(α): the least type-II error of a test with type-I error α, for α ∈ [0, 1].
    fn beta(&self, alpha: f64) -> f64;

    /// B⁻¹(y): the least probability an event can have under one neighbour when it has
    /// probability y under the other, the inverse of the blow-up B(x) = 1 − f(x). For a
    /// symmetric f it is f(1 − y); override it where 1 − y would lose precision.
    fn blow_up_inverse(&self, y: f64) -> f64 {
        self.beta(1.0 - y)
    }
}

impl<F: Fn(f64) -> f64> TradeOff for F {
    fn beta(&self, alpha: f64) -> f64 {
        self(alpha)
    }
}

/// μ-Gaussian DP: f(α) = Φ(Φ⁻¹(1 − α) − μ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaussian {
    /// μ ≥ 0: how far apart the two hypotheses' unit-variance normals are.
    pub mu: f64,
}

impl TradeOff for Gaussian {
    fn beta(&self, alpha: f64) -> f64 {
        self.blow_up_inverse(1.0 - alpha)
    }

    /// Φ(Φ⁻¹(y) − μ), exact in both tails.
    fn blow_up_inverse(&self, y: f64) -> f64 {
        if y <= 0.0 || y >= 1.0 {
            return y.clamp(0.0, 1.0);
        }
        normal_cdf(normal_quantile(y) - self.mu)
    }
}

/// The curve of a mechanism known through its δ(ε) at a set of ε ≥ 0 (Dong, Roth & Su 2022,
/// from (ε, δ(ε))-DP for each ε to f-DP): f(α) = sup_ε max(0, 1 − δ(ε) − e^ε α, e^−ε (1 − δ(ε) − α)). A finite set of ε
/// gives a curve below the true one, so rejecting it still rejects the mechanism.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// (ε, δ(ε)) pairs.
    pub points: Vec<(f64, f64)>,
}

impl TradeOff for Profile {
    fn beta(&self, alpha: f64) -> f64 {
        self.blow_up_inverse(1.0 - alpha)
    }

    /// f(1 − y) = sup_ε max(0, e^−ε (y − δ), 1 − δ − e^ε (1 − y)).
    fn blow_up_inverse(&self, y: f64) -> f64 {
        let line = |&(e, d): &(f64, f64)| ((y - d) * (-e).exp()).max(1.0 - d - e.exp() * (1.0 - y));
        self.points.iter().map(line).fold(0.0, f64::max)
    }
}

/// Whether the guesses reject f-DP at level τ: true when, under any f-DP mechanism,
/// P[≥ v right] < τ.
///
/// In the paper's notation (c = v right of c′ = r guesses, k = 2 options per canary for
/// membership): start from r_c = τ c/m, h_c = τ (c′ − c)/m and for i = c − 1 down to 0 set
/// h_i = max(h_{i+1}, (k − 1) B⁻¹(r_{i+1})), r_i = r_{i+1} + i/(c′ − i) · (h_i − h_{i+1});
/// reject when r_0 + h_0 > c′/m.
///
/// Why the step holds: with N the number right, r_i = E[N; N ≥ i]/m and
/// h_i = E[c′ − N; N ≥ i]/m are the masses, averaged over canaries, of "guessed this one,
/// right (wrong), and ≥ i right in all". Flipping one canary's membership turns a right guess
/// among ≥ i + 1 right into a wrong one among ≥ i, so f-DP and the convexity of B⁻¹ give
/// h_i ≥ B⁻¹(r_{i+1}); r_i − r_{i+1} and h_i − h_{i+1} are i and c′ − i times P[N = i]/m;
/// and r_0 + h_0 = c′/m exactly. That the start (all of the mass τ at N = c) is the worst
/// case, so that exceeding c′/m refutes P[N ≥ c] ≥ τ, is the paper's theorem.
pub fn rejects(g: Guesses, curve: &impl TradeOff, tau: f64) -> bool {
    let (m, made) = (g.canaries as f64, g.made);
    let total = made as f64 / m;
    let mut right = tau * g.correct as f64 / m;
    let mut wrong = tau * (made - g.correct) as f64 / m;
    for i in (0..g.correct).rev() {
        // Both only grow from here, so once past the total they stay past it.
        if right + wrong > total {
            return true;
        }
        let next = wrong.max(curve.blow_up_inverse(right));
        if next == wrong {
            // Nothing moves again: every later step sees the same r.
            break;
        }
        right += i as f64 / (made - i) as f64 * (next - wrong);
        wrong = next;
    }
    right + wrong > total
}

/// The paper's bound on P[≥ v right guesses] under f-DP: the least τ the guesses reject
/// (relative precision 1e-12; bounds below 1e-300 read as 1e-300). 1 when nothing is
/// rejected.
pub fn p_value(g: Guesses, curve: &impl TradeOff) -> f64 {
    const LN_FLOOR: f64 = -690.8; // ln 1e-300
    if !rejects(g, curve, 1.0) {
        return 1.0;
    }
    if rejects(g, curve, LN_FLOOR.exp()) {
        return LN_FLOOR.exp();
    }
    let (_, rejected) = bisect(LN_FLOOR, 0.0, 1e-12, |ln_tau| {
        !rejects(g, curve, ln_tau.exp())
    });
    rejected.exp()
}

/// What an audit proves against μ-GDP.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FdpBound {
    /// The largest μ the guesses reject (0 if none): the mechanism is not μ-GDP.
    pub mu: f64,
    /// The ε of μ-GDP at the δ asked (0 if μ is 0).
    pub epsilon: f64,
}

/// The largest μ whose μ-GDP the guesses reject at `confidence` (to 1e-9), and its ε at
/// `delta`: the paper's empirical privacy for the Gaussian family.
///
/// # Errors
/// A confidence outside (0, 1) or a δ outside [0, 1).
pub fn gaussian_epsilon_lower_bound(
    g: Guesses,
    delta: f64,
    confidence: f64,
) -> Result<FdpBound, ConfigError> {
    let level = level(delta, confidence)?;
    let rejected = |mu: f64| rejects(g, &Gaussian { mu }, level);
    // μ = 0 is perfect privacy, f(α) = 1 − α.
    if !rejected(0.0) {
        return Ok(FdpBound {
            mu: 0.0,
            epsilon: 0.0,
        });
    }
    let Some(hi) = bracket(1.0, 1e4, |mu| !rejected(mu)) else {
        // Not reached: μ = 1e4 allows every guess to be right at any τ < 1.
        return Ok(FdpBound {
            mu: f64::INFINITY,
            epsilon: f64::INFINITY,
        });
    };
    let (mu, _) = bisect(0.0, hi, 1e-9, rejected);
    Ok(FdpBound {
        mu,
        epsilon: gaussian_epsilon(mu, delta),
    })
}

/// δ(ε) of μ-GDP (Dong, Roth & Su 2022, their conversion of μ-GDP to (ε, δ)-DP):
/// Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2).
pub fn gaussian_delta(mu: f64, epsilon: f64) -> f64 {
    if mu <= 0.0 {
        return 0.0;
    }
    let (a, b) = (-epsilon / mu + mu / 2.0, -epsilon / mu - mu / 2.0);
    (normal_cdf(a) - (epsilon + log_normal_cdf(b)).exp()).max(0.0)
}

/// The least ε ≥ 0 with δ(ε) ≤ `delta` for μ-GDP, to 1e-9 (∞ if none up to 10⁶ is).
pub fn gaussian_epsilon(mu: f64, delta: f64) -> f64 {
    if gaussian_delta(mu, 0.0) <= delta {
        return 0.0;
    }
    match bracket(1.0, 1e6, |e| gaussian_delta(mu, e) <= delta) {
        Some(hi) => bisect(0.0, hi, 1e-9, |e| gaussian_delta(mu, e) > delta).1,
        None => f64::INFINITY,
    }
}

/// With `holds(lo)` and not `holds(hi)` (a monotone predicate), the pair (last point seen
/// to hold, first seen not to), less than `tol` apart.
fn bisect(mut lo: f64, mut hi: f64, tol: f64, holds: impl Fn(f64) -> bool) -> (f64, f64) {
    while hi - lo > tol {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if holds(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo, hi)
}

/// The first of `start`, 2·`start`, 4·`start`, … up to `limit` where `done` holds.
fn bracket(start: f64, limit: f64, done: impl Fn(f64) -> bool) -> Option<f64> {
    let mut x = start;
    while !done(x) {
        x *= 2.0;
        if x > limit {
            return None;
        }
    }
    Some(x)
}

/// Φ⁻¹(p) for p ∈ (0, 1): Acklam's rational approximation (relative error 1.2e-9) polished
/// by one Halley step on Φ, which brings it to double precision; the lower tail is
/// computed directly so tiny p keep their precision.
fn normal_quantile(p: f64) -> f64 {
    if p > 0.5 {
        return -normal_quantile(1.0 - p);
    }
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let poly = |c: &[f64], x: f64| c.iter().fold(0.0, |acc, &k| acc * x + k);
    let x = if p < 0.02425 {
        let q = (-2.0 * p.ln()).sqrt();
        poly(&C, q) / (poly(&D, q) * q + 1.0)
    } else {
        let q = p - 0.5;
        let r = q * q;
        poly(&A, r) * q / (poly(&B, r) * r + 1.0)
    };
    // Halley: e = Φ(x) − p, u = e / φ(x), x ← x − u / (1 + x u / 2).
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (0.5 * x * x).exp();
    x - u / (1.0 + 0.5 * x * u)
}
