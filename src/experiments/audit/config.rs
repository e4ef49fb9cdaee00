//! What defines an audit run: the training being audited (`[model]`, `[train]`, `[privacy]`'s
//! δ, C and accountant) and the auditor's game (`[audit]`: the canaries, the guesses, the
//! confidence and the ε levels to audit).

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::config::{ConfigError, count_in, positive};
use crate::data::DataSpec;
use crate::experiments::RunSpec;
use crate::model::{Activation, ModelSpec};
use crate::privacy::PrivacySpec;
use crate::train::dp::AuditBreak;
use crate::train::{OptimizerKind, TrainOptions};

/// Most canaries: each is a training example (input) or a watched coordinate (gradient).
const MAX_CANARIES: usize = 1_000_000;
/// Most ε levels one run audits (each is a training run).
const MAX_LEVELS: usize = 100;
/// What `--quick` keeps.
const QUICK_DATA: (usize, usize) = (2_000, 1_000);
const QUICK_CANARIES: usize = 100;
const QUICK_EPOCHS: usize = 5;
const QUICK_BATCH: usize = 256;

/// The auditor's canaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum CanaryKind {
    /// Mislabelled images scored by their loss through query access (black box).
    Input,
    /// Dirac gradients scored by the released updates at their coordinate (white box).
    #[default]
    Gradient,
}

impl CanaryKind {
    /// The name in JSON and on plots.
    pub fn as_str(self) -> &'static str {
        match self {
            CanaryKind::Input => "input",
            CanaryKind::Gradient => "gradient",
        }
    }
}

/// The auditor's game: an `[audit]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSpec {
    /// Canaries m, each included in training with probability ½.
    pub canaries: usize,
    /// Input (black-box) or gradient (white-box) canaries.
    pub canary_kind: CanaryKind,
    /// Guesses per side k: "in" for the k highest scores, "out" for the k lowest. Each k at
    /// each ε level is a separate test; the confidence is split between all of them
    /// (Bonferroni), so that every bound of the run holds together at `confidence`, and a
    /// correct run exits 1 with probability at most 1 − `confidence`. Default: m/20, m/10, m/4
    /// and m/2.
    pub guesses: Option<Vec<usize>>,
    /// Confidence of the lower bounds, in (0, 1).
    pub confidence: f64,
    /// The claimed ε levels audited, one training run each (`inf`: non-private training, input
    /// canaries only).
    pub epsilons: Vec<f64>,
    /// Raw norm of a gradient canary, in units of C. The run clips it to C like any example,
    /// so above 1 it changes nothing on a correct run and exposes one that skips clipping.
    pub dirac_norm: f64,
    /// The unsafe training mode of a positive control: set by `--audit-break` only, never by
    /// a config file (the key is refused there), and recorded in the results.
    #[serde(skip_deserializing)]
    pub audit_break: AuditBreak,
}

impl Default for AuditSpec {
    fn default() -> Self {
        Self {
            canaries: 1_000,
            canary_kind: CanaryKind::Gradient,
            guesses: None,
            confidence: 0.95,
            epsilons: vec![1.0, 2.0, 4.0, 8.0],
            dirac_norm: 1000.0,
            audit_break: AuditBreak::None,
        }
    }
}

impl AuditSpec {
    /// The guesses per side, given or by default, sorted and without repeats.
    pub fn guesses(&self) -> Vec<usize> {
        let m = self.canaries;
        let mut k = self
            .guesses
            .clone()
            .unwrap_or_else(|| vec![m / 20, m / 10, m / 4, m / 2]);
        k.iter_mut().for_each(|k| *k = (*k).max(1));
        k.sort_unstable();
        k.dedup();
        k
    }

    /// The confidence of each test (one per k per ε level), so that all of them hold together
    /// at `confidence`.
    pub fn per_test_confidence(&self) -> f64 {
        let tests = self.guesses().len() * self.epsilons.len();
        1.0 - (1.0 - self.confidence) / tests as f64
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let m = self.canaries;
        if m < 2 {
            return Err(ConfigError::invalid(
                "canaries",
                m,
                "an audit needs at least 2 canaries (each is in or out with probability ½)",
            ));
        }
        count_in("canaries", m, MAX_CANARIES)?;
        if let Some(k) = &self.guesses {
            if k.is_empty() {
                return Err(ConfigError::invalid("guesses", "[]", "give at least one k"));
            }
            if let Some(&bad) = k.iter().find(|&&k| k == 0 || k > m / 2) {
                return Err(ConfigError::invalid(
                    "guesses",
                    bad,
                    format!(
                        "each k must be in 1..={}: k guesses \"in\" and k \"out\" among the {m} \
                         canaries",
                        m / 2
                    ),
                ));
            }
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(ConfigError::invalid(
                "confidence",
                self.confidence,
                "must be in (0, 1)",
            ));
        }
        if self.epsilons.is_empty() {
            return Err(ConfigError::invalid(
                "epsilons",
                "[]",
                "give at least one ε to audit",
            ));
        }
        count_in("epsilons", self.epsilons.len(), MAX_LEVELS)?;
        for &eps in &self.epsilons {
            if eps == f64::INFINITY {
                if self.audit_break != AuditBreak::None {
                    return Err(ConfigError::invalid(
                        "audit_break",
                        self.audit_break.as_str(),
                        "a positive control breaks a DP run, and ε = inf trains without DP: \
                         there is no claimed ε to contradict",
                    ));
                }
                if self.canary_kind == CanaryKind::Gradient {
                    return Err(ConfigError::invalid(
                        "epsilons",
                        "inf",
                        "gradient canaries are examples of DP-SGD; audit a finite ε, or use \
                         input canaries",
                    ));
                }
            } else {
                positive("epsilons", eps)?;
            }
        }
        positive("dirac_norm", self.dirac_norm)?;
        Ok(())
    }
}

/// Everything that defines an audit run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Seed, backend, quick.
    pub run: RunSpec,
    /// Dataset and caps.
    pub data: DataSpec,
    /// The network trained.
    pub model: ModelSpec,
    /// Optimiser, batches, epochs.
    pub train: TrainOptions,
    /// δ, C and the accountant; the ε levels are `[audit] epsilons`.
    pub privacy: PrivacySpec,
    /// The auditor's game.
    pub audit: AuditSpec,
}

impl Default for AuditConfig {
    /// The MLP on Fashion-MNIST under DP-SGD in the recipe of the published DP runs (expected
    /// batch 2048, C = 0.1, SGD with momentum 0.9 and lr 4), 10 epochs, audited with 1,000
    /// gradient canaries at ε = 1, 2, 4 and 8.
    fn default() -> Self {
        Self {
            run: RunSpec::default(),
            data: DataSpec::default(),
            model: ModelSpec::mlp(&[256], Activation::Tanh),
            train: TrainOptions {
                epochs: 10,
                batch_size: 2048,
                optimizer: OptimizerKind::Sgd,
                lr: 4.0,
                momentum: 0.9,
                ..TrainOptions::default()
            },
            privacy: PrivacySpec {
                clip_norm: 0.1,
                ..PrivacySpec::default()
            },
            audit: AuditSpec::default(),
        }
    }
}

impl AuditConfig {
    /// Applies `--quick`: a slice of the data, 100 canaries, at most five epochs.
    pub fn resolve(mut self) -> Self {
        if self.run.quick {
            self.data.cap(QUICK_DATA.0, QUICK_DATA.1);
            self.train.epochs = self.train.epochs.min(QUICK_EPOCHS);
            self.train.batch_size = self.train.batch_size.min(QUICK_BATCH);
            self.audit.canaries = self.audit.canaries.min(QUICK_CANARIES);
            if let Some(k) = &mut self.audit.guesses {
                let half = self.audit.canaries / 2;
                k.iter_mut().for_each(|k| *k = (*k).min(half));
            }
        }
        self
    }

    /// Checks what can be checked before the data is loaded.
    pub fn validate(&self) -> Result<()> {
        self.data.validate()?;
        self.model.validate(self.train.batch_size, "batch_size")?;
        self.train.validate(usize::MAX)?;
        self.privacy.validate()?;
        if self.privacy.epsilon.is_some() || self.privacy.noise_multiplier.is_some() {
            return Err(ConfigError::invalid(
                "privacy.epsilon",
                "set",
                "an audit takes its ε levels from [audit] epsilons (or --epsilon), and \
                 calibrates the noise for each",
            )
            .into());
        }
        Ok(self.audit.validate()?)
    }
}
