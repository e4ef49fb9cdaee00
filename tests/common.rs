//! Shared helpers: the `ppml` binary run in a scratch folder, and the vendored real-data fixture.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The first 3,000 / 1,000 Fashion-MNIST examples (see tests/fixtures/README.md).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `ppml` run inside `dir`, with no inherited data folder and no progress bars.
pub fn ppml(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ppml"));
    cmd.current_dir(dir)
        .env_remove("PPML_DATA_DIR")
        .arg("--quiet");
    cmd
}

/// `ppml run <experiment> --dataset fashion-mnist --quick` on the fixture, offline, into
/// `<dir>/<out>`, with `extra` flags; asserts success and returns its `metrics.json`.
pub fn run_quick(dir: &Path, experiment: &str, out: &str, extra: &[&str]) -> serde_json::Value {
    let out = dir.join(out);
    ppml(dir)
        .args([
            "run",
            experiment,
            "--dataset",
            "fashion-mnist",
            "--quick",
            "--offline",
        ])
        .arg("--data-dir")
        .arg(fixtures())
        .arg("--out")
        .arg(&out)
        .args(extra)
        .assert()
        .success();
    metrics(&out)
}

/// Reads `<dir>/metrics.json`.
pub fn metrics(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("metrics.json")).expect("metrics.json written");
    serde_json::from_str(&text).expect("metrics.json is JSON")
}

/// The decompressed bytes of a `.gz` file.
pub fn gunzip(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}
