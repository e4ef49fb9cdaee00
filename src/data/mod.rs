//! Datasets: the IDX reader, the registry of known datasets and where they are looked for,
//! integrity checks, and fetching from the official sources.

mod check;
mod dataset;
pub mod fetch;
pub mod idx;
mod registry;

use std::path::PathBuf;

pub use check::{DatasetReport, FileCheck, check_dataset, sha256_hex};
pub use dataset::Dataset;
pub use fetch::FetchError;
pub use registry::{
    DATA_DIR_ENV, DEBIAN_FASHION_MNIST, DatasetName, DatasetSpec, IdxFile, Located, Splits,
    fetch_dir, load, load_from, load_split, locate, search_dirs,
};

/// Everything that can be wrong with a dataset on disk. All of these are the user's input, so
/// they map to exit code 2.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // variant fields are named in the messages
pub enum DataError {
    /// A file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A `.gz` file that does not decompress.
    #[error("{} is not a valid gzip file: {reason}", path.display())]
    CorruptGzip { path: PathBuf, reason: String },
    /// A file that is not a well-formed IDX file.
    #[error("{} is not a valid IDX file: {reason}", path.display())]
    CorruptIdx {
        path: PathBuf,
        reason: idx::IdxFormatError,
    },
    /// Images of the wrong size for the dataset.
    #[error("{} holds {}×{} images; this dataset's are {expected}×{expected}", path.display(), found.0, found.1)]
    WrongImageSize {
        path: PathBuf,
        found: (usize, usize),
        expected: usize,
    },
    /// An images file and a labels file of different lengths.
    #[error("{} holds {image_count} images but {} holds {label_count} labels", images.display(), labels.display())]
    CountMismatch {
        images: PathBuf,
        image_count: usize,
        labels: PathBuf,
        label_count: usize,
    },
    /// A split larger than the published one.
    #[error("{} holds {found} records; {name} has only {expected} in this split (a file of another dataset?)", path.display())]
    UnexpectedCount {
        path: PathBuf,
        found: usize,
        expected: usize,
        name: DatasetName,
    },
    /// A stored label outside the dataset's range.
    #[error("{}: label {label} at record {index} is outside {first}..={last}", path.display())]
    LabelOutOfRange {
        path: PathBuf,
        index: usize,
        label: u8,
        first: u8,
        last: u8,
    },
    /// Images and labels that do not fit together.
    #[error("inconsistent dataset: {0}")]
    Inconsistent(String),
    /// No folder holds the dataset's four files.
    #[error("{}", not_found_message(*name, searched))]
    NotFound {
        name: DatasetName,
        searched: Vec<PathBuf>,
    },
    /// A file whose content is not the published one.
    #[error("{} has sha256 {found}, expected {expected}: the file is corrupt or not the published one", path.display())]
    ChecksumMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },
    /// A dataset missing from disk that `ppml run` tried, and failed, to fetch.
    #[error("dataset {name} is not on disk, so ppml tried to fetch it: {source}")]
    Unfetchable {
        name: DatasetName,
        source: Box<DataError>,
    },
    /// Downloading the dataset failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

fn not_found_message(name: DatasetName, searched: &[PathBuf]) -> String {
    let list: Vec<String> = searched.iter().map(|p| p.display().to_string()).collect();
    let mut msg = format!(
        "dataset {name} not found (looked in: {}). Run `ppml data fetch {name}`, or pass --data-dir DIR with its four IDX files",
        list.join(", ")
    );
    if name == DatasetName::FashionMnist {
        msg.push_str(", or `apt-get install -y dataset-fashion-mnist`");
    } else {
        msg.push_str(
            ", or use --dataset fashion-mnist (`apt-get install -y dataset-fashion-mnist`)",
        );
    }
    msg
}
