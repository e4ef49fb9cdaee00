//! The global-model (imprint) attack: per attack, federation (n parties of batch B), bin count
//! k, ε and noise placement, how many of the m = n·B samples came back exactly, beside the
//! formula's expectation; and what the DP aggregate costs the global model's accuracy.

use serde_json::Value;

use super::cell::{
    Summary, epsilon_short, epsilon_value, json_num, median, num, pct, table_with_run_column,
};
use crate::report::runs::{Run, groups};

/// `1536 (64·m)`, or the oracle's cut-offs.
fn bins(case: &Value) -> String {
    if case["placement"].as_str() == Some("oracle-upper-bound") {
        return "*oracle (upper bound)*".into();
    }
    let (k, m) = (case["bins"].as_u64(), case["samples"].as_u64());
    match (k, m, case["parties"].as_u64(), case["batch_size"].as_u64()) {
        (Some(k), _, Some(n), Some(b)) if n * b > 0 && k % (n * b) == 0 => {
            format!("{k} ({}·m)", k / (n * b))
        }
        (Some(k), ..) => k.to_string(),
        _ => "?".into(),
    }
}

fn row_key(case: &Value) -> String {
    // The oracle's bin count is the sample count, which the DP aggregate's Poisson sampling
    // varies from seed to seed: its cases share a row whatever their count.
    let bins = match case["placement"].as_str() {
        Some("oracle-upper-bound") => &Value::Null,
        _ => &case["bins"],
    };
    format!(
        "{}|{}|{}|{}|{}|{}|{}",
        case["attack"],
        case["parties"],
        case["batch_size"],
        bins,
        case["placement"],
        case["epsilon"],
        case["noise"]
    )
}

/// Every global-model run's cases, one row per case kind, summed over the case seeds (and the
/// run seeds).
pub fn global_model_table(runs: &[&Run]) -> String {
    let groups = groups(runs, "global-model-attack");
    let several = groups.len() > 1;
    let mut rows = Vec::new();
    for group in &groups {
        for same in group.cases_by(row_key) {
            let c = same[0];
            let over = |f: &dyn Fn(&Value) -> Option<f64>| Summary::over(same.iter().copied(), f);
            let exact = over(&|c| c["exact"].as_f64());
            let exact = exact.map_or("–".into(), |s| {
                format!("**{:.1}** [{}–{}]", s.mean, s.min, s.max)
            });
            let (formula, z) = formula(&same);
            let round = median(
                same.iter()
                    .filter_map(|c| c["seconds"]["round"].as_f64())
                    .collect(),
            );
            let mut row = vec![group.label()];
            row.extend([
                c["attack"].as_str().unwrap_or("imprint").to_string(),
                c["parties"].to_string(),
                c["batch_size"].to_string(),
                num(over(&|c| c["samples"].as_f64()).map(mean_only), 1),
                bins(c),
                epsilon_short(&c["epsilon"]),
                c["noise"].as_str().unwrap_or("–").to_string(),
                json_num(&c["noise_multiplier"], 3),
                exact,
                formula,
                z,
                num(over(&|c| c["recovered"].as_f64()).map(mean_only), 1),
                num(over(&|c| c["mean_ssim"].as_f64()).map(mean_only), 3),
                same.len().to_string(),
                round.map_or("–".into(), |s| format!("{s:.2}")),
            ]);
            rows.push(row);
        }
    }
    let header = [
        "run",
        "attack",
        "n",
        "B",
        "samples m (mean)",
        "bins k",
        "ε",
        "noise",
        "σ",
        "exact (mean) [range]",
        "formula ± s.e.",
        "z",
        "at SSIM ≥ 0.6 (mean)",
        "mean SSIM",
        "cases",
        "seconds: round (median)",
    ];
    table_with_run_column(several, &header, rows)
}

/// The formula's expected exact count, m·(1 − 1/k)^(m − 1) (a sample comes back exactly when
/// no other shares its bin), with its standard error over these cases' seeds, and z =
/// (measured − formula) / s.e. The variance is exact: sample pairs are alone together with
/// probability (1 − 1/k)(1 − 2/k)^(m − 2). Only undefended, equal-mass imprint cases, where
/// the formula is the prediction.
fn formula(cases: &[&Value]) -> (String, String) {
    let c = cases[0];
    let undefended = epsilon_value(&c["epsilon"]) == Some(f64::INFINITY);
    let imprint = c["attack"].as_str().unwrap_or("imprint") == "imprint";
    let (Some(m), Some(k)) = (c["samples"].as_f64(), c["bins"].as_f64()) else {
        return ("–".into(), "–".into());
    };
    if !undefended || !imprint || c["placement"].as_str() != Some("equal-mass") {
        return ("–".into(), "–".into());
    }
    let p = (1.0 - 1.0 / k).powf(m - 1.0);
    let pair = (1.0 - 1.0 / k) * (1.0 - 2.0 / k).powf(m - 2.0);
    let variance = (m * p + m * (m - 1.0) * pair - (m * p).powi(2)).max(0.0);
    let se = (variance / cases.len() as f64).sqrt();
    let measured = Summary::over(cases.iter().copied(), |c| c["exact"].as_f64());
    let z = match measured {
        Some(s) if se > 0.0 => format!("{:+.1}", (s.mean - m * p) / se),
        _ => "–".into(),
    };
    (format!("{:.1} ± {se:.1}", m * p), z)
}

/// The mean alone: these cells average over cases whose spread the range column shows.
fn mean_only(s: Summary) -> Summary {
    Summary { n: 1, ..s }
}

/// The price of the DP aggregate: the planted-free global model's test accuracy after its
/// rounds, per ε and noise placement, over the run seeds.
pub fn global_model_training_table(runs: &[&Run]) -> String {
    let groups = groups(runs, "global-model-attack");
    let several = groups.len() > 1;
    let mut rows = Vec::new();
    for group in &groups {
        let first = &group.first().metrics;
        let Some(trainings) = first["training"].as_array() else {
            continue;
        };
        for (i, t) in trainings.iter().enumerate() {
            let same: Vec<&Value> = group
                .runs
                .iter()
                .filter_map(|r| r.metrics["training"].get(i))
                .collect();
            let mut row = vec![group.label()];
            row.extend([
                t["parties"].to_string(),
                t["batch_size"].to_string(),
                epsilon_short(&t["epsilon"]),
                t["noise"].as_str().unwrap_or("–").to_string(),
                json_num(&t["noise_multiplier"], 3),
                t["rounds"].to_string(),
                group.seeds().to_string(),
                format!(
                    "**{}**",
                    pct(Summary::over(same.iter().copied(), |t| t["test_accuracy"].as_f64()))
                ),
                num(
                    Summary::over(same.iter().copied(), |t| t["seconds"].as_f64()),
                    1,
                ),
            ]);
            rows.push(row);
        }
    }
    let header = [
        "run",
        "n",
        "B",
        "ε",
        "noise",
        "σ",
        "rounds",
        "seeds",
        "test accuracy",
        "seconds",
    ];
    table_with_run_column(several, &header, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn case(bins: u64, placement: &str, exact: u64, seed: u64) -> Value {
        json!({"parties": 3, "batch_size": 8, "bins": bins, "placement": placement,
               "epsilon": "inf", "noise": null, "samples": 24, "exact": exact,
               "expected_recovered": 9.0, "recovered": exact + 1, "mean_ssim": 0.5,
               "seed": seed, "seconds": {"round": 0.02}})
    }

    #[test]
    fn case_seeds_of_one_federation_and_bin_count_share_a_row() {
        let run = Run {
            name: "gm".into(),
            metrics: json!({"experiment": "global-model-attack", "config": {},
                "cases": [case(24, "equal-mass", 6, 0), case(24, "equal-mass", 10, 1),
                          case(24, "oracle-upper-bound", 24, 0)],
                "training": [{"parties": 3, "batch_size": 8, "epsilon": 1.5, "noise": "central",
                              "noise_multiplier": 0.496, "rounds": 300, "test_accuracy": 0.709,
                              "seconds": 3.1}]}),
        };
        let table = global_model_table(&[&run]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(
            lines[2].contains("24 (1·m)") && lines[2].contains("**8.0** [6–10]"),
            "{}",
            lines[2]
        );
        // m = 24, k = 24: 24·(23/24)^23 = 8.98; variance 24p + 552q − (24p)² with
        // q = (23/24)(22/24)^22; two seeds; measured mean 8.
        let m = 24.0f64;
        let p = (1.0 - 1.0 / m).powf(m - 1.0);
        let q = (1.0 - 1.0 / m) * (1.0 - 2.0 / m).powf(m - 2.0);
        let se = ((m * p + m * (m - 1.0) * q - (m * p).powi(2)) / 2.0).sqrt();
        let expected = format!("| {:.1} ± {se:.1} | {:+.1} |", m * p, (8.0 - m * p) / se);
        assert!(
            lines[2].contains(&expected),
            "{} lacks {expected}",
            lines[2]
        );
        assert!(lines[2].contains("| 2 |"), "{}", lines[2]);
        assert!(lines[3].contains("oracle") && lines[3].contains("**24.0** [24–24]"));
        let training = global_model_training_table(&[&run]);
        assert!(
            training.contains("| 1.5 | central | 0.496 | 300 | 1 | **70.90%** |"),
            "{training}"
        );
    }
}
