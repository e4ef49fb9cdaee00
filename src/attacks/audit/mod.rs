//! The privacy auditor (Steinke, Nasr & Jagielski 2023, "Privacy Auditing with One (1)
//! Training Run"): it crafts m canaries before training, the training run includes each with
//! probability ½ (a coin the auditor never sees), and afterwards it scores every canary, higher
//! meaning "more likely trained on". `metrics::audit` turns how well the scores rank the
//! included canaries first into a lower bound on ε.
//!
//! Two threat models, each its own view type:
//! - [`BlackBoxView`]: query access to the final model and the input canaries
//!   (mislabelled images, `canaries::mislabelled`), scored by minus their loss, as the
//!   membership attacker of `ppml run mia` scores candidates.
//! - [`WhiteBoxView`]: the noisy gradients the run released at every step, summed at each
//!   gradient canary's coordinate (`canaries::quiet_coordinates` chose them); the sum is the
//!   score (Nasr et al. 2023). The included canaries add C at their coordinate each time they
//!   are sampled, the excluded ones nothing.

pub mod canaries;

use super::Attack;
use super::membership::QueryAccess;
use super::membership::score::negative_loss;
use crate::Result;
use crate::data::Dataset;
use crate::runtime::Runtime;

/// What a black-box auditor holds after training: query access and its canaries (with the
/// labels it gave them).
pub struct BlackBoxView {
    target: QueryAccess,
    canaries: Dataset,
}

impl BlackBoxView {
    /// Query access to the trained model and the m input canaries.
    pub fn new(target: QueryAccess, canaries: Dataset) -> Self {
        Self { target, canaries }
    }
}

/// What a white-box auditor holds after training: for each of its m gradient canaries, the
/// sum over steps of the released noisy gradient at that canary's coordinate.
pub struct WhiteBoxView {
    released_sums: Vec<f64>,
}

impl WhiteBoxView {
    /// The release, in canary order.
    pub fn new(released_sums: Vec<f64>) -> Self {
        Self { released_sums }
    }
}

/// Scores input canaries by minus their loss under the trained model.
pub struct LossAuditor;

impl Attack<BlackBoxView> for LossAuditor {
    type Output = Vec<f64>;

    fn run(&self, view: &BlackBoxView, _rt: &mut Runtime<'_>) -> Result<Vec<f64>> {
        let logits = view.target.logits(&view.canaries);
        Ok(negative_loss(&logits, &view.canaries))
    }
}

/// Scores gradient canaries by the released gradient summed at their coordinate. The noisy
/// gradient is what the optimizer descends, so a canary in the data pushes its coordinate's sum
/// up by C per sampled step.
pub struct DiracAuditor;

impl Attack<WhiteBoxView> for DiracAuditor {
    type Output = Vec<f64>;

    fn run(&self, view: &WhiteBoxView, _rt: &mut Runtime<'_>) -> Result<Vec<f64>> {
        Ok(view.released_sums.clone())
    }
}
