//! What the imprint attack sees: the secure aggregate as released, and the secrets of its own
//! planting. No party's update, image or label is in either type.

use super::plant::ImprintSecrets;
use crate::fl::federated::ObservedRound;
use crate::model::{ModelDelta, ModelSnapshot};

/// The secure aggregate as anyone outside the aggregator sees it.
#[derive(Debug, Clone)]
pub struct AggregateView {
    /// The model the parties received: the planted one.
    pub broadcast: ModelSnapshot,
    /// The released sum of the parties' updates (with the DP aggregate's noise, if any).
    pub sum: ModelDelta,
    /// The samples the server expects in it: contributors × the batch size.
    pub samples: usize,
    /// Standard deviation of the noise in each coordinate of the released sum (public, like
    /// every DP parameter; 0 without DP).
    pub noise_std: f64,
    /// The largest error the fixed-point code can put in one coordinate of the sum: each
    /// contributor's stochastic rounding moves it by less than one step.
    pub rounding: f64,
}

impl AggregateView {
    /// The released aggregate of `observed`, whose sum carries noise of `noise_std` per
    /// coordinate.
    pub fn of(observed: &ObservedRound, noise_std: f64) -> Self {
        let contributors = observed.contributors().len();
        Self {
            broadcast: observed.broadcast.clone(),
            sum: observed.released.clone(),
            samples: contributors * observed.batch_size,
            noise_std,
            rounding: contributors as f64 * observed.code.step(),
        }
    }
}

/// The imprint attack's view: the aggregate and what the server planted.
#[derive(Debug, Clone)]
pub struct ImprintView {
    /// What the round released.
    pub aggregate: AggregateView,
    /// What the server knows of its own imprint block.
    pub secrets: ImprintSecrets,
}
