//! Membership inference: given a record (x, y) and query access to a trained model, was the
//! record in the model's training set?
//!
//! Every attack here turns the model's logits on a candidate into a score, higher meaning "more
//! likely a member", and calls a candidate a member when its score clears a threshold. They
//! differ in what the threshold depends on:
//!
//! - [`threshold`] on the loss: the model's loss on the record, one threshold for all (Yeom et
//!   al. 2018);
//! - [`threshold`] on the logit margin: one threshold for all, the marginal quantile of the
//!   public records' margins;
//! - [`quantile`]: the logit margin against a per-record threshold, a quantile of the margin a
//!   non-member like x would get, predicted by a regression model trained on public data
//!   (Bertran et al., NeurIPS 2023);
//! - [`lira`]: the logit-scaled confidence against its distribution under shadow models trained
//!   on public data (Carlini et al. 2022, offline variant).

pub mod lira;
pub mod quantile;
pub mod score;
pub mod threshold;
mod view;

pub use lira::LiraAttack;
pub use quantile::QuantileAttack;
pub use score::{logit_confidence, margin, negative_loss};
pub use threshold::{Statistic, ThresholdAttack};
pub use view::{Logits, MembershipView, QueryAccess};

/// What an attack outputs for its candidates: one score each, higher = more likely a member,
/// and the thresholds on that score that aim at given false-positive rates.
#[derive(Debug, Clone, PartialEq)]
pub struct MembershipScores {
    /// One score per candidate, in the candidates' order.
    pub scores: Vec<f64>,
    /// `(α, threshold)`: the attacker's rule "member iff score ≥ threshold" aims at FPR α.
    /// Empty for attacks that only rank candidates.
    pub thresholds: Vec<(f64, f64)>,
}
