//! Membership-inference runs: each attack beside its baselines, and the DP ceiling that bounds
//! them all (Carlini et al. 2022's low-FPR figures; the ceiling from the run's ε and δ).

use serde_json::Value;

use super::cell::{Summary, broken_on_purpose, epsilon, json_pct, num, pct, table};
use crate::report::runs::{Group, Run, groups};

/// The attacks of one run: the headline attack, then its baselines.
pub fn attacks(metrics: &Value) -> impl Iterator<Item = &Value> {
    std::iter::once(&metrics["attack"]).chain(metrics["baselines"].as_array().into_iter().flatten())
}

/// `ε = 1.50` or `non-private`.
pub fn privacy_label(metrics: &Value) -> String {
    let p = &metrics["privacy"];
    if p.is_null() {
        "non-private".to_string()
    } else {
        format!("ε = {}", epsilon(&p["epsilon"], 2))
    }
}

/// One row per attack of each group of seeds, and one for the DP ceiling. With one seed the
/// TPRs carry their bootstrap 95% intervals; with several, their mean ± standard deviation.
pub fn mia_table(runs: &[&Run]) -> String {
    let mut rows = Vec::new();
    for group in groups(runs, "mia") {
        rows.extend(group_rows(&group));
    }
    table(
        &[
            "MIA run",
            "seeds",
            "target (test accuracy)",
            "attack",
            "AUC",
            "TPR at 0.1% FPR",
            "TPR at 1% FPR",
            "precision at 1% FPR",
            "max advantage",
        ],
        &rows,
    )
}

/// A TPR with its interval, in percent: `12.34% [10.10, 14.20]`.
fn pct_interval(v: &Value) -> String {
    match (
        v["estimate"].as_f64(),
        v["low"].as_f64(),
        v["high"].as_f64(),
    ) {
        (Some(e), Some(l), Some(h)) => {
            format!("{:.2}% [{:.2}, {:.2}]", 100.0 * e, 100.0 * l, 100.0 * h)
        }
        _ => "–".into(),
    }
}

fn group_rows(group: &Group<'_>) -> Vec<Vec<String>> {
    let first = &group.first().metrics;
    let metrics: Vec<&Value> = group.runs.iter().map(|r| &r.metrics).collect();
    let accuracy = Summary::over(metrics.iter().copied(), |m| {
        m["target"]["test_accuracy"].as_f64()
    });
    let target = format!("{} ({})", privacy_label(first), pct(accuracy));
    let mut rows = Vec::new();
    for (i, attack) in attacks(first).enumerate() {
        let name = attack["name"].as_str().unwrap_or("?");
        // The same attack in every seed's run.
        let same: Vec<&Value> = metrics
            .iter()
            .filter_map(|m| attacks(m).find(|a| a["name"].as_str() == Some(name)))
            .collect();
        if same.len() != metrics.len() {
            continue;
        }
        let figure = |f: &dyn Fn(&Value) -> Option<f64>| Summary::over(same.iter().copied(), f);
        let tpr = |k: usize| {
            if same.len() == 1 {
                pct_interval(&attack["tpr_at_fpr"][k]["tpr"])
            } else {
                pct(figure(&|a| a["tpr_at_fpr"][k]["tpr"]["estimate"].as_f64()))
            }
        };
        rows.push(vec![
            group.label(),
            group.seeds().to_string(),
            target.clone(),
            if i == 0 {
                format!("**{name}**")
            } else {
                name.to_string()
            },
            num(figure(&|a| a["auc"]["estimate"].as_f64()), 4),
            tpr(0),
            tpr(1),
            pct(figure(&|a| {
                a["tpr_at_fpr"][1]["precision_at_50_prior"].as_f64()
            })),
            num(figure(&|a| a["max_advantage"]["estimate"].as_f64()), 4),
        ]);
    }
    let c = &first["dp_ceiling"];
    if !c.is_null() {
        rows.push(vec![
            group.label(),
            group.seeds().to_string(),
            target,
            "*DP ceiling (any attack)*".into(),
            "–".into(),
            format!("≤ {}", json_pct(&c["max_tpr_at_fpr"][0][1])),
            format!("≤ {}", json_pct(&c["max_tpr_at_fpr"][1][1])),
            "–".into(),
            format!("≤ {}", super::cell::json_num(&c["max_advantage"], 4)),
        ]);
    }
    rows
}

/// The canary audit of membership runs that plant canaries: the canary attack against the DP
/// ceiling, and whether the exact test found the ceiling broken (the run then exits 1).
pub fn canary_table(runs: &[&Run]) -> String {
    let mut rows = Vec::new();
    for group in groups(runs, "mia") {
        let first = &group.first().metrics;
        let c = &first["canaries"];
        if c.is_null() {
            continue;
        }
        let broken = broken_on_purpose(&first["config"]["membership"]).unwrap_or("–");
        let metrics: Vec<&Value> = group.runs.iter().map(|r| &r.metrics).collect();
        let over = |f: &dyn Fn(&Value) -> Option<f64>| Summary::over(metrics.iter().copied(), f);
        let attack =
            |m: &Value, path: &dyn Fn(&Value) -> Option<f64>| path(&m["canaries"]["attack"]);
        let ceiling = &c["dp_ceiling"];
        let violations: Vec<usize> = metrics
            .iter()
            .map(|m| {
                m["canaries"]["dp_ceiling"]["test"]["violations"]
                    .as_array()
                    .map_or(0, Vec::len)
            })
            .collect();
        let check = if violations.iter().all(|&v| v == 0) {
            "respected".to_string()
        } else {
            let list: Vec<String> = violations.iter().map(usize::to_string).collect();
            format!("**{} violations**", list.join(", "))
        };
        rows.push(vec![
            group.label(),
            broken.to_string(),
            group.seeds().to_string(),
            c["canaries"].to_string(),
            format!(
                "{} ({})",
                privacy_label(first),
                pct(over(&|m| m["target"]["test_accuracy"].as_f64()))
            ),
            num(over(&|m| attack(m, &|a| a["auc"]["estimate"].as_f64())), 3),
            format!(
                "**{}**",
                pct(over(&|m| attack(m, &|a| {
                    a["tpr_at_fpr"][1]["tpr"]["estimate"].as_f64()
                })))
            ),
            num(
                over(&|m| attack(m, &|a| a["max_advantage"]["estimate"].as_f64())),
                3,
            ),
            format!(
                "{} / {}",
                json_pct(&ceiling["max_tpr_at_fpr"][1][1]),
                super::cell::json_num(&ceiling["max_advantage"], 3)
            ),
            check,
        ]);
    }
    table(
        &[
            "canary run",
            "broken on purpose",
            "seeds",
            "canaries",
            "target (test accuracy)",
            "canary attack AUC",
            "TPR at 1% FPR",
            "max advantage",
            "DP ceiling at 1% FPR / advantage",
            "exact test of the ceiling",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attack(name: &str, auc: f64) -> Value {
        let tpr = |e: f64| json!({"estimate": e, "low": e / 2.0, "high": e * 2.0});
        json!({"name": name, "auc": {"estimate": auc}, "max_advantage": {"estimate": 0.1},
               "tpr_at_fpr": [{"tpr": tpr(0.002)}, {"tpr": tpr(0.02), "precision_at_50_prior": 0.66}]})
    }

    fn mia(name: &str, seed: u64, auc: f64) -> Run {
        Run {
            name: name.into(),
            metrics: json!({
                "experiment": "mia", "quick": false, "seed": seed,
                "config": {"run": {"seed": seed}},
                "target": {"test_accuracy": 0.85},
                "privacy": {"epsilon": 3.0}, "attack": attack("quantile", auc),
                "baselines": [attack("threshold", 0.51)],
                "dp_ceiling": {"max_tpr_at_fpr": [[0.001, 0.0078], [0.01, 0.0473]], "max_advantage": 0.24}
            }),
        }
    }

    #[test]
    fn one_row_per_attack_and_one_for_the_dp_ceiling() {
        let run = mia("mia-eps3", 0, 0.52);
        let table = mia_table(&[&run]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5, "{table}");
        assert!(lines[2].contains("**quantile**") && lines[2].contains("0.5200"));
        assert!(lines[2].contains("0.20% [0.10, 0.40]") && lines[2].contains("66.00%"));
        assert!(lines[3].contains("threshold") && lines[3].contains("ε = 3.00 (85.00%)"));
        assert!(
            lines[4].contains("DP ceiling") && lines[4].contains("≤ 4.73%"),
            "{}",
            lines[4]
        );
    }

    #[test]
    fn a_canary_run_shows_its_attack_against_the_ceiling_and_the_tests_verdict() {
        let mut run = mia("c", 0, 0.5);
        run.metrics["config"]["membership"] = json!({"audit_break": "noise"});
        run.metrics["canaries"] = json!({"canaries": 500,
            "attack": {"auc": {"estimate": 0.881}, "max_advantage": {"estimate": 0.606},
                       "tpr_at_fpr": [{}, {"tpr": {"estimate": 0.334}}]},
            "dp_ceiling": {"max_tpr_at_fpr": [[0.001, 0.0034], [0.01, 0.0261]],
                           "max_advantage": 0.1517,
                           "test": {"violations": [1, 2, 3]}}});
        let plain = mia("p", 0, 0.5);
        let table = canary_table(&[&run, &plain]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[2].starts_with("| `c` | noise | 1 | 500 | ε = 3.00 (85.00%) | 0.881 | **33.40%** | 0.606 | 2.61% / 0.152 | **3 violations** |"), "{}", lines[2]);
    }

    #[test]
    fn seeds_give_mean_and_spread_instead_of_intervals() {
        let runs = [mia("m-seed0", 0, 0.50), mia("m-seed1", 1, 0.52)];
        let table = mia_table(&runs.iter().collect::<Vec<_>>());
        let quantile = table.lines().find(|l| l.contains("**quantile**")).unwrap();
        assert!(quantile.starts_with("| `m` | 2 |"), "{quantile}");
        assert!(quantile.contains("0.5100 ± 0.0141"), "{quantile}");
        assert!(quantile.contains("2.00 ± 0.00%"), "{quantile}");
    }
}
