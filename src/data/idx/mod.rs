//! The IDX file format of LeCun's MNIST distribution, also used by EMNIST and Fashion-MNIST.
//!
//! Layout: two zero bytes, a type byte (0x08 = unsigned byte, the only type these datasets use),
//! a rank byte, then one big-endian `u32` per dimension, then the values in row-major order.
//! Files may be gzip-compressed; compression is detected from the content (magic `1f 8b`), not
//! from the file name.
//!
//! Written by hand rather than with the `mnist` crate: that crate hard-codes the MNIST set sizes
//! and panics on bad input, so it cannot read EMNIST letters or report a corrupt file.

mod header;
mod input;
mod read;

pub use header::{IdxFormatError, parse_idx};
pub(crate) use input::content_sha256;
pub use read::{read_idx, read_idx_checked};

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Two 3×4 images holding 0..24: small, and every value distinct.
    pub(super) fn images() -> IdxArray {
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
}
