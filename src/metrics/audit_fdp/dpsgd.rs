//! The DP-SGD family for the f-DP audit: the curve of T steps of the Poisson-subsampled
//! Gaussian, from the PLD accountant's δ(ε), and the smallest noise multiplier it rejects.

use std::f64::consts::LN_2;

use crate::config::ConfigError;
use crate::privacy::pld;

use super::{Guesses, Profile, bisect, level, rejects};

/// What an audit proves against DP-SGD with a known sample rate and number of steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DpSgdBound {
    /// The smallest noise multiplier whose curve the guesses reject, to a relative 1e-3 (∞
    /// if none up to 1024): the mechanism is not as private as DP-SGD with it.
    pub noise_multiplier: f64,
    /// The PLD accountant's ε at the δ asked for that noise multiplier (0 if none). The
    /// accountant rounds up, by about its 1e-4 grid: a hair above the exact ε of that σ.
    pub epsilon: f64,
}

/// Grid width of the PLD behind [`dpsgd_epsilon_lower_bound`]'s curves: 10× dp-accounting's,
/// still pessimistic (a coarser connect-the-dots grid only lowers the curve), and 10× cheaper.
const SEARCH_DISCRETIZATION: f64 = 1e-3;
/// The curve is built from δ(ε) at ε = 0, EPS_STEP, …, EPS_POINTS · EPS_STEP.
const EPS_STEP: f64 = 0.05;
const EPS_POINTS: u32 = 400;

/// The curve of `steps` steps of DP-SGD (sample rate q, noise multiplier σ) from the PLD
/// accountant's δ(ε) at ε = 0, 0.05, …, 20 (a finer grid moves σ by < 0.1%, at 2.5× the cost).
pub fn dpsgd_curve(sample_rate: f64, noise_multiplier: f64, steps: u64) -> Profile {
    let epsilons: Vec<f64> = (0..=EPS_POINTS).map(|i| f64::from(i) * EPS_STEP).collect();
    let deltas = pld::deltas(
        sample_rate,
        noise_multiplier,
        steps,
        &epsilons,
        SEARCH_DISCRETIZATION,
    );
    let points = epsilons.into_iter().zip(deltas).filter(|&(_, d)| d < 1.0);
    Profile {
        points: points.collect(),
    }
}

/// The smallest noise multiplier σ whose DP-SGD curve (sample rate q, `steps` steps,
/// [`dpsgd_curve`]) the guesses reject at `confidence`, and the PLD ε of σ at `delta`.
/// σ is searched in [1/16, 1024] to a relative 1e-3: more private than σ = 1024 reads as
/// nothing proven.
///
/// # Errors
/// A confidence outside (0, 1), δ outside [0, 1), q outside (0, 1] or no steps.
pub fn dpsgd_epsilon_lower_bound(
    g: Guesses,
    sample_rate: f64,
    steps: u64,
    delta: f64,
    confidence: f64,
) -> Result<DpSgdBound, ConfigError> {
    let level = level(delta, confidence)?;
    if !(sample_rate > 0.0 && sample_rate <= 1.0) {
        return Err(ConfigError::invalid(
            "sample_rate",
            sample_rate,
            "must be in (0, 1]",
        ));
    }
    if steps == 0 {
        return Err(ConfigError::invalid("steps", steps, "must be at least 1"));
    }
    // More noise, a higher curve, an easier rejection: bracket ln σ from σ = 1 in steps of
    // ln 2 (never below σ = 1/16, never above 1024), then bisect.
    let rejected = |ln_sigma: f64| {
        let curve = dpsgd_curve(sample_rate, ln_sigma.exp(), steps);
        rejects(g, &curve, level)
    };
    let (ln_min, ln_max, step) = (-4.0 * LN_2, 10.0 * LN_2, LN_2);
    let (mut lo, mut hi) = (0.0, 0.0);
    if rejected(0.0) {
        loop {
            hi = lo;
            lo -= step;
            if lo < ln_min {
                // Rejected even at σ = 1/16: report that one.
                lo = hi;
                break;
            }
            if !rejected(lo) {
                break;
            }
        }
    } else {
        loop {
            lo = hi;
            hi += step;
            if hi > ln_max {
                return Ok(DpSgdBound {
                    noise_multiplier: f64::INFINITY,
                    epsilon: 0.0,
                });
            }
            if rejected(hi) {
                break;
            }
        }
    }
    let ln_sigma = bisect(lo, hi, 1e-3, |s| !rejected(s)).1;
    let sigma = ln_sigma.exp();
    let epsilon = pld::epsilon(
        sample_rate,
        sigma,
        steps,
        delta,
        pld::DEFAULT_VALUE_DISCRETIZATION_INTERVAL,
    );
    Ok(DpSgdBound {
        noise_multiplier: sigma,
        epsilon,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Gaussian, gaussian_epsilon_lower_bound, p_value};
    use super::*;

    /// Without subsampling, T steps of DP-SGD are √T/σ-GDP: the smallest σ rejected is √T
    /// over the largest μ, a hair more (the curve from 401 ε points lies a little below the
    /// exact one, so it takes a little more noise to reject).
    #[test]
    fn without_subsampling_the_family_is_the_gaussian_one() {
        for (guesses, steps) in [
            (Guesses::new(1000, 200, 190).unwrap(), 1),
            (Guesses::new(1000, 200, 150).unwrap(), 4),
        ] {
            let gdp = gaussian_epsilon_lower_bound(guesses, 1e-5, 0.95).unwrap();
            let sgd = dpsgd_epsilon_lower_bound(guesses, 1.0, steps, 1e-5, 0.95).unwrap();
            let ratio = sgd.noise_multiplier * gdp.mu / (steps as f64).sqrt();
            assert!(
                (1.0..1.005).contains(&ratio),
                "{guesses:?} T {steps}: {ratio}"
            );
            assert!(
                (sgd.epsilon - gdp.epsilon).abs() < 0.01 * gdp.epsilon,
                "{sgd:?} vs {gdp:?}"
            );
        }
        // The curve itself: the Gaussian's bound and the profile's agree closely.
        let guesses = Guesses::new(1000, 200, 170).unwrap();
        let (exact, profile) = (
            p_value(guesses, &Gaussian { mu: 0.5 }),
            p_value(guesses, &dpsgd_curve(1.0, 2.0, 1)),
        );
        assert!(
            profile >= exact && profile < 1.01 * exact,
            "{profile} vs {exact}"
        );
    }

    /// Subsampled over many steps, DP-SGD is close to GDP (the CLT of Dong, Roth & Su), so
    /// both families turn the same guesses into nearly the same ε.
    #[test]
    fn many_subsampled_steps_prove_about_what_the_gaussian_family_does() {
        let guesses = Guesses::new(1000, 200, 150).unwrap();
        let gdp = gaussian_epsilon_lower_bound(guesses, 1e-5, 0.95).unwrap();
        let sgd = dpsgd_epsilon_lower_bound(guesses, 0.01, 2000, 1e-5, 0.95).unwrap();
        assert!(
            (sgd.epsilon - gdp.epsilon).abs() < 0.05 * gdp.epsilon,
            "{sgd:?} vs {gdp:?}"
        );
        let nothing = Guesses::new(1000, 200, 100).unwrap();
        let none = dpsgd_epsilon_lower_bound(nothing, 1.0, 1, 1e-5, 0.95).unwrap();
        assert_eq!((none.noise_multiplier, none.epsilon), (f64::INFINITY, 0.0));
    }
}
