//! The command line (clap derive types). Flags override the config file, which overrides the
//! built-in defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use ppml::config::ConfigError;
use ppml::data::DatasetName;
use ppml::device::Backend;
use ppml::experiments::train::TrainConfig;
use ppml::model::{Activation, ModelKind};
use ppml::train::{LrSchedule, OptimizerKind};

/// Privacy attacks on ML models, and the defenses that stop them, on real data.
#[derive(Debug, Parser)]
#[command(name = "ppml", version, about)]
pub struct Cli {
    /// Hide progress bars.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an experiment and write <out>/metrics.json.
    #[command(subcommand)]
    Run(RunCommand),
    /// Find, verify and download datasets.
    #[command(subcommand)]
    Data(DataCommand),
    /// Measure speed (figures for the README's speed table).
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Training-step throughput of the MLP (784-256-10, ReLU) and Papernot's tanh CNN, per backend,
    /// measured as the peer figures were (random 28×28 inputs, SGD lr 0.05, median step time).
    Train {
        /// Backends to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "flex,ndarray")]
        backend: Vec<Backend>,
        /// Models to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "mlp,cnn")]
        model: Vec<ModelKind>,
        /// Examples per step.
        #[arg(long, default_value_t = 256)]
        batch_size: usize,
        /// Untimed steps first.
        #[arg(long, default_value_t = 5)]
        warmup: usize,
        /// Timed steps.
        #[arg(long, default_value_t = 30)]
        steps: usize,
        /// Also write the figures as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

/// Experiments.
#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// Train one classifier and report its accuracy.
    Train(Box<TrainArgs>),
}

/// Dataset commands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download a dataset from its official source, verify it, and unpack it into <data-dir>/<name>/.
    Fetch {
        /// Dataset to download.
        name: DatasetName,
        /// Root folder for datasets (default: $PPML_DATA_DIR, else ./data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Download from this mirror instead (checksums are still verified).
        #[arg(long)]
        url: Option<String>,
    },
    /// List the datasets found on disk, with counts, class balance and checksum status.
    Check {
        /// Check only this dataset.
        name: Option<DatasetName>,
        /// Folder searched first.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Options every experiment takes.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Config file (TOML); flags override its values.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Dataset.
    #[arg(long)]
    pub dataset: Option<DatasetName>,
    /// Folder searched first for datasets.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Seed of every random choice.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output folder for metrics.json and artefacts.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compute backend.
    #[arg(long)]
    pub backend: Option<Backend>,
    /// Shrink the run to seconds (smoke tests, CI).
    #[arg(long)]
    pub quick: bool,
    /// Never download a missing dataset.
    #[arg(long)]
    pub offline: bool,
}

/// `ppml run train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Model family.
    #[arg(long)]
    pub model: Option<ModelKind>,
    /// Nonlinearity.
    #[arg(long)]
    pub activation: Option<Activation>,
    /// MLP hidden widths, comma-separated (e.g. 256 or 512,256).
    #[arg(long, value_delimiter = ',')]
    pub mlp_hidden: Option<Vec<usize>>,
    /// CNN conv channels, two comma-separated numbers (e.g. 16,32).
    #[arg(long, value_delimiter = ',')]
    pub cnn_channels: Option<Vec<usize>>,
    /// CNN hidden dense width.
    #[arg(long)]
    pub cnn_dense: Option<usize>,
    /// Passes over the training set.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Examples per step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Update rule.
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// SGD momentum (0 = plain SGD).
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Learning-rate schedule.
    #[arg(long)]
    pub lr_schedule: Option<LrSchedule>,
    /// Use only the first N training examples.
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Use only the first N test examples.
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Start from the weights of this checkpoint (a model.bpk written by an earlier run).
    #[arg(long)]
    pub init_from: Option<PathBuf>,
}

fn set<T>(slot: &mut T, flag: Option<T>) {
    if let Some(v) = flag {
        *slot = v;
    }
}

impl TrainArgs {
    /// Applies the flags on top of `config`.
    pub fn apply(self, config: &mut TrainConfig) -> Result<(), ConfigError> {
        let c = self.common;
        set(&mut config.dataset, c.dataset);
        set(&mut config.seed, c.seed);
        set(&mut config.backend, c.backend);
        config.quick |= c.quick;
        set(&mut config.model, self.model);
        set(&mut config.activation, self.activation);
        set(&mut config.mlp_hidden, self.mlp_hidden);
        if let Some(ch) = self.cnn_channels {
            config.cnn_channels = <[usize; 2]>::try_from(ch.as_slice()).map_err(|_| {
                ConfigError::invalid(
                    "cnn_channels",
                    format!("{ch:?}"),
                    "give two numbers, e.g. 16,32",
                )
            })?;
        }
        set(&mut config.cnn_dense, self.cnn_dense);
        set(&mut config.epochs, self.epochs);
        set(&mut config.batch_size, self.batch_size);
        set(&mut config.optimizer, self.optimizer);
        set(&mut config.lr, self.lr);
        set(&mut config.momentum, self.momentum);
        set(&mut config.lr_schedule, self.lr_schedule);
        if self.train_limit.is_some() {
            config.train_limit = self.train_limit;
        }
        if self.test_limit.is_some() {
            config.test_limit = self.test_limit;
        }
        if self.init_from.is_some() {
            config.init_from = self.init_from;
        }
        Ok(())
    }
}
