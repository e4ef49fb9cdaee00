//! What every run shares: the seeded RNG, the device, the datasets and where results go.

use std::path::PathBuf;

use burn::tensor::Device;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

use crate::Result;
use crate::data::{self, DataError, DatasetName, Splits};
use crate::device::Backend;
use crate::progress::Progress;

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
}

/// The live state of a run.
pub struct RunContext {
    /// Machine-level options.
    pub options: RunOptions,
    /// The plain (non-autodiff) device.
    pub device: Device,
    /// The run's only source of randomness: every random choice derives from `--seed`.
    pub rng: StdRng,
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
        })
    }

    /// Loads `name`, fetching it first when it is missing and the run is not offline.
    pub fn load_dataset(&self, name: DatasetName) -> Result<Splits> {
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
        }
    }
}
