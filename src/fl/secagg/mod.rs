//! Secure aggregation by pairwise masking: Bonawitz, Ivanov, Kreuter, Marcedone, McMahan,
//! Patel, Ramage, Segal & Seth 2017, "Practical Secure Aggregation for Privacy-Preserving
//! Machine Learning" (CCS), Figure 4 (the semi-honest protocol), as implemented by Google and
//! Flower, with the sparse neighbour graph of SecAgg+ (Bell, Bonawitz, Gascón, Lepoint &
//! Raykova 2020, "Secure Single-Server Aggregation with (Poly)Logarithmic Overhead") as an
//! option.
//!
//! Each party u masks its encoded input x_u as
//!
//!   y_u = x_u + PRG(b_u) + Σ_{v > u} PRG(s_{u,v}) − Σ_{v < u} PRG(s_{u,v})   (mod 2^k)
//!
//! where s_{u,v} = s_{v,u} comes from an X25519 agreement of the two parties' mask keys and b_u
//! is a fresh self-mask seed. Pair masks cancel in Σ y_u. Both b_u and the mask secret key are
//! Shamir-shared (threshold t) among the parties in round 1, encrypted under a key from a
//! second X25519 agreement, so that the server can, for a party that dropped out, rebuild its
//! mask key and strip its pair masks, and for a survivor, rebuild b_u and strip its self mask.
//! No honest party ever reveals both for the same party; with t > n/2 no coalition below t
//! learns either.
//!
//! The four rounds ([`Phase`](crate::fl::Phase)): advertise keys, share keys, masked input,
//! unmask. Modules: [`keys`] (key pairs, X25519, HKDF), [`shamir`] (vsss-rs), [`envelope`]
//! (ChaCha20-Poly1305 for shares in transit), [`graph`] (who masks with whom), [`messages`],
//! [`client`], [`server`] and [`round`] (the simulated network that runs a round).
//!
//! Not covered: the malicious-server variant (Bonawitz et al. Figure 5: signed keys and a
//! consistency-check round). Clients check what they can locally (their own keys, duplicate
//! keys, a party claimed both alive and dropped, replayed requests).

pub mod client;
pub mod envelope;
pub mod graph;
pub mod keys;
pub mod messages;
pub mod round;
pub mod server;
pub mod shamir;

pub use client::SecAggClient;
pub use graph::NeighbourGraph;
pub use messages::{
    AdvertiseKeys, EncryptedShares, KeyRoster, MaskedInput, UnmaskRequest, UnmaskResponse,
};
pub use round::run_round;
pub use server::{SecAggServer, SecAggView};

use crate::fl::SecAggError;

/// Checked parameters of a secure aggregation round: n parties, threshold t, vector length,
/// and optionally a SecAgg+ neighbour count k.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SecAggParams {
    parties: usize,
    threshold: usize,
    vector_len: usize,
    neighbours: Option<usize>,
}

impl SecAggParams {
    /// n parties, all pairs masked, t of them needed to finish: requires n ≥ 2,
    /// n/2 < t ≤ n and a non-empty vector.
    pub fn new(parties: usize, threshold: usize, vector_len: usize) -> Result<Self, SecAggError> {
        Self::from_parts(parties, threshold, vector_len, None)
    }

    /// SecAgg+: each party masks with, and shares its secrets among, only its k neighbours on
    /// a shuffled ring (k even, 2 ≤ k < n); t then counts share holders in a neighbourhood
    /// (k + 1 with the party itself), so (k + 1)/2 < t ≤ k + 1.
    pub fn sparse(
        parties: usize,
        neighbours: usize,
        threshold: usize,
        vector_len: usize,
    ) -> Result<Self, SecAggError> {
        Self::from_parts(parties, threshold, vector_len, Some(neighbours))
    }

    /// [`SecAggParams::new`] when `neighbours` is `None`, [`SecAggParams::sparse`] otherwise.
    pub fn from_parts(
        parties: usize,
        threshold: usize,
        vector_len: usize,
        neighbours: Option<usize>,
    ) -> Result<Self, SecAggError> {
        let params = SecAggParams {
            parties,
            threshold,
            vector_len,
            neighbours,
        };
        params.check()?;
        Ok(params)
    }

    /// Parameters for the protocols that sum every arriving input and use only n and the
    /// vector length: plain aggregation and n-of-n additive sharing. The threshold is n (the
    /// sum needs every party), and there is no neighbour graph. Unlike [`SecAggParams::new`],
    /// one party is allowed: plain FL with one party is ordinary training. [`aggregate`]
    /// re-checks n ≥ 2 before it runs a secure protocol, because with one party the revealed
    /// sum is that party's input.
    ///
    /// [`aggregate`]: crate::fl::aggregate
    pub fn every_party(parties: usize, vector_len: usize) -> Result<Self, SecAggError> {
        if parties == 0 {
            return Err(SecAggError::NoParties);
        }
        if vector_len == 0 {
            return Err(SecAggError::EmptyVector);
        }
        Ok(SecAggParams {
            parties,
            threshold: parties,
            vector_len,
            neighbours: None,
        })
    }

    /// The smallest valid threshold for n holders, ⌊n/2⌋ + 1.
    pub fn majority(holders: usize) -> usize {
        holders / 2 + 1
    }

    /// Errors unless these parameters can run SecAgg (and so additive sharing): n ≥ 2, a
    /// non-empty vector, a valid neighbour count and n/2 < t ≤ holders.
    pub(crate) fn check(&self) -> Result<(), SecAggError> {
        if self.parties == 0 {
            return Err(SecAggError::NoParties);
        }
        if self.parties < 2 {
            return Err(SecAggError::TooFewParties {
                parties: self.parties,
            });
        }
        if self.vector_len == 0 {
            return Err(SecAggError::EmptyVector);
        }
        if let Some(k) = self.neighbours
            && (k < 2 || k % 2 == 1 || k >= self.parties)
        {
            return Err(SecAggError::BadNeighbours {
                neighbours: k,
                parties: self.parties,
            });
        }
        let holders = self.holders();
        if self.threshold > holders {
            return Err(SecAggError::ThresholdAboveParties {
                threshold: self.threshold,
                holders,
            });
        }
        if 2 * self.threshold <= holders {
            return Err(SecAggError::ThresholdTooLow {
                threshold: self.threshold,
                holders,
            });
        }
        Ok(())
    }

    /// n.
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// t.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// Words per input vector.
    pub fn vector_len(&self) -> usize {
        self.vector_len
    }

    /// k, when the SecAgg+ graph is used.
    pub fn neighbours(&self) -> Option<usize> {
        self.neighbours
    }

    /// Share holders per secret: n for all pairs, k + 1 for SecAgg+.
    pub fn holders(&self) -> usize {
        self.neighbours.map_or(self.parties, |k| k + 1)
    }
}

/// What binds a protocol execution: a run id (fresh per training run) and the round number.
/// Both go into every key derivation and every ciphertext's associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Session {
    /// Identifies the training run.
    pub run_id: [u8; 16],
    /// The federated round.
    pub round: u64,
}

impl Session {
    /// Round `round` of run `run_id`.
    pub fn new(run_id: [u8; 16], round: u64) -> Self {
        Session { run_id, round }
    }

    /// The label prefix `ppml/secagg/v1/<what>` ‖ run id ‖ round (big-endian), for KDF info
    /// strings and associated data.
    pub(crate) fn context(&self, what: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(15 + what.len() + 16 + 8 + 8);
        out.extend_from_slice(b"ppml/secagg/v1/");
        out.extend_from_slice(what);
        out.push(0);
        out.extend_from_slice(&self.run_id);
        out.extend_from_slice(&self.round.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_must_be_a_strict_majority_and_at_most_n() {
        assert!(SecAggParams::new(7, 4, 10).is_ok());
        assert!(SecAggParams::new(7, 7, 10).is_ok());
        assert_eq!(
            SecAggParams::new(7, 8, 10),
            Err(SecAggError::ThresholdAboveParties {
                threshold: 8,
                holders: 7
            })
        );
        assert_eq!(
            SecAggParams::new(6, 3, 10),
            Err(SecAggError::ThresholdTooLow {
                threshold: 3,
                holders: 6
            })
        );
        assert_eq!(SecAggParams::new(0, 0, 10), Err(SecAggError::NoParties));
        assert_eq!(
            SecAggParams::new(1, 1, 10),
            Err(SecAggError::TooFewParties { parties: 1 })
        );
        assert_eq!(SecAggParams::new(3, 2, 0), Err(SecAggError::EmptyVector));
        assert_eq!(SecAggParams::majority(6), 4);
    }

    #[test]
    fn neighbour_counts_must_give_a_ring_graph() {
        let bad = |k| SecAggParams::sparse(10, k, 3, 5);
        assert!(matches!(bad(3), Err(SecAggError::BadNeighbours { .. })));
        assert!(matches!(bad(0), Err(SecAggError::BadNeighbours { .. })));
        assert!(matches!(bad(10), Err(SecAggError::BadNeighbours { .. })));
        // k = 4: 5 holders, so t = 6 is too high and t = 2 too low.
        assert!(matches!(
            SecAggParams::sparse(10, 4, 6, 5),
            Err(SecAggError::ThresholdAboveParties { holders: 5, .. })
        ));
        assert!(matches!(
            SecAggParams::sparse(10, 4, 2, 5),
            Err(SecAggError::ThresholdTooLow { holders: 5, .. })
        ));
        let ok = SecAggParams::sparse(10, 4, 3, 5).unwrap();
        assert_eq!((ok.holders(), ok.neighbours()), (5, Some(4)));
    }

    #[test]
    fn sums_of_every_party_allow_one_party_but_not_secure_protocols() {
        let one = SecAggParams::every_party(1, 5).unwrap();
        assert_eq!(
            (one.parties(), one.threshold(), one.neighbours()),
            (1, 1, None)
        );
        assert_eq!(one.check(), Err(SecAggError::TooFewParties { parties: 1 }));
        assert!(SecAggParams::every_party(3, 5).unwrap().check().is_ok());
        assert_eq!(SecAggParams::every_party(0, 5), Err(SecAggError::NoParties));
        assert_eq!(
            SecAggParams::every_party(2, 0),
            Err(SecAggError::EmptyVector)
        );
        let msg = SecAggError::TooFewParties { parties: 1 }.to_string();
        assert!(msg.contains("hides nothing"), "{msg}");
    }
}
