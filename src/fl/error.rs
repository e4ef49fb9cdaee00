//! Why federated learning stops, in two kinds that exit differently (see `crate::Error`):
//!
//! - [`SecAggError`]: settings that cannot work (a threshold t ≤ n/2, a clipping range the
//!   fixed-point code cannot carry, more shards than examples, …). The user fixes the config;
//!   exit code 2. Nothing has run yet, or nothing that matters.
//! - [`ProtocolAbort`]: a round that started and had to stop, as the protocol prescribes
//!   (Bonawitz et al. 2017 §4: fewer than t survivors, a share that fails to authenticate, a
//!   server message an honest server never sends; n-of-n additive sharing with one party
//!   missing). The settings were valid; the run was not lucky, or the network not honest:
//!   exit code 1, with the reason. It travels inside [`SecAggError::Aborted`], so a protocol
//!   step has one error type and the kind is still a type, not a message to match.

use super::aggregation::Phase;
use super::{PartyId, count, encoding};

/// Why a federated round could not be set up (configuration), or, as
/// [`SecAggError::Aborted`], why a running round stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SecAggError {
    /// No parties at all.
    #[error("an aggregation round needs at least one party (got 0)")]
    NoParties,
    /// Secure aggregation of fewer than two parties would reveal the single input.
    #[error(
        "secure aggregation needs at least 2 parties (got {parties}): with one party the sum it reveals is that party's update, so it hides nothing"
    )]
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
        "neighbours = {neighbours} is invalid for {}: it must be even, at least 2 and below the number of parties",
        count(*parties, "party", "parties")
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
        "no headroom: {} × {max_abs} (range × scale, plus noise margin) exceeds the largest value of a {bits}-bit ring ({limit}); lower the scale or use 64-bit words",
        count(*parties, "party", "parties")
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
    #[error("DP noise needs a positive finite {what} (got {value})")]
    BadNoise {
        /// The parameter.
        what: &'static str,
        /// The value given.
        value: f64,
    },
    /// A partition parameter out of range, named by its config key (`partition.per_party`,
    /// `partition.alpha`) since that is where the user sets it.
    #[error("invalid {what} = {value}: {reason}")]
    BadPartition {
        /// The config key.
        what: &'static str,
        /// The value given, as written.
        value: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// More label shards asked for than there are examples to cut them from.
    #[error(
        "{} × partition.per_party = {per_party} = {} label shards, but only {} to cut them from; lower partition.per_party or parties",
        count(*parties, "party", "parties"),
        (*parties as u128) * (*per_party as u128),
        count(*examples, "training example", "training examples")
    )]
    TooFewForShards {
        /// Examples.
        examples: usize,
        /// Parties.
        parties: usize,
        /// Shards per party.
        per_party: usize,
    },
    /// A clipping range so small that the fixed-point step would leave what an f32 update can
    /// hold (at the extreme the scale is infinite).
    #[error(
        "clip_range = {range:e} is too small for the fixed-point encoding into Z_2^{bits} with headroom for {}: its step, clip_range / {units} units = {:.3e}, is below the smallest normal f32 ({:.3e}), so the scale ({:.3e} units per 1.0) is beyond what the f32 updates resolve; the usable clip_range is {:.3e} to {:.3e}",
        count(*parties, "party", "parties"),
        range / *units as f64,
        encoding::MIN_UPDATE_STEP,
        *units as f64 / range,
        encoding::MIN_UPDATE_STEP * *units as f64,
        encoding::MAX_UPDATE_STEP * *units as f64
    )]
    ClipRangeTooSmall {
        /// The clipping range.
        range: f64,
        /// n.
        parties: usize,
        /// Ring size in bits.
        bits: u32,
        /// Integer units one party's code has for the whole range (headroom for n included).
        units: u64,
    },
    /// A clipping range so large that the step exceeds [`encoding::MAX_UPDATE_STEP`]: the
    /// small coordinates of a model update would round to 0 or ±step, and nothing is learnt.
    #[error(
        "clip_range = {range:e} is too large for the fixed-point encoding into Z_2^{bits} with headroom for {}: its step, clip_range / {units} units = {:.3e}, exceeds {}, so stochastic rounding turns the coordinates of a model update (far below 1) into 0 or ±step and the run trains on rounding noise; the usable clip_range is {:.3e} to {:.3e}",
        count(*parties, "party", "parties"),
        range / *units as f64,
        encoding::MAX_UPDATE_STEP,
        encoding::MIN_UPDATE_STEP * *units as f64,
        encoding::MAX_UPDATE_STEP * *units as f64
    )]
    ClipRangeTooLarge {
        /// The clipping range.
        range: f64,
        /// n.
        parties: usize,
        /// Ring size in bits.
        bits: u32,
        /// Integer units one party's code has for the whole range (headroom for n included).
        units: u64,
    },
    /// Fewer examples than parties to split them among.
    #[error(
        "cannot split {} among {}",
        count(*examples, "example", "examples"),
        count(*parties, "party", "parties")
    )]
    TooFewExamples {
        /// Examples.
        examples: usize,
        /// Parties.
        parties: usize,
    },
    /// A per-example clipping bound that is not a positive finite number.
    #[error(
        "max_grad_norm must be a positive finite number (got {value}); it bounds each example's gradient norm"
    )]
    BadMaxGradNorm {
        /// The value given.
        value: f64,
    },
    /// A local noise level that is not a positive finite number.
    #[error("local_noise must be a positive finite standard deviation (got {value})")]
    BadLocalNoise {
        /// The value given.
        value: f64,
    },
    /// Poisson sampling with FedAvg. Each local step would need its own Poisson batch, and
    /// what a party contributes to the sum is the whole local model change, whose sensitivity
    /// to one example is not the C/B of one Poisson FedSGD step, so the σ·C/B noise would not
    /// be sized for it: refused rather than run with an accounting that does not hold.
    #[error(
        "sampling = \"poisson\" is for algorithm = \"fed-sgd\" only: FedAvg's local steps change the model by more than one Poisson step's C/B per example, so the DP noise would not cover them; use fed-sgd, or sampling = \"fixed\""
    )]
    PoissonFedAvg,
    /// Poisson sampling with an expected batch of 0: the update is divided by it.
    #[error(
        "sampling = \"poisson\" needs batch_size ≥ 1: it is the expected batch size, which every update is divided by"
    )]
    PoissonZeroBatch,
    /// The round started and aborted (not a configuration error).
    #[error(transparent)]
    Aborted(#[from] ProtocolAbort),
}

/// Why a round that was correctly set up stopped before revealing a sum.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtocolAbort {
    /// Fewer than t parties are left: the round aborts without revealing anything.
    #[error(
        "only {} left at {phase}, below the threshold t = {threshold}: the round is aborted",
        count(*alive, "party", "parties")
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
    #[error(
        "only {} of {whose} secret, below the threshold t = {threshold}",
        count(*have, "share", "shares")
    )]
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
    /// A NaN cannot be encoded.
    #[error("coordinate {index} of the update is NaN; it cannot be encoded")]
    NonFinite {
        /// Its index.
        index: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_in_messages_agree_with_their_noun() {
        assert_eq!(count(1, "party", "parties"), "1 party");
        assert_eq!(count(0, "party", "parties"), "0 parties");
        let abort = ProtocolAbort::TooFewSurvivors {
            phase: Phase::MaskedInput,
            alive: 1,
            threshold: 2,
        };
        // It used to read "only 1 parties left".
        assert_eq!(
            abort.to_string(),
            "only 1 party left at masked-input, below the threshold t = 2: the round is aborted"
        );
        let shares = ProtocolAbort::TooFewShares {
            have: 1,
            threshold: 2,
            whose: "party 3's".into(),
        };
        assert!(
            shares
                .to_string()
                .starts_with("only 1 share of party 3's secret")
        );
        let split = SecAggError::TooFewExamples {
            examples: 1,
            parties: 2,
        };
        assert_eq!(split.to_string(), "cannot split 1 example among 2 parties");
        let headroom = SecAggError::Headroom {
            parties: 1,
            max_abs: 5,
            bits: 32,
            limit: 4,
        };
        assert!(headroom.to_string().starts_with("no headroom: 1 party × 5"));
        // An abort inside SecAggError keeps its own message.
        let wrapped = SecAggError::from(abort);
        assert!(wrapped.to_string().starts_with("only 1 party left"));
    }
}
