//! The rings Z_{2^32} and Z_{2^64} in which encoded updates are summed and masked.
//!
//! Bonawitz et al. 2017 (§3) mask inputs in Z_R; with R a power of two the reduction is the
//! machine's wrapping arithmetic and a mask word is simply a word of the ChaCha20 keystream
//! (uniform on Z_R, so a masked value is uniform whatever the input). Signed values use the
//! centred two's-complement representative in [−2^(k−1), 2^(k−1)).

use std::fmt::Debug;

mod sealed {
    pub trait Sealed {}
    impl Sealed for u32 {}
    impl Sealed for u64 {}
}

/// A word of Z_{2^k}: `u32` (k = 32) or `u64` (k = 64).
pub trait RingWord:
    Copy + Default + Eq + Ord + Debug + Send + Sync + 'static + sealed::Sealed
{
    /// k.
    const BITS: u32;
    /// Bytes per word on the wire.
    const BYTES: usize = (Self::BITS / 8) as usize;
    /// Words made from one buffer of 64 keystream words (4 ChaCha20 blocks, 256 bytes).
    const PER_BUFFER: usize = 256 / Self::BYTES;
    /// 0.
    const ZERO: Self;

    /// a + b mod 2^k.
    fn add(self, other: Self) -> Self;
    /// a − b mod 2^k.
    fn sub(self, other: Self) -> Self;
    /// The residue of a signed integer (two's complement, wrapping).
    fn from_signed(value: i64) -> Self;
    /// The centred representative, in [−2^(k−1), 2^(k−1)).
    fn to_signed(self) -> i64;
    /// The i-th word of a 64-word keystream buffer, read little-endian as in RFC 8439's
    /// serialisation (a u64 takes keystream words 2i and 2i + 1).
    fn from_keystream(buffer: &[u32; 64], i: usize) -> Self;
    /// Appends the little-endian bytes.
    fn write_le(self, out: &mut Vec<u8>);
    /// 2^(k−1) − 1, the largest centred value.
    fn max_signed() -> u64 {
        (1u64 << (Self::BITS - 1)) - 1
    }
}

impl RingWord for u32 {
    const BITS: u32 = 32;
    const ZERO: Self = 0;

    #[inline(always)]
    fn add(self, other: Self) -> Self {
        self.wrapping_add(other)
    }
    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        self.wrapping_sub(other)
    }
    #[inline(always)]
    fn from_signed(value: i64) -> Self {
        value as u32
    }
    #[inline(always)]
    fn to_signed(self) -> i64 {
        self as i32 as i64
    }
    #[inline(always)]
    fn from_keystream(buffer: &[u32; 64], i: usize) -> Self {
        buffer[i]
    }
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl RingWord for u64 {
    const BITS: u32 = 64;
    const ZERO: Self = 0;

    #[inline(always)]
    fn add(self, other: Self) -> Self {
        self.wrapping_add(other)
    }
    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        self.wrapping_sub(other)
    }
    #[inline(always)]
    fn from_signed(value: i64) -> Self {
        value as u64
    }
    #[inline(always)]
    fn to_signed(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn from_keystream(buffer: &[u32; 64], i: usize) -> Self {
        buffer[2 * i] as u64 | (buffer[2 * i + 1] as u64) << 32
    }
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// Σ vectors, word by word, mod 2^k (the plain sum every protocol must reproduce).
pub fn plain_sum<W: RingWord>(vectors: &[&[W]]) -> Vec<W> {
    let len = vectors.first().map_or(0, |v| v.len());
    let mut sum = vec![W::ZERO; len];
    for v in vectors {
        for (s, x) in sum.iter_mut().zip(v.iter()) {
            *s = s.add(*x);
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_values_round_trip_through_both_rings() {
        for v in [-5i64, -1, 0, 1, 7, i32::MAX as i64, i32::MIN as i64] {
            assert_eq!(u32::from_signed(v).to_signed(), v);
            assert_eq!(u64::from_signed(v).to_signed(), v);
        }
        assert_eq!(u32::from_signed(-3).add(u32::from_signed(5)).to_signed(), 2);
    }

    #[test]
    fn a_u64_word_reads_two_keystream_words_little_endian() {
        let mut buffer = [0u32; 64];
        buffer[2] = 0x1122_3344;
        buffer[3] = 0x5566_7788;
        assert_eq!(u64::from_keystream(&buffer, 1), 0x5566_7788_1122_3344);
        let mut bytes = Vec::new();
        u64::from_keystream(&buffer, 1).write_le(&mut bytes);
        let mut expected = 0x1122_3344u32.to_le_bytes().to_vec();
        expected.extend_from_slice(&0x5566_7788u32.to_le_bytes());
        assert_eq!(bytes, expected);
    }

    #[test]
    fn plain_sum_wraps_around() {
        let a = [u32::MAX, 1];
        let b = [2u32, 2];
        assert_eq!(plain_sum(&[&a[..], &b[..]]), vec![1, 3]);
    }
}
