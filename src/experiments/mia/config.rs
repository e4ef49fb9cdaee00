//! What defines a membership-inference run: the game (`[membership]`: split sizes, the
//! headline attack, shadows, the α grid), the target (`[model]`, `[train]`, `[privacy]`, which
//! LiRA's shadows copy) and the attacker's regressor (`[quantile]`), with the defaults of the
//! published runs and what `--quick` keeps.

use serde::{Deserialize, Serialize};

use super::split::check_split_sizes;
use crate::Result;
use crate::attacks::membership::quantile::{Head, QuantileConfig};
use crate::config::{ConfigError, at_least_one, count_in};
use crate::data::DataSpec;
use crate::experiments::RunSpec;
use crate::metrics::membership::alpha_grid;
use crate::model::ModelSpec;
use crate::privacy::PrivacySpec;
use crate::train::dp::AuditBreak;
use crate::train::{OptimizerKind, TrainOptions};

/// Fewest public records the attacker may have: its regression model learns from them.
pub const MIN_PUBLIC: usize = 100;
/// Caps applied by `--quick`.
pub(super) const QUICK_MEMBERS: usize = 1_000;
const QUICK_PUBLIC: usize = 1_000;
const QUICK_TEST: usize = 1_000;
const QUICK_BATCH: usize = 256;
const QUICK_EPOCHS: usize = 2;
const QUICK_DP_EPOCHS: usize = 10;
const QUICK_BOOTSTRAP: usize = 100;
const QUICK_CANARIES: usize = 500;
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

/// The membership game: a `[membership]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MembershipSpec {
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
    /// Mislabelled canary records M (default 0: none): M more join the members, M more are
    /// held out, and the loss attack is judged on these 2M alone, against the DP ceiling too
    /// (`canaries.rs`). The game of the positive control.
    pub canaries: usize,
    /// The unsafe training mode of a positive control: set by `--audit-break` only, never by a
    /// config file (the key is refused there), and recorded in the results.
    #[serde(skip_deserializing)]
    pub audit_break: AuditBreak,
}

impl Default for MembershipSpec {
    fn default() -> Self {
        Self {
            members: 20_000,
            public: 20_000,
            attack: AttackKind::Quantile,
            shadows: None,
            alphas: None,
            bootstrap: 500,
            canaries: 0,
            audit_break: AuditBreak::None,
        }
    }
}

/// Everything that defines a membership-inference run. `[model]`, `[train]` and `[privacy]`
/// describe the target (and LiRA's shadows, trained the same way); `[run]` and `[data]` are
/// the run's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MiaConfig {
    /// Seed, backend, quick.
    pub run: RunSpec,
    /// Dataset (the members, non-members and public records all come from its training split).
    pub data: DataSpec,
    /// The membership game.
    pub membership: MembershipSpec,
    /// The target's network.
    pub model: ModelSpec,
    /// The target's training.
    pub train: TrainOptions,
    /// The target's DP-SGD.
    pub privacy: PrivacySpec,
    /// The attacker's quantile regressor.
    pub quantile: QuantileConfig,
}

impl Default for MiaConfig {
    /// The published non-private run (`experiments/mia-fashion-nodp.toml`): Papernot et al.'s
    /// tanh CNN fitted closely to 20,000 members by 60 epochs of Adam.
    fn default() -> Self {
        Self {
            run: RunSpec::default(),
            data: DataSpec::default(),
            membership: MembershipSpec::default(),
            model: ModelSpec::default(),
            train: TrainOptions {
                epochs: 60,
                batch_size: 128,
                optimizer: OptimizerKind::Adam,
                lr: 1e-3,
                ..TrainOptions::default()
            },
            privacy: PrivacySpec::default(),
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
            train: TrainOptions {
                epochs: 40,
                batch_size: 1024,
                ..TrainOptions::dp_default()
            },
            privacy: PrivacySpec {
                clip_norm: 0.1,
                ..PrivacySpec::default()
            },
            ..Self::default()
        }
    }

    /// Applies `--quick`, fills in the α grid and the shadow count, and reads `epsilon = inf`
    /// as "no DP".
    pub fn resolve(mut self) -> Self {
        let game = &mut self.membership;
        if game.shadows.is_none() {
            game.shadows = Some(if game.attack == AttackKind::Lira {
                DEFAULT_LIRA_SHADOWS
            } else {
                0
            });
        }
        if game.alphas.is_none() {
            game.alphas = Some(alpha_grid(17));
        }
        self.privacy.normalize();
        if self.run.quick {
            game.members = game.members.min(QUICK_MEMBERS);
            game.public = game.public.min(QUICK_PUBLIC);
            game.bootstrap = game.bootstrap.min(QUICK_BOOTSTRAP);
            game.canaries = game.canaries.min(QUICK_CANARIES);
            game.shadows = game.shadows.map(|k| k.min(QUICK_SHADOWS));
            self.quantile.epochs = self.quantile.epochs.min(QUICK_EPOCHS);
            self.data.test_limit = Some(
                self.data
                    .test_limit
                    .map_or(QUICK_TEST, |n| n.min(QUICK_TEST)),
            );
            self.train.batch_size = self.train.batch_size.min(QUICK_BATCH);
            // A DP target needs more of its few noisy steps than a non-private one to get
            // clearly above chance on 1,000 members (measured: 2 epochs of DP-SGD at ε = 1.5
            // left the tanh CNN at chance).
            let epochs = if self.privacy.is_private() {
                QUICK_DP_EPOCHS
            } else {
                QUICK_EPOCHS
            };
            self.train.epochs = self.train.epochs.min(epochs);
        }
        self
    }

    /// The α grid (after [`MiaConfig::resolve`]).
    pub fn alphas(&self) -> &[f64] {
        self.membership.alphas.as_deref().unwrap_or(&[])
    }

    /// LiRA shadows to train (after [`MiaConfig::resolve`]).
    pub fn shadows(&self) -> usize {
        self.membership.shadows.unwrap_or(0)
    }

    /// Records each LiRA shadow trains on: as many as the target, when the public set holds
    /// twice that (Carlini et al. train shadows on random halves); otherwise half the public
    /// set, a smaller training set than the target's, which lowers the shadows' confidence a
    /// little.
    pub fn shadow_size(&self) -> usize {
        self.membership.members.min(self.membership.public / 2)
    }

    /// Checks everything that can be checked before the data is loaded. Called on the config
    /// as given, before `--quick` shrinks it, and again after.
    pub fn validate(&self) -> Result<()> {
        self.validate_game()?;
        self.quantile.validate()?;
        self.validate_target()
    }

    fn validate_game(&self) -> Result<(), ConfigError> {
        let game = &self.membership;
        at_least_one("members", game.members)?;
        // Against the published training split: `--quick` must not hide a split that could
        // never be drawn from this dataset.
        let published = self.data.dataset.spec().files[0].count;
        let source = format!("the published training split of {}", self.data.dataset);
        check_split_sizes(game.members, game.public, published, &source)?;
        check_canaries(game, published, &source)?;
        if game.public < MIN_PUBLIC {
            return Err(ConfigError::invalid(
                "public",
                game.public,
                format!("the attacker needs at least {MIN_PUBLIC} public records to fit its model"),
            ));
        }
        count_in("bootstrap", game.bootstrap, MAX_BOOTSTRAP)?;
        if let Some(k) = game.shadows
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
        if let Some(alphas) = &game.alphas {
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
            && game
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
        if game.attack == AttackKind::Lira && game.shadows == Some(0) {
            return Err(ConfigError::invalid(
                "shadows",
                0,
                "the LiRA attack needs at least one shadow model",
            ));
        }
        Ok(())
    }

    fn validate_target(&self) -> Result<()> {
        if self.membership.audit_break != AuditBreak::None && !self.privacy.is_private() {
            return Err(ConfigError::invalid(
                "audit_break",
                self.membership.audit_break.as_str(),
                "a positive control breaks a DP-SGD target, and this target trains without DP: \
                 give --epsilon",
            )
            .into());
        }
        if self.data.train_limit.is_some() {
            return Err(ConfigError::invalid(
                "data.train_limit",
                format!("{:?}", self.data.train_limit),
                "the target trains on exactly the members: set `membership.members` instead",
            )
            .into());
        }
        if let Some(path) = &self.train.init_from {
            return Err(ConfigError::invalid(
                "train.init_from",
                path.display(),
                "a target started from other weights may have seen non-members: the membership \
                 game needs a target trained on the members alone",
            )
            .into());
        }
        self.data.validate()?;
        self.model
            .validate(self.train.batch_size, "train.batch_size")?;
        self.privacy.validate()?;
        Ok(self.train.validate(usize::MAX)?)
    }
}

/// Checks that 2M canary records fit beside the members, non-members and public records of a
/// training split of `available` records.
pub(super) fn check_canaries(
    game: &MembershipSpec,
    available: usize,
    source: &str,
) -> Result<(), ConfigError> {
    let needed = game
        .canaries
        .checked_mul(2)
        .and_then(|c| c.checked_add(game.members.checked_mul(2)?))
        .and_then(|n| n.checked_add(game.public));
    match needed {
        Some(n) if n <= available => Ok(()),
        _ => Err(ConfigError::invalid(
            "canaries",
            game.canaries,
            format!(
                "2 × canaries + 2 × members ({}) + public ({}) records are needed, but {source} \
                 has only {available}",
                game.members, game.public
            ),
        )),
    }
}
