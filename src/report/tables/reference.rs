//! The reference table: each published figure of the reference reproduction (on EMNIST
//! letters) beside what ppml measures for the same claim (on Fashion-MNIST here, the dataset
//! this machine has), with the run each figure comes from. The rows are found by what the runs
//! hold (a DP-SGD run at ε = 1.5, DLG on a batch of 7, …), not by their folder names.

use serde_json::Value;

use super::cell::{Summary, epsilon_value, pct, table};
use super::train::model_name;
use crate::report::runs::{Group, Run, groups};

/// The published figures, in the order of the claims (DESIGN: "Reference results").
const PUBLISHED: [(&str, &str); 8] = [
    ("DP-SGD test accuracy, ε = 1.5", "78%"),
    ("DP-SGD test accuracy, ε = 3", "82%"),
    ("the same model without DP", "90%"),
    ("DLG on one party's update, batch 1", "exact"),
    ("DLG on one party's update, batch of 7", "3 of 7"),
    (
        "DLG under secure aggregation (a party's masked upload)",
        "nothing",
    ),
    ("imprint attack through the secure aggregate", "all but one"),
    ("imprint attack, DP aggregate at ε = 1.5", "nothing"),
];

/// The table, with `–` where the results folder holds no run for a claim.
pub fn reference_table(runs: &[&Run]) -> String {
    let train = groups(runs, "train");
    let dp = |eps: f64| {
        train
            .iter()
            .find(|g| epsilon_value(&g.first().metrics["privacy"]["target_epsilon"]) == Some(eps))
    };
    let (dp15, dp3) = (dp(1.5), dp(3.0));
    // The non-private run of the DP runs' model.
    let dp_model = dp15
        .or(dp3)
        .map(|g| model_name(&g.first().metrics["config"]));
    let nodp = train.iter().find(|g| {
        g.first().metrics["privacy"].is_null()
            && Some(model_name(&g.first().metrics["config"])) == dp_model
    });
    let inversion = groups(runs, "gradient-inversion");
    let global = groups(runs, "global-model-attack");
    let measured: [Option<(String, String)>; 8] = [
        dp15.map(accuracy),
        dp3.map(accuracy),
        nodp.map(accuracy),
        dlg(&inversion, |c| is(c, 1, "plain", "party")),
        dlg(&inversion, |c| is(c, 7, "plain", "party")),
        dlg(&inversion, |c| {
            c["aggregation"] == "secagg" && c["target"] == "party"
        }),
        imprint_undefended(&global),
        imprint_at(&global, 1.5),
    ];
    let rows: Vec<Vec<String>> = PUBLISHED
        .iter()
        .zip(measured)
        .map(|(&(claim, published), m)| {
            let (figure, from) = m.unwrap_or(("–".into(), "no run".into()));
            vec![claim.into(), published.into(), figure, from]
        })
        .collect();
    table(
        &[
            "claim",
            "reference reproduction (EMNIST letters)",
            "ppml (this results folder: Fashion-MNIST)",
            "from",
        ],
        &rows,
    )
}

fn accuracy(group: &Group<'_>) -> (String, String) {
    let s = Summary::over(group.runs.iter().map(|r| &r.metrics), |m| {
        m["test_accuracy"].as_f64()
    });
    let seeds = if group.seeds() > 1 {
        format!(" ({} seeds)", group.seeds())
    } else {
        String::new()
    };
    (format!("**{}**{seeds}", pct(s)), group.label())
}

fn is(case: &Value, batch: u64, aggregation: &str, target: &str) -> bool {
    case["batch_size"].as_u64() == Some(batch)
        && case["aggregation"] == aggregation
        && case["target"] == target
}

/// Every case of `groups` (with its group) that `keep` selects.
fn cases<'g>(
    groups: &'g [Group<'g>],
    keep: impl Fn(&Value) -> bool,
) -> Option<(&'g Group<'g>, Vec<&'g Value>)> {
    groups.iter().find_map(|g| {
        let picked: Vec<&Value> = g.cases().filter(|c| keep(c)).collect();
        (!picked.is_empty()).then_some((g, picked))
    })
}

/// `3 of 21 at SSIM ≥ 0.6 (mean SSIM 0.41)`, over the DLG cases `keep` selects (no DP).
fn dlg(groups: &[Group<'_>], keep: impl Fn(&Value) -> bool) -> Option<(String, String)> {
    let (group, picked) = cases(groups, |c| {
        c["attack"] == "dlg" && epsilon_value(&c["epsilon"]) == Some(f64::INFINITY) && keep(c)
    })?;
    let sum = |field: &str| -> u64 { picked.iter().filter_map(|c| c[field].as_u64()).sum() };
    let ssim = Summary::over(picked.iter().copied(), |c| c["mean_ssim"].as_f64())?;
    Some((
        format!(
            "**{} of {}** at SSIM ≥ {} (mean SSIM {:.3})",
            sum("recovered"),
            sum("samples"),
            picked[0]["threshold"],
            ssim.mean
        ),
        group.label(),
    ))
}

fn imprint(case: &Value) -> bool {
    case["attack"].as_str().unwrap_or("imprint") == "imprint"
        && case["placement"].as_str() != Some("oracle-upper-bound")
}

/// The undefended imprint attack at its largest bin count for the smallest federation: the
/// setting closest to the reference's few parties with ample bins.
fn imprint_undefended(groups: &[Group<'_>]) -> Option<(String, String)> {
    let undefended = |c: &Value| epsilon_value(&c["epsilon"]) == Some(f64::INFINITY);
    // A run without DP at all, before the ε = ∞ baseline of a DP run.
    let no_dp: Vec<Group<'_>> = groups
        .iter()
        .filter(|g| g.cases().all(undefended))
        .cloned()
        .collect();
    let keep = |c: &Value| imprint(c) && undefended(c);
    let (group, picked) = cases(&no_dp, keep).or_else(|| cases(groups, keep))?;
    let m = |c: &Value| c["samples"].as_u64().unwrap_or(u64::MAX);
    let smallest = picked.iter().map(|c| m(c)).min()?;
    let k = picked
        .iter()
        .filter(|c| m(c) == smallest)
        .filter_map(|c| c["bins"].as_u64())
        .max()?;
    let chosen: Vec<&Value> = picked
        .iter()
        .copied()
        .filter(|c| m(c) == smallest && c["bins"].as_u64() == Some(k))
        .collect();
    let c = chosen[0];
    let exact: u64 = chosen.iter().filter_map(|c| c["exact"].as_u64()).sum();
    let total: u64 = chosen.iter().filter_map(|c| c["samples"].as_u64()).sum();
    Some((
        format!(
            "**{exact} of {total}** exact over {} seeds (n = {}, B = {}, k = {k})",
            chosen.len(),
            c["parties"],
            c["batch_size"]
        ),
        group.label(),
    ))
}

fn imprint_at(groups: &[Group<'_>], eps: f64) -> Option<(String, String)> {
    let (group, picked) = cases(groups, |c| {
        imprint(c) && epsilon_value(&c["epsilon"]) == Some(eps)
    })?;
    let sum = |field: &str| -> u64 { picked.iter().filter_map(|c| c[field].as_u64()).sum() };
    Some((
        format!(
            "**{} of {}** exact, {} at SSIM ≥ {}",
            sum("exact"),
            sum("samples"),
            sum("recovered"),
            picked[0]["threshold"]
        ),
        group.label(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_claim_finds_its_run_by_content_and_a_missing_one_says_so() {
        let train = |name: &str, eps: Value, acc: f64| Run {
            name: name.into(),
            metrics: json!({"experiment": "train", "test_accuracy": acc,
                "privacy": if eps.is_null() { Value::Null } else { json!({"target_epsilon": eps}) },
                "config": {"model": {"kind": "mlp", "mlp_hidden": [256], "activation": "relu"}}}),
        };
        let dlg = |b: u64, aggregation: &str, recovered: u64| {
            json!({"attack": "dlg", "batch_size": b, "aggregation": aggregation,
                   "target": "party", "epsilon": "inf", "samples": b, "recovered": recovered,
                   "mean_ssim": 0.5, "threshold": 0.6})
        };
        let gi = Run {
            name: "gi".into(),
            metrics: json!({"experiment": "gradient-inversion", "config": {},
                "cases": [dlg(1, "plain", 1), dlg(7, "plain", 3), dlg(1, "secagg", 0)]}),
        };
        let runs = [
            train("dp15", json!(1.5), 0.85),
            train("dp3", json!(3.0), 0.867),
            train("nodp", Value::Null, 0.888),
            gi,
        ];
        let table = reference_table(&runs.iter().collect::<Vec<_>>());
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 10, "{table}");
        assert!(
            lines[2].contains("| 78% | **85.00%** | `dp15` |"),
            "{}",
            lines[2]
        );
        assert!(lines[4].contains("**88.80%** | `nodp`"), "{}", lines[4]);
        assert!(
            lines[6].contains("**3 of 7** at SSIM ≥ 0.6"),
            "{}",
            lines[6]
        );
        assert!(lines[7].contains("**0 of 1**"), "{}", lines[7]);
        assert!(lines[9].ends_with("| – | no run |"), "{}", lines[9]);
    }
}
