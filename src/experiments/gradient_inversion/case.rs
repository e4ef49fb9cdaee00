//! One case of the experiment: a FedSGD round, what the server observed of it, an attack on
//! that, and the measurement against the sealed batch.

use std::time::Instant;

use burn::tensor::Device;
use rand::RngExt;
use rand::rngs::StdRng;
use serde::Serialize;

use super::config::{GradientInversionConfig, InversionAttack, InversionSpec};
use crate::attacks::Attack;
use crate::attacks::gradient::analytic::Analytic;
use crate::attacks::gradient::dlg::{Dlg, LabelMode};
use crate::attacks::gradient::ig::InvertingGradients;
use crate::attacks::gradient::{GradientView, Reconstruction};
use crate::data::Dataset;
use crate::fl::federated::{Algorithm, FederatedOptions, HonestServer, Party, Round, run_round};
use crate::fl::{Aggregation, AggregationSpec, Partition, Session, SumNoise, split_among_parties};
use crate::metrics::inversion::{Originals, label_accuracy};
use crate::metrics::leakage::{ReconstructionMetrics, SsimThreshold, measure_reconstruction};
use crate::model::{Classifier, ModelDelta, Victim};
use crate::privacy::{Accountant, calibrate_noise};
use crate::report::Staged;
use crate::report::grid::image_grid_png;
use crate::runtime::Runtime;
use crate::{Error, Result};

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

    fn as_str(self) -> &'static str {
        match self {
            Target::Party => "party",
            Target::Sum => "sum",
        }
    }
}

/// Names one case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaseId {
    /// Repetition.
    pub seed: usize,
    /// Images per party batch.
    pub batch_size: usize,
    /// The protocol.
    pub aggregation: Aggregation,
    /// The gradient attacked.
    pub target: Target,
    /// The attack.
    pub attack: InversionAttack,
    /// The parties' local DP level (∞: none).
    pub epsilon: f64,
}

impl CaseId {
    /// `b1-plain-party-dlg-s0`: the prefix of the case's files.
    pub fn name(&self) -> String {
        let dp = if self.epsilon.is_finite() {
            format!("-eps{}", self.epsilon)
        } else {
            String::new()
        };
        format!(
            "b{}-{}{dp}-{}-{}-s{}",
            self.batch_size,
            self.aggregation.as_str(),
            self.target.as_str(),
            self.attack.as_str(),
            self.seed
        )
    }

    /// The case's files: its image grid, originals and matched reconstructions.
    pub fn files(&self) -> Vec<String> {
        let name = self.name();
        ["grid.png", "originals.npy", "reconstructions.npy"]
            .map(|f| format!("{name}-{f}"))
            .to_vec()
    }
}

/// Every case of `spec`, in the order the run takes them.
pub fn enumerate(spec: &InversionSpec) -> Vec<CaseId> {
    let mut out = Vec::new();
    for seed in 0..spec.seeds {
        for &batch_size in &spec.batch_sizes {
            for &aggregation in &spec.aggregations {
                for &epsilon in &spec.epsilons {
                    for &target in Target::of(aggregation) {
                        let observed = match target {
                            Target::Party => batch_size,
                            Target::Sum => batch_size * spec.parties,
                        };
                        for &attack in &spec.attacks {
                            if attack.applies_to(observed) {
                                out.push(CaseId {
                                    seed,
                                    batch_size,
                                    aggregation,
                                    target,
                                    attack,
                                    epsilon,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// The mean image of `data`: the attacker's prior for RDLV.
pub fn mean_image(data: &Dataset) -> Vec<f32> {
    let mut sum = vec![0.0f64; data.pixels()];
    for i in 0..data.len() {
        for (s, &p) in sum.iter_mut().zip(data.image(i)) {
            *s += f64::from(p) / 255.0;
        }
    }
    sum.iter()
        .map(|s| (s / data.len().max(1) as f64) as f32)
        .collect()
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
}

/// The local noise multiplier σ for ε: the Gaussian mechanism released once on a batch mean
/// (sampling rate 1, one step: no amplification claimed), calibrated by the PLD accountant.
pub fn local_noise_multiplier(spec: &InversionSpec, epsilon: f64) -> Result<Option<f64>> {
    if !epsilon.is_finite() {
        return Ok(None);
    }
    Ok(Some(calibrate_noise(
        Accountant::Pld,
        1.0,
        1,
        epsilon,
        spec.delta,
    )?))
}

/// One FedSGD round of `spec.parties` parties on IID shards of `train` on a freshly
/// initialised victim: party batches of `round.batch_size`, and under local DP each party's
/// clipped batch mean plus Gaussian noise σ·C/B.
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
        epsilon,
    } = round;
    let spec = &config.inversion;
    let sigma = local_noise_multiplier(spec, epsilon)?;
    let n = spec.parties;
    let shards = split_among_parties(train, n, Partition::Iid, rng)?;
    let mut parties: Vec<Party> = shards
        .into_iter()
        .enumerate()
        .map(|(id, shard)| Party::new(id, shard, rng.random()))
        .collect();
    let model_config = config.model.for_data(train.rows(), train.classes());
    let global = Classifier::new(&model_config, &device.clone().autodiff(), rng);
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
        lr: 0.1,
        aggregation,
        params: protocol.params(n, parameters)?,
        clip_range: spec.clip_range,
        dropouts_per_round: 0,
        noise: SumNoise::None,
        max_grad_norm: sigma.map(|_| spec.clip_norm),
        local_noise: sigma.map(|s| s * spec.clip_norm / batch_size as f64),
    };
    let session = Session::new(rng.random(), 1);
    Ok(run_round(
        global,
        &mut HonestServer,
        &mut parties,
        &opts,
        session,
        rng,
    )?)
}

/// The attacker's view of `target` in `round`, and the sealed batch behind it.
pub fn view(
    config: &GradientInversionConfig,
    round: &Round,
    target: Target,
    device: &Device,
) -> Result<(GradientView, Originals)> {
    let observed = &round.observed;
    // The server rebuilds the model it broadcast from its own snapshot.
    let side = 28;
    let classes = observed
        .broadcast
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
    let model = Victim::of(&observed.broadcast.load_into(fresh), device);
    let n = round.truth.len();
    let missing = || Error::Backend("the round revealed no update for party 0".into());
    let (delta, batch, batches): (ModelDelta, usize, Vec<&_>) = match target {
        Target::Party => {
            let delta = match observed.update_of(0) {
                Some(d) => d.clone(),
                None => observed.decode_upload(0).ok_or_else(missing)?,
            };
            (delta, observed.batch_size, vec![&round.truth[0]])
        }
        Target::Sum => {
            let sum = match &observed.revealed {
                crate::fl::federated::Revealed::Sum { sum, .. } => sum.clone(),
                crate::fl::federated::Revealed::Updates(_) => return Err(missing()),
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

/// Every case of one round: each target the server holds under the round's protocol, each
/// attack that applies to it.
pub fn attack_round(
    config: &GradientInversionConfig,
    seed: usize,
    round: RoundSpec,
    fl: &Round,
    prior: &[f32],
    rt: &mut Runtime<'_>,
    staged: &Staged,
) -> Result<Vec<CaseRecord>> {
    let mut records = Vec::new();
    for &target in Target::of(round.aggregation) {
        let (view, originals) = view(config, fl, target, rt.device)?;
        for &attack in &config.inversion.attacks {
            if !attack.applies_to(view.batch_size()) {
                continue;
            }
            let id = CaseId {
                seed,
                batch_size: round.batch_size,
                aggregation: round.aggregation,
                target,
                attack,
                epsilon: round.epsilon,
            };
            let spec = &config.inversion;
            records.push(attack_and_measure(
                spec, id, &view, &originals, prior, rt, staged,
            )?);
        }
    }
    Ok(records)
}

/// One record of `metrics.json`.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRecord {
    /// The case's name, also the prefix of its files.
    pub name: String,
    /// Images per party batch.
    pub batch_size: usize,
    /// The protocol.
    pub aggregation: Aggregation,
    /// The gradient attacked.
    pub target: Target,
    /// The attack.
    pub attack: InversionAttack,
    /// Repetition.
    pub seed: usize,
    /// The parties' local DP ε (`"inf"`: none).
    #[serde(serialize_with = "crate::privacy::serialize_epsilon")]
    pub epsilon: f64,
    /// The local noise multiplier σ behind it (`null`: none).
    pub noise_multiplier: Option<f64>,
    /// Images behind the attacked gradient.
    pub samples: usize,
    /// Leakage of the matched reconstructions (SSIM, PSNR, MSE, RDLV, recovered count).
    #[serde(flatten)]
    pub leakage: ReconstructionMetrics,
    /// Matched pairs whose label the attack got right.
    pub label_accuracy: f64,
    /// The attack's final gradient-matching loss.
    pub matching_loss: f64,
    /// Loss-and-gradient evaluations.
    pub evaluations: usize,
    /// Seconds the attack took.
    pub seconds: f64,
}

/// Runs the case's attack on `view`, measures it against `originals`, and stages its grid and
/// arrays.
pub fn attack_and_measure(
    spec: &InversionSpec,
    id: CaseId,
    view: &GradientView,
    originals: &Originals,
    prior: &[f32],
    rt: &mut Runtime<'_>,
    staged: &Staged,
) -> Result<CaseRecord> {
    let started = Instant::now();
    let dlg = |labels| Dlg {
        labels,
        iterations: spec.iterations,
        restarts: spec.restarts,
        ..Dlg::default()
    };
    let mut got: Reconstruction = match id.attack {
        InversionAttack::Analytic => Analytic.run(view, rt)?,
        InversionAttack::Idlg => dlg(LabelMode::Inferred).run(view, rt)?,
        InversionAttack::Dlg => dlg(LabelMode::Joint).run(view, rt)?,
        InversionAttack::Ig => InvertingGradients {
            iterations: spec.ig_iterations,
            restarts: spec.restarts,
            tv: spec.tv,
            ..InvertingGradients::default()
        }
        .run(view, rt)?,
    };
    let seconds = started.elapsed().as_secs_f64();
    // A diverged attack is a result: its non-finite pixels become the prior's, which no
    // threshold counts as recovered.
    for image in &mut got.images {
        for (p, &q) in image.iter_mut().zip(prior) {
            if !p.is_finite() {
                *p = q;
            }
        }
    }
    let threshold = SsimThreshold::new(spec.ssim_threshold)?;
    let leakage = measure_reconstruction(
        originals.pixels(),
        &got.images,
        prior,
        view.side(),
        threshold,
    )?;
    let matched = leakage.matched_images(originals.pixels(), &got.images)?;
    let name = id.name();
    let title = format!(
        "{}: batch {}, {}, {} ({} of {} recovered)",
        id.attack.as_str(),
        view.batch_size(),
        id.aggregation.as_str(),
        id.target.as_str(),
        leakage.recovered,
        leakage.images
    );
    let originals_ref: Vec<&[f32]> = matched.originals.iter().map(Vec::as_slice).collect();
    let recs_ref: Vec<&[f32]> = matched.reconstructions.iter().map(Vec::as_slice).collect();
    let side = view.side();
    image_grid_png(
        &staged.path(&format!("{name}-grid.png")),
        &title,
        &originals_ref,
        &recs_ref,
        side,
        &matched.captions,
    )?;
    let n = leakage.images;
    let flat = |images: &[Vec<f32>]| images.concat();
    staged.write_npy(
        &format!("{name}-originals.npy"),
        &[n, side, side],
        &flat(&matched.originals),
    )?;
    staged.write_npy(
        &format!("{name}-reconstructions.npy"),
        &[n, side, side],
        &flat(&matched.reconstructions),
    )?;
    Ok(CaseRecord {
        name,
        batch_size: id.batch_size,
        aggregation: id.aggregation,
        target: id.target,
        attack: id.attack,
        seed: id.seed,
        epsilon: id.epsilon,
        noise_multiplier: local_noise_multiplier(spec, id.epsilon)?,
        samples: n,
        label_accuracy: label_accuracy(originals, &leakage.matched, &got.labels),
        leakage,
        matching_loss: got.matching_loss,
        evaluations: got.evaluations,
        seconds,
    })
}

/// One line per (batch, aggregation, target, attack), over the seeds.
pub fn summary(cases: &[CaseRecord]) -> Vec<String> {
    let mut lines = vec![
        "gradient-inversion: recovered (SSIM ≥ threshold) of the batch, over the seeds".to_string(),
    ];
    let mut seen: Vec<(usize, Aggregation, u64, Target, InversionAttack)> = Vec::new();
    let key_of = |d: &CaseRecord| {
        (
            d.batch_size,
            d.aggregation,
            d.epsilon.to_bits(),
            d.target,
            d.attack,
        )
    };
    for c in cases {
        let key = key_of(c);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let group: Vec<&CaseRecord> = cases.iter().filter(|d| key_of(d) == key).collect();
        let recovered: usize = group.iter().map(|d| d.leakage.recovered).sum();
        let samples: usize = group.iter().map(|d| d.samples).sum();
        let ssim = group.iter().map(|d| d.leakage.mean_ssim).sum::<f64>() / group.len() as f64;
        let dp = if c.epsilon.is_finite() {
            format!("ε {}", c.epsilon)
        } else {
            String::new()
        };
        lines.push(format!(
            "  batch {:>2} {:<8} {dp:<6} {:<5} {:<8} recovered {recovered:>3} of {samples:<3} mean SSIM {ssim:.3}",
            c.batch_size,
            c.aggregation.as_str(),
            c.target.as_str(),
            c.attack.as_str(),
        ));
    }
    lines
}
