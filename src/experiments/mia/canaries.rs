//! The canary game of `ppml run mia` (`[membership] canaries = M`): the positive control of the
//! DP ceiling. A target trained without noise or clipping (`--audit-break`) is not what its
//! claimed ε says, and the ceiling check must say so; on ordinary records a membership attack
//! may simply be too weak to show it (the non-private tanh CNN stays below the ε = 1.5 ceiling).
//! Canaries make the leak visible: 2M extra records get a wrong label, M join the members and M
//! are held out, and the loss attack judges these 2M alone. It commits to its thresholds before
//! seeing the target's answers on them, from its own public records mislabelled the same way
//! (samples of a held-out canary's loss), so the ceiling's threshold test applies unchanged.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use super::ceiling::measure_ceiling;
use super::{CeilingReport, MiaConfig};
use crate::Result;
use crate::attacks::audit::canaries::mislabelled;
use crate::attacks::membership::threshold::global_threshold;
use crate::attacks::membership::{QueryAccess, negative_loss};
use crate::data::{Dataset, Truth};
use crate::metrics::ceiling_test::FALSE_ALARM_RATE;
use crate::metrics::membership::{AttackMetrics, measure};
use crate::privacy::DpReport;

/// The canary records: `members` join the target's training set, `held_out` do not.
pub(super) struct Canaries {
    pub members: Dataset,
    pub held_out: Dataset,
}

impl Canaries {
    /// Mislabels `records` (2M of them, disjoint from every other set) and splits them in half.
    pub fn craft(records: &Dataset, rng: &mut StdRng) -> Result<Self> {
        let crafted = mislabelled(records, rng)?;
        let half = records.len() / 2;
        let (members, held_out): (Vec<usize>, Vec<usize>) =
            ((0..half).collect(), (half..records.len()).collect());
        Ok(Self {
            members: crafted.subset(&members),
            held_out: crafted.subset(&held_out),
        })
    }
}

/// The loss attack on the canaries, and (for a DP target) its DP ceiling.
#[derive(Debug, Clone, Serialize)]
pub struct CanaryReport {
    /// Canaries trained on (as many were held out).
    pub canaries: usize,
    /// The loss attack judged on the 2M canaries alone.
    pub attack: AttackMetrics,
    /// Its ceiling from the target's privacy curve (`null`: non-private target).
    pub dp_ceiling: Option<CeilingReport>,
}

/// The loss attack on the shuffled canaries, thresholds from the public records mislabelled;
/// measured against which canaries were trained on, and against the ceiling of `privacy`.
/// Returns the report and one message per ceiling violation.
pub(super) fn play(
    config: &MiaConfig,
    canaries: &Canaries,
    target: &QueryAccess,
    public: &Dataset,
    privacy: Option<&DpReport>,
    rng: &mut StdRng,
) -> Result<(CanaryReport, Vec<String>)> {
    let both = canaries.members.concat(&canaries.held_out);
    let mut order: Vec<usize> = (0..both.len()).collect();
    order.shuffle(rng);
    let is_member = Truth::new(order.iter().map(|&i| i < canaries.members.len()).collect());
    let candidates = both.subset(&order);

    // The attacker's side: its own records, mislabelled as it mislabelled the canaries.
    let reference = mislabelled(public, rng)?;
    let reference_scores = negative_loss(&target.logits(&reference), &reference);
    let candidate_scores = negative_loss(&target.logits(&candidates), &candidates);
    let scores = global_threshold(&reference_scores, &candidate_scores, config.alphas());

    let m = canaries.members.len();
    let attack = measure(
        "loss-canaries",
        &scores,
        &is_member,
        config.membership.bootstrap,
        rng,
    )?;
    let (dp_ceiling, errors) = match privacy {
        None => (None, Vec::new()),
        Some(p) => {
            // Half of β, the main test has the other half (`ceiling_false_alarm_rate`).
            let measured = measure_ceiling(p, &[&attack], (m, m), FALSE_ALARM_RATE / 2.0)?;
            (Some(measured.report), measured.errors)
        }
    };
    Ok((
        CanaryReport {
            canaries: m,
            attack,
            dp_ceiling,
        },
        errors,
    ))
}
