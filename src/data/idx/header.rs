//! The IDX format's checks: a header's magic, rank and declared dimensions (capped before any
//! body is read), [`IdxFormatError`] for each way a file fails them, and [`parse_idx`] for files
//! already in memory.

use super::{IdxArray, MAX_DECLARED_BYTES, TYPE_U8};

/// Why an IDX byte stream is not a valid file of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[allow(missing_docs)] // variant fields are named in the messages
pub enum IdxFormatError {
    /// Fewer than the 4 bytes of the magic number.
    #[error("file is {0} bytes long, too short for an IDX header")]
    TooShort(usize),
    /// The first two bytes are not zero.
    #[error("bad magic number {0:02x?}: not an IDX file")]
    BadMagic([u8; 4]),
    /// An element type other than unsigned bytes.
    #[error("element type 0x{0:02x} is not supported (only 0x08, unsigned byte)")]
    UnsupportedType(u8),
    /// The rank byte does not match what the caller expects.
    #[error("expected {expected} dimensions, the header says {found}")]
    WrongRank { expected: usize, found: usize },
    /// A zero dimension.
    #[error("implausible dimensions {0:?}: a dimension is zero")]
    BadDims(Vec<u64>),
    /// Dimensions declaring more data than any dataset file holds (or than `u64` counts).
    #[error(
        "dimensions {dims:?} declare more than {} bytes (1 GiB); no dataset file is that large: a corrupt or hostile header",
        MAX_DECLARED_BYTES
    )]
    TooLarge { dims: Vec<u64> },
    /// The body is shorter than the header promises.
    #[error("truncated: the header promises {expected} bytes, the file has {found}")]
    Truncated { expected: u64, found: u64 },
    /// Bytes after the last value.
    #[error("{0} unexpected bytes after the data")]
    TrailingBytes(u64),
    /// A compressed stream that goes on past the declared data (a decompression bomb, or a
    /// header that lies). Reading stopped there, so how much more there is stays unknown.
    #[error("trailing data: the content goes on past the {declared} bytes the header declares")]
    TrailingData { declared: u64 },
}

/// Parses an in-memory IDX file.
pub fn parse_idx(bytes: &[u8], expected_rank: usize) -> Result<IdxArray, IdxFormatError> {
    let rank = check_magic(&bytes[..bytes.len().min(4)], expected_rank)?;
    let header_len = 4 + 4 * rank;
    if bytes.len() < header_len {
        return Err(IdxFormatError::Truncated {
            expected: header_len as u64,
            found: bytes.len() as u64,
        });
    }
    let dims = decode_dims(&bytes[4..header_len]);
    let count = check_dims(&dims)?;
    let body = (bytes.len() - header_len) as u64;
    if body < count {
        return Err(IdxFormatError::Truncated {
            expected: header_len as u64 + count,
            found: bytes.len() as u64,
        });
    }
    if body > count {
        return Err(IdxFormatError::TrailingBytes(body - count));
    }
    Ok(IdxArray {
        dims: dims.into_iter().map(|d| d as usize).collect(),
        values: bytes[header_len..].to_vec(),
    })
}

/// Checks the 4-byte magic (`magic` may be shorter when the file is) and returns the rank.
pub(super) fn check_magic(magic: &[u8], expected_rank: usize) -> Result<usize, IdxFormatError> {
    let Ok(magic) = <[u8; 4]>::try_from(magic) else {
        return Err(IdxFormatError::TooShort(magic.len()));
    };
    if magic[0] != 0 || magic[1] != 0 {
        return Err(IdxFormatError::BadMagic(magic));
    }
    if magic[2] != TYPE_U8 {
        return Err(IdxFormatError::UnsupportedType(magic[2]));
    }
    let rank = magic[3] as usize;
    if rank != expected_rank {
        return Err(IdxFormatError::WrongRank {
            expected: expected_rank,
            found: rank,
        });
    }
    Ok(rank)
}

/// The big-endian `u32` dimensions of a header, widened so their product can be checked.
pub(super) fn decode_dims(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64)
        .collect()
}

/// The number of values `dims` declare, computed with checked arithmetic and capped at
/// [`MAX_DECLARED_BYTES`].
pub(super) fn check_dims(dims: &[u64]) -> Result<u64, IdxFormatError> {
    if dims.contains(&0) {
        return Err(IdxFormatError::BadDims(dims.to_vec()));
    }
    match dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)) {
        Some(count) if count <= MAX_DECLARED_BYTES => Ok(count),
        _ => Err(IdxFormatError::TooLarge {
            dims: dims.to_vec(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::tests::images;

    #[test]
    fn each_corruption_has_its_own_error() {
        let good = images().to_bytes();
        assert_eq!(parse_idx(&good[..3], 3), Err(IdxFormatError::TooShort(3)));

        let mut bad_magic = good.clone();
        bad_magic[0] = 0x50;
        assert!(matches!(
            parse_idx(&bad_magic, 3),
            Err(IdxFormatError::BadMagic(_))
        ));

        let mut bad_type = good.clone();
        bad_type[2] = 0x0d;
        assert_eq!(
            parse_idx(&bad_type, 3),
            Err(IdxFormatError::UnsupportedType(0x0d))
        );

        assert_eq!(
            parse_idx(&good, 1),
            Err(IdxFormatError::WrongRank {
                expected: 1,
                found: 3
            })
        );

        assert_eq!(
            parse_idx(&good[..good.len() - 5], 3),
            Err(IdxFormatError::Truncated {
                expected: 40,
                found: 35
            })
        );
        assert_eq!(
            parse_idx(&good[..10], 3),
            Err(IdxFormatError::Truncated {
                expected: 16,
                found: 10
            })
        );

        let mut long = good.clone();
        long.extend_from_slice(&[1, 2]);
        assert_eq!(parse_idx(&long, 3), Err(IdxFormatError::TrailingBytes(2)));

        let mut zero_dim = good.clone();
        zero_dim[4..8].copy_from_slice(&0u32.to_be_bytes());
        assert!(matches!(
            parse_idx(&zero_dim, 3),
            Err(IdxFormatError::BadDims(_))
        ));
    }
}
