//! Opening a dataset file, raw or gzip (the content decides), and checksumming its content
//! without ever decompressing past a cap.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use crate::data::DataError;

/// The hex sha256 of a file's uncompressed content, streamed: never more than `max_len` bytes
/// are decompressed, and a file holding more is an error ([`DataError::TooLarge`]).
pub(crate) fn content_sha256(path: &Path, max_len: u64) -> Result<String, DataError> {
    let (mut input, _) = open_maybe_gzip(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(input.error(e)),
        };
        total += n as u64;
        if total > max_len {
            return Err(DataError::TooLarge {
                path: path.to_path_buf(),
                limit: max_len,
            });
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A file opened for reading, decompressed when it starts with the gzip magic (the content
/// decides, not the name). Remembers which, so read errors can be reported as the right kind.
pub(super) struct Input<'a> {
    path: &'a Path,
    reader: Box<dyn Read + 'a>,
    gzip: bool,
}

impl Input<'_> {
    pub(super) fn error(&self, e: std::io::Error) -> DataError {
        // The decoder reports a malformed or cut-off stream with these kinds; anything else is
        // the file system's.
        let malformed = matches!(
            e.kind(),
            ErrorKind::InvalidData | ErrorKind::InvalidInput | ErrorKind::UnexpectedEof
        );
        if self.gzip && malformed {
            DataError::CorruptGzip {
                path: self.path.to_path_buf(),
                reason: e.to_string(),
            }
        } else {
            DataError::Io {
                path: self.path.to_path_buf(),
                source: e,
            }
        }
    }
}

impl Read for Input<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }
}

/// Opens `path`; the second value is the file's length when it is not compressed.
pub(super) fn open_maybe_gzip(path: &Path) -> Result<(Input<'_>, Option<u64>), DataError> {
    let io_err = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    let mut reader = BufReader::new(file);
    let gzip = reader
        .fill_buf()
        .map_err(io_err)?
        .starts_with(&[0x1f, 0x8b]);
    let input = Input {
        path,
        reader: if gzip {
            Box::new(MultiGzDecoder::new(reader))
        } else {
            Box::new(reader)
        },
        gzip,
    };
    Ok((input, (!gzip).then_some(len)))
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
pub(super) fn read_full(input: &mut Input<'_>, buf: &mut [u8]) -> Result<usize, DataError> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(input.error(e)),
        }
    }
    Ok(filled)
}
