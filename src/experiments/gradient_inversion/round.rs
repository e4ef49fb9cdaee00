//! The FedSGD round a case attacks and what the honest server observes of it: the victim's
//! gradient from party 0 (plain), or party 0's masked upload and the sum (secagg), under the
//! parties' local DP when a finite ε is asked for.

use burn::tensor::Device;
use rand::RngExt;
use rand::rngs::StdRng;
use serde::Serialize;

use super::config::{GradientInversionConfig, InversionSpec};
use crate::Result;
use crate::attacks::gradient::GradientView;
use crate::config::ConfigError;
use crate::data::Dataset;
use crate::fl::federated::{Algorithm, FederatedOptions, HonestServer, Party, Round, run_round};
use crate::fl::{Aggregation, AggregationSpec, Partition, Session, SumNoise, split_among_parties};
use crate::metrics::inversion::Originals;
use crate::model::{Classifier, ModelDelta, Victim};
use crate::privacy::{Accountant, PrivacySpec, PrivacySpent};

/// Which gradient the server attacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// Party 0's own upload: its gradient under plain aggregation, its masked input under
    /// SecAgg (decoded as if it were a gradient).
    Party,
    /// The revealed sum over all parties (SecAgg): the gradient of one batch of n·B images.
    Sum,
}

impl Target {
    /// What the server holds under `aggregation`.
    pub fn of(aggregation: Aggregation) -> &'static [Target] {
        match aggregation {
            Aggregation::Plain => &[Target::Party],
            Aggregation::Additive | Aggregation::SecAgg => &[Target::Party, Target::Sum],
        }
    }

    /// The name in `metrics.json` and in file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Party => "party",
            Target::Sum => "sum",
        }
    }
}

/// What one FedSGD round is: batch size, protocol and the parties' local DP level (∞: none).
#[derive(Debug, Clone, Copy)]
pub struct RoundSpec {
    /// Images per party batch.
    pub batch_size: usize,
    /// The protocol.
    pub aggregation: Aggregation,
    /// Local DP ε (∞: none).
    pub epsilon: f64,
    /// σ calibrated for `epsilon` ([`local_noise_multiplier`]; `None` without DP).
    pub noise_multiplier: Option<f64>,
    /// Side of the (square) images the parties hold.
    pub side: usize,
}

/// Errors unless every party's IID shard of `train_len` examples (⌊N / n⌋ at the smallest)
/// holds the largest batch asked for: a larger batch would silently shrink to the shard.
pub fn check_batches_fit(spec: &InversionSpec, train_len: usize) -> Result<(), ConfigError> {
    let smallest = train_len / spec.parties;
    match spec.batch_sizes.iter().copied().max() {
        Some(b) if b > smallest => Err(ConfigError::invalid(
            "batch_sizes",
            b,
            format!(
                "larger than a party's shard ({smallest} examples: {train_len} training examples \
                 dealt to {} parties)",
                spec.parties
            ),
        )),
        _ => Ok(()),
    }
}

/// The parties' local DP at one ε, as `metrics.json` records it.
#[derive(Debug, Clone, Serialize)]
pub struct LocalDp {
    /// ε, δ, σ, the sampling rate (1), the steps (one release per round) and both
    /// accountants' figures.
    #[serde(flatten)]
    pub spent: PrivacySpent,
    /// Per-example clipping norm C.
    pub clip_norm: f64,
    /// What the guarantee protects.
    pub neighbouring: &'static str,
}

/// σ for ε and the privacy it gives: the Gaussian mechanism on a party's batch mean, released
/// once per round for the `rounds` rounds of the run (sampling rate 1: batches are dealt, not
/// Poisson-sampled, so no amplification is claimed), calibrated by the PLD accountant through
/// the project's [`PrivacySpec`]. `None` for ε = ∞.
pub fn local_dp(spec: &InversionSpec, epsilon: f64) -> Result<Option<(f64, LocalDp)>> {
    let privacy = PrivacySpec {
        epsilon: Some(epsilon),
        noise_multiplier: None,
        delta: spec.delta,
        clip_norm: spec.clip_norm,
        accountant: Accountant::Pld,
    };
    let Some(plan) = privacy.plan()? else {
        return Ok(None);
    };
    // The batch size only sizes the report's expected batch, which this record leaves out.
    let (sigma, report) = plan.resolve(1.0, spec.rounds() as u64, 1)?;
    Ok(Some((
        sigma,
        LocalDp {
            spent: report.spent,
            clip_norm: spec.clip_norm,
            neighbouring: "one example added to or removed from a party's batch, whatever the \
                           server and the protocol do",
        },
    )))
}

/// The FedSGD rounds up to the attacked one, `spec.parties` parties on IID shards of `train`,
/// from a freshly initialised victim: party batches of `round.batch_size`, under local DP each
/// party's clipped batch mean plus Gaussian noise σ·C/B. Rounds before `attack_round` train the
/// model (the server steps by `lr` times the mean gradient); the last one is returned, with
/// what the server observed of it.
pub fn fedsgd_round(
    config: &GradientInversionConfig,
    train: &Dataset,
    round: RoundSpec,
    device: &Device,
    rng: &mut StdRng,
) -> Result<Round> {
    let RoundSpec {
        batch_size,
        aggregation,
        noise_multiplier: sigma,
        ..
    } = round;
    let spec = &config.inversion;
    let n = spec.parties;
    let shards = split_among_parties(train, n, Partition::Iid, rng)?;
    let mut parties: Vec<Party> = shards
        .into_iter()
        .enumerate()
        .map(|(id, shard)| Party::new(id, shard, rng.random()))
        .collect();
    let model_config = config.model.for_data(train.rows(), train.classes());
    let mut global = Classifier::new(&model_config, &device.clone().autodiff(), rng);
    let parameters = burn::module::Module::num_params(&global);
    let protocol = AggregationSpec {
        protocol: aggregation,
        clip_range: spec.clip_range,
        ..AggregationSpec::default()
    };
    let opts = FederatedOptions {
        algorithm: Algorithm::FedSgd,
        local_steps: 1,
        batch_size,
        sampling: crate::fl::federated::BatchSampling::Fixed,
        lr: spec.lr,
        aggregation,
        params: protocol.params(n, parameters)?,
        clip_range: spec.clip_range,
        dropouts_per_round: 0,
        noise: SumNoise::None,
        max_grad_norm: sigma.map(|_| spec.clip_norm),
        local_noise: sigma.map(|s| s * spec.clip_norm / batch_size as f64),
    };
    let run_id: [u8; 16] = rng.random();
    for r in 1..=spec.attack_round {
        let session = Session::new(run_id, r as u64);
        let done = run_round(global, &mut HonestServer, &mut parties, &opts, session, rng)?;
        if r == spec.attack_round {
            return Ok(done);
        }
        global = done.next;
    }
    unreachable!("attack_round ≥ 1 was checked")
}

/// The model the server broadcast in `round`, rebuilt from its own snapshot (the number of
/// classes is the length of the last parameter, the output bias).
pub fn broadcast_model(
    config: &GradientInversionConfig,
    round: &Round,
    side: usize,
    device: &Device,
) -> Classifier {
    let broadcast = &round.observed.broadcast;
    let classes = broadcast
        .layout()
        .params()
        .last()
        .expect("a model has parameters")
        .len();
    let fresh = Classifier::new(
        &config.model.for_data(side, classes),
        device,
        &mut <StdRng as rand::SeedableRng>::seed_from_u64(0),
    );
    broadcast.load_into(fresh)
}

/// The attacker's view of `target` in `round`, and the sealed batch behind it.
pub fn view(
    config: &GradientInversionConfig,
    round: &Round,
    target: Target,
    side: usize,
    device: &Device,
) -> Result<(GradientView, Originals)> {
    let observed = &round.observed;
    let model = Victim::of(&broadcast_model(config, round, side, device), device);
    let n = round.truth.len();
    // No party drops out of these rounds, so party 0's upload always arrives.
    let (delta, batch, batches): (ModelDelta, usize, Vec<&_>) = match target {
        Target::Party => {
            let delta = match observed.update_of(0) {
                Some(d) => d.clone(),
                None => observed
                    .decode_upload(0)
                    .expect("no dropouts: party 0 uploaded"),
            };
            (delta, observed.batch_size, vec![&round.truth[0]])
        }
        Target::Sum => {
            let sum = match &observed.revealed {
                crate::fl::federated::Revealed::Sum { sum, .. } => sum.clone(),
                crate::fl::federated::Revealed::Updates(_) => {
                    unreachable!("Target::Sum is attacked only under secure aggregation")
                }
            };
            // Σ of n mean gradients of B images = n × the mean gradient of all n·B images.
            let mean: Vec<f32> = sum.values().iter().map(|v| v / n as f32).collect();
            let delta = ModelDelta::new(sum.layout().clone(), mean);
            (delta, observed.batch_size * n, round.truth.iter().collect())
        }
    };
    let view = GradientView::new(model, &delta, batch, side, device);
    Ok((view, Originals::of(&batches)))
}
