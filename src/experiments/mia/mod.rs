//! `ppml run mia`: membership inference against one trained classifier, and DP-SGD as the
//! defense.
//!
//! The experiment, as the papers set it up (Carlini et al. 2022; Bertran et al. 2023): the seed
//! splits the training records into members, as many held-out non-members and the attacker's
//! public records (`split.rs`). The target trains on the members. The attacker gets query
//! access to it, its public records and the members and non-members shuffled together, and
//! scores each candidate; which were members stays sealed until measurement.
//!
//! The attack is the quantile regression of Bertran et al.; the baselines are a global threshold
//! on the same margin score, the loss threshold of Yeom et al. 2018, and (with shadows) offline
//! LiRA. When the target is trained with DP-SGD, the privacy curve of its mechanism bounds every
//! attack (`ceiling.rs`); a measured figure significantly above it is reported as an error,
//! since it can only come from a bug.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::{Experiment, MODEL_KEYS, RUN_AND_DATA_KEYS, RunContext, RunSpec, chance_warning};
use crate::attacks::Attack;
use crate::attacks::membership::quantile::FitSummary;
use crate::attacks::membership::{
    LiraAttack, MembershipScores, MembershipView, QuantileAttack, QueryAccess, Statistic,
    ThresholdAttack,
};
use crate::config::{ConfigError, MovedKey};
use crate::data::Truth;
use crate::metrics::ceiling_test::FALSE_ALARM_RATE;
use crate::metrics::membership::{AttackMetrics, measure};
use crate::privacy::DpReport;
use crate::report::METRICS;
use crate::runtime::Runtime;
use crate::train::dp::AuditBreak;
use crate::train::{FitSpec, fit};
use crate::{Error, Result};

mod arrays;
mod canaries;
mod ceiling;
mod config;
mod report;
mod split;

use canaries::Canaries;
pub use canaries::CanaryReport;
#[cfg(test)]
use ceiling::above_ceiling;
use ceiling::measure_ceiling;
pub use ceiling::{AboveCeiling, CeilingReport};
pub use config::{AttackKind, MIN_PUBLIC, MembershipSpec, MiaConfig};
#[cfg(test)]
use config::{QUICK_MEMBERS, QUICK_SHADOWS};
pub use report::{MiaData, MiaReport, MiaTiming, TargetReport};

/// File name of the ROC plot.
const PLOT: &str = "roc.png";

/// `ppml run mia`.
pub struct Mia;

impl Experiment for Mia {
    const NAME: &'static str = "mia";
    type Config = MiaConfig;
    type Report = MiaReport;

    fn default_config(private: bool) -> MiaConfig {
        if private {
            MiaConfig::dp_default()
        } else {
            MiaConfig::default()
        }
    }

    fn moved_keys() -> Vec<MovedKey> {
        let game = [
            "members",
            "public",
            "attack",
            "shadows",
            "alphas",
            "bootstrap",
        ]
        .map(|key| (key, "[membership]"));
        let quantile = [
            ("quantile.model", "[quantile.model] kind"),
            ("quantile.activation", "[quantile.model]"),
            ("quantile.mlp_hidden", "[quantile.model]"),
            ("quantile.cnn_channels", "[quantile.model]"),
            ("quantile.cnn_dense", "[quantile.model]"),
        ];
        let target = [(
            "target",
            "[run], [data], [model], [train] and [privacy] (the target's keys)",
        )];
        [RUN_AND_DATA_KEYS, MODEL_KEYS, &game, &quantile, &target].concat()
    }

    fn run_spec(config: &MiaConfig) -> &RunSpec {
        &config.run
    }

    fn run(config: MiaConfig, ctx: &mut RunContext) -> Result<MiaReport> {
        run(config, ctx)
    }

    fn warnings(report: &MiaReport) -> &[String] {
        &report.warnings
    }

    fn summary(report: &MiaReport) -> Vec<String> {
        report.summary()
    }
}

/// The attacks' scores, in the order they are measured (the measurement stream draws in this
/// order), with the quantile regressor's fit and the seconds spent on it and on LiRA's shadows.
struct Scored {
    scores: Vec<(AttackKind, MembershipScores)>,
    quantile_fit: FitSummary,
    quantile_seconds: f64,
    shadow_seconds: f64,
}

/// Runs every attack on the attacker's view: quantile regression and the two global
/// thresholds always, LiRA when shadows are asked for.
fn attack(
    config: &MiaConfig,
    recipe: FitSpec<'_>,
    view: &MembershipView,
    rt: &mut Runtime<'_>,
    shadow_rng: &mut StdRng,
) -> Result<Scored> {
    let alphas = config.alphas();
    let t0 = Instant::now();
    let quantile = QuantileAttack {
        config: &config.quantile,
        alphas,
    };
    let (quantile_scores, quantile_fit) = quantile.run(view, rt)?;
    let quantile_seconds = t0.elapsed().as_secs_f64();
    let threshold = |statistic| ThresholdAttack { statistic, alphas };
    let mut scores = vec![
        (AttackKind::Quantile, quantile_scores),
        (
            AttackKind::Threshold,
            threshold(Statistic::Margin).run(view, rt)?,
        ),
        (AttackKind::Loss, threshold(Statistic::Loss).run(view, rt)?),
    ];
    let t0 = Instant::now();
    if config.shadows() > 0 {
        let lira = LiraAttack {
            shadows: config.shadows(),
            shadow_size: config.shadow_size(),
            recipe,
            alphas,
        };
        scores.push((
            AttackKind::Lira,
            lira.run(view, &mut rt.with_rng(shadow_rng))?,
        ));
    }
    Ok(Scored {
        scores,
        quantile_fit,
        quantile_seconds,
        shadow_seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The attacks measured against the truth, and against the DP ceiling of a private target.
struct Measured {
    attack: AttackMetrics,
    baselines: Vec<AttackMetrics>,
    dp_ceiling: Option<CeilingReport>,
    /// The ceiling's ROC curve, for the plot.
    curve: Option<Vec<(f64, f64)>>,
    errors: Vec<String>,
}

/// Measures every attack (in [`Scored`]'s order: the bootstrap stream draws in it) against
/// which candidates were members, and against the ceiling of `privacy` for `sizes` = (members,
/// non-members).
fn measure_all(
    config: &MiaConfig,
    scored: &Scored,
    is_member: &Truth<Vec<bool>>,
    privacy: Option<&DpReport>,
    sizes: (usize, usize),
    rng: &mut StdRng,
) -> Result<Measured> {
    let mut measured: Vec<(AttackKind, AttackMetrics)> = Vec::new();
    for (kind, scores) in &scored.scores {
        let bootstrap = config.membership.bootstrap;
        measured.push((
            *kind,
            measure(kind.as_str(), scores, is_member, bootstrap, rng)?,
        ));
    }
    let headline = measured
        .iter()
        .position(|(k, _)| *k == config.membership.attack);
    let (_, attack) = measured.remove(headline.expect("LiRA as headline needs shadows ≥ 1"));
    let baselines: Vec<AttackMetrics> = measured.into_iter().map(|(_, m)| m).collect();
    let all: Vec<&AttackMetrics> = std::iter::once(&attack).chain(&baselines).collect();
    let ceiling = match privacy {
        None => None,
        Some(p) => Some(measure_ceiling(
            p,
            &all,
            sizes,
            ceiling_false_alarm_rate(config),
        )?),
    };
    let (dp_ceiling, curve, errors) = match ceiling {
        None => (None, None, Vec::new()),
        Some(m) => (Some(m.report), Some(m.curve), m.errors),
    };
    Ok(Measured {
        attack,
        baselines,
        dp_ceiling,
        curve,
        errors,
    })
}

/// The false-alarm rate of each ceiling test: β (`FALSE_ALARM_RATE`), split in two when the
/// canary game runs a second test, so that a correct run is accused with probability at most β.
fn ceiling_false_alarm_rate(config: &MiaConfig) -> f64 {
    if config.membership.canaries > 0 {
        FALSE_ALARM_RATE / 2.0
    } else {
        FALSE_ALARM_RATE
    }
}

/// Checks that the target's batches fit the members, and LiRA's the shadows' training sets:
/// now, not after the target has trained for an hour.
fn check_batches(config: &MiaConfig, members: usize) -> Result<(), ConfigError> {
    let batch = config.train.batch_size;
    config.train.validate(members).map_err(|e| {
        ConfigError::invalid(
            "train.batch_size",
            batch,
            format!("the target trains on the {members} members: {e}"),
        )
    })?;
    if config.shadows() > 0 {
        config.train.validate(config.shadow_size()).map_err(|e| {
            ConfigError::invalid(
                "shadows",
                config.shadows(),
                format!(
                    "each LiRA shadow trains on {} public records: {e}",
                    config.shadow_size()
                ),
            )
        })?;
    }
    Ok(())
}

/// Runs the experiment and writes `metrics.json` and `roc.png`. A configuration or data problem
/// stops the run before anything is written. When a measured figure is significantly above its
/// DP ceiling, the results are still written (they are the evidence) and the run then fails.
pub fn run(config: MiaConfig, ctx: &mut RunContext) -> Result<MiaReport> {
    let started = Instant::now();
    config.validate()?;
    let config = config.resolve();
    config.validate()?;
    let arrays = arrays::file_names(&config);
    let mut files = vec![PLOT, METRICS];
    files.extend(arrays.iter().map(String::as_str));
    let output = ctx.prepare_output(&files)?;
    let splits = ctx.load_dataset(config.data.dataset)?;
    let test = config.data.test_part(&splits.test);
    // One random stream per stage, drawn in a fixed order from the seed, so that changing one
    // stage (the number of shadows, say) leaves the others' random choices as they were.
    let mut streams = [(); 6].map(|()| StdRng::seed_from_u64(ctx.rng.random::<u64>()));
    let [
        split_rng,
        target_rng,
        attack_rng,
        shadow_rng,
        measure_rng,
        canary_rng,
    ] = &mut streams;
    let split = split::split(&splits.train, &config, split_rng)?;
    let canaries = (config.membership.canaries > 0)
        .then(|| Canaries::craft(&split.canary_records, canary_rng))
        .transpose()?;
    check_batches(&config, split.members.len())?;
    let (device, progress) = (ctx.device.clone(), ctx.options.progress);
    let plan = config.privacy.plan()?;
    let recipe = FitSpec {
        model: &config.model,
        train: &config.train,
        privacy: plan.as_ref(),
        audit_break: config.membership.audit_break,
    };

    // The target trains on the members only (and the member canaries, if any).
    let with_canaries;
    let training = match &canaries {
        Some(c) => {
            with_canaries = split.members.concat(&c.members);
            &with_canaries
        }
        None => &split.members,
    };
    let t0 = Instant::now();
    let target = fit(
        &recipe,
        training,
        &test,
        &mut Runtime::new(&device, target_rng, &progress),
    )?;
    let target_seconds = t0.elapsed().as_secs_f64();
    let target_report = TargetReport::measure(&target.trained, &split, &device);

    // The attacker: query access, its public records and the shuffled candidates.
    let (candidates, is_member) = split::candidates(&split, attack_rng);
    let access = QueryAccess::new(&target.trained.model, &device);
    let view = MembershipView::query(access, split.public.clone(), candidates);
    let mut rt = Runtime::new(&device, attack_rng, &progress);
    let scored = attack(&config, recipe, &view, &mut rt, shadow_rng)?;

    // Measurement: the only place the sealed truth is opened.
    let (members, non_members) = (split.members.len(), split.non_members.len());
    let sizes = (members, non_members);
    let measured = measure_all(
        &config,
        &scored,
        &is_member,
        target.privacy.as_ref(),
        sizes,
        measure_rng,
    )?;

    let mut errors = measured.errors;
    let canaries = match &canaries {
        None => None,
        Some(c) => {
            let access = QueryAccess::new(&target.trained.model, &device);
            let privacy = target.privacy.as_ref();
            let (report, violations) =
                canaries::play(&config, c, &access, &split.public, privacy, canary_rng)?;
            errors.extend(violations);
            Some(report)
        }
    };
    let audit_break = config.membership.audit_break;
    if audit_break != AuditBreak::None {
        for e in &mut errors {
            e.push_str(&format!(
                ". Expected here: the positive control --audit-break {} trained the target \
                 without {} while claiming the ε above, and the check caught it",
                audit_break.as_str(),
                if audit_break == AuditBreak::Noise {
                    "noise"
                } else {
                    "clipping"
                }
            ));
        }
    }

    let classes = split.members.classes();
    let report = MiaReport {
        header: ctx.header(Mia::NAME, config.data.dataset, &config.run),
        warnings: chance_warning("target", target_report.test_accuracy, classes)
            .into_iter()
            .collect(),
        privacy: target.privacy.clone(),
        data: MiaData {
            members,
            non_members,
            public: split.public.len(),
            test: test.len(),
            classes,
            source: splits.location.dir.display().to_string(),
        },
        target: target_report,
        attack: measured.attack,
        baselines: measured.baselines,
        quantile_fit: scored.quantile_fit,
        dp_ceiling: measured.dp_ceiling,
        canaries,
        errors,
        plot: PLOT.into(),
        timing: MiaTiming {
            wall_seconds: started.elapsed().as_secs_f64(),
            target_seconds,
            quantile_fit_seconds: scored.quantile_seconds,
            shadow_seconds: scored.shadow_seconds,
        },
        config,
    };
    let mut staged = output.stage()?;
    report.plot(&staged.path(PLOT), measured.curve.as_deref())?;
    let ran = scored.scores.iter().map(|(k, _)| *k);
    debug_assert!(ran.eq(arrays::attack_kinds(&report.config)), "as prepared");
    arrays::write(&mut staged, &scored.scores, &is_member)?;
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
        let mut config = MiaConfig::default();
        config.membership.attack = AttackKind::Lira;
        config.run.quick = true;
        let resolved = config.resolve();
        assert_eq!(resolved.membership.shadows, Some(QUICK_SHADOWS));
        assert_eq!(resolved.membership.members, QUICK_MEMBERS);
        assert!(resolved.validate().is_ok());
    }
}
