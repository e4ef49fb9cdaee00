//! Reading a located dataset's two splits, each checked against the spec: image size, record
//! counts, label range, and EMNIST's transposed storage turned upright.

use std::path::Path;

use super::locate::{Located, locate};
use super::{DatasetName, DatasetSpec};
use crate::data::idx::read_idx_checked;
use crate::data::{DataError, Dataset};

/// A dataset's train and test splits.
#[derive(Debug, Clone)]
pub struct Splits {
    /// Which dataset.
    pub name: DatasetName,
    /// Where it was read from.
    pub location: Located,
    /// The training split.
    pub train: Dataset,
    /// The test split.
    pub test: Dataset,
}

/// Locates and reads both splits of `name`.
pub fn load(name: DatasetName, data_dir: Option<&Path>) -> Result<Splits, DataError> {
    let location = locate(name, data_dir)?;
    load_from(name.spec(), location)
}

/// Reads both splits from files already located, checking each against the spec.
pub fn load_from(spec: &DatasetSpec, location: Located) -> Result<Splits, DataError> {
    let [tri, trl, tei, tel] = &location.files;
    let train = load_split(spec, tri, trl, spec.files[0].count)?;
    let test = load_split(spec, tei, tel, spec.files[2].count)?;
    Ok(Splits {
        name: spec.name,
        location,
        train,
        test,
    })
}

/// Reads one split: an images file and its labels file. `expected` is the number of records the
/// dataset's published split holds: more is an error (not this dataset); fewer is allowed, so a
/// subset (test fixtures, a quick slice) loads, and `ppml data check` reports it as a subset.
pub fn load_split(
    spec: &DatasetSpec,
    images_path: &Path,
    labels_path: &Path,
    expected: usize,
) -> Result<Dataset, DataError> {
    // Each header is checked against the spec before its body is read, so a file declaring
    // more than this dataset holds costs no allocation and no decompression.
    let images = read_idx_checked(images_path, 3, |dims| {
        let (n, rows, cols) = (dims[0], dims[1], dims[2]);
        if rows != spec.side || cols != spec.side {
            return Err(DataError::WrongImageSize {
                path: images_path.to_path_buf(),
                found: (rows, cols),
                expected: spec.side,
            });
        }
        if n > expected {
            return Err(DataError::UnexpectedCount {
                path: images_path.to_path_buf(),
                found: n,
                expected,
                name: spec.name,
            });
        }
        Ok(())
    })?;
    let (n, rows, cols) = (images.dims[0], images.dims[1], images.dims[2]);
    let labels = read_idx_checked(labels_path, 1, |dims| {
        if dims[0] != n {
            return Err(DataError::CountMismatch {
                images: images_path.to_path_buf(),
                image_count: n,
                labels: labels_path.to_path_buf(),
                label_count: dims[0],
            });
        }
        Ok(())
    })?;
    let mut mapped = Vec::with_capacity(n);
    for (i, &raw) in labels.values.iter().enumerate() {
        let l = raw.wrapping_sub(spec.first_label);
        if raw < spec.first_label || l as usize >= spec.classes {
            return Err(DataError::LabelOutOfRange {
                path: labels_path.to_path_buf(),
                index: i,
                label: raw,
                first: spec.first_label,
                last: spec.first_label + spec.classes as u8 - 1,
            });
        }
        mapped.push(l);
    }
    let pixels = if spec.transposed {
        transpose_images(&images.values, rows, cols)
    } else {
        images.values
    };
    Dataset::new(pixels, mapped, rows, cols, spec.classes)
}

/// Turns column-major images (EMNIST's storage) into row-major, upright ones.
fn transpose_images(values: &[u8], rows: usize, cols: usize) -> Vec<u8> {
    let p = rows * cols;
    let mut out = vec![0u8; values.len()];
    for (src, dst) in values.chunks_exact(p).zip(out.chunks_exact_mut(p)) {
        // Stored element (c, r) at c * rows + r holds upright pixel (r, c).
        for r in 0..rows {
            for c in 0..cols {
                dst[r * cols + c] = src[c * rows + r];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::specs::EMNIST_LETTERS;
    use super::*;
    use crate::data::idx::IdxArray;

    /// A spec like EMNIST letters but with tiny splits, for generated files.
    fn tiny_emnist(n: usize) -> DatasetSpec {
        let mut spec = EMNIST_LETTERS.clone();
        spec.files[0].count = n;
        spec
    }

    /// An "L" glyph: a vertical bar on the left and a foot at the bottom. Asymmetric under
    /// transposition, so a missing or double transpose shows.
    fn glyph_l() -> Vec<u8> {
        let mut img = vec![0u8; 28 * 28];
        for r in 4..24 {
            img[r * 28 + 6] = 255;
        }
        for c in 6..20 {
            img[23 * 28 + c] = 255;
        }
        img
    }

    #[test]
    fn emnist_images_load_upright_and_labels_shift_to_zero() {
        let dir = tempfile::tempdir().unwrap();
        let upright = glyph_l();
        let stored = transpose_images(&upright, 28, 28); // as EMNIST stores it
        assert_ne!(stored, upright);
        let images = IdxArray {
            dims: vec![2, 28, 28],
            values: [stored.clone(), stored].concat(),
        };
        let labels = IdxArray {
            dims: vec![2],
            values: vec![1, 26],
        };
        let (ip, lp) = (dir.path().join("i"), dir.path().join("l"));
        std::fs::write(&ip, images.to_bytes()).unwrap();
        std::fs::write(&lp, labels.to_bytes()).unwrap();
        let d = load_split(&tiny_emnist(2), &ip, &lp, 2).unwrap();
        assert_eq!(d.image(0), upright.as_slice());
        // The bar is on the left: column 6 lit, row 6 mostly dark.
        assert_eq!(d.image(0)[10 * 28 + 6], 255);
        assert_eq!(d.image(0)[6 * 28 + 10], 0);
        assert_eq!((d.label(0), d.label(1)), (0, 25));
        assert_eq!(d.classes(), 26);
    }

    fn write_pair(dir: &Path, n_img: usize, labels: Vec<u8>) -> (PathBuf, PathBuf) {
        let images = IdxArray {
            dims: vec![n_img, 28, 28],
            values: vec![0; n_img * 784],
        };
        let labels = IdxArray {
            dims: vec![labels.len()],
            values: labels,
        };
        let (ip, lp) = (dir.join("i"), dir.join("l"));
        std::fs::write(&ip, images.to_bytes()).unwrap();
        std::fs::write(&lp, labels.to_bytes()).unwrap();
        (ip, lp)
    }

    #[test]
    fn image_and_label_counts_must_agree() {
        let dir = tempfile::tempdir().unwrap();
        let (ip, lp) = write_pair(dir.path(), 3, vec![1, 2]);
        let err = load_split(&tiny_emnist(3), &ip, &lp, 3).unwrap_err();
        assert!(matches!(err, DataError::CountMismatch { .. }), "{err}");
    }

    #[test]
    fn a_split_larger_than_published_is_rejected_and_a_subset_loads() {
        let dir = tempfile::tempdir().unwrap();
        let (ip, lp) = write_pair(dir.path(), 2, vec![1, 2]);
        let err = load_split(&tiny_emnist(1), &ip, &lp, 1).unwrap_err();
        assert!(matches!(err, DataError::UnexpectedCount { .. }), "{err}");
        assert_eq!(
            load_split(&EMNIST_LETTERS, &ip, &lp, 124_800)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn label_zero_is_invalid_for_emnist_letters() {
        let dir = tempfile::tempdir().unwrap();
        let (ip, lp) = write_pair(dir.path(), 2, vec![0, 2]);
        let err = load_split(&tiny_emnist(2), &ip, &lp, 2).unwrap_err();
        assert!(
            matches!(err, DataError::LabelOutOfRange { label: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn wrong_image_size_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let images = IdxArray {
            dims: vec![1, 27, 28],
            values: vec![0; 27 * 28],
        };
        let labels = IdxArray {
            dims: vec![1],
            values: vec![1],
        };
        let (ip, lp) = (dir.path().join("i"), dir.path().join("l"));
        std::fs::write(&ip, images.to_bytes()).unwrap();
        std::fs::write(&lp, labels.to_bytes()).unwrap();
        let err = load_split(&tiny_emnist(1), &ip, &lp, 1).unwrap_err();
        assert!(matches!(err, DataError::WrongImageSize { .. }), "{err}");
    }

    #[test]
    fn a_header_declaring_more_than_the_dataset_is_rejected_unread() {
        // 200,000 images (157 MB declared, more than EMNIST letters' 124,800) and no body: the
        // count is refused from the header alone, not after inflating and finding it truncated.
        let dir = tempfile::tempdir().unwrap();
        let mut header = vec![0u8, 0, 8, 3];
        for d in [200_000u32, 28, 28] {
            header.extend_from_slice(&d.to_be_bytes());
        }
        let labels = IdxArray {
            dims: vec![1],
            values: vec![1],
        };
        let (ip, lp) = (dir.path().join("i"), dir.path().join("l"));
        std::fs::write(&ip, header).unwrap();
        std::fs::write(&lp, labels.to_bytes()).unwrap();
        let err = load_split(&EMNIST_LETTERS, &ip, &lp, 124_800).unwrap_err();
        assert!(
            matches!(err, DataError::UnexpectedCount { found: 200_000, .. }),
            "{err}"
        );
    }
}
