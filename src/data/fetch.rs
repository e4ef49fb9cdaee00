//! Downloading datasets from their official sources, so a run needs no manual setup.
//!
//! Everything is staged in a hidden folder inside `dest` (same file system, so the final renames
//! are atomic) and only moved into `dest` once every checksum passes and the four files load as
//! the dataset. A failed or interrupted fetch therefore never leaves a half set that `locate`
//! could pick up later. Checksums are compared on what each source publishes: the `.gz` members
//! of NIST's EMNIST zip, and the uncompressed content elsewhere (mirrors recompress differently).

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::idx::read_maybe_gzip;
use super::{DataError, DatasetName, DatasetSpec, Located, load_from, sha256_hex};
use crate::progress::Progress;

/// Short enough that an offline machine fails fast, long enough for a slow first handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// A server that accepts the connection but never answers is as good as unreachable.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
const ALTERNATIVES: &str = "alternatives: pass --data-dir DIR holding the dataset's four IDX files, \
     --url MIRROR to download from a mirror, or use --dataset fashion-mnist \
     (`apt-get install -y dataset-fashion-mnist`)";

/// Why a dataset could not be downloaded.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // variant fields are named in the messages
pub enum FetchError {
    /// The server could not be reached, or the transfer broke off.
    #[error("cannot download {url}: {reason}. The machine may be offline; {ALTERNATIVES}")]
    Download { url: String, reason: String },
    /// The server answered with an error status.
    #[error("cannot download {url}: the server answered HTTP {status}; {ALTERNATIVES}")]
    Status { url: String, status: String },
    /// The downloaded archive is unreadable or lacks a file.
    #[error("{url} is not the expected archive: {reason}")]
    Archive { url: String, reason: String },
}

/// Where a dataset's four files come from (train images, train labels, test images, test labels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// One zip archive holding the files as gzip members; each `(member path, sha256 of the
    /// member's bytes)`.
    Zip {
        /// Address of the archive.
        url: String,
        /// Member paths inside the archive, with their checksums.
        members: [(String, Option<String>); 4],
    },
    /// Four files under one base address; each `(file name, sha256 of its uncompressed content)`.
    Files {
        /// Address of the folder holding the files.
        base_url: String,
        /// File names under `base_url`, with their checksums.
        files: [(String, Option<String>); 4],
    },
}

impl Source {
    /// The same files from a mirror: the zip's address, or the folder holding the files.
    pub fn with_url(self, url: &str) -> Self {
        match self {
            Source::Zip { members, .. } => Source::Zip {
                url: url.to_string(),
                members,
            },
            Source::Files { files, .. } => Source::Files {
                base_url: url.to_string(),
                files,
            },
        }
    }
}

/// The official address of `name`, with the checksums recorded for it.
pub fn official_source(name: DatasetName) -> Source {
    let spec = name.spec();
    let gz = |i: usize| format!("{}.gz", spec.files[i].name);
    match name {
        DatasetName::EmnistLetters => {
            let member_sha = [
                "6288f418a917e007bf5fddb823a2dc7a5c6a35031401b93292a539cb12bd881f",
                "9759af91ea6bccdf07a6040fd085861f2ec88e37f7c3f5760f6feb57106fbe5c",
                "50f0e93d75b99b463e9760b8345866f22587fa2c2fba472730a5ba09c693412d",
                "924955c31fe7fd809b7303b5c0141282955f4b8390c74cdfd5d80435e0f4b4cb",
            ];
            Source::Zip {
                url: "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip".to_string(),
                members: std::array::from_fn(|i| {
                    (format!("gzip/{}", gz(i)), Some(member_sha[i].to_string()))
                }),
            }
        }
        DatasetName::FashionMnist | DatasetName::Mnist => Source::Files {
            base_url: if name == DatasetName::Mnist {
                "https://ossci-datasets.s3.amazonaws.com/mnist/"
            } else {
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
            }
            .to_string(),
            files: std::array::from_fn(|i| (gz(i), spec.files[i].sha256.map(str::to_string))),
        },
    }
}

/// Downloads `name` into `dest` (from `url` when given), verifies it, and returns the files
/// written.
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
    fetch_from(&source, name.spec(), dest, progress)
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
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(RESPONSE_TIMEOUT))
        .http_status_as_error(false) // so a 404 can be reported as such
        .build()
        .into();
    let staged: [PathBuf; 4] = std::array::from_fn(|i| staging.dir.join(spec.files[i].name));
    let mut origins: [String; 4] = Default::default();
    let mut content_sha: [Option<&str>; 4] = [None; 4];
    match source {
        Source::Zip { url, members } => {
            let zip = staging.dir.join("download.zip");
            download(&agent, url, &zip, progress)?;
            let archive_err = |reason: String| FetchError::Archive {
                url: url.clone(),
                reason,
            };
            let file = File::open(&zip).map_err(io_at(&zip))?;
            let mut archive = zip::ZipArchive::new(BufReader::new(file))
                .map_err(|e| archive_err(e.to_string()))?;
            for (i, (member, sha)) in members.iter().enumerate() {
                origins[i] = format!("{url}#{member}");
                // Members are tens of MB at most; reading one whole keeps hashing simple.
                let mut bytes = Vec::new();
                archive
                    .by_name(member)
                    .and_then(|mut m| Ok(m.read_to_end(&mut bytes)?))
                    .map_err(|e| archive_err(format!("{member}: {e}")))?;
                if let Some(expected) = sha {
                    check_sha(&bytes, expected, &origins[i])?;
                }
                fs::write(&staged[i], &bytes).map_err(io_at(&staged[i]))?;
            }
            drop(archive);
            // Frees hundreds of MB now; the staging folder would remove it anyway.
            let _ = fs::remove_file(&zip);
        }
        Source::Files { base_url, files } => {
            let sep = if base_url.ends_with('/') { "" } else { "/" };
            for (i, (file, sha)) in files.iter().enumerate() {
                origins[i] = format!("{base_url}{sep}{file}");
                download(&agent, &origins[i], &staged[i], progress)?;
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
            let content = read_maybe_gzip(&staged[i])?;
            for e in expected {
                check_sha(&content, e, &origins[i])?;
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

/// Whether `path` starts with the gzip magic: decides the final name, since a server may have
/// sent the content already decompressed.
fn is_gzip(path: &Path) -> bool {
    let mut magic = [0u8; 2];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == [0x1f, 0x8b]
}

fn io_at(path: &Path) -> impl Fn(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn check_sha(bytes: &[u8], expected: &str, origin: &str) -> Result<(), DataError> {
    let found = sha256_hex(bytes);
    if found.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(DataError::ChecksumMismatch {
            path: PathBuf::from(origin),
            expected: expected.to_string(),
            found,
        })
    }
}

/// Streams `url` into the file `to`, with a bytes bar, never holding the body in memory.
fn download(
    agent: &ureq::Agent,
    url: &str,
    to: &Path,
    progress: &Progress,
) -> Result<(), DataError> {
    let failed = |reason: String| FetchError::Download {
        url: url.to_string(),
        reason,
    };
    let mut response = agent.get(url).call().map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(FetchError::Status {
            url: url.to_string(),
            status: response.status().to_string(),
        }
        .into());
    }
    let body = response.body_mut();
    let label = url.rsplit('/').next().unwrap_or(url);
    let bar = progress.bytes(body.content_length().unwrap_or(0), label);
    if body.content_length().is_none() {
        bar.unset_length();
    }
    let mut reader = body.as_reader();
    let mut out = BufWriter::new(File::create(to).map_err(io_at(to))?);
    let mut buf = vec![0u8; 1 << 16];
    // Network and disk failures are told apart: only the former suggest being offline.
    let copied = loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => break Err(failed(e.to_string()).into()),
        };
        if let Err(e) = out.write_all(&buf[..n]) {
            break Err(io_at(to)(e));
        }
        bar.inc(n as u64);
    };
    bar.finish_and_clear();
    copied?;
    out.flush().map_err(io_at(to))
}

/// The hidden folder a fetch writes into; removed, with whatever it holds, when dropped.
struct Staging {
    dir: PathBuf,
    dest: PathBuf,
    created_dest: bool,
}

impl Staging {
    fn create(dest: &Path) -> Result<Self, DataError> {
        let created_dest = !dest.exists();
        fs::create_dir_all(dest).map_err(io_at(dest))?;
        // Per process, so two runs fetching the same dataset at once do not collide.
        let dir = dest.join(format!(".fetch-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir); // left by an earlier, killed process with our pid
        let staging = Self {
            dir,
            dest: dest.to_path_buf(),
            created_dest,
        };
        fs::create_dir(&staging.dir).map_err(io_at(&staging.dir))?;
        Ok(staging)
    }

    /// Moves the verified files into `dest`, named `.gz` when compressed.
    fn commit(self, staged: &[PathBuf; 4], spec: &DatasetSpec) -> Result<Vec<PathBuf>, DataError> {
        let mut written: Vec<PathBuf> = Vec::new();
        for (path, file) in staged.iter().zip(&spec.files) {
            let (name, other) = (file.name.to_string(), format!("{}.gz", file.name));
            let (name, other) = if is_gzip(path) {
                (other, name)
            } else {
                (name, other)
            };
            let target = self.dest.join(name);
            if let Err(e) = fs::rename(path, &target) {
                // A half set must not stay behind for `locate` to pick up.
                for w in &written {
                    let _ = fs::remove_file(w);
                }
                return Err(io_at(&target)(e));
            }
            // An older copy under the other name would be found first by `locate`.
            let _ = fs::remove_file(self.dest.join(other));
            written.push(target);
        }
        Ok(written)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
        if self.created_dest {
            // Only succeeds when empty, i.e. when the fetch failed.
            let _ = fs::remove_dir(&self.dest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_sources_name_the_spec_files() {
        for name in DatasetName::ALL {
            let spec = name.spec();
            let names: Vec<String> = match official_source(name) {
                Source::Zip { members, .. } => members.into_iter().map(|m| m.0).collect(),
                Source::Files { files, .. } => files.into_iter().map(|f| f.0).collect(),
            };
            for (n, f) in names.iter().zip(&spec.files) {
                assert!(n.ends_with(&format!("/{}.gz", f.name)) || *n == format!("{}.gz", f.name));
            }
        }
    }
}
