//! The hidden staging folder a fetch writes into: committed into `dest` all at once, or removed
//! with every folder the fetch created.

use std::fs::{self, File};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use crate::data::{DataError, DatasetSpec};

/// The hidden folder a fetch writes into, and the folders created for it. Dropped without a
/// commit (a failed fetch), it removes the staging folder with whatever it holds and then each
/// folder it created, innermost first, so nothing of the attempt stays on disk.
pub(super) struct Staging {
    /// The hidden folder itself, inside `dest`.
    pub(super) dir: PathBuf,
    dest: PathBuf,
    /// Folders this fetch created, outermost first: `dest` and any missing parents. Folders
    /// that existed before are never in it, so never removed.
    created: Vec<PathBuf>,
    committed: bool,
}

impl Staging {
    pub(super) fn create(dest: &Path) -> Result<Self, DataError> {
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
    pub(super) fn commit(
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
pub(super) fn unwritable(dest: &Path, path: &Path, source: std::io::Error) -> DataError {
    DataError::Unwritable {
        dir: dest.to_path_buf(),
        path: path.to_path_buf(),
        source,
    }
}
