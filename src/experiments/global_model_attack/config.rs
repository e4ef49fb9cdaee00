//! What defines a global-model-attack run: the honest classifier the federation trains
//! (`[model]`), the grid of attacked rounds (`[imprint]`: federations × bin counts × seeds) and
//! the defense (`[defense]`: the DP aggregate's ε levels and noise placements).

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::attacks::imprint::statistic::Statistic;
use crate::config::{ConfigError, at_least_one, count_in, positive};
use crate::data::DataSpec;
use crate::experiments::RunSpec;
use crate::fl::{Aggregation, FixedPoint, NoisePlacement};
use crate::metrics::leakage::SsimThreshold;
use crate::model::{Activation, ModelKind, ModelSpec};

/// Most cases one run may hold.
const MAX_CASES: usize = 100_000;
/// Most imprint rows: each is a column of side² weights that every party encodes.
const MAX_BINS: usize = 1 << 17;
/// Most epochs of Scale-MIA's autoencoder.
const MAX_DECODER_EPOCHS: usize = 10_000;
/// Most FedSGD rounds the defended federation may run.
const MAX_ROUNDS: usize = 1_000_000;

/// The attack on the aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum GlobalAttack {
    /// Fowl et al.'s imprint block on the pixels.
    Imprint,
    /// Shi et al.'s Scale-MIA: the bins act on a latent code, a decoder lifts it back.
    ScaleMia,
}

/// Where the attacker's cut-offs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuxSource {
    /// The test split: public, disjoint from every party's (training) data.
    Test,
    /// The training split the parties' shards are dealt from: refused, the attacker's data
    /// would overlap theirs.
    Train,
}

/// The attacked rounds: an `[imprint]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImprintSpec {
    /// The attack.
    pub attack: GlobalAttack,
    /// `[parties, batch size]` pairs, one federation each.
    pub federations: Vec<[usize; 2]>,
    /// Bin counts as multiples of the n·B samples in the aggregate (k = factor · n · B).
    pub bins_per_sample: Vec<usize>,
    /// Bin counts as given (each at least n·B), beside `bins_per_sample`.
    pub bins: Vec<usize>,
    /// Also run the idealised placement per federation: one cut-off between each pair of the
    /// private batch's sorted statistics. An upper bound no real attacker has.
    pub oracle: bool,
    /// What every imprint row measures.
    pub statistic: Statistic,
    /// The attacker's own data, where its equal-mass cut-offs come from.
    pub aux: AuxSource,
    /// The protocol that sums the updates.
    pub aggregation: Aggregation,
    /// Repetitions with fresh shards, weights and batches.
    pub seeds: usize,
    /// An image counts as recovered when its SSIM to its original reaches this.
    pub ssim_threshold: f64,
    /// Update coordinates are clipped to ±clip_range before the fixed-point encoding.
    pub clip_range: f64,
    /// Under a noisy aggregate a bin counts as occupied when its Δb exceeds this many standard
    /// deviations of the noise in Δb.
    pub noise_sds: f64,
    /// Scale-MIA: epochs of the attacker's autoencoder on its auxiliary data.
    pub decoder_epochs: usize,
}

impl Default for ImprintSpec {
    fn default() -> Self {
        Self {
            attack: GlobalAttack::Imprint,
            federations: vec![[3, 8]],
            bins_per_sample: vec![64],
            bins: Vec::new(),
            oracle: false,
            statistic: Statistic::MeanBrightness,
            aux: AuxSource::Test,
            aggregation: Aggregation::SecAgg,
            seeds: 10,
            ssim_threshold: 0.6,
            clip_range: 1.0,
            noise_sds: 4.0,
            decoder_epochs: 30,
        }
    }
}

/// The differentially private aggregate: a `[defense]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DefenseSpec {
    /// DP levels, one case each; `inf`: no defense (fixed batches, no clipping, no noise).
    #[serde(serialize_with = "crate::privacy::serialize_epsilons")]
    pub epsilons: Vec<f64>,
    /// Where the noise is added, one case each per finite ε: `central` (a trusted aggregator
    /// adds it to the sum) or `distributed` (every party adds its discrete Gaussian share
    /// inside SecAgg).
    pub noise: Vec<NoisePlacement>,
    /// δ.
    pub delta: f64,
    /// Per-example clipping norm C.
    pub clip_norm: f64,
    /// FedSGD rounds the federation runs: what σ is calibrated for, and how long the
    /// planted-free global model trains for its test accuracy.
    pub rounds: usize,
    /// The server's FedSGD step size without the DP aggregate.
    pub lr: f64,
    /// Its step size under the DP aggregate, whose clipped updates are smaller (each example
    /// moves it by at most C/B): the step each kind of federation trains best with, so that
    /// the accuracy cost of the defense is not a step size tuned for the other.
    pub dp_lr: f64,
}

impl Default for DefenseSpec {
    fn default() -> Self {
        Self {
            epsilons: vec![f64::INFINITY],
            noise: vec![NoisePlacement::Central],
            delta: 1e-5,
            clip_norm: 1.0,
            rounds: 300,
            lr: 0.1,
            dp_lr: 0.5,
        }
    }
}

/// Everything that defines a global-model-attack run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalModelConfig {
    /// Seed, backend, quick.
    pub run: RunSpec,
    /// The dataset the parties hold.
    pub data: DataSpec,
    /// The honest classifier behind the imprint block (default: a ReLU MLP, 784-256-10).
    pub model: ModelSpec,
    /// The attacked rounds.
    pub imprint: ImprintSpec,
    /// The DP aggregate.
    pub defense: DefenseSpec,
}

impl Default for GlobalModelConfig {
    fn default() -> Self {
        Self {
            run: RunSpec::default(),
            data: DataSpec::default(),
            model: ModelSpec::mlp(&[256], Activation::Relu),
            imprint: ImprintSpec::default(),
            defense: DefenseSpec::default(),
        }
    }
}

impl GlobalModelConfig {
    /// Applies `--quick`: 6,000 training images, two seeds, 20 rounds of training.
    pub fn resolve(mut self) -> Self {
        if self.run.quick {
            self.data.cap(6_000, 1_000);
            self.imprint.seeds = self.imprint.seeds.min(2);
            self.defense.rounds = self.defense.rounds.min(20);
            self.imprint.decoder_epochs = self.imprint.decoder_epochs.min(3);
        }
        self
    }

    /// Checks everything that can be checked before the data is loaded.
    pub fn validate(&self) -> Result<()> {
        self.data.validate()?;
        let spec = &self.imprint;
        if spec.attack == GlobalAttack::ScaleMia {
            if self.model.kind != ModelKind::Mlp || self.model.mlp_hidden.is_empty() {
                return Err(ConfigError::invalid(
                    "attack",
                    "scale-mia",
                    "Scale-MIA plants its encoder as the first layer of an MLP with a hidden \
                     layer: use [model] kind = \"mlp\"",
                )
                .into());
            }
            if spec.statistic == Statistic::Dct {
                return Err(ConfigError::invalid(
                    "statistic",
                    "dct",
                    "a DCT mode needs an image, Scale-MIA's bins see a latent code: use \
                     mean-brightness (the mean activation) or random-direction",
                )
                .into());
            }
            count_in("decoder_epochs", spec.decoder_epochs, MAX_DECODER_EPOCHS)?;
        }
        if spec.aux == AuxSource::Train {
            return Err(ConfigError::invalid(
                "aux",
                "train",
                "the attacker's auxiliary data would overlap the parties' data (their shards \
                 are dealt from the training split): use the test split",
            )
            .into());
        }
        if spec.federations.is_empty() {
            return Err(ConfigError::invalid("federations", "[]", "give at least one").into());
        }
        if let Some(twice) = (1..spec.federations.len())
            .find(|&i| spec.federations[..i].contains(&spec.federations[i]))
        {
            let [n, b] = spec.federations[twice];
            return Err(ConfigError::invalid(
                "federations",
                format!("[{n}, {b}]"),
                "listed twice: each federation once (`seeds` repeats it)",
            )
            .into());
        }
        if spec.bins_per_sample.is_empty() && spec.bins.is_empty() && !spec.oracle {
            return Err(ConfigError::invalid(
                "bins",
                "[]",
                "give bins, bins_per_sample or oracle = true",
            )
            .into());
        }
        for &factor in &spec.bins_per_sample {
            at_least_one("bins_per_sample", factor)?;
        }
        for &[parties, batch] in &spec.federations {
            at_least_one("federations (parties)", parties)?;
            at_least_one("federations (batch size)", batch)?;
            if parties < 2 && spec.aggregation != Aggregation::Plain {
                return Err(ConfigError::invalid(
                    "federations (parties)",
                    parties,
                    "secure aggregation needs at least 2 parties",
                )
                .into());
            }
            let samples = parties.checked_mul(batch).ok_or_else(|| {
                ConfigError::invalid(
                    "federations",
                    format!("[{parties}, {batch}]"),
                    "more samples in one round than any machine could hold",
                )
            })?;
            self.model.validate(samples, "federations")?;
            FixedPoint::for_updates::<u32>(spec.clip_range, parties)?;
            for k in self.bin_counts(samples) {
                check_bins(k, samples)?;
            }
        }
        count_in("seeds", spec.seeds, MAX_CASES)?;
        SsimThreshold::new(spec.ssim_threshold).map_err(|_| {
            ConfigError::invalid(
                "ssim_threshold",
                spec.ssim_threshold,
                "an SSIM threshold is in (0, 1]",
            )
        })?;
        positive("clip_range", spec.clip_range)?;
        positive("noise_sds", spec.noise_sds)?;
        let defense = &self.defense;
        if defense.epsilons.is_empty() {
            return Err(ConfigError::invalid("epsilons", "[]", "give at least one").into());
        }
        for &eps in &defense.epsilons {
            if eps.is_nan() || eps <= 0.0 {
                return Err(ConfigError::invalid(
                    "epsilons",
                    eps,
                    "each ε must be greater than 0 (inf = no DP)",
                )
                .into());
            }
        }
        if defense.noise.is_empty() {
            return Err(
                ConfigError::invalid("noise", "[]", "give central and/or distributed").into(),
            );
        }
        if !(defense.delta > 0.0 && defense.delta < 1.0) {
            return Err(ConfigError::invalid("delta", defense.delta, "must be in (0, 1)").into());
        }
        positive("clip_norm", defense.clip_norm)?;
        count_in("rounds", defense.rounds, MAX_ROUNDS)?;
        positive("lr", defense.lr)?;
        positive("dp_lr", defense.dp_lr)?;
        let per_seed = spec.federations.len()
            * (spec.bins_per_sample.len() + spec.bins.len() + usize::from(spec.oracle))
            * self.levels().len();
        count_in("seeds", per_seed.saturating_mul(spec.seeds), MAX_CASES)?;
        Ok(())
    }

    /// The equal-mass bin counts of a federation of `samples` = n·B: the multiples, then the
    /// absolute counts.
    pub fn bin_counts(&self, samples: usize) -> Vec<usize> {
        let spec = &self.imprint;
        spec.bins_per_sample
            .iter()
            .map(|f| f.saturating_mul(samples))
            .chain(spec.bins.iter().copied())
            .collect()
    }

    /// The defense levels, one case each: `(ε, None)` without DP, `(ε, Some(placement))` for
    /// every placement of every finite ε.
    pub fn levels(&self) -> Vec<(f64, Option<NoisePlacement>)> {
        let d = &self.defense;
        d.epsilons
            .iter()
            .flat_map(|&e| {
                if e.is_finite() {
                    d.noise.iter().map(|&p| (e, Some(p))).collect()
                } else {
                    vec![(e, None)]
                }
            })
            .collect()
    }
}

/// Errors unless `k` bins can give every one of `samples` samples its own bin, and fit.
fn check_bins(k: usize, samples: usize) -> Result<(), ConfigError> {
    at_least_one("bins", k)?;
    if k < samples {
        return Err(ConfigError::invalid(
            "bins",
            k,
            format!(
                "fewer bins than the {samples} samples in the aggregate (n·B): the imprint asks \
                 for at least one bin per sample"
            ),
        ));
    }
    if k > MAX_BINS {
        return Err(ConfigError::invalid(
            "bins",
            k,
            format!("more than {MAX_BINS} imprint rows (each is a column of side² weights)"),
        ));
    }
    Ok(())
}
