//! Membership inference: TPR at 1% FPR against ε beside the DP ceiling, and ROC curves
//! overlaid across ε.

use std::path::Path;

use serde_json::Value;

use super::{Palette, mean_sd, spent_epsilon};
use crate::report::ReportError;
use crate::report::plot::{Curve, roc_png};
use crate::report::tables::{
    Group, Run, Summary, attacks, broken_on_purpose, groups, model_name, privacy_label,
};
use crate::report::xy_plot::{Scale, Series, XyPlot};

/// Membership runs that attack a plain target: canary runs and positive controls are audits,
/// with their own ceilings, and are left out.
fn plain_mia(group: &Group<'_>) -> bool {
    let membership = &group.first().metrics["config"]["membership"];
    let broken = broken_on_purpose(membership).is_some();
    membership["canaries"].as_u64().unwrap_or(0) == 0 && !broken
}

pub(super) fn mia_plots(runs: &[&Run]) -> Vec<XyPlot> {
    let mut palette = Palette::default();
    let mut ceiling: Vec<(f64, f64, f64)> = Vec::new();
    let mia: Vec<Group<'_>> = groups(runs, "mia").into_iter().filter(plain_mia).collect();
    let label = |m: &Value, attack: &str| {
        let head = m["config"]["quantile"]["head"]
            .as_str()
            .filter(|_| attack == "quantile");
        let head = head.map_or(String::new(), |h| format!(" ({h} head)"));
        format!("{}: {attack}{head}", model_name(&m["config"]))
    };
    for private in [true, false] {
        for g in mia
            .iter()
            .filter(|g| g.first().metrics["privacy"].is_null() != private)
        {
            let m = &g.first().metrics;
            let eps = spent_epsilon(m);
            for attack in attacks(m) {
                let name = attack["name"].as_str().unwrap_or("?");
                let tpr = mean_sd(Summary::over(
                    g.runs.iter().filter_map(|r| {
                        attacks(&r.metrics).find(|a| a["name"].as_str() == Some(name))
                    }),
                    |a| a["tpr_at_fpr"][1]["tpr"]["estimate"].as_f64(),
                ));
                let Some((tpr, sd)) = tpr else { continue };
                match eps {
                    Some(e) => palette.get(&label(m, name)).points.push((e, tpr, sd)),
                    None if palette.has(&label(m, name)) => {
                        palette.get(&label(m, name)).level = Some(tpr);
                    }
                    None => {}
                }
            }
            if let (Some(e), Some(c)) = (eps, m["dp_ceiling"]["max_tpr_at_fpr"][1][1].as_f64()) {
                ceiling.push((e, c, 0.0));
            }
        }
    }
    let mut series = palette.into_series();
    if !ceiling.is_empty() {
        ceiling.sort_by(|a, b| a.0.total_cmp(&b.0));
        series.push(Series {
            name: "DP ceiling (any attack)".into(),
            points: ceiling,
            theory: true,
            color: 6, // black
            ..Series::default()
        });
    }
    vec![XyPlot {
        title: "Membership inference: TPR at 1% FPR against ε".into(),
        x_label: "ε of the target (δ = 1e-5)".into(),
        y_label: "TPR at 1% FPR".into(),
        x_scale: Scale::Linear,
        y_range: None,
        series,
    }]
}

pub(super) fn roc_overlay(runs: &[&Run], path: &Path) -> Result<bool, ReportError> {
    let mia: Vec<Group<'_>> = groups(runs, "mia").into_iter().filter(plain_mia).collect();
    let named: Vec<(String, Vec<(f64, f64)>)> = mia
        .iter()
        .filter_map(|g| {
            let m = &g.first().metrics;
            let attack = &m["attack"];
            let points: Vec<(f64, f64)> = attack["roc"]
                .as_array()?
                .iter()
                .filter_map(|p| Some((p[0].as_f64()?, p[1].as_f64()?)))
                .collect();
            let attack_name = attack["name"].as_str().unwrap_or("?");
            let head = m["config"]["quantile"]["head"]
                .as_str()
                .filter(|_| attack_name == "quantile")
                .map_or(String::new(), |h| format!(" ({h} head)"));
            let name = format!(
                "{}, {}: {attack_name}{head}",
                privacy_label(m),
                model_name(&m["config"]),
            );
            Some((name, points))
        })
        .collect();
    if named.is_empty() {
        return Ok(false);
    }
    let curves: Vec<Curve<'_>> = named
        .iter()
        .map(|(name, points)| Curve { name, points })
        .collect();
    roc_png(
        path,
        "Membership inference: ROC across ε",
        &curves,
        None,
        1e-4,
    )?;
    Ok(true)
}
