//! `metrics.json` of `ppml run mia`, its ROC plot and the summary the binary prints.

use std::path::Path;

use burn::tensor::Device;
use serde::Serialize;

use super::split::Split;
use super::{CanaryReport, CeilingReport, MiaConfig};
use crate::Result;
use crate::attacks::membership::quantile::FitSummary;
use crate::experiments::ResultHeader;
use crate::metrics::membership::AttackMetrics;
use crate::privacy::DpReport;
use crate::report::plot::{Curve, roc_png};
use crate::train::{self, Trained, evaluate};

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

impl TargetReport {
    /// Evaluates the trained target on the members and non-members; its test figures come from
    /// the last epoch of training, which evaluated the final model on the test set already.
    pub(super) fn measure(trained: &Trained, split: &Split, device: &Device) -> Self {
        let on_members = evaluate(&trained.model, &split.members, device);
        let on_non_members = evaluate(&trained.model, &split.non_members, device);
        let last = trained.history.last().expect("epochs >= 1 was validated");
        Self {
            train_accuracy: on_members.accuracy,
            train_loss: on_members.loss,
            non_member_accuracy: on_non_members.accuracy,
            test_accuracy: last.test_accuracy,
            test_loss: last.test_loss,
            steps: trained.steps,
            history: trained.history.clone(),
        }
    }
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
    /// The loss attack on the canaries alone, with its ceiling (`null`: no canaries).
    pub canaries: Option<CanaryReport>,
    /// Problems that mean the numbers cannot be trusted (empty when all is well).
    pub errors: Vec<String>,
    /// Things a reader should know before trusting the numbers (a target at chance, say).
    pub warnings: Vec<String>,
    /// File name of the ROC plot, in the output folder.
    pub plot: String,
    /// Wall-clock figures.
    pub timing: MiaTiming,
}

impl MiaReport {
    /// The headline attack, then the baselines.
    pub fn attacks(&self) -> impl Iterator<Item = &AttackMetrics> {
        std::iter::once(&self.attack).chain(&self.baselines)
    }

    /// Draws every attack's ROC curve, with the DP ceiling (`ceiling`) dashed, to `path`.
    pub(super) fn plot(&self, path: &Path, ceiling: Option<&[(f64, f64)]>) -> Result<()> {
        let names: Vec<String> = self
            .attacks()
            .map(|a| format!("{} (AUC {:.3})", a.name, a.auc.estimate))
            .collect();
        let curves: Vec<Curve<'_>> = self
            .attacks()
            .zip(&names)
            .map(|(a, name)| Curve {
                name,
                points: &a.roc,
            })
            .collect();
        let target = match &self.privacy {
            None => "non-private target".to_string(),
            Some(p) => format!("DP-SGD target ε = {:.2}", p.spent.epsilon),
        };
        let quick = if self.header.quick { ", --quick" } else { "" };
        let title = format!(
            "membership inference, {target} ({}{quick})",
            self.header.dataset
        );
        let min_fpr = 1.0 / self.data.non_members.max(1) as f64;
        Ok(roc_png(path, &title, &curves, ceiling, min_fpr)?)
    }

    /// The target, then one line per attack, then the ceiling.
    pub fn summary(&self) -> Vec<String> {
        let target = match &self.privacy {
            None => "non-private".to_string(),
            Some(p) => format!(
                "DP-SGD ε = {:.3} at δ = {:e}",
                p.spent.epsilon, p.spent.delta
            ),
        };
        let mut lines = vec![format!(
            "mia: {} target on {} ({} members): train accuracy {:.2}%, test accuracy {:.2}%",
            target,
            self.header.dataset,
            self.data.members,
            100.0 * self.target.train_accuracy,
            100.0 * self.target.test_accuracy,
        )];
        lines.extend(self.attacks().map(attack_line));
        lines.extend(self.dp_ceiling.as_ref().map(ceiling_line));
        if let Some(c) = &self.canaries {
            lines.push(format!(
                "  on {} mislabelled canaries trained on and {} held out:",
                c.canaries, c.canaries
            ));
            lines.push(attack_line(&c.attack));
            lines.extend(c.dp_ceiling.as_ref().map(ceiling_line));
        }
        lines
    }
}

/// One attack's summary line.
fn attack_line(a: &AttackMetrics) -> String {
    let tpr: Vec<String> = a
        .tpr_at_fpr
        .iter()
        .map(|p| {
            format!(
                "TPR@{}% FPR {:.2}% [{:.2}, {:.2}]",
                100.0 * p.max_fpr,
                100.0 * p.tpr.estimate,
                100.0 * p.tpr.low,
                100.0 * p.tpr.high
            )
        })
        .collect();
    format!(
        "  {:<9} AUC {:.4}  {}  advantage {:.4}",
        a.name,
        a.auc.estimate,
        tpr.join("  "),
        a.max_advantage.estimate
    )
}

/// The DP ceiling's summary line.
fn ceiling_line(c: &CeilingReport) -> String {
    let tpr: Vec<String> = c
        .max_tpr_at_fpr
        .iter()
        .map(|(f, t)| format!("TPR@{}% FPR {:.2}%", 100.0 * f, 100.0 * t))
        .collect();
    format!(
        "  ceiling   {}  advantage {:.4} (no attack can do better)",
        tpr.join("  "),
        c.max_advantage
    )
}
