//! `ppml sweep`: a finished run is skipped and a changed one rerun, the emitted command lines
//! run the same runs, and a bad grid exits 2 before anything runs.

use std::path::Path;

use crate::common::{fixtures, metrics, ppml};

/// A grid of one train run (`train.epochs` = `epochs`) on the vendored Fashion-MNIST slice.
fn write_grid(dir: &Path, epochs: &str) -> std::path::PathBuf {
    let base = dir.join("base.toml");
    if !base.exists() {
        std::fs::write(&base, "[model]\nkind = \"mlp\"\n").unwrap();
    }
    let grid = dir.join("grid.toml");
    let text = format!(
        "out = {out:?}\nargs = [\"--offline\", \"--dataset\", \"fashion-mnist\", \"--data-dir\", \
         {data:?}, \"--quick\"]\n[[runs]]\nexperiment = \"train\"\nconfig = {base:?}\n\
         [runs.grid]\n\"train.epochs\" = [{epochs}]\n",
        out = dir.join("out").display().to_string(),
        data = fixtures().display().to_string(),
        base = base.display().to_string(),
    );
    std::fs::write(&grid, text).unwrap();
    grid
}

/// Runs `ppml sweep` with `args`; returns (exit code, stdout, stderr).
fn sweep(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = ppml(dir).arg("sweep").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_finished_run_is_skipped_and_a_changed_one_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let grid = write_grid(dir.path(), "1");
    let grid = grid.to_str().unwrap();
    let (code, _, err) = sweep(dir.path(), &[grid, "--jobs", "2"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("1 runs, 0 finished already, 1 to run"),
        "{err}"
    );
    let run = dir.path().join("out/base-epochs-1-seed0");
    let first = metrics(&run);
    assert_eq!(first["config"]["train"]["epochs"], 1);
    // The run records the config it read: the file the sweep wrote, by path and checksum.
    let config = dir
        .path()
        .join("out/.sweep/configs/base-epochs-1-seed0.toml");
    let recorded = &first["provenance"]["config_file"];
    let on_disk = ppml::experiments::provenance::file_sha256(&config).unwrap();
    assert_eq!(recorded["sha256"], on_disk.sha256.as_str());
    assert_eq!(recorded["path"], config.display().to_string().as_str());

    let (code, _, err) = sweep(dir.path(), &[grid]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("1 runs, 1 finished already, 0 to run"),
        "{err}"
    );

    // The same folder name, another config: rerun, never reused.
    std::fs::write(
        dir.path().join("base.toml"),
        "[model]\nkind = \"mlp\"\nmlp_hidden = [32]\n",
    )
    .unwrap();
    let (code, _, err) = sweep(dir.path(), &[grid]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("1 runs, 0 finished already, 1 to run")
            && err.contains("base-epochs-1-seed0 runs again: its config changed"),
        "{err}"
    );
    assert_eq!(metrics(&run)["config"]["model"]["mlp_hidden"][0], 32);
}

#[test]
fn the_emitted_command_lines_are_the_sweeps_runs() {
    let dir = tempfile::tempdir().unwrap();
    let grid = write_grid(dir.path(), "1, 2");
    let grid = grid.to_str().unwrap();
    let (code, lines, err) = sweep(dir.path(), &[grid, "--emit-jobs"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    // Run each line as a shell would (what GNU parallel does): then the sweep has nothing left.
    for line in &lines {
        let words = shlex::split(line).unwrap();
        assert_eq!(words[..2], ["ppml", "run"]);
        ppml(dir.path()).args(&words[1..]).assert().success();
    }
    let (code, rest, err) = sweep(dir.path(), &[grid, "--emit-jobs"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        rest.is_empty() && err.contains("2 finished already, 0 to run"),
        "{err}"
    );

    let script = dir.path().join("sweep.sbatch");
    std::fs::write(
        dir.path().join("base.toml"),
        "[model]\nkind = \"mlp\"\nmlp_hidden = [32]\n",
    )
    .unwrap();
    let (code, _, err) = sweep(
        dir.path(),
        &[grid, "--emit-slurm", script.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(text.contains("#SBATCH --array=1-2"), "{text}");
    let jobs = std::fs::read_to_string(dir.path().join("out/.sweep/jobs.txt")).unwrap();
    assert_eq!(jobs.lines().count(), 2);
}

#[test]
fn bad_grids_exit_2_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let grid = write_grid(dir.path(), "1");
    let text = std::fs::read_to_string(&grid).unwrap();
    let cases = [
        ("\"train.epochs\"", "\"train.epochz\"", "epochz"),
        (
            "\"train.epochs\" = [1]",
            "\"train.epochs\" = []",
            "has no values",
        ),
        ("[[runs]]", "[[runz]]", "unknown key"),
        (
            "experiment = \"train\"",
            "experiment = \"trian\"",
            "unknown experiment",
        ),
    ];
    for (from, to, expect) in cases {
        std::fs::write(&grid, text.replace(from, to)).unwrap();
        let (code, _, err) = sweep(dir.path(), &[grid.to_str().unwrap()]);
        assert_eq!(code, 2, "{to}: {err}");
        assert!(err.contains(expect), "{to}: {err}");
        assert!(
            !dir.path().join("out").exists(),
            "{to}: nothing may be written"
        );
    }
    std::fs::write(&grid, "out = \"x\"\n").unwrap();
    let (code, _, err) = sweep(dir.path(), &[grid.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no [[runs]]"), "{err}");

    // An output folder below a regular file cannot be written.
    std::fs::write(&grid, &text).unwrap();
    std::fs::write(dir.path().join("file"), "x").unwrap();
    let blocked = dir.path().join("file/out");
    let (code, _, err) = sweep(
        dir.path(),
        &[grid.to_str().unwrap(), "--out", blocked.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot write"), "{err}");
}
