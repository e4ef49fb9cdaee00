//! NumPy's `.npy` format, version 1.0: raw arrays for other tools (a researcher recomputing a
//! metric with scikit-learn, an image grid with matplotlib) next to `metrics.json`.
//!
//! Written by hand because the format is a 10-byte preamble, a Python-dict header padded to 64
//! bytes and the little-endian values; the crates that write it pull in `ndarray` for that.

/// A value `.npy` can hold, with NumPy's type code.
pub trait NpyElement: Copy {
    /// NumPy's `descr`: `<f4`, `<f8`, `|u1`, `|b1`.
    const DESCR: &'static str;
    /// Appends the value's little-endian bytes.
    fn put(self, out: &mut Vec<u8>);
}

impl NpyElement for f32 {
    const DESCR: &'static str = "<f4";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl NpyElement for f64 {
    const DESCR: &'static str = "<f8";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl NpyElement for u8 {
    const DESCR: &'static str = "|u1";
    fn put(self, out: &mut Vec<u8>) {
        out.push(self);
    }
}

impl NpyElement for bool {
    const DESCR: &'static str = "|b1";
    fn put(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
}

/// The `.npy` bytes of a C-order array of `shape` holding `values`.
///
/// # Panics
/// When `values` does not have `shape`'s number of elements (a programming error).
pub fn npy_bytes<T: NpyElement>(shape: &[usize], values: &[T]) -> Vec<u8> {
    assert_eq!(
        shape.iter().product::<usize>(),
        values.len(),
        "npy: shape and values disagree"
    );
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let tuple = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {tuple}, }}",
        T::DESCR
    );
    // Magic (6) + version (2) + header length (2) + header, padded with spaces and ended by a
    // newline so that the data starts on a 64-byte boundary.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + values.len() * 8);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    let len = u16::try_from(header.len()).expect("a header of a few dimensions fits in u16");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for &v in values {
        v.put(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes `numpy.save` (NumPy 2) writes for the same arrays.
    #[test]
    fn the_bytes_are_those_numpy_writes() {
        let mut want =
            b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }"
                .to_vec();
        want.extend(std::iter::repeat_n(b' ', 58));
        want.extend_from_slice(b"\n\x00\x00\xc0?\x00\x00\x00@\x00\x00@@\x00\x00\x80@");
        assert_eq!(npy_bytes(&[2, 2], &[1.5f32, 2.0, 3.0, 4.0]), want);
        let mut want =
            b"\x93NUMPY\x01\x00v\x00{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }"
                .to_vec();
        want.extend(std::iter::repeat_n(b' ', 60));
        want.extend_from_slice(b"\n\x01\x00");
        assert_eq!(npy_bytes(&[2], &[true, false]), want);
    }

    #[test]
    fn the_data_starts_on_a_64_byte_boundary() {
        for shape in [vec![0], vec![7], vec![3, 28, 28], vec![1, 2, 3, 4, 5]] {
            let n = shape.iter().product();
            let bytes = npy_bytes(&shape, &vec![0.0f64; n]);
            assert_eq!((bytes.len() - 8 * n) % 64, 0, "{shape:?}");
        }
    }
}
