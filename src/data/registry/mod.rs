//! The datasets ppml knows, where their files are looked for, and how they are decoded.
//!
//! Lookup order for a dataset `NAME` (first complete set of four files wins):
//! `--data-dir` (as `DIR/NAME/`, then `DIR/`), `$PPML_DATA_DIR` (likewise), `data/NAME/`, and for
//! Fashion-MNIST only, Debian's `/usr/share/datasets/fashion-mnist/`. Each file may be stored raw or
//! gzip-compressed (`NAME` or `NAME.gz`).

mod load;
mod locate;
mod specs;

use serde::{Deserialize, Serialize};

use specs::{EMNIST_LETTERS, FASHION_MNIST, MNIST};

pub use load::{Splits, load, load_from, load_split};
pub use locate::{DATA_DIR_ENV, DEBIAN_FASHION_MNIST, Located, fetch_dir, locate, search_dirs};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_len_is_the_published_file_length() {
        // EMNIST letters' train images: 16-byte header and 124,800 × 28 × 28 pixels.
        assert_eq!(EMNIST_LETTERS.content_len(0), 16 + 124_800 * 784);
        assert_eq!(EMNIST_LETTERS.content_len(3), 8 + 20_800);
    }
}
