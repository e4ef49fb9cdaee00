//! Federated learning substrate: how n parties' model updates are summed so that the server
//! learns only what the chosen protocol reveals.
//!
//! Three protocols share one interface ([`aggregate`], selected by [`Aggregation`]):
//! - [`Aggregation::Plain`]: every party uploads its encoded update; the server sees each one.
//! - [`Aggregation::Additive`]: textbook n-of-n additive secret sharing over Z_{2^k}
//!   ([`additive`]); no dropouts tolerated.
//! - [`Aggregation::SecAgg`]: the pairwise-masking protocol of Bonawitz et al. 2017, "Practical
//!   Secure Aggregation for Privacy-Preserving Machine Learning" (CCS), with the SecAgg+
//!   sparse neighbour graph of Bell et al. 2020 as an option ([`secagg`]); it survives up to
//!   n − t dropouts.
//!
//! Updates are floats; the protocols work on words of Z_{2^32} or Z_{2^64} ([`RingWord`]), so a
//! party first encodes its update with [`FixedPoint`] (clipping, scaling, stochastic rounding)
//! and, for distributed DP, adds its share of discrete Gaussian noise ([`dp`]); [`secure_sum`]
//! runs encoding, protocol, decoding and any DP noise ([`SumNoise`]) in one call, and
//! [`dp_sum_noise`] sizes that noise for DP-SGD on the aggregate, central or distributed
//! ([`dp_aggregate`]). Each party is its own object holding its own secrets; parties and
//! server exchange messages by value, and what the server received is returned as a
//! [`ServerView`] transcript.
//!
//! [`federated`] trains a model over these protocols: parties, the server's role, and rounds
//! that return what the server observed (the view an attack is handed) beside the parties'
//! batches sealed as ground truth. A round that cannot be set up is a [`SecAggError`]; one
//! that starts and aborts carries a [`ProtocolAbort`].

pub mod additive;
pub mod aggregation;
pub mod dp;
pub mod dp_aggregate;
pub mod encoding;
mod error;
pub mod federated;
pub mod partition;
pub mod plain;
pub mod prg;
pub mod ring;
pub mod secagg;
pub mod spec;
pub mod sum;
pub mod traffic;

pub use aggregation::{Aggregation, Dropouts, Phase, RoundOutcome, ServerView, Timings, aggregate};
pub use dp::DistributedGaussian;
pub use dp_aggregate::{NoisePlacement, dp_sum_noise};
pub use encoding::FixedPoint;
pub use error::{ProtocolAbort, SecAggError};
pub use partition::{Partition, split_among_parties};
pub use prg::{MaskSeed, Sign};
pub use ring::RingWord;
pub use secagg::{SecAggParams, SecAggView, Session};
pub use spec::{AggregationSpec, FederationSpec};
pub use sum::{SecureSum, SumNoise, secure_sum};
pub use traffic::Traffic;

/// A party's index, `0..n`.
pub type PartyId = usize;

/// `n` and its noun, singular for one ("1 party", "3 parties"): every count in this module's
/// messages goes through it, so none reads "1 parties".
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
