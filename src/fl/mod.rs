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
//! and, for distributed DP, adds its share of discrete Gaussian noise ([`dp`]). Each party is its
//! own object holding its own secrets; parties and server exchange messages by value, and what
//! the server received is returned as a [`ServerView`] an attacker can be handed.

pub mod additive;
pub mod aggregation;
pub mod dp;
pub mod encoding;
pub mod federated;
pub mod partition;
pub mod plain;
pub mod prg;
pub mod ring;
pub mod secagg;
pub mod traffic;

pub use aggregation::{
    Aggregation, Dropouts, Phase, RoundOutcome, ServerView, Timings, aggregate, secure_sum,
};
pub use dp::DistributedGaussian;
pub use encoding::FixedPoint;
pub use partition::{Partition, split_among_parties};
pub use prg::{MaskSeed, Sign};
pub use ring::RingWord;
pub use secagg::{SecAggParams, SecAggView, Session};
pub use traffic::Traffic;

/// A party's index, `0..n`.
pub type PartyId = usize;

/// Why a federated round (or its set-up) could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SecAggError {
    /// No parties at all.
    #[error("an aggregation round needs at least one party (got 0)")]
    NoParties,
    /// Secure aggregation of fewer than two parties would reveal the single input.
    #[error("secure aggregation needs at least 2 parties (got {parties})")]
    TooFewParties {
        /// Parties asked for.
        parties: usize,
    },
    /// t > n: the secrets could never be reconstructed.
    #[error(
        "threshold t = {threshold} exceeds the number of share holders ({holders}); pick t ≤ {holders}"
    )]
    ThresholdAboveParties {
        /// t.
        threshold: usize,
        /// n (or the neighbourhood size, self included, with SecAgg+).
        holders: usize,
    },
    /// t ≤ n/2: two disjoint groups could each reconstruct, so a server could learn a party's
    /// self-mask seed and its mask key at once (Bonawitz et al. 2017, §4).
    #[error(
        "threshold t = {threshold} must be more than half of the {holders} share holders; pick t ≥ {}",
        holders / 2 + 1
    )]
    ThresholdTooLow {
        /// t.
        threshold: usize,
        /// n (or the neighbourhood size, self included, with SecAgg+).
        holders: usize,
    },
    /// A SecAgg+ neighbour count that does not give a k-regular ring graph.
    #[error(
        "neighbours = {neighbours} is invalid for {parties} parties: it must be even, at least 2 and below the number of parties"
    )]
    BadNeighbours {
        /// k.
        neighbours: usize,
        /// n.
        parties: usize,
    },
    /// Vectors of length zero.
    #[error("the update vector is empty (length 0)")]
    EmptyVector,
    /// The number of inputs is not the number of parties.
    #[error("expected one input per party ({expected}), got {found}")]
    InputCount {
        /// n.
        expected: usize,
        /// Inputs given.
        found: usize,
    },
    /// A party's vector has the wrong length.
    #[error("party {party}'s vector has length {found}, expected {expected}")]
    LengthMismatch {
        /// The party.
        party: PartyId,
        /// The agreed length.
        expected: usize,
        /// Its length.
        found: usize,
    },
    /// A NaN cannot be encoded.
    #[error("coordinate {index} of the update is NaN; it cannot be encoded")]
    NonFinite {
        /// Its index.
        index: usize,
    },
    /// The clipping range or scale is not a positive finite number.
    #[error("fixed-point encoding needs a positive finite {what} (got {value})")]
    BadEncoding {
        /// `range` or `scale`.
        what: &'static str,
        /// The value given.
        value: f64,
    },
    /// The sum of n encoded vectors could wrap around the ring.
    #[error(
        "no headroom: {parties} parties × {max_abs} (range × scale, plus noise margin) exceeds the largest value of a {bits}-bit ring ({limit}); lower the scale or use 64-bit words"
    )]
    Headroom {
        /// n.
        parties: usize,
        /// The largest absolute encoded coordinate of one party.
        max_abs: u64,
        /// Ring size in bits.
        bits: u32,
        /// 2^(bits−1) − 1.
        limit: u64,
    },
    /// A DP parameter out of range.
    #[error("distributed DP needs a positive finite {what} (got {value})")]
    BadNoise {
        /// The parameter.
        what: &'static str,
        /// The value given.
        value: f64,
    },
    /// Fewer than t parties are left: the round aborts without revealing anything.
    #[error(
        "only {alive} parties left at {phase}, below the threshold t = {threshold}: the round is aborted"
    )]
    TooFewSurvivors {
        /// The phase at which the server (or a client) noticed.
        phase: Phase,
        /// Parties still taking part.
        alive: usize,
        /// t.
        threshold: usize,
    },
    /// A secret has fewer than t shares available (SecAgg+, or a direct Shamir call).
    #[error("only {have} shares of {whose} secret, below the threshold t = {threshold}")]
    TooFewShares {
        /// Shares available.
        have: usize,
        /// t.
        threshold: usize,
        /// Whose secret, as text ("party 3's self-mask seed").
        whose: String,
    },
    /// Additive sharing is n-of-n: one missing party stops the round.
    #[error(
        "party {party} dropped out at {phase}; additive secret sharing needs every party, so the round is aborted"
    )]
    PartyMissing {
        /// The first missing party.
        party: PartyId,
        /// When it went missing.
        phase: Phase,
    },
    /// The server's unmasking request lists a party as both alive and dropped: answering
    /// would hand it both the self-mask seed and the mask key of that party.
    #[error(
        "party {client} refuses to unmask: the server claims party {party} both survived and dropped out"
    )]
    AliveAndDropped {
        /// The refusing client.
        client: PartyId,
        /// The party claimed both ways.
        party: PartyId,
    },
    /// A server message that an honest server would never send.
    #[error("party {client} rejects the server's {phase} message: {reason}")]
    BadServerMessage {
        /// The rejecting client.
        client: PartyId,
        /// The phase.
        phase: Phase,
        /// What is wrong.
        reason: &'static str,
    },
    /// A public key of small order (the X25519 result would not depend on our secret).
    #[error("party {party}'s public key is of small order; refusing the key agreement")]
    WeakPublicKey {
        /// The party.
        party: PartyId,
    },
    /// An encrypted share failed authentication: tampered, replayed or misrouted.
    #[error(
        "the encrypted share from party {from} to party {to} failed to decrypt (tampered, replayed from another run or round, or misrouted)"
    )]
    Decryption {
        /// Claimed sender.
        from: PartyId,
        /// Receiver.
        to: PartyId,
    },
    /// Shamir reconstruction failed or gave a key that does not match the advertised one.
    #[error("reconstructing {whose} failed: {reason}")]
    Reconstruction {
        /// Whose secret.
        whose: String,
        /// Why.
        reason: &'static str,
    },
    /// A protocol step was called out of order (a programming error in the caller).
    #[error("{step} called out of order")]
    OutOfOrder {
        /// The step.
        step: &'static str,
    },
    /// A partition parameter out of range.
    #[error("invalid {what} for splitting data among parties: {value}")]
    BadPartition {
        /// The parameter.
        what: &'static str,
        /// The value given.
        value: f64,
    },
    /// Fewer examples than parties to split them among.
    #[error("cannot split {examples} examples among {parties} parties")]
    TooFewExamples {
        /// Examples.
        examples: usize,
        /// Parties.
        parties: usize,
    },
}
