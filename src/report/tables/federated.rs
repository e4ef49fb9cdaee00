//! Federated learning runs: the aggregation protocol, the global model's accuracy after its
//! rounds, and what the protocol costs per party and round.

use serde_json::Value;

use super::cell::{Summary, median, pct, table};
use crate::report::runs::{Run, groups};

/// `secagg (t = 2)`, `plain`.
fn protocol(config: &Value) -> String {
    let a = &config["aggregation"];
    match a["protocol"].as_str() {
        Some(p @ ("secagg" | "secagg+")) => format!("`{p}` (t = {})", a["threshold"]),
        Some(p) => format!("`{p}`"),
        None => "?".into(),
    }
}

/// One row per group of seeds.
pub fn federated_table(runs: &[&Run]) -> String {
    let mut rows = Vec::new();
    for group in groups(runs, "federated") {
        let first = &group.first().metrics;
        let f = &first["config"]["federated"];
        let accuracy = Summary::over(group.runs.iter().map(|r| &r.metrics), |m| {
            m["test_accuracy"].as_f64()
        });
        // The protocol's own time per round, over every round of every seed.
        let per_round = median(
            group
                .runs
                .iter()
                .flat_map(|r| r.metrics["history"].as_array().into_iter().flatten())
                .filter_map(|h| h["aggregation_seconds"].as_f64())
                .collect(),
        );
        rows.push(vec![
            group.label(),
            protocol(&first["config"]),
            group.seeds().to_string(),
            f["parties"].to_string(),
            f["rounds"].to_string(),
            format!("**{}**", pct(accuracy)),
            first["bytes_per_party_per_round"]
                .as_f64()
                .map_or("–".into(), |b| format!("{:.0} kB", b / 1000.0)),
            per_round.map_or("–".into(), |s| format!("{:.1} ms", 1000.0 * s)),
        ]);
    }
    table(
        &[
            "run",
            "aggregation",
            "seeds",
            "parties",
            "rounds",
            "test accuracy",
            "bytes per party per round",
            "protocol time per round (median)",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_row_per_protocol_with_accuracy_over_seeds() {
        let run = |name: &str, seed: u64, acc: f64| Run {
            name: name.into(),
            metrics: json!({"experiment": "federated", "seed": seed, "test_accuracy": acc,
                "bytes_per_party_per_round": 104856,
                "history": [{"aggregation_seconds": 0.0018}, {"aggregation_seconds": 0.0020}],
                "config": {"run": {"seed": seed},
                           "federated": {"parties": 3, "rounds": 30},
                           "aggregation": {"protocol": "secagg", "threshold": 2}}}),
        };
        let runs = [run("f-seed0", 0, 0.81), run("f-seed1", 1, 0.83)];
        let table = federated_table(&runs.iter().collect::<Vec<_>>());
        let row = table.lines().nth(2).unwrap();
        assert_eq!(
            row,
            "| `f` | `secagg` (t = 2) | 2 | 3 | 30 | **82.00 ± 1.41%** | 105 kB | 1.9 ms |"
        );
    }
}
