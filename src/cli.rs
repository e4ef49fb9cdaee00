//! The command line (clap derive types). Flags override the config file, which overrides the
//! built-in defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use ppml::attacks::membership::quantile::Head;
use ppml::config::ConfigError;
use ppml::data::DatasetName;
use ppml::device::Backend;
use ppml::experiments::federated::FederatedConfig;
use ppml::experiments::mia::{AttackKind, MiaConfig};
use ppml::experiments::train::TrainConfig;
use ppml::fl::federated::Algorithm;
use ppml::fl::{Aggregation, Partition};
use ppml::model::{Activation, ModelKind};
use ppml::privacy::Accountant;
use ppml::train::bench::StepMode;
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
    /// Run an experiment and write <out>/metrics.json (train, federated, mia; the
    /// gradient-inversion and global-model-attack experiments are planned, not yet available).
    #[command(subcommand)]
    Run(RunCommand),
    /// Find, verify and download datasets.
    #[command(subcommand)]
    Data(DataCommand),
    /// Privacy of DP-SGD: ε for a noise multiplier, or the noise multiplier for a target ε.
    Accountant(AccountantArgs),
    /// Build the results table from a folder of metrics.json files.
    Report(ReportArgs),
    /// Measure speed (figures for the README's speed table).
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    #[command(allow_negative_numbers = true)]
    /// Training-step throughput of the MLP (784-256-10, ReLU) and Papernot's tanh CNN, per backend,
    /// measured as the peer figures were (random 28×28 inputs, SGD lr 0.05, median step time).
    Train {
        /// Backends to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "flex,ndarray")]
        backend: Vec<Backend>,
        /// Models to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "mlp,cnn")]
        model: Vec<ModelKind>,
        /// Step kinds, comma-separated: plain SGD, DP-SGD (ghost norms), DP-SGD by the
        /// per-example loop (slow: timed over at most 5 steps).
        #[arg(long, value_delimiter = ',', default_value = "plain,dp,dp-loop")]
        mode: Vec<StepMode>,
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

/// Experiments. Planned, not yet available: `gradient-inversion` (the server rebuilds a party's
/// batch from its gradient; defense: secure aggregation) and `global-model-attack` (an imprint
/// layer leaks samples through the secure aggregate; defense: a DP aggregate).
#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// Train one classifier and report its accuracy.
    Train(Box<TrainArgs>),
    /// Federated learning: parties train one model; the server sees only what the aggregation
    /// protocol reveals.
    Federated(Box<FederatedArgs>),
    /// Membership inference: train a target, attack it with query access only, measure the
    /// attack against the truth (and against the DP ceiling when the target used DP-SGD).
    Mia(Box<MiaArgs>),
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
    /// Dataset [default: emnist-letters, the reference results' dataset; fashion-mnist installs
    /// from Debian where EMNIST cannot be downloaded].
    #[arg(long)]
    pub dataset: Option<DatasetName>,
    /// Folder searched first for datasets.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Seed of every random choice [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output folder for metrics.json and artefacts [default: runs/<experiment>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compute backend [default: flex].
    #[arg(long)]
    pub backend: Option<Backend>,
    /// Shrink the run to seconds (smoke tests, CI).
    #[arg(long)]
    pub quick: bool,
    /// Never download a missing dataset.
    #[arg(long)]
    pub offline: bool,
}

impl CommonArgs {
    /// Applies the flags every experiment config shares.
    fn apply(
        &self,
        dataset: &mut DatasetName,
        seed: &mut u64,
        backend: &mut Backend,
        quick: &mut bool,
    ) {
        set(dataset, self.dataset);
        set(seed, self.seed);
        set(backend, self.backend);
        *quick |= self.quick;
    }
}

/// `ppml run train`.
#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Model family [default: cnn].
    #[arg(long)]
    pub model: Option<ModelKind>,
    /// Nonlinearity [default: tanh].
    #[arg(long)]
    pub activation: Option<Activation>,
    /// MLP hidden widths, comma-separated (e.g. 256 or 512,256) [default: 256].
    #[arg(long, value_delimiter = ',')]
    pub mlp_hidden: Option<Vec<usize>>,
    /// CNN conv channels, two comma-separated numbers (e.g. 16,32) [default: 16,32].
    #[arg(long, value_delimiter = ',')]
    pub cnn_channels: Option<Vec<usize>>,
    /// CNN hidden dense width [default: 32].
    #[arg(long)]
    pub cnn_dense: Option<usize>,
    /// Passes over the training set [default: 10; 40 with --epsilon or --noise-multiplier].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Examples per step (DP-SGD: the expected Poisson batch) [default: 128; 2048 with DP].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Update rule [default: sgd].
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    /// Learning rate [default: 0.05; 4 with DP].
    #[arg(long)]
    pub lr: Option<f64>,
    /// SGD momentum (0 = plain SGD) [default: 0.9].
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Learning-rate schedule [default: constant].
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
    #[command(flatten)]
    pub dp: DpArgs,
}

/// `ppml run federated`.
#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct FederatedArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Model family.
    #[arg(long)]
    pub model: Option<ModelKind>,
    /// Number of parties.
    #[arg(long)]
    pub parties: Option<usize>,
    /// How the training set is split: iid, shards (2 label shards per party) or dirichlet
    /// (α = 0.5); other parameters in the config file.
    #[arg(long)]
    pub partition: Option<PartitionKind>,
    /// What parties send: fed-sgd (a gradient) or fed-avg (a model change).
    #[arg(long)]
    pub algorithm: Option<Algorithm>,
    /// Federated rounds.
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Local SGD steps per round (FedAvg).
    #[arg(long)]
    pub local_steps: Option<usize>,
    /// Local batch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Aggregation protocol.
    #[arg(long)]
    pub aggregation: Option<Aggregation>,
    /// SecAgg threshold t [default: a majority; unused by plain and additive].
    #[arg(long)]
    pub threshold: Option<usize>,
    /// SecAgg neighbours per party: n − 1 is all pairs, an even k < n − 1 is SecAgg+
    /// [default: all pairs].
    #[arg(long)]
    pub neighbours: Option<usize>,
    /// Parties that drop out of each round after computing their update.
    #[arg(long)]
    pub dropouts: Option<usize>,
}

/// `ppml run mia`.
#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct MiaArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The headline attack (the others are run as baselines) [default: quantile].
    #[arg(long)]
    pub attack: Option<AttackKind>,
    /// LiRA shadow models (0 = no LiRA baseline) [default: 0, or 4 with --attack lira].
    #[arg(long)]
    pub shadows: Option<usize>,
    /// Records the target trains on (as many non-members are held out) [default: 20000].
    #[arg(long)]
    pub members: Option<usize>,
    /// Records the attacker holds [default: 20000].
    #[arg(long)]
    pub public: Option<usize>,
    /// The α grid, comma-separated false-positive rates in (0, 1] [default: 17 values
    /// log-spaced from 1e-4 to 1].
    #[arg(long, value_delimiter = ',')]
    pub alpha: Option<Vec<f64>>,
    /// The quantile regressor's head [default: gaussian].
    #[arg(long)]
    pub head: Option<Head>,
    /// Bootstrap resamples per interval [default: 500].
    #[arg(long)]
    pub bootstrap: Option<usize>,
    /// Target model family [default: cnn, Papernot et al.'s tanh CNN].
    #[arg(long)]
    pub model: Option<ModelKind>,
    /// Target batch size (DP-SGD: the expected Poisson batch) [default: 128; 1024 with DP].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Target training epochs [default: 60 (Adam, lr 0.001, batch 128); with --epsilon or
    /// --noise-multiplier 40 (DP-SGD, lr 4, momentum 0.9, expected batch 1024, C = 0.1), as in
    /// the published runs].
    #[arg(long)]
    pub epochs: Option<usize>,
    #[command(flatten)]
    pub dp: DpArgs,
}

impl MiaArgs {
    /// Applies the flags on top of `config`.
    pub fn apply(self, config: &mut MiaConfig) {
        let target = &mut config.target;
        self.common.apply(
            &mut target.dataset,
            &mut target.seed,
            &mut target.backend,
            &mut target.quick,
        );
        set(&mut target.model, self.model);
        set(&mut target.epochs, self.epochs);
        set(&mut target.batch_size, self.batch_size);
        self.dp.apply(target);
        set(&mut config.attack, self.attack);
        if self.shadows.is_some() {
            config.shadows = self.shadows;
        }
        set(&mut config.members, self.members);
        set(&mut config.public, self.public);
        if self.alpha.is_some() {
            config.alphas = self.alpha;
        }
        set(&mut config.quantile.head, self.head);
        set(&mut config.bootstrap, self.bootstrap);
    }
}

/// Partition kinds for the command line (their parameters take the defaults).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PartitionKind {
    /// Uniformly at random.
    Iid,
    /// Two label-sorted shards per party (McMahan et al. 2017).
    Shards,
    /// Dirichlet(0.5) class proportions per party (Hsu et al. 2019).
    Dirichlet,
}

impl FederatedArgs {
    /// Applies the flags on top of `config`.
    pub fn apply(self, config: &mut FederatedConfig) {
        self.common.apply(
            &mut config.dataset,
            &mut config.seed,
            &mut config.backend,
            &mut config.quick,
        );
        set(&mut config.model, self.model);
        set(&mut config.parties, self.parties);
        if let Some(kind) = self.partition {
            config.partition = match kind {
                PartitionKind::Iid => Partition::Iid,
                PartitionKind::Shards => Partition::Shards { per_party: 2 },
                PartitionKind::Dirichlet => Partition::Dirichlet { alpha: 0.5 },
            };
        }
        set(&mut config.algorithm, self.algorithm);
        set(&mut config.rounds, self.rounds);
        set(&mut config.local_steps, self.local_steps);
        set(&mut config.batch_size, self.batch_size);
        set(&mut config.lr, self.lr);
        set(&mut config.aggregation, self.aggregation);
        if self.threshold.is_some() {
            config.threshold = self.threshold;
        }
        if self.neighbours.is_some() {
            config.neighbours = self.neighbours;
        }
        set(&mut config.dropouts_per_round, self.dropouts);
    }
}

/// DP-SGD flags.
#[derive(Debug, Args)]
pub struct DpArgs {
    /// Train with DP-SGD to this ε (the noise multiplier is calibrated); `inf` = no DP
    /// [default: inf]. Without --config, DP runs take the published DP hyperparameters.
    #[arg(long)]
    pub epsilon: Option<f64>,
    /// δ of the (ε, δ) guarantee [default: 1e-5].
    #[arg(long)]
    pub delta: Option<f64>,
    /// Per-example gradient norm bound C [default: 0.1 for a DP run without --config, else 1].
    #[arg(long)]
    pub clip_norm: Option<f64>,
    /// Train with DP-SGD at this noise multiplier σ instead of a target ε.
    #[arg(long)]
    pub noise_multiplier: Option<f64>,
    /// Accountant that calibrates σ and reports ε [default: pld].
    #[arg(long)]
    pub accountant: Option<Accountant>,
}

impl DpArgs {
    /// Whether the flags ask for DP-SGD (a finite ε or a noise multiplier): a run without a
    /// config file then starts from the published DP hyperparameters.
    pub fn asks_for_dp(&self) -> bool {
        self.epsilon.is_some_and(f64::is_finite) || self.noise_multiplier.is_some()
    }

    /// Applies the DP flags to a training config.
    fn apply(self, config: &mut TrainConfig) {
        if self.epsilon.is_some() || self.noise_multiplier.is_some() {
            // A flag picks how the noise is set; the file's other choice no longer applies.
            config.epsilon = self.epsilon;
            config.noise_multiplier = self.noise_multiplier;
        }
        set(&mut config.delta, self.delta);
        set(&mut config.clip_norm, self.clip_norm);
        set(&mut config.accountant, self.accountant);
    }
}

/// `ppml report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Folder searched (at any depth) for metrics.json files.
    pub results: PathBuf,
    /// Rewrite the table between the ppml report markers of this Markdown file.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// With --markdown: change nothing, fail (exit 1) if the file's table is out of date.
    #[arg(long, requires = "markdown")]
    pub check: bool,
}

/// `ppml accountant`.
#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct AccountantArgs {
    /// Poisson sample rate q (expected batch size / dataset size).
    #[arg(long)]
    pub sample_rate: f64,
    /// Number of noisy steps T.
    #[arg(long)]
    pub steps: u64,
    /// δ.
    #[arg(long, default_value_t = 1e-5)]
    pub delta: f64,
    /// Noise multiplier σ: print the ε it gives.
    #[arg(long, required_unless_present = "epsilon", conflicts_with = "epsilon")]
    pub noise_multiplier: Option<f64>,
    /// Target ε: print the smallest σ that reaches it.
    #[arg(long)]
    pub epsilon: Option<f64>,
    /// Accountant for the calibration and the headline ε.
    #[arg(long, default_value = "pld")]
    pub accountant: Accountant,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn set<T>(slot: &mut T, flag: Option<T>) {
    if let Some(v) = flag {
        *slot = v;
    }
}

impl TrainArgs {
    /// Applies the flags on top of `config`.
    pub fn apply(self, config: &mut TrainConfig) -> Result<(), ConfigError> {
        self.common.apply(
            &mut config.dataset,
            &mut config.seed,
            &mut config.backend,
            &mut config.quick,
        );
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
        self.dp.apply(config);
        Ok(())
    }
}
