//! The IDX file format of LeCun's MNIST distribution, also used by EMNIST and Fashion-MNIST.
//!
//! Layout: two zero bytes, a type byte (0x08 = unsigned byte, the only type these datasets use),
//! a rank byte, then one big-endian `u32` per dimension, then the values in row-major order.
//! Files may be gzip-compressed; compression is detected from the content (magic `1f 8b`), not
//! from the file name.
//!
//! Written by hand rather than with the `mnist` crate: that crate hard-codes the MNIST set sizes
//! and panics on bad input, so it cannot read EMNIST letters or report a corrupt file.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::DataError;

/// The only IDX element type the supported datasets use.
const TYPE_U8: u8 = 0x08;
/// Guard against a corrupt header asking for an absurd allocation (the largest supported file,
/// EMNIST letters train images, holds about 98 MB).
const MAX_VALUES: u64 = 1 << 32;

/// The decoded contents of one IDX file of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Sizes of each dimension, outermost first: `[n]` for labels, `[n, rows, cols]` for images.
    pub dims: Vec<usize>,
    /// All values in row-major order.
    pub values: Vec<u8>,
}

impl IdxArray {
    /// Encodes the array as an uncompressed IDX file (used by tests and fixtures).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0, 0, TYPE_U8, self.dims.len() as u8];
        for &d in &self.dims {
            out.extend_from_slice(&(d as u32).to_be_bytes());
        }
        out.extend_from_slice(&self.values);
        out
    }
}

/// Reads an IDX file (raw or gzip) and checks that it has `expected_rank` dimensions.
pub fn read_idx(path: &Path, expected_rank: usize) -> Result<IdxArray, DataError> {
    let bytes = read_maybe_gzip(path)?;
    parse_idx(&bytes, expected_rank).map_err(|reason| DataError::CorruptIdx {
        path: path.to_path_buf(),
        reason,
    })
}

/// Reads a whole file, decompressing it when it starts with the gzip magic.
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, DataError> {
    let io_err = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut raw = Vec::new();
    BufReader::new(File::open(path).map_err(io_err)?)
        .read_to_end(&mut raw)
        .map_err(io_err)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| DataError::CorruptGzip {
                path: PathBuf::from(path),
                reason: e.to_string(),
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

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
    /// A zero dimension or a product of dimensions too large to be real.
    #[error("implausible dimensions {0:?}")]
    BadDims(Vec<u64>),
    /// The body is shorter than the header promises.
    #[error("truncated: the header promises {expected} bytes, the file has {found}")]
    Truncated { expected: u64, found: u64 },
    /// Bytes after the last value.
    #[error("{0} unexpected bytes after the data")]
    TrailingBytes(u64),
}

/// Parses an in-memory IDX file.
pub fn parse_idx(bytes: &[u8], expected_rank: usize) -> Result<IdxArray, IdxFormatError> {
    if bytes.len() < 4 {
        return Err(IdxFormatError::TooShort(bytes.len()));
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
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
    let header_len = 4 + 4 * rank;
    if bytes.len() < header_len {
        return Err(IdxFormatError::Truncated {
            expected: header_len as u64,
            found: bytes.len() as u64,
        });
    }
    let dims: Vec<u64> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64)
        .collect();
    let count = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    let count = match count {
        Some(c) if c > 0 && c <= MAX_VALUES && dims.iter().all(|&d| d > 0) => c,
        _ => return Err(IdxFormatError::BadDims(dims)),
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn images() -> IdxArray {
        IdxArray {
            dims: vec![2, 3, 4],
            values: (0..24).collect(),
        }
    }

    #[test]
    fn round_trip_preserves_dims_and_values() {
        let a = images();
        assert_eq!(parse_idx(&a.to_bytes(), 3).unwrap(), a);
    }

    #[test]
    fn gzip_and_raw_files_read_the_same() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let a = images();
        let raw = dir.path().join("x-idx3-ubyte");
        std::fs::write(&raw, a.to_bytes()).unwrap();
        let gz = dir.path().join("x-idx3-ubyte.gz");
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&a.to_bytes()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(read_idx(&raw, 3).unwrap(), a);
        assert_eq!(read_idx(&gz, 3).unwrap(), a);
    }

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

    #[test]
    fn corrupt_gzip_is_reported_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("broken.gz");
        std::fs::write(&p, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
        let err = read_idx(&p, 1).unwrap_err();
        assert!(matches!(err, DataError::CorruptGzip { .. }), "{err}");
        assert!(err.to_string().contains("broken.gz"));
    }
}
