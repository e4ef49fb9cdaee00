//! The flags of each `ppml run` experiment, and how they land on its config. Every experiment's
//! arguments implement [`ExperimentArgs`], so the binary runs them all through one function.

use clap::Args;

use ppml::Result;
use ppml::attacks::imprint::statistic::Statistic;
use ppml::attacks::membership::quantile::Head;
use ppml::experiments::Experiment;
use ppml::experiments::audit::{Audit, AuditConfig, CanaryKind};
use ppml::experiments::federated::{Federated, FederatedConfig};
use ppml::experiments::global_model_attack::{GlobalAttack, GlobalModelAttack, GlobalModelConfig};
use ppml::experiments::gradient_inversion::{
    GradientInversion, GradientInversionConfig, InversionAttack,
};
use ppml::experiments::mia::{AttackKind, Mia, MiaConfig};
use ppml::experiments::train::{Train, TrainConfig};
use ppml::fl::Partition;
use ppml::fl::federated::Algorithm;
use ppml::fl::{Aggregation, NoisePlacement};
use ppml::privacy::Accountant;
use ppml::train::dp::AuditBreak;

use super::flags::{CommonArgs, DpArgs, ModelArgs, TrainingArgs, set};

/// The flags of one experiment.
pub trait ExperimentArgs {
    /// The experiment they configure.
    type Experiment: Experiment;
    /// The flags every experiment takes.
    fn common(&self) -> &CommonArgs;
    /// Whether the flags ask for DP (then a run without a config file starts from the
    /// published DP hyperparameters).
    fn asks_for_dp(&self) -> bool;
    /// Applies the flags on top of `config` (flag > file > default).
    fn apply(self, config: &mut <Self::Experiment as Experiment>::Config) -> Result<()>;
}

/// `ppml run train`.
#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    /// Use only the first N training examples.
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Use only the first N test examples.
    #[arg(long)]
    pub test_limit: Option<usize>,
    #[command(flatten)]
    pub dp: DpArgs,
}

impl ExperimentArgs for TrainArgs {
    type Experiment = Train;

    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn asks_for_dp(&self) -> bool {
        self.dp.asks_for_dp()
    }

    fn apply(self, config: &mut TrainConfig) -> Result<()> {
        self.common.apply(&mut config.run, &mut config.data);
        self.model.apply(&mut config.model)?;
        self.training.apply(&mut config.train);
        if self.train_limit.is_some() {
            config.data.train_limit = self.train_limit;
        }
        if self.test_limit.is_some() {
            config.data.test_limit = self.test_limit;
        }
        self.dp.apply(&mut config.privacy);
        Ok(())
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

/// `ppml run federated`.
#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct FederatedArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Number of parties [default: 3].
    #[arg(long)]
    pub parties: Option<usize>,
    /// How the training set is split: iid, shards (2 label shards per party) or dirichlet
    /// (α = 0.5); other parameters in the config file [default: iid].
    #[arg(long)]
    pub partition: Option<PartitionKind>,
    /// What parties send: fed-sgd (a gradient) or fed-avg (a model change) [default: fed-avg].
    #[arg(long)]
    pub algorithm: Option<Algorithm>,
    /// Federated rounds [default: 30].
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Local SGD steps per round (FedAvg) [default: 20].
    #[arg(long)]
    pub local_steps: Option<usize>,
    /// Local batch size [default: 64].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate [default: 0.1].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Aggregation protocol [default: secagg].
    #[arg(long)]
    pub aggregation: Option<Aggregation>,
    /// SecAgg threshold t [default: a majority; unused by plain and additive].
    #[arg(long)]
    pub threshold: Option<usize>,
    /// SecAgg neighbours per party: n − 1 is all pairs, an even k < n − 1 is SecAgg+
    /// [default: all pairs].
    #[arg(long)]
    pub neighbours: Option<usize>,
    /// Parties that drop out of each round after computing their update [default: 0].
    #[arg(long)]
    pub dropouts: Option<usize>,
}

impl ExperimentArgs for FederatedArgs {
    type Experiment = Federated;

    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn asks_for_dp(&self) -> bool {
        false
    }

    fn apply(self, config: &mut FederatedConfig) -> Result<()> {
        self.common.apply(&mut config.run, &mut config.data);
        self.model.apply(&mut config.model)?;
        let federation = &mut config.federated;
        set(&mut federation.parties, self.parties);
        if let Some(kind) = self.partition {
            federation.partition = match kind {
                PartitionKind::Iid => Partition::Iid,
                PartitionKind::Shards => Partition::Shards { per_party: 2 },
                PartitionKind::Dirichlet => Partition::Dirichlet { alpha: 0.5 },
            };
        }
        set(&mut federation.algorithm, self.algorithm);
        set(&mut federation.rounds, self.rounds);
        set(&mut federation.local_steps, self.local_steps);
        set(&mut federation.batch_size, self.batch_size);
        set(&mut federation.lr, self.lr);
        let aggregation = &mut config.aggregation;
        set(&mut aggregation.protocol, self.aggregation);
        if self.threshold.is_some() {
            aggregation.threshold = self.threshold;
        }
        if self.neighbours.is_some() {
            aggregation.neighbours = self.neighbours;
        }
        set(&mut aggregation.dropouts_per_round, self.dropouts);
        Ok(())
    }
}

/// `ppml run mia`. The model, training and DP flags describe the target (LiRA's shadows are
/// trained the same way).
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
    /// Mislabelled canaries M: M more members, M more held out, and the loss attack judged on
    /// them alone (against the DP ceiling too) [default: 0].
    #[arg(long)]
    pub canaries: Option<usize>,
    /// Positive control: train the DP target WITHOUT noise (noise) or WITHOUT clipping (clip)
    /// while claiming the calibrated ε; with --canaries the ceiling check must fail (exit 1)
    /// [default: none].
    #[arg(long)]
    pub audit_break: Option<AuditBreak>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    #[command(flatten)]
    pub dp: DpArgs,
}

impl ExperimentArgs for MiaArgs {
    type Experiment = Mia;

    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn asks_for_dp(&self) -> bool {
        self.dp.asks_for_dp()
    }

    fn apply(self, config: &mut MiaConfig) -> Result<()> {
        self.common.apply(&mut config.run, &mut config.data);
        self.model.apply(&mut config.model)?;
        self.training.apply(&mut config.train);
        self.dp.apply(&mut config.privacy);
        let game = &mut config.membership;
        set(&mut game.attack, self.attack);
        if self.shadows.is_some() {
            game.shadows = self.shadows;
        }
        set(&mut game.members, self.members);
        set(&mut game.public, self.public);
        if self.alpha.is_some() {
            game.alphas = self.alpha;
        }
        set(&mut config.quantile.head, self.head);
        set(&mut game.bootstrap, self.bootstrap);
        set(&mut game.canaries, self.canaries);
        set(&mut game.audit_break, self.audit_break);
        Ok(())
    }
}

/// `ppml run gradient-inversion`. Lists (`--batch-size 1,2,4`) expand into cases.
#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct GradientInversionArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Images per party batch, comma-separated [default: 1,2,4,7,8].
    #[arg(long, value_delimiter = ',')]
    pub batch_size: Option<Vec<usize>>,
    /// Aggregations, comma-separated [default: plain,secagg].
    #[arg(long, value_delimiter = ',')]
    pub aggregation: Option<Vec<Aggregation>>,
    /// Attacks, comma-separated; analytic applies to batch 1 only [default:
    /// analytic,idlg,dlg,ig].
    #[arg(long, value_delimiter = ',')]
    pub attack: Option<Vec<InversionAttack>>,
    /// Parties of the FedSGD round; party 0 is the target [default: 4].
    #[arg(long)]
    pub parties: Option<usize>,
    /// Repetitions of every case [default: 3].
    #[arg(long)]
    pub seeds: Option<usize>,
    /// The FedSGD round attacked; rounds before it train the model [default: 1, the untrained
    /// model].
    #[arg(long)]
    pub attack_round: Option<usize>,
    /// FedSGD rounds the federation runs, which local DP is calibrated for [default: up to
    /// the attacked round].
    #[arg(long)]
    pub rounds: Option<usize>,
    /// L-BFGS iterations per DLG trial [default: 300].
    #[arg(long)]
    pub iterations: Option<usize>,
    /// DLG trials from fresh random images [default: 2].
    #[arg(long)]
    pub restarts: Option<usize>,
    /// SSIM at which an image counts as recovered [default: 0.6].
    #[arg(long)]
    pub ssim_threshold: Option<f64>,
    /// Local DP levels, comma-separated: each party clips per example and adds Gaussian noise
    /// calibrated to this ε before sending; inf = no DP [default: inf].
    #[arg(long, value_delimiter = ',')]
    pub epsilon: Option<Vec<f64>>,
}

impl ExperimentArgs for GradientInversionArgs {
    type Experiment = GradientInversion;

    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn asks_for_dp(&self) -> bool {
        false
    }

    fn apply(self, config: &mut GradientInversionConfig) -> Result<()> {
        self.common.apply(&mut config.run, &mut config.data);
        self.model.apply(&mut config.model)?;
        let spec = &mut config.inversion;
        set(&mut spec.batch_sizes, self.batch_size);
        set(&mut spec.aggregations, self.aggregation);
        set(&mut spec.attacks, self.attack);
        set(&mut spec.parties, self.parties);
        set(&mut spec.seeds, self.seeds);
        set(&mut spec.attack_round, self.attack_round);
        if self.rounds.is_some() {
            spec.rounds = self.rounds;
        }
        set(&mut spec.iterations, self.iterations);
        set(&mut spec.restarts, self.restarts);
        set(&mut spec.ssim_threshold, self.ssim_threshold);
        set(&mut spec.epsilons, self.epsilon);
        Ok(())
    }
}

/// `ppml run global-model-attack`. Lists (`--bins 96,384`) expand into cases.
#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct GlobalModelAttackArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Parties n (with --batch-size: one federation, replacing the config's list) [default: 3].
    #[arg(long)]
    pub parties: Option<usize>,
    /// Images per party batch B (with --parties: one federation) [default: 8].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Imprint bins k, comma-separated, each at least n·B (replaces the config's bins and
    /// bins_per_sample) [default: 64·n·B].
    #[arg(long, value_delimiter = ',')]
    pub bins: Option<Vec<usize>>,
    /// DP aggregate levels, comma-separated; inf = no defense [default: inf].
    #[arg(long, value_delimiter = ',')]
    pub epsilon: Option<Vec<f64>>,
    /// Where the DP noise is added, comma-separated: central, distributed [default: central].
    #[arg(long, value_delimiter = ',')]
    pub noise: Option<Vec<NoisePlacement>>,
    /// What every imprint row measures [default: mean-brightness].
    #[arg(long)]
    pub statistic: Option<Statistic>,
    /// The attack [default: imprint].
    #[arg(long)]
    pub attack: Option<GlobalAttack>,
    /// Repetitions of every case [default: 10].
    #[arg(long)]
    pub seeds: Option<usize>,
    /// FedSGD rounds of the defended federation (σ's calibration, the global model's
    /// training) [default: 300].
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Also run the oracle placement (cut-offs from the private batch): an upper bound, not an
    /// attack.
    #[arg(long)]
    pub oracle: bool,
}

impl ExperimentArgs for GlobalModelAttackArgs {
    type Experiment = GlobalModelAttack;

    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn asks_for_dp(&self) -> bool {
        false
    }

    fn apply(self, config: &mut GlobalModelConfig) -> Result<()> {
        self.common.apply(&mut config.run, &mut config.data);
        self.model.apply(&mut config.model)?;
        let spec = &mut config.imprint;
        if self.parties.is_some() || self.batch_size.is_some() {
            let [n, b] = spec.federations.first().copied().unwrap_or([3, 8]);
            spec.federations = vec![[self.parties.unwrap_or(n), self.batch_size.unwrap_or(b)]];
        }
        if let Some(bins) = self.bins {
            spec.bins = bins;
            spec.bins_per_sample.clear();
        }
        set(&mut spec.statistic, self.statistic);
        set(&mut spec.attack, self.attack);
        set(&mut spec.seeds, self.seeds);
        spec.oracle |= self.oracle;
        set(&mut config.defense.epsilons, self.epsilon);
        set(&mut config.defense.noise, self.noise);
        set(&mut config.defense.rounds, self.rounds);
        Ok(())
    }
}

/// `ppml run audit`. The model and training flags describe the audited DP-SGD run.
#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct AuditArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    /// Audit this one claimed ε instead of the config's list; inf = non-private training
    /// (input canaries only) [default: 1, 2, 4 and 8].
    #[arg(long)]
    pub epsilon: Option<f64>,
    /// δ of the (ε, δ) guarantee [default: 1e-5].
    #[arg(long)]
    pub delta: Option<f64>,
    /// Per-example gradient norm bound C [default: 0.1].
    #[arg(long)]
    pub clip_norm: Option<f64>,
    /// Accountant that calibrates σ and reports the claimed ε [default: pld].
    #[arg(long)]
    pub accountant: Option<Accountant>,
    /// Canaries m, each trained on with probability ½ [default: 1000].
    #[arg(long)]
    pub canaries: Option<usize>,
    /// input: mislabelled images scored by their loss (black box); gradient: Dirac gradients
    /// scored by the released updates (white box) [default: gradient].
    #[arg(long)]
    pub canary_kind: Option<CanaryKind>,
    /// Guesses per side k, comma-separated, each at most m/2 [default: m/20, m/10, m/4, m/2].
    #[arg(long, value_delimiter = ',')]
    pub guesses: Option<Vec<usize>>,
    /// Confidence of the lower bounds, in (0, 1) [default: 0.95].
    #[arg(long)]
    pub confidence: Option<f64>,
    /// Positive control: train WITHOUT noise (noise) or WITHOUT clipping (clip) while claiming
    /// the calibrated ε. The audit must catch it: the run then exits 1 [default: none].
    #[arg(long)]
    pub audit_break: Option<AuditBreak>,
    /// Use only the first N training examples.
    #[arg(long)]
    pub train_limit: Option<usize>,
}

impl ExperimentArgs for AuditArgs {
    type Experiment = Audit;

    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn asks_for_dp(&self) -> bool {
        true
    }

    fn apply(self, config: &mut AuditConfig) -> Result<()> {
        self.common.apply(&mut config.run, &mut config.data);
        self.model.apply(&mut config.model)?;
        self.training.apply(&mut config.train);
        if let Some(eps) = self.epsilon {
            config.audit.epsilons = vec![eps];
        }
        set(&mut config.privacy.delta, self.delta);
        set(&mut config.privacy.clip_norm, self.clip_norm);
        set(&mut config.privacy.accountant, self.accountant);
        let audit = &mut config.audit;
        set(&mut audit.canaries, self.canaries);
        set(&mut audit.canary_kind, self.canary_kind);
        if self.guesses.is_some() {
            audit.guesses = self.guesses;
        }
        set(&mut audit.confidence, self.confidence);
        set(&mut audit.audit_break, self.audit_break);
        if self.train_limit.is_some() {
            config.data.train_limit = self.train_limit;
        }
        Ok(())
    }
}
