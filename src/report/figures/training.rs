//! Test accuracy against ε: DP-SGD per model, and the federated global model under the DP
//! aggregate.

use super::{Palette, mean_sd, spent_epsilon, test_accuracy};
use crate::privacy::epsilon_from_json;
use crate::report::tables::{Run, Summary, groups, model_name};
use crate::report::xy_plot::{Scale, XyPlot};

pub(super) fn accuracy_plots(runs: &[&Run]) -> Vec<XyPlot> {
    let mut models = Palette::default();
    let train = groups(runs, "train");
    for g in &train {
        let m = &g.first().metrics;
        let (Some(eps), Some((acc, sd))) = (spent_epsilon(m), test_accuracy(g)) else {
            continue;
        };
        models
            .get(&model_name(&m["config"]))
            .points
            .push((eps, acc, sd));
    }
    for g in &train {
        let m = &g.first().metrics;
        let name = model_name(&m["config"]);
        if m["privacy"].is_null() && models.has(&name) {
            models.get(&name).level = test_accuracy(g).map(|(a, _)| a);
        }
    }
    let mut federated = Palette::default();
    let mut levels: Vec<(String, f64)> = Vec::new();
    for g in groups(runs, "global-model-attack") {
        let Some(trainings) = g.first().metrics["training"].as_array() else {
            continue;
        };
        for (i, t) in trainings.iter().enumerate() {
            let acc = mean_sd(Summary::over(
                g.runs.iter().filter_map(|r| r.metrics["training"].get(i)),
                |t| t["test_accuracy"].as_f64(),
            ));
            let Some((acc, sd)) = acc else { continue };
            let eps = epsilon_from_json(&t["epsilon"]);
            let noise = t["noise"].as_str();
            let setting = format!("n = {}, B = {}", t["parties"], t["batch_size"]);
            match (eps, noise) {
                (Some(e), Some(noise)) if e.is_finite() => federated
                    .get(&format!("{setting}, {noise} noise"))
                    .points
                    .push((e, acc, sd)),
                _ => {
                    levels.push((setting, acc));
                }
            }
        }
    }
    // The undefended accuracy of a federation is one level, drawn on its first series.
    let mut federated = federated.into_series();
    for (setting, acc) in levels {
        if let Some(s) = federated.iter_mut().find(|s| s.name.starts_with(&setting)) {
            s.level = Some(acc);
        }
    }
    vec![
        XyPlot {
            title: "DP-SGD: test accuracy against ε".into(),
            x_label: "ε (δ = 1e-5)".into(),
            y_label: "test accuracy".into(),
            x_scale: Scale::Linear,
            y_range: None,
            series: models.into_series(),
        },
        XyPlot {
            title: "Federated: the global model under the DP aggregate".into(),
            x_label: "ε (δ = 1e-5)".into(),
            y_label: "test accuracy".into(),
            x_scale: Scale::Linear,
            y_range: None,
            series: federated,
        },
    ]
}
