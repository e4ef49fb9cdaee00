//! The datasets ppml knows, where their files are looked for, and how they are decoded.
//!
//! Lookup order for a dataset `NAME` (first complete set of four files wins):
//! `--data-dir` (as `DIR/NAME/`, then `DIR/`), `$PPML_DATA_DIR` (likewise), `data/NAME/`, and for
//! Fashion-MNIST only, Debian's `/usr/share/datasets/fashion-mnist/`. Each file may be stored raw or
//! gzip-compressed (`NAME` or `NAME.gz`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::idx::read_idx_checked;
use super::{DataError, Dataset};

/// Environment variable naming a folder of datasets.
pub const DATA_DIR_ENV: &str = "PPML_DATA_DIR";
/// Where Debian's `dataset-fashion-mnist` package puts its files.
pub const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// A dataset ppml can load.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    /// EMNIST letters (Cohen et al. 2017): 26 classes, 124,800 train / 20,800 test.
    #[default]
    EmnistLetters,
    /// MNIST digits: 10 classes, 60,000 train / 10,000 test.
    Mnist,
    /// Fashion-MNIST (Xiao et al. 2017): 10 classes, 60,000 train / 10,000 test.
    FashionMnist,
}

impl DatasetName {
    /// Every known dataset, in display order.
    pub const ALL: [DatasetName; 3] = [Self::EmnistLetters, Self::Mnist, Self::FashionMnist];

    /// The name used on the command line, in configs and as the folder name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmnistLetters => "emnist-letters",
            Self::Mnist => "mnist",
            Self::FashionMnist => "fashion-mnist",
        }
    }

    /// Facts about the dataset's files.
    pub fn spec(self) -> &'static DatasetSpec {
        match self {
            Self::EmnistLetters => &EMNIST_LETTERS,
            Self::Mnist => &MNIST,
            Self::FashionMnist => &FASHION_MNIST,
        }
    }
}

impl std::fmt::Display for DatasetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of the four IDX files of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdxFile {
    /// File name without `.gz`.
    pub name: &'static str,
    /// Number of records (images or labels) the file must hold.
    pub count: usize,
    /// sha256 of the uncompressed file, where known: checked by `ppml data check` and after a
    /// fetch. Uncompressed, because re-packaged copies (Debian's) compress differently.
    pub sha256: Option<&'static str>,
}

/// The static description of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSpec {
    /// Which dataset.
    pub name: DatasetName,
    /// Number of classes after label mapping.
    pub classes: usize,
    /// Image side length (all supported datasets are square).
    pub side: usize,
    /// The label stored for class 0 (EMNIST letters stores 1..26).
    pub first_label: u8,
    /// Whether images are stored transposed (column-major) and must be flipped upright.
    pub transposed: bool,
    /// Train images, train labels, test images, test labels.
    pub files: [IdxFile; 4],
    /// Human names of the classes.
    pub class_names: &'static [&'static str],
}

const LETTERS: &[&str] = &[
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s",
    "t", "u", "v", "w", "x", "y", "z",
];

static EMNIST_LETTERS: DatasetSpec = DatasetSpec {
    name: DatasetName::EmnistLetters,
    classes: 26,
    side: 28,
    first_label: 1,
    transposed: true,
    files: [
        IdxFile {
            name: "emnist-letters-train-images-idx3-ubyte",
            count: 124_800,
            sha256: None,
        },
        IdxFile {
            name: "emnist-letters-train-labels-idx1-ubyte",
            count: 124_800,
            sha256: Some("e8e94c3f4353d5532fd9604b939cb4c76e7847945b9b0d9ff7884d881dead6bc"),
        },
        IdxFile {
            name: "emnist-letters-test-images-idx3-ubyte",
            count: 20_800,
            sha256: None,
        },
        IdxFile {
            name: "emnist-letters-test-labels-idx1-ubyte",
            count: 20_800,
            sha256: Some("22dbcde0a929a7f166bdac863b9195b2994d840a1e082f8f6daaeac5606376a6"),
        },
    ],
    class_names: LETTERS,
};

static MNIST: DatasetSpec = DatasetSpec {
    name: DatasetName::Mnist,
    classes: 10,
    side: 28,
    first_label: 0,
    transposed: false,
    files: [
        IdxFile {
            name: "train-images-idx3-ubyte",
            count: 60_000,
            sha256: None,
        },
        IdxFile {
            name: "train-labels-idx1-ubyte",
            count: 60_000,
            sha256: None,
        },
        IdxFile {
            name: "t10k-images-idx3-ubyte",
            count: 10_000,
            sha256: None,
        },
        IdxFile {
            name: "t10k-labels-idx1-ubyte",
            count: 10_000,
            sha256: None,
        },
    ],
    class_names: &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
};

static FASHION_MNIST: DatasetSpec = DatasetSpec {
    name: DatasetName::FashionMnist,
    classes: 10,
    side: 28,
    first_label: 0,
    transposed: false,
    files: [
        IdxFile {
            name: "train-images-idx3-ubyte",
            count: 60_000,
            sha256: Some("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        },
        IdxFile {
            name: "train-labels-idx1-ubyte",
            count: 60_000,
            sha256: Some("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        },
        IdxFile {
            name: "t10k-images-idx3-ubyte",
            count: 10_000,
            sha256: Some("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        },
        IdxFile {
            name: "t10k-labels-idx1-ubyte",
            count: 10_000,
            sha256: Some("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        },
    ],
    class_names: &[
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
};

impl DatasetSpec {
    /// The length of file `i`'s uncompressed content when it holds the published split: the
    /// header (images are rank 3, labels rank 1) and one byte per value.
    pub fn content_len(&self, i: usize) -> u64 {
        let count = self.files[i].count as u64;
        let side = self.side as u64;
        // Train images, train labels, test images, test labels.
        if matches!(i, 0 | 2) {
            4 + 4 * 3 + count * side * side
        } else {
            4 + 4 + count
        }
    }
}

/// The four files of a dataset found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The folder they are in.
    pub dir: PathBuf,
    /// Train images, train labels, test images, test labels (each raw or `.gz`).
    pub files: [PathBuf; 4],
}

/// The folders searched for `name`, in order, given an optional `--data-dir`.
pub fn search_dirs(name: DatasetName, data_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let env_dir = std::env::var_os(DATA_DIR_ENV).map(PathBuf::from);
    for root in data_dir.map(Path::to_path_buf).into_iter().chain(env_dir) {
        dirs.push(root.join(name.as_str()));
        dirs.push(root);
    }
    dirs.push(Path::new("data").join(name.as_str()));
    if name == DatasetName::FashionMnist {
        dirs.push(PathBuf::from(DEBIAN_FASHION_MNIST));
    }
    dirs
}

/// The folder `ppml data fetch` writes `name` into.
pub fn fetch_dir(name: DatasetName, data_dir: Option<&Path>) -> PathBuf {
    let root = data_dir
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(DATA_DIR_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("data"));
    root.join(name.as_str())
}

/// The path of `file` in `dir`, raw or gzip, if present.
fn find_file(dir: &Path, file: &str) -> Option<PathBuf> {
    [file.to_string(), format!("{file}.gz")]
        .into_iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

/// Finds the first folder holding all four files of `name`.
pub fn locate(name: DatasetName, data_dir: Option<&Path>) -> Result<Located, DataError> {
    let spec = name.spec();
    let searched = search_dirs(name, data_dir);
    for dir in &searched {
        let found: Vec<PathBuf> = spec
            .files
            .iter()
            .filter_map(|f| find_file(dir, f.name))
            .collect();
        if let Ok(files) = <[PathBuf; 4]>::try_from(found) {
            return Ok(Located {
                dir: dir.clone(),
                files,
            });
        }
    }
    Err(DataError::NotFound { name, searched })
}

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
    fn data_dir_is_searched_before_the_defaults() {
        let dirs = search_dirs(DatasetName::FashionMnist, Some(Path::new("/x")));
        assert_eq!(dirs[0], Path::new("/x/fashion-mnist"));
        assert_eq!(dirs[1], Path::new("/x"));
        assert_eq!(dirs.last().unwrap(), Path::new(DEBIAN_FASHION_MNIST));
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

    #[test]
    fn content_len_is_the_published_file_length() {
        // EMNIST letters' train images: 16-byte header and 124,800 × 28 × 28 pixels.
        assert_eq!(EMNIST_LETTERS.content_len(0), 16 + 124_800 * 784);
        assert_eq!(EMNIST_LETTERS.content_len(3), 8 + 20_800);
    }
}
