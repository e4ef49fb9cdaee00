//! Gradient inversion: per batch size, aggregation, attacked upload, attack and ε, how many of
//! the batch's images came back (SSIM at or above the run's threshold) over every case seed and
//! run seed, and how close the reconstructions are.

use serde_json::Value;

use super::cell::{Summary, epsilon_short, median, num, table_with_run_column};
use crate::report::runs::{Run, groups};

/// What the server attacked: one party's upload or the sum.
fn attacked(case: &Value, parties: &Value) -> String {
    match (case["target"].as_str(), case["aggregation"].as_str()) {
        (Some("sum"), _) => format!("the sum of {parties}"),
        (Some("party"), Some("secagg")) => "one party's masked upload".into(),
        (Some("party"), _) => "one party's update".into(),
        (other, _) => other.unwrap_or("?").to_string(),
    }
}

/// The cases of one row: the same batch size, aggregation, target, attack and ε.
fn row_key(case: &Value) -> String {
    format!(
        "{}|{}|{}|{}|{}",
        case["batch_size"], case["aggregation"], case["target"], case["attack"], case["epsilon"]
    )
}

/// The table of every gradient-inversion run's cases, one row per case kind.
pub fn gradient_inversion_table(runs: &[&Run]) -> String {
    let groups = groups(runs, "gradient-inversion");
    let several = groups.len() > 1;
    let mut rows = Vec::new();
    for group in &groups {
        let first = &group.first().metrics;
        let parties = &first["config"]["inversion"]["parties"];
        for same in group.cases_by(row_key) {
            let c = same[0];
            let sum = |field: &str| -> u64 { same.iter().filter_map(|c| c[field].as_u64()).sum() };
            let per_seed: Vec<String> = same
                .iter()
                .map(|c| format!("{}/{}", c["recovered"], c["samples"]))
                .collect();
            let per_seed = if per_seed.len() > 10 {
                format!("{}, …", per_seed[..10].join(", "))
            } else {
                per_seed.join(", ")
            };
            let psnr = median(
                same.iter()
                    .filter_map(|c| c["psnr_of_mean_mse"].as_f64())
                    .collect(),
            );
            let seconds = median(same.iter().filter_map(|c| c["seconds"].as_f64()).collect());
            let mut row = vec![group.label()];
            row.extend([
                c["batch_size"].to_string(),
                c["aggregation"].as_str().unwrap_or("?").to_string(),
                attacked(c, parties),
                c["attack"].as_str().unwrap_or("?").to_string(),
                epsilon_short(&c["epsilon"]),
                format!("**{} of {}**", sum("recovered"), sum("samples")),
                per_seed,
                num(
                    Summary::over(same.iter().copied(), |c| c["mean_ssim"].as_f64()),
                    3,
                ),
                psnr.map_or("–".into(), |p| format!("{p:.0} dB")),
                num(
                    Summary::over(same.iter().copied(), |c| c["label_count_accuracy"].as_f64()),
                    2,
                ),
                seconds.map_or("–".into(), |s| format!("{s:.2}")),
            ]);
            rows.push(row);
        }
    }
    // The threshold is a config key; every run here is expected to share it.
    let threshold = runs
        .iter()
        .filter(|r| r.experiment() == "gradient-inversion")
        .find_map(|r| r.metrics["cases"][0]["threshold"].as_f64())
        .map_or("threshold".into(), |t| t.to_string());
    let recovered = format!("recovered (SSIM ≥ {threshold})");
    let header = [
        "run",
        "batch",
        "aggregation",
        "attacked",
        "attack",
        "ε",
        recovered.as_str(),
        "per case seed",
        "mean SSIM",
        "PSNR of mean MSE (median)",
        "label counts right",
        "seconds (median)",
    ];
    table_with_run_column(several, &header, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn case(b: u64, aggregation: &str, target: &str, recovered: u64, ssim: f64) -> Value {
        let samples = if target == "sum" { 4 * b } else { b };
        json!({"batch_size": b, "aggregation": aggregation, "target": target, "attack": "dlg",
               "epsilon": "inf", "samples": samples, "recovered": recovered, "mean_ssim": ssim,
               "psnr_of_mean_mse": 40.0, "label_count_accuracy": 1.0, "seconds": 0.5,
               "threshold": 0.6})
    }

    #[test]
    fn cases_of_one_kind_add_up_over_case_and_run_seeds() {
        let run = |name: &str, seed: u64, cases: Vec<Value>| Run {
            name: name.into(),
            metrics: json!({"experiment": "gradient-inversion", "seed": seed,
                            "config": {"run": {"seed": seed}, "inversion": {"parties": 4}},
                            "cases": cases}),
        };
        let runs = [
            run(
                "gi-seed0",
                0,
                vec![
                    case(7, "plain", "party", 3, 0.5),
                    case(1, "secagg", "party", 0, 0.1),
                ],
            ),
            run(
                "gi-seed1",
                1,
                vec![
                    case(7, "plain", "party", 5, 0.7),
                    case(1, "secagg", "sum", 4, 0.9),
                ],
            ),
        ];
        let table = gradient_inversion_table(&runs.iter().collect::<Vec<_>>());
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5, "{table}");
        assert!(lines[0].contains("recovered (SSIM ≥ 0.6)"), "{}", lines[0]);
        assert!(
            lines[2].contains("**8 of 14**") && lines[2].contains("3/7, 5/7"),
            "{}",
            lines[2]
        );
        assert!(lines[2].contains("0.600 ± 0.141") && lines[2].contains("one party's update"));
        assert!(lines[3].contains("one party's masked upload") && lines[3].contains("**0 of 1**"));
        assert!(
            lines[4].contains("the sum of 4") && lines[4].contains("**4 of 4**"),
            "{}",
            lines[4]
        );
    }
}
