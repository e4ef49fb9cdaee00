//! `ppml sweep`: a grid of runs (experiment configs × config values × seeds) expanded into
//! self-contained `ppml run` invocations, each with its own config file and output folder.
//!
//! A grid file:
//!
//! ```toml
//! out = "results/sweep"          # each run writes <out>/<name>/
//! seeds = [0, 1, 2]              # default [0]
//! args = ["--offline"]           # appended to every run's command line (optional)
//!
//! [[runs]]
//! experiment = "train"           # ppml run <experiment>
//! config = "experiments/dp-fashion-eps3.toml"
//! [runs.grid]                    # config key (dotted) -> its values; every combination runs
//! "privacy.epsilon" = [1.5, 3.0]
//! ```
//!
//! A block may set its own `seeds = [...]` (a cheap run repeated over more seeds than the
//! grid's expensive ones).
//!
//! Each run's config is the block's file with the grid's values set and `[run] seed`, written to
//! `<out>/.sweep/configs/<name>.toml`; its command line is `ppml run <experiment> --config
//! <that file> --out <out>/<name> --quiet` and the grid's `args`. A run is up to date when its
//! `metrics.json` records that command line and the sha256 of that config file (its
//! `provenance`): a finished run is skipped, a changed one rerun, never silently reused.

use std::path::{Path, PathBuf};

use toml::{Table, Value as Toml};

mod expand;

pub use expand::{Job, Status, expand, write_configs};

/// A grid that cannot be expanded: always the user's to fix (exit code 2).
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // variant fields are named in the messages
pub enum SweepError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid sweep grid {}: {message}", path.display())]
    Grid { path: PathBuf, message: String },
    #[error("sweep grid {} has no [[runs]] block", .0.display())]
    Empty(PathBuf),
    #[error("sweep grid: the axis {key:?} of {config} has no values")]
    EmptyAxis { key: String, config: String },
    #[error("sweep grid: {config} has no table at {key:?} to set a value in")]
    NotATable { key: String, config: String },
    #[error("sweep run {name}: {message}")]
    Config { name: String, message: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One `[[runs]]` block: an experiment, its base config, and the grid over its keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// `ppml run <experiment>`.
    pub experiment: String,
    /// The base config file.
    pub config: PathBuf,
    /// `(dotted key, values)`, in the key's order.
    pub axes: Vec<(String, Vec<Toml>)>,
    /// Extra command-line arguments of this block's runs (a flag no config key sets, such as
    /// `--audit-break noise`), also named in their folders.
    pub args: Vec<String>,
    /// This block's seeds, when it sets its own (else the grid's).
    pub seeds: Option<Vec<u64>>,
}

/// A parsed grid file.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// The folder every run's folder goes into.
    pub out: PathBuf,
    /// Every combination runs once per seed.
    pub seeds: Vec<u64>,
    /// Extra command-line arguments for every run (`--offline`, `--quick`, `--data-dir D`).
    pub args: Vec<String>,
    /// The `[[runs]]` blocks.
    pub blocks: Vec<Block>,
}

fn grid_error(path: &Path, message: impl Into<String>) -> SweepError {
    SweepError::Grid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads a grid file.
pub fn load_grid(path: &Path) -> Result<Grid, SweepError> {
    let text = std::fs::read_to_string(path).map_err(|source| SweepError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let table: Table = toml::from_str(&text).map_err(|e| grid_error(path, e.message()))?;
    for key in table.keys() {
        if !["out", "seeds", "args", "runs"].contains(&key.as_str()) {
            return Err(grid_error(
                path,
                format!("unknown key {key:?} (out, seeds, args, [[runs]])"),
            ));
        }
    }
    let out = match table.get("out") {
        Some(Toml::String(s)) => PathBuf::from(s),
        None => return Err(grid_error(path, "no `out` folder")),
        Some(_) => return Err(grid_error(path, "`out` must be a string")),
    };
    let seeds = seed_list(path, table.get("seeds"))?.unwrap_or_else(|| vec![0]);
    let args = strings(path, table.get("args"), "args")?;
    let blocks = match table.get("runs") {
        None => return Err(SweepError::Empty(path.to_path_buf())),
        Some(Toml::Array(runs)) if runs.is_empty() => {
            return Err(SweepError::Empty(path.to_path_buf()));
        }
        Some(Toml::Array(runs)) => runs
            .iter()
            .map(|r| block(path, r))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(grid_error(path, "`runs` must be [[runs]] blocks")),
    };
    Ok(Grid {
        out,
        seeds,
        args,
        blocks,
    })
}

/// An optional non-empty list of seeds.
fn seed_list(path: &Path, value: Option<&Toml>) -> Result<Option<Vec<u64>>, SweepError> {
    match value {
        None => Ok(None),
        Some(Toml::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|s| s.as_integer().and_then(|s| u64::try_from(s).ok()))
            .collect::<Option<Vec<u64>>>()
            .map(Some)
            .ok_or_else(|| grid_error(path, "`seeds` must be non-negative integers")),
        Some(_) => Err(grid_error(path, "`seeds` must be a non-empty list")),
    }
}

/// An optional list of strings.
fn strings(path: &Path, value: Option<&Toml>, what: &str) -> Result<Vec<String>, SweepError> {
    match value {
        None => Ok(Vec::new()),
        // A NUL byte could not reach a command line.
        Some(Toml::Array(a)) => a
            .iter()
            .map(|s| s.as_str().filter(|s| !s.contains('\0')).map(String::from))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| {
                grid_error(
                    path,
                    format!("`{what}` must be a list of strings without NUL bytes"),
                )
            }),
        Some(_) => Err(grid_error(
            path,
            format!("`{what}` must be a list of strings"),
        )),
    }
}

fn block(path: &Path, value: &Toml) -> Result<Block, SweepError> {
    let table = value
        .as_table()
        .ok_or_else(|| grid_error(path, "a [[runs]] entry must be a table"))?;
    for key in table.keys() {
        if !["experiment", "config", "grid", "args", "seeds"].contains(&key.as_str()) {
            return Err(grid_error(
                path,
                format!("unknown key {key:?} in [[runs]] (experiment, config, grid, args, seeds)"),
            ));
        }
    }
    let string = |key: &str| {
        table
            .get(key)
            .and_then(Toml::as_str)
            .ok_or_else(|| grid_error(path, format!("a [[runs]] block needs `{key}` (a string)")))
    };
    let (experiment, config) = (string("experiment")?, string("config")?);
    // The config path is relative to the working directory, as on `ppml run`'s command line.
    let mut axes = Vec::new();
    if let Some(grid) = table.get("grid") {
        let grid = grid
            .as_table()
            .ok_or_else(|| grid_error(path, "`grid` must be a table"))?;
        for (key, values) in grid {
            let values = match values {
                Toml::Array(v) => v.clone(),
                _ => {
                    return Err(grid_error(
                        path,
                        format!("grid axis {key:?} must be a list"),
                    ));
                }
            };
            if values.is_empty() {
                return Err(SweepError::EmptyAxis {
                    key: key.clone(),
                    config: config.to_string(),
                });
            }
            axes.push((key.clone(), values));
        }
    }
    Ok(Block {
        experiment: experiment.to_string(),
        config: PathBuf::from(config),
        axes,
        args: strings(path, table.get("args"), "[[runs]] args")?,
        seeds: seed_list(path, table.get("seeds"))?,
    })
}
