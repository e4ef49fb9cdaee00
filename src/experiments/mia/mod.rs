//! `ppml run mia`: membership inference against one trained classifier, and DP-SGD as the
//! defense.
//!
//! The experiment, as the papers set it up (Carlini et al. 2022; Bertran et al. 2023): the seed
//! splits the training records into three disjoint sets. The target model is trained on the
//! *members*; an equal number of *non-members* is held out, never seen by the target; the
//! attacker gets a *public* set from the same distribution, also never seen by the target, and
//! query access to the target (logits only). The attacker is then handed the members and
//! non-members, shuffled, without their labels of membership, and scores each one. Only this
//! file, which holds the truth, measures how well the scores separate the two groups.
//!
//! The attack is the quantile regression of Bertran et al.; the baselines are a global threshold
//! on the same margin score, the loss threshold of Yeom et al. 2018, and (with `shadows` > 0)
//! offline LiRA. When the target is trained with DP-SGD, the privacy curve of its mechanism
//! bounds every attack (see `privacy::ceiling`); a measured figure significantly above it is
//! reported as an error, since it can only come from a bug.

use std::time::Instant;

use burn::tensor::Device;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use super::train::{DpReport, TrainConfig, limit, resolve_privacy};
use super::{ResultHeader, RunContext, chance_warning};
use crate::attacks::membership::quantile::{FitSummary, QuantileRegressor};
use crate::attacks::membership::{
    MembershipScores, QueryAccess, lira, logit_confidence, margin, negative_loss, threshold,
};
use crate::config::ConfigError;
use crate::data::Dataset;
use crate::metrics::membership::{AttackMetrics, measure};
use crate::model::Classifier;
use crate::progress::Progress;
use crate::report::METRICS;
use crate::report::plot::{Curve, roc_png};
use crate::train::{self, evaluate};
use crate::{Error, Result};

mod ceiling;
mod config;

#[cfg(test)]
use ceiling::above_ceiling;
use ceiling::measure_ceiling;
pub use ceiling::{AboveCeiling, CeilingReport};
pub use config::{AttackKind, MIN_PUBLIC, MiaConfig};
#[cfg(test)]
use config::{QUICK_MEMBERS, QUICK_SHADOWS};

/// File name of the ROC plot.
const PLOT: &str = "roc.png";

/// How the records were split.
#[derive(Debug, Clone, Serialize)]
pub struct MiaData {
    /// Records the target trained on.
    pub members: usize,
    /// Held-out records the target never saw.
    pub non_members: usize,
    /// The attacker's records.
    pub public: usize,
    /// Test records (target accuracy only).
    pub test: usize,
    /// Classes.
    pub classes: usize,
    /// Folder the files were read from.
    pub source: String,
}

/// How good, and how overfit, the target is.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// Accuracy on its training set (the members).
    pub train_accuracy: f64,
    /// Mean loss on the members.
    pub train_loss: f64,
    /// Accuracy on the held-out non-members.
    pub non_member_accuracy: f64,
    /// Accuracy on the test set.
    pub test_accuracy: f64,
    /// Mean loss on the test set.
    pub test_loss: f64,
    /// Optimizer steps.
    pub steps: usize,
    /// One record per epoch.
    pub history: Vec<train::EpochRecord>,
}

/// Wall-clock figures.
#[derive(Debug, Clone, Serialize)]
pub struct MiaTiming {
    /// Whole run.
    pub wall_seconds: f64,
    /// Training the target.
    pub target_seconds: f64,
    /// Fitting the quantile regressor.
    pub quantile_fit_seconds: f64,
    /// Training LiRA's shadow models.
    pub shadow_seconds: f64,
}

/// `metrics.json` of `ppml run mia`.
#[derive(Debug, Clone, Serialize)]
pub struct MiaReport {
    /// Experiment, version, dataset, seed, quick.
    #[serde(flatten)]
    pub header: ResultHeader,
    /// The full resolved config.
    pub config: MiaConfig,
    /// The target's DP-SGD accounting (`null`: non-private target).
    pub privacy: Option<DpReport>,
    /// The split.
    pub data: MiaData,
    /// The target's accuracy.
    pub target: TargetReport,
    /// The headline attack.
    pub attack: AttackMetrics,
    /// The other attacks, on the same candidates.
    pub baselines: Vec<AttackMetrics>,
    /// How the attacker's quantile regressor was fitted.
    pub quantile_fit: FitSummary,
    /// Ceilings from the target's privacy curve (`null`: non-private target).
    pub dp_ceiling: Option<CeilingReport>,
    /// Problems that mean the numbers cannot be trusted (empty when all is well).
    pub errors: Vec<String>,
    /// Things a reader should know before trusting the numbers (a target at chance, say).
    pub warnings: Vec<String>,
    /// File name of the ROC plot, in the output folder.
    pub plot: String,
    /// Wall-clock figures.
    pub timing: MiaTiming,
}

/// The three disjoint record sets, drawn with the run's RNG.
struct Split {
    members: Dataset,
    non_members: Dataset,
    public: Dataset,
}

/// Checks that `members` members, as many non-members and `public` public records fit in a
/// training split of `available` records, naming the key that does not.
pub(super) fn check_split_sizes(
    members: usize,
    public: usize,
    available: usize,
    source: &str,
) -> Result<(), ConfigError> {
    if public > available {
        return Err(ConfigError::invalid(
            "public",
            public,
            format!("{source} has only {available} records"),
        ));
    }
    let needed = members
        .checked_mul(2)
        .and_then(|m| m.checked_add(public))
        .filter(|&n| n <= available);
    if needed.is_none() {
        let key = if members > available / 2 {
            "members"
        } else {
            "public"
        };
        let value = if key == "members" { members } else { public };
        return Err(ConfigError::invalid(
            key,
            value,
            format!(
                "2 × members ({members}) + public ({public}) records are needed, but \
                 {source} has only {available}"
            ),
        ));
    }
    Ok(())
}

fn split(train: &Dataset, config: &MiaConfig, rng: &mut StdRng) -> Result<Split> {
    check_split_sizes(
        config.members,
        config.public,
        train.len(),
        "the training split read from disk",
    )?;
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(rng);
    let (m, rest) = order.split_at(config.members);
    let (n, rest) = rest.split_at(config.members);
    Ok(Split {
        members: train.subset(m),
        non_members: train.subset(n),
        public: train.subset(&rest[..config.public]),
    })
}

/// The members and non-members in one shuffled list (what the attacker is handed), and which
/// of them were members (what only this experiment knows).
fn candidates(split: &Split, rng: &mut StdRng) -> (Dataset, Vec<bool>) {
    let both = split.members.concat(&split.non_members);
    let mut order: Vec<usize> = (0..both.len()).collect();
    order.shuffle(rng);
    let is_member = order.iter().map(|&i| i < split.members.len()).collect();
    (both.subset(&order), is_member)
}

/// Trains a model the way `config` says on `data` (the target, or one of LiRA's shadows).
fn train_like_target(
    config: &TrainConfig,
    data: &Dataset,
    test: &Dataset,
    device: &Device,
    rng: &mut StdRng,
    progress: &Progress,
) -> Result<(train::Trained, Option<DpReport>)> {
    let opts = config.train_options();
    opts.validate(data.len())?;
    let privacy = resolve_privacy(config, data.len())?;
    let model_config = config.model_config(data.rows(), data.classes());
    let ad_device = device.clone().autodiff();
    let model = Classifier::new(&model_config, &ad_device, rng);
    let trained = train::train(
        model,
        data,
        test,
        &opts,
        privacy.as_ref().map(|(dp, _)| dp),
        device,
        rng,
        progress,
    )?;
    Ok((trained, privacy.map(|(_, r)| r)))
}

/// Records each LiRA shadow trains on: as many as the target, when the public set holds twice
/// that (Carlini et al. train shadows on random halves); otherwise half the public set, a
/// smaller training set than the target's, which lowers the shadows' confidence a little.
fn shadow_size(config: &MiaConfig) -> usize {
    config.members.min(config.public / 2)
}

/// Offline LiRA: `k` shadows on random subsets of the public set, queried on the candidates.
#[allow(clippy::too_many_arguments)]
fn lira_scores(
    config: &MiaConfig,
    public: &Dataset,
    candidates: &Dataset,
    target_view: &QueryAccess,
    test: &Dataset,
    device: &Device,
    rng: &mut StdRng,
    progress: &Progress,
) -> Result<MembershipScores> {
    let k = config.shadows.unwrap_or(0);
    let mut shadows = Vec::with_capacity(k);
    for _ in 0..k {
        let mut order: Vec<usize> = (0..public.len()).collect();
        order.shuffle(rng);
        let subset = public.subset(&order[..shadow_size(config)]);
        let (shadow, _) = train_like_target(&config.target, &subset, test, device, rng, progress)?;
        let view = QueryAccess::new(&shadow.model, device);
        shadows.push(logit_confidence(&view.logits(candidates), candidates));
    }
    let target = logit_confidence(&target_view.logits(candidates), candidates);
    Ok(lira::offline_scores(&target, &shadows, config.alphas()))
}

/// Runs the experiment and writes `metrics.json` and `roc.png`. A configuration or data problem
/// stops the run before anything is written. When a measured figure is significantly above its
/// DP ceiling, the results are still written (they are the evidence) and the run then fails.
pub fn run(config: MiaConfig, ctx: &mut RunContext) -> Result<MiaReport> {
    let started = Instant::now();
    config.validate()?;
    let config = config.resolve();
    config.validate()?;
    let output = ctx.prepare_output(&[PLOT, METRICS])?;
    let splits = ctx.load_dataset(config.target.dataset)?;
    let test = limit(&splits.test, config.target.test_limit);
    // One random stream per stage, drawn in a fixed order from the seed, so that changing one
    // stage (the number of shadows, say) leaves the others' random choices as they were.
    let mut stream = || StdRng::seed_from_u64(ctx.rng.random::<u64>());
    let (mut split_rng, mut target_rng, mut attack_rng, mut shadow_rng, mut measure_rng) =
        (stream(), stream(), stream(), stream(), stream());
    let split = split(&splits.train, &config, &mut split_rng)?;
    let opts = config.target.train_options();
    opts.validate(split.members.len()).map_err(|e| {
        ConfigError::invalid(
            "target.batch_size",
            opts.batch_size,
            format!(
                "the target trains on the {} members: {e}",
                split.members.len()
            ),
        )
    })?;
    if config.shadows.unwrap_or(0) > 0 {
        // Checked now, not after the target has trained for an hour.
        opts.validate(shadow_size(&config)).map_err(|e| {
            ConfigError::invalid(
                "shadows",
                config.shadows.unwrap_or(0),
                format!(
                    "each LiRA shadow trains on {} public records: {e}",
                    shadow_size(&config)
                ),
            )
        })?;
    }
    let progress = ctx.options.progress;
    let device = ctx.device.clone();

    // The target trains on the members only.
    let t0 = Instant::now();
    let (target, privacy) = train_like_target(
        &config.target,
        &split.members,
        &test,
        &device,
        &mut target_rng,
        &progress,
    )?;
    let target_seconds = t0.elapsed().as_secs_f64();
    let on_members = evaluate(&target.model, &split.members, &ctx.device);
    let on_non_members = evaluate(&target.model, &split.non_members, &ctx.device);
    // Training evaluated the final model on the test set already.
    let last = target
        .history
        .last()
        .expect("epochs >= 1 was validated, so there is a history");
    let (test_loss, test_accuracy) = (last.test_loss, last.test_accuracy);

    // From here on the attacker acts, through query access only.
    let view = QueryAccess::new(&target.model, &ctx.device);
    let (candidates, is_member) = candidates(&split, &mut attack_rng);
    let public_logits = view.logits(&split.public);
    let candidate_logits = view.logits(&candidates);
    let public_margin = margin(&public_logits, &split.public);
    let candidate_margin = margin(&candidate_logits, &candidates);
    let alphas = config.alphas();

    let t0 = Instant::now();
    let regressor = QuantileRegressor::fit(
        &config.quantile,
        &split.public,
        &public_margin,
        alphas,
        &device,
        &mut attack_rng,
        &progress,
    );
    let quantile_fit_seconds = t0.elapsed().as_secs_f64();
    let mut scored: Vec<(AttackKind, MembershipScores)> = vec![
        (
            AttackKind::Quantile,
            regressor.attack(&candidates, &candidate_margin, alphas),
        ),
        (
            AttackKind::Threshold,
            threshold::global_threshold(&public_margin, &candidate_margin, alphas),
        ),
        (
            AttackKind::Loss,
            threshold::global_threshold(
                &negative_loss(&public_logits, &split.public),
                &negative_loss(&candidate_logits, &candidates),
                alphas,
            ),
        ),
    ];
    let t0 = Instant::now();
    if config.shadows.unwrap_or(0) > 0 {
        let lira = lira_scores(
            &config,
            &split.public,
            &candidates,
            &view,
            &test,
            &device,
            &mut shadow_rng,
            &progress,
        )?;
        scored.push((AttackKind::Lira, lira));
    }
    let shadow_seconds = t0.elapsed().as_secs_f64();

    // Measurement: the only place that sees which candidates were members.
    let mut attack = None;
    let mut baselines = Vec::new();
    for (kind, scores) in &scored {
        let m = measure(
            kind.as_str(),
            scores,
            &is_member,
            config.bootstrap,
            &mut measure_rng,
        )?;
        if *kind == config.attack {
            attack = Some(m);
        } else {
            baselines.push(m);
        }
    }
    let attack = attack.expect("the headline attack is always run (LiRA needs shadows ≥ 1)");

    let min_fpr = 1.0 / split.non_members.len() as f64;
    let all: Vec<&AttackMetrics> = std::iter::once(&attack).chain(&baselines).collect();
    let measured = match &privacy {
        None => None,
        Some(p) => Some(measure_ceiling(
            p,
            &all,
            split.members.len(),
            split.non_members.len(),
        )?),
    };
    let (dp_ceiling, ceiling_curve, errors) = match measured {
        None => (None, None, Vec::new()),
        Some(m) => (Some(m.report), Some(m.curve), m.errors),
    };

    let warnings: Vec<String> = chance_warning("target", test_accuracy, split.members.classes())
        .into_iter()
        .collect();
    let report = MiaReport {
        header: ctx.header(
            "mia",
            config.target.dataset,
            config.target.seed,
            config.target.quick,
        ),
        warnings,
        privacy,
        data: MiaData {
            members: split.members.len(),
            non_members: split.non_members.len(),
            public: split.public.len(),
            test: test.len(),
            classes: split.members.classes(),
            source: splits.location.dir.display().to_string(),
        },
        target: TargetReport {
            train_accuracy: on_members.accuracy,
            train_loss: on_members.loss,
            non_member_accuracy: on_non_members.accuracy,
            test_accuracy,
            test_loss,
            steps: target.steps,
            history: target.history,
        },
        attack,
        baselines,
        quantile_fit: regressor.summary().clone(),
        dp_ceiling,
        errors,
        plot: PLOT.into(),
        timing: MiaTiming {
            wall_seconds: started.elapsed().as_secs_f64(),
            target_seconds,
            quantile_fit_seconds,
            shadow_seconds,
        },
        config,
    };

    let names: Vec<String> = std::iter::once(&report.attack)
        .chain(&report.baselines)
        .map(|a| format!("{} (AUC {:.3})", a.name, a.auc.estimate))
        .collect();
    let curves: Vec<Curve<'_>> = std::iter::once(&report.attack)
        .chain(&report.baselines)
        .zip(&names)
        .map(|(a, name)| Curve {
            name,
            points: &a.roc,
        })
        .collect();
    let target = match &report.privacy {
        None => "non-private target".to_string(),
        Some(p) => format!("DP-SGD target ε = {:.2}", p.spent.epsilon),
    };
    let quick = if report.header.quick { ", --quick" } else { "" };
    let title = format!(
        "membership inference, {target} ({}{quick})",
        report.header.dataset
    );
    let staged = output.stage()?;
    roc_png(
        &staged.path(PLOT),
        &title,
        &curves,
        ceiling_curve.as_deref(),
        min_fpr,
    )?;
    staged.write_json(METRICS, &report)?;
    staged.commit()?;
    if !report.errors.is_empty() {
        return Err(Error::AboveCeiling(report.errors.join("\n")));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Interval;
    use crate::metrics::membership::LowFprPoint;

    fn metrics(tpr_1: Interval, advantage: Interval) -> AttackMetrics {
        let point = |max_fpr, tpr| LowFprPoint {
            max_fpr,
            tpr,
            fpr: max_fpr,
            precision_at_50_prior: None,
            precision_flagged: None,
            flagged: 0,
        };
        let tiny = Interval {
            estimate: 0.0,
            low: 0.0,
            high: 0.0,
            level: 0.95,
        };
        AttackMetrics {
            name: "a".into(),
            auc: tiny,
            tpr_at_fpr: vec![point(0.001, tiny), point(0.01, tpr_1)],
            max_advantage: advantage,
            alpha_grid: Vec::new(),
            roc: Vec::new(),
        }
    }

    fn interval(estimate: f64, low: f64) -> Interval {
        Interval {
            estimate,
            low,
            high: estimate + 0.01,
            level: 0.95,
        }
    }

    #[test]
    fn point_estimates_above_the_ceiling_are_listed_but_never_errors() {
        let ceil = [(0.001, 0.005), (0.01, 0.03)];
        let a = metrics(interval(0.033, 0.025), interval(0.3, 0.25));
        let above = above_ceiling(&[&a], &ceil, 0.2);
        let names: Vec<&str> = above.iter().map(|v| v.metric.as_str()).collect();
        assert_eq!(names, ["tpr_at_fpr_0.01", "max_advantage"]);
        let c = metrics(interval(0.01, 0.005), interval(0.05, 0.02));
        assert!(above_ceiling(&[&c], &ceil, 0.2).is_empty());
    }

    #[test]
    fn quick_caps_the_default_lira_shadows_too() {
        let mut config = MiaConfig {
            attack: AttackKind::Lira,
            ..MiaConfig::default()
        };
        config.target.quick = true;
        let resolved = config.resolve();
        assert_eq!(resolved.shadows, Some(QUICK_SHADOWS));
        assert_eq!(resolved.members, QUICK_MEMBERS);
        assert!(resolved.validate().is_ok());
    }
}
