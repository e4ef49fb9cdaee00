//! Privacy-loss-distribution (PLD) accountant for the Poisson-subsampled Gaussian.
//!
//! For neighbouring datasets the mechanism's output laws are `P` and `Q`; the privacy
//! loss `L = ln(P(o)/Q(o))`, `o ∼ P`, has a distribution whose hockey-stick divergence
//! gives the tightest δ for every ε:
//!
//! `δ(ε) = P[L = ∞] + E[(1 − e^{ε − L})₊]`.
//!
//! Losses of independent steps add, so T steps compose by T-fold convolution of the PLD
//! (Meiser & Mohammadi 2018; Koskela, Jälkö & Honkela 2020), done here with one FFT, an
//! elementwise T-th power and one inverse FFT. The one-step PLD is discretised with the
//! pessimistic "connect the dots" scheme of Doroshenko, Ghazi, Kamath, Kumar & Manurangsi
//! (2022), following Google's dp-accounting: its δ(ε) curve passes through the exact one
//! at every grid point and lies above it elsewhere, so every reported ε is an upper
//! bound on the true one, and the bias does not grow like T × grid width as plain
//! round-up would.
//!
//! DP-SGD uses add/remove adjacency, whose two directions differ once `q < 1`:
//! REMOVE compares `P = (1−q)N(0,σ²) + qN(−1,σ²)` against `Q = N(0,σ²)`, ADD compares
//! `P = N(0,σ²)` against `Q = (1−q)N(0,σ²) + qN(1,σ²)`. Both are composed and the larger
//! ε is reported, as dp-accounting does.

use rustfft::{FftPlanner, num_complex::Complex};

use super::special::{log_add, log_normal_cdf, normal_cdf, normal_quantile_from_log};

/// dp-accounting's default grid width for privacy-loss values.
pub const DEFAULT_VALUE_DISCRETIZATION_INTERVAL: f64 = 1e-4;
/// Noise mass ignored per tail (pessimistically: sent to ∞ loss), as dp-accounting.
const LOG_MASS_TRUNCATION_BOUND: f64 = -50.0;
/// Composed mass allowed outside the FFT window; charged in full to δ.
const TAIL_MASS_TRUNCATION: f64 = 1e-15;
/// Largest grid/FFT we build (64 MiB of complex doubles); past it the grid is coarsened.
const MAX_GRID: usize = 1 << 22;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Adjacency {
    Remove,
    Add,
}

/// One step's privacy loss as a function of the noisy output (decreasing in it).
///
/// Everything is written in the standardised output `u = x/σ` and divided by σ once at a
/// time, never through σ²: σ² overflows past 1.3e154 (and 0 × ∞ turns into NaN), while
/// `1/σ`, `σ·u` and `(·)/σ` stay finite for every finite σ > 0 that is not absurdly small.
struct Loss {
    q: f64,
    sigma: f64,
    adjacency: Adjacency,
}

impl Loss {
    /// The loss at output `x = σu`. With `ℓ = (∓½ − x)/σ² = (∓1/(2σ) − u)/σ`,
    /// REMOVE: `L = ln(1 − q + q e^{ℓ})`, `ℓ = −(1/(2σ) + u)/σ`;
    /// ADD: `L = −ln(1 − q + q e^{−ℓ})`, `ℓ = (1/(2σ) − u)/σ`.
    fn at(&self, u: f64) -> f64 {
        let half_inv = 0.5 / self.sigma;
        let (ln_q, ln_1mq) = (self.q.ln(), (-self.q).ln_1p());
        match self.adjacency {
            Adjacency::Remove => log_add(ln_q - (half_inv + u) / self.sigma, ln_1mq),
            Adjacency::Add => -log_add(ln_q - (half_inv - u) / self.sigma, ln_1mq),
        }
    }

    /// Exact δ(ε) of one step: with x(ε) the output where the loss equals ε,
    /// `δ = P(X ≤ x) − e^ε Q(X ≤ x)` because the loss exceeds ε exactly left of x.
    /// Solving the loss for x gives `x = ∓½ − σ² ln(1 + r)`, i.e. the standardised
    /// `u = ∓1/(2σ) − σ ln(1 + r)`; if σ·ln(1 + r) overflows, u = ±∞ is the right limit.
    fn delta(&self, eps: f64) -> f64 {
        let (q, sigma) = (self.q, self.sigma);
        let (half_inv, inv) = (0.5 / sigma, 1.0 / sigma);
        let d = match self.adjacency {
            Adjacency::Remove => {
                // Losses never fall below ln(1 − q): there δ = 1 − e^ε.
                let r = eps.exp_m1() / q;
                if r <= -1.0 {
                    return (-eps.exp_m1()).clamp(0.0, 1.0);
                }
                let u = -half_inv - sigma * r.ln_1p();
                (1.0 - q) * normal_cdf(u) + q * normal_cdf(u + inv)
                    - (eps + log_normal_cdf(u)).exp()
            }
            Adjacency::Add => {
                // Losses never exceed −ln(1 − q): there δ = 0.
                let r = (-eps).exp_m1() / q;
                if r <= -1.0 {
                    return 0.0;
                }
                let u = half_inv + sigma * r.ln_1p();
                let log_q_cdf = log_add(
                    (-q).ln_1p() + log_normal_cdf(u),
                    q.ln() + log_normal_cdf(u - inv),
                );
                normal_cdf(u) - (eps + log_q_cdf).exp()
            }
        };
        d.clamp(0.0, 1.0)
    }

    /// Loss range kept on the grid: the noise is cut where each Gaussian tail holds
    /// ½e^-50 (shifted by the sensitivity on the side the mixture reaches), as
    /// dp-accounting's `connect_dots_bounds`; the cut mass ends up in the ∞ atom.
    fn bounds(&self) -> (f64, f64) {
        // In standardised outputs u = x/σ: the cut is at z, the sensitivity is 1/σ.
        let z = normal_quantile_from_log(LOG_MASS_TRUNCATION_BOUND + 0.5f64.ln());
        let inv = 1.0 / self.sigma;
        let (lo_u, hi_u) = match self.adjacency {
            Adjacency::Remove => (z - inv, -z),
            Adjacency::Add => (z, inv - z),
        };
        (self.at(hi_u), self.at(lo_u))
    }
}

/// A PLD on the grid `(lower + i)·interval`, plus an atom at +∞.
#[derive(Clone, Debug)]
struct Pmf {
    lower: i64,
    probs: Vec<f64>,
    infinity_mass: f64,
    interval: f64,
}

impl Pmf {
    /// Pessimistic connect-the-dots discretisation (dp-accounting's
    /// `create_pmf_pessimistic_connect_dots_fixed_gap`). With δᵢ = δ(εᵢ) on the grid and
    /// gap d, the masses that make the discrete δ(ε) interpolate the exact one are
    /// `p₁ = 1 − δ₁ + (δ₂ − δ₁)/(e^d − 1)`,
    /// `pᵢ = ((δᵢ₊₁ − δᵢ) − e^d (δᵢ − δᵢ₋₁))/(e^d − 1)`, `pₙ = (δₙ − δₙ₋₁)/(e^{−d} − 1)`,
    /// and `P[∞] = δₙ`. None if the grid would exceed [`MAX_GRID`].
    fn connect_the_dots(loss: &Loss, d: f64) -> Option<Self> {
        let (eps_lo, eps_hi) = loss.bounds();
        // An infinite (tiny σ) or NaN loss range fits no grid; `as i64` would saturate or
        // turn NaN into 0 and build a wrong, optimistic one.
        if !(eps_lo.is_finite() && eps_hi.is_finite()) {
            return None;
        }
        let (lower, upper) = ((eps_lo / d).floor() as i64, (eps_hi / d).ceil() as i64);
        let n = upper
            .checked_sub(lower)
            .and_then(|w| usize::try_from(w).ok()?.checked_add(1))
            .filter(|&n| n <= MAX_GRID)?;
        let mut deltas: Vec<f64> = (0..n)
            .map(|i| loss.delta((lower + i as i64) as f64 * d))
            .collect();
        // δ(ε) is non-increasing; remove rounding wiggles so no mass comes out negative.
        for i in 1..n {
            deltas[i] = deltas[i].min(deltas[i - 1]);
        }
        let infinity_mass = deltas[n - 1];
        if n == 1 {
            return Some(Self {
                lower,
                probs: vec![1.0 - deltas[0]],
                infinity_mass,
                interval: d,
            });
        }
        let (em1, e) = (d.exp_m1(), d.exp());
        let mut probs = vec![0.0; n];
        probs[0] = 1.0 - deltas[0] + (deltas[1] - deltas[0]) / em1;
        for i in 1..n - 1 {
            probs[i] = ((deltas[i + 1] - deltas[i]) - e * (deltas[i] - deltas[i - 1])) / em1;
        }
        probs[n - 1] = (deltas[n - 1] - deltas[n - 2]) / (-d).exp_m1();
        probs.iter_mut().for_each(|p| *p = p.max(0.0));
        Some(Self {
            lower,
            probs,
            infinity_mass,
            interval: d,
        })
    }

    /// Grid window [lo, hi] (absolute indices) holding all but `TAIL_MASS_TRUNCATION` of
    /// the T-fold sum, by the Chernoff bound `P[S ≥ s] ≤ exp(T·K(λ) − λs)` with
    /// `K(λ) = ln Σᵢ pᵢ e^{λℓᵢ}`, minimised over a geometric set of λ (both signs).
    fn composed_window(&self, steps: f64) -> (f64, f64) {
        let (d, n) = (self.interval, self.probs.len());
        let (first, last) = (
            self.lower as f64 * steps,
            (self.lower as f64 + (n - 1) as f64) * steps,
        );
        let (l_min, l_max) = (
            self.lower as f64 * d,
            (self.lower as f64 + (n - 1) as f64) * d,
        );
        let (mut lo, mut hi) = (first, last);
        let log_budget = (2.0 / TAIL_MASS_TRUNCATION).ln();
        for k in -8..=14 {
            let lambda = 2f64.powi(k);
            // Σ pᵢ e^{±λ(ℓᵢ − ℓ_end)}, measured from the end where the exponent is largest
            // so nothing overflows; on a uniform grid the weights are geometric.
            let ratio = (-lambda * d).exp();
            let up = geometric_sum(self.probs.iter().rev(), ratio);
            let down = geometric_sum(self.probs.iter(), ratio);
            if up > 0.0 {
                let s = (steps * (lambda * l_max + up.ln()) + log_budget) / lambda;
                hi = hi.min((s / d).ceil());
            }
            if down > 0.0 {
                let s = (steps * (-lambda * l_min + down.ln()) + log_budget) / -lambda;
                lo = lo.max((s / d).floor());
            }
        }
        (lo.min(last), hi.max(first).max(lo.min(last)))
    }

    /// The PLD of `steps` independent copies: FFT, raise to the T-th power, inverse FFT.
    /// Mass outside the Chernoff window (≤ 1e-15) wraps around the circular convolution;
    /// it is charged to the ∞ atom, as is `1 − (1 − P[∞])^T`. None if too large.
    fn self_compose(&self, steps: u64) -> Option<Self> {
        if steps == 1 {
            return Some(self.clone());
        }
        let t = steps as f64;
        let (lo, hi) = self.composed_window(t);
        let width = hi - lo + 1.0;
        // Indices are kept in f64; beyond 2^52 they would stop being exact integers.
        if !(width.is_finite() && width <= MAX_GRID as f64 && lo.abs() < 2f64.powi(52)) {
            return None;
        }
        let len = next_fast_len(width as usize);
        let mut buf = vec![Complex::new(0.0, 0.0); len];
        for (i, &p) in self.probs.iter().enumerate() {
            buf[i % len].re += p;
        }
        let mut planner = FftPlanner::<f64>::new();
        planner.plan_fft_forward(len).process(&mut buf);
        for c in buf.iter_mut() {
            let (r, theta) = c.to_polar();
            *c = Complex::from_polar(r.powf(t), theta * t);
        }
        planner.plan_fft_inverse(len).process(&mut buf);
        // Absolute index k of the sum is (T·lower + j) for j the offset into `buf`.
        let base = self.lower as f64 * t;
        let probs = (0..width as usize)
            .map(|k| {
                let j = (lo + k as f64 - base) as usize % len;
                (buf[j].re / len as f64).max(0.0)
            })
            .collect();
        let infinity_mass = -(t * (-self.infinity_mass).ln_1p()).exp_m1() + TAIL_MASS_TRUNCATION;
        Some(Self {
            lower: lo as i64,
            probs,
            infinity_mass,
            interval: self.interval,
        })
    }

    /// `δ(ε) = P[∞] + Σ_{ℓᵢ > ε} pᵢ (1 − e^{ε − ℓᵢ})`.
    fn delta_for_epsilon(&self, eps: f64) -> f64 {
        let tail: f64 = (self.probs.iter().enumerate())
            .map(|(i, p)| (p, (self.lower + i as i64) as f64 * self.interval))
            .filter(|&(_, l)| l > eps)
            .map(|(p, l)| -p * (eps - l).exp_m1())
            .sum();
        self.infinity_mass + tail
    }

    /// Smallest ε ≥ 0 with δ(ε) ≤ δ (∞ if the ∞ atom alone exceeds δ). Scans losses
    /// downwards keeping `U = Σ_{ℓ>ε} p` and `V = Σ_{ℓ>ε} p e^{−ℓ}`; between grid points
    /// δ(ε) = U − e^ε V, so the answer is ln((U − δ)/V) in the first gap where it fits.
    fn epsilon_for_delta(&self, delta: f64) -> f64 {
        if self.infinity_mass > delta {
            return f64::INFINITY;
        }
        let (mut upper, mut lower) = (self.infinity_mass, 0.0_f64);
        for (i, &p) in self.probs.iter().enumerate().rev() {
            let loss = (self.lower + i as i64) as f64 * self.interval;
            if upper > delta && lower > 0.0 && ((upper - delta) / lower).ln() >= loss {
                break;
            }
            upper += p;
            lower += (-loss).exp() * p;
            if upper >= delta && lower == 0.0 {
                return loss.max(0.0);
            }
        }
        if upper <= lower + delta {
            0.0
        } else {
            ((upper - delta) / lower).ln()
        }
    }
}

/// Σ pᵢ wⁱ for the probabilities in iteration order.
fn geometric_sum<'a>(probs: impl Iterator<Item = &'a f64>, ratio: f64) -> f64 {
    let mut w = 1.0;
    let mut sum = 0.0;
    for p in probs {
        sum += p * w;
        w *= ratio;
    }
    sum
}

/// Smallest n' ≥ n whose only prime factors are 2, 3 and 5 (fast sizes for rustfft).
fn next_fast_len(n: usize) -> usize {
    (n.max(1)..)
        .find(|&m| {
            let mut m = m;
            for f in [2, 3, 5] {
                while m % f == 0 {
                    m /= f;
                }
            }
            m == 1
        })
        .expect("5-smooth numbers are unbounded")
}

/// The composed PLDs (REMOVE and, for q < 1, ADD) at the finest grid, from `interval`
/// up, small enough to build; empty if even a 1.0-wide grid is too large.
fn composed(q: f64, sigma: f64, steps: u64, interval: f64) -> Vec<Pmf> {
    let dirs: &[Adjacency] = if q == 1.0 {
        &[Adjacency::Remove]
    } else {
        &[Adjacency::Remove, Adjacency::Add]
    };
    let mut d = interval;
    while d <= 1.0 {
        let built: Option<Vec<Pmf>> = dirs
            .iter()
            .map(|&adjacency| {
                Pmf::connect_the_dots(
                    &Loss {
                        q,
                        sigma,
                        adjacency,
                    },
                    d,
                )?
                .self_compose(steps)
            })
            .collect();
        if let Some(pmfs) = built {
            return pmfs;
        }
        // A coarser connect-the-dots grid is still an upper bound, only looser.
        d *= 2.0;
    }
    Vec::new()
}

/// ε(δ) of `steps` steps of DP-SGD with sample rate `q ∈ (0, 1]` and noise multiplier
/// `sigma > 0`, on a loss grid of width `value_discretization_interval`.
///
/// Pessimistic: never below the true ε by more than rounding, and never below 0. If the
/// grid would exceed 2²² points (very small σ with many steps), the interval is doubled
/// until it fits; if even a width of 1 does not fit, returns ∞. Any σ up to `f64::MAX` is
/// fine: huge σ gives ε → 0 (the one-step loss is computed without ever forming σ²).
pub fn epsilon(
    q: f64,
    sigma: f64,
    steps: u64,
    delta: f64,
    value_discretization_interval: f64,
) -> f64 {
    let pmfs = composed(q, sigma, steps, value_discretization_interval);
    if pmfs.is_empty() {
        return f64::INFINITY;
    }
    // A NaN must not vanish into the max (f64::max drops NaN): it is reported as ∞.
    pmfs.iter()
        .map(|p| super::clamp_epsilon(p.epsilon_for_delta(delta)))
        .fold(0.0, f64::max)
}

/// δ(ε) of the same composition (the larger of the two adjacency directions).
pub fn delta(
    q: f64,
    sigma: f64,
    steps: u64,
    epsilon: f64,
    value_discretization_interval: f64,
) -> f64 {
    deltas(q, sigma, steps, &[epsilon], value_discretization_interval)[0]
}

/// δ(ε) of the same composition at each of `epsilons`, composing the PLD once.
pub fn deltas(
    q: f64,
    sigma: f64,
    steps: u64,
    epsilons: &[f64],
    value_discretization_interval: f64,
) -> Vec<f64> {
    let pmfs = composed(q, sigma, steps, value_discretization_interval);
    // No grid fits: nothing is bounded.
    let delta_at = |eps: f64| {
        if pmfs.is_empty() {
            return 1.0;
        }
        // As in `epsilon`: a NaN is no bound, so it reads as δ = 1.
        pmfs.iter()
            .map(|p| p.delta_for_epsilon(eps))
            .map(|d| if d.is_nan() { 1.0 } else { d })
            .fold(0.0, f64::max)
    };
    epsilons.iter().map(|&eps| delta_at(eps)).collect()
}
