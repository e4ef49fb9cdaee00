//! Downloading datasets from their official sources, so a run needs no manual setup.
//!
//! Everything is staged in a hidden folder inside `dest` (same file system, so the final renames
//! are atomic) and only moved into `dest` once every checksum passes and the four files load as
//! the dataset. A failed or interrupted fetch therefore never leaves a half set that `locate`
//! could pick up later, and a failed one removes every folder it created. Checksums are compared
//! on what each source publishes: the `.gz` members of NIST's EMNIST zip, and the uncompressed
//! content elsewhere (mirrors recompress differently). Nothing downloaded is read past the size
//! the dataset's published file can have, so a hostile mirror cannot make it a decompression bomb.

mod advice;
mod download;
mod error;
mod source;
mod staging;
mod unzip;

use std::path::{Path, PathBuf};

use super::idx::content_sha256;
use super::{DataError, DatasetName, DatasetSpec, Located, load_from};
use crate::progress::Progress;
use download::download;
use staging::Staging;
use unzip::unzip;

pub(crate) use advice::{offline_alternatives, one_of};
pub use error::FetchError;
pub use source::{Source, official_source};

/// Downloads `name` into `dest` (from `url` when given), verifies it, and returns the files
/// written. Every error names the dataset and `dest`, so its message can say how to get the
/// files there another way.
pub fn fetch(
    name: DatasetName,
    dest: &Path,
    url: Option<&str>,
    progress: &Progress,
) -> Result<Vec<PathBuf>, DataError> {
    let mut source = official_source(name);
    if let Some(url) = url {
        source = source.with_url(url);
    }
    fetch_from(&source, name.spec(), dest, progress).map_err(|e| match e {
        DataError::Fetch(_) | DataError::Unwritable { .. } => e,
        other => FetchError::Rejected {
            source: Box::new(other),
            name,
            dest: dest.to_path_buf(),
        }
        .into(),
    })
}

/// Downloads the four files of `spec` from `source` into `dest`, checks them (source checksums,
/// the spec's checksums, then a full load), and only then moves them into place.
pub fn fetch_from(
    source: &Source,
    spec: &DatasetSpec,
    dest: &Path,
    progress: &Progress,
) -> Result<Vec<PathBuf>, DataError> {
    let staging = Staging::create(dest)?;
    let agent = download::agent();
    let target = Target { spec, dest };
    let staged: [PathBuf; 4] = std::array::from_fn(|i| staging.dir.join(spec.files[i].name));
    let mut origins: [String; 4] = Default::default();
    let mut content_sha: [Option<&str>; 4] = [None; 4];
    match source {
        Source::Zip { url, members } => {
            let zip = staging.dir.join("download.zip");
            download(&agent, url, &zip, None, &target, progress)?;
            unzip(&zip, url, members, &staged, &mut origins, &target)?;
        }
        Source::Files { base_url, files } => {
            let sep = if base_url.ends_with('/') { "" } else { "/" };
            for (i, (file, sha)) in files.iter().enumerate() {
                origins[i] = format!("{base_url}{sep}{file}");
                let limit = compressed_limit(spec, i);
                download(
                    &agent,
                    &origins[i],
                    &staged[i],
                    Some(limit),
                    &target,
                    progress,
                )?;
                content_sha[i] = sha.as_deref();
            }
        }
    }
    for i in 0..4 {
        let expected: Vec<&str> = content_sha[i]
            .into_iter()
            .chain(spec.files[i].sha256)
            .collect();
        if !expected.is_empty() {
            // A file longer than the published one cannot match it: stop hashing there.
            let found = content_sha256(&staged[i], spec.content_len(i)).map_err(|e| match e {
                // The staging folder is gone by the time the message is read.
                DataError::TooLarge { limit, .. } => DataError::TooLarge {
                    path: PathBuf::from(&origins[i]),
                    limit,
                },
                DataError::CorruptGzip { reason, .. } => DataError::CorruptGzip {
                    path: PathBuf::from(&origins[i]),
                    reason,
                },
                other => other,
            })?;
            for e in expected {
                check_sha(&found, e, &origins[i])?;
            }
        }
    }
    let location = Located {
        dir: staging.dir.clone(),
        files: staged.clone(),
    };
    load_from(spec, location)?;
    staging.commit(&staged, spec)
}

/// What a fetch is for: enough to build a [`FetchError`].
struct Target<'a> {
    spec: &'a DatasetSpec,
    dest: &'a Path,
}

impl Target<'_> {
    fn error(&self, f: impl FnOnce(DatasetName, PathBuf) -> FetchError) -> FetchError {
        f(self.spec.name, self.dest.to_path_buf())
    }
}

/// The most bytes the compressed form of file `i` of `spec` may take: its content plus what
/// gzip adds even to incompressible data (5 bytes per 64 KiB stored block, and a header).
fn compressed_limit(spec: &DatasetSpec, i: usize) -> u64 {
    let len = spec.content_len(i);
    len + len / 1000 + 4096
}

/// Checks that `found` is the `expected` hex digest, in either case; a mismatch names `origin`.
fn check_sha(found: &str, expected: &str, origin: &str) -> Result<(), DataError> {
    if found.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(DataError::ChecksumMismatch {
            path: PathBuf::from(origin),
            expected: expected.to_string(),
            found: found.to_string(),
        })
    }
}
