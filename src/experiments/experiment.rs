//! What every experiment is to the binary: a config type, a run, a report type and a summary.
//! The binary dispatches every `ppml run <experiment>` through [`launch`], so a new experiment
//! is a new file implementing [`Experiment`], not a new arm in each of the binary's matches.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::provenance::{DataFile, sha256_hex};
use super::{RunContext, RunOptions, RunSpec};
use crate::Result;
use crate::config::{MovedKey, parse_config, read_config};

/// One `ppml run` experiment.
pub trait Experiment {
    /// Its name on the command line and in `metrics.json`.
    const NAME: &'static str;
    /// Its config: TOML tables, every key optional, unknown keys refused.
    type Config: Serialize + DeserializeOwned + Clone;
    /// Its `metrics.json`.
    type Report: Serialize;

    /// The config without a file: the published run, or (`private`) the published DP run.
    fn default_config(private: bool) -> Self::Config;
    /// Where each key of the old flat layout went, for [`load`]'s message.
    fn moved_keys() -> Vec<MovedKey>;
    /// The `[run]` table of a config: seed, backend, quick.
    fn run_spec(config: &Self::Config) -> &RunSpec;
    /// Runs the experiment and writes its results into the output folder.
    fn run(config: Self::Config, ctx: &mut RunContext) -> Result<Self::Report>;
    /// What a reader should know before trusting the numbers (also in `metrics.json`).
    fn warnings(report: &Self::Report) -> &[String];
    /// The lines the binary prints when the run is done.
    fn summary(report: &Self::Report) -> Vec<String>;
}

/// The config of `E`: read from `path` (refusing the old flat layout), or the default.
pub fn load<E: Experiment>(path: Option<&Path>, private: bool) -> Result<E::Config> {
    Ok(load_with_file::<E>(path, private)?.0)
}

/// [`load`], with the path and sha256 of the text it parsed (for the results' provenance:
/// hashed as read, so a file edited during a long run cannot be mistaken for its config).
pub fn load_with_file<E: Experiment>(
    path: Option<&Path>,
    private: bool,
) -> Result<(E::Config, Option<DataFile>)> {
    let Some(path) = path else {
        return Ok((E::default_config(private), None));
    };
    let text = read_config(path)?;
    let file = DataFile {
        path: path.display().to_string(),
        sha256: sha256_hex(text.as_bytes()),
    };
    Ok((parse::<E>(&text, path)?, Some(file)))
}

/// A config of `E` from its text, checked as [`load`] checks a file (`path` names it in errors).
pub fn parse<E: Experiment>(text: &str, path: &Path) -> Result<E::Config> {
    Ok(parse_config(text, path, &E::moved_keys())?)
}

/// Runs `E` with `config`: seeds the run from its `[run]` table and opens its device.
pub fn launch<E: Experiment>(config: E::Config, options: RunOptions) -> Result<E::Report> {
    let spec = E::run_spec(&config);
    let mut ctx = RunContext::new(options, spec.backend, spec.seed)?;
    E::run(config, &mut ctx)
}

/// Keys of the `[run]` and `[data]` tables that were top-level in the flat layout.
pub const RUN_AND_DATA_KEYS: &[MovedKey] = &[
    ("seed", "[run]"),
    ("backend", "[run]"),
    ("quick", "[run]"),
    ("dataset", "[data]"),
    ("train_limit", "[data]"),
    ("test_limit", "[data]"),
];

/// Keys of the `[model]` table that were top-level in the flat layout.
pub const MODEL_KEYS: &[MovedKey] = &[
    ("model", "[model] kind"),
    ("activation", "[model]"),
    ("mlp_hidden", "[model]"),
    ("cnn_channels", "[model]"),
    ("cnn_dense", "[model]"),
];

/// Keys of the `[train]` and `[privacy]` tables that were top-level in the flat layout.
pub const TRAIN_AND_PRIVACY_KEYS: &[MovedKey] = &[
    ("epochs", "[train]"),
    ("batch_size", "[train]"),
    ("optimizer", "[train]"),
    ("lr", "[train]"),
    ("momentum", "[train]"),
    ("lr_schedule", "[train]"),
    ("init_from", "[train]"),
    ("epsilon", "[privacy]"),
    ("noise_multiplier", "[privacy]"),
    ("delta", "[privacy]"),
    ("clip_norm", "[privacy]"),
    ("accountant", "[privacy]"),
];
