//! Unpacking a downloaded zip archive: each member streamed into its staged file, bounded, and
//! checked against the member's published checksum.

use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::download::{CopyError, copy_bounded};
use super::{FetchError, Target, check_sha, compressed_limit};
use crate::data::DataError;

/// Extracts the four `members` of the archive `zip`, downloaded from `url`, into `staged`,
/// recording where each came from in `origins` (for later messages), then removes the archive.
pub(super) fn unzip(
    zip: &Path,
    url: &str,
    members: &[(String, Option<String>); 4],
    staged: &[PathBuf; 4],
    origins: &mut [String; 4],
    target: &Target<'_>,
) -> Result<(), DataError> {
    let archive_err = |reason: String| -> DataError {
        target
            .error(|name, dest| FetchError::Archive {
                url: url.to_string(),
                reason,
                name,
                dest,
            })
            .into()
    };
    let file = File::open(zip).map_err(|source| DataError::Io {
        path: zip.to_path_buf(),
        source,
    })?;
    let mut archive =
        zip::ZipArchive::new(BufReader::new(file)).map_err(|e| archive_err(e.to_string()))?;
    for (i, (member, sha)) in members.iter().enumerate() {
        origins[i] = format!("{url}#{member}");
        let mut m = archive
            .by_name(member)
            .map_err(|e| archive_err(format!("{member}: {e}")))?;
        // Streamed and bounded: a member is inflated by the zip reader, so its size in the
        // archive's directory is no limit.
        let found = copy_bounded(
            &mut m,
            &staged[i],
            compressed_limit(target.spec, i),
            &origins[i],
            target.dest,
            |_| {},
        )
        .map_err(|e| match e {
            CopyError::Read(e) => archive_err(format!("{member}: {e}")),
            CopyError::Other(e) => e,
        })?;
        if let Some(expected) = sha {
            check_sha(&found, expected, &origins[i])?;
        }
    }
    drop(archive);
    // Frees hundreds of MB now; the staging folder would remove it anyway.
    let _ = fs::remove_file(zip);
    Ok(())
}
