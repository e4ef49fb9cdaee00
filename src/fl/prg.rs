//! Mask expansion: a 32-byte seed becomes a vector of ring words, the ChaCha20 keystream.
//!
//! Bonawitz et al. 2017 expand each seed with a PRG to a mask as long as the update; Google's
//! implementation uses AES-CTR, we use ChaCha20 (RFC 8439's block function; the "legacy" 64-bit
//! nonce and 64-bit block counter variant, nonce 0; the seed is used once, so a fixed nonce is
//! safe). Mask word i is the little-endian u32 at keystream byte 4i (u64: byte 8i).
//!
//! Written by hand (the keystream comes from the `chacha20` crate): the loop that adds many
//! keystreams into one vector. It works in 16 KiB chunks so the chunk stays in L1 while every
//! seed's keystream for that chunk is generated and added, seeks each seed's cipher to the
//! chunk's block, and spreads chunks over rayon's threads. One pass over memory for any number
//! of seeds, at the cipher's own speed.

use chacha20::rand_core::SeedableRng;
use chacha20::rand_core::block::Generator;
use chacha20::variants::Legacy;
use chacha20::{ChaChaCore, R20};
use rayon::prelude::*;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::fl::ring::RingWord;

/// Bytes of output vector handled per task: fits in L1 beside one keystream buffer.
const CHUNK_BYTES: usize = 16 * 1024;
/// ChaCha20 blocks per chunk.
const BLOCKS_PER_CHUNK: u64 = (CHUNK_BYTES / 64) as u64;

/// A PRG seed (a ChaCha20 key). Zeroized on drop; `Debug` prints no bytes.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct MaskSeed([u8; 32]);

impl MaskSeed {
    /// A seed from 32 key bytes (the output of a KDF, or of a CSPRNG).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MaskSeed(bytes)
    }

    /// A fresh seed from a cryptographic RNG.
    pub fn random<R: chacha20::rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        MaskSeed(bytes)
    }
}

impl std::fmt::Debug for MaskSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MaskSeed(..)")
    }
}

/// Whether a mask is added or subtracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// + PRG(seed).
    Plus,
    /// − PRG(seed).
    Minus,
}

/// `out ← out + Σ addends + Σ ± PRG(seed)`, word by word mod 2^k, in parallel over chunks.
///
/// # Shapes
/// Every addend has `out.len()` words.
pub fn accumulate<W: RingWord>(out: &mut [W], addends: &[&[W]], masks: &[(&MaskSeed, Sign)]) {
    debug_assert!(addends.iter().all(|a| a.len() == out.len()));
    let chunk_words = CHUNK_BYTES / W::BYTES;
    out.par_chunks_mut(chunk_words)
        .enumerate()
        .for_each(|(c, chunk)| {
            let (start, len) = (c * chunk_words, chunk.len());
            for addend in addends {
                for (o, a) in chunk.iter_mut().zip(&addend[start..start + len]) {
                    *o = o.add(*a);
                }
            }
            for (seed, sign) in masks {
                apply_chunk(chunk, seed, *sign, c as u64 * BLOCKS_PER_CHUNK);
            }
        });
}

/// The first `len` words of PRG(seed).
pub fn expand<W: RingWord>(seed: &MaskSeed, len: usize) -> Vec<W> {
    let mut out = vec![W::ZERO; len];
    accumulate(&mut out, &[], &[(seed, Sign::Plus)]);
    out
}

/// Adds or subtracts the keystream of `seed`, starting at block `first_block`, into `chunk`.
#[inline]
fn apply_chunk<W: RingWord>(chunk: &mut [W], seed: &MaskSeed, sign: Sign, first_block: u64) {
    let mut core = ChaChaCore::<R20, Legacy>::from_seed(seed.0);
    core.set_block_pos(first_block);
    let mut buffer = [0u32; 64];
    for part in chunk.chunks_mut(W::PER_BUFFER) {
        core.generate(&mut buffer);
        match sign {
            Sign::Plus => {
                for (i, o) in part.iter_mut().enumerate() {
                    *o = o.add(W::from_keystream(&buffer, i));
                }
            }
            Sign::Minus => {
                for (i, o) in part.iter_mut().enumerate() {
                    *o = o.sub(W::from_keystream(&buffer, i));
                }
            }
        }
    }
    buffer.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::cipher::{KeyIvInit, StreamCipher};

    /// The keystream from the RustCrypto cipher API, as the slow oracle. With an all-zero
    /// nonce the RFC 8439 variant (32-bit counter) and the legacy one (64-bit counter) agree
    /// on the first 2^32 blocks.
    fn oracle_bytes(seed: [u8; 32], len: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; len];
        let mut cipher = chacha20::ChaCha20::new(&seed.into(), &[0u8; 12].into());
        cipher.apply_keystream(&mut bytes);
        bytes
    }

    #[test]
    fn mask_words_are_the_little_endian_chacha20_keystream() {
        let seed = [9u8; 32];
        // Longer than one chunk and not a multiple of it, so seeking is exercised.
        let len = 3 * 4096 + 77;
        let bytes = oracle_bytes(seed, len * 8);
        let words32: Vec<u32> = expand(&MaskSeed::from_bytes(seed), len);
        let words64: Vec<u64> = expand(&MaskSeed::from_bytes(seed), len);
        for i in 0..len {
            let b32 = u32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap());
            let b64 = u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().unwrap());
            assert_eq!(words32[i], b32, "u32 word {i}");
            assert_eq!(words64[i], b64, "u64 word {i}");
        }
    }

    #[test]
    fn a_mask_added_and_subtracted_cancels() {
        let a = MaskSeed::from_bytes([1; 32]);
        let b = MaskSeed::from_bytes([2; 32]);
        let x: Vec<u32> = (0..10_000).collect();
        let mut y = x.clone();
        accumulate(&mut y, &[], &[(&a, Sign::Plus), (&b, Sign::Minus)]);
        assert_ne!(y, x);
        accumulate(&mut y, &[], &[(&b, Sign::Plus), (&a, Sign::Minus)]);
        assert_eq!(y, x);
    }

    #[test]
    fn addends_are_summed_into_the_output() {
        let a: Vec<u64> = vec![1, 2, 3];
        let b: Vec<u64> = vec![10, 20, u64::MAX];
        let mut out = vec![100u64; 3];
        accumulate(&mut out, &[&a, &b], &[]);
        assert_eq!(out, vec![111, 122, 102]);
    }

    #[test]
    fn debug_prints_no_seed_bytes() {
        assert_eq!(
            format!("{:?}", MaskSeed::from_bytes([7; 32])),
            "MaskSeed(..)"
        );
    }
}
