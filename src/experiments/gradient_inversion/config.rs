//! What defines a gradient-inversion run: the victim (`[model]`, a sigmoid MLP as DLG attacks),
//! and the grid of cases (`[inversion]`): batch sizes × aggregations × attacks × seeds.

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::config::{ConfigError, at_least_one, count_in, positive};
use crate::data::DataSpec;
use crate::experiments::RunSpec;
use crate::fl::{Aggregation, FixedPoint};
use crate::metrics::leakage::SsimThreshold;
use crate::model::{Activation, ModelKind, ModelSpec};

/// Most cases one run may hold (each runs an attack).
const MAX_CASES: usize = 10_000;
/// Most FedSGD rounds a federation may run.
const MAX_ROUNDS: usize = 1_000_000;

/// The attacks of this experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum InversionAttack {
    /// The analytic inversion of the first dense layer (batch 1 only).
    Analytic,
    /// iDLG: the labels from the last layer's gradient (bias-corrected counts for a batch),
    /// then gradient matching over the images only.
    Idlg,
    /// DLG: images and labels by gradient matching.
    Dlg,
    /// Inverting Gradients: cosine matching plus total variation by signed Adam, labels read
    /// off the bias gradient.
    Ig,
}

impl InversionAttack {
    /// The name in `metrics.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            InversionAttack::Analytic => "analytic",
            InversionAttack::Idlg => "idlg",
            InversionAttack::Dlg => "dlg",
            InversionAttack::Ig => "ig",
        }
    }

    /// Whether the attack applies to the gradient of a batch of `batch` images: the analytic
    /// inversion is exact only at batch 1 (run on a larger batch it averages its images).
    pub fn applies_to(self, batch: usize) -> bool {
        self != InversionAttack::Analytic || batch == 1
    }
}

/// The grid of cases: an `[inversion]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InversionSpec {
    /// Parties of the FedSGD round; party 0 is the target.
    pub parties: usize,
    /// Images per party batch, one case each.
    pub batch_sizes: Vec<usize>,
    /// `plain` (the server sees party 0's gradient) and/or `secagg` (it sees party 0's masked
    /// upload and the sum of all parties' gradients), one case each.
    pub aggregations: Vec<Aggregation>,
    /// The attacks, each run on every observed gradient it applies to.
    pub attacks: Vec<InversionAttack>,
    /// Repetitions with fresh data, weights and attack starts.
    pub seeds: usize,
    /// FedSGD rounds the federation runs, what local DP's σ is calibrated for (unset: up to the
    /// attacked round). Rounds after the attacked one change nothing the attack sees and are
    /// not run.
    pub rounds: Option<usize>,
    /// The round whose gradients the server attacks (1: the untrained model; a later round
    /// attacks a model the federation has trained for the rounds before it).
    pub attack_round: usize,
    /// The server's FedSGD step size: the model moves by −lr × the mean gradient each round.
    pub lr: f64,
    /// L-BFGS iterations per DLG trial (the reference code: 300).
    pub iterations: usize,
    /// DLG trials from fresh random images; the lowest matching loss is kept.
    pub restarts: usize,
    /// Signed-Adam steps of Inverting Gradients (the authors: 24,000).
    pub ig_iterations: usize,
    /// Weight of Inverting Gradients' total-variation prior (the authors' command line: 1e-4).
    pub tv: f64,
    /// An image counts as recovered when its SSIM to its original reaches this.
    pub ssim_threshold: f64,
    /// Gradient coordinates are clipped to ±clip_range before the fixed-point encoding.
    pub clip_range: f64,
    /// Local DP levels, one case each: with a finite ε every party clips each example's
    /// gradient to `clip_norm` and adds Gaussian noise to its batch mean before sending it,
    /// σ calibrated for one release of that mean (no subsampling amplification is claimed).
    /// `inf`: no DP.
    #[serde(serialize_with = "crate::privacy::serialize_epsilons")]
    pub epsilons: Vec<f64>,
    /// δ of the local (ε, δ) guarantee.
    pub delta: f64,
    /// Per-example clipping norm C under local DP.
    pub clip_norm: f64,
}

impl Default for InversionSpec {
    fn default() -> Self {
        Self {
            parties: 4,
            batch_sizes: vec![1, 2, 4, 7, 8],
            aggregations: vec![Aggregation::Plain, Aggregation::SecAgg],
            attacks: vec![
                InversionAttack::Analytic,
                InversionAttack::Idlg,
                InversionAttack::Dlg,
                InversionAttack::Ig,
            ],
            seeds: 3,
            rounds: None,
            attack_round: 1,
            lr: 0.1,
            iterations: 300,
            restarts: 2,
            ig_iterations: 2_000,
            tv: 1e-4,
            ssim_threshold: 0.6,
            clip_range: 1.0,
            epsilons: vec![f64::INFINITY],
            delta: 1e-5,
            clip_norm: 1.0,
        }
    }
}

/// Everything that defines a gradient-inversion run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradientInversionConfig {
    /// Seed, backend, quick.
    pub run: RunSpec,
    /// The dataset the parties hold.
    pub data: DataSpec,
    /// The victim: an MLP (default: DLG's sigmoid, 784-256-10).
    pub model: ModelSpec,
    /// The cases.
    pub inversion: InversionSpec,
}

impl Default for GradientInversionConfig {
    fn default() -> Self {
        Self {
            run: RunSpec::default(),
            data: DataSpec::default(),
            model: ModelSpec::mlp(&[256], Activation::Sigmoid),
            inversion: InversionSpec::default(),
        }
    }
}

impl InversionSpec {
    /// The rounds the federation runs: `rounds`, or up to the attacked round.
    pub fn rounds(&self) -> usize {
        self.rounds.unwrap_or(self.attack_round)
    }
}

impl GradientInversionConfig {
    /// Applies `--quick`: 2,000 training images, batches 1 and 2, one seed, 100 iterations.
    pub fn resolve(mut self) -> Self {
        if self.run.quick {
            self.data.cap(2_000, 1_000);
            let small: Vec<usize> = self
                .inversion
                .batch_sizes
                .iter()
                .copied()
                .filter(|&b| b <= 2)
                .collect();
            self.inversion.batch_sizes = if small.is_empty() { vec![1] } else { small };
            self.inversion.seeds = 1;
            self.inversion.iterations = self.inversion.iterations.min(100);
            self.inversion.restarts = 1;
            self.inversion.ig_iterations = self.inversion.ig_iterations.min(200);
        }
        self
    }

    /// Checks everything that can be checked before the data is loaded.
    pub fn validate(&self) -> Result<()> {
        self.data.validate()?;
        let spec = &self.inversion;
        if self.model.kind != ModelKind::Mlp && spec.attacks.contains(&InversionAttack::Analytic) {
            return Err(ConfigError::invalid(
                "attacks",
                "analytic",
                "the analytic inversion needs a dense first layer: it does not apply to a conv-first \
                 victim (drop it from the attacks)",
            )
            .into());
        }
        at_least_one("parties", spec.parties)?;
        let nonempty = |key: &'static str, len: usize| {
            if len == 0 {
                Err(ConfigError::invalid(key, "[]", "give at least one"))
            } else {
                Ok(())
            }
        };
        nonempty("batch_sizes", spec.batch_sizes.len())?;
        nonempty("aggregations", spec.aggregations.len())?;
        nonempty("attacks", spec.attacks.len())?;
        for &b in &spec.batch_sizes {
            at_least_one("batch_sizes", b)?;
            self.model.validate(b * spec.parties, "batch_sizes")?;
        }
        if spec.parties < 2 && spec.aggregations.contains(&Aggregation::SecAgg) {
            return Err(ConfigError::invalid(
                "parties",
                spec.parties,
                "secure aggregation needs at least 2 parties",
            )
            .into());
        }
        count_in("seeds", spec.seeds, MAX_CASES)?;
        count_in("attack_round", spec.attack_round, MAX_ROUNDS)?;
        if let Some(rounds) = spec.rounds {
            count_in("rounds", rounds, MAX_ROUNDS)?;
            if spec.attack_round > rounds {
                return Err(ConfigError::invalid(
                    "attack_round",
                    spec.attack_round,
                    format!("beyond the run's {rounds} round(s) (raise rounds)"),
                )
                .into());
            }
        }
        positive("lr", spec.lr)?;
        count_in("iterations", spec.iterations, 1_000_000)?;
        count_in("restarts", spec.restarts, 1_000)?;
        count_in("ig_iterations", spec.ig_iterations, 10_000_000)?;
        if !(spec.tv >= 0.0 && spec.tv.is_finite()) {
            return Err(ConfigError::invalid("tv", spec.tv, "must be a finite number ≥ 0").into());
        }
        SsimThreshold::new(spec.ssim_threshold).map_err(|_| {
            ConfigError::invalid(
                "ssim_threshold",
                spec.ssim_threshold,
                "an SSIM threshold is in (0, 1]",
            )
        })?;
        positive("clip_range", spec.clip_range)?;
        nonempty("epsilons", spec.epsilons.len())?;
        for &eps in &spec.epsilons {
            if eps.is_nan() || eps <= 0.0 {
                return Err(ConfigError::invalid(
                    "epsilons",
                    eps,
                    "each ε must be greater than 0 (inf = no DP)",
                )
                .into());
            }
        }
        if !(spec.delta > 0.0 && spec.delta < 1.0) {
            return Err(ConfigError::invalid("delta", spec.delta, "must be in (0, 1)").into());
        }
        positive("clip_norm", spec.clip_norm)?;
        FixedPoint::for_updates::<u32>(spec.clip_range, spec.parties)?;
        let cases = spec.batch_sizes.len()
            * spec.aggregations.len()
            * spec.attacks.len()
            * spec.epsilons.len();
        count_in("seeds", cases.saturating_mul(spec.seeds), MAX_CASES)?;
        Ok(())
    }
}
