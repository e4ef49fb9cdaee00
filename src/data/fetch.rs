//! Downloading datasets from their official sources (being written).

use std::path::{Path, PathBuf};

use super::{DataError, DatasetName};
use crate::progress::Progress;

/// Why a dataset could not be downloaded.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // variant fields are named in the messages
pub enum FetchError {
    /// The download failed.
    #[error("cannot download {url}: {reason}")]
    Download { url: String, reason: String },
}

/// Downloads `name` into `dest`, verifies it, and returns the files written.
pub fn fetch(
    name: DatasetName,
    dest: &Path,
    url: Option<&str>,
    _progress: &Progress,
) -> Result<Vec<PathBuf>, DataError> {
    let _ = dest;
    Err(FetchError::Download {
        url: url.unwrap_or("?").to_string(),
        reason: format!("fetching {name} is not implemented yet"),
    }
    .into())
}
