//! Key pairs, X25519 agreements and the HKDF-SHA256 derivations of SecAgg.
//!
//! Bonawitz et al. 2017 (§3, "Key Agreement", "Authenticated Encryption"): each party makes two
//! Diffie–Hellman key pairs per round, (c_pk, c_sk) to encrypt shares and (s_pk, s_sk) to agree
//! on pair-mask seeds. Here both are X25519 (RFC 7748) and every derived key is HKDF-SHA256
//! (RFC 5869) with an info string that binds the run, the round, the purpose and the ordered
//! pair, so that no key is ever reused across runs, rounds, purposes or pairs.
//!
//! The mask secret key and the self-mask seed b must be Shamir-shared, so they are elements of
//! the curve25519 scalar field (order ℓ ≈ 2^252), drawn uniformly; the X25519 secret is the
//! scalar's 32-byte encoding (X25519 clamps it as usual, leaving ≈ 249 bits of entropy). This
//! is the construction vsss-rs documents for sharing X25519 keys.

use curve25519_dalek::scalar::Scalar;
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey, SharedSecret, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::fl::prg::MaskSeed;
use crate::fl::secagg::Session;
use crate::fl::{PartyId, ProtocolAbort, SecAggError};

/// A party's two public keys, as advertised in round 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKeys {
    /// c_pk: agreement for share encryption.
    pub encryption: PublicKey,
    /// s_pk: agreement for pair-mask seeds.
    pub masking: PublicKey,
}

/// A secret that can be Shamir-shared: a uniform element of the curve25519 scalar field.
/// Used for the mask secret key s_sk and the self-mask seed b. Zeroized on drop; `Debug` prints
/// no bytes.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ShareableSecret(Scalar);

impl ShareableSecret {
    /// A uniform scalar (64 random bytes reduced mod ℓ).
    pub fn random<R: rand::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut wide = [0u8; 64];
        rng.fill_bytes(&mut wide);
        let secret = ShareableSecret(Scalar::from_bytes_mod_order_wide(&wide));
        wide.zeroize();
        secret
    }

    pub(crate) fn from_scalar(scalar: Scalar) -> Self {
        ShareableSecret(scalar)
    }

    pub(crate) fn scalar(&self) -> &Scalar {
        &self.0
    }

    /// The X25519 secret key whose bytes are this scalar's encoding.
    pub fn x25519_secret(&self) -> StaticSecret {
        let mut bytes = self.0.to_bytes();
        let secret = StaticSecret::from(bytes);
        bytes.zeroize();
        secret
    }

    /// The matching X25519 public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from(&self.x25519_secret())
    }
}

impl std::fmt::Debug for ShareableSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShareableSecret(..)")
    }
}

/// A 256-bit symmetric key for ChaCha20-Poly1305. Zeroized on drop; `Debug` prints no bytes.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ShareKey(pub(crate) [u8; 32]);

impl std::fmt::Debug for ShareKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShareKey(..)")
    }
}

/// X25519(secret, their_public), refusing small-order public keys: with one, the shared
/// secret is a fixed point known to the attacker whatever our secret is (RFC 7748 §6.1; the
/// "contributory behaviour" check of x25519-dalek).
pub fn agree(
    secret: &StaticSecret,
    their_public: &PublicKey,
    their_id: PartyId,
) -> Result<SharedSecret, SecAggError> {
    let shared = secret.diffie_hellman(their_public);
    if !shared.was_contributory() {
        return Err(ProtocolAbort::WeakPublicKey { party: their_id }.into());
    }
    Ok(shared)
}

fn hkdf32(ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let mut okm = [0u8; 32];
    Hkdf::<Sha256>::new(None, ikm)
        .expand(info, &mut okm)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    okm
}

/// info = context(`what`) ‖ min(u, v) ‖ max(u, v): both ends derive the same key.
fn pair_info(session: &Session, what: &[u8], u: PartyId, v: PartyId) -> Vec<u8> {
    let mut info = session.context(what);
    info.extend_from_slice(&(u.min(v) as u32).to_be_bytes());
    info.extend_from_slice(&(u.max(v) as u32).to_be_bytes());
    info
}

/// s_{u,v}: the pair-mask seed from the agreement of u's and v's mask keys.
pub fn pair_mask_seed(
    shared: &SharedSecret,
    session: &Session,
    u: PartyId,
    v: PartyId,
) -> MaskSeed {
    MaskSeed::from_bytes(hkdf32(
        shared.as_bytes(),
        &pair_info(session, b"pair-mask", u, v),
    ))
}

/// The ChaCha20-Poly1305 key for shares between u and v, from their encryption keys.
pub fn share_key(shared: &SharedSecret, session: &Session, u: PartyId, v: PartyId) -> ShareKey {
    ShareKey(hkdf32(
        shared.as_bytes(),
        &pair_info(session, b"share-key", u, v),
    ))
}

/// The PRG seed of u's self mask, from b_u.
pub fn self_mask_seed(b: &ShareableSecret, session: &Session, u: PartyId) -> MaskSeed {
    let mut ikm = b.0.to_bytes();
    let mut info = session.context(b"self-mask");
    info.extend_from_slice(&(u as u32).to_be_bytes());
    let seed = MaskSeed::from_bytes(hkdf32(&ikm, &info));
    ikm.zeroize();
    seed
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::ChaCha20Rng;
    use rand::SeedableRng;

    fn session(round: u64) -> Session {
        Session::new([5; 16], round)
    }

    #[test]
    fn both_ends_of_a_pair_derive_the_same_seed_and_key() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let a = ShareableSecret::random(&mut rng);
        let b = ShareableSecret::random(&mut rng);
        let ab = agree(&a.x25519_secret(), &b.public_key(), 1).unwrap();
        let ba = agree(&b.x25519_secret(), &a.public_key(), 0).unwrap();
        let s = session(0);
        assert_eq!(pair_mask_seed(&ab, &s, 0, 1), pair_mask_seed(&ba, &s, 1, 0));
        assert_eq!(share_key(&ab, &s, 0, 1).0, share_key(&ba, &s, 1, 0).0);
        // Purpose, round, run and pair all change the output.
        assert_ne!(
            pair_mask_seed(&ab, &s, 0, 1).clone(),
            MaskSeed::from_bytes(share_key(&ab, &s, 0, 1).0)
        );
        assert_ne!(
            pair_mask_seed(&ab, &s, 0, 1),
            pair_mask_seed(&ab, &session(1), 0, 1)
        );
        assert_ne!(
            pair_mask_seed(&ab, &s, 0, 1),
            pair_mask_seed(&ab, &Session::new([6; 16], 0), 0, 1)
        );
        assert_ne!(pair_mask_seed(&ab, &s, 0, 1), pair_mask_seed(&ab, &s, 0, 2));
    }

    #[test]
    fn a_small_order_public_key_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let a = ShareableSecret::random(&mut rng);
        let identity = PublicKey::from([0u8; 32]);
        assert_eq!(
            agree(&a.x25519_secret(), &identity, 3).err(),
            Some(SecAggError::Aborted(ProtocolAbort::WeakPublicKey {
                party: 3
            }))
        );
    }

    #[test]
    fn secrets_print_no_bytes() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        assert_eq!(
            format!("{:?}", ShareableSecret::random(&mut rng)),
            "ShareableSecret(..)"
        );
        assert_eq!(format!("{:?}", ShareKey([1; 32])), "ShareKey(..)");
    }

    #[test]
    fn the_self_mask_seed_depends_on_b_party_and_round() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let b = ShareableSecret::random(&mut rng);
        let s = session(0);
        assert_ne!(self_mask_seed(&b, &s, 0), self_mask_seed(&b, &s, 1));
        assert_ne!(
            self_mask_seed(&b, &s, 0),
            self_mask_seed(&b, &session(1), 0)
        );
        let b2 = ShareableSecret::random(&mut rng);
        assert_ne!(self_mask_seed(&b, &s, 0), self_mask_seed(&b2, &s, 0));
    }
}
