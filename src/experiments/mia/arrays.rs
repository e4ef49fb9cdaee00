//! The run's raw arrays beside `metrics.json`, for other tools (ML Privacy Meter, scikit-learn):
//! each attack's scores and which candidates were members, in the candidates' order.

use super::config::{AttackKind, MiaConfig};
use crate::attacks::membership::MembershipScores;
use crate::data::Truth;
use crate::metrics::membership::membership_for_export;
use crate::report::{ReportError, Staged};

/// Which candidates were members (NumPy bool array).
const IS_MEMBER: &str = "is_member.npy";

/// One attack's scores (NumPy f64 array; higher: more likely a member).
fn scores_file(kind: AttackKind) -> String {
    format!("scores-{}.npy", kind.as_str())
}

/// The attacks the run scores, in its order: quantile regression and the two global
/// thresholds always, LiRA when shadows are asked for.
pub(super) fn attack_kinds(config: &MiaConfig) -> impl Iterator<Item = AttackKind> {
    let lira = (config.shadows() > 0).then_some(AttackKind::Lira);
    [
        AttackKind::Quantile,
        AttackKind::Threshold,
        AttackKind::Loss,
    ]
    .into_iter()
    .chain(lira)
}

/// The names of the files [`write`] will write for `config` (for the output folder's check
/// before any compute).
pub(super) fn file_names(config: &MiaConfig) -> Vec<String> {
    let scores = attack_kinds(config).map(scores_file);
    std::iter::once(IS_MEMBER.to_string())
        .chain(scores)
        .collect()
}

/// Writes every attack's scores and the membership truth into the staged output, and retires
/// the scores of attacks this run did not make (an older run's `scores-lira.npy`).
pub(super) fn write(
    staged: &mut Staged,
    scores: &[(AttackKind, MembershipScores)],
    is_member: &Truth<Vec<bool>>,
) -> Result<(), ReportError> {
    for (kind, scores) in scores {
        let values = &scores.scores;
        staged.write_npy(&scores_file(*kind), &[values.len()], values)?;
    }
    for &kind in <AttackKind as clap::ValueEnum>::value_variants() {
        if !scores.iter().any(|(k, _)| *k == kind) {
            staged.retire(&scores_file(kind));
        }
    }
    let truth = membership_for_export(is_member);
    staged.write_npy(IS_MEMBER, &[truth.len()], truth)
}
