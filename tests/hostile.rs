//! Hostile input: boundary and huge values, unwritable outputs, closed pipes, diverging runs.
//! Every case ends with exit 0, 1 or 2, never a panic or an abort, and never a half-written
//! output folder.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::cli::{rejects, rejects_run};
use crate::common::{fixtures, metrics, ppml};

const HUGE: &str = "18446744073709551615";

/// Runs `ppml <args>` on the fixture (for `run` commands), returning (exit code, stderr).
fn exit_of(dir: &Path, args: &[&str]) -> (i32, String) {
    let mut cmd = ppml(dir);
    cmd.args(args).timeout(Duration::from_secs(300));
    if args.first() == Some(&"run") {
        cmd.args(["--offline", "--dataset", "fashion-mnist", "--data-dir"])
            .arg(fixtures())
            .arg("--out")
            .arg(dir.join("out"));
    }
    let out = cmd.output().expect("ppml runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out.status.code().unwrap_or(-1), stderr)
}

/// Feeds each flag a huge, a negative and a non-number-like extreme value; every answer must be
/// a clean exit (0, 1 or 2) without a panic, an abort or a hang.
fn every_value_is_answered(command: &[&str], flags: &[(&str, &[&str])]) {
    for (flag, values) in flags {
        for value in *values {
            let dir = tempfile::tempdir().unwrap();
            let mut args: Vec<&str> = command.to_vec();
            args.extend([*flag, *value]);
            let (code, stderr) = exit_of(dir.path(), &args);
            assert!(
                matches!(code, 0..=2) && !stderr.contains("panicked"),
                "{args:?} -> exit {code}: {stderr}"
            );
        }
    }
}

/// A membership-inference run of a few seconds on the fixture.
const QUICK_MIA: &[&str] = &[
    "run",
    "mia",
    "--quick",
    "--model",
    "mlp",
    "--members",
    "200",
    "--public",
    "200",
    "--bootstrap",
    "10",
];

const COUNT: &[&str] = &[HUGE, "1000000000", "-1"];
const REAL: &[&str] = &["1e308", "-1", "1e-308"];

#[test]
fn run_train_answers_huge_values_of_every_numeric_flag() {
    every_value_is_answered(
        &["run", "train", "--quick", "--model", "mlp"],
        &[
            ("--seed", &[HUGE]),
            ("--mlp-hidden", COUNT),
            ("--cnn-dense", COUNT),
            (
                "--cnn-channels",
                &["18446744073709551615,1", "100000,100000"],
            ),
            ("--epochs", COUNT),
            ("--batch-size", COUNT),
            ("--lr", REAL),
            ("--momentum", REAL),
            ("--train-limit", &[HUGE, "-1"]),
            ("--test-limit", &[HUGE, "-1"]),
            ("--epsilon", &["1e308", "-1", "1e-308"]),
            ("--delta", REAL),
            ("--clip-norm", REAL),
            ("--noise-multiplier", &["1e308", "-1", "1e-308"]),
        ],
    );
}

#[test]
fn run_mia_answers_huge_values_of_every_numeric_flag() {
    every_value_is_answered(
        QUICK_MIA,
        &[
            ("--seed", &[HUGE]),
            ("--shadows", COUNT),
            ("--members", COUNT),
            ("--public", COUNT),
            ("--alpha", &["1e308", "-1", "1e-308"]),
            ("--bootstrap", COUNT),
            ("--epochs", COUNT),
            ("--batch-size", COUNT),
            ("--epsilon", &["1e308", "-1"]),
            ("--delta", REAL),
            ("--clip-norm", &["-1"]),
            ("--noise-multiplier", &["-1", "1e-308"]),
            ("--canaries", COUNT),
        ],
    );
}

#[test]
fn run_audit_answers_huge_values_of_every_numeric_flag() {
    // One claimed ε (each level is a training run), calibrated by RDP (milliseconds, where
    // the PLD's calibration takes seconds).
    let quick = [
        "run",
        "audit",
        "--quick",
        "--epochs",
        "1",
        "--accountant",
        "rdp",
    ];
    every_value_is_answered(
        &[&quick[..], &["--epsilon", "2"]].concat(),
        &[
            ("--seed", &[HUGE]),
            ("--canaries", COUNT),
            ("--guesses", &[HUGE, "-1", "0"]),
            ("--confidence", REAL),
            ("--delta", REAL),
            ("--clip-norm", REAL),
            ("--batch-size", COUNT),
            ("--lr", &["1e308"]),
            ("--train-limit", &[HUGE, "-1"]),
        ],
    );
    every_value_is_answered(&quick, &[("--epsilon", &["1e308", "-1", "1e-308"])]);
}

#[test]
fn run_global_model_attack_answers_huge_values_of_every_numeric_flag() {
    every_value_is_answered(
        &["run", "global-model-attack", "--quick", "--rounds", "1"],
        &[
            ("--seed", &[HUGE]),
            ("--parties", COUNT),
            ("--batch-size", COUNT),
            ("--bins", COUNT),
            ("--seeds", COUNT),
            ("--epsilon", REAL),
        ],
    );
}

#[test]
fn run_federated_answers_huge_values_of_every_numeric_flag() {
    every_value_is_answered(
        &[
            "run",
            "federated",
            "--quick",
            "--model",
            "mlp",
            "--rounds",
            "1",
        ],
        &[
            ("--seed", &[HUGE]),
            ("--parties", COUNT),
            ("--rounds", COUNT),
            ("--local-steps", COUNT),
            ("--batch-size", COUNT),
            ("--lr", REAL),
            ("--threshold", COUNT),
            ("--neighbours", COUNT),
            ("--dropouts", COUNT),
        ],
    );
}

#[test]
fn accountant_and_bench_answer_huge_values_of_every_numeric_flag() {
    let base = [
        "accountant",
        "--sample-rate",
        "0.01",
        "--steps",
        "100",
        "--noise-multiplier",
        "1",
    ];
    every_value_is_answered(
        &base,
        &[
            ("--sample-rate", REAL),
            ("--steps", &[HUGE, "-1", "0"]),
            ("--delta", REAL),
            ("--noise-multiplier", &["1e308", "-1", "1e-308", "inf"]),
        ],
    );
    every_value_is_answered(
        &["accountant", "--sample-rate", "0.01", "--steps", "100"],
        &[("--epsilon", &["1e308", "-1", "1e-308", "inf"])],
    );
    every_value_is_answered(
        &[
            "bench", "train", "--model", "mlp", "--mode", "plain", "--steps", "1", "--warmup", "0",
        ],
        &[
            ("--batch-size", COUNT),
            ("--steps", &[HUGE, "-1"]),
            ("--warmup", &[HUGE, "-1"]),
        ],
    );
    every_value_is_answered(
        &[
            "bench",
            "dlg",
            "--max-evals",
            "3",
            "--warmup",
            "0",
            "--evals",
            "1",
        ],
        &[
            ("--batch", COUNT),
            ("--seeds", COUNT),
            ("--evals", &[HUGE, "-1"]),
            ("--warmup", &[HUGE, "-1"]),
            ("--threshold", &["1e308", "-1", "1e-308", "inf"]),
        ],
    );
}

#[test]
fn alpha_one_is_an_fpr_of_100_percent_for_every_attack() {
    for attack in ["quantile", "threshold", "lira"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let (code, stderr) = exit_of(
            dir.path(),
            &[
                "run",
                "mia",
                "--quick",
                "--model",
                "mlp",
                "--members",
                "200",
                "--public",
                "400",
                "--alpha",
                "1",
                "--attack",
                attack,
                "--bootstrap",
                "10",
            ],
        );
        assert_eq!(code, 0, "--attack {attack} --alpha 1: {stderr}");
        let m = metrics(&out);
        let point = &m["attack"]["alpha_grid"][0];
        assert_eq!(
            (point["alpha"].as_f64(), point["fpr"].as_f64()),
            (Some(1.0), Some(1.0))
        );
        assert_eq!(point["tpr"].as_f64(), Some(1.0));
    }
    // The pinball head has no quantile to fit at α = 1 alone: refused before any work.
    rejects_run(
        "mia",
        &[
            "--dataset",
            "fashion-mnist",
            "--head",
            "pinball",
            "--alpha",
            "1",
        ],
        "pinball",
    );
}

#[test]
fn huge_models_and_batches_are_refused_by_name_before_allocating() {
    let base = ["--dataset", "fashion-mnist", "--quick"];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    for (extra, expect) in [
        (&["--cnn-dense", HUGE][..], "cnn_dense"),
        (&["--model", "mlp", "--mlp-hidden", HUGE][..], "mlp_hidden"),
        (
            &["--model", "mlp", "--mlp-hidden", "1000000000"][..],
            "mlp_hidden",
        ),
        (
            &["--cnn-channels", "100000,100000", "--cnn-dense", "100000"][..],
            "cnn_",
        ),
        (&["--epochs", HUGE][..], "epochs"),
    ] {
        let args = with(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        rejects(&args, expect);
    }
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = exit_of(
        dir.path(),
        &[
            "bench",
            "train",
            "--model",
            "mlp",
            "--mode",
            "plain",
            "--batch-size",
            "10000000",
            "--steps",
            "1",
            "--warmup",
            "0",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("batch_size = 10000000") && stderr.contains("GiB"),
        "{stderr}"
    );
}

#[test]
fn quick_never_hides_an_invalid_value() {
    rejects(
        &["--dataset", "fashion-mnist", "--quick", "--epochs", "0"],
        "epochs",
    );
    rejects_run(
        "mia",
        &[
            "--dataset",
            "fashion-mnist",
            "--quick",
            "--members",
            "100000",
        ],
        "members",
    );
}

#[test]
fn split_sizes_and_the_target_batch_are_named_in_their_messages() {
    rejects_run(
        "mia",
        &[
            "--dataset",
            "fashion-mnist",
            "--public",
            HUGE,
            "--members",
            "1000",
        ],
        "invalid public",
    );
    rejects_run(
        "mia",
        &[
            "--dataset",
            "fashion-mnist",
            "--members",
            "100",
            "--public",
            "200",
            "--epochs",
            "1",
        ],
        "train.batch_size",
    );
}

#[test]
fn a_folder_as_checkpoint_is_called_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_str().unwrap().to_string();
    rejects(
        &[
            "--dataset",
            "fashion-mnist",
            "--quick",
            "--init-from",
            &folder,
        ],
        "it is a folder",
    );
}

#[test]
fn a_negative_number_reaches_the_real_message() {
    rejects(
        &["--dataset", "fashion-mnist", "--epsilon", "-1"],
        "invalid epsilon = -1",
    );
    rejects(
        &[
            "--dataset",
            "fashion-mnist",
            "--epsilon",
            "inf",
            "--noise-multiplier",
            "1",
        ],
        "noise_multiplier",
    );
}

#[test]
fn a_diverging_run_stops_at_the_first_non_finite_loss_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, stderr) = exit_of(
        dir.path(),
        &["run", "train", "--quick", "--model", "mlp", "--lr", "1e300"],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("diverged") && stderr.contains("epoch 1"),
        "{stderr}"
    );
    assert!(!out.exists(), "a diverged run leaves no output folder");
}

#[test]
fn a_folder_in_the_way_of_an_output_fails_the_run_before_it_starts_and_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A finished run, then a second one whose plot name is taken by a folder.
    let quick_mia = QUICK_MIA;
    assert_eq!(exit_of(dir.path(), quick_mia).0, 0);
    let before = std::fs::read(out.join("metrics.json")).unwrap();
    let files_before = std::fs::read_dir(&out).unwrap().count();
    std::fs::remove_file(out.join("roc.png")).unwrap();
    std::fs::create_dir_all(out.join("roc.png")).unwrap();
    let (code, stderr) = exit_of(dir.path(), &[quick_mia, &["--seed", "1"]].concat());
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("roc.png"), "{stderr}");
    assert_eq!(std::fs::read(out.join("metrics.json")).unwrap(), before);
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        files_before,
        "nothing but the old files: {names:?}"
    );

    // An --out below a regular file cannot be created: found before any training.
    std::fs::write(dir.path().join("file"), "x").unwrap();
    let blocked = dir.path().join("file/sub");
    let out = ppml(dir.path())
        .args([
            "run",
            "train",
            "--quick",
            "--offline",
            "--dataset",
            "fashion-mnist",
        ])
        .arg("--data-dir")
        .arg(fixtures())
        .arg("--out")
        .arg(&blocked)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot write") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ppml"))
        .args(["data", "check", "--json", "--data-dir"])
        .arg(fixtures())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before ppml writes
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn a_quick_dp_target_is_above_chance_and_a_useless_one_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, stderr) = exit_of(
        dir.path(),
        &[
            "run",
            "mia",
            "--quick",
            "--epsilon",
            "1.5",
            "--bootstrap",
            "20",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let m = metrics(&out);
    let acc = m["target"]["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.3, "quick DP target at {acc}");
    assert_eq!(
        m["warnings"].as_array().unwrap().len(),
        0,
        "{}",
        m["warnings"]
    );

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, stderr) = exit_of(
        dir.path(),
        &["run", "train", "--quick", "--model", "mlp", "--lr", "1e-9"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("warning") && stderr.contains("chance"),
        "{stderr}"
    );
    assert!(
        metrics(&out)["warnings"][0]
            .as_str()
            .unwrap()
            .contains("chance")
    );
}

#[test]
fn every_result_records_its_command_code_and_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, stderr) = exit_of(dir.path(), &["run", "train", "--quick", "--model", "mlp"]);
    assert_eq!(code, 0, "{stderr}");
    let p = &metrics(&out)["provenance"];
    let command: Vec<&str> = p["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        command.contains(&"--quick") && command.contains(&"train"),
        "{p}"
    );
    let files = p["data_files"].as_array().unwrap();
    assert_eq!(files.len(), 4, "{p}");
    for f in files {
        let sha = f["sha256"].as_str().unwrap();
        assert_eq!(sha.len(), 64, "{f}");
        let path = Path::new(f["path"].as_str().unwrap());
        let bytes = std::fs::read(path).unwrap();
        use sha2::Digest;
        let want: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sha, want);
    }
    // Built from a git checkout, as here and in CI: the commit is recorded.
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join(".git").exists();
    if checkout {
        assert!(
            p["git_commit"].as_str().is_some_and(|c| c.len() == 40),
            "{p}"
        );
        assert!(p["git_dirty"].is_boolean(), "{p}");
    }
}

#[test]
fn calibration_neither_accepts_an_infinite_target_nor_calls_its_floor_a_minimum() {
    let dir = tempfile::tempdir().unwrap();
    let base = ["accountant", "--sample-rate", "0.01", "--steps", "100"];
    let (code, stderr) = exit_of(dir.path(), &[&base[..], &["--epsilon", "inf"]].concat());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("needs no noise"), "{stderr}");
    let out = ppml(dir.path())
        .args(base)
        .args(["--epsilon", "1e300", "--accountant", "rdp"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout.contains("the search's lower end") && !stdout.contains("smallest"),
        "{stdout}"
    );
}
