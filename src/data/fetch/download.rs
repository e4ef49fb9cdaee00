//! Streaming a download to disk: a bytes bar, a size cap, and network failures told apart from
//! disk ones.

use std::fs::File;
use std::io::{BufWriter, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::staging::unwritable;
use super::{FetchError, Target};
use crate::data::DataError;
use crate::progress::Progress;

/// Short enough that an offline machine fails fast, long enough for a slow first handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// A server that accepts the connection but never answers is as good as unreachable.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// The HTTP client every download of one fetch shares.
pub(super) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(RESPONSE_TIMEOUT))
        .http_status_as_error(false) // so a 404 can be reported as such
        .build()
        .into()
}

/// Why [`copy_bounded`] failed.
pub(super) enum CopyError {
    /// Reading the source failed (the network, or a malformed archive member).
    Read(std::io::Error),
    /// Writing, or a source longer than the limit.
    Other(DataError),
}

/// Copies `from` into a new file `to`, at most `limit` bytes (more is [`DataError::TooLarge`],
/// naming `origin`), and returns the hex sha256 of what was copied. `tick` is called with each
/// chunk's length.
pub(super) fn copy_bounded(
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
pub(super) fn download(
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
