//! One way to train a classifier from its specs: the run of `ppml run train`, the
//! membership-inference target and LiRA's shadows all come from [`fit`], so a shadow trained
//! "like the target" is trained by the very same code.

use burn::module::Module;

use super::dp::{AuditBreak, DpSgd};
use super::{TrainOptions, Trained, load_checkpoint, train};
use crate::Result;
use crate::data::Dataset;
use crate::model::{Classifier, ModelSpec};
use crate::privacy::{DpPlan, DpReport};
use crate::runtime::Runtime;

/// What to train: the network, how to optimise it, and (for DP-SGD) the checked privacy plan.
#[derive(Debug, Clone, Copy)]
pub struct FitSpec<'a> {
    /// The network.
    pub model: &'a ModelSpec,
    /// Optimiser, batches, epochs, and an optional checkpoint to start from.
    pub train: &'a TrainOptions,
    /// DP-SGD's plan, or `None` for non-private training.
    pub privacy: Option<&'a DpPlan>,
    /// An unsafe DP-SGD mode for an audit's positive control ([`AuditBreak::None`]: correct).
    pub audit_break: AuditBreak,
}

/// A trained classifier and what its training spent.
pub struct Fitted {
    /// The model, its per-epoch history and timings.
    pub trained: Trained,
    /// The privacy accounting of DP-SGD (`None`: non-private).
    pub privacy: Option<DpReport>,
    /// Trainable parameters.
    pub parameters: usize,
}

/// DP-SGD's parameters for `spec` on `train_len` examples with the privacy they spend;
/// `None` for non-private training. σ is calibrated when the plan names a target ε: the
/// sampling rate is batch / N and the steps ⌊N / batch⌋ per epoch (Poisson sampling).
pub fn dp_sgd(spec: &FitSpec<'_>, train_len: usize) -> Result<Option<(DpSgd, DpReport)>> {
    let Some(plan) = spec.privacy else {
        return Ok(None);
    };
    let opts = spec.train;
    let sample_rate = opts.batch_size as f64 / train_len as f64;
    let steps = (opts.steps_per_epoch(train_len, true) * opts.epochs) as u64;
    let (sigma, report) = plan.resolve(sample_rate, steps, train_len)?;
    let dp = DpSgd::new(sample_rate, sigma, plan.clip_norm(), train_len)?.broken(spec.audit_break);
    Ok(Some((dp, report)))
}

/// Trains the classifier `spec` describes on `data`, evaluating on `eval` after every epoch.
/// Weights are drawn from `rt.rng` (or loaded from `spec.train.init_from`), then training
/// draws its batches and noise from the same stream.
pub fn fit(
    spec: &FitSpec<'_>,
    data: &Dataset,
    eval: &Dataset,
    rt: &mut Runtime<'_>,
) -> Result<Fitted> {
    spec.train.validate(data.len())?;
    let privacy = dp_sgd(spec, data.len())?;
    let config = spec.model.for_data(data.rows(), data.classes());
    config.validate()?;
    let ad_device = rt.device.clone().autodiff();
    let mut model = Classifier::new(&config, &ad_device, rt.rng);
    if let Some(path) = &spec.train.init_from {
        model = load_checkpoint(model, path)?;
    }
    let parameters = model.num_params();
    let dp = privacy.as_ref().map(|(dp, _)| dp);
    let trained = train(model, data, eval, spec.train, dp, rt)?;
    Ok(Fitted {
        trained,
        privacy: privacy.map(|(_, report)| report),
        parameters,
    })
}
