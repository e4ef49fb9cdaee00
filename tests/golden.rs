//! Golden outputs: a seeded `--quick` run of every experiment on the fixture, compared field by
//! field with the measured values recorded in `tests/golden/` before the wiring layer was
//! reshaped. Everything but the configuration (whose layout may change), the provenance and
//! the wall-clock figures must stay exactly as it was: a refactoring that changes a number is
//! not a refactoring.
//!
//! To record new goldens after a change that is *meant* to alter results, run
//! `PPML_BLESS=1 cargo test --test integration golden` and say why in the commit.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{fixtures, metrics, ppml};

/// One golden run: a name and the flags after `ppml run`.
const RUNS: &[(&str, &[&str])] = &[
    ("train", &["train"]),
    ("train-dp", &["train", "--epsilon", "3"]),
    (
        "federated-plain",
        &["federated", "--model", "mlp", "--aggregation", "plain"],
    ),
    (
        "federated-additive",
        &["federated", "--model", "mlp", "--aggregation", "additive"],
    ),
    (
        "federated-secagg",
        &[
            "federated",
            "--model",
            "mlp",
            "--aggregation",
            "secagg",
            "--parties",
            "4",
            "--dropouts",
            "1",
        ],
    ),
    (
        "federated-fedsgd",
        &[
            "federated",
            "--model",
            "mlp",
            "--algorithm",
            "fed-sgd",
            "--aggregation",
            "secagg",
        ],
    ),
    // LiRA as the headline runs every attack: quantile, threshold and loss become baselines.
    (
        "mia-every-attack",
        &[
            "mia",
            "--model",
            "mlp",
            "--attack",
            "lira",
            "--bootstrap",
            "20",
        ],
    ),
    (
        "mia-dp",
        &[
            "mia",
            "--model",
            "mlp",
            "--epsilon",
            "3",
            "--bootstrap",
            "20",
        ],
    ),
];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The measured part of a `metrics.json`: without `config`, `provenance`, wall-clock figures
/// (any key naming seconds) and the data folder's path, which differ between machines.
fn measured(mut value: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.retain(|k, _| {
                    !matches!(k.as_str(), "config" | "provenance" | "timing" | "source")
                        && !k.contains("second")
                });
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value
}

/// The first path at which two JSON values differ, for a readable failure.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, &format!("{at}.{k}")),
                (p, q) => Some(format!("{at}.{k}: {p:?} vs {q:?}")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, &format!("{at}[{i}]"))),
        _ => (a != b).then(|| format!("{at}: {a} vs {b}")),
    }
}

#[test]
fn every_experiment_measures_exactly_what_it_measured_before_the_reshaping() {
    let bless = std::env::var_os("PPML_BLESS").is_some();
    let mut failures = Vec::new();
    for (name, args) in RUNS {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(name);
        let mut cmd = ppml(dir.path());
        cmd.arg("run")
            .args(*args)
            .args([
                "--dataset",
                "fashion-mnist",
                "--quick",
                "--offline",
                "--seed",
                "0",
            ])
            .arg("--data-dir")
            .arg(fixtures())
            .arg("--out")
            .arg(&out);
        cmd.assert().success();
        let got = measured(metrics(&out));
        let path = golden_dir().join(format!("{name}.json"));
        if bless {
            std::fs::create_dir_all(golden_dir()).unwrap();
            let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
            std::fs::write(&path, text).unwrap();
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (record with PPML_BLESS=1)", path.display()));
        let want = measured(serde_json::from_str(&text).unwrap());
        if let Some(diff) = first_difference(&want, &got, name) {
            failures.push(diff);
        }
    }
    assert!(
        failures.is_empty(),
        "golden outputs changed:\n{}",
        failures.join("\n")
    );
}
