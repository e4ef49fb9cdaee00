//! The command line (clap derive types). Flags override the config file, which overrides the
//! built-in defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use ppml::data::DatasetName;
use ppml::device::Backend;
use ppml::model::ModelKind;
use ppml::privacy::Accountant;
use ppml::train::bench::StepMode;

mod flags;
mod run;

pub use flags::CommonArgs;
pub use run::{
    AuditArgs, ExperimentArgs, FederatedArgs, GlobalModelAttackArgs, GradientInversionArgs,
    MiaArgs, TrainArgs,
};

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
    /// Run an experiment and write <out>/metrics.json (train, federated, mia,
    /// gradient-inversion, global-model-attack).
    #[command(subcommand)]
    Run(RunCommand),
    /// Find, verify and download datasets.
    #[command(subcommand)]
    Data(DataCommand),
    /// Privacy of DP-SGD: ε for a noise multiplier, or the noise multiplier for a target ε.
    Accountant(AccountantArgs),
    /// Build the results table from a folder of metrics.json files.
    Report(ReportArgs),
    /// Run a grid of experiments (configs × config values × seeds), skipping finished runs;
    /// or print its runs as command lines for GNU parallel or a Slurm job array.
    Sweep(SweepArgs),
    /// Measure speed (figures for the README's speed table).
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    #[command(allow_negative_numbers = true)]
    /// Training-step throughput of the MLP (784-256-10, ReLU) and Papernot's tanh CNN (and, with
    /// `--model lenet`, DLG's sigmoid LeNet), per backend, measured as the peer figures were
    /// (random 28×28 inputs, SGD lr 0.05, median step time).
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
    /// DLG against the 784-256-10 sigmoid MLP, measured as the peer figures were: median time
    /// of one loss-and-gradient evaluation, and L-BFGS evaluations and seconds until the image
    /// MSE is below the threshold.
    Dlg(DlgBenchArgs),
}

/// `ppml bench dlg`.
#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct DlgBenchArgs {
    /// Batch sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    pub batch: Vec<usize>,
    /// Attack runs per batch size (seeds 0, 1, …).
    #[arg(long, default_value_t = 3)]
    pub seeds: usize,
    /// Evaluations an attack run may make.
    #[arg(long, default_value_t = 300)]
    pub max_evals: usize,
    /// A run succeeds at the first accepted iterate with image MSE below this.
    #[arg(long, default_value_t = 1e-4)]
    pub threshold: f64,
    /// Untimed evaluations first.
    #[arg(long, default_value_t = 5)]
    pub warmup: usize,
    /// Timed evaluations.
    #[arg(long, default_value_t = 50)]
    pub evals: usize,
    /// Backends to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "flex")]
    pub backend: Vec<Backend>,
    /// Also write the setup and figures as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Experiments.
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
    /// Gradient inversion: the server rebuilds a party's batch from its FedSGD gradient (DLG,
    /// iDLG, the analytic inversion); secure aggregation as the defense.
    GradientInversion(Box<GradientInversionArgs>),
    /// Global-model attack: a malicious server plants an imprint block and reads the parties'
    /// samples out of the secure aggregate; a DP aggregate as the defense.
    GlobalModelAttack(Box<GlobalModelAttackArgs>),
    /// Privacy audit: canaries in one DP-SGD run per claimed ε, and the ε their guesses prove,
    /// a lower bound to set beside the accountant's; --audit-break is the positive control.
    Audit(Box<AuditArgs>),
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

/// `ppml report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Folder searched (at any depth) for metrics.json files.
    pub results: PathBuf,
    /// Rewrite the generated blocks (`<!-- ppml report: TABLE -->` … `<!-- ppml report: end
    /// -->`) of this Markdown file.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// With --markdown: change nothing, fail (exit 1) if one of the file's tables is out of
    /// date.
    #[arg(long, requires = "markdown")]
    pub check: bool,
    /// Also draw the summary plots (accuracy and TPR against ε, ROC curves, leakage against
    /// ε, recovered fraction against bins) as PNG files into this folder.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
}

/// `ppml sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The grid file (TOML; see the README's "Sweeps" section).
    pub grid: PathBuf,
    /// Runs at a time, each its own `ppml run` process.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Add --quick to every run (seconds per run: CI, a first look); the runs then go to
    /// <out>-quick unless --out says otherwise, never over the full runs.
    #[arg(long)]
    pub quick: bool,
    /// Folder for the runs instead of the grid's `out`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the runs' configs, print one `ppml run …` line per run still to do, run nothing.
    #[arg(long, conflicts_with = "emit_slurm")]
    pub emit_jobs: bool,
    /// Write the runs' configs and an `sbatch --array` script here whose task i runs line i of
    /// <out>/.sweep/jobs.txt; run nothing.
    #[arg(long)]
    pub emit_slurm: Option<PathBuf>,
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
