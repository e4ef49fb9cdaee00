//! Bytes on the (simulated) wire, per party and per protocol phase.
//!
//! Communication is the cost Bonawitz et al. 2017 (§6, Table 1) and Bell et al. 2020 optimise,
//! so every message a party sends or receives is counted at its serialised size (party ids as 4
//! bytes, keys as 32, ring words at their width, ciphertexts with their tag).

use crate::fl::PartyId;
use crate::fl::aggregation::Phase;

/// Bytes sent and received by each party and by the server, per phase.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    sent: Vec<[u64; 4]>,
    received: Vec<[u64; 4]>,
    server_sent: [u64; 4],
    server_received: [u64; 4],
}

impl Traffic {
    /// No bytes yet, for `parties` parties.
    pub fn new(parties: usize) -> Self {
        Traffic {
            sent: vec![[0; 4]; parties],
            received: vec![[0; 4]; parties],
            server_sent: [0; 4],
            server_received: [0; 4],
        }
    }

    /// A party sends `bytes` to the server.
    pub(crate) fn upload(&mut self, from: PartyId, phase: Phase, bytes: u64) {
        self.sent[from][phase.index()] += bytes;
        self.server_received[phase.index()] += bytes;
    }

    /// The server sends `bytes` to a party.
    pub(crate) fn download(&mut self, to: PartyId, phase: Phase, bytes: u64) {
        self.received[to][phase.index()] += bytes;
        self.server_sent[phase.index()] += bytes;
    }

    /// One party sends `bytes` straight to another (a private channel the server does not see).
    pub(crate) fn direct(&mut self, from: PartyId, to: PartyId, phase: Phase, bytes: u64) {
        self.sent[from][phase.index()] += bytes;
        self.received[to][phase.index()] += bytes;
    }

    /// Number of parties.
    pub fn parties(&self) -> usize {
        self.sent.len()
    }

    /// Bytes `party` sent in `phase`.
    pub fn sent(&self, party: PartyId, phase: Phase) -> u64 {
        self.sent[party][phase.index()]
    }

    /// Bytes `party` received in `phase`.
    pub fn received(&self, party: PartyId, phase: Phase) -> u64 {
        self.received[party][phase.index()]
    }

    /// Bytes `party` sent plus received over the whole round.
    pub fn party_total(&self, party: PartyId) -> u64 {
        self.sent[party].iter().sum::<u64>() + self.received[party].iter().sum::<u64>()
    }

    /// The mean over parties of [`Traffic::party_total`].
    pub fn mean_party_total(&self) -> f64 {
        let n = self.parties().max(1) as f64;
        (0..self.parties())
            .map(|p| self.party_total(p) as f64)
            .sum::<f64>()
            / n
    }

    /// Bytes the server received in `phase`.
    pub fn server_received(&self, phase: Phase) -> u64 {
        self.server_received[phase.index()]
    }

    /// Bytes the server sent in `phase`.
    pub fn server_sent(&self, phase: Phase) -> u64 {
        self.server_sent[phase.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_downloads_and_direct_messages_are_counted_on_both_ends() {
        let mut t = Traffic::new(2);
        t.upload(0, Phase::AdvertiseKeys, 68);
        t.download(1, Phase::ShareKeys, 100);
        t.direct(0, 1, Phase::ShareKeys, 10);
        assert_eq!(t.sent(0, Phase::AdvertiseKeys), 68);
        assert_eq!(t.server_received(Phase::AdvertiseKeys), 68);
        assert_eq!(t.received(1, Phase::ShareKeys), 110);
        assert_eq!(t.server_sent(Phase::ShareKeys), 100);
        assert_eq!(t.party_total(0), 78);
        assert_eq!(t.mean_party_total(), (78.0 + 110.0) / 2.0);
    }
}
