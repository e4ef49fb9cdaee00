//! The imprint attack's exactly recovered fraction against bins per sample and against the
//! number of samples, beside the formula (1 − 1/k)^(m − 1).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Palette, cases_of};
use crate::privacy::epsilon_from_json;
use crate::report::tables::{Run, Summary, groups};
use crate::report::xy_plot::{Scale, Series, XyPlot};

pub(super) fn recovered_plots(runs: &[&Run]) -> Vec<XyPlot> {
    // Undefended imprint cases with equal-mass bins: (m, k) -> exact fractions.
    let mut cells: BTreeMap<(u64, u64), Vec<f64>> = BTreeMap::new();
    // One run's grid: the one with the most such cases (other runs vary the statistic or the
    // model, and would blur the comparison with the formula).
    let eligible = |c: &Value| {
        c["attack"].as_str().unwrap_or("imprint") == "imprint"
            && c["placement"].as_str() == Some("equal-mass")
            && epsilon_from_json(&c["epsilon"]) == Some(f64::INFINITY)
    };
    let best = groups(runs, "global-model-attack")
        .into_iter()
        .max_by_key(|g| {
            g.runs
                .iter()
                .map(|r| {
                    cases_of(&[*r], "global-model-attack")
                        .into_iter()
                        .filter(|c| eligible(c))
                        .count()
                })
                .sum::<usize>()
        });
    let Some(best) = best else {
        return Vec::new();
    };
    for c in cases_of(&best.runs, "global-model-attack") {
        let (Some(m), Some(k), Some(exact)) = (
            c["samples"].as_u64(),
            c["bins"].as_u64(),
            c["exact"].as_f64(),
        ) else {
            continue;
        };
        if eligible(c) && m > 0 && k % m == 0 {
            cells.entry((m, k)).or_default().push(exact / m as f64);
        }
    }
    let theory = |m: f64, k: f64| (1.0 - 1.0 / k).powf(m - 1.0);
    let (mut by_m, mut by_c) = (Palette::default(), Palette::default());
    for (&(m, k), fractions) in &cells {
        let Some(s) = Summary::of(fractions.iter().copied()) else {
            continue;
        };
        let c = k / m;
        by_m.get(&format!("m = {m}"))
            .points
            .push((c as f64, s.mean, s.std));
        by_c.get(&format!("k = {c}·m"))
            .points
            .push((m as f64, s.mean, s.std));
    }
    let with_theory = |palette: Palette, curve: &dyn Fn(&Series, f64) -> f64| {
        let measured = palette.into_series();
        let mut all = Vec::new();
        for (i, s) in measured.into_iter().enumerate() {
            let (lo, hi) = (s.points[0].0, s.points[s.points.len() - 1].0);
            let points = (0..=40)
                .map(|i| {
                    let x = lo * (hi / lo).powf(i as f64 / 40.0);
                    (x, curve(&s, x), 0.0)
                })
                .collect();
            // One legend entry for every dashed curve (each in its series' colour).
            let name = if i == 0 {
                "(1 − 1/k)^(m − 1), dashed".into()
            } else {
                String::new()
            };
            all.push(Series {
                name,
                points,
                theory: true,
                color: s.color,
                level: None,
            });
            all.push(s);
        }
        all
    };
    let number = |s: &Series, prefix: &str| -> f64 {
        s.name
            .strip_prefix(prefix)
            .and_then(|r| r.trim_end_matches("·m").parse().ok())
            .unwrap_or(f64::NAN)
    };
    // The measured series' names carry their m (or k/m).
    let vs_bins = with_theory(by_m, &|s, c| {
        let m = number(s, "m = ");
        theory(m, c * m)
    });
    let vs_samples = with_theory(by_c, &|s, m| theory(m, number(s, "k = ") * m));
    let plot = |title: &str, x_label: &str, series| XyPlot {
        title: title.into(),
        x_label: x_label.into(),
        y_label: "fraction recovered exactly".into(),
        x_scale: Scale::Log2,
        y_range: Some((0.0, 1.05)),
        series,
    };
    vec![
        plot(
            "Imprint: recovered against bins per sample",
            "bins per sample k/m (log scale)",
            vs_bins,
        ),
        plot(
            "Imprint: recovered against samples m = n·B",
            "samples in the aggregate m = n·B (log scale)",
            vs_samples,
        ),
    ]
}
