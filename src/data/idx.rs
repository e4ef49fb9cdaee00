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
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use super::DataError;

/// The only IDX element type the supported datasets use.
const TYPE_U8: u8 = 0x08;
/// The most data one IDX file may declare. The largest supported file, EMNIST letters' train
/// images, holds 124,800 × 28 × 28 ≈ 98 MB; a header declaring ten times that is corrupt or
/// hostile, and must not become an allocation or a decompression that runs on for minutes.
pub const MAX_DECLARED_BYTES: u64 = 1 << 30;

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
    read_idx_checked(path, expected_rank, |_| Ok(()))
}

/// [`read_idx`], with `check` run on the declared dimensions before any value is read: a header
/// that does not fit the dataset is rejected without allocating or decompressing its body.
///
/// The body is read through [`Read::take`], so a gzip file that inflates to more than its header
/// declares (a decompression bomb) costs at most the declared size plus one byte.
pub fn read_idx_checked(
    path: &Path,
    expected_rank: usize,
    check: impl FnOnce(&[usize]) -> Result<(), DataError>,
) -> Result<IdxArray, DataError> {
    let corrupt = |reason| DataError::CorruptIdx {
        path: path.to_path_buf(),
        reason,
    };
    let (mut input, raw_len) = open_maybe_gzip(path)?;
    let mut magic = [0u8; 4];
    let got = read_full(&mut input, &mut magic)?;
    let rank = check_magic(&magic[..got], expected_rank).map_err(corrupt)?;
    let header_len = 4 + 4 * rank as u64;
    let mut dim_bytes = vec![0u8; 4 * rank];
    let got = read_full(&mut input, &mut dim_bytes)?;
    if got < dim_bytes.len() {
        return Err(corrupt(IdxFormatError::Truncated {
            expected: header_len,
            found: 4 + got as u64,
        }));
    }
    let dims = decode_dims(&dim_bytes);
    let count = check_dims(&dims).map_err(corrupt)?;
    let dims: Vec<usize> = dims.into_iter().map(|d| d as usize).collect();
    check(&dims)?;
    if let Some(len) = raw_len {
        // Uncompressed: the file's length tells truncation or trailing bytes before any read.
        let expected = header_len + count;
        if len < expected {
            return Err(corrupt(IdxFormatError::Truncated {
                expected,
                found: len,
            }));
        }
        if len > expected {
            return Err(corrupt(IdxFormatError::TrailingBytes(len - expected)));
        }
    }
    let mut values = Vec::new();
    values
        .try_reserve_exact(count as usize)
        .map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(ErrorKind::OutOfMemory, e),
        })?;
    // With the capacity exactly `count`, `read_to_end` never grows the buffer.
    let got = (&mut input)
        .take(count)
        .read_to_end(&mut values)
        .map_err(|e| input.error(e))?;
    if (got as u64) < count {
        return Err(corrupt(IdxFormatError::Truncated {
            expected: header_len + count,
            found: header_len + got as u64,
        }));
    }
    // One more byte tells a longer stream; for gzip, reaching the end also checks its CRC.
    let mut extra = [0u8; 1];
    if read_full(&mut input, &mut extra)? > 0 {
        return Err(corrupt(IdxFormatError::TrailingData {
            declared: header_len + count,
        }));
    }
    Ok(IdxArray { dims, values })
}

/// The hex sha256 of a file's uncompressed content, streamed: never more than `max_len` bytes
/// are decompressed, and a file holding more is an error ([`DataError::TooLarge`]).
pub(crate) fn content_sha256(path: &Path, max_len: u64) -> Result<String, DataError> {
    let (mut input, _) = open_maybe_gzip(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(input.error(e)),
        };
        total += n as u64;
        if total > max_len {
            return Err(DataError::TooLarge {
                path: path.to_path_buf(),
                limit: max_len,
            });
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A file opened for reading, decompressed when it starts with the gzip magic (the content
/// decides, not the name). Remembers which, so read errors can be reported as the right kind.
struct Input<'a> {
    path: &'a Path,
    reader: Box<dyn Read + 'a>,
    gzip: bool,
}

impl Input<'_> {
    fn error(&self, e: std::io::Error) -> DataError {
        // The decoder reports a malformed or cut-off stream with these kinds; anything else is
        // the file system's.
        let malformed = matches!(
            e.kind(),
            ErrorKind::InvalidData | ErrorKind::InvalidInput | ErrorKind::UnexpectedEof
        );
        if self.gzip && malformed {
            DataError::CorruptGzip {
                path: self.path.to_path_buf(),
                reason: e.to_string(),
            }
        } else {
            DataError::Io {
                path: self.path.to_path_buf(),
                source: e,
            }
        }
    }
}

impl Read for Input<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }
}

/// Opens `path`; the second value is the file's length when it is not compressed.
fn open_maybe_gzip(path: &Path) -> Result<(Input<'_>, Option<u64>), DataError> {
    let io_err = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    let mut reader = BufReader::new(file);
    let gzip = reader
        .fill_buf()
        .map_err(io_err)?
        .starts_with(&[0x1f, 0x8b]);
    let input = Input {
        path,
        reader: if gzip {
            Box::new(MultiGzDecoder::new(reader))
        } else {
            Box::new(reader)
        },
        gzip,
    };
    Ok((input, (!gzip).then_some(len)))
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full(input: &mut Input<'_>, buf: &mut [u8]) -> Result<usize, DataError> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(input.error(e)),
        }
    }
    Ok(filled)
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
fn check_magic(magic: &[u8], expected_rank: usize) -> Result<usize, IdxFormatError> {
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

fn decode_dims(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64)
        .collect()
}

/// The number of values `dims` declare, computed with checked arithmetic and capped at
/// [`MAX_DECLARED_BYTES`].
fn check_dims(dims: &[u64]) -> Result<u64, IdxFormatError> {
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

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn a_gzip_bomb_is_rejected_after_the_declared_bytes() {
        // A valid 10-image file followed by 256 MiB of zeros, as 256 concatenated gzip members
        // of 1 MiB each (about 1 KB apiece, so the test builds it in milliseconds). A reader that
        // inflates everything before checking needs 256 MiB and seconds; this one stops at the
        // 7,856 bytes the header declares plus one.
        let dir = tempfile::tempdir().unwrap();
        let good = IdxArray {
            dims: vec![10, 28, 28],
            values: vec![7; 10 * 784],
        };
        let mut bomb = gzip(&good.to_bytes());
        let zeros = gzip(&vec![0u8; 1 << 20]);
        for _ in 0..256 {
            bomb.extend_from_slice(&zeros);
        }
        assert!(bomb.len() < 2 << 20, "{}", bomb.len());
        let p = dir.path().join("bomb-idx3-ubyte.gz");
        std::fs::write(&p, &bomb).unwrap();
        let start = std::time::Instant::now();
        let err = read_idx(&p, 3).unwrap_err();
        assert!(
            start.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        assert!(
            matches!(
                &err,
                DataError::CorruptIdx {
                    reason: IdxFormatError::TrailingData { declared: 7856 },
                    ..
                }
            ),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("bomb-idx3-ubyte.gz") && msg.contains("trailing data"),
            "{msg}"
        );
        // Checksumming is bounded the same way.
        let err = content_sha256(&p, 7856).unwrap_err();
        assert!(
            matches!(err, DataError::TooLarge { limit: 7856, .. }),
            "{err}"
        );
        let good_gz = dir.path().join("good.gz");
        std::fs::write(&good_gz, gzip(&good.to_bytes())).unwrap();
        assert_eq!(
            content_sha256(&good_gz, 7856).unwrap(),
            crate::data::sha256_hex(&good.to_bytes())
        );
    }

    #[test]
    fn absurd_declared_dimensions_are_rejected_before_any_allocation() {
        let dir = tempfile::tempdir().unwrap();
        // 2^31 × 2^31 × 1 fits in u64 but is 4 EiB; u32::MAX cubed overflows u64. Only the
        // header is on disk: a reader that allocated or read first would abort or report a
        // truncation instead.
        for dims in [[1u32 << 31, 1 << 31, 1], [u32::MAX; 3]] {
            let mut header = vec![0, 0, 8, 3];
            for d in dims {
                header.extend_from_slice(&d.to_be_bytes());
            }
            for (name, bytes) in [("raw", header.clone()), ("gz", gzip(&header))] {
                let p = dir.path().join(name);
                std::fs::write(&p, &bytes).unwrap();
                let err = read_idx(&p, 3).unwrap_err();
                assert!(
                    matches!(
                        &err,
                        DataError::CorruptIdx {
                            reason: IdxFormatError::TooLarge { .. },
                            ..
                        }
                    ),
                    "{err}"
                );
                let msg = err.to_string();
                assert!(msg.contains("1 GiB") && msg.contains(name), "{msg}");
            }
            assert!(matches!(
                parse_idx(&header, 3),
                Err(IdxFormatError::TooLarge { .. })
            ));
        }
    }

    #[test]
    fn the_shape_check_runs_before_the_body_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.gz");
        std::fs::write(&p, gzip(&images().to_bytes())).unwrap();
        let err = read_idx_checked(&p, 3, |dims| {
            assert_eq!(dims, [2, 3, 4]);
            Err(DataError::Inconsistent("not this dataset".into()))
        })
        .unwrap_err();
        assert!(err.to_string().contains("not this dataset"), "{err}");
    }

    #[test]
    fn a_truncated_gzip_body_is_reported_as_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = images().to_bytes();
        let p = dir.path().join("short.gz");
        std::fs::write(&p, gzip(&bytes[..bytes.len() - 5])).unwrap();
        let err = read_idx(&p, 3).unwrap_err();
        assert!(
            matches!(
                &err,
                DataError::CorruptIdx {
                    reason: IdxFormatError::Truncated {
                        expected: 40,
                        found: 35
                    },
                    ..
                }
            ),
            "{err}"
        );
    }
}
