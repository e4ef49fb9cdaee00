//! One audited training run at one claimed ε: canaries crafted, coins tossed, DP-SGD trained
//! on the data with the included canaries, every canary scored by the auditor, and the scores
//! turned into lower bounds on ε by `metrics::audit`.

use std::time::Instant;

use burn::module::Module;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use super::{AuditConfig, CanaryKind};
use crate::Result;
use crate::attacks::Attack;
use crate::attacks::audit::canaries::{mislabelled, quiet_coordinates};
use crate::attacks::audit::{BlackBoxView, DiracAuditor, LossAuditor, WhiteBoxView};
use crate::attacks::membership::QueryAccess;
use crate::config::ConfigError;
use crate::data::{Dataset, Truth};
use crate::metrics::audit::{Guesses, epsilon_lower_bound, guess};
use crate::metrics::audit_fdp::{dpsgd_epsilon_lower_bound, gaussian_epsilon_lower_bound};
use crate::model::Classifier;
use crate::privacy::{DpReport, PrivacySpec, serialize_epsilon};
use crate::progress::Progress;
use crate::runtime::Runtime;
use crate::train::dp::Audit;
use crate::train::{FitSpec, Trained, dp_sgd, evaluate, train, train_audited};

/// What one k's guesses came to, and the ε each analysis proves with them.
#[derive(Debug, Clone, Serialize)]
pub struct GuessRecord {
    /// Guesses per side.
    pub k: usize,
    /// Guesses made, 2k.
    pub made: usize,
    /// Of which correct.
    pub correct: usize,
    /// Steinke et al.'s (ε, δ) lower bound at the per-test confidence.
    pub epsilon_steinke: f64,
    /// Mahloujifar et al.'s f-DP analysis against the μ-GDP family: the largest μ rejected
    /// at the per-test confidence. Informative only: DP-SGD is not exactly μ-GDP, so its ε is
    /// never held against the claim.
    pub gdp_mu: f64,
    /// The ε at δ of `gdp_mu`.
    pub epsilon_gdp: f64,
}

/// Mahloujifar et al.'s f-DP analysis against the run's own mechanism: DP-SGD's curve (from
/// the PLD) at the run's q and steps, for the noise multipliers σ' it rejects.
#[derive(Debug, Clone, Serialize)]
pub struct FdpRecord {
    /// The k it was computed at: the one whose μ-GDP bound was largest (every k's test holds
    /// together at `confidence`, so choosing one afterwards is allowed).
    pub k: usize,
    /// The smallest σ' whose DP-SGD curve the guesses reject: the run leaked more than DP-SGD
    /// with σ' would (∞, written `"inf"`, when nothing is proven).
    #[serde(serialize_with = "serialize_epsilon")]
    pub noise_multiplier: f64,
    /// The PLD ε at δ of σ': the empirical ε (0 when nothing is proven).
    pub epsilon: f64,
    /// Seconds the search took (one PLD composition per σ' tried).
    pub seconds: f64,
}

/// The names in [`LevelRecord::contradicted_by`].
pub const STEINKE: &str = "steinke";
/// See [`STEINKE`].
pub const FDP: &str = "fdp";

/// One audited training run.
#[derive(Debug, Clone, Serialize)]
pub struct LevelRecord {
    /// The ε the noise was calibrated for (`inf`: no DP).
    #[serde(serialize_with = "serialize_epsilon")]
    pub target_epsilon: f64,
    /// What the run claims: ε under both accountants, σ, q, steps (`null`: non-private).
    pub privacy: Option<DpReport>,
    /// Canaries the coins put into training.
    pub canaries_included: usize,
    /// One record per k.
    pub guesses: Vec<GuessRecord>,
    /// The best lower bound of Steinke et al.'s analysis over the k tried, at `confidence`.
    pub epsilon_steinke: f64,
    /// Mahloujifar et al.'s f-DP bound against DP-SGD's own curve (`null`: non-private run).
    pub fdp: Option<FdpRecord>,
    /// The best μ-GDP-family ε over the k tried (informative; see [`GuessRecord`]).
    pub epsilon_gdp: f64,
    /// The larger of the two figures that can contradict the claim: Steinke's (ε, δ) lower
    /// bound, and the PLD ε of the least noise multiplier whose DP-SGD curve the f-DP analysis
    /// rejects (a lower bound within the DP-SGD family: the run leaked more than DP-SGD with
    /// that σ' would, which does not by itself reject (ε(σ'), δ)-DP).
    pub epsilon_empirical: f64,
    /// `epsilon_empirical` / the claimed ε (0 for a non-private run).
    pub fraction_of_claimed: f64,
    /// Whether a lower bound exceeds the claimed ε: the training was not what it claims.
    pub contradiction: bool,
    /// Which analyses found it: `"steinke"` (its bound exceeds the claimed ε), `"fdp"` (it
    /// rejects DP-SGD at the run's own σ).
    pub contradicted_by: Vec<&'static str>,
    /// The trained model's test accuracy.
    pub test_accuracy: f64,
    /// Seconds of training (the audit's cost is one training run).
    pub train_seconds: f64,
    /// Seconds of the whole level: crafting, training, scoring, bounds.
    pub seconds: f64,
}

/// The shared inputs of every level.
pub(super) struct Inputs<'a> {
    pub config: &'a AuditConfig,
    /// The training data before canaries.
    pub data: &'a Dataset,
    /// The images input canaries are made from (disjoint from `data`; empty for gradient
    /// canaries).
    pub pool: &'a Dataset,
    /// The test split: evaluation, and the white-box auditor's own data.
    pub test: &'a Dataset,
    pub device: &'a burn::tensor::Device,
    pub progress: &'a Progress,
}

/// Audits one claimed ε, drawing everything from `seed`.
pub(super) fn audit_level(inputs: &Inputs<'_>, epsilon: f64, seed: u64) -> Result<LevelRecord> {
    let started = Instant::now();
    let Inputs {
        config,
        data,
        pool,
        test,
        device,
        progress,
    } = *inputs;
    let spec = &config.audit;
    let m = spec.canaries;
    // One stream per stage, so that changing how canaries are crafted leaves the coins and
    // the training's batches and noise as they were.
    let mut root = StdRng::seed_from_u64(seed);
    let mut streams = [(); 3].map(|()| StdRng::seed_from_u64(root.random::<u64>()));
    let [coin_rng, craft_rng, train_rng] = &mut streams;

    // The game's coins: which canaries the training run gets. Sealed for measurement; the run
    // itself (the mechanism) knows them, the auditor's views never hold them.
    let included: Vec<bool> = (0..m).map(|_| coin_rng.random_bool(0.5)).collect();
    let canaries_included = included.iter().filter(|&&b| b).count();
    let in_indices: Vec<usize> = (0..m).filter(|&i| included[i]).collect();

    let privacy = PrivacySpec {
        epsilon: epsilon.is_finite().then_some(epsilon),
        ..config.privacy.clone()
    };
    let plan = privacy.plan()?;
    let fit = FitSpec {
        model: &config.model,
        train: &config.train,
        privacy: plan.as_ref(),
        audit_break: spec.audit_break,
    };
    // q, the steps and σ are planned for the expected number of examples, N + m/2: fixed
    // before the coins, so that a canary's inclusion changes nothing but the data (the two
    // worlds of every canary then run one and the same mechanism, as the analyses assume).
    let planned = data.len() + m / 2;
    config.train.validate(data.len() + canaries_included)?;
    let resolved = dp_sgd(&fit, planned)?;
    let model_config = config.model.for_data(data.rows(), data.classes());
    model_config.validate()?;
    let ad_device = device.clone().autodiff();
    let model = Classifier::new(&model_config, &ad_device, train_rng);
    let mut rt = Runtime::new(device, train_rng, progress);

    let t0 = Instant::now();
    let (trained, scores): (Trained, Vec<f64>) = match spec.canary_kind {
        CanaryKind::Input => {
            let canaries = mislabelled(pool, craft_rng)?;
            let training = data.concat(&canaries.subset(&in_indices));
            let dp = resolved.as_ref().map(|(dp, _)| dp);
            let trained = train(model, &training, test, &config.train, dp, &mut rt)?;
            let view = BlackBoxView::new(QueryAccess::new(&trained.model, device), canaries);
            let scores = LossAuditor.run(&view, &mut rt)?;
            (trained, scores)
        }
        CanaryKind::Gradient => {
            let Some((dp, _)) = &resolved else {
                unreachable!("the config refuses gradient canaries without DP");
            };
            if m > model.num_params() {
                return Err(ConfigError::invalid(
                    "canaries",
                    m,
                    format!(
                        "each gradient canary takes its own coordinate, and the model has \
                         {} parameters",
                        model.num_params()
                    ),
                )
                .into());
            }
            let coordinates = quiet_coordinates(&model, test, m, craft_rng);
            let dirac: Vec<usize> = in_indices.iter().map(|&i| coordinates[i]).collect();
            let audit = Audit {
                dirac: &dirac,
                dirac_norm: spec.dirac_norm * dp.max_grad_norm,
                watch: &coordinates,
            };
            let (trained, sums) =
                train_audited(model, data, test, &config.train, dp, audit, &mut rt)?;
            let scores = DiracAuditor.run(&WhiteBoxView::new(sums), &mut rt)?;
            (trained, scores)
        }
    };
    let train_seconds = t0.elapsed().as_secs_f64();

    // Measurement: the coins are read here, through `metrics`, and nowhere else.
    let included = Truth::new(included);
    let report = resolved.map(|(_, report)| report);
    let delta = config.privacy.delta;
    let confidence = spec.per_test_confidence();
    let mut guesses = Vec::new();
    let mut outcomes = Vec::new();
    for k in spec.guesses() {
        let g: Guesses = guess(&scores, &included, k)?;
        let gdp = gaussian_epsilon_lower_bound(g, delta, confidence)?;
        guesses.push(GuessRecord {
            k,
            made: g.made,
            correct: g.correct,
            epsilon_steinke: epsilon_lower_bound(g, delta, confidence)?,
            gdp_mu: gdp.mu,
            epsilon_gdp: gdp.epsilon,
        });
        outcomes.push(g);
    }
    let epsilon_steinke = guesses
        .iter()
        .map(|g| g.epsilon_steinke)
        .fold(0.0, f64::max);
    // The k with the largest μ-GDP bound (the first on ties).
    let best = (0..guesses.len()).fold(0, |b, i| {
        if guesses[i].gdp_mu > guesses[b].gdp_mu {
            i
        } else {
            b
        }
    });
    let epsilon_gdp = guesses[best].epsilon_gdp;
    let fdp = match &report {
        None => None,
        Some(r) => {
            let t = Instant::now();
            let (q, steps) = (r.spent.sample_rate, r.spent.steps);
            let b = dpsgd_epsilon_lower_bound(outcomes[best], q, steps, delta, confidence)?;
            Some(FdpRecord {
                k: guesses[best].k,
                noise_multiplier: b.noise_multiplier,
                epsilon: b.epsilon,
                seconds: t.elapsed().as_secs_f64(),
            })
        }
    };
    let claimed = report.as_ref().map_or(f64::INFINITY, |r| r.spent.epsilon);
    let epsilon_empirical = epsilon_steinke.max(fdp.as_ref().map_or(0.0, |f| f.epsilon));
    // The f-DP bound contradicts the claim when it rejects DP-SGD at the run's own σ: every
    // σ ≥ σ' is rejected, so when σ' ≤ σ (compared as noise multipliers, free of the
    // accountant's rounding of ε).
    let fdp_contradicts = match (&fdp, &report) {
        (Some(f), Some(r)) => f.noise_multiplier <= r.spent.noise_multiplier,
        _ => false,
    };
    let contradicted_by: Vec<&'static str> =
        [(epsilon_steinke > claimed, STEINKE), (fdp_contradicts, FDP)]
            .into_iter()
            .filter_map(|(found, analysis)| found.then_some(analysis))
            .collect();
    let test_accuracy = evaluate(&trained.model, test, device).accuracy;
    Ok(LevelRecord {
        target_epsilon: epsilon,
        privacy: report,
        canaries_included,
        guesses,
        epsilon_steinke,
        fdp,
        epsilon_gdp,
        epsilon_empirical,
        fraction_of_claimed: if claimed.is_finite() {
            epsilon_empirical / claimed
        } else {
            0.0
        },
        contradiction: !contradicted_by.is_empty(),
        contradicted_by,
        test_accuracy,
        train_seconds,
        seconds: started.elapsed().as_secs_f64(),
    })
}
