//! A grid's runs: each combination's config, folder name and command line, and whether its
//! results are already there.

use std::path::{Path, PathBuf};

use serde_json::Value;
use toml::{Table, Value as Toml};

use super::super::provenance::sha256_hex;
use super::{Grid, SweepError};

/// One run of the sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its folder name under the grid's `out`, from its parameters.
    pub name: String,
    /// `ppml run <experiment>`.
    pub experiment: String,
    /// Its full config, as written to [`Job::config_path`].
    pub config_text: String,
    /// Where the config goes.
    pub config_path: PathBuf,
    /// Its output folder.
    pub out: PathBuf,
    /// Where a local sweep writes its output (`<out>/.sweep/logs/<name>.log`).
    pub log: PathBuf,
    /// Extra arguments (the grid's `args`).
    pub extra: Vec<String>,
}

impl Job {
    /// The arguments after `ppml`.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "run".to_string(),
            self.experiment.clone(),
            "--config".into(),
            self.config_path.display().to_string(),
            "--out".into(),
            self.out.display().to_string(),
            "--quiet".into(),
        ];
        args.extend(self.extra.iter().cloned());
        args
    }

    /// `ppml <args>`, quoted for a POSIX shell: one line of `--emit-jobs`.
    pub fn command_line(&self) -> String {
        let args = self.args();
        let words = std::iter::once("ppml").chain(args.iter().map(String::as_str));
        // `load_grid` refuses NUL bytes in `args`; the paths cannot hold one (writing the
        // configs would have failed first).
        shlex::try_join(words).expect("arguments hold no NUL byte")
    }

    /// Whether the run's `metrics.json` is there and records this command line and config.
    pub fn status(&self) -> Status {
        let metrics = self.out.join(crate::report::METRICS);
        let Ok(text) = std::fs::read_to_string(&metrics) else {
            return Status::Pending("not run yet".into());
        };
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            return Status::Pending(format!("{} is not valid JSON", metrics.display()));
        };
        let provenance = &value["provenance"];
        // `--quiet` changes nothing a run measures, wherever it stands.
        let quiet = |a: &&str| *a != "--quiet" && *a != "-q";
        let recorded_args: Vec<&str> = provenance["command"]
            .as_array()
            .map(|c| {
                c.iter()
                    .skip(1)
                    .filter_map(Value::as_str)
                    .filter(quiet)
                    .collect()
            })
            .unwrap_or_default();
        let args = self.args();
        let args: Vec<&str> = args.iter().map(String::as_str).filter(quiet).collect();
        if recorded_args != args {
            return Status::Pending("its metrics.json came from another command line".into());
        }
        let recorded = provenance["config_file"]["sha256"].as_str();
        if recorded != Some(sha256_hex(self.config_text.as_bytes()).as_str()) {
            return Status::Pending("its config changed".into());
        }
        Status::Done
    }
}

/// Whether a job must run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Its `metrics.json` matches: skipped.
    Done,
    /// To run, and why.
    Pending(String),
}

/// Every run of the grid: each block's combinations of axis values, each once per seed.
pub fn expand(grid: &Grid) -> Result<Vec<Job>, SweepError> {
    let mut jobs = Vec::new();
    for block in &grid.blocks {
        let text = std::fs::read_to_string(&block.config).map_err(|source| SweepError::Read {
            path: block.config.clone(),
            source,
        })?;
        let base: Table = toml::from_str(&text).map_err(|e| SweepError::Config {
            name: block.config.display().to_string(),
            message: e.message().to_string(),
        })?;
        let stem = block
            .config
            .file_stem()
            .map_or_else(|| block.experiment.clone(), |s| s.to_string_lossy().into());
        // `--audit-break noise` names its runs `…-audit-break-noise-…`.
        let flags: String = block
            .args
            .iter()
            .map(|a| {
                format!(
                    "-{}",
                    value_name(&Toml::String(a.trim_start_matches('-').into()))
                )
            })
            .collect();
        for combination in combinations(&block.axes) {
            for &seed in block.seeds.as_ref().unwrap_or(&grid.seeds) {
                let mut config = base.clone();
                let mut name = format!("{stem}{flags}");
                for (key, value) in &combination {
                    set_key(&mut config, key, value.clone(), &block.config)?;
                    let leaf = key.rsplit('.').next().unwrap_or(key);
                    name.push_str(&format!("-{leaf}-{}", value_name(value)));
                }
                let seed_value = Toml::Integer(i64::try_from(seed).unwrap_or(i64::MAX));
                set_key(&mut config, "run.seed", seed_value, &block.config)?;
                name.push_str(&format!("-seed{seed}"));
                let config_text = toml::to_string(&config).map_err(|e| SweepError::Config {
                    name: name.clone(),
                    message: e.to_string(),
                })?;
                let sweep = grid.out.join(".sweep");
                jobs.push(Job {
                    config_path: sweep.join("configs").join(format!("{name}.toml")),
                    log: sweep.join("logs").join(format!("{name}.log")),
                    out: grid.out.join(&name),
                    name,
                    experiment: block.experiment.clone(),
                    config_text,
                    extra: block.args.iter().chain(&grid.args).cloned().collect(),
                });
            }
        }
    }
    Ok(jobs)
}

/// Every combination of one value per axis (one empty combination without axes).
fn combinations(axes: &[(String, Vec<Toml>)]) -> Vec<Vec<(String, Toml)>> {
    let mut out = vec![Vec::new()];
    for (key, values) in axes {
        out = out
            .into_iter()
            .flat_map(|prefix: Vec<(String, Toml)>| {
                values.iter().map(move |v| {
                    let mut c = prefix.clone();
                    c.push((key.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    out
}

/// Sets the dotted `key` of `config`, creating the tables on its way.
fn set_key(config: &mut Table, key: &str, value: Toml, file: &Path) -> Result<(), SweepError> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let leaf = parts.pop().expect("split gives at least one part");
    let mut table = config;
    for part in parts {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| Toml::Table(Table::new()));
        table = entry.as_table_mut().ok_or_else(|| SweepError::NotATable {
            key: key.to_string(),
            config: file.display().to_string(),
        })?;
    }
    table.insert(leaf.to_string(), value);
    Ok(())
}

/// A value as it appears in a folder name: `1.5`, `secagg`, `16_32`.
fn value_name(value: &Toml) -> String {
    match value {
        Toml::String(s) => s.clone(),
        Toml::Array(items) => items.iter().map(value_name).collect::<Vec<_>>().join("_"),
        other => other.to_string(),
    }
    .chars()
    .map(|c| {
        if c.is_ascii_alphanumeric() || ".-_".contains(c) {
            c
        } else {
            '_'
        }
    })
    .collect()
}

/// Writes every job's config file (creating the folders).
pub fn write_configs(jobs: &[Job]) -> Result<(), SweepError> {
    for job in jobs {
        let path = &job.config_path;
        let error = |source| SweepError::Write {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(error)?;
        }
        std::fs::write(path, &job.config_text).map_err(error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::load_grid;
    use super::*;

    fn grid_in(dir: &Path, runs: &str) -> Grid {
        std::fs::write(dir.join("base.toml"), "[train]\nepochs = 2\n").unwrap();
        let text = format!(
            "out = {:?}\nseeds = [0, 1]\n{runs}",
            dir.join("out").display()
        );
        let path = dir.join("grid.toml");
        std::fs::write(&path, text).unwrap();
        load_grid(&path).unwrap()
    }

    #[test]
    fn a_grid_expands_to_every_combination_once_per_seed_with_named_folders() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.toml").display().to_string();
        let grid = grid_in(
            dir.path(),
            &format!(
                "[[runs]]\nexperiment = \"train\"\nconfig = {base:?}\n[runs.grid]\n\
                 \"privacy.epsilon\" = [1.5, 3.0]\n\"train.epochs\" = [5]\n"
            ),
        );
        let jobs = expand(&grid).unwrap();
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "base-epsilon-1.5-epochs-5-seed0",
                "base-epsilon-1.5-epochs-5-seed1",
                "base-epsilon-3.0-epochs-5-seed0",
                "base-epsilon-3.0-epochs-5-seed1",
            ]
        );
        let config: Table = toml::from_str(&jobs[3].config_text).unwrap();
        assert_eq!(config["privacy"]["epsilon"].as_float(), Some(3.0));
        assert_eq!(config["train"]["epochs"].as_integer(), Some(5));
        assert_eq!(config["run"]["seed"].as_integer(), Some(1));
        assert_eq!(
            jobs[0].out,
            dir.path().join("out/base-epsilon-1.5-epochs-5-seed0")
        );
    }

    #[test]
    fn a_block_with_its_own_seeds_runs_those_instead_of_the_grids() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.toml").display().to_string();
        let grid = grid_in(
            dir.path(),
            &format!(
                "[[runs]]\nexperiment = \"train\"\nconfig = {base:?}\nseeds = [4, 5, 6]\n\
                 [[runs]]\nexperiment = \"mia\"\nconfig = {base:?}\n"
            ),
        );
        let names: Vec<String> = expand(&grid).unwrap().into_iter().map(|j| j.name).collect();
        assert_eq!(
            names,
            [
                "base-seed4",
                "base-seed5",
                "base-seed6",
                "base-seed0",
                "base-seed1"
            ]
        );
    }

    #[test]
    fn an_emitted_line_parses_back_into_the_same_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.toml").display().to_string();
        let grid = grid_in(
            dir.path(),
            &format!("[[runs]]\nexperiment = \"train\"\nconfig = {base:?}\n"),
        );
        for mut job in expand(&grid).unwrap() {
            job.extra = vec!["--data-dir".into(), "a folder with 'quotes'".into()];
            let words = shlex::split(&job.command_line()).unwrap();
            assert_eq!(words[0], "ppml");
            assert_eq!(words[1..], job.args());
        }
    }

    #[test]
    fn empty_grids_and_axes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.toml");
        std::fs::write(&path, "out = \"x\"\n").unwrap();
        assert!(matches!(load_grid(&path), Err(SweepError::Empty(_))));
        std::fs::write(
            &path,
            "out = \"x\"\n[[runs]]\nexperiment = \"train\"\nconfig = \"c.toml\"\n\
             [runs.grid]\n\"train.epochs\" = []\n",
        )
        .unwrap();
        assert!(matches!(
            load_grid(&path),
            Err(SweepError::EmptyAxis { .. })
        ));
        std::fs::write(&path, "out = \"x\"\nsedes = [1]\n").unwrap();
        assert!(matches!(load_grid(&path), Err(SweepError::Grid { .. })));
    }
}
