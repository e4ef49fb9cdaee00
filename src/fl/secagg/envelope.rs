//! Encryption of the Shamir shares that travel from party u to party v through the server.
//!
//! Bonawitz et al. 2017 (round 1, ShareKeys): u encrypts (u ‖ v ‖ share of s_sk ‖ share of b)
//! for v under the key agreed from their encryption key pairs; the server only routes the
//! ciphertexts. Here the AEAD is ChaCha20-Poly1305 (RFC 8439) with associated data binding the
//! protocol run, the round, the sender and the receiver, so a ciphertext replayed from another
//! run or round, re-labelled with another sender, or delivered to another receiver fails
//! authentication. The key (HKDF over X25519) is fresh per run, round and pair; the nonce is
//! sender ‖ receiver, unique per direction under that key.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use zeroize::Zeroizing;

use crate::fl::secagg::Session;
use crate::fl::secagg::keys::ShareKey;
use crate::fl::secagg::messages::EncryptedShares;
use crate::fl::secagg::shamir::ShareValue;
use crate::fl::{PartyId, ProtocolAbort, SecAggError};

/// Plaintext bytes: sender, receiver (4 bytes each), two 32-byte share values.
pub const PLAINTEXT_LEN: usize = 4 + 4 + 32 + 32;
/// Ciphertext bytes: the plaintext plus Poly1305's 16-byte tag.
pub const CIPHERTEXT_LEN: usize = PLAINTEXT_LEN + 16;

/// What u sends v in round 1: v's shares of u's mask secret key and of u's self-mask seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharePayload {
    /// u.
    pub from: PartyId,
    /// v.
    pub to: PartyId,
    /// v's share of s_sk(u).
    pub mask_key: ShareValue,
    /// v's share of b_u.
    pub self_seed: ShareValue,
}

fn associated_data(session: &Session, from: PartyId, to: PartyId) -> Vec<u8> {
    let mut ad = session.context(b"shares");
    ad.extend_from_slice(&(from as u32).to_be_bytes());
    ad.extend_from_slice(&(to as u32).to_be_bytes());
    ad
}

fn nonce(from: PartyId, to: PartyId) -> Nonce {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(&(from as u32).to_be_bytes());
    n[4..8].copy_from_slice(&(to as u32).to_be_bytes());
    n.into()
}

/// Encrypts `payload` from `payload.from` to `payload.to`.
pub fn seal(key: &ShareKey, session: &Session, payload: &SharePayload) -> EncryptedShares {
    let mut plaintext = Zeroizing::new(Vec::with_capacity(PLAINTEXT_LEN));
    plaintext.extend_from_slice(&(payload.from as u32).to_be_bytes());
    plaintext.extend_from_slice(&(payload.to as u32).to_be_bytes());
    plaintext.extend_from_slice(&payload.mask_key.to_bytes());
    plaintext.extend_from_slice(&payload.self_seed.to_bytes());
    let aad = associated_data(session, payload.from, payload.to);
    let ciphertext = ChaCha20Poly1305::new(&key.0.into())
        .encrypt(
            &nonce(payload.from, payload.to),
            Payload {
                msg: &plaintext,
                aad: &aad,
            },
        )
        .expect("a 72-byte message is within ChaCha20-Poly1305's limits");
    EncryptedShares {
        from: payload.from,
        to: payload.to,
        ciphertext,
    }
}

/// Decrypts and checks a routed ciphertext: authentication under this run, round, sender and
/// receiver, and the sender/receiver inside the plaintext.
pub fn open(
    key: &ShareKey,
    session: &Session,
    message: &EncryptedShares,
) -> Result<SharePayload, SecAggError> {
    let fail = || {
        ProtocolAbort::Decryption {
            from: message.from,
            to: message.to,
        }
        .into()
    };
    let aad = associated_data(session, message.from, message.to);
    let plaintext = Zeroizing::new(
        ChaCha20Poly1305::new(&key.0.into())
            .decrypt(
                &nonce(message.from, message.to),
                Payload {
                    msg: &message.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| fail())?,
    );
    if plaintext.len() != PLAINTEXT_LEN {
        return Err(fail());
    }
    let word = |i: usize| u32::from_be_bytes(plaintext[i..i + 4].try_into().expect("4 bytes"));
    let value = |i: usize| {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&plaintext[i..i + 32]);
        let v = ShareValue::from_bytes(bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        v
    };
    if word(0) as usize != message.from || word(4) as usize != message.to {
        return Err(fail());
    }
    Ok(SharePayload {
        from: message.from,
        to: message.to,
        mask_key: value(8).ok_or_else(fail)?,
        self_seed: value(40).ok_or_else(fail)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fl::secagg::keys::ShareableSecret;
    use crate::fl::secagg::shamir;
    use chacha20::ChaCha20Rng;
    use rand::SeedableRng;

    fn payload() -> SharePayload {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let s = ShareableSecret::random(&mut rng);
        let b = ShareableSecret::random(&mut rng);
        let ks = shamir::split(&s, 2, &[0, 1, 2], &mut rng).unwrap();
        let bs = shamir::split(&b, 2, &[0, 1, 2], &mut rng).unwrap();
        SharePayload {
            from: 0,
            to: 2,
            mask_key: ks[2].1.clone(),
            self_seed: bs[2].1.clone(),
        }
    }

    #[test]
    fn a_sealed_payload_opens_with_the_same_key_and_session() {
        let key = ShareKey([3; 32]);
        let s = Session::new([1; 16], 4);
        let sealed = seal(&key, &s, &payload());
        assert_eq!(sealed.ciphertext.len(), CIPHERTEXT_LEN);
        assert_eq!(open(&key, &s, &sealed).unwrap(), payload());
    }

    #[test]
    fn tampered_relabelled_or_replayed_ciphertexts_fail() {
        let key = ShareKey([3; 32]);
        let s = Session::new([1; 16], 4);
        let sealed = seal(&key, &s, &payload());
        let err = Err(SecAggError::Aborted(ProtocolAbort::Decryption {
            from: 0,
            to: 2,
        }));

        let mut flipped = sealed.clone();
        flipped.ciphertext[10] ^= 1;
        assert_eq!(open(&key, &s, &flipped), err);
        // Another round or another run of the protocol.
        assert_eq!(open(&key, &Session::new([1; 16], 5), &sealed), err);
        assert_eq!(open(&key, &Session::new([2; 16], 4), &sealed), err);
        // Claimed to come from someone else, or delivered to someone else.
        let relabelled = EncryptedShares {
            from: 1,
            ..sealed.clone()
        };
        assert_eq!(
            open(&key, &s, &relabelled),
            Err(SecAggError::Aborted(ProtocolAbort::Decryption {
                from: 1,
                to: 2
            }))
        );
        let misrouted = EncryptedShares {
            to: 1,
            ..sealed.clone()
        };
        assert_eq!(
            open(&key, &s, &misrouted),
            Err(SecAggError::Aborted(ProtocolAbort::Decryption {
                from: 0,
                to: 1
            }))
        );
        // Another key.
        assert_eq!(open(&ShareKey([4; 32]), &s, &sealed), err);
    }
}
