//! [`FetchError`]: why a download failed, worded with the ways around it.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{offline_alternatives, one_of};
use crate::data::{DataError, DatasetName};

/// Why a dataset could not be downloaded into `dest`. Its message is for `ppml data fetch`
/// (it may suggest `--url`); [`DataError::Unfetchable`] words the same failure for `ppml run`
/// from [`FetchError::cause`].
#[derive(Debug)]
#[allow(missing_docs)] // variant fields are named in the messages
pub enum FetchError {
    /// The server could not be reached, or the transfer broke off.
    Download {
        url: String,
        reason: String,
        name: DatasetName,
        dest: PathBuf,
    },
    /// The server answered with an error status.
    Status {
        url: String,
        status: String,
        name: DatasetName,
        dest: PathBuf,
    },
    /// The downloaded archive is unreadable or lacks a file.
    Archive {
        url: String,
        reason: String,
        name: DatasetName,
        dest: PathBuf,
    },
    /// The download arrived but is not the published dataset (a checksum, a malformed or an
    /// oversized file), as `source` says.
    Rejected {
        source: Box<DataError>,
        name: DatasetName,
        dest: PathBuf,
    },
}

impl FetchError {
    /// The folder the dataset was to be written to.
    pub fn dest(&self) -> &Path {
        match self {
            Self::Download { dest, .. }
            | Self::Status { dest, .. }
            | Self::Archive { dest, .. }
            | Self::Rejected { dest, .. } => dest,
        }
    }

    /// Which dataset.
    pub fn name(&self) -> DatasetName {
        match self {
            Self::Download { name, .. }
            | Self::Status { name, .. }
            | Self::Archive { name, .. }
            | Self::Rejected { name, .. } => *name,
        }
    }

    /// What went wrong, without the ways around it (those depend on the command).
    pub fn cause(&self) -> String {
        match self {
            Self::Download { url, reason, .. } => {
                format!("cannot download {url}: {reason}. The machine may be offline")
            }
            Self::Status { url, status, .. } => {
                format!("cannot download {url}: the server answered HTTP {status}")
            }
            Self::Archive { url, reason, .. } => {
                format!("{url} is not the expected archive: {reason}")
            }
            Self::Rejected { source, .. } => format!("the download was rejected: {source}"),
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        let mut ways = vec![format!(
            "download from a mirror with `ppml data fetch {name} --url MIRROR`"
        )];
        ways.extend(offline_alternatives(name, self.dest()));
        write!(f, "{}. Alternatives: {}", self.cause(), one_of(&ways))
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Rejected { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_fetch_offline_may_suggest_a_mirror() {
        let msg = FetchError::Download {
            url: "https://example.invalid/x".into(),
            reason: "dns error".into(),
            name: DatasetName::EmnistLetters,
            dest: "/d/emnist-letters".into(),
        }
        .to_string();
        for hint in [
            "`ppml data fetch emnist-letters --url MIRROR`",
            "--dataset fashion-mnist",
            "gzip.zip",
            "`ppml data check emnist-letters --data-dir /d`",
        ] {
            assert!(msg.contains(hint), "lacks {hint:?}: {msg}");
        }
    }
}
