//! The summary plots of a results folder (`ppml report --plots DIR`): what the tables say,
//! drawn. Each figure is made from whatever runs the folder holds and skipped, with a note,
//! when it holds none it could use.
//!
//! - `accuracy-vs-epsilon.png`: DP-SGD's test accuracy against ε per model, the non-private
//!   run of the same model as a dashed line; beside it, the federated global model under the DP
//!   aggregate.
//! - `mia-tpr-vs-epsilon.png`: each attack's TPR at 1% FPR against the target's ε, the
//!   non-private target as a dashed line, and the DP ceiling no attack can pass.
//! - `mia-roc.png`: the headline attack's ROC curves overlaid across ε (log-log).
//! - `leakage-ssim-vs-epsilon.png`, `leakage-rdlv-vs-epsilon.png`: how much of the images the
//!   two federated-learning attacks recover as ε shrinks.
//! - `recovered-vs-bins.png`: the imprint attack's exactly recovered fraction against bins per
//!   sample (k/m) and against the number of samples m = n·B, beside (1 − 1/k)^(m − 1).

mod leakage;
mod membership;
mod recovered;
mod training;

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ReportError;
use super::tables::{Group, Run, Summary};
use super::xy_plot::{Series, XyPlot, xy_png};
use crate::privacy::epsilon_from_json;
use leakage::{Leakage, leakage_plots};
use membership::{mia_plots, roc_overlay};
use recovered::recovered_plots;
use training::accuracy_plots;

/// What `--plots` wrote, and what it skipped with why.
#[derive(Debug, Default)]
pub struct Written {
    /// The PNGs written.
    pub files: Vec<PathBuf>,
    /// `name: why` for each figure without data.
    pub skipped: Vec<String>,
}

/// Writes every figure the runs allow into `dir` (created when missing).
pub fn write_figures(runs: &[Run], dir: &Path) -> Result<Written, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let runs: Vec<&Run> = runs
        .iter()
        .filter(|r| !r.quick() || all_quick(runs))
        .collect();
    let mut written = Written::default();
    type Figure = fn(&[&Run]) -> Vec<XyPlot>;
    let figures: [(&str, Figure); 4] = [
        ("accuracy-vs-epsilon.png", accuracy_plots),
        ("mia-tpr-vs-epsilon.png", mia_plots),
        ("leakage-ssim-vs-epsilon.png", |r| {
            leakage_plots(r, Leakage::Ssim)
        }),
        ("leakage-rdlv-vs-epsilon.png", |r| {
            leakage_plots(r, Leakage::Rdlv)
        }),
    ];
    for (name, figure) in figures {
        let plots: Vec<XyPlot> = figure(&runs)
            .into_iter()
            .filter(|p| !p.series.is_empty())
            .collect();
        if plots.is_empty() {
            written
                .skipped
                .push(format!("{name}: no runs to draw it from"));
            continue;
        }
        let path = dir.join(name);
        xy_png(&path, &plots)?;
        written.files.push(path);
    }
    let recovered = recovered_plots(&runs);
    if recovered.iter().all(|p| p.series.is_empty()) {
        written
            .skipped
            .push("recovered-vs-bins.png: no undefended imprint cases".into());
    } else {
        let path = dir.join("recovered-vs-bins.png");
        xy_png(&path, &recovered)?;
        written.files.push(path);
    }
    let path = dir.join("mia-roc.png");
    if roc_overlay(&runs, &path)? {
        written.files.push(path);
    } else {
        written.skipped.push("mia-roc.png: no mia runs".into());
    }
    Ok(written)
}

/// Quick runs are drawn only from a folder of quick runs (a CI smoke sweep), never mixed in.
fn all_quick(runs: &[Run]) -> bool {
    runs.iter().all(Run::quick)
}

fn mean_sd(s: Option<Summary>) -> Option<(f64, f64)> {
    s.map(|s| (s.mean, s.std))
}

fn test_accuracy(group: &Group<'_>) -> Option<(f64, f64)> {
    mean_sd(Summary::over(group.runs.iter().map(|r| &r.metrics), |m| {
        m["test_accuracy"].as_f64()
    }))
}

fn spent_epsilon(metrics: &Value) -> Option<f64> {
    epsilon_from_json(&metrics["privacy"]["epsilon"]).filter(|e| e.is_finite())
}

/// Series named by a label, each coloured in the order its label was first seen.
#[derive(Default)]
struct Palette {
    series: Vec<Series>,
}

impl Palette {
    fn has(&self, name: &str) -> bool {
        self.series.iter().any(|s| s.name == name)
    }

    /// The series of this label, created (with the next colour) when new.
    fn get(&mut self, name: &str) -> &mut Series {
        let i = match self.series.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                let color = self.series.len();
                self.series.push(Series {
                    name: name.to_string(),
                    color,
                    ..Series::default()
                });
                color
            }
        };
        &mut self.series[i]
    }

    /// The series in first-seen order, their points sorted by x; series without points
    /// dropped.
    fn into_series(self) -> Vec<Series> {
        self.series
            .into_iter()
            .map(|mut s| {
                s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
                s
            })
            .filter(|s| !s.points.is_empty())
            .collect()
    }
}

/// Every case of the runs of `experiment`.
fn cases_of<'a>(runs: &[&'a Run], experiment: &str) -> Vec<&'a Value> {
    runs.iter()
        .filter(|r| r.experiment() == experiment)
        .flat_map(|r| r.metrics["cases"].as_array().into_iter().flatten())
        .collect()
}
