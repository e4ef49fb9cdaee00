//! What Scale-MIA sees: the secure aggregate as released, and the secrets of its own planting
//! (direction, cut-offs, decoder). No party's update, image or label is in either.

use super::plant::ScaleMiaSecrets;
use crate::attacks::imprint::AggregateView;

/// Scale-MIA's view: the aggregate and what the server planted.
#[derive(Debug, Clone)]
pub struct ScaleMiaView {
    /// What the round released.
    pub aggregate: AggregateView,
    /// What the server knows of its own encoder, imprint block and decoder.
    pub secrets: ScaleMiaSecrets,
}
