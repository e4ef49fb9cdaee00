//! The quantile-regression attack of Bertran et al. (NeurIPS 2023), "Scalable Membership
//! Inference Attacks via Quantile Regression".
//!
//! A fixed threshold on the logit margin treats every record alike, yet an easy image gets a
//! large margin whether or not it was trained on, and a hard one a small margin even when it was.
//! The attacker therefore learns, from public data the target never saw, how large a
//! *non-member's* margin is for each x: a regression model q̂(x) predicts the distribution of
//! s(x, y) under non-membership. A candidate is called a member iff its margin clears that
//! distribution's (1 − α) quantile, `s(x, y) ≥ q̂_{1−α}(x, y)`, so each record is tested at
//! false-positive rate α against its own difficulty. Only query access to the target is used:
//! the margins of the public records, and of the candidates.
//!
//! Two heads are offered:
//! - `gaussian` (the default): the model predicts a mean and a log standard deviation per
//!   class and is fitted by the Gaussian negative log-likelihood; every α follows from one fit;
//! - `pinball`: the model predicts one quantile per α of the grid and is fitted by the pinball
//!   loss (Koenker & Bassett 1978), without assuming a shape, but cannot estimate a quantile
//!   beyond what the public set resolves (α well below 1 / public records).

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::{MembershipScores, MembershipView, margin};
use crate::Result;
use crate::attacks::Attack;
use crate::config::{ConfigError, MAX_EPOCHS, at_least_one, count_in, positive};
use crate::data::Dataset;
use crate::model::{Activation, Classifier, ModelKind, ModelSpec};
use crate::privacy::special::normal_quantile_from_log;
use crate::runtime::Runtime;
use crate::train::{batch_tensors, explicit_gradient};

/// Examples per prediction batch.
const PREDICT_BATCH: usize = 1000;
/// Bounds on the predicted log standard deviation (of the standardised margin): keeps the
/// likelihood finite on a record whose margin the model pins down exactly.
const LOG_SIGMA_RANGE: (f64, f64) = (-6.0, 4.0);

/// What the regression model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Head {
    /// Mean and log standard deviation, fitted by Gaussian negative log-likelihood.
    #[default]
    Gaussian,
    /// One quantile per α, fitted by the pinball loss.
    Pinball,
}

/// The attacker's regression model and how it is trained. A `[quantile]` table in TOML, with
/// the network in `[quantile.model]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuantileConfig {
    /// Gaussian or pinball head.
    pub head: Head,
    /// Passes over the public set.
    pub epochs: usize,
    /// Examples per Adam step.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// The regressor's network (its outputs are the head's values for every class).
    pub model: ModelSpec,
}

impl Default for QuantileConfig {
    /// A ReLU CNN wider than the target (32/64 channels, dense 128), 20 epochs of Adam.
    fn default() -> Self {
        Self {
            head: Head::Gaussian,
            epochs: 20,
            batch_size: 128,
            lr: 1e-3,
            model: ModelSpec {
                kind: ModelKind::Cnn,
                activation: Activation::Relu,
                mlp_hidden: vec![256],
                cnn_channels: [32, 64],
                cnn_dense: 128,
            },
        }
    }
}

impl QuantileConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        count_in("quantile.epochs", self.epochs, MAX_EPOCHS)?;
        at_least_one("quantile.batch_size", self.batch_size)?;
        positive("quantile.lr", self.lr)?;
        self.model.validate(self.batch_size, "quantile.batch_size")
    }
}

/// The quantile-regression attack: fit the regressor on the public records' margins, then test
/// each candidate's margin against its own predicted quantiles. Its output is the scores and
/// how the fit went.
#[derive(Debug, Clone, Copy)]
pub struct QuantileAttack<'a> {
    /// The regressor and its training.
    pub config: &'a QuantileConfig,
    /// The false-positive rates the thresholds aim at.
    pub alphas: &'a [f64],
}

impl Attack<MembershipView> for QuantileAttack<'_> {
    type Output = (MembershipScores, FitSummary);

    fn run(&self, view: &MembershipView, rt: &mut Runtime<'_>) -> Result<Self::Output> {
        let public_margin = margin(view.public_logits(), view.public());
        let candidate_margin = margin(view.candidate_logits(), view.candidates());
        let regressor =
            QuantileRegressor::fit(self.config, view.public(), &public_margin, self.alphas, rt);
        let scores = regressor.attack(view.candidates(), &candidate_margin, self.alphas);
        Ok((scores, regressor.summary().clone()))
    }
}

/// A fitted quantile regressor: for any record, the law of the margin a non-member would get.
pub struct QuantileRegressor {
    model: Classifier,
    head: Head,
    /// Pinball head: the quantile levels 1 − α, increasing.
    levels: Vec<f64>,
    /// The margins are standardised by the public set's mean and standard deviation before the
    /// fit, so the learning rate does not depend on the target's logit scale.
    center: f64,
    spread: f64,
    device: Device,
    fit: FitSummary,
}

/// How the regressor's fit went (reported in metrics.json).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitSummary {
    /// Public records it was fitted on.
    pub public: usize,
    /// Public records held out to pick the epoch.
    pub held_out: usize,
    /// The epoch whose weights were kept (best held-out loss).
    pub best_epoch: usize,
    /// Its held-out loss (standardised margins; Gaussian NLL or mean pinball loss).
    pub held_out_loss: f64,
}

/// The regressor's output for one record, in margin units.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicted {
    /// Mean and standard deviation.
    Gaussian {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sigma: f64,
    },
    /// Quantiles at the regressor's levels, non-decreasing.
    Quantiles(Vec<f64>),
}

/// `(n, heads)` outputs of the model for the records' own labels: the per-class outputs are
/// laid out `[n, heads, classes]`, and the label picks a column.
fn own_class(out: Tensor<2>, labels: Tensor<1, Int>, heads: usize) -> Tensor<2> {
    let [n, width] = out.dims();
    let classes = width / heads;
    let index = labels.reshape([n, 1, 1]).expand([n, heads, 1]);
    out.reshape([n, heads, classes])
        .gather(2, index)
        .reshape([n, heads])
}

/// The training loss of one batch: Gaussian NLL or mean pinball loss against targets `s`.
fn loss(pred: Tensor<2>, s: Tensor<1>, head: Head, levels: &Tensor<2>) -> Tensor<1> {
    let n = s.dims()[0];
    match head {
        Head::Gaussian => {
            let mean = pred.clone().slice([0..n, 0..1]).reshape([n]);
            let log_sigma = pred
                .slice([0..n, 1..2])
                .reshape([n])
                .clamp(LOG_SIGMA_RANGE.0, LOG_SIGMA_RANGE.1);
            let z = (s - mean) / log_sigma.clone().exp();
            (log_sigma + z.powi_scalar(2) * 0.5).mean()
        }
        Head::Pinball => {
            let k = pred.dims()[1];
            // u = s − q; pinball(u) = max(τ·u, (τ − 1)·u).
            let u = s.reshape([n, 1]).expand([n, k]) - pred;
            let tau = levels.clone().expand([n, k]);
            let above = u.clone() * tau.clone();
            let below = u * (tau - 1.0);
            above.max_pair(below).mean()
        }
    }
}

impl QuantileRegressor {
    /// Fits the regressor on the public records and the target's margins on them (non-members
    /// all). For the pinball head, `alphas` sets the quantile levels 1 − α (α = 1, whose
    /// quantile is −∞, is left out).
    pub fn fit(
        config: &QuantileConfig,
        public: &Dataset,
        margins: &[f64],
        alphas: &[f64],
        rt: &mut Runtime<'_>,
    ) -> Self {
        let (device, progress) = (rt.device, rt.progress);
        let rng = &mut *rt.rng;
        let n = margins.len() as f64;
        let center = margins.iter().sum::<f64>() / n;
        let spread = (margins.iter().map(|s| (s - center).powi(2)).sum::<f64>() / n)
            .sqrt()
            .max(1e-6);
        // α = 1 (flag everything, FPR 100%) has the quantile −∞ and needs no fitted level:
        // `attack` gives it the threshold −∞ directly.
        let mut levels: Vec<f64> = alphas
            .iter()
            .filter(|&&a| a < 1.0)
            .map(|a| 1.0 - a)
            .collect();
        levels.sort_by(f64::total_cmp);
        let heads = match config.head {
            Head::Gaussian => 2,
            Head::Pinball => levels.len().max(1),
        };
        let ad_device = device.clone().autodiff();
        let model_config = config
            .model
            .for_data(public.rows(), public.classes() * heads);
        let mut model = Classifier::new(&model_config, &ad_device, rng);
        let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
        // The pinball loss needs at least one level; with only α = 1 in the grid (the Gaussian
        // head, or the baselines' runs) the median stands in, and is never used for a threshold.
        let fit_levels: Vec<f32> = if levels.is_empty() {
            vec![0.5]
        } else {
            levels.iter().map(|&l| l as f32).collect()
        };
        let k = fit_levels.len();
        let level_tensor =
            Tensor::<1>::from_data(TensorData::new(fit_levels, [k]), &ad_device).reshape([1, k]);
        let standardised: Vec<f32> = margins
            .iter()
            .map(|s| ((s - center) / spread) as f32)
            .collect();
        // A tenth of the public records is held out: the regressor keeps the weights of the
        // epoch with the best held-out loss. Without it, a model that memorises the public
        // margins predicts too narrow a law, and fresh non-members then clear the (1 − α)
        // quantile far more often than α.
        let mut order: Vec<usize> = (0..public.len()).collect();
        order.shuffle(rng);
        let held_out = order.split_off(public.len() - (public.len() / 10).max(1));
        let steps = config.epochs * order.len().div_ceil(config.batch_size);
        let bar = progress.items(steps as u64, "steps", "quantile fit");
        let plain_levels = level_tensor.clone().inner();
        let mut best: Option<(f64, usize, Classifier)> = None;
        for epoch in 1..=config.epochs {
            bar.set_message(format!("quantile {epoch}/{}", config.epochs));
            order.shuffle(rng);
            for batch in order.chunks(config.batch_size) {
                let (images, labels) = batch_tensors(public, batch, &ad_device);
                let s: Vec<f32> = batch.iter().map(|&i| standardised[i]).collect();
                let s = Tensor::<1>::from_data(TensorData::new(s, [batch.len()]), &ad_device);
                let grads = match explicit_gradient(
                    &model,
                    images.clone(),
                    |pred| own_class(pred, labels.clone(), heads),
                    |pred| loss(pred, s.clone(), config.head, &level_tensor),
                ) {
                    Some(grads) => grads,
                    None => {
                        let pred = own_class(model.forward(images), labels, heads);
                        let l = loss(pred, s, config.head, &level_tensor);
                        GradientsParams::from_grads(l.backward(), &model)
                    }
                };
                model = optim.step(config.lr, model, grads);
                bar.inc(1);
            }
            let candidate = model.valid();
            let mut total = 0.0;
            for batch in held_out.chunks(PREDICT_BATCH) {
                let (images, labels) = batch_tensors(public, batch, device);
                let s: Vec<f32> = batch.iter().map(|&i| standardised[i]).collect();
                let s = Tensor::<1>::from_data(TensorData::new(s, [batch.len()]), device);
                let pred = own_class(candidate.forward(images), labels, heads);
                let l = loss(pred, s, config.head, &plain_levels).into_scalar::<f32>();
                total += f64::from(l) * batch.len() as f64;
            }
            let held_out_loss = total / held_out.len() as f64;
            // A diverged epoch (NaN loss) never replaces a finite one.
            let better = |b: f64| held_out_loss < b || (b.is_nan() && !held_out_loss.is_nan());
            if best.as_ref().is_none_or(|(b, _, _)| better(*b)) {
                best = Some((held_out_loss, epoch, candidate));
            }
        }
        bar.finish_and_clear();
        let (held_out_loss, best_epoch, model) =
            best.expect("epochs >= 1 was validated, so one epoch was kept");
        Self {
            model,
            head: config.head,
            levels,
            center,
            spread,
            device: device.clone(),
            fit: FitSummary {
                public: order.len(),
                held_out: held_out.len(),
                best_epoch,
                held_out_loss,
            },
        }
    }

    /// How the fit went.
    pub fn summary(&self) -> &FitSummary {
        &self.fit
    }

    /// The predicted non-member margin law of every record.
    pub fn predict(&self, records: &Dataset) -> Vec<Predicted> {
        let heads = match self.head {
            Head::Gaussian => 2,
            Head::Pinball => self.levels.len().max(1),
        };
        let all: Vec<usize> = (0..records.len()).collect();
        let mut out = Vec::with_capacity(records.len());
        for chunk in all.chunks(PREDICT_BATCH) {
            let (images, labels) = batch_tensors(records, chunk, &self.device);
            let pred = own_class(self.model.forward(images), labels, heads);
            let values = pred
                .into_data()
                .try_into_vec::<f32>()
                .expect("a float model returns floats");
            for row in values.chunks(heads) {
                out.push(match self.head {
                    Head::Gaussian => {
                        let log_sigma =
                            f64::from(row[1]).clamp(LOG_SIGMA_RANGE.0, LOG_SIGMA_RANGE.1);
                        Predicted::Gaussian {
                            mean: self.center + self.spread * f64::from(row[0]),
                            sigma: self.spread * log_sigma.exp(),
                        }
                    }
                    Head::Pinball => {
                        // Quantile crossing is possible in a fitted model; sorting restores a
                        // valid quantile function (Chernozhukov et al. 2010, rearrangement).
                        let mut q: Vec<f64> = row
                            .iter()
                            .map(|&v| self.center + self.spread * f64::from(v))
                            .collect();
                        q.sort_by(f64::total_cmp);
                        Predicted::Quantiles(q)
                    }
                });
            }
        }
        out
    }

    /// Scores the candidates (higher = more likely a member), with the threshold for each α.
    ///
    /// Gaussian head: the score is the margin standardised by its predicted non-member law,
    /// `(s − μ(x)) / σ(x)`, and α's threshold is Φ⁻¹(1 − α), so "score ≥ threshold" is exactly
    /// `s ≥ q̂_{1−α}(x)`. Pinball head: the score is the highest level 1 − α whose predicted
    /// quantile the margin reaches (0 when none), and α's threshold is its level 1 − α.
    pub fn attack(
        &self,
        candidates: &Dataset,
        margins: &[f64],
        alphas: &[f64],
    ) -> MembershipScores {
        let predicted = self.predict(candidates);
        let scores = predicted
            .iter()
            .zip(margins)
            .map(|(p, &s)| match p {
                Predicted::Gaussian { mean, sigma } => (s - mean) / sigma,
                Predicted::Quantiles(q) => self
                    .levels
                    .iter()
                    .zip(q)
                    .filter(|&(_, &qk)| s >= qk)
                    .map(|(&level, _)| level)
                    .fold(0.0, f64::max),
            })
            .collect();
        let thresholds = alphas
            .iter()
            .map(|&alpha| {
                let t = match self.head {
                    Head::Gaussian => upper_normal_quantile(alpha),
                    Head::Pinball if alpha >= 1.0 => f64::NEG_INFINITY,
                    Head::Pinball => 1.0 - alpha,
                };
                (alpha, t)
            })
            .collect();
        MembershipScores { scores, thresholds }
    }
}

/// Φ⁻¹(1 − α): the z a standard normal exceeds with probability α (−∞ for α = 1).
pub fn upper_normal_quantile(alpha: f64) -> f64 {
    if alpha >= 1.0 {
        f64::NEG_INFINITY
    } else if alpha <= 0.5 {
        -normal_quantile_from_log(alpha.ln())
    } else {
        normal_quantile_from_log((1.0 - alpha).ln())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_normal_quantiles_match_tables() {
        assert!((upper_normal_quantile(0.05) - 1.644854).abs() < 1e-6);
        assert!((upper_normal_quantile(0.001) - 3.090232).abs() < 1e-6);
        assert!((upper_normal_quantile(0.5)).abs() < 1e-9);
        assert!((upper_normal_quantile(0.9) + 1.281552).abs() < 1e-6);
        assert_eq!(upper_normal_quantile(1.0), f64::NEG_INFINITY);
    }

    /// The regressor's step through the CNN's explicit backward pass takes the gradient that
    /// burn's autodiff takes through the whole model, for both heads.
    #[test]
    fn the_explicit_regressor_gradient_is_autodiffs() {
        use crate::train::dp::ParamGrads;
        use rand::{RngExt, SeedableRng};
        let ad = Device::flex().autodiff();
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let (batch, heads, classes) = (6, 3, 10);
        let spec = ModelSpec {
            cnn_channels: [4, 8],
            cnn_dense: 16,
            ..QuantileConfig::default().model
        };
        let model = Classifier::new(&spec.for_data(28, classes * heads), &ad, &mut rng);
        let x: Vec<f32> = (0..batch * 784).map(|_| rng.random::<f32>()).collect();
        let images = Tensor::<4>::from_data(TensorData::new(x, [batch, 1, 28, 28]), &ad);
        let y: Vec<i64> = (0..batch).map(|i| (i * 3 % classes) as i64).collect();
        let labels = Tensor::<1, Int>::from_data(TensorData::new(y, [batch]), &ad);
        let s = Tensor::<1>::from_data(
            TensorData::new(vec![0.3f32, -1.0, 2.0, 0.1, -0.4, 1.2], [batch]),
            &ad,
        );
        let levels =
            Tensor::<2>::from_data(TensorData::new(vec![0.5f32, 0.9, 0.99], [1, heads]), &ad);
        for head in [Head::Gaussian, Head::Pinball] {
            let select = |pred| own_class(pred, labels.clone(), heads);
            let explicit = explicit_gradient(&model, images.clone(), select, |pred| {
                loss(pred, s.clone(), head, &levels)
            })
            .expect("a CNN on flex");
            let l = loss(
                select(model.forward(images.clone())),
                s.clone(),
                head,
                &levels,
            );
            let autodiff = GradientsParams::from_grads(l.backward(), &model);
            let (a, b) = (
                ParamGrads::from_autodiff(&model, &explicit),
                ParamGrads::from_autodiff(&model, &autodiff),
            );
            let (diff, scale) = a.max_abs_difference(&b);
            assert!(
                scale > 0.0 && diff < 1e-5 * scale,
                "{head:?}: {diff} of {scale}"
            );
        }
    }
}
