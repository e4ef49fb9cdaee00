//! Noise calibration: the smallest noise multiplier σ whose ε(δ) meets a target.
//!
//! ε is non-increasing in σ for both accountants, so a bracket [lo, hi] with
//! ε(lo) > target ≥ ε(hi) is narrowed by bisection and `hi` returned: the answer always
//! meets the target and is within [`SIGMA_TOLERANCE`] of the exact crossing (measured
//! by the accountant in use, including the PLD's pessimistic discretisation).

use super::{Accountant, PrivacyError, SubsampledGaussian, epsilon_unchecked};

/// Largest noise multiplier tried; a target that needs more is reported as unreachable.
pub const MAX_SIGMA: f64 = 1000.0;
/// Smallest noise multiplier tried: below it the PLD grid becomes impractically large
/// and no DP-SGD setting of interest lives there. If even this σ meets the target it is
/// returned, flagged [`Calibration::at_search_floor`]: it is then not the smallest σ.
pub const MIN_SIGMA: f64 = 0.05;
/// Width of the final bracket in σ.
pub const SIGMA_TOLERANCE: f64 = 2e-4;

/// The noise multiplier [`calibrate`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// σ: meets the target ε.
    pub noise_multiplier: f64,
    /// True when σ = [`MIN_SIGMA`], the search's lower end, already meets the target: then
    /// σ is not the smallest noise that does (the search never looked below), and should
    /// be presented as "σ = 0.05, the search's lower end, already gives ε ≤ target".
    pub at_search_floor: bool,
}

/// [`calibrate`]'s σ alone, for callers that do not report whether it is at the floor.
pub fn calibrate_noise(
    accountant: Accountant,
    q: f64,
    steps: u64,
    target_epsilon: f64,
    delta: f64,
) -> Result<f64, PrivacyError> {
    calibrate(accountant, q, steps, target_epsilon, delta).map(|c| c.noise_multiplier)
}

/// The smallest noise multiplier σ from [`MIN_SIGMA`] to [`MAX_SIGMA`] (to within
/// [`SIGMA_TOLERANCE`], rounded up) such that `steps` steps of DP-SGD with sample rate
/// `q` are (`target_epsilon`, `delta`)-DP under `accountant`.
///
/// Errors if an argument is out of range, if the target is ∞
/// ([`PrivacyError::InfiniteEpsilon`]: any σ would do, so "the smallest" would be just
/// the search floor), or if even σ = [`MAX_SIGMA`] does not reach the target. When σ =
/// [`MIN_SIGMA`] already meets the target, [`Calibration::at_search_floor`] says so.
pub fn calibrate(
    accountant: Accountant,
    q: f64,
    steps: u64,
    target_epsilon: f64,
    delta: f64,
) -> Result<Calibration, PrivacyError> {
    if target_epsilon == f64::INFINITY {
        return Err(PrivacyError::InfiniteEpsilon);
    }
    if target_epsilon.is_nan() || target_epsilon <= 0.0 {
        return Err(PrivacyError::InvalidEpsilon(target_epsilon));
    }
    super::check_delta(delta)?;
    // Validates q and steps (σ = 1 is only a placeholder).
    SubsampledGaussian::new(q, 1.0, steps)?;
    let meets =
        |sigma: f64| epsilon_unchecked(accountant, q, sigma, steps, delta) <= target_epsilon;
    // Starting guess: RDP is cheap and never tighter than PLD, so its answer is just
    // above the PLD one and saves most of the (costly) PLD bracket search.
    let guess = match accountant {
        Accountant::Rdp => 1.0,
        Accountant::Pld => calibrate_noise(Accountant::Rdp, q, steps, target_epsilon, delta)
            .map_or(MAX_SIGMA, |s| s.clamp(MIN_SIGMA, MAX_SIGMA)),
    };
    let unreachable = || PrivacyError::UnreachableEpsilon {
        target_epsilon,
        delta,
        q,
        steps,
        max_sigma: MAX_SIGMA,
    };
    let (mut lo, mut hi);
    if meets(guess) {
        // Walk down in 20% steps until the target is missed, or the floor is met.
        hi = guess;
        loop {
            if hi <= MIN_SIGMA {
                return Ok(Calibration {
                    noise_multiplier: MIN_SIGMA,
                    at_search_floor: true,
                });
            }
            lo = (hi * 0.8).max(MIN_SIGMA);
            if !meets(lo) {
                break;
            }
            hi = lo;
        }
    } else {
        // Walk up, doubling, until the target is met.
        lo = guess;
        hi = (guess * 2.0).min(MAX_SIGMA);
        while !meets(hi) {
            if hi >= MAX_SIGMA {
                return Err(unreachable());
            }
            lo = hi;
            hi = (hi * 2.0).min(MAX_SIGMA);
        }
    }
    while hi - lo > SIGMA_TOLERANCE {
        let mid = 0.5 * (lo + hi);
        if meets(mid) { hi = mid } else { lo = mid }
    }
    Ok(Calibration {
        noise_multiplier: hi,
        at_search_floor: false,
    })
}
