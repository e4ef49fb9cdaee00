//! The server's seat: which model it broadcasts, and what it observes of a round.
//!
//! The roles follow breaching (Geiping et al., `cases/servers.py`): a server first *vets* the
//! model it sends out ([`Server::vet_model`]). The honest-but-curious server of gradient
//! inversion (Zhu, Liu & Han 2019, "Deep Leakage from Gradients"; Geiping, Bauermeister,
//! Dröge & Moeller 2020, "Inverting Gradients") sends the global model as it is and attacks
//! only what it receives. A malicious server (Fowl, Geiping, Czaja, Goldblum & Goldstein 2022,
//! "Robbing the Fed") changes the model — it plants an imprint layer — and keeps typed secrets
//! about what it planted ([`Server::Secrets`]); it comes with that attack.
//!
//! [`ObservedRound`] is everything the server has after a round, and the one value an attack
//! in its seat is handed: the broadcast model, the batch size the parties use (a standard
//! attacker assumption), what the protocol revealed ([`Revealed`]: every update under plain
//! aggregation, only their sum under additive sharing and SecAgg), the sum as the round
//! released it ([`ObservedRound::released`]), each party's raw upload and the decoder to read
//! one "as if it were a gradient", and the full transcript.
//!
//! # Which sum an attacker sees
//!
//! With [`SumNoise::Central`](crate::fl::SumNoise::Central) the round holds two sums, and who
//! sees which depends on who adds the noise:
//! - [`Revealed::Sum`]'s `sum` is the decoded sum *before* the central noise. A curious server
//!   that is itself the aggregator decoded it before adding its noise, so it knows it: an
//!   attack in that seat may use it, and central noise does not protect the parties from it.
//! - [`ObservedRound::released`] is the sum the round published and moved the model by, with
//!   the central noise. When a *trusted* aggregator adds the noise (DP-SGD on the aggregate
//!   against a malicious model-shaping server), this is all the server, and any attacker in
//!   its seat, may read: such an attack must take `released` and nothing computed before it.
//!
//! With distributed noise or none the two agree (distributed noise is inside the decoded sum,
//! which is what SecAgg reveals to anyone).

use crate::fl::PartyId;
use crate::fl::aggregation::ServerView;
use crate::fl::encoding::FixedPoint;
use crate::model::{Classifier, ModelDelta, ModelSnapshot};

/// The server's role before the parties compute: choose the model they receive.
pub trait Server {
    /// What vetting leaves the server knowing beyond the model itself, handed to the attack
    /// that needs it (an imprint layer's bins, say). `()` for an honest server.
    type Secrets;

    /// The model to broadcast this round, made from the global model, and the secrets of
    /// any change (breaching's `vet_model`).
    fn vet_model(&mut self, global: Classifier) -> (Classifier, Self::Secrets);
}

/// A server that follows the protocol: it broadcasts the global model unchanged (it may still
/// be curious about what it receives).
#[derive(Debug, Clone, Copy, Default)]
pub struct HonestServer;

impl Server for HonestServer {
    type Secrets = ();

    fn vet_model(&mut self, global: Classifier) -> (Classifier, ()) {
        (global, ())
    }
}

/// What the aggregation protocol let the server read, decoded to floats.
#[derive(Debug, Clone)]
pub enum Revealed {
    /// Plain aggregation: every contributing party's decoded update, sorted by party.
    Updates(Vec<(PartyId, ModelDelta)>),
    /// Additive sharing, SecAgg: only the decoded sum of the contributors' updates.
    ///
    /// With [`SumNoise::Central`](crate::fl::SumNoise::Central) this is the sum *before* the
    /// central noise: a server that adds that noise itself knows the sum without it. When a
    /// trusted aggregator adds it, the server sees [`ObservedRound::released`] instead.
    Sum {
        /// Σ of the contributors' updates (with any distributed noise).
        sum: ModelDelta,
        /// Whose updates are in it, sorted.
        contributors: Vec<PartyId>,
    },
}

/// Everything the server observed in one round: the attacker's view from the server's seat.
#[derive(Debug, Clone)]
pub struct ObservedRound {
    /// The model the parties received (the server's own broadcast).
    pub broadcast: ModelSnapshot,
    /// Examples per local batch: attacks on FedSGD assume the server knows it.
    pub batch_size: usize,
    /// The decoded updates, or only their sum (before any central noise).
    pub revealed: Revealed,
    /// The sum of the contributors' updates as the round published it and applied it to the
    /// model: with [`SumNoise::Central`](crate::fl::SumNoise::Central) the decoded sum plus
    /// the central noise, otherwise the decoded sum itself (under plain aggregation, the sum
    /// of the decoded updates as the protocol added them). The next global model is the
    /// broadcast one moved by this ÷ the number of contributors. What an attacker sees when a
    /// trusted aggregator, not the server, adds the central noise (see the module docs).
    pub released: ModelDelta,
    /// The fixed-point code the parties encoded with (public: the server chose it).
    pub code: FixedPoint,
    /// Every message the server received in the aggregation.
    pub transcript: ServerView<u32>,
}

impl ObservedRound {
    /// The ring words `party` uploaded, if they arrived: its encoded update (plain), its
    /// partial sum of shares (additive) or its masked input (SecAgg).
    pub fn upload(&self, party: PartyId) -> Option<&[u32]> {
        self.transcript.upload(party)
    }

    /// `party`'s upload decoded as if it were its update, laid out as the model. Under plain
    /// aggregation that is its update; under additive sharing and SecAgg the result looks
    /// like noise, which is the point of the protocols.
    pub fn decode_upload(&self, party: PartyId) -> Option<ModelDelta> {
        let words = self.upload(party)?;
        let layout = self.broadcast.layout().clone();
        Some(ModelDelta::new(layout, self.code.decode(words)))
    }

    /// `party`'s decoded update, when the protocol revealed it (plain aggregation only).
    pub fn update_of(&self, party: PartyId) -> Option<&ModelDelta> {
        match &self.revealed {
            Revealed::Updates(updates) => updates.iter().find(|(p, _)| *p == party).map(|(_, d)| d),
            Revealed::Sum { .. } => None,
        }
    }

    /// The parties whose update is in what was revealed, sorted.
    pub fn contributors(&self) -> Vec<PartyId> {
        match &self.revealed {
            Revealed::Updates(updates) => updates.iter().map(|(p, _)| *p).collect(),
            Revealed::Sum { contributors, .. } => contributors.clone(),
        }
    }
}
