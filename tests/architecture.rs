//! The house rules of `src/`, checked on the source text so that they cannot rot into comments:
//! modules run in one direction, `data → model → privacy → train → fl → attacks → metrics →
//! report → experiments`, and none imports a later one; no experiment imports another; the
//! sealed ground truth is opened only by measurement code; no file grows past 500 lines; no
//! function needs a `too_many_arguments` allowance.

use std::path::{Path, PathBuf};

/// The pipeline, in order. Modules outside it (`config`, `device`, `progress`, `runtime`,
/// `error`) are plumbing every stage may use.
const ORDER: [&str; 9] = [
    "data",
    "model",
    "privacy",
    "train",
    "fl",
    "attacks",
    "metrics",
    "report",
    "experiments",
];

/// The experiments, which must not import each other.
const EXPERIMENTS: [&str; 5] = [
    "train",
    "mia",
    "federated",
    "gradient_inversion",
    "global_model_attack",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path, text));
        }
    }
    out
}

/// The top-level module a file of `src/` belongs to (`None` for the binary's files).
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src()).unwrap();
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs").to_string();
    ORDER.contains(&name.as_str()).then_some(name)
}

/// The modules of the pipeline a text names as `crate::<module>`.
fn crate_paths(text: &str) -> Vec<&'static str> {
    ORDER
        .iter()
        .copied()
        .filter(|m| {
            text.contains(&format!("crate::{m}::")) || text.contains(&format!("crate::{m};"))
        })
        .collect()
}

#[test]
fn no_module_imports_a_later_one() {
    let rank = |m: &str| ORDER.iter().position(|o| *o == m).unwrap();
    let mut violations = Vec::new();
    for (path, text) in sources(&src()) {
        let Some(module) = module_of(&path) else {
            continue;
        };
        for used in crate_paths(&text) {
            if rank(used) > rank(&module) {
                violations.push(format!("{}: {module} uses crate::{used}", path.display()));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn no_experiment_imports_another() {
    let dir = src().join("experiments");
    let mut violations = Vec::new();
    for (path, text) in sources(&dir) {
        let rel = path
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let own = rel.split(['/', '.']).next().unwrap().to_string();
        for other in EXPERIMENTS.iter().filter(|e| **e != own) {
            for pattern in [
                format!("experiments::{other}::"),
                format!("super::{other}::"),
                format!("super::super::{other}::"),
            ] {
                if text.contains(&pattern) {
                    violations.push(format!("{rel} uses {pattern}"));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_ground_truth_is_opened_only_by_measurement_code() {
    let metrics = src().join("metrics");
    let truth = src().join("data").join("truth.rs");
    let opened: Vec<String> = sources(&src())
        .into_iter()
        .filter(|(path, text)| {
            text.contains(".unseal()") && !path.starts_with(&metrics) && *path != truth
        })
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        opened.is_empty(),
        "Truth::unseal outside src/metrics/: {opened:?}"
    );
}

#[test]
fn no_source_file_is_over_500_lines() {
    let long: Vec<String> = sources(&src())
        .into_iter()
        .filter(|(_, text)| text.lines().count() > 500)
        .map(|(path, text)| format!("{} ({} lines)", path.display(), text.lines().count()))
        .collect();
    assert!(long.is_empty(), "split these by concern: {long:?}");
}

#[test]
fn no_function_needs_a_too_many_arguments_allowance() {
    let allowed: Vec<String> = sources(&src())
        .into_iter()
        .filter(|(_, text)| text.contains("too_many_arguments"))
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        allowed.is_empty(),
        "group the arguments into a type instead: {allowed:?}"
    );
}
