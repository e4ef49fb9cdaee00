//! Textbook n-of-n additive secret sharing over Z_{2^k} (e.g. Cramer, Damgård & Nielsen 2015,
//! "Secure Multiparty Computation and Secret Sharing", §3.2; the aggregation of Bonawitz et
//! al. 2017 §2 before dropouts are considered).
//!
//! Party u splits x_u into n shares r_{u,1}, …, r_{u,n}: n − 1 uniformly random vectors and
//! r_{u,u} = x_u − Σ_{v≠u} r_{u,v}. It sends r_{u,v} to party v over a private channel (not
//! through the server), adds up the shares it holds, and uploads only that partial sum
//! p_v = Σ_u r_{u,v}. The server's Σ_v p_v = Σ_u x_u; any n − 1 partial sums are uniform, so
//! the server learns the sum and nothing else. Every share is needed: one missing party aborts
//! the round. Random shares are ChaCha20 keystreams of fresh seeds ([`crate::fl::prg`]),
//! sent expanded, as the textbook protocol sends ring vectors.

use std::time::Instant;

use chacha20::ChaCha20Rng;

use crate::fl::aggregation::{
    Dropouts, Phase, Purpose, RoundOutcome, ServerView, Timings, party_rng,
};
use crate::fl::prg::{self, MaskSeed, Sign};
use crate::fl::ring::RingWord;
use crate::fl::secagg::SecAggParams;
use crate::fl::traffic::Traffic;
use crate::fl::{PartyId, ProtocolAbort, SecAggError};

/// Party → party (private channel): one additive share.
#[derive(Clone, PartialEq, Eq)]
pub struct AdditiveShare<W> {
    /// The sender.
    pub from: PartyId,
    /// The receiver.
    pub to: PartyId,
    /// r_{from,to}.
    pub share: Vec<W>,
}

impl<W: RingWord> AdditiveShare<W> {
    /// Serialised size.
    pub fn wire_bytes(&self) -> u64 {
        8 + (self.share.len() * W::BYTES) as u64
    }
}

/// Party → server: the sum of the shares a party holds.
#[derive(Clone, PartialEq, Eq)]
pub struct PartialSum<W> {
    /// The sender.
    pub from: PartyId,
    /// p_from = Σ_u r_{u,from}.
    pub sum: Vec<W>,
}

impl<W: RingWord> PartialSum<W> {
    /// Serialised size.
    pub fn wire_bytes(&self) -> u64 {
        8 + (self.sum.len() * W::BYTES) as u64
    }
}

impl<W> std::fmt::Debug for PartialSum<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartialSum")
            .field("from", &self.from)
            .field("len", &self.sum.len())
            .finish_non_exhaustive()
    }
}

/// What the server received: one partial sum per party.
#[derive(Debug, Clone)]
pub struct AdditiveView<W> {
    /// Sorted by party.
    pub partial_sums: Vec<PartialSum<W>>,
}

/// One party of the additive protocol. It holds x_u, then its own share r_{u,u}, and adds the
/// shares it receives into the same buffer (addition commutes, so the order in which it
/// shares and receives does not matter): after the exchange the buffer is p_u.
pub struct AdditiveParty<W> {
    id: PartyId,
    parties: usize,
    buffer: Vec<W>,
    received: Vec<bool>,
    rng: ChaCha20Rng,
    shared: bool,
}

impl<W: RingWord> AdditiveParty<W> {
    /// Party `id` of `parties`, with its encoded input.
    pub fn new(id: PartyId, parties: usize, input: Vec<W>, rng: ChaCha20Rng) -> Self {
        let mut received = vec![false; parties];
        received[id] = true;
        AdditiveParty {
            id,
            parties,
            buffer: input,
            received,
            rng,
            shared: false,
        }
    }

    /// This party's id.
    pub fn id(&self) -> PartyId {
        self.id
    }

    /// Splits the input: returns the n − 1 shares for the other parties, keeps its own.
    pub fn share(&mut self) -> Result<Vec<AdditiveShare<W>>, SecAggError> {
        if self.shared {
            return Err(ProtocolAbort::OutOfOrder {
                step: "additive share",
            }
            .into());
        }
        self.shared = true;
        let others: Vec<PartyId> = (0..self.parties).filter(|&v| v != self.id).collect();
        let seeds: Vec<MaskSeed> = others
            .iter()
            .map(|_| MaskSeed::random(&mut self.rng))
            .collect();
        let minus: Vec<(&MaskSeed, Sign)> = seeds.iter().map(|s| (s, Sign::Minus)).collect();
        prg::accumulate(&mut self.buffer, &[], &minus);
        let len = self.buffer.len();
        Ok(others
            .iter()
            .zip(&seeds)
            .map(|(&to, seed)| AdditiveShare {
                from: self.id,
                to,
                share: prg::expand(seed, len),
            })
            .collect())
    }

    /// Adds a share sent to this party.
    pub fn receive(&mut self, share: &AdditiveShare<W>) -> Result<(), SecAggError> {
        if share.to != self.id || share.from >= self.parties || self.received[share.from] {
            return Err(ProtocolAbort::OutOfOrder {
                step: "additive receive (misrouted or repeated share)",
            }
            .into());
        }
        if share.share.len() != self.buffer.len() {
            return Err(SecAggError::LengthMismatch {
                party: share.from,
                expected: self.buffer.len(),
                found: share.share.len(),
            });
        }
        self.received[share.from] = true;
        prg::accumulate(&mut self.buffer, &[&share.share], &[]);
        Ok(())
    }

    /// Uploads p_u once every other party's share has arrived; a missing one aborts.
    pub fn reveal(&mut self) -> Result<PartialSum<W>, SecAggError> {
        if !self.shared {
            return Err(ProtocolAbort::OutOfOrder {
                step: "additive reveal",
            }
            .into());
        }
        if let Some(party) = self.received.iter().position(|&r| !r) {
            return Err(ProtocolAbort::PartyMissing {
                party,
                phase: Phase::ShareKeys,
            }
            .into());
        }
        Ok(PartialSum {
            from: self.id,
            sum: std::mem::take(&mut self.buffer),
        })
    }
}

/// Runs one additive round; any silent party aborts it with [`ProtocolAbort::PartyMissing`].
pub(crate) fn run_round<W: RingWord>(
    params: &SecAggParams,
    inputs: Vec<Vec<W>>,
    dropouts: &Dropouts,
    seed: [u8; 32],
) -> Result<RoundOutcome<W>, SecAggError> {
    let n = params.parties();
    let mut traffic = Traffic::new(n);
    let mut timings = Timings::default();
    let mut parties: Vec<AdditiveParty<W>> = inputs
        .into_iter()
        .enumerate()
        .map(|(u, x)| AdditiveParty::new(u, n, x, party_rng(&seed, Purpose::AdditiveParty, u)))
        .collect();

    // Share exchange: each party's shares are delivered (and added) before the next party
    // splits its input, so only one party's shares are ever in flight.
    let phase = Phase::ShareKeys;
    for u in (0..n).filter(|&u| dropouts.active(u, phase)) {
        let start = Instant::now();
        let shares = parties[u].share()?;
        timings.client[phase.index()] += start.elapsed();
        for s in shares {
            traffic.direct(s.from, s.to, phase, s.wire_bytes());
            let start = Instant::now();
            parties[s.to].receive(&s)?;
            timings.client[phase.index()] += start.elapsed();
        }
    }

    // Each party reveals the sum of the shares it holds.
    let phase = Phase::MaskedInput;
    let mut partial_sums = Vec::with_capacity(n);
    for party in parties.iter_mut().filter(|p| dropouts.active(p.id, phase)) {
        let start = Instant::now();
        let p = party.reveal()?;
        timings.client[phase.index()] += start.elapsed();
        traffic.upload(p.from, phase, p.wire_bytes());
        partial_sums.push(p);
    }
    drop(parties);

    // The server needs every partial sum.
    let start = Instant::now();
    if let Some(party) = dropouts.first_silent(n, phase) {
        return Err(ProtocolAbort::PartyMissing { party, phase }.into());
    }
    let mut sum = vec![W::ZERO; params.vector_len()];
    let addends: Vec<&[W]> = partial_sums.iter().map(|p| p.sum.as_slice()).collect();
    prg::accumulate(&mut sum, &addends, &[]);
    timings.server[phase.index()] = start.elapsed();
    Ok(RoundOutcome {
        sum,
        contributors: (0..n).collect(),
        view: ServerView::Additive(AdditiveView { partial_sums }),
        traffic,
        timings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fl::ring::plain_sum;

    fn inputs(n: usize, len: usize) -> Vec<Vec<u32>> {
        (0..n)
            .map(|u| (0..len).map(|i| (u * 1000 + i) as u32).collect())
            .collect()
    }

    #[test]
    fn the_partial_sums_add_up_to_the_sum_of_inputs() {
        let params = SecAggParams::new(4, 3, 5000).unwrap();
        let x = inputs(4, 5000);
        let refs: Vec<&[u32]> = x.iter().map(|v| v.as_slice()).collect();
        let expected = plain_sum(&refs);
        let out = run_round(&params, x.clone(), &Dropouts::none(), [3; 32]).unwrap();
        assert_eq!(out.sum, expected);
        let ServerView::Additive(view) = out.view else {
            panic!("additive view")
        };
        // No partial sum is any party's input.
        for p in &view.partial_sums {
            assert!(x.iter().all(|xi| *xi != p.sum));
        }
    }

    #[test]
    fn a_missing_party_aborts_the_round() {
        let params = SecAggParams::new(4, 3, 10).unwrap();
        let early = Dropouts::none().silent_from(2, Phase::ShareKeys);
        assert_eq!(
            run_round(&params, inputs(4, 10), &early, [0; 32]).map(|o| o.sum),
            Err(SecAggError::Aborted(ProtocolAbort::PartyMissing {
                party: 2,
                phase: Phase::ShareKeys
            }))
        );
        let late = Dropouts::none().silent_from(3, Phase::MaskedInput);
        assert_eq!(
            run_round(&params, inputs(4, 10), &late, [0; 32]).map(|o| o.sum),
            Err(SecAggError::Aborted(ProtocolAbort::PartyMissing {
                party: 3,
                phase: Phase::MaskedInput
            }))
        );
    }
}
