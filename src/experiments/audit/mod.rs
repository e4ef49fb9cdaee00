//! `ppml run audit`: an empirical lower bound on ε beside the accountant's upper bound, from
//! one training run per claimed ε (Steinke, Nasr & Jagielski, NeurIPS 2023, "Privacy Auditing
//! with One (1) Training Run").
//!
//! As the paper sets it up: the auditor crafts m canaries; each joins the training data
//! independently with probability ½; DP-SGD trains once with σ calibrated to the claimed ε;
//! the auditor scores every canary and guesses "in" for its k highest scores and "out" for its
//! k lowest. Under (ε, δ)-DP the number of correct guesses is dominated by a binomial, so a
//! count the binomial makes unlikely proves, at the stated confidence, that the training was
//! not (ε, δ)-DP for any smaller ε (`metrics::audit`). Input canaries (mislabelled images,
//! scored by their loss through query access) audit what a black-box membership attacker
//! sees; gradient canaries (Dirac gradients, scored by the released updates; Nasr et al. 2023)
//! audit the mechanism itself, where the bound can come close to the accountant's.
//!
//! `--audit-break noise|clip` trains *without* noise or clipping while still claiming the
//! calibrated ε: the positive control. The audit must then prove a larger ε than claimed, and
//! the run exits 1 naming the contradiction, as it would on a real bug.

mod config;
mod level;

use std::time::Instant;

use rand::RngExt;
use rand::seq::SliceRandom;
use serde::Serialize;

use super::{DataSummary, Experiment, MODEL_KEYS, RUN_AND_DATA_KEYS, ResultHeader, RunContext};
use super::{RunSpec, chance_warning};
use crate::config::MovedKey;
use crate::privacy::epsilon_label;
use crate::report::METRICS;
use crate::report::epsilon_plot::{EpsilonSeries, epsilon_png};
use crate::train::dp::AuditBreak;
use crate::{Error, Result};

pub use config::{AuditConfig, AuditSpec, CanaryKind};
pub use level::{GuessRecord, LevelRecord};

/// File name of the claimed-versus-empirical plot.
const PLOT: &str = "epsilon.png";

/// `metrics.json` of `ppml run audit`.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// Experiment, version, dataset, seed, quick.
    #[serde(flatten)]
    pub header: ResultHeader,
    /// The full resolved config (`audit.audit_break` included).
    pub config: AuditConfig,
    /// The data used.
    pub data: DataSummary,
    /// Canaries m.
    pub canaries: usize,
    /// The confidence at which every lower bound of the run holds together (each test, one
    /// per k per level, runs at `per_test_confidence`).
    pub confidence: f64,
    /// `1 − (1 − confidence) / (number of k × number of ε levels)`.
    pub per_test_confidence: f64,
    /// One audited training run per claimed ε.
    pub levels: Vec<LevelRecord>,
    /// File name of the plot.
    pub plot: String,
    /// Things a reader should know before trusting the numbers.
    pub warnings: Vec<String>,
    /// Contradictions found (the run then exits 1).
    pub errors: Vec<String>,
    /// Whole run, seconds.
    pub wall_seconds: f64,
}

/// `ppml run audit`.
pub struct Audit;

impl Experiment for Audit {
    const NAME: &'static str = "audit";
    type Config = AuditConfig;
    type Report = AuditReport;

    fn default_config(_private: bool) -> AuditConfig {
        AuditConfig::default()
    }

    fn moved_keys() -> Vec<MovedKey> {
        [RUN_AND_DATA_KEYS, MODEL_KEYS].concat()
    }

    fn run_spec(config: &AuditConfig) -> &RunSpec {
        &config.run
    }

    fn run(config: AuditConfig, ctx: &mut RunContext) -> Result<AuditReport> {
        run(config, ctx)
    }

    fn warnings(report: &AuditReport) -> &[String] {
        &report.warnings
    }

    fn summary(report: &AuditReport) -> Vec<String> {
        report.summary()
    }
}

/// Runs the audit and writes `metrics.json` and `epsilon.png`. Bad input stops the run before
/// anything is written; a contradiction is written first (it is the evidence), then the run
/// fails.
pub fn run(config: AuditConfig, ctx: &mut RunContext) -> Result<AuditReport> {
    let started = Instant::now();
    config.validate()?;
    let config = config.resolve();
    config.validate()?;
    let output = ctx.prepare_output(&[PLOT, METRICS])?;
    let splits = ctx.load_dataset(config.data.dataset)?;
    let train = config.data.train_part(&splits.train);
    let test = config.data.test_part(&splits.test);
    let spec = &config.audit;

    // Input canaries are images of the training split that the training data does not hold.
    let (data, pool) = match spec.canary_kind {
        CanaryKind::Gradient => {
            let none = train.take(0);
            (train, none)
        }
        CanaryKind::Input => {
            let m = spec.canaries;
            if m >= train.len() {
                return Err(crate::config::ConfigError::invalid(
                    "canaries",
                    m,
                    format!(
                        "input canaries come from the {} training images, which must keep some \
                         for the training data",
                        train.len()
                    ),
                )
                .into());
            }
            let mut order: Vec<usize> = (0..train.len()).collect();
            order.shuffle(&mut ctx.rng);
            let (pool, rest) = order.split_at(m);
            (train.subset(rest), train.subset(pool))
        }
    };
    let device = ctx.device.clone();
    let progress = ctx.options.progress;
    let inputs = level::Inputs {
        config: &config,
        data: &data,
        pool: &pool,
        test: &test,
        device: &device,
        progress: &progress,
    };
    let mut levels = Vec::new();
    for &epsilon in &spec.epsilons {
        let seed = ctx.rng.random::<u64>();
        levels.push(level::audit_level(&inputs, epsilon, seed)?);
    }

    let errors = contradictions(&levels, spec);
    let classes = data.classes();
    let warnings = levels
        .iter()
        .filter_map(|l| chance_warning("audited model", l.test_accuracy, classes))
        .collect();
    let report = AuditReport {
        header: ctx.header(Audit::NAME, config.data.dataset, &config.run),
        data: DataSummary {
            train: data.len(),
            test: test.len(),
            classes,
            source: splits.location.dir.display().to_string(),
        },
        canaries: spec.canaries,
        confidence: spec.confidence,
        per_test_confidence: spec.per_test_confidence(),
        levels,
        plot: PLOT.into(),
        warnings,
        errors,
        wall_seconds: started.elapsed().as_secs_f64(),
        config,
    };
    let staged = output.stage()?;
    report.plot(&staged.path(PLOT))?;
    staged.write_json(METRICS, &report)?;
    staged.commit()?;
    if !report.errors.is_empty() {
        return Err(Error::AboveCeiling(report.errors.join("\n")));
    }
    Ok(report)
}

/// One message per level whose lower bound exceeds its claimed ε.
fn contradictions(levels: &[LevelRecord], spec: &AuditSpec) -> Vec<String> {
    let cause = match spec.audit_break {
        AuditBreak::None => "training, sampling or accounting has a bug".to_string(),
        b => format!(
            "as expected of the positive control --audit-break {}: the audit caught it",
            b.as_str()
        ),
    };
    levels
        .iter()
        .filter(|l| l.contradiction)
        .filter_map(|l| {
            let p = &l.privacy.as_ref()?.spent;
            let found: Vec<String> = l
                .contradicted_by
                .iter()
                .map(|&analysis| match (analysis, &l.fdp) {
                    (level::FDP, Some(f)) => format!(
                        "the f-DP analysis rejects DP-SGD at every noise multiplier from {:.4} \
                         up (PLD ε {:.3}), the run's own σ = {:.4} (claimed ε = {:.3}) included",
                        f.noise_multiplier, f.epsilon, p.noise_multiplier, p.epsilon
                    ),
                    _ => format!(
                        "Steinke et al.'s analysis proves ε ≥ {:.3}, above the claimed ε = {:.3}",
                        l.epsilon_steinke, p.epsilon
                    ),
                })
                .collect();
            Some(format!(
                "audit at ε = {}: {} (all bounds at confidence {}, {} {} canaries): the run is \
                 not what it claims, {cause}",
                epsilon_label(l.target_epsilon),
                found.join("; and "),
                spec.confidence,
                spec.canaries,
                spec.canary_kind.as_str(),
            ))
        })
        .collect()
}

impl AuditReport {
    fn plot(&self, path: &std::path::Path) -> Result<()> {
        let points = |f: &dyn Fn(&LevelRecord) -> f64| -> Vec<(f64, f64)> {
            self.levels
                .iter()
                .filter_map(|l| l.privacy.as_ref().map(|p| (p.spent.epsilon, f(l))))
                .collect()
        };
        let steinke = points(&|l| l.epsilon_steinke);
        let fdp = points(&|l| l.fdp.as_ref().map_or(0.0, |f| f.epsilon));
        let gdp = points(&|l| l.epsilon_gdp);
        let series = [
            EpsilonSeries {
                name: "Steinke et al. 2023, (ε, δ)",
                points: &steinke,
                dashed: false,
            },
            EpsilonSeries {
                name: "Mahloujifar et al. 2025, f-DP (DP-SGD curve)",
                points: &fdp,
                dashed: false,
            },
            EpsilonSeries {
                name: "f-DP, μ-GDP family (informative)",
                points: &gdp,
                dashed: true,
            },
        ];
        let spec = &self.config.audit;
        let broken = match spec.audit_break {
            AuditBreak::None => String::new(),
            b => format!(", --audit-break {}", b.as_str()),
        };
        let title = format!(
            "audit: {} {} canaries, {:.0}% confidence ({}{broken})",
            spec.canaries,
            spec.canary_kind.as_str(),
            100.0 * spec.confidence,
            self.header.dataset
        );
        Ok(epsilon_png(path, &title, &series)?)
    }

    /// One line per level.
    pub fn summary(&self) -> Vec<String> {
        let spec = &self.config.audit;
        self.levels
            .iter()
            .map(|l| {
                let claimed = match &l.privacy {
                    None => "non-private".to_string(),
                    Some(p) => format!(
                        "claimed ε = {:.3} (PLD; RDP {:.3})",
                        p.spent.epsilon_pld, p.spent.epsilon_rdp
                    ),
                };
                let fdp = l
                    .fdp
                    .as_ref()
                    .map_or(String::new(), |f| format!(", {:.3} (f-DP)", f.epsilon));
                format!(
                    "audit ε = {}: {claimed}; empirical ε ≥ {:.3} (Steinke){fdp} at {:.0}% \
                     confidence, {} {} canaries ({} in), test accuracy {:.2}%, {:.1} s training{}",
                    epsilon_label(l.target_epsilon),
                    l.epsilon_steinke,
                    100.0 * spec.confidence,
                    spec.canaries,
                    spec.canary_kind.as_str(),
                    l.canaries_included,
                    100.0 * l.test_accuracy,
                    l.train_seconds,
                    if l.contradiction {
                        " — CONTRADICTION"
                    } else {
                        ""
                    }
                )
            })
            .collect()
    }
}
