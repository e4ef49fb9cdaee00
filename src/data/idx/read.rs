//! Reading an IDX file's body from disk, after its header passed the caller's shape check, and
//! never past what the header declares.

use std::io::{ErrorKind, Read};
use std::path::Path;

use super::IdxArray;
use super::header::{IdxFormatError, check_dims, check_magic, decode_dims};
use super::input::{open_maybe_gzip, read_full};
use crate::data::DataError;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::tests::images;
    use crate::data::idx::{content_sha256, parse_idx};

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
