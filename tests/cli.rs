//! Exit codes and messages for bad input: always 2, one clear line, and no results file.

use std::path::Path;

use crate::common::{fixtures, ppml};

/// Runs `ppml run train` with `args` on the fixture and checks it fails with exit code 2, a
/// message containing `expect`, and no output folder at all.
pub(crate) fn rejects(args: &[&str], expect: &str) {
    rejects_run("train", args, expect)
}

/// [`rejects`] for any experiment.
pub(crate) fn rejects_run(experiment: &str, args: &[&str], expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let assert = ppml(dir.path())
        .args(["run", experiment, "--offline", "--out"])
        .arg(&out)
        .arg("--data-dir")
        .arg(fixtures())
        .args(args)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains(expect), "stderr lacks {expect:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists(), "a rejected run creates no output folder");
}

#[test]
fn unknown_dataset_exits_2() {
    rejects(&["--dataset", "cifar-10"], "cifar-10");
}

#[test]
fn missing_dataset_exits_2_and_names_the_fixes() {
    rejects(&["--dataset", "mnist"], "ppml data fetch mnist");
    rejects(&["--dataset", "emnist-letters"], "--dataset fashion-mnist");
}

#[test]
fn batch_size_zero_exits_2() {
    rejects(
        &["--dataset", "fashion-mnist", "--batch-size", "0"],
        "batch_size",
    );
}

#[test]
fn batch_larger_than_the_training_set_exits_2() {
    rejects(
        &["--dataset", "fashion-mnist", "--batch-size", "5000"],
        "larger than the training set",
    );
}

#[test]
fn non_positive_learning_rate_exits_2() {
    rejects(&["--dataset", "fashion-mnist", "--lr", "0"], "lr");
}

#[test]
fn missing_checkpoint_exits_2() {
    rejects(
        &[
            "--dataset",
            "fashion-mnist",
            "--quick",
            "--init-from",
            "nope.bpk",
        ],
        "nope.bpk",
    );
}

fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("c.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn config_with_an_unknown_key_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[data]\ndataset = \"fashion-mnist\"\n[train]\nepoch = 3\n",
    );
    rejects(&["--config", cfg.to_str().unwrap()], "epoch");
}

#[test]
fn an_old_flat_config_exits_2_naming_the_new_table_of_each_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "dataset = \"fashion-mnist\"\nmodel = \"mlp\"\nepochs = 3\nepsilon = 2.0\n",
    );
    rejects(
        &["--config", cfg.to_str().unwrap()],
        "uses the old flat layout; move `dataset` to [data], `model` to [model] kind, \
         `epochs` to [train], `epsilon` to [privacy]",
    );
    let mia = write_config(dir.path(), "members = 500\n[target]\nepochs = 3\n");
    rejects_run(
        "mia",
        &["--config", mia.to_str().unwrap()],
        "`members` to [membership], `target` to [run], [data], [model], [train] and [privacy]",
    );
    let federated = write_config(dir.path(), "parties = 4\naggregation = \"plain\"\n");
    rejects_run(
        "federated",
        &["--config", federated.to_str().unwrap()],
        "`parties` to [federated], `aggregation` to [aggregation] protocol",
    );
}

#[test]
fn missing_config_file_exits_2() {
    rejects(&["--config", "/nonexistent/c.toml"], "/nonexistent/c.toml");
}

#[test]
fn corrupt_idx_file_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fashion-mnist");
    std::fs::create_dir_all(&data).unwrap();
    for f in std::fs::read_dir(fixtures().join("fashion-mnist")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, data.join(f.file_name().unwrap())).unwrap();
    }
    // Truncate the training labels mid-file.
    let labels = data.join("train-labels-idx1-ubyte.gz");
    let raw = crate::common::gunzip(&labels);
    std::fs::remove_file(&labels).unwrap();
    std::fs::write(data.join("train-labels-idx1-ubyte"), &raw[..raw.len() - 10]).unwrap();

    let out = dir.path().join("out");
    let assert = ppml(dir.path())
        .args([
            "run",
            "train",
            "--offline",
            "--dataset",
            "fashion-mnist",
            "--quick",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains("train-labels-idx1-ubyte") && stderr.contains("truncated"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn data_check_lists_the_fixture_as_a_subset() {
    let dir = tempfile::tempdir().unwrap();
    let assert = ppml(dir.path())
        .args(["data", "check", "fashion-mnist", "--json", "--data-dir"])
        .arg(fixtures())
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let found = &v["found"][0];
    assert_eq!(found["train"], 3000);
    assert_eq!(found["test"], 1000);
    assert_eq!(found["complete"], false);
    let counts: Vec<u64> = serde_json::from_value(found["train_class_counts"].clone()).unwrap();
    assert_eq!(counts.iter().sum::<u64>(), 3000);
}

#[test]
fn bench_train_reports_throughput_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    ppml(dir.path())
        .args(["bench", "train", "--model", "mlp", "--backend", "flex"])
        .args([
            "--batch-size",
            "16",
            "--warmup",
            "1",
            "--steps",
            "3",
            "--json",
        ])
        .arg(&json)
        .assert()
        .success();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let row = &v["results"][0];
    assert_eq!(row["model"], "mlp");
    assert_eq!(row["timing"]["steps"], 3);
    assert!(row["timing"]["samples_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_with_zero_steps_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    ppml(dir.path())
        .args(["bench", "train", "--steps", "0"])
        .assert()
        .code(2);
}

#[test]
fn bench_dlg_reports_its_setup_and_figures_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("dlg.json");
    let assert = ppml(dir.path())
        .args(["bench", "dlg", "--batch", "1,2", "--seeds", "2"])
        .args([
            "--max-evals",
            "6",
            "--warmup",
            "1",
            "--evals",
            "3",
            "--json",
        ])
        .arg(&json)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(stdout.contains("flex batch 2: "), "{stdout}");
    assert!(stdout.contains("  seed 1: "), "{stdout}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["benchmark"], "dlg");
    assert_eq!(v["build_profile"], "debug");
    assert_eq!(v["setup"]["optimizer"]["history_size"], 100);
    let rows = v["results"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["settings"]["batch"], 2);
    assert_eq!(rows[1]["evaluation"]["evaluations"], 3);
    assert!(rows[1]["evaluation"]["median_ms"].as_f64().unwrap() > 0.0);
    let runs = rows[1]["attacks"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["seed"], 1);
    assert!(runs[1]["evals_total"].as_u64().unwrap() <= 6);
}

#[test]
fn bench_dlg_with_bad_settings_exits_2_and_names_the_flag() {
    for (flag, value, name) in [
        ("--batch", "0", "batch"),
        ("--batch", "17", "batch"),
        ("--evals", "0", "evals"),
        ("--max-evals", "0", "max_evals"),
        ("--seeds", "0", "seeds"),
        ("--threshold", "0", "threshold"),
        ("--threshold", "-1", "threshold"),
        ("--threshold", "NaN", "threshold"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("dlg.json");
        let assert = ppml(dir.path())
            .args(["bench", "dlg", flag, value, "--json"])
            .arg(&json)
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(
            stderr.contains(&format!("invalid {name} = ")),
            "{flag} {value}: {stderr}"
        );
        assert!(
            !json.exists(),
            "{flag} {value}: nothing is measured or written"
        );
    }
}
