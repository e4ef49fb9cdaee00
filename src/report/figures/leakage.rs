//! Leakage against ε for the two federated-learning attacks: gradient inversion under local DP
//! and the imprint attack under the DP aggregate, as SSIM or as RDLV.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Palette, cases_of};
use crate::privacy::epsilon_from_json;
use crate::report::tables::{Run, Summary};
use crate::report::xy_plot::{Scale, Series, XyPlot};

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Leakage {
    Ssim,
    Rdlv,
}

impl Leakage {
    fn of(self, case: &Value) -> Option<f64> {
        match self {
            Leakage::Ssim => case["mean_ssim"].as_f64(),
            Leakage::Rdlv => case["mean_rdlv"].as_f64(),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Leakage::Ssim => "mean SSIM of the reconstructions",
            Leakage::Rdlv => "mean RDLV (nats; ≤ 0: no better than the prior)",
        }
    }
}

/// Mean leakage per series and ε over `cases`, ε = ∞ as the series' level.
fn leakage_series(
    cases: &[&Value],
    leakage: Leakage,
    series_of: impl Fn(&Value) -> Option<String>,
) -> Vec<Series> {
    // (series, ε bits) -> values; ε = ∞ included (its bits sort last among positives).
    let mut by: BTreeMap<(String, u64), Vec<f64>> = BTreeMap::new();
    let mut palette = Palette::default();
    for c in cases {
        let (Some(name), Some(v), Some(eps)) = (
            series_of(c),
            leakage.of(c),
            epsilon_from_json(&c["epsilon"]),
        ) else {
            continue;
        };
        palette.get(&name);
        by.entry((name, eps.to_bits())).or_default().push(v);
    }
    for ((name, bits), values) in by {
        let eps = f64::from_bits(bits);
        let Some(s) = Summary::of(values) else {
            continue;
        };
        if eps.is_finite() {
            palette.get(&name).points.push((eps, s.mean, s.std));
        } else {
            palette.get(&name).level = Some(s.mean);
        }
    }
    palette.into_series()
}

/// Runs whose cases span several ε: the leakage-vs-privacy runs.
fn with_epsilons<'a>(runs: &[&'a Run], experiment: &str) -> Vec<&'a Run> {
    runs.iter()
        .copied()
        .filter(|r| {
            let cases = cases_of(&[*r], experiment);
            cases
                .iter()
                .any(|c| epsilon_from_json(&c["epsilon"]).is_some_and(f64::is_finite))
        })
        .collect()
}

pub(super) fn leakage_plots(runs: &[&Run], leakage: Leakage) -> Vec<XyPlot> {
    let inversion = cases_of(
        &with_epsilons(runs, "gradient-inversion"),
        "gradient-inversion",
    );
    let inversion = leakage_series(&inversion, leakage, |c| {
        let upload = match (c["aggregation"].as_str(), c["target"].as_str()) {
            (Some("plain"), Some("party")) => "one party".to_string(),
            (_, Some("sum")) => "the secure sum".to_string(),
            _ => return None, // a masked upload: noise whatever ε
        };
        Some(format!(
            "{}, batch {}: {upload}",
            c["attack"].as_str()?,
            c["batch_size"]
        ))
    });
    let imprint = cases_of(
        &with_epsilons(runs, "global-model-attack"),
        "global-model-attack",
    );
    let imprint = leakage_series(&imprint, leakage, |c| {
        if c["placement"].as_str() == Some("oracle-upper-bound") {
            return None;
        }
        let noise = c["noise"].as_str().unwrap_or("central");
        Some(format!(
            "{}, n = {}, B = {}: {noise} noise",
            c["attack"].as_str().unwrap_or("imprint"),
            c["parties"],
            c["batch_size"]
        ))
    });
    // ε = ∞ has no noise placement: the undefended level belongs to both placements.
    let imprint = share_levels(imprint);
    let plot = |title: &str, series: Vec<Series>| {
        let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let (lo, hi) = xs.fold((f64::INFINITY, 0.0f64), |(l, h), x| (l.min(x), h.max(x)));
        let (x_scale, x_label) = if hi >= 10.0 * lo {
            (Scale::Log10, "ε (δ = 1e-5), log scale")
        } else {
            (Scale::Linear, "ε (δ = 1e-5)")
        };
        XyPlot {
            title: title.into(),
            x_label: x_label.into(),
            y_label: leakage.label().into(),
            x_scale,
            y_range: None,
            series,
        }
    };
    vec![
        plot("Gradient inversion under local DP", inversion),
        plot("Imprint attack under the DP aggregate", imprint),
    ]
}

/// Gives a series without its own ε = ∞ level the level of the series with the same name
/// before its noise placement.
fn share_levels(mut series: Vec<Series>) -> Vec<Series> {
    let levels: Vec<(String, f64)> = series
        .iter()
        .filter_map(|s| Some((s.name.rsplit_once(": ")?.0.to_string(), s.level?)))
        .collect();
    for s in &mut series {
        if s.level.is_none() {
            let stem = s.name.rsplit_once(": ").map(|(a, _)| a.to_string());
            s.level = levels
                .iter()
                .find(|(n, _)| Some(n) == stem.as_ref())
                .map(|l| l.1);
        }
    }
    series
}
