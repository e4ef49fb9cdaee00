//! Where a result came from: the command line, the code (git commit, and whether the build's
//! tree had uncommitted changes) and the data (sha256 of every file read), so that a number
//! in a table can be traced back to exactly what produced it.

use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::data::DataError;

/// One data file a run read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataFile {
    /// Its path, as found.
    pub path: String,
    /// sha256 of its bytes on disk (compressed, when it is a `.gz`).
    pub sha256: String,
}

/// The `provenance` block of every `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    /// The command line, program name first.
    pub command: Vec<String>,
    /// The commit the binary was built from (`null` outside a git checkout).
    pub git_commit: Option<&'static str>,
    /// Whether tracked files had uncommitted changes when it was built (`null` likewise).
    pub git_dirty: Option<bool>,
    /// The config file the run read, with the checksum of the text it parsed (`null`: the
    /// built-in defaults): what `ppml sweep` compares to tell a finished run from a changed one.
    pub config_file: Option<DataFile>,
    /// The data files read, with their checksums.
    pub data_files: Vec<DataFile>,
}

impl Provenance {
    /// This process's command line and build, with no data files yet.
    pub fn of_this_process() -> Self {
        Self {
            command: std::env::args().collect(),
            config_file: None,
            git_commit: option_env!("PPML_GIT_COMMIT"),
            git_dirty: option_env!("PPML_GIT_DIRTY").map(|d| d == "true"),
            data_files: Vec::new(),
        }
    }
}

/// sha256 of `bytes`, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Bytes as lowercase hex digits.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of the file at `path`, streamed.
pub fn file_sha256(path: &Path) -> Result<DataFile, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(DataFile {
        path: path.display().to_string(),
        sha256: hex(&hasher.finalize()),
    })
}
