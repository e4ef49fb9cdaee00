//! The messages of one SecAgg round, passed by value between parties and the server.
//!
//! Round numbering follows Bonawitz et al. 2017 Figure 4: AdvertiseKeys, ShareKeys,
//! MaskedInputCollection, Unmasking. Every message has a serialised size ([`WireSize`]) so a
//! round's traffic can be counted; the server's view is made of these values and nothing else.

use crate::fl::PartyId;
use crate::fl::ring::RingWord;
use crate::fl::secagg::keys::PublicKeys;
use crate::fl::secagg::shamir::ShareValue;

/// Bytes a message takes on the wire.
pub trait WireSize {
    /// Serialised size: 4-byte ids and counts, 32-byte keys and shares, k/8 bytes per word.
    fn wire_bytes(&self) -> u64;
}

/// Round 0, party → server: the two public keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvertiseKeys {
    /// The sender.
    pub from: PartyId,
    /// c_pk and s_pk.
    pub keys: PublicKeys,
}

impl WireSize for AdvertiseKeys {
    fn wire_bytes(&self) -> u64 {
        4 + 32 + 32
    }
}

/// Round 1, server → party: the advertised keys of the party's neighbourhood (every party
/// that advertised, for the full graph; SecAgg+ neighbours for the sparse one), the party's
/// own entry included, sorted by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRoster {
    /// One entry per party, sorted by `from`.
    pub entries: Vec<AdvertiseKeys>,
}

impl WireSize for KeyRoster {
    fn wire_bytes(&self) -> u64 {
        4 + self.entries.iter().map(WireSize::wire_bytes).sum::<u64>()
    }
}

/// Round 1, party → server → party: shares encrypted for one receiver. The server sees the
/// routing header and the ciphertext only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedShares {
    /// The sender u.
    pub from: PartyId,
    /// The receiver v.
    pub to: PartyId,
    /// ChaCha20-Poly1305 of (u ‖ v ‖ share of s_sk(u) ‖ share of b_u), see
    /// [`envelope`](crate::fl::secagg::envelope).
    pub ciphertext: Vec<u8>,
}

impl WireSize for EncryptedShares {
    fn wire_bytes(&self) -> u64 {
        8 + self.ciphertext.len() as u64
    }
}

impl WireSize for [EncryptedShares] {
    fn wire_bytes(&self) -> u64 {
        4 + self.iter().map(WireSize::wire_bytes).sum::<u64>()
    }
}

/// Round 2, party → server: y_u = x_u + self mask ± pair masks.
#[derive(Clone, PartialEq, Eq)]
pub struct MaskedInput<W> {
    /// The sender.
    pub from: PartyId,
    /// The masked vector.
    pub masked: Vec<W>,
}

impl<W: RingWord> WireSize for MaskedInput<W> {
    fn wire_bytes(&self) -> u64 {
        4 + 4 + (self.masked.len() * W::BYTES) as u64
    }
}

impl<W> std::fmt::Debug for MaskedInput<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskedInput")
            .field("from", &self.from)
            .field("len", &self.masked.len())
            .finish_non_exhaustive()
    }
}

/// Round 3, server → party: which parties of the receiver's neighbourhood sent a masked input
/// (survivors: reveal shares of their b) and which sent shares but no masked input (dropped:
/// reveal shares of their s_sk). An honest server never lists a party in both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmaskRequest {
    /// Parties whose masked input arrived, sorted.
    pub survivors: Vec<PartyId>,
    /// Parties that dropped out after sharing keys, sorted.
    pub dropped: Vec<PartyId>,
}

impl WireSize for UnmaskRequest {
    fn wire_bytes(&self) -> u64 {
        8 + 4 * (self.survivors.len() + self.dropped.len()) as u64
    }
}

/// Round 3, party → server: the party's shares of survivors' self-mask seeds and of dropped
/// parties' mask secret keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmaskResponse {
    /// The sender (the share holder).
    pub from: PartyId,
    /// (owner, share of b_owner) for every survivor.
    pub self_seed_shares: Vec<(PartyId, ShareValue)>,
    /// (owner, share of s_sk(owner)) for every dropped party.
    pub mask_key_shares: Vec<(PartyId, ShareValue)>,
}

impl WireSize for UnmaskResponse {
    fn wire_bytes(&self) -> u64 {
        4 + 8 + 36 * (self.self_seed_shares.len() + self.mask_key_shares.len()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_sizes_count_headers_and_payloads() {
        let m = MaskedInput {
            from: 0,
            masked: vec![0u32; 10],
        };
        assert_eq!(m.wire_bytes(), 48);
        let m64 = MaskedInput {
            from: 0,
            masked: vec![0u64; 10],
        };
        assert_eq!(m64.wire_bytes(), 88);
        let r = UnmaskRequest {
            survivors: vec![0, 1, 2],
            dropped: vec![3],
        };
        assert_eq!(r.wire_bytes(), 24);
        assert_eq!(format!("{m:?}"), "MaskedInput { from: 0, len: 10, .. }");
    }
}
