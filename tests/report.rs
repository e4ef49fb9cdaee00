//! `ppml report`: the results table from a folder of metrics.json files, spliced into Markdown.

use crate::common::{fixtures, ppml};
use ppml::report::table::{BEGIN, END};

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
    std::fs::write(&readme, format!("# R\n{BEGIN}\nstale\n{END}\nrest\n")).unwrap();

    // Stale: --check fails with exit 1 and changes nothing.
    let check = |code: i32| {
        ppml(dir.path())
            .arg("report")
            .arg(&results)
            .arg("--markdown")
            .arg(&readme)
            .arg("--check")
            .assert()
            .code(code)
    };
    check(1);
    assert!(std::fs::read_to_string(&readme).unwrap().contains("stale"));

    ppml(dir.path())
        .arg("report")
        .arg(&results)
        .arg("--markdown")
        .arg(&readme)
        .assert()
        .success();
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
    let assert = ppml(dir.path())
        .arg("report")
        .arg(&results)
        .assert()
        .success();
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
    let assert = ppml(dir.path()).args(["report", "."]).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("no */metrics.json"), "{stderr}");
}
