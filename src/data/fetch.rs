//! Downloading datasets from their official sources, so a run needs no manual setup.
//!
//! Everything is staged in a hidden folder inside `dest` (same file system, so the final renames
//! are atomic) and only moved into `dest` once every checksum passes and the four files load as
//! the dataset. A failed or interrupted fetch therefore never leaves a half set that `locate`
//! could pick up later, and a failed one removes every folder it created. Checksums are compared
//! on what each source publishes: the `.gz` members of NIST's EMNIST zip, and the uncompressed
//! content elsewhere (mirrors recompress differently). Nothing downloaded is read past the size
//! the dataset's published file can have, so a hostile mirror cannot make it a decompression bomb.

use std::fmt;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::idx::content_sha256;
use super::{DataError, DatasetName, DatasetSpec, Located, fetch_dir, load_from};
use crate::progress::Progress;

/// Short enough that an offline machine fails fast, long enough for a slow first handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// A server that accepts the connection but never answers is as good as unreachable.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

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

/// The ways to get `name` into `dest` without this machine downloading it, worded for any
/// command (no `--url`: only `ppml data fetch` takes it).
pub(crate) fn offline_alternatives(name: DatasetName, dest: &Path) -> Vec<String> {
    let other = match name {
        DatasetName::FashionMnist => "`apt-get install -y dataset-fashion-mnist`".to_string(),
        _ => "add `--dataset fashion-mnist` to the command to use Fashion-MNIST instead \
              (`apt-get install -y dataset-fashion-mnist`)"
            .to_string(),
    };
    vec![other, manual_install(name, dest)]
}

/// `a; or b; or c`.
pub(crate) fn one_of(ways: &[String]) -> String {
    ways.join("; or ")
}

/// Step-by-step instructions for installing `name` by hand into `dest`, then checking it.
pub(crate) fn manual_install(name: DatasetName, dest: &Path) -> String {
    let title = match name {
        DatasetName::EmnistLetters => "EMNIST letters",
        DatasetName::Mnist => "MNIST",
        DatasetName::FashionMnist => "Fashion-MNIST",
    };
    let download = match official_source(name) {
        Source::Zip { url, members } => {
            let list: Vec<String> = members.into_iter().map(|m| m.0).collect();
            format!(
                "download {url} (on any machine with internet access) and copy the four files {} \
                 from it",
                and_list(&list)
            )
        }
        Source::Files { base_url, files } => {
            let list: Vec<String> = files.into_iter().map(|f| f.0).collect();
            format!(
                "download {} from {base_url} (on any machine with internet access) and copy them",
                and_list(&list)
            )
        }
    };
    // `ppml data fetch` and `ppml run` write to DIR/NAME for --data-dir DIR, else to
    // $PPML_DATA_DIR/NAME, else to data/NAME; `ppml data check` searches the same places.
    let (into, check) = if dest == fetch_dir(name, None) {
        (
            format!("{}/ (or DIR/{name}/ with --data-dir DIR)", dest.display()),
            format!("ppml data check {name}"),
        )
    } else {
        let dir = match dest.parent() {
            Some(p) if dest.file_name() == Some(name.as_str().as_ref()) => p,
            _ => dest,
        };
        (
            format!("{}/", dest.display()),
            format!("ppml data check {name} --data-dir {}", shell_word(dir)),
        )
    };
    format!("install {title} by hand: {download} into {into}, then run `{check}`")
}

/// `a, b, c and d`.
fn and_list(items: &[String]) -> String {
    match items.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// `path` as one shell word: quoted when it holds anything but plain path characters.
fn shell_word(path: &Path) -> String {
    let s = path.display().to_string();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:,@%=".contains(c));
    if plain {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
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
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(RESPONSE_TIMEOUT))
        .http_status_as_error(false) // so a 404 can be reported as such
        .build()
        .into();
    let target = Target { spec, dest };
    let staged: [PathBuf; 4] = std::array::from_fn(|i| staging.dir.join(spec.files[i].name));
    let mut origins: [String; 4] = Default::default();
    let mut content_sha: [Option<&str>; 4] = [None; 4];
    match source {
        Source::Zip { url, members } => {
            let zip = staging.dir.join("download.zip");
            download(&agent, url, &zip, None, &target, progress)?;
            let archive_err = |reason: String| -> DataError {
                target
                    .error(|name, dest| FetchError::Archive {
                        url: url.clone(),
                        reason,
                        name,
                        dest,
                    })
                    .into()
            };
            let file = File::open(&zip).map_err(|source| DataError::Io {
                path: zip.clone(),
                source,
            })?;
            let mut archive = zip::ZipArchive::new(BufReader::new(file))
                .map_err(|e| archive_err(e.to_string()))?;
            for (i, (member, sha)) in members.iter().enumerate() {
                origins[i] = format!("{url}#{member}");
                let mut m = archive
                    .by_name(member)
                    .map_err(|e| archive_err(format!("{member}: {e}")))?;
                // Streamed and bounded: a member is inflated by the zip reader, so its size in
                // the archive's directory is no limit.
                let found = copy_bounded(
                    &mut m,
                    &staged[i],
                    compressed_limit(spec, i),
                    &origins[i],
                    dest,
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
            let _ = fs::remove_file(&zip);
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

/// Whether `path` starts with the gzip magic: decides the final name, since a server may have
/// sent the content already decompressed.
fn is_gzip(path: &Path) -> bool {
    let mut magic = [0u8; 2];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == [0x1f, 0x8b]
}

/// An error writing into the destination folder `dest` (or a file staged in it).
fn unwritable(dest: &Path, path: &Path, source: std::io::Error) -> DataError {
    DataError::Unwritable {
        dir: dest.to_path_buf(),
        path: path.to_path_buf(),
        source,
    }
}

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

enum CopyError {
    /// Reading the source failed (the network, or a malformed archive member).
    Read(std::io::Error),
    /// Writing, or a source longer than the limit.
    Other(DataError),
}

/// Copies `from` into a new file `to`, at most `limit` bytes (more is [`DataError::TooLarge`],
/// naming `origin`), and returns the hex sha256 of what was copied. `tick` is called with each
/// chunk's length.
fn copy_bounded(
    from: &mut impl Read,
    to: &Path,
    limit: u64,
    origin: &str,
    dest: &Path,
    mut tick: impl FnMut(u64),
) -> Result<String, CopyError> {
    let write_err = |e| CopyError::Other(unwritable(dest, to, e));
    let mut out = BufWriter::new(File::create(to).map_err(write_err)?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        total += n as u64;
        if total > limit {
            return Err(CopyError::Other(DataError::TooLarge {
                path: PathBuf::from(origin),
                limit,
            }));
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(write_err)?;
        tick(n as u64);
    }
    out.flush().map_err(write_err)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Streams `url` into the file `to`, with a bytes bar, never holding the body in memory and
/// never writing more than `limit` bytes.
fn download(
    agent: &ureq::Agent,
    url: &str,
    to: &Path,
    limit: Option<u64>,
    target: &Target<'_>,
    progress: &Progress,
) -> Result<(), DataError> {
    let failed = |reason: String| -> DataError {
        target
            .error(|name, dest| FetchError::Download {
                url: url.to_string(),
                reason,
                name,
                dest,
            })
            .into()
    };
    let mut response = agent.get(url).call().map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        let status = response.status().to_string();
        return Err(target
            .error(|name, dest| FetchError::Status {
                url: url.to_string(),
                status,
                name,
                dest,
            })
            .into());
    }
    let limit = limit.unwrap_or(u64::MAX);
    let body = response.body_mut();
    if body.content_length().is_some_and(|n| n > limit) {
        return Err(DataError::TooLarge {
            path: PathBuf::from(url),
            limit,
        });
    }
    let label = url.rsplit('/').next().unwrap_or(url);
    let bar = progress.bytes(body.content_length().unwrap_or(0), label);
    if body.content_length().is_none() {
        bar.unset_length();
    }
    let mut reader = body.as_reader();
    // Network and disk failures are told apart: only the former suggest being offline.
    let copied = copy_bounded(&mut reader, to, limit, url, target.dest, |n| bar.inc(n));
    bar.finish_and_clear();
    match copied {
        Ok(_) => Ok(()),
        Err(CopyError::Read(e)) => Err(failed(e.to_string())),
        Err(CopyError::Other(e)) => Err(e),
    }
}

/// The hidden folder a fetch writes into, and the folders created for it. Dropped without a
/// commit (a failed fetch), it removes the staging folder with whatever it holds and then each
/// folder it created, innermost first, so nothing of the attempt stays on disk.
struct Staging {
    dir: PathBuf,
    dest: PathBuf,
    /// Folders this fetch created, outermost first: `dest` and any missing parents. Folders
    /// that existed before are never in it, so never removed.
    created: Vec<PathBuf>,
    committed: bool,
}

impl Staging {
    fn create(dest: &Path) -> Result<Self, DataError> {
        // `dest` and each missing parent, innermost first. A path whose parent is a file counts
        // as missing; creating it then fails with that reason.
        let mut missing = Vec::new();
        let mut p = dest;
        while !p.as_os_str().is_empty() && fs::metadata(p).is_err() {
            missing.push(p.to_path_buf());
            match p.parent() {
                Some(parent) => p = parent,
                None => break,
            }
        }
        // Per process, so two runs fetching the same dataset at once do not collide.
        let mut staging = Self {
            dir: dest.join(format!(".fetch-{}", std::process::id())),
            dest: dest.to_path_buf(),
            created: Vec::new(),
            committed: false,
        };
        for d in missing.into_iter().rev() {
            match fs::create_dir(&d) {
                Ok(()) => staging.created.push(d),
                // Made by someone else meanwhile: not ours to remove.
                Err(e) if e.kind() == ErrorKind::AlreadyExists && d.is_dir() => {}
                // Dropping `staging` removes the folders made so far.
                Err(e) => return Err(unwritable(dest, &d, e)),
            }
        }
        let _ = fs::remove_dir_all(&staging.dir); // left by an earlier, killed process with our pid
        fs::create_dir(&staging.dir).map_err(|e| {
            // The staging folder is an implementation detail: name `dest` alone.
            unwritable(dest, dest, e)
        })?;
        Ok(staging)
    }

    /// Moves the verified files into `dest`, named `.gz` when compressed.
    fn commit(
        mut self,
        staged: &[PathBuf; 4],
        spec: &DatasetSpec,
    ) -> Result<Vec<PathBuf>, DataError> {
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
                return Err(unwritable(&self.dest, &target, e));
            }
            // An older copy under the other name would be found first by `locate`.
            let _ = fs::remove_file(self.dest.join(other));
            written.push(target);
        }
        self.committed = true;
        Ok(written)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
        if !self.committed {
            for d in self.created.iter().rev() {
                // Only succeeds when empty: whatever someone else put there meanwhile stays.
                let _ = fs::remove_dir(d);
            }
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
