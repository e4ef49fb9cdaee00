//! `ppml run federated` on the real-data fixture: the three protocols train the same model, a
//! SecAgg round survives dropouts, and impossible settings exit 2.

use crate::common::{fixtures, metrics, ppml};

fn federated(dir: &std::path::Path, name: &str, args: &[&str]) -> assert_cmd::assert::Assert {
    ppml(dir)
        .args([
            "run",
            "federated",
            "--offline",
            "--dataset",
            "fashion-mnist",
            "--quick",
        ])
        .args(["--model", "mlp", "--data-dir"])
        .arg(fixtures())
        .arg("--out")
        .arg(dir.join(name))
        .args(args)
        .assert()
}

#[test]
fn every_protocol_trains_the_same_model_and_only_traffic_differs() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for agg in ["plain", "additive", "secagg"] {
        federated(dir.path(), agg, &["--aggregation", agg, "--parties", "4"]).success();
        runs.push(metrics(&dir.path().join(agg)));
    }
    let accuracy = |m: &serde_json::Value| m["test_accuracy"].as_f64().unwrap();
    // The decoded sums are the same, so the global models are too.
    assert_eq!(accuracy(&runs[0]), accuracy(&runs[1]));
    assert_eq!(accuracy(&runs[0]), accuracy(&runs[2]));
    assert!(accuracy(&runs[0]) > 0.3, "{}", accuracy(&runs[0]));
    let bytes = |m: &serde_json::Value| m["bytes_per_party_per_round"].as_f64().unwrap();
    // Additive sharing sends n shares of the whole vector; SecAgg one masked vector and keys.
    assert!(
        bytes(&runs[1]) > 3.0 * bytes(&runs[2]),
        "{} {}",
        bytes(&runs[1]),
        bytes(&runs[2])
    );
    assert!(bytes(&runs[2]) > bytes(&runs[0]));
    assert_eq!(runs[2]["party_examples"].as_array().unwrap().len(), 4);
    assert_eq!(runs[2]["history"].as_array().unwrap().len(), 3);
}

#[test]
fn secagg_rounds_survive_dropouts_and_additive_rounds_abort() {
    let dir = tempfile::tempdir().unwrap();
    federated(dir.path(), "drop", &["--parties", "5", "--dropouts", "2"]).success();
    let m = metrics(&dir.path().join("drop"));
    for round in m["history"].as_array().unwrap() {
        assert_eq!(
            round["contributors"].as_array().unwrap().len(),
            3,
            "{round}"
        );
    }
    let assert = federated(
        dir.path(),
        "additive",
        &[
            "--parties",
            "3",
            "--dropouts",
            "1",
            "--aggregation",
            "additive",
        ],
    )
    .failure();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        !stderr.contains("panicked") && stderr.contains("error"),
        "{stderr}"
    );
    assert!(!dir.path().join("additive").join("metrics.json").exists());
}

#[test]
fn impossible_federated_settings_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expect) in [
        (
            &["--parties", "3", "--dropouts", "3"][..],
            "dropouts_per_round",
        ),
        (&["--parties", "4", "--threshold", "2"], "threshold"),
        (&["--parties", "3", "--threshold", "4"], "threshold"),
        (&["--rounds", "0"], "rounds"),
    ] {
        let assert = federated(dir.path(), "bad", args).code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(stderr.to_lowercase().contains(expect), "{args:?}: {stderr}");
        assert!(!dir.path().join("bad").exists());
    }
}
