//! The SecAgg server: routes messages, tracks who is still there (U1 ⊇ U2 ⊇ U3 ⊇ U4 in
//! Bonawitz et al. 2017's notation) and, in the end, removes the masks.
//!
//! Everything the server receives is appended to its [`SecAggView`], and the unmasking reads
//! its inputs from that view only, so the view is exactly the information the sum was
//! computed from (and what an attacker controlling the server would have). Below t parties at
//! any phase the round aborts with [`ProtocolAbort::TooFewSurvivors`] before anything is
//! unmasked.

use std::collections::BTreeSet;

use rayon::prelude::*;

use crate::fl::aggregation::Phase;
use crate::fl::prg::{self, MaskSeed, Sign};
use crate::fl::ring::RingWord;
use crate::fl::secagg::graph::NeighbourGraph;
use crate::fl::secagg::keys::{self, ShareableSecret};
use crate::fl::secagg::messages::{
    AdvertiseKeys, EncryptedShares, KeyRoster, MaskedInput, UnmaskRequest, UnmaskResponse,
};
use crate::fl::secagg::shamir::{self, ShareValue};
use crate::fl::secagg::{SecAggParams, Session};
use crate::fl::{PartyId, ProtocolAbort, SecAggError};

/// Everything the server received (and the graph it chose) in one round.
#[derive(Debug, Clone)]
pub struct SecAggView<W> {
    /// The run and round.
    pub session: Session,
    /// The masking graph.
    pub graph: NeighbourGraph,
    /// Round 0: the advertised public keys, sorted by party.
    pub advertised: Vec<AdvertiseKeys>,
    /// Round 1: every encrypted share routed (the server cannot open them).
    pub shares: Vec<EncryptedShares>,
    /// Round 2: the masked inputs, sorted by party.
    pub masked: Vec<MaskedInput<W>>,
    /// Round 3: the unmasking requests it sent, per party.
    pub requests: Vec<(PartyId, UnmaskRequest)>,
    /// Round 3: the shares it received.
    pub responses: Vec<UnmaskResponse>,
}

/// The server of one SecAgg round.
#[derive(Debug)]
pub struct SecAggServer<W> {
    params: SecAggParams,
    view: SecAggView<W>,
    /// U1 (advertised), U2 (shared keys), U3 (sent masked input), sorted.
    u1: Vec<PartyId>,
    u2: Vec<PartyId>,
    u3: Vec<PartyId>,
    next: Phase,
    done: bool,
}

impl<W: RingWord> SecAggServer<W> {
    /// A server for `params` and `session`, masking along `graph`.
    pub fn new(params: SecAggParams, session: Session, graph: NeighbourGraph) -> Self {
        SecAggServer {
            params,
            view: SecAggView {
                session,
                graph,
                advertised: Vec::new(),
                shares: Vec::new(),
                masked: Vec::new(),
                requests: Vec::new(),
                responses: Vec::new(),
            },
            u1: Vec::new(),
            u2: Vec::new(),
            u3: Vec::new(),
            next: Phase::AdvertiseKeys,
            done: false,
        }
    }

    fn step(&mut self, phase: Phase, name: &'static str) -> Result<(), SecAggError> {
        if self.next != phase || self.done {
            return Err(ProtocolAbort::OutOfOrder { step: name }.into());
        }
        if let Some(&following) = Phase::ALL.get(phase.index() + 1) {
            self.next = following;
        } else {
            self.done = true;
        }
        Ok(())
    }

    fn enough(&self, phase: Phase, alive: usize) -> Result<(), SecAggError> {
        let threshold = self.params.threshold();
        if alive < threshold {
            return Err(ProtocolAbort::TooFewSurvivors {
                phase,
                alive,
                threshold,
            }
            .into());
        }
        Ok(())
    }

    /// Round 0 → 1: records the keys (U1) and returns each party's roster: the keys of its
    /// neighbourhood within U1.
    pub fn collect_keys(
        &mut self,
        mut messages: Vec<AdvertiseKeys>,
    ) -> Result<Vec<(PartyId, KeyRoster)>, SecAggError> {
        self.step(Phase::AdvertiseKeys, "collect_keys")?;
        messages.retain(|m| m.from < self.params.parties());
        messages.sort_by_key(|m| m.from);
        messages.dedup_by_key(|m| m.from);
        self.u1 = messages.iter().map(|m| m.from).collect();
        self.view.advertised = messages;
        self.enough(Phase::AdvertiseKeys, self.u1.len())?;
        let graph = &self.view.graph;
        Ok(self
            .u1
            .iter()
            .map(|&u| {
                let entries = self
                    .view
                    .advertised
                    .iter()
                    .filter(|e| e.from == u || graph.joined(u, e.from))
                    .copied()
                    .collect();
                (u, KeyRoster { entries })
            })
            .collect())
    }

    /// Round 1 → 2: records who sent shares (U2) and routes each ciphertext to its receiver,
    /// keeping only those between members of U2.
    pub fn route_shares(
        &mut self,
        messages: Vec<(PartyId, Vec<EncryptedShares>)>,
    ) -> Result<Vec<(PartyId, Vec<EncryptedShares>)>, SecAggError> {
        self.step(Phase::ShareKeys, "route_shares")?;
        let u1: BTreeSet<PartyId> = self.u1.iter().copied().collect();
        let mut u2 = BTreeSet::new();
        for (sender, batch) in messages {
            if !u1.contains(&sender) {
                continue;
            }
            u2.insert(sender);
            self.view.shares.extend(
                batch
                    .into_iter()
                    .filter(|m| m.from == sender && u1.contains(&m.to)),
            );
        }
        self.u2 = u2.iter().copied().collect();
        self.enough(Phase::ShareKeys, self.u2.len())?;
        let mut inboxes: Vec<(PartyId, Vec<EncryptedShares>)> =
            self.u2.iter().map(|&v| (v, Vec::new())).collect();
        for m in &self.view.shares {
            if u2.contains(&m.from)
                && let Ok(at) = self.u2.binary_search(&m.to)
            {
                inboxes[at].1.push(m.clone());
            }
        }
        Ok(inboxes)
    }

    /// Round 2 → 3: records the masked inputs (U3) and asks each member of U3 for the shares
    /// of its neighbourhood: of b for survivors, of s_sk for parties of U2 \ U3.
    pub fn collect_masked(
        &mut self,
        mut messages: Vec<MaskedInput<W>>,
    ) -> Result<Vec<(PartyId, UnmaskRequest)>, SecAggError> {
        self.step(Phase::MaskedInput, "collect_masked")?;
        messages.retain(|m| self.u2.binary_search(&m.from).is_ok());
        messages.sort_by_key(|m| m.from);
        messages.dedup_by_key(|m| m.from);
        if let Some(bad) = messages
            .iter()
            .find(|m| m.masked.len() != self.params.vector_len())
        {
            return Err(SecAggError::LengthMismatch {
                party: bad.from,
                expected: self.params.vector_len(),
                found: bad.masked.len(),
            });
        }
        self.u3 = messages.iter().map(|m| m.from).collect();
        self.view.masked = messages;
        self.enough(Phase::MaskedInput, self.u3.len())?;
        let graph = &self.view.graph;
        let hood = |u: PartyId, set: &[PartyId]| -> Vec<PartyId> {
            set.iter()
                .copied()
                .filter(|&v| v == u || graph.joined(u, v))
                .collect()
        };
        let dropped: Vec<PartyId> = self
            .u2
            .iter()
            .copied()
            .filter(|v| self.u3.binary_search(v).is_err())
            .collect();
        self.view.requests = self
            .u3
            .iter()
            .map(|&u| {
                (
                    u,
                    UnmaskRequest {
                        survivors: hood(u, &self.u3),
                        dropped: hood(u, &dropped),
                    },
                )
            })
            .collect();
        Ok(self.view.requests.clone())
    }

    /// Round 3: records the responses (U4), rebuilds each survivor's self-mask seed and each
    /// dropped party's mask key from t shares, and returns Σ_{u∈U3} x_u.
    pub fn unmask(&mut self, responses: Vec<UnmaskResponse>) -> Result<Vec<W>, SecAggError> {
        self.step(Phase::Unmask, "unmask")?;
        let mut responses: Vec<UnmaskResponse> = responses
            .into_iter()
            .filter(|r| self.u3.binary_search(&r.from).is_ok())
            .collect();
        responses.sort_by_key(|r| r.from);
        responses.dedup_by_key(|r| r.from);
        self.view.responses = responses;
        self.enough(Phase::Unmask, self.view.responses.len())?;
        let masks = self.rebuild_masks()?;
        let view = &self.view;
        let addends: Vec<&[W]> = view.masked.iter().map(|m| m.masked.as_slice()).collect();
        let masks: Vec<(&MaskSeed, Sign)> = masks.iter().map(|(s, sign)| (s, *sign)).collect();
        let mut sum = vec![W::ZERO; self.params.vector_len()];
        prg::accumulate(&mut sum, &addends, &masks);
        Ok(sum)
    }

    /// The masks to apply to Σ y_u: −PRG(b_u) for every survivor u, and for every dropped v
    /// and surviving neighbour u, the opposite of the pair mask u added.
    fn rebuild_masks(&self) -> Result<Vec<(MaskSeed, Sign)>, SecAggError> {
        let view = &self.view;
        let session = view.session;
        let threshold = self.params.threshold();
        let shares_of = |owner: PartyId, pick: fn(&UnmaskResponse) -> &[(PartyId, ShareValue)]| {
            view.responses
                .iter()
                .filter_map(move |r| {
                    pick(r)
                        .iter()
                        .find(|(o, _)| *o == owner)
                        .map(|(_, s)| (r.from, s))
                })
                .collect::<Vec<(PartyId, &ShareValue)>>()
        };
        let self_masks = self.u3.par_iter().map(|&u| {
            let shares = shares_of(u, |r| &r.self_seed_shares);
            let b = shamir::combine(&shares, threshold, || format!("party {u}'s self-mask seed"))?;
            Ok(vec![(keys::self_mask_seed(&b, &session, u), Sign::Minus)])
        });
        let dropped: Vec<PartyId> = self
            .u2
            .iter()
            .copied()
            .filter(|v| self.u3.binary_search(v).is_err())
            .collect();
        let pair_masks = dropped.par_iter().map(|&v| {
            let whose = || format!("party {v}'s mask key");
            let shares = shares_of(v, |r| &r.mask_key_shares);
            let secret: ShareableSecret = shamir::combine(&shares, threshold, whose)?;
            let advertised = self.advertised(v).expect("U2 ⊆ U1").keys.masking;
            if secret.public_key() != advertised {
                return Err(ProtocolAbort::Reconstruction {
                    whose: whose(),
                    reason: "the rebuilt key does not match the advertised public key",
                }
                .into());
            }
            let x_secret = secret.x25519_secret();
            self.u3
                .iter()
                .filter(|&&u| view.graph.joined(u, v))
                .map(|&u| {
                    let pk = self.advertised(u).expect("U3 ⊆ U1").keys.masking;
                    let shared = keys::agree(&x_secret, &pk, u)?;
                    // u added +PRG(s_uv) if v > u, −PRG(s_uv) otherwise: undo it.
                    let sign = if v > u { Sign::Minus } else { Sign::Plus };
                    Ok((keys::pair_mask_seed(&shared, &session, u, v), sign))
                })
                .collect::<Result<Vec<_>, SecAggError>>()
        });
        let lists: Vec<Vec<(MaskSeed, Sign)>> = self_masks
            .chain(pair_masks)
            .collect::<Result<_, SecAggError>>()?;
        Ok(lists.into_iter().flatten().collect())
    }

    fn advertised(&self, party: PartyId) -> Option<&AdvertiseKeys> {
        let at = self
            .view
            .advertised
            .binary_search_by_key(&party, |e| e.from)
            .ok()?;
        Some(&self.view.advertised[at])
    }

    /// The parties whose inputs are in the sum (U3).
    pub fn contributors(&self) -> &[PartyId] {
        &self.u3
    }

    /// What the server received so far.
    pub fn view(&self) -> &SecAggView<W> {
        &self.view
    }

    /// Ends the round, handing over the view.
    pub fn into_view(self) -> SecAggView<W> {
        self.view
    }
}
