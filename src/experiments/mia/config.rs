//! What defines a membership-inference run: the attack, the split sizes, the target's training
//! (`[target]`) and the attacker's regressor (`[quantile]`), with the defaults of the published
//! runs and what `--quick` keeps.

use serde::{Deserialize, Serialize};

use super::check_split_sizes;
use crate::attacks::membership::quantile::{Head, QuantileConfig};
use crate::config::{ConfigError, at_least_one, count_in};
use crate::experiments::train::TrainConfig;
use crate::metrics::membership::alpha_grid;
use crate::train::OptimizerKind;

/// Fewest public records the attacker may have: its regression model learns from them.
pub const MIN_PUBLIC: usize = 100;
/// Caps applied by `--quick`.
pub(super) const QUICK_MEMBERS: usize = 1_000;
const QUICK_PUBLIC: usize = 1_000;
const QUICK_EPOCHS: usize = 2;
const QUICK_DP_EPOCHS: usize = 10;
const QUICK_BOOTSTRAP: usize = 100;
pub(super) const QUICK_SHADOWS: usize = 2;
/// Most bootstrap resamples (each re-sorts every score).
const MAX_BOOTSTRAP: usize = 100_000;
/// Most LiRA shadows.
const MAX_SHADOWS: usize = 10_000;
/// Shadows trained for `attack = "lira"` when `shadows` is not given.
const DEFAULT_LIRA_SHADOWS: usize = 4;

/// Which attack is the headline (`attack` in metrics.json); the others become `baselines`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AttackKind {
    /// Quantile regression on the logit margin (Bertran et al. 2023).
    #[default]
    Quantile,
    /// One global threshold on the logit margin.
    Threshold,
    /// One global threshold on the loss (Yeom et al. 2018).
    Loss,
    /// Offline LiRA with shadow models (Carlini et al. 2022).
    Lira,
}

impl AttackKind {
    /// The name used in metrics.json and on plots.
    pub fn as_str(self) -> &'static str {
        match self {
            AttackKind::Quantile => "quantile",
            AttackKind::Threshold => "threshold",
            AttackKind::Loss => "loss",
            AttackKind::Lira => "lira",
        }
    }
}

/// Everything that defines a membership-inference run. Top-level keys describe the attack; the
/// `[target]` table is the target's training config (the `ppml run train` keys, whose
/// `dataset`, `seed`, `backend` and `epsilon` are the run's), and `[quantile]` the attacker's
/// regression model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MiaConfig {
    /// Records the target trains on; as many non-members are held out.
    pub members: usize,
    /// Records the attacker holds (disjoint from members and non-members).
    pub public: usize,
    /// The headline attack.
    pub attack: AttackKind,
    /// LiRA shadow models (0 = no LiRA baseline; `attack = "lira"` defaults to 4).
    pub shadows: Option<usize>,
    /// The α grid: target false-positive rates of the attacker's thresholds, each in (0, 1]
    /// (default: 17 values log-spaced from 1e-4 to 1).
    pub alphas: Option<Vec<f64>>,
    /// Bootstrap resamples behind each 95% interval.
    pub bootstrap: usize,
    /// The target's training.
    pub target: TrainConfig,
    /// The attacker's quantile regressor.
    pub quantile: QuantileConfig,
}

impl Default for MiaConfig {
    /// The published non-private run (`experiments/mia-fashion-nodp.toml`): Papernot et al.'s
    /// tanh CNN fitted closely to 20,000 members by 60 epochs of Adam.
    fn default() -> Self {
        Self {
            members: 20_000,
            public: 20_000,
            attack: AttackKind::Quantile,
            shadows: None,
            alphas: None,
            bootstrap: 500,
            target: TrainConfig {
                epochs: 60,
                batch_size: 128,
                optimizer: OptimizerKind::Adam,
                lr: 1e-3,
                ..TrainConfig::default()
            },
            quantile: QuantileConfig::default(),
        }
    }
}

impl MiaConfig {
    /// The defaults of a run against a DP-SGD target when no config file is given: the
    /// published `mia-fashion-eps*.toml` runs (DP-SGD as in `dp-fashion-eps*.toml` on a third
    /// of the data: expected batch 1,024, SGD with lr 4 and momentum 0.9, C = 0.1, 40 epochs).
    /// `ppml run mia --epsilon 1.5 --dataset fashion-mnist` then reproduces the published row.
    pub fn dp_default() -> Self {
        Self {
            target: TrainConfig {
                epochs: 40,
                batch_size: 1024,
                ..TrainConfig::dp_default()
            },
            ..Self::default()
        }
    }
}

impl MiaConfig {
    /// Applies `--quick`, fills in the α grid and the shadow count, and reads `epsilon = inf`
    /// as "no DP".
    pub fn resolve(mut self) -> Self {
        if self.shadows.is_none() {
            self.shadows = Some(if self.attack == AttackKind::Lira {
                DEFAULT_LIRA_SHADOWS
            } else {
                0
            });
        }
        if self.target.quick {
            self.members = self.members.min(QUICK_MEMBERS);
            self.public = self.public.min(QUICK_PUBLIC);
            self.bootstrap = self.bootstrap.min(QUICK_BOOTSTRAP);
            self.quantile.epochs = self.quantile.epochs.min(QUICK_EPOCHS);
            self.shadows = self.shadows.map(|k| k.min(QUICK_SHADOWS));
        }
        if self.alphas.is_none() {
            self.alphas = Some(alpha_grid(17));
        }
        let (train_limit, epochs) = (self.target.train_limit, self.target.epochs);
        let private = self.target.is_private();
        self.target = self.target.resolve_quick();
        if self.target.quick {
            // `resolve_quick` leaves one epoch, which is a training run's smoke test; the
            // target of an attack gets a few more.
            self.target.epochs = epochs;
            // A DP target needs more of its few noisy steps than a non-private one to get
            // clearly above chance on 1,000 members (measured: 2 epochs of DP-SGD at ε = 1.5
            // left the tanh CNN at chance).
            let epochs = if private {
                QUICK_DP_EPOCHS
            } else {
                QUICK_EPOCHS
            };
            self.target.epochs = self.target.epochs.min(epochs);
        }
        // The members are the target's training set; `resolve_quick`'s cap does not apply.
        self.target.train_limit = train_limit;
        self
    }

    /// The α grid (after [`MiaConfig::resolve`]).
    pub fn alphas(&self) -> &[f64] {
        self.alphas.as_deref().unwrap_or(&[])
    }

    /// Checks everything that can be checked before the data is loaded. Called on the config
    /// as given, before `--quick` shrinks it, and again after.
    pub fn validate(&self) -> Result<(), ConfigError> {
        at_least_one("members", self.members)?;
        // Against the published training split: `--quick` must not hide a split that could
        // never be drawn from this dataset.
        let published = self.target.dataset.spec().files[0].count;
        let source = format!("the published training split of {}", self.target.dataset);
        check_split_sizes(self.members, self.public, published, &source)?;
        if self.public < MIN_PUBLIC {
            return Err(ConfigError::invalid(
                "public",
                self.public,
                format!("the attacker needs at least {MIN_PUBLIC} public records to fit its model"),
            ));
        }
        if self.target.train_limit.is_some() {
            return Err(ConfigError::invalid(
                "target.train_limit",
                format!("{:?}", self.target.train_limit),
                "the target trains on exactly the members: set `members` instead",
            ));
        }
        count_in("bootstrap", self.bootstrap, MAX_BOOTSTRAP)?;
        if let Some(k) = self.shadows
            && k > MAX_SHADOWS
        {
            return Err(ConfigError::invalid(
                "shadows",
                k,
                format!(
                    "must be at most {MAX_SHADOWS}: each shadow trains a model like the target"
                ),
            ));
        }
        if let Some(alphas) = &self.alphas {
            if alphas.is_empty() {
                return Err(ConfigError::invalid("alphas", "[]", "give at least one α"));
            }
            if let Some(bad) = alphas.iter().find(|a| !(**a > 0.0 && **a <= 1.0)) {
                return Err(ConfigError::invalid(
                    "alphas",
                    bad,
                    "each α is a false-positive rate in (0, 1]",
                ));
            }
        }
        if self.quantile.head == Head::Pinball
            && self
                .alphas
                .as_ref()
                .is_some_and(|a| a.iter().all(|&a| a >= 1.0))
        {
            return Err(ConfigError::invalid(
                "alphas",
                "[1]",
                "the pinball head needs an α below 1 (the quantile at α = 1 is −∞)",
            ));
        }
        if self.attack == AttackKind::Lira && self.shadows == Some(0) {
            return Err(ConfigError::invalid(
                "shadows",
                0,
                "the LiRA attack needs at least one shadow model",
            ));
        }
        self.quantile.validate()?;
        self.target.validate()
    }
}
