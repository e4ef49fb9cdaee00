//! One interface for the three aggregation protocols: the parties' encoded inputs go in, the
//! revealed sum, the server's view, the traffic and the compute time come out.
//!
//! The three protocols differ only in what the server sees ([`ServerView`]): every input
//! (plain, the baseline of McMahan et al. 2017's FedAvg), n uniformly random partial sums
//! (additive sharing), or n masked vectors plus the shares it is entitled to (SecAgg,
//! Bonawitz et al. 2017). A round runs in up to four phases ([`Phase`], the rounds of
//! Bonawitz et al.'s Figure 4); [`Dropouts`] says which party goes silent from which phase on.

use std::collections::BTreeMap;
use std::time::Duration;

use chacha20::ChaCha20Rng;
use rand::SeedableRng;

use crate::fl::additive::{self, AdditiveView};
use crate::fl::plain::{self, PlainView};
use crate::fl::ring::RingWord;
use crate::fl::secagg::{self, SecAggParams, SecAggView, Session};
use crate::fl::traffic::Traffic;
use crate::fl::{PartyId, SecAggError};

/// Which protocol sums the parties' updates (`--aggregation`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregation {
    /// The server receives every party's update (no protection).
    Plain,
    /// n-of-n additive secret sharing: only the sum is revealed, no dropout tolerated.
    Additive,
    /// Bonawitz et al. 2017 pairwise masking: only the sum, up to n − t dropouts.
    #[default]
    #[serde(rename = "secagg")]
    #[value(name = "secagg")]
    SecAgg,
}

impl Aggregation {
    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Plain => "plain",
            Aggregation::Additive => "additive",
            Aggregation::SecAgg => "secagg",
        }
    }
}

/// The phases of a round. SecAgg uses all four; additive sharing uses `ShareKeys` (parties
/// exchange shares) and `MaskedInput` (parties upload partial sums); plain uses `MaskedInput`
/// (parties upload their inputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Round 0: parties advertise their public keys.
    AdvertiseKeys,
    /// Round 1: parties send encrypted Shamir shares (additive: the additive shares).
    ShareKeys,
    /// Round 2: parties send masked inputs (additive: partial sums; plain: inputs).
    MaskedInput,
    /// Round 3: parties send the shares the server needs to unmask.
    Unmask,
}

impl Phase {
    /// All four, in order.
    pub const ALL: [Phase; 4] = [
        Phase::AdvertiseKeys,
        Phase::ShareKeys,
        Phase::MaskedInput,
        Phase::Unmask,
    ];

    /// 0..4.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::AdvertiseKeys => "advertise-keys",
            Phase::ShareKeys => "share-keys",
            Phase::MaskedInput => "masked-input",
            Phase::Unmask => "unmask",
        })
    }
}

/// Which parties go silent, and from which phase on: a party silent from `ShareKeys` sent its
/// keys and then dropped out; one silent from `Unmask` sent its masked input and then dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dropouts {
    silent_from: BTreeMap<PartyId, Phase>,
}

impl Dropouts {
    /// Everyone stays.
    pub fn none() -> Self {
        Dropouts::default()
    }

    /// `party` sends nothing from `phase` on.
    pub fn silent_from(mut self, party: PartyId, phase: Phase) -> Self {
        self.silent_from.insert(party, phase);
        self
    }

    /// Every party in `parties` goes silent from `phase` on.
    pub fn all_silent_from(
        mut self,
        parties: impl IntoIterator<Item = PartyId>,
        phase: Phase,
    ) -> Self {
        for p in parties {
            self.silent_from.insert(p, phase);
        }
        self
    }

    /// Whether `party` still takes part in `phase`.
    pub fn active(&self, party: PartyId, phase: Phase) -> bool {
        self.silent_from
            .get(&party)
            .is_none_or(|&from| phase < from)
    }

    /// The first party (lowest id) silent at `phase`, if any, among `0..parties`.
    pub(crate) fn first_silent(&self, parties: usize, phase: Phase) -> Option<PartyId> {
        (0..parties).find(|&p| !self.active(p, phase))
    }
}

/// Compute time of a round, per phase: the clients' time summed over clients (each client
/// runs alone, as on its own device) and the server's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Timings {
    /// Σ over clients, per phase.
    pub client: [Duration; 4],
    /// The server, per phase.
    pub server: [Duration; 4],
}

impl Timings {
    /// Σ over phases of the clients' time.
    pub fn client_total(&self) -> Duration {
        self.client.iter().sum()
    }

    /// Σ over phases of the server's time.
    pub fn server_total(&self) -> Duration {
        self.server.iter().sum()
    }
}

/// What the server received in one round, per protocol: the value an attack on the
/// aggregation is handed.
#[derive(Debug, Clone)]
pub enum ServerView<W> {
    /// Every party's encoded input.
    Plain(PlainView<W>),
    /// Every party's partial sum of shares.
    Additive(AdditiveView<W>),
    /// Keys, ciphertexts, masked inputs and unmasking shares.
    SecAgg(SecAggView<W>),
}

impl<W> ServerView<W> {
    /// The ring words `party` sent at [`Phase::MaskedInput`], if they arrived: its encoded
    /// update (plain), its partial sum of everyone's shares (additive) or its masked input
    /// (SecAgg). What a server that wants one party's update starts from.
    pub fn upload(&self, party: PartyId) -> Option<&[W]> {
        match self {
            ServerView::Plain(v) => v
                .uploads
                .iter()
                .find(|u| u.from == party)
                .map(|u| u.masked.as_slice()),
            ServerView::Additive(v) => v
                .partial_sums
                .iter()
                .find(|p| p.from == party)
                .map(|p| p.sum.as_slice()),
            ServerView::SecAgg(v) => v
                .masked
                .iter()
                .find(|m| m.from == party)
                .map(|m| m.masked.as_slice()),
        }
    }

    /// The parties whose upload arrived, sorted.
    pub fn uploaders(&self) -> Vec<PartyId> {
        match self {
            ServerView::Plain(v) => v.uploads.iter().map(|u| u.from).collect(),
            ServerView::Additive(v) => v.partial_sums.iter().map(|p| p.from).collect(),
            ServerView::SecAgg(v) => v.masked.iter().map(|m| m.from).collect(),
        }
    }
}

/// The result of one aggregation round.
#[derive(Debug, Clone)]
pub struct RoundOutcome<W> {
    /// Σ of the contributors' encoded inputs, mod 2^k.
    pub sum: Vec<W>,
    /// Whose inputs are in `sum`, sorted (SecAgg: the parties whose masked input arrived).
    pub contributors: Vec<PartyId>,
    /// What the server received.
    pub view: ServerView<W>,
    /// Bytes per party and phase.
    pub traffic: Traffic,
    /// Compute time per phase.
    pub timings: Timings,
}

/// Runs one round of `aggregation` over the parties' encoded inputs (one per party, each of
/// `params.vector_len()` words). `seed` drives every party's randomness and the server's
/// (reproducible simulation); parties draw from disjoint ChaCha20 streams of it. Plain and
/// additive aggregation use only n and the vector length of `params`, not t or k
/// ([`SecAggParams::every_party`] makes such parameters, one party included). Additive sharing
/// and SecAgg re-check that `params` could run SecAgg (n ≥ 2 above all), because a secure sum
/// of one input is that input.
pub fn aggregate<W: RingWord>(
    aggregation: Aggregation,
    params: &SecAggParams,
    session: Session,
    inputs: Vec<Vec<W>>,
    dropouts: &Dropouts,
    seed: [u8; 32],
) -> Result<RoundOutcome<W>, SecAggError> {
    check_inputs(params, &inputs)?;
    if aggregation != Aggregation::Plain {
        params.check()?;
    }
    match aggregation {
        Aggregation::Plain => plain::run_round(params, inputs, dropouts),
        Aggregation::Additive => additive::run_round(params, inputs, dropouts, seed),
        Aggregation::SecAgg => secagg::run_round(params, session, inputs, dropouts, seed),
    }
}

fn check_inputs<W>(params: &SecAggParams, inputs: &[Vec<W>]) -> Result<(), SecAggError> {
    if inputs.len() != params.parties() {
        return Err(SecAggError::InputCount {
            expected: params.parties(),
            found: inputs.len(),
        });
    }
    for (party, x) in inputs.iter().enumerate() {
        if x.len() != params.vector_len() {
            return Err(SecAggError::LengthMismatch {
                party,
                expected: params.vector_len(),
                found: x.len(),
            });
        }
    }
    Ok(())
}

/// What a party's random stream is for; each (purpose, party) gets its own ChaCha20 stream.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    SecAggClient = 1,
    Graph = 2,
    AdditiveParty = 3,
    Encoding = 4,
    ServerNoise = 5,
}

/// Party `party`'s random stream for `purpose`, from the round seed. Simulation only: a
/// deployment draws every party's secrets from the operating system's CSPRNG on its own device.
pub(crate) fn party_rng(seed: &[u8; 32], purpose: Purpose, party: PartyId) -> ChaCha20Rng {
    let mut rng = ChaCha20Rng::from_seed(*seed);
    rng.set_stream(((purpose as u64) << 32) | party as u64);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aggregation_names_are_plain_additive_secagg() {
        use clap::ValueEnum;
        let names: Vec<String> = Aggregation::value_variants()
            .iter()
            .map(|a| a.to_possible_value().unwrap().get_name().to_string())
            .collect();
        assert_eq!(names, ["plain", "additive", "secagg"]);
        for a in Aggregation::value_variants() {
            assert_eq!(
                serde_json::to_string(a).unwrap(),
                format!("\"{}\"", a.as_str())
            );
        }
    }

    #[test]
    fn dropouts_silence_a_party_from_its_phase_on() {
        let d = Dropouts::none().silent_from(2, Phase::MaskedInput);
        assert!(d.active(2, Phase::ShareKeys));
        assert!(!d.active(2, Phase::MaskedInput) && !d.active(2, Phase::Unmask));
        assert!(d.active(1, Phase::Unmask));
        assert_eq!(d.first_silent(4, Phase::Unmask), Some(2));
        assert_eq!(d.first_silent(4, Phase::ShareKeys), None);
    }

    #[test]
    fn party_streams_differ_by_party_and_purpose() {
        use rand::Rng;
        let seed = [1; 32];
        let a = party_rng(&seed, Purpose::Encoding, 0).next_u64();
        assert_ne!(a, party_rng(&seed, Purpose::Encoding, 1).next_u64());
        assert_ne!(a, party_rng(&seed, Purpose::SecAggClient, 0).next_u64());
        assert_eq!(a, party_rng(&seed, Purpose::Encoding, 0).next_u64());
    }

    #[test]
    fn one_party_sums_in_plain_but_not_under_a_secure_protocol() {
        let params = SecAggParams::every_party(1, 2).unwrap();
        let s = Session::new([0; 16], 0);
        let run = |aggregation| {
            aggregate(
                aggregation,
                &params,
                s,
                vec![vec![3u32, 4]],
                &Dropouts::none(),
                [0; 32],
            )
            .map(|o| o.sum)
        };
        assert_eq!(run(Aggregation::Plain), Ok(vec![3, 4]));
        for secure in [Aggregation::Additive, Aggregation::SecAgg] {
            assert_eq!(
                run(secure),
                Err(SecAggError::TooFewParties { parties: 1 }),
                "{secure:?}"
            );
        }
    }

    #[test]
    fn inputs_of_the_wrong_count_or_length_are_refused() {
        let params = SecAggParams::new(3, 2, 4).unwrap();
        let s = Session::new([0; 16], 0);
        let run = |inputs: Vec<Vec<u32>>| {
            aggregate(
                Aggregation::Plain,
                &params,
                s,
                inputs,
                &Dropouts::none(),
                [0; 32],
            )
            .map(|o| o.sum)
        };
        assert_eq!(
            run(vec![vec![0; 4]; 2]),
            Err(SecAggError::InputCount {
                expected: 3,
                found: 2
            })
        );
        assert_eq!(
            run(vec![vec![0; 4], vec![0; 5], vec![0; 4]]),
            Err(SecAggError::LengthMismatch {
                party: 1,
                expected: 4,
                found: 5
            })
        );
    }

    #[test]
    fn each_protocol_names_the_upload_a_party_sent() {
        let params = SecAggParams::new(3, 2, 2).unwrap();
        let inputs = vec![vec![1u32, 2], vec![10, 20], vec![100, 200]];
        let dropouts = Dropouts::none().silent_from(2, Phase::MaskedInput);
        let s = Session::new([0; 16], 0);
        let plain = aggregate(
            Aggregation::Plain,
            &params,
            s,
            inputs.clone(),
            &dropouts,
            [0; 32],
        );
        let view = plain.unwrap().view;
        assert_eq!(view.upload(1), Some(&[10u32, 20][..]));
        assert_eq!((view.upload(2), view.uploaders()), (None, vec![0, 1]));
        let secagg = aggregate(
            Aggregation::SecAgg,
            &params,
            s,
            inputs.clone(),
            &dropouts,
            [0; 32],
        );
        let view = secagg.unwrap().view;
        // The masked input is there, and it is not the input.
        let masked = view.upload(1).expect("party 1 sent its masked input");
        assert_ne!(masked, inputs[1].as_slice());
        assert_eq!(view.uploaders(), vec![0, 1]);
        let everyone = aggregate(
            Aggregation::Additive,
            &params,
            s,
            inputs,
            &Dropouts::none(),
            [0; 32],
        );
        let view = everyone.unwrap().view;
        assert_eq!(view.uploaders(), vec![0, 1, 2]);
        assert!(view.upload(0).is_some());
    }
}
