//! What a privacy auditor adds to a DP-SGD run, and the unsafe modes its positive control uses.
//!
//! - **Gradient canaries** (Nasr, Hayes, Steinke, Balle, Tramèr, Jagielski, Carlini & Terzis
//!   2023, "Tight Auditing of Differentially Private Machine Learning"): training examples
//!   whose gradient is fixed, a Dirac vector `norm · e_j` at one parameter coordinate `j`. The
//!   mechanism treats them as it treats every example: Poisson-sampled at rate q, clipped to
//!   C, summed and noised. DP's guarantee holds for any per-example gradient, so a canary
//!   chosen to be as visible as possible is still covered by the accountant's ε.
//! - **The white-box release**: the auditor sees every noisy gradient the run releases (all
//!   intermediate models, the threat model of Nasr et al.) and keeps, for the coordinates it
//!   watches, their sum over steps: post-processing of what the run published.
//! - **[`AuditBreak`]**: training that is *not* what it claims, for a positive control only.
//!   An audit that cannot tell a broken run from a correct one proves nothing.

use serde::{Deserialize, Serialize};

/// An explicitly unsafe DP-SGD mode. Reachable only from `ppml run audit --audit-break` and
/// `ppml run mia --audit-break`, never from a config file: the run still reports the ε its
/// calibrated noise would give, so an audit must catch the difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AuditBreak {
    /// Correct DP-SGD.
    #[default]
    None,
    /// Trains with σ = 0: clipping without noise.
    Noise,
    /// Skips per-example clipping: noise of σ·C on unbounded gradients.
    Clip,
}

impl AuditBreak {
    /// The name on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditBreak::None => "none",
            AuditBreak::Noise => "noise",
            AuditBreak::Clip => "clip",
        }
    }
}

/// The auditor's additions to one DP-SGD run.
#[derive(Debug, Clone, Copy)]
pub struct Audit<'a> {
    /// Flat parameter coordinates (`model::flat`'s layout) of the gradient canaries *in* the
    /// training data, one per canary: the mechanism's data, not the auditor's view.
    pub dirac: &'a [usize],
    /// The raw norm of each canary's gradient. The mechanism clips it to C like any example,
    /// so a norm above C changes nothing on a correct run and shows a run that skips clipping.
    pub dirac_norm: f64,
    /// Coordinates whose released noisy gradient is summed over steps: every canary's,
    /// included or not, so the release says nothing about which were in.
    pub watch: &'a [usize],
}

impl Audit<'_> {
    /// No canaries, nothing watched: plain DP-SGD.
    pub const NONE: Audit<'static> = Audit {
        dirac: &[],
        dirac_norm: 0.0,
        watch: &[],
    };

    /// Whether the run needs the flat bookkeeping at all.
    pub fn is_active(&self) -> bool {
        !self.dirac.is_empty() || !self.watch.is_empty()
    }
}
