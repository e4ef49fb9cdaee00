//! Datasets: the IDX reader, the registry of known datasets and where they are looked for,
//! integrity checks, and fetching from the official sources.

mod check;
mod dataset;
pub mod fetch;
pub mod idx;
mod registry;
pub mod truth;

use std::path::{Path, PathBuf};

pub use check::{DatasetReport, FileCheck, check_dataset, sha256_hex};
pub use dataset::Dataset;
pub use fetch::FetchError;
pub use registry::{
    DATA_DIR_ENV, DEBIAN_FASHION_MNIST, DatasetName, DatasetSpec, IdxFile, Located, Splits,
    fetch_dir, load, load_from, load_split, locate, search_dirs,
};
pub use truth::Truth;

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
    /// The folder a fetch writes into cannot be created or written: `path` is what failed
    /// (`dir` itself, a parent folder to create, or a file inside it).
    #[error("{}", unwritable_message(dir, path, source))]
    Unwritable {
        dir: PathBuf,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file that holds more than the published file can: reading stopped at `limit` bytes
    /// (a decompression bomb, or not the dataset's file at all).
    #[error("{} is larger than {limit} bytes, more than the published file can be: not the published file, or a decompression bomb", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
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
    /// A dataset missing from disk that `ppml run` tried, and failed, to fetch. Its message
    /// suggests only what `ppml run` accepts (no `--url`: that is `ppml data fetch`'s).
    #[error("{}", unfetchable_message(*name, source))]
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
    // The first folder searched is the one `ppml data fetch` writes to (see `search_dirs`).
    let dest = searched
        .first()
        .cloned()
        .unwrap_or_else(|| fetch_dir(name, None));
    let mut ways = vec![
        format!("run `ppml data fetch {name}` (needs internet)"),
        "pass --data-dir DIR holding its four IDX files".to_string(),
    ];
    ways.extend(fetch::offline_alternatives(name, &dest));
    format!(
        "dataset {name} not found (looked in: {}). To get it: {}",
        list.join(", "),
        fetch::one_of(&ways)
    )
}

/// The message for a fetch that `ppml run` started: the ways around it are those `ppml run`
/// takes, so never `--url`.
fn unfetchable_message(name: DatasetName, source: &DataError) -> String {
    let intro = format!("dataset {name} is not on disk, so ppml tried to fetch it");
    let (cause, dest) = match source {
        // A folder that cannot be written is fixed by choosing another one, which its message
        // says; installing by hand into it would fail the same way.
        DataError::Unwritable { .. } => return format!("{intro}: {source}"),
        DataError::Fetch(e) => (e.cause(), e.dest().to_path_buf()),
        other => (other.to_string(), fetch_dir(name, None)),
    };
    let mut ways = vec!["pass --data-dir DIR holding its four IDX files".to_string()];
    ways.extend(fetch::offline_alternatives(name, &dest));
    format!(
        "{intro} into {}: {cause}. Alternatives: {}",
        dest.display(),
        fetch::one_of(&ways)
    )
}

fn unwritable_message(dir: &Path, path: &Path, source: &std::io::Error) -> String {
    let detail = if path == dir {
        source.to_string()
    } else {
        format!("{}: {source}", path.display())
    };
    format!(
        "cannot create or write the destination folder {} ({detail}); pass --data-dir DIR to \
         put datasets in a folder you can write",
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline(name: DatasetName, dest: &str) -> DataError {
        DataError::Fetch(FetchError::Download {
            url: "https://example.invalid/x".into(),
            reason: "dns error".into(),
            name,
            dest: dest.into(),
        })
    }

    #[test]
    fn a_run_that_cannot_fetch_emnist_says_what_to_type_without_url() {
        let err = DataError::Unfetchable {
            name: DatasetName::EmnistLetters,
            source: Box::new(offline(DatasetName::EmnistLetters, "/d/emnist-letters")),
        };
        let msg = err.to_string();
        // `ppml run` takes no --url: only `ppml data fetch` does.
        assert!(!msg.contains("--url"), "{msg}");
        for hint in [
            "offline",
            "add `--dataset fashion-mnist` to the command",
            "apt-get install -y dataset-fashion-mnist",
            "download https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip (on any machine",
            "gzip/emnist-letters-train-images-idx3-ubyte.gz",
            "gzip/emnist-letters-test-labels-idx1-ubyte.gz",
            "into /d/emnist-letters/",
            "`ppml data check emnist-letters --data-dir /d`",
        ] {
            assert!(msg.contains(hint), "lacks {hint:?}: {msg}");
        }
    }

    #[test]
    fn data_fetch_offline_may_suggest_a_mirror() {
        let msg = offline(DatasetName::EmnistLetters, "/d/emnist-letters").to_string();
        for hint in [
            "`ppml data fetch emnist-letters --url MIRROR`",
            "--dataset fashion-mnist",
            "gzip.zip",
            "`ppml data check emnist-letters --data-dir /d`",
        ] {
            assert!(msg.contains(hint), "lacks {hint:?}: {msg}");
        }
    }

    #[test]
    fn not_found_names_the_fetch_command_and_the_manual_install() {
        let searched = search_dirs(DatasetName::Mnist, Some(Path::new("/x y")));
        let msg = DataError::NotFound {
            name: DatasetName::Mnist,
            searched,
        }
        .to_string();
        for hint in [
            "ppml data fetch mnist",
            "--dataset fashion-mnist",
            "t10k-labels-idx1-ubyte.gz from https://ossci-datasets.s3.amazonaws.com/mnist/",
            "into /x y/mnist/",
            "`ppml data check mnist --data-dir '/x y'`",
        ] {
            assert!(msg.contains(hint), "lacks {hint:?}: {msg}");
        }
        assert!(!msg.contains("--url"), "{msg}");
    }

    #[test]
    fn an_unwritable_destination_is_a_write_problem() {
        let err = DataError::Unwritable {
            dir: "/proc/x/mnist".into(),
            path: "/proc/x".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let msg = err.to_string();
        assert!(
            msg.contains("cannot create or write the destination folder /proc/x/mnist"),
            "{msg}"
        );
        assert!(!msg.contains("cannot read"), "{msg}");
    }
}
