//! Privacy audits: per claimed ε, the empirical lower bounds (Steinke, Nasr & Jagielski 2023's
//! one-run audit; the f-DP bound of Mahloujifar et al. 2024) and whether one exceeds the claim,
//! for correct runs and for the positive controls that break DP-SGD on purpose.

use serde_json::Value;

use super::cell::{Summary, broken_on_purpose, epsilon, num, pct, table};
use crate::report::runs::{Group, Run, groups};

/// One row per privacy level of each audit run (a group of seeds shares its rows).
pub fn audit_table(runs: &[&Run]) -> String {
    let mut rows = Vec::new();
    for group in groups(runs, "audit") {
        rows.extend(group_rows(&group));
    }
    table(
        &[
            "audit run",
            "broken on purpose",
            "canaries",
            "seeds",
            "claimed ε (PLD / RDP)",
            "σ",
            "Steinke et al.",
            "f-DP",
            "f-DP (μ-GDP)",
            "fraction of claimed",
            "verdict",
            "test accuracy",
        ],
        &rows,
    )
}

fn group_rows(group: &Group<'_>) -> Vec<Vec<String>> {
    let first = &group.first().metrics;
    let audit = &first["config"]["audit"];
    let broken = broken_on_purpose(audit).unwrap_or("–").to_string();
    let canaries = format!(
        "{} {}",
        first["canaries"],
        audit["canary_kind"].as_str().unwrap_or("?")
    );
    let Some(levels) = first["levels"].as_array() else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for (i, level) in levels.iter().enumerate() {
        let same: Vec<&Value> = group
            .runs
            .iter()
            .filter_map(|r| r.metrics["levels"].get(i))
            .collect();
        let over = |f: &dyn Fn(&Value) -> Option<f64>| Summary::over(same.iter().copied(), f);
        let p = &level["privacy"];
        let above = same.iter().filter(|l| l["contradiction"] == true).count();
        let verdict = match (above, broken.as_str()) {
            (0, "–") => "within the claim".to_string(),
            (0, _) => "control missed".to_string(),
            (n, "–") => format!("**above the claim** ({n} of {})", same.len()),
            (n, _) => format!("control caught ({n} of {})", same.len()),
        };
        rows.push(vec![
            group.label(),
            broken.clone(),
            canaries.clone(),
            group.seeds().to_string(),
            format!(
                "{} / {}",
                epsilon(&p["epsilon"], 3),
                epsilon(&p["epsilon_rdp"], 3)
            ),
            super::cell::json_num(&p["noise_multiplier"], 3),
            num(over(&|l| l["epsilon_steinke"].as_f64()), 3),
            format!("**{}**", num(over(&|l| l["fdp"]["epsilon"].as_f64()), 3)),
            num(over(&|l| l["epsilon_gdp"].as_f64()), 3),
            pct(over(&|l| l["fraction_of_claimed"].as_f64())),
            verdict,
            pct(over(&|l| l["test_accuracy"].as_f64())),
        ]);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn level(eps: f64, fdp: f64, contradiction: bool) -> Value {
        json!({"privacy": {"epsilon": eps, "epsilon_rdp": eps * 1.1, "noise_multiplier": 1.0},
               "epsilon_steinke": fdp * 0.7, "fdp": {"epsilon": fdp}, "epsilon_gdp": fdp,
               "fraction_of_claimed": fdp / eps, "contradiction": contradiction,
               "test_accuracy": 0.83})
    }

    #[test]
    fn a_positive_control_above_its_claim_is_caught_and_a_correct_run_is_within() {
        let run = |name: &str, broken: Value, levels: Vec<Value>| Run {
            name: name.into(),
            metrics: json!({"experiment": "audit", "canaries": 1000,
                "config": {"audit": {"canary_kind": "gradient", "audit_break": broken}},
                "levels": levels}),
        };
        let runs = [
            run("ok", Value::Null, vec![level(1.0, 0.48, false)]),
            run(
                "noise",
                json!("noise"),
                vec![level(1.0, 5.4, true), level(8.0, 4.9, false)],
            ),
        ];
        let table = audit_table(&runs.iter().collect::<Vec<_>>());
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5, "{table}");
        assert!(lines[2].contains("within the claim") && lines[2].contains("**0.480**"));
        assert!(lines[2].contains("1000 gradient") && lines[2].contains("1.000 / 1.100"));
        assert!(lines[3].contains("control caught (1 of 1)") && lines[3].contains("| noise |"));
        assert!(lines[4].contains("control missed"), "{}", lines[4]);
    }
}
