//! The runs of a results folder: every `metrics.json` below it, read once, and the runs that
//! differ only in their seed gathered into one [`Group`], so that a table can give their mean
//! and spread (a sweep names them `…-seed0`, `…-seed1`, … and writes the same config apart from
//! `[run] seed`).

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A results folder that cannot be read into tables (exit code 2: the user's files).
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // variant fields are named in the messages
pub enum TableError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a ppml metrics.json: {reason}", path.display())]
    NotMetrics { path: PathBuf, reason: String },
    #[error("no */metrics.json under {}", .0.display())]
    Empty(PathBuf),
    /// Files were found but none is a readable ppml result: each with why.
    #[error("no readable ppml result under {}: {}", dir.display(), skipped.join("; "))]
    NoneReadable { dir: PathBuf, skipped: Vec<String> },
    #[error(
        "{} has no generated block (a line \"<!-- ppml report: TABLE -->\", the table's \
         lines, then \"<!-- ppml report: end -->\")",
        .0.display()
    )]
    NoMarkers(PathBuf),
    #[error("{}, line {line}: {message}", file.display())]
    Marker {
        file: PathBuf,
        line: usize,
        message: String,
    },
}

/// One run: its folder name and its metrics.
#[derive(Debug, Clone)]
pub struct Run {
    /// Folder name, relative to the results folder.
    pub name: String,
    /// The parsed `metrics.json`.
    pub metrics: Value,
}

impl Run {
    /// `train`, `mia`, `gradient-inversion`, …
    pub fn experiment(&self) -> &str {
        self.metrics["experiment"].as_str().unwrap_or("?")
    }

    /// A `--quick` run (a smoke test, not a result).
    pub fn quick(&self) -> bool {
        self.metrics["quick"] == Value::Bool(true)
    }

    /// The folder name without a trailing `-seed<N>`.
    pub fn stem(&self) -> &str {
        match self.name.rsplit_once("-seed") {
            Some((stem, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => stem,
            _ => &self.name,
        }
    }

    /// The config without its seed: runs that share it (and their folder stem) differ only in
    /// the seed.
    fn config_without_seed(&self) -> Value {
        let mut config = self.metrics["config"].clone();
        if let Some(run) = config.get_mut("run").and_then(Value::as_object_mut) {
            run.remove("seed");
        }
        config
    }
}

/// Runs that differ only in their seed, in the order of their folders.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// The shared folder stem (`dp-fashion-eps3` for `dp-fashion-eps3-seed0`, `…-seed1`).
    pub name: String,
    /// At least one run.
    pub runs: Vec<&'a Run>,
}

impl Group<'_> {
    /// The first run: what every run of the group shares (config, experiment) is read here.
    pub fn first(&self) -> &Run {
        self.runs[0]
    }

    /// How many seeds.
    pub fn seeds(&self) -> usize {
        self.runs.len()
    }

    /// The cases of every run of the group (the attacks' `cases` arrays), run by run.
    pub fn cases(&self) -> impl Iterator<Item = &Value> {
        self.runs
            .iter()
            .flat_map(|r| r.metrics["cases"].as_array().into_iter().flatten())
    }

    /// The cases of every run of the group, gathered by `key` in
    /// the order each key first appears: one table row each, over case seeds and run seeds.
    pub fn cases_by(&self, key: impl Fn(&Value) -> String) -> Vec<Vec<&Value>> {
        let mut rows: Vec<(String, Vec<&Value>)> = Vec::new();
        for case in self.cases() {
            let k = key(case);
            match rows.iter_mut().find(|(r, _)| *r == k) {
                Some((_, same)) => same.push(case),
                None => rows.push((k, vec![case])),
            }
        }
        rows.into_iter().map(|(_, same)| same).collect()
    }

    /// The folder name as a table shows it: `` `name` ``, marked when the runs are quick.
    pub fn label(&self) -> String {
        let quick = if self.first().quick() { " (quick)" } else { "" };
        format!("`{}`{quick}", self.name)
    }
}

/// The runs of `experiment` gathered by seed: the same folder stem and the same config apart
/// from `[run] seed` and `--quick`. A run whose config differs from its namesakes' is its own
/// group (named by its full folder name), never averaged with them.
pub fn groups<'a>(runs: &[&'a Run], experiment: &str) -> Vec<Group<'a>> {
    let mut out: Vec<(Value, bool, Group<'a>)> = Vec::new();
    for &run in runs.iter().filter(|r| r.experiment() == experiment) {
        let config = run.config_without_seed();
        let same = out
            .iter_mut()
            .find(|(c, quick, g)| g.name == run.stem() && *quick == run.quick() && *c == config);
        match same {
            Some((_, _, group)) => group.runs.push(run),
            None => {
                let clash = out.iter().any(|(_, _, g)| g.name == run.stem());
                let name = if clash { &run.name } else { run.stem() };
                out.push((
                    config,
                    run.quick(),
                    Group {
                        name: name.to_string(),
                        runs: vec![run],
                    },
                ));
            }
        }
    }
    out.into_iter().map(|(_, _, g)| g).collect()
}

/// Every `metrics.json` below `dir` (any depth), sorted by folder, and the files that were
/// skipped with why: one that cannot be read, is not JSON (a run killed mid-write by hand, a
/// truncated copy) or is not a ppml result (another tool's `metrics.json`) does not stop the
/// others from being tabulated. No result at all is an error.
pub fn collect_runs(dir: &Path) -> Result<(Vec<Run>, Vec<TableError>), TableError> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    let (mut runs, mut skipped) = (Vec::new(), Vec::new());
    for path in files {
        match read_run(dir, &path) {
            Ok(run) => runs.push(run),
            Err(e) => skipped.push(e),
        }
    }
    if runs.is_empty() {
        return Err(if skipped.is_empty() {
            TableError::Empty(dir.to_path_buf())
        } else {
            TableError::NoneReadable {
                dir: dir.to_path_buf(),
                skipped: skipped.iter().map(ToString::to_string).collect(),
            }
        });
    }
    // Folders sort as text (`…-seed10` before `…-seed2`); a seed's number orders its runs.
    runs.sort_by(|a, b| {
        (a.stem(), a.metrics["seed"].as_u64(), &a.name).cmp(&(
            b.stem(),
            b.metrics["seed"].as_u64(),
            &b.name,
        ))
    });
    Ok((runs, skipped))
}

/// One `metrics.json` as a [`Run`] named by its folder relative to `dir`.
fn read_run(dir: &Path, path: &Path) -> Result<Run, TableError> {
    let text = std::fs::read_to_string(path).map_err(|source| TableError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let metrics: Value = serde_json::from_str(&text).map_err(|e| TableError::NotMetrics {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if metrics.get("experiment").and_then(Value::as_str).is_none() {
        return Err(TableError::NotMetrics {
            path: path.to_path_buf(),
            reason: "no \"experiment\" field".into(),
        });
    }
    let folder = path.parent().unwrap_or(dir);
    let name = folder
        .strip_prefix(dir)
        .unwrap_or(folder)
        .display()
        .to_string();
    Ok(Run { name, metrics })
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), TableError> {
    let entries = std::fs::read_dir(dir).map_err(|source| TableError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.file_name().is_some_and(|n| n == "metrics.json") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(name: &str, seed: u64, lr: f64) -> Run {
        Run {
            name: name.into(),
            metrics: json!({"experiment": "train", "seed": seed,
                            "config": {"run": {"seed": seed}, "train": {"lr": lr}}}),
        }
    }

    #[test]
    fn runs_that_differ_only_in_seed_form_one_group() {
        let runs = [
            run("a-seed0", 0, 0.1),
            run("a-seed1", 1, 0.1),
            run("a-seed2", 2, 0.2),
            run("b", 0, 0.1),
        ];
        let refs: Vec<&Run> = runs.iter().collect();
        let groups = groups(&refs, "train");
        let shape: Vec<(&str, usize)> = groups
            .iter()
            .map(|g| (g.name.as_str(), g.seeds()))
            .collect();
        // a-seed2's config differs: its own group, under its full name.
        assert_eq!(shape, [("a", 2), ("a-seed2", 1), ("b", 1)]);
        assert!(super::groups(&refs, "mia").is_empty());
    }

    #[test]
    fn only_a_numeric_seed_suffix_is_a_seed() {
        assert_eq!(run("x-seed12", 12, 0.1).stem(), "x");
        assert_eq!(run("x-seedy", 0, 0.1).stem(), "x-seedy");
        assert_eq!(run("x-seed", 0, 0.1).stem(), "x-seed");
    }
}
