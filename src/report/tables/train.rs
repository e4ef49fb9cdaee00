//! Training runs, non-private and DP-SGD: the model, the privacy spent, the accuracy.

use serde_json::Value;

use super::cell::{Summary, epsilon, json_num, pct, table};
use crate::report::runs::{Group, Run, groups};

/// `CNN 16/32/32 tanh`, `MLP [256] relu`: a run's `[model]` table in a few words. Runs written
/// before the config tables had its keys at the top of `config`, with the family under `model`.
pub fn model_name(config: &Value) -> String {
    let c = match &config["model"] {
        Value::Object(_) => &config["model"],
        _ => config,
    };
    let kind = if c["kind"].is_string() {
        &c["kind"]
    } else {
        &c["model"]
    };
    let activation = c["activation"].as_str().unwrap_or("?");
    match kind.as_str() {
        Some("cnn") => format!(
            "CNN {}/{}/{} {activation}",
            c["cnn_channels"][0], c["cnn_channels"][1], c["cnn_dense"],
        ),
        Some("mlp") => format!("MLP {} {activation}", c["mlp_hidden"]),
        Some(other) => other.to_string(),
        None => "?".into(),
    }
}

/// The training runs' table: one row per group of seeds.
pub fn train_table(runs: &[&Run]) -> String {
    let rows: Vec<Vec<String>> = groups(runs, "train").iter().map(row).collect();
    table(
        &[
            "run",
            "seeds",
            "dataset",
            "model",
            "ε (δ = 1e-5 unless noted)",
            "σ",
            "q",
            "steps",
            "test accuracy",
            "train accuracy",
        ],
        &rows,
    )
}

fn row(group: &Group<'_>) -> Vec<String> {
    let m = &group.first().metrics;
    let p = &m["privacy"];
    let (eps, sigma, q) = if p.is_null() {
        ("∞ (non-private)".to_string(), "–".into(), "–".into())
    } else {
        let delta = p["delta"].as_f64().unwrap_or(f64::NAN);
        let note = if delta == 1e-5 {
            String::new()
        } else {
            format!(" (δ = {delta:e})")
        };
        (
            format!(
                "{} ({}){note}",
                epsilon(&p["epsilon"], 3),
                p["accountant"].as_str().unwrap_or("?")
            ),
            json_num(&p["noise_multiplier"], 4),
            json_num(&p["sample_rate"], 5),
        )
    };
    let metrics = group.runs.iter().map(|r| &r.metrics);
    let test = Summary::over(metrics.clone(), |m| m["test_accuracy"].as_f64());
    let train = Summary::over(metrics, |m| m["train_accuracy"].as_f64());
    vec![
        group.label(),
        group.seeds().to_string(),
        m["dataset"].as_str().unwrap_or("?").to_string(),
        model_name(&m["config"]),
        eps,
        sigma,
        q,
        json_num(&m["steps"], 0),
        format!("**{}**", pct(test)),
        pct(train),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(name: &str, seed: u64, accuracy: f64, privacy: Value) -> Run {
        Run {
            name: name.into(),
            metrics: json!({
                "experiment": "train", "dataset": "fashion-mnist", "quick": false, "steps": 10,
                "seed": seed, "test_accuracy": accuracy, "train_accuracy": 0.87,
                "privacy": privacy,
                "config": {"run": {"seed": seed}, "model": "cnn", "cnn_channels": [16, 32],
                           "cnn_dense": 32, "activation": "tanh"}
            }),
        }
    }

    #[test]
    fn runs_of_both_config_layouts_describe_their_model_alike() {
        let old = run("a", 0, 0.9, Value::Null);
        let mut new = old.clone();
        new.metrics["config"] = json!({
            "model": {"kind": "cnn", "cnn_channels": [16, 32], "cnn_dense": 32, "activation": "tanh"}
        });
        let table = train_table(&[&old]);
        assert!(table.contains("CNN 16/32/32 tanh"), "{table}");
        assert_eq!(table, train_table(&[&new]));
    }

    #[test]
    fn rows_show_epsilon_sigma_and_accuracy() {
        let dp = json!({"epsilon": 2.9996, "delta": 1e-5, "accountant": "pld",
                        "noise_multiplier": 1.8, "sample_rate": 0.0341});
        let runs = [run("a", 0, 0.8612, Value::Null), run("b", 0, 0.8, dp)];
        let table = train_table(&runs.iter().collect::<Vec<_>>());
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[2].contains("∞ (non-private)") && lines[2].contains("**86.12%**"));
        assert!(lines[3].contains("3.000 (pld)") && lines[3].contains("1.8000"));
        assert!(lines[3].contains("CNN 16/32/32 tanh"), "{}", lines[3]);
    }

    #[test]
    fn seeds_of_one_run_become_one_row_with_mean_and_spread() {
        let runs = [
            run("dp-seed0", 0, 0.86, Value::Null),
            run("dp-seed1", 1, 0.88, Value::Null),
        ];
        let table = train_table(&runs.iter().collect::<Vec<_>>());
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[2].starts_with("| `dp` | 2 |"), "{}", lines[2]);
        assert!(lines[2].contains("**87.00 ± 1.41%**"), "{}", lines[2]);
    }
}
