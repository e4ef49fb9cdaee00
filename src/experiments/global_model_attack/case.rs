//! One case of the experiment: the name and files of an attacked round, and the measurement of
//! what the attack gave back against the sealed batches. Only this file opens them.

use serde::Serialize;

use super::config::GlobalAttack;
use crate::Result;
use crate::attacks::imprint::bins::{Cutoffs, expected_alone};
use crate::attacks::imprint::recover::BinImage;
use crate::fl::NoisePlacement;
use crate::fl::federated::BatchTruth;
use crate::metrics::inversion::Originals;
use crate::metrics::leakage::{ReconstructionMetrics, SsimThreshold, measure_reconstruction};
use crate::privacy::epsilon_label;
use crate::report::Staged;
use crate::report::grid::image_grid_png;

/// A case's image grid: originals above their matched reconstructions (the first
/// [`GRID_IMAGES`]).
const GRID: &str = "grid.png";
/// A case's originals, float32 `[m, side, side]`, in the matched order.
const ORIGINALS: &str = "originals.npy";
/// A case's reconstructions, float32 `[m, side, side]`, matched to the originals.
const RECONSTRUCTIONS: &str = "reconstructions.npy";
/// Samples drawn in a grid: four row pairs.
const GRID_IMAGES: usize = 40;

/// Where the cut-offs of a case come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// Equal-mass quantiles of the statistic on the attacker's own data: the attack.
    EqualMass,
    /// One cut-off between each pair of the private batch's sorted statistics: an upper bound
    /// that no real attacker has, never the attack.
    OracleUpperBound,
}

/// Names one case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaseId {
    /// The attack (the same for every case of a run).
    pub attack: GlobalAttack,
    /// Repetition.
    pub seed: usize,
    /// Parties n.
    pub parties: usize,
    /// Images per party batch B (the expected batch under DP's Poisson sampling).
    pub batch_size: usize,
    /// Imprint rows k.
    pub bins: usize,
    /// Where the cut-offs come from.
    pub placement: Placement,
    /// The DP aggregate's ε (∞: none).
    pub epsilon: f64,
    /// Where its noise is added (`None` without DP).
    pub noise: Option<NoisePlacement>,
}

impl CaseId {
    /// `n3-b8-k1536-s0`, `n3-b8-oracle-s0`, `n3-b8-k1536-eps1.5-central-s0`: the case's folder.
    pub fn name(&self) -> String {
        let bins = match self.placement {
            Placement::EqualMass => format!("k{}", self.bins),
            Placement::OracleUpperBound => "oracle".to_string(),
        };
        let dp = match self.noise {
            Some(p) if self.epsilon.is_finite() => {
                format!("-eps{}-{}", epsilon_label(self.epsilon), p.as_str())
            }
            _ => String::new(),
        };
        format!(
            "n{}-b{}-{bins}{dp}-s{}",
            self.parties, self.batch_size, self.seed
        )
    }

    /// The case's files, in its own folder.
    pub fn files(&self) -> Vec<String> {
        let name = self.name();
        [GRID, ORIGINALS, RECONSTRUCTIONS]
            .map(|f| format!("{name}/{f}"))
            .to_vec()
    }
}

/// Seconds of each part of one attack.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Seconds {
    /// Placing the cut-offs and planting the block.
    pub plant: f64,
    /// The FedSGD round: every party's update of the planted model and the secure sum.
    pub round: f64,
    /// Reading the images out of the released sum.
    pub reconstruct: f64,
}

/// A reconstruction this close to its original (RMS error ≤ 0.3 % of the pixel range) is the
/// sample itself.
pub const EXACT_PSNR_DB: f64 = 50.0;

/// One record of `metrics.json`.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRecord {
    /// The case's name.
    pub name: String,
    /// The attack: `imprint` (on the pixels) or `scale-mia` (on a latent code, decoded).
    pub attack: GlobalAttack,
    /// Its folder: `grid.png`, `originals.npy`, `reconstructions.npy` (float32
    /// `[samples, side, side]`, in the matched order of `ssim`; a sample the attack did not
    /// isolate gets a blend, or the attacker's prior (the mean auxiliary image) when it found
    /// fewer bins than samples).
    pub dir: String,
    /// Parties n.
    pub parties: usize,
    /// Images per party batch B (expected, under Poisson sampling).
    pub batch_size: usize,
    /// Imprint rows k.
    pub bins: usize,
    /// Where the cut-offs come from (`oracle-upper-bound` is not an attack).
    pub placement: Placement,
    /// Repetition.
    pub seed: usize,
    /// The DP aggregate's ε (`"inf"`: none).
    #[serde(serialize_with = "crate::privacy::serialize_epsilon")]
    pub epsilon: f64,
    /// Where the DP noise was added (`null`: none).
    pub noise: Option<NoisePlacement>,
    /// Its noise multiplier σ (`null`: none).
    pub noise_multiplier: Option<f64>,
    /// Samples in the aggregate (n·B; under Poisson sampling, as drawn).
    pub samples: usize,
    /// Samples alone in their bin (counted from the sealed batches): what the formula predicts.
    pub alone: usize,
    /// Samples given back exactly: matched reconstructions at PSNR ≥ 50 dB (the fixed-point
    /// code's rounding costs far less; a blend of two different images far more). The count
    /// the formula is measured against; `recovered` is the looser SSIM count, which a blend
    /// of two look-alike images can pass.
    pub exact: usize,
    /// The formula: samples · (1 − 1/k)^(samples − 1) (the oracle: every sample).
    pub expected_recovered: f64,
    /// Occupied bins the attack found in the released sum.
    pub bins_found: usize,
    /// Leakage of the matched reconstructions (SSIM, PSNR, MSE, RDLV, `recovered`: the count at
    /// the SSIM threshold).
    #[serde(flatten)]
    pub leakage: ReconstructionMetrics,
    /// Seconds of each part.
    pub seconds: Seconds,
}

/// What one attacked round gives measurement: the bins the attack found, the sealed batches,
/// and the cut-offs and direction the server planted (to count who was alone).
pub struct Outcome<'a> {
    /// The attack's images, most confident first.
    pub found: Vec<BinImage>,
    /// Every party's batch.
    pub truth: &'a [BatchTruth],
    /// The planted cut-offs.
    pub cutoffs: &'a Cutoffs,
    /// The statistic the rows measured, of one image (on its pixels or its latent code).
    pub statistic: &'a dyn Fn(&[f32]) -> f64,
    /// Seconds of each part.
    pub seconds: Seconds,
}

/// Measures `outcome` against the sealed batches, stages the case's grid and arrays, and
/// returns its record.
pub fn measure_case(
    id: CaseId,
    outcome: Outcome<'_>,
    prior: &[f32],
    side: usize,
    threshold: SsimThreshold,
    staged: &Staged,
) -> Result<CaseRecord> {
    let batches: Vec<&BatchTruth> = outcome.truth.iter().collect();
    let originals = Originals::of(&batches);
    let m = originals.len();
    let alone = originals.alone_in_bins(|x| outcome.cutoffs.bin_of((outcome.statistic)(x)));
    let bins_found = outcome.found.len();
    // One reconstruction per sample: the most confident bins; where the attack found fewer
    // bins than samples, the rest get what an attacker who learnt nothing would guess, its
    // prior (the mean image of its own data), so that RDLV > 0 means leakage, not a blank
    // that happens to match a dark image better than the prior does.
    let mut reconstructions: Vec<Vec<f32>> =
        outcome.found.into_iter().take(m).map(|b| b.image).collect();
    reconstructions.resize(m, prior.to_vec());
    let leakage =
        measure_reconstruction(originals.pixels(), &reconstructions, prior, side, threshold)?;
    stage_files(&id, &leakage, &originals, &reconstructions, side, staged)?;
    let exact = leakage.psnr.iter().filter(|&&p| p >= EXACT_PSNR_DB).count();
    let expected_recovered = match id.placement {
        Placement::EqualMass => expected_alone(m, id.bins),
        Placement::OracleUpperBound => m as f64,
    };
    Ok(CaseRecord {
        dir: id.name(),
        name: id.name(),
        attack: id.attack,
        parties: id.parties,
        batch_size: id.batch_size,
        bins: id.bins,
        placement: id.placement,
        seed: id.seed,
        epsilon: id.epsilon,
        noise: id.noise,
        noise_multiplier: None,
        samples: m,
        alone,
        exact,
        expected_recovered,
        bins_found,
        leakage,
        seconds: outcome.seconds,
    })
}

fn stage_files(
    id: &CaseId,
    leakage: &ReconstructionMetrics,
    originals: &Originals,
    reconstructions: &[Vec<f32>],
    side: usize,
    staged: &Staged,
) -> Result<()> {
    let matched = leakage.matched_images(originals.pixels(), reconstructions)?;
    let name = id.name();
    let shown = leakage.images.min(GRID_IMAGES);
    let bound = match id.placement {
        Placement::EqualMass => String::new(),
        Placement::OracleUpperBound => " [oracle bins: an upper bound, not an attack]".into(),
    };
    let exact = leakage.psnr.iter().filter(|&&p| p >= EXACT_PSNR_DB).count();
    let title = format!(
        "{attack}, {} parties × batch {}, {} bins{dp}: {exact} of {} exact, {} at SSIM ≥ {}{bound} \
         (first {shown} shown)",
        id.parties,
        id.batch_size,
        id.bins,
        leakage.images,
        leakage.recovered,
        leakage.threshold.get(),
        attack = match id.attack {
            GlobalAttack::Imprint => "imprint",
            GlobalAttack::ScaleMia => "Scale-MIA",
        },
        dp = match id.noise {
            Some(p) => format!(", ε {} {} noise", id.epsilon, p.as_str()),
            None => String::new(),
        },
    );
    let refs = |images: &[Vec<f32>]| -> Vec<Vec<f32>> { images[..shown].to_vec() };
    let (o, r) = (refs(&matched.originals), refs(&matched.reconstructions));
    let o_ref: Vec<&[f32]> = o.iter().map(Vec::as_slice).collect();
    let r_ref: Vec<&[f32]> = r.iter().map(Vec::as_slice).collect();
    image_grid_png(
        &staged.path(&format!("{name}/{GRID}")),
        &title,
        &o_ref,
        &r_ref,
        side,
        &matched.captions[..shown],
    )?;
    let n = leakage.images;
    staged.write_npy(
        &format!("{name}/{ORIGINALS}"),
        &[n, side, side],
        &matched.originals.concat(),
    )?;
    staged.write_npy(
        &format!("{name}/{RECONSTRUCTIONS}"),
        &[n, side, side],
        &matched.reconstructions.concat(),
    )?;
    Ok(())
}

/// One line per (federation, bins, defense), over the seeds.
pub fn summary(cases: &[CaseRecord]) -> Vec<String> {
    let mut lines = vec![
        "global-model-attack: samples given back exactly (PSNR ≥ 50 dB) and at the SSIM threshold, \
         mean over the seeds, beside the formula"
            .to_string(),
    ];
    // The oracle's bins follow the drawn batch (one per sample): one line for all its seeds.
    let key_of = |c: &CaseRecord| {
        (
            c.parties,
            c.batch_size,
            match c.placement {
                Placement::EqualMass => c.bins,
                Placement::OracleUpperBound => 0,
            },
            c.placement,
            c.epsilon.to_bits(),
            c.noise,
        )
    };
    for group in crate::experiments::groups::in_order(cases, key_of) {
        let c = group[0];
        let seeds = group.len() as f64;
        let mean = |f: &dyn Fn(&CaseRecord) -> f64| group.iter().map(|d| f(d)).sum::<f64>() / seeds;
        let bins = match c.placement {
            Placement::EqualMass => format!("k {:>5}", c.bins),
            Placement::OracleUpperBound => "oracle (upper bound)".to_string(),
        };
        let dp = match c.noise {
            Some(p) => format!("ε {} {}", c.epsilon, p.as_str()),
            None => String::new(),
        };
        lines.push(format!(
            "  n {:>2} B {:>3} {bins:<20} {dp:<18} exact {:>6.1} of {:>5.1} (formula {:>6.1}) \
             at SSIM {:>6.1} mean SSIM {:.3}",
            c.parties,
            c.batch_size,
            mean(&|d| d.exact as f64),
            mean(&|d| d.samples as f64),
            mean(&|d| d.expected_recovered),
            mean(&|d| d.leakage.recovered as f64),
            mean(&|d| d.leakage.mean_ssim),
        ));
    }
    lines
}
