//! `ppml data check`: what is on disk, whether it is complete and whether it is the published
//! content (sha256 of the uncompressed files, where known).

use std::path::Path;

use sha2::{Digest, Sha256};

use super::idx::content_sha256;
use super::registry::{Located, load_from, locate};
use super::{DataError, DatasetName};

/// Hex sha256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The integrity verdict for one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileCheck {
    /// The uncompressed content matches the published sha256.
    Verified,
    /// No published sha256 is recorded for this file; only its structure was checked.
    NoReference,
    /// The file holds fewer records than the published split (a deliberate subset), so its
    /// checksum cannot match; only its structure was checked.
    Subset,
}

/// What `ppml data check` reports for one dataset found on disk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatasetReport {
    /// Which dataset.
    pub name: DatasetName,
    /// The folder it was found in.
    pub dir: String,
    /// Whether both splits hold the published number of records.
    pub complete: bool,
    /// Records in the train split.
    pub train: usize,
    /// Records in the test split.
    pub test: usize,
    /// Examples per class in the train split.
    pub train_class_counts: Vec<usize>,
    /// Examples per class in the test split.
    pub test_class_counts: Vec<usize>,
    /// One verdict per file: train images, train labels, test images, test labels.
    pub files: Vec<(String, FileCheck)>,
}

/// Locates `name`, verifies its checksums and decodes it fully.
pub fn check_dataset(
    name: DatasetName,
    data_dir: Option<&Path>,
) -> Result<DatasetReport, DataError> {
    let location = locate(name, data_dir)?;
    let spec = name.spec();
    let splits = load_from(spec, location.clone())?;
    let complete =
        splits.train.len() == spec.files[0].count && splits.test.len() == spec.files[2].count;
    let files = if complete {
        verify_checksums(name, &location)?
    } else {
        let names = location.files.iter().map(|p| p.display().to_string());
        names.map(|p| (p, FileCheck::Subset)).collect()
    };
    Ok(DatasetReport {
        name,
        complete,
        dir: location.dir.display().to_string(),
        train: splits.train.len(),
        test: splits.test.len(),
        train_class_counts: splits.train.class_counts(),
        test_class_counts: splits.test.class_counts(),
        files,
    })
}

/// Compares each located file's uncompressed sha256 with the published value.
pub(crate) fn verify_checksums(
    name: DatasetName,
    location: &Located,
) -> Result<Vec<(String, FileCheck)>, DataError> {
    let mut out = Vec::new();
    let dataset = name.spec();
    for (i, (spec, path)) in dataset.files.iter().zip(&location.files).enumerate() {
        let verdict = match spec.sha256 {
            Some(expected) => {
                // Streamed, and never past the published length.
                let found = content_sha256(path, dataset.content_len(i))?;
                if found != expected {
                    return Err(DataError::ChecksumMismatch {
                        path: path.clone(),
                        expected: expected.to_string(),
                        found,
                    });
                }
                FileCheck::Verified
            }
            None => FileCheck::NoReference,
        };
        out.push((path.display().to_string(), verdict));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_test_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
