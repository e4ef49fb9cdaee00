//! DP-SGD (Abadi, Chu, Goodfellow, McMahan, Mironov, Talwar & Zhang 2016, "Deep Learning with
//! Differential Privacy", Algorithm 1), in the form the accountants in `privacy` analyse:
//!
//! 1. **Poisson sampling** (`sampler.rs`): each step's batch holds every training example
//!    independently with probability `q` (the sample rate), so its size varies around `q·N`.
//! 2. **Per-example clipping** (`clip.rs`): each example's gradient `g_b` is scaled to norm at
//!    most `C` (the max grad norm), `ḡ_b = g_b · min(1, C/‖g_b‖)`. The norms come from one
//!    backward pass through taps on every layer (`model/tape.rs`), never from per-example
//!    gradients of the whole model; `oracle.rs` keeps the slow per-example loop to test against.
//! 3. **Noise** (`noise.rs`): `g̃ = (Σ_b ḡ_b + N(0, σ²C²·I)) / (q·N)`, σ the noise multiplier.
//!    Dividing by the *expected* batch size, not the drawn one, keeps the sensitivity fixed.
//!
//! Any optimizer may then use `g̃`: everything after the noise is post-processing.

mod audit;
mod clip;
mod grads;
mod noise;
mod normal;
mod oracle;
mod sampler;
mod step;

pub use crate::model::LayerGrads;
pub use audit::{Audit, AuditBreak};
pub use clip::{clip_factors, clipped_sum, per_example_squared_norms, weighted_sum};
pub use grads::ParamGrads;
pub use noise::add_noise;
pub use oracle::clipped_sum_per_example_loop;
pub use sampler::PoissonSampler;
pub use step::{ClippedBatch, clipped_batch_gradient};

use serde::Serialize;

use crate::config::{ConfigError, positive};

/// The DP-SGD parameters of a training run, checked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DpSgd {
    /// Probability `q` that an example joins a step's batch.
    pub sample_rate: f64,
    /// Noise standard deviation divided by the clipping norm, σ.
    pub noise_multiplier: f64,
    /// Per-example gradient norm bound `C`.
    pub max_grad_norm: f64,
    /// Training-set size `N`.
    pub dataset_size: usize,
    /// An unsafe mode for an audit's positive control ([`AuditBreak::None`] otherwise).
    #[serde(skip)]
    pub audit_break: AuditBreak,
}

impl DpSgd {
    /// Checks `q ∈ (0, 1]`, `σ ≥ 0` finite, `C > 0` and `N ≥ 1`. σ = 0 (clipping without
    /// noise) is allowed: it is not private, and the accountants refuse it.
    pub fn new(
        sample_rate: f64,
        noise_multiplier: f64,
        max_grad_norm: f64,
        dataset_size: usize,
    ) -> Result<Self, ConfigError> {
        if !(sample_rate > 0.0 && sample_rate <= 1.0) {
            return Err(ConfigError::invalid(
                "sample_rate",
                sample_rate,
                "must be in (0, 1]",
            ));
        }
        if !(noise_multiplier >= 0.0 && noise_multiplier.is_finite()) {
            return Err(ConfigError::invalid(
                "noise_multiplier",
                noise_multiplier,
                "must be a finite number ≥ 0",
            ));
        }
        positive("clip_norm", max_grad_norm)?;
        if dataset_size == 0 {
            return Err(ConfigError::invalid(
                "dataset_size",
                0,
                "DP-SGD needs training data",
            ));
        }
        Ok(Self {
            sample_rate,
            noise_multiplier,
            max_grad_norm,
            dataset_size,
            audit_break: AuditBreak::None,
        })
    }

    /// The same run in the unsafe mode `audit_break`, for an audit's positive control only.
    pub fn broken(self, audit_break: AuditBreak) -> Self {
        Self {
            audit_break,
            ..self
        }
    }

    /// The standard deviation of the noise actually added: σ·C, or 0 when the noise is broken.
    pub fn noise_std(&self) -> f64 {
        match self.audit_break {
            AuditBreak::Noise => 0.0,
            AuditBreak::None | AuditBreak::Clip => self.noise_multiplier * self.max_grad_norm,
        }
    }

    /// The clipping norm actually applied: C, or ∞ when clipping is broken.
    pub fn applied_clip_norm(&self) -> f64 {
        match self.audit_break {
            AuditBreak::Clip => f64::INFINITY,
            AuditBreak::None | AuditBreak::Noise => self.max_grad_norm,
        }
    }

    /// `q·N`, the divisor of the noisy sum.
    pub fn expected_batch_size(&self) -> f64 {
        self.sample_rate * self.dataset_size as f64
    }
}
