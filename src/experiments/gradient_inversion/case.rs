//! One case of the experiment: an attack on what the server observed of a round (`round.rs`),
//! and the measurement against the sealed batch.

use std::time::Instant;

use serde::Serialize;

use super::config::{GradientInversionConfig, InversionAttack, InversionSpec};
use super::round::{RoundSpec, Target, view};
use crate::Result;
use crate::attacks::Attack;
use crate::attacks::gradient::analytic::Analytic;
use crate::attacks::gradient::dlg::{Dlg, LabelMode};
use crate::attacks::gradient::ig::InvertingGradients;
use crate::attacks::gradient::{GradientView, Reconstruction};
use crate::fl::Aggregation;
use crate::fl::federated::Round;
use crate::metrics::inversion::{Originals, label_accuracy, label_count_accuracy};
use crate::metrics::leakage::{ReconstructionMetrics, SsimThreshold, measure_reconstruction};
use crate::report::Staged;
use crate::report::grid::image_grid_png;
use crate::runtime::Runtime;

/// A case's image grid: originals above their matched reconstructions.
const GRID: &str = "grid.png";
/// A case's originals, float32 `[n, side, side]`, in the matched order.
const ORIGINALS: &str = "originals.npy";
/// A case's reconstructions, float32 `[n, side, side]`, matched to the originals.
const RECONSTRUCTIONS: &str = "reconstructions.npy";

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
    /// `b1-plain-party-dlg-s0`: the case's folder.
    pub fn name(&self) -> String {
        let dp = if self.epsilon.is_finite() {
            format!("-eps{}", crate::privacy::epsilon_label(self.epsilon))
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

    /// The case's files, in its own folder: its image grid, originals and matched
    /// reconstructions.
    pub fn files(&self) -> Vec<String> {
        let name = self.name();
        [GRID, ORIGINALS, RECONSTRUCTIONS]
            .map(|f| format!("{name}/{f}"))
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

/// What the server knows from its own public data (the test split), never from a party.
#[derive(Debug, Clone, Copy)]
pub struct Public<'a> {
    /// The mean public image: RDLV's prior.
    pub prior: &'a [f32],
    /// The broadcast model's mean softmax on the public images: the label-count offset.
    pub mean_softmax: &'a [f64],
}

/// Every case of one round: each target the server holds under the round's protocol, each
/// attack that applies to it.
pub fn attack_round(
    config: &GradientInversionConfig,
    seed: usize,
    round: RoundSpec,
    fl: &Round,
    public: Public<'_>,
    rt: &mut Runtime<'_>,
    staged: &Staged,
) -> Result<Vec<CaseRecord>> {
    let prior = public.prior;
    let mut records = Vec::new();
    for &target in Target::of(round.aggregation) {
        let (view, originals) = view(config, fl, target, round.side, rt.device)?;
        let view = view.with_public_softmax(public.mean_softmax.to_vec());
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
            let record = attack_and_measure(spec, id, &view, &originals, prior, rt, staged)?;
            records.push(CaseRecord {
                noise_multiplier: round.noise_multiplier,
                ..record
            });
        }
    }
    Ok(records)
}

/// One record of `metrics.json`.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRecord {
    /// The case's name.
    pub name: String,
    /// The case's folder, relative to the output folder: `grid.png`, `originals.npy` and
    /// `reconstructions.npy` (float32 `[n, side, side]`, in the matched order of `ssim`).
    pub dir: String,
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
    /// Test accuracy of the model the server broadcast in the attacked round (round 1: the
    /// untrained model, about chance).
    pub model_accuracy: f64,
    /// Images behind the attacked gradient.
    pub samples: usize,
    /// Leakage of the matched reconstructions (SSIM, PSNR, MSE, RDLV, recovered count).
    #[serde(flatten)]
    pub leakage: ReconstructionMetrics,
    /// Matched pairs whose label the attack got right.
    pub label_accuracy: f64,
    /// The batch's labels the attack found, as multisets (order and matching aside): for iDLG
    /// and Inverting Gradients, the accuracy of the bias-corrected label counts.
    pub label_count_accuracy: f64,
    /// The attack's final objective: DLG and iDLG, the squared distance between the gradients;
    /// Inverting Gradients, 1 − their cosine similarity; `null` for the analytic inversion,
    /// which matches nothing.
    pub matching_loss: Option<f64>,
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
        &staged.path(&format!("{name}/{GRID}")),
        &title,
        &originals_ref,
        &recs_ref,
        side,
        &matched.captions,
    )?;
    let n = leakage.images;
    let flat = |images: &[Vec<f32>]| images.concat();
    staged.write_npy(
        &format!("{name}/{ORIGINALS}"),
        &[n, side, side],
        &flat(&matched.originals),
    )?;
    staged.write_npy(
        &format!("{name}/{RECONSTRUCTIONS}"),
        &[n, side, side],
        &flat(&matched.reconstructions),
    )?;
    Ok(CaseRecord {
        dir: name.clone(),
        name,
        batch_size: id.batch_size,
        aggregation: id.aggregation,
        target: id.target,
        attack: id.attack,
        seed: id.seed,
        epsilon: id.epsilon,
        // The round's σ and model accuracy: set by the caller, which knows the round.
        noise_multiplier: None,
        model_accuracy: f64::NAN,
        samples: n,
        label_accuracy: label_accuracy(originals, &leakage.matched, &got.labels),
        label_count_accuracy: label_count_accuracy(originals, &got.labels),
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
    let key_of = |d: &CaseRecord| {
        (
            d.batch_size,
            d.aggregation,
            d.epsilon.to_bits(),
            d.target,
            d.attack,
        )
    };
    for group in crate::experiments::groups::in_order(cases, key_of) {
        let c = group[0];
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
