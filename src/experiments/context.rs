//! What every run shares: the seeded RNG, the device, the datasets and where results go.

use std::path::PathBuf;

use burn::tensor::Device;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::provenance::{DataFile, Provenance, file_sha256};
use crate::Result;
use crate::data::{self, DataError, DatasetName, Splits};
use crate::device::Backend;
use crate::progress::Progress;
use crate::report::OutputDir;

/// The `[run]` table: what makes a run reproducible, and how big it is.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSpec {
    /// Seed of every random choice (weights, splits, shuffles, noise).
    pub seed: u64,
    /// Compute backend.
    pub backend: Backend,
    /// Shrink the run to seconds (smoke tests, CI); `metrics.json` says so.
    pub quick: bool,
}

/// Sizes and origin of the data a run used.
#[derive(Debug, Clone, Serialize)]
pub struct DataSummary {
    /// Training examples used.
    pub train: usize,
    /// Test examples used.
    pub test: usize,
    /// Classes.
    pub classes: usize,
    /// Folder the files were read from.
    pub source: String,
}

/// Options of a run that are about the machine, not the experiment (so not in its config).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where datasets are looked for first (`--data-dir`).
    pub data_dir: Option<PathBuf>,
    /// Where results go (`--out`).
    pub out: PathBuf,
    /// Never download a missing dataset (`--offline`).
    pub offline: bool,
    /// Progress bars on stderr or hidden.
    pub progress: Progress,
    /// The config file the run's config was read from, with the sha256 of the text read
    /// (`provenance.config_file`; `None`: the built-in defaults).
    pub config_file: Option<DataFile>,
}

/// The live state of a run.
pub struct RunContext {
    /// Machine-level options.
    pub options: RunOptions,
    /// The plain (non-autodiff) device.
    pub device: Device,
    /// The run's only source of randomness: every random choice derives from `--seed`.
    pub rng: StdRng,
    /// The data files read so far, with their checksums (for the results' provenance).
    data_files: Vec<DataFile>,
}

impl RunContext {
    /// Seeds the RNG and opens the device.
    pub fn new(options: RunOptions, backend: Backend, seed: u64) -> Result<Self> {
        let device = backend.device()?;
        device.seed(seed);
        Ok(Self {
            options,
            device,
            rng: StdRng::seed_from_u64(seed),
            data_files: Vec::new(),
        })
    }

    /// Checks, before any compute, that the output folder can take `files` (see
    /// [`OutputDir`]): an unwritable `--out` is found now, not after an hour of training.
    pub fn prepare_output(&self, files: &[&str]) -> Result<OutputDir> {
        Ok(OutputDir::prepare(&self.options.out, files)?)
    }

    /// The header of this run's `metrics.json`, with its provenance.
    pub fn header(
        &self,
        experiment: &'static str,
        dataset: DatasetName,
        run: &RunSpec,
    ) -> ResultHeader {
        let mut header = ResultHeader::new(experiment, dataset, run.seed, run.quick);
        header.provenance.data_files = self.data_files.clone();
        header.provenance.config_file = self.options.config_file.clone();
        header
    }

    /// Loads `name`, fetching it first when it is missing and the run is not offline.
    pub fn load_dataset(&mut self, name: DatasetName) -> Result<Splits> {
        let splits = self.load_or_fetch(name)?;
        for path in &splits.location.files {
            let file = file_sha256(path)?;
            if !self.data_files.contains(&file) {
                self.data_files.push(file);
            }
        }
        Ok(splits)
    }

    fn load_or_fetch(&self, name: DatasetName) -> Result<Splits> {
        let data_dir = self.options.data_dir.as_deref();
        match data::load(name, data_dir) {
            Err(DataError::NotFound { .. }) if !self.options.offline => {
                let dest = data::fetch_dir(name, data_dir);
                data::fetch::fetch(name, &dest, None, &self.options.progress).map_err(|e| {
                    DataError::Unfetchable {
                        name,
                        source: Box::new(e),
                    }
                })?;
                Ok(data::load(name, data_dir)?)
            }
            other => Ok(other?),
        }
    }

    /// Path of a file in the output folder.
    pub fn out_path(&self, file: &str) -> PathBuf {
        self.options.out.join(file)
    }
}

/// The fields every `metrics.json` starts with.
#[derive(Debug, Clone, Serialize)]
pub struct ResultHeader {
    /// Which experiment.
    pub experiment: &'static str,
    /// The ppml version that wrote the file.
    pub ppml_version: &'static str,
    /// Which dataset.
    pub dataset: DatasetName,
    /// The seed behind every random choice.
    pub seed: u64,
    /// Whether `--quick` shrank the run.
    pub quick: bool,
    /// Command line, code and data behind the numbers.
    pub provenance: Provenance,
}

impl ResultHeader {
    /// The header of an experiment's results.
    pub fn new(experiment: &'static str, dataset: DatasetName, seed: u64, quick: bool) -> Self {
        Self {
            experiment,
            ppml_version: env!("CARGO_PKG_VERSION"),
            dataset,
            seed,
            quick,
            provenance: Provenance::of_this_process(),
        }
    }
}

/// A warning when a classifier's test accuracy is within 5 points of chance (1 / classes): its
/// numbers look like results but describe a model that learned nothing.
pub fn chance_warning(what: &str, test_accuracy: f64, classes: usize) -> Option<String> {
    let chance = 1.0 / classes.max(1) as f64;
    (test_accuracy < chance + 0.05).then(|| {
        format!(
            "the {what} reached {:.1}% test accuracy, within 5 points of chance ({:.1}%): \
             it learned almost nothing, so the figures below describe a useless model",
            100.0 * test_accuracy,
            100.0 * chance
        )
    })
}
