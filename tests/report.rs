//! `ppml report`: the results tables from a folder of metrics.json files, spliced into
//! Markdown, and the summary plots.

use crate::common::{fixtures, ppml};
use ppml::report::tables::{BEGIN, END};
use serde_json::json;
use std::ffi::OsStr;
use std::path::Path;

/// `ppml report RESULTS ARGS…`, run in `dir`.
fn report(dir: &Path, results: &Path, args: &[&OsStr]) -> assert_cmd::assert::Assert {
    ppml(dir).arg("report").arg(results).args(args).assert()
}

#[test]
fn report_writes_the_table_into_the_markdown_and_check_detects_staleness() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    ppml(dir.path())
        .args([
            "run",
            "train",
            "--offline",
            "--dataset",
            "fashion-mnist",
            "--quick",
        ])
        .args(["--model", "mlp", "--data-dir"])
        .arg(fixtures())
        .arg("--out")
        .arg(results.join("mlp-quick"))
        .assert()
        .success();
    let readme = dir.path().join("R.md");
    std::fs::write(
        &readme,
        format!("# R\n{BEGIN}train -->\nstale\n{END}\nrest\n"),
    )
    .unwrap();

    // Stale: --check fails with exit 1 and changes nothing.
    let markdown = [OsStr::new("--markdown"), readme.as_os_str()];
    let check = |code: i32| {
        let args = [markdown[0], markdown[1], OsStr::new("--check")];
        report(dir.path(), &results, &args).code(code)
    };
    check(1);
    assert!(std::fs::read_to_string(&readme).unwrap().contains("stale"));

    report(dir.path(), &results, &markdown).success();
    let text = std::fs::read_to_string(&readme).unwrap();
    assert!(
        !text.contains("stale") && text.ends_with(&format!("{END}\nrest\n")),
        "{text}"
    );
    assert!(
        text.contains("`mlp-quick` (quick)") && text.contains("∞ (non-private)"),
        "{text}"
    );
    check(0);

    // A truncated metrics.json and another tool's are skipped by path, and the rest tabulated.
    let good = std::fs::read_to_string(results.join("mlp-quick/metrics.json")).unwrap();
    std::fs::create_dir_all(results.join("truncated")).unwrap();
    std::fs::write(
        results.join("truncated/metrics.json"),
        &good[..good.len() / 2],
    )
    .unwrap();
    std::fs::create_dir_all(results.join("foreign")).unwrap();
    std::fs::write(results.join("foreign/metrics.json"), r#"{"accuracy": 0.9}"#).unwrap();
    let assert = report(dir.path(), &results, &[]).success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stdout.contains("`mlp-quick` (quick)"), "{stdout}");
    for bad in ["truncated", "foreign"] {
        let path = results.join(bad).join("metrics.json");
        assert!(
            stderr.contains(&format!("skipped: {}", path.display())),
            "{bad}: {stderr}"
        );
        assert!(!stdout.contains(bad), "{stdout}");
    }
    check(0);
}

#[test]
fn report_on_a_folder_without_results_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let assert = report(dir.path(), Path::new("."), &[]).code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("no */metrics.json"), "{stderr}");
}

/// A folder whose only metrics.json is corrupt: exit 2, and the message names that file and
/// why it was skipped instead of claiming there is none.
#[test]
fn report_on_a_folder_of_unreadable_results_names_them_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("r/x")).unwrap();
    std::fs::write(dir.path().join("r/x/metrics.json"), r#"{"experiment": "tr"#).unwrap();
    let assert = report(dir.path(), &dir.path().join("r"), &[]).code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("no readable ppml result"), "{stderr}");
    assert!(stderr.contains("x/metrics.json"), "{stderr}");
}

/// A DP training run's metrics.json, as `ppml run train` writes its fields that tables read.
fn train_metrics(seed: u64, epsilon: Option<f64>, accuracy: f64) -> serde_json::Value {
    let privacy = epsilon.map_or(serde_json::Value::Null, |e| {
        json!({"epsilon": e, "target_epsilon": e, "delta": 1e-5, "accountant": "pld",
               "noise_multiplier": 1.8, "sample_rate": 0.034})
    });
    json!({"experiment": "train", "dataset": "fashion-mnist", "quick": false, "seed": seed,
           "steps": 1160, "test_accuracy": accuracy, "train_accuracy": 0.9, "privacy": privacy,
           "config": {"run": {"seed": seed},
                      "model": {"kind": "cnn", "cnn_channels": [16, 32], "cnn_dense": 32,
                                "activation": "tanh"}}})
}

fn write_run(results: &std::path::Path, name: &str, metrics: &serde_json::Value) {
    std::fs::create_dir_all(results.join(name)).unwrap();
    std::fs::write(results.join(name).join("metrics.json"), metrics.to_string()).unwrap();
}

#[test]
fn seeds_of_one_run_are_one_row_with_mean_and_std_and_blocks_select_their_runs() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    for (seed, acc) in [(0, 0.84), (1, 0.85), (2, 0.86)] {
        write_run(
            &results,
            &format!("dp-eps1.5-seed{seed}"),
            &train_metrics(seed, Some(1.5), acc),
        );
    }
    write_run(&results, "nodp-seed0", &train_metrics(0, None, 0.894));
    let readme = dir.path().join("R.md");
    std::fs::write(
        &readme,
        format!("a\n{BEGIN}train runs=dp-eps -->\n{END}\nb\n{BEGIN}reference -->\n{END}\n"),
    )
    .unwrap();
    let markdown = [OsStr::new("--markdown"), readme.as_os_str()];
    report(dir.path(), &results, &markdown).success();
    let text = std::fs::read_to_string(&readme).unwrap();
    // Mean 0.85, sample standard deviation 0.01, over 3 seeds; the filtered block has one row.
    assert!(
        text.contains("| `dp-eps1.5` | 3 | fashion-mnist | CNN 16/32/32 tanh | 1.500 (pld) |"),
        "{text}"
    );
    assert!(text.contains("**85.00 ± 1.00%**"), "{text}");
    assert!(!text.contains("`nodp`` | 1 | fashion"), "{text}");
    // The reference table finds the DP and non-private runs by what they hold.
    assert!(
        text.contains("| 78% | **85.00 ± 1.00%** (3 seeds) | `dp-eps1.5` |"),
        "{text}"
    );
    assert!(text.contains("| 90% | **89.40%** | `nodp` |"), "{text}");

    // A block whose runs are not in the folder: exit 2, naming the line, nothing rewritten.
    std::fs::write(&readme, format!("{BEGIN}mia -->\nold\n{END}\n")).unwrap();
    let assert = report(dir.path(), &results, &markdown).code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("line 1: no mia run"), "{stderr}");
    assert!(std::fs::read_to_string(&readme).unwrap().contains("old"));
}

#[test]
fn plots_are_written_for_what_the_folder_holds_and_the_rest_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    write_run(&results, "dp-eps1.5", &train_metrics(0, Some(1.5), 0.85));
    write_run(&results, "dp-eps3", &train_metrics(0, Some(3.0), 0.867));
    write_run(&results, "nodp", &train_metrics(0, None, 0.894));
    let plots = dir.path().join("plots");
    let assert = report(
        dir.path(),
        &results,
        &[OsStr::new("--plots"), plots.as_os_str()],
    )
    .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    let png = std::fs::read(plots.join("accuracy-vs-epsilon.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    for missing in [
        "mia-roc.png",
        "recovered-vs-bins.png",
        "mia-tpr-vs-epsilon.png",
    ] {
        assert!(!plots.join(missing).exists(), "{missing}");
        assert!(stdout.contains(&format!("no plot {missing}")), "{stdout}");
    }
}
