//! `ppml run federated` on the real-data fixture: the three protocols train the same model, a
//! SecAgg round survives dropouts, impossible settings exit 2 and an aborted round exits 1.

use crate::cli::rejects_run;
use crate::common::{fixtures, metrics, ppml};

fn federated(dir: &std::path::Path, name: &str, args: &[&str]) -> assert_cmd::assert::Assert {
    federated_model(dir, name, "mlp", args)
}

/// A `--quick` federated run of `model` on the fixture, into `dir/name`.
fn federated_model(
    dir: &std::path::Path,
    name: &str,
    model: &str,
    args: &[&str],
) -> assert_cmd::assert::Assert {
    ppml(dir)
        .args([
            "run",
            "federated",
            "--offline",
            "--dataset",
            "fashion-mnist",
            "--quick",
        ])
        .args(["--model", model, "--data-dir"])
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
    // metrics.json holds the values used: plain has no threshold or graph (null), additive
    // sharing needs all n = 4, SecAgg defaulted to a majority over all pairs (k = n − 1 = 3).
    let used = |m: &serde_json::Value| {
        (
            m["config"]["aggregation"]["threshold"].clone(),
            m["config"]["aggregation"]["neighbours"].clone(),
        )
    };
    assert_eq!(
        used(&runs[0]),
        (serde_json::Value::Null, serde_json::Value::Null)
    );
    assert_eq!(used(&runs[1]), (4.into(), serde_json::Value::Null));
    assert_eq!(used(&runs[2]), (3.into(), 3.into()));
    assert_eq!(runs[2]["encoding"]["ring_bits"], 32);
    assert!(runs[2]["encoding"]["step"].as_f64().unwrap() < 1e-8);
}

#[test]
fn secagg_rounds_survive_dropouts_and_additive_rounds_abort() {
    let dir = tempfile::tempdir().unwrap();
    federated(dir.path(), "drop", &["--parties", "5", "--dropouts", "2"]).success();
    let m = metrics(&dir.path().join("drop"));
    assert_eq!(
        m["config"]["aggregation"]["threshold"], 3,
        "{}",
        m["config"]
    );
    assert_eq!(
        m["config"]["aggregation"]["neighbours"], 4,
        "{}",
        m["config"]
    );
    for round in m["history"].as_array().unwrap() {
        assert_eq!(
            round["contributors"].as_array().unwrap().len(),
            3,
            "{round}"
        );
    }
    // n-of-n additive sharing: one dropout aborts the round. The settings were valid, so this
    // is a failed run (exit 1) that says why, not a configuration error (exit 2).
    aborts_federated(
        &[
            "--parties",
            "3",
            "--dropouts",
            "1",
            "--aggregation",
            "additive",
        ],
        "additive secret sharing needs every party, so the round is aborted",
    );
}

/// `ppml run federated` on the fixture, quick, with the MLP: the run starts, a round aborts,
/// and the command exits 1 with `expect` on stderr and writes no results.
fn aborts_federated(args: &[&str], expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    let assert = federated(dir.path(), "aborted", args).code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains(expect), "stderr lacks {expect:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!dir.path().join("aborted").join("metrics.json").exists());
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

/// [`rejects_run`] for `ppml run federated` on the fixture, quick, with the MLP.
fn rejects_federated(args: &[&str], expect: &str) {
    let mut all = vec!["--dataset", "fashion-mnist", "--quick", "--model", "mlp"];
    all.extend_from_slice(args);
    rejects_run("federated", &all, expect);
}

/// A config file holding `text`, in a folder kept alive by the returned guard.
fn config(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap().to_string();
    (dir, path)
}

#[test]
fn zero_parties_is_blamed_on_parties_not_dropouts() {
    rejects_federated(
        &["--parties", "0"],
        "invalid parties = 0: must be at least 1",
    );
    rejects_federated(
        &["--parties", "0", "--aggregation", "plain"],
        "invalid parties = 0: must be at least 1",
    );
}

#[test]
fn bad_partition_parameters_are_named() {
    for (text, expect) in [
        (
            "[federated]\npartition = { kind = \"shards\", per_party = 0 }",
            "invalid partition.per_party = 0: must be at least 1",
        ),
        (
            // 3 × 1000 shards, but --quick keeps 2,000 training examples.
            "[federated]\npartition = { kind = \"shards\", per_party = 1000 }",
            "3 parties × partition.per_party = 1000 = 3000 label shards",
        ),
        (
            "[federated]\npartition = { kind = \"dirichlet\", alpha = 0.0 }",
            "invalid partition.alpha = 0",
        ),
        (
            "[federated]\npartition = { kind = \"dirichlet\", alpha = -1.5 }",
            "invalid partition.alpha = -1.5",
        ),
        (
            "[federated]\npartition = { kind = \"dirichlet\", alpha = nan }",
            "invalid partition.alpha = NaN",
        ),
    ] {
        let (_guard, path) = config(text);
        rejects_federated(&["--config", &path], expect);
    }
    let (_guard, path) = config("[federated]\npartition = { kind = \"shards\", per_party = 1000 }");
    rejects_federated(&["--config", &path], "2000 training examples");
}

#[test]
fn a_clip_range_the_encoding_cannot_carry_exits_2() {
    for (range, expect) in [
        ("1e-300", "clip_range = 1e-300 is too small"),
        ("1e300", "clip_range = 1e300 is too large"),
        ("1e8", "clip_range = 1e8 is too large"),
    ] {
        let (_guard, path) = config(&format!("[aggregation]\nclip_range = {range}"));
        rejects_federated(&["--config", &path], expect);
        // The message states the usable range for the 3 default parties.
        rejects_federated(
            &["--config", &path],
            "usable clip_range is 8.415e-30 to 7.158e6",
        );
    }
}

#[test]
fn one_party_is_ordinary_training_in_plain_and_refused_by_secure_aggregation() {
    let dir = tempfile::tempdir().unwrap();
    federated(
        dir.path(),
        "one",
        &["--parties", "1", "--aggregation", "plain", "--rounds", "1"],
    )
    .success();
    let m = metrics(&dir.path().join("one"));
    assert_eq!(m["party_examples"].as_array().unwrap().len(), 1);
    assert!(
        m["config"]["aggregation"]["threshold"].is_null(),
        "{}",
        m["config"]
    );
    for agg in ["additive", "secagg"] {
        rejects_federated(
            &["--parties", "1", "--aggregation", agg],
            &format!("invalid parties = 1: aggregation = {agg} with a single party hides nothing"),
        );
    }
}

#[test]
fn a_batch_larger_than_a_party_shard_exits_2() {
    // --quick keeps 2,000 examples: IID shards of 667, 667 and 666.
    rejects_federated(
        &["--parties", "3", "--batch-size", "667"],
        "invalid batch_size = 667: larger than party 2's shard (666 examples",
    );
    rejects_federated(
        &[
            "--parties",
            "3",
            "--batch-size",
            "700",
            "--algorithm",
            "fed-sgd",
        ],
        "party 2's shard (666 examples",
    );
}

#[test]
fn an_aborted_round_exits_1_and_counts_one_party_in_the_singular() {
    // SecAgg with 3 parties defaults to t = 2; two dropouts leave one: valid settings, an
    // aborted round.
    aborts_federated(
        &["--parties", "3", "--dropouts", "2"],
        "only 1 party left at masked-input, below the threshold t = 2",
    );
}

#[test]
fn lenet_federates_over_secure_aggregation_and_learns() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--aggregation", "secagg", "--parties", "3"];
    federated_model(dir.path(), "lenet", "lenet", &args).success();
    let out = dir.path().join("lenet");
    let m = metrics(&out);
    assert_eq!(m["config"]["model"]["kind"], "lenet");
    // DLG's widths: 12·1·25 + 12, twice 12·12·25 + 12, 588·10 + 10.
    assert_eq!(m["parameters"], 300 + 12 + 2 * (3600 + 12) + 5880 + 10);
    let accuracy = m["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.3, "{accuracy}");
}
