//! A run's output folder, which changes all at once or not at all.
//!
//! A run writes several files (`metrics.json` beside a checkpoint or a plot). Renaming each into
//! place on its own would leave, after a failure between two renames, a new model beside old
//! metrics. Instead, [`OutputDir::prepare`] checks before any compute that the folder can be
//! written, [`OutputDir::stage`] collects the finished files in a hidden folder inside it, and
//! [`Staged::commit`] moves them in with `metrics.json` — the file every reader starts from —
//! last, after the old `metrics.json` has been moved aside. A reader therefore sees either the
//! old run complete, or (for the moment of the renames) no run, or the new run complete. When
//! any rename fails, everything is moved back as it was. A run that fails before committing
//! removes the folders it created, so a rejected run leaves nothing behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use serde::Serialize;

use super::ReportError;
use super::npy::{NpyElement, npy_bytes};
use crate::model::Classifier;

/// The file every reader of a results folder starts from; committed last.
pub const METRICS: &str = "metrics.json";

/// Prefix of the staging folder (followed by the process id).
const STAGING_PREFIX: &str = ".ppml-staging-";

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An output folder checked for writing, before the run computes anything.
#[derive(Debug)]
pub struct OutputDir {
    out: PathBuf,
    files: Vec<String>,
    /// Folders this run created, outermost first: removed again unless the run commits.
    created: Vec<PathBuf>,
    committed: bool,
}

impl OutputDir {
    /// Creates `out` if needed and checks that `files` (the names the run will write) can be
    /// written there: none of them may be a folder, and a probe file must be creatable. Also
    /// removes staging folders left by runs that were killed while committing.
    pub fn prepare(out: &Path, files: &[&str]) -> Result<Self, ReportError> {
        if out.exists() && !out.is_dir() {
            return Err(ReportError::Io {
                path: out.to_path_buf(),
                source: std::io::Error::other("exists and is not a folder"),
            });
        }
        let mut created = Vec::new();
        let mut missing = out.to_path_buf();
        while !missing.as_os_str().is_empty() && !missing.exists() {
            created.push(missing.clone());
            match missing.parent() {
                Some(p) => missing = p.to_path_buf(),
                None => break,
            }
        }
        created.reverse();
        let dir = Self {
            out: out.to_path_buf(),
            files: files.iter().map(|f| f.to_string()).collect(),
            created,
            committed: false,
        };
        std::fs::create_dir_all(out).map_err(io_error(out))?;
        for name in files {
            let path = out.join(name);
            if path.is_dir() {
                return Err(ReportError::Io {
                    path,
                    source: std::io::Error::other("is a folder, so the run could not write it"),
                });
            }
        }
        let probe = out.join(format!("{STAGING_PREFIX}{}.probe", std::process::id()));
        std::fs::File::create(&probe)
            .and_then(|mut f| f.write_all(b"probe"))
            .map_err(io_error(out))?;
        let _ = std::fs::remove_file(&probe);
        dir.remove_stale_staging();
        Ok(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.out
    }

    /// Removes staging folders whose process no longer runs (a run killed mid-commit).
    fn remove_stale_staging(&self) {
        let Ok(entries) = std::fs::read_dir(&self.out) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix(STAGING_PREFIX) else {
                continue;
            };
            let alive = pid.parse::<u32>().is_ok_and(|pid| {
                pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
            });
            if !alive && entry.path().is_dir() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// Starts collecting the run's files in a hidden folder inside the output folder (the same
    /// file system, so the final renames are atomic).
    pub fn stage(self) -> Result<Staged, ReportError> {
        let dir = self
            .out
            .join(format!("{STAGING_PREFIX}{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io_error(&dir))?;
        }
        std::fs::create_dir(&dir).map_err(io_error(&dir))?;
        Ok(Staged {
            output: self,
            dir,
            retired: Vec::new(),
        })
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.committed {
            // Only folders this run created, innermost first, and only while still empty.
            for dir in self.created.iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

/// Files of a finished run, waiting in the staging folder to be committed.
#[derive(Debug)]
pub struct Staged {
    output: OutputDir,
    dir: PathBuf,
    /// Files an older run left that this run does not write, removed by the commit.
    retired: Vec<String>,
}

impl Staged {
    /// Where to write the staged file `name` (one of the names given to
    /// [`OutputDir::prepare`]; `case/grid.png` puts it in a subfolder, created here).
    pub fn path(&self, name: &str) -> PathBuf {
        debug_assert!(self.output.files.iter().any(|f| f == name), "{name}");
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            // Failing here surfaces as the error of the write that follows.
            let _ = std::fs::create_dir_all(parent);
        }
        path
    }

    /// Serializes `value` as pretty JSON into the staged file `name`.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), ReportError> {
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        let path = self.path(name);
        std::fs::File::create(&path)
            .and_then(|mut f| {
                f.write_all(text.as_bytes())?;
                f.sync_all()
            })
            .map_err(io_error(&self.output.out.join(name)))
    }

    /// Writes `model`'s weights (burn's burnpack format) into the staged file `name`.
    pub fn write_checkpoint(&self, name: &str, model: &Classifier) -> Result<(), ReportError> {
        model
            .clone()
            .save_file(self.path(name))
            .map_err(|e| ReportError::Io {
                path: self.output.out.join(name),
                source: std::io::Error::other(e.to_string()),
            })
    }

    /// Writes a C-order array of `shape` as NumPy `.npy` into the staged file `name`.
    pub fn write_npy<T: NpyElement>(
        &self,
        name: &str,
        shape: &[usize],
        values: &[T],
    ) -> Result<(), ReportError> {
        let bytes = npy_bytes(shape, values);
        std::fs::File::create(self.path(name))
            .and_then(|mut f| {
                f.write_all(&bytes)?;
                f.sync_all()
            })
            .map_err(io_error(&self.output.out.join(name)))
    }

    /// Marks `name`, a file this run does not write, for removal when it commits: an older
    /// run's output that would otherwise sit beside this run's `metrics.json` as if it were
    /// this run's (LiRA's scores after a rerun without shadows). Restored if the commit fails.
    pub fn retire(&mut self, name: &str) {
        debug_assert!(!self.output.files.iter().any(|f| f == name), "{name}");
        self.retired.push(name.to_string());
    }

    /// Moves the staged files into the output folder, `metrics.json` last; on any failure puts
    /// back what was there before and returns the error.
    pub fn commit(mut self) -> Result<(), ReportError> {
        let out = self.output.out.clone();
        let mut order: Vec<String> = self.output.files.clone();
        // metrics.json goes out first and comes in last.
        order.sort_by_key(|f| f == METRICS);
        // A folder where a file must go is refused before anything moves: moving it aside
        // would put someone's folder into the staging area.
        for name in &order {
            let target = out.join(name);
            if target.is_dir() {
                return Err(ReportError::Io {
                    path: target,
                    source: std::io::Error::other("is a folder, so the run could not write it"),
                });
            }
        }
        let old = self.dir.join("old");
        std::fs::create_dir(&old).map_err(io_error(&old))?;
        let mut moved_aside = Vec::new();
        let mut placed = Vec::new();
        // Subfolders of the output folder this commit creates (a case's folder).
        let mut made = Vec::new();
        let result = (|| -> Result<(), ReportError> {
            // Retired files go aside with the replaced ones and are deleted with them.
            let retired = self.retired.iter().filter(|name| out.join(name).is_file());
            let replaced = order.iter().rev().filter(|name| out.join(name).exists());
            for name in retired.chain(replaced) {
                let (target, aside) = (out.join(name), old.join(name));
                make_parent(&aside, None)?;
                std::fs::rename(&target, aside).map_err(io_error(&target))?;
                moved_aside.push(name.clone());
            }
            for name in &order {
                let target = out.join(name);
                make_parent(&target, Some(&mut made))?;
                std::fs::rename(self.dir.join(name), &target).map_err(io_error(&target))?;
                placed.push(name.clone());
            }
            Ok(())
        })();
        if result.is_err() {
            for name in placed.iter().rev() {
                let _ = std::fs::rename(out.join(name), self.dir.join(name));
            }
            for name in &moved_aside {
                let _ = std::fs::rename(old.join(name), out.join(name));
            }
            for dir in made.iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
        } else {
            self.output.committed = true;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        self.dir = PathBuf::new();
        result
    }
}

/// Creates the missing folders above `path`, recording in `made` (outermost first) the ones it
/// created.
fn make_parent(path: &Path, made: Option<&mut Vec<PathBuf>>) -> Result<(), ReportError> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    let mut missing = Vec::new();
    let mut at = parent;
    while !at.exists() {
        missing.push(at.to_path_buf());
        match at.parent() {
            Some(p) => at = p,
            None => break,
        }
    }
    std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    if let Some(made) = made {
        made.extend(missing.into_iter().rev());
    }
    Ok(())
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn run(out: &Path, model: &str, metrics: &str) -> Result<(), ReportError> {
        let dir = OutputDir::prepare(out, &["model.bpk", METRICS])?;
        let staged = dir.stage()?;
        std::fs::write(staged.path("model.bpk"), model).unwrap();
        staged.write_json(METRICS, &metrics)?;
        staged.commit()
    }

    #[test]
    fn a_commit_replaces_every_file_and_leaves_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("a/b");
        run(&out, "m1", "r1").unwrap();
        run(&out, "m2", "r2").unwrap();
        assert_eq!(names(&out), ["metrics.json", "model.bpk"]);
        assert_eq!(
            std::fs::read_to_string(out.join("model.bpk")).unwrap(),
            "m2"
        );
        assert!(
            std::fs::read_to_string(out.join(METRICS))
                .unwrap()
                .contains("r2")
        );
    }

    #[test]
    fn a_retired_file_goes_with_the_commit_and_comes_back_when_it_fails() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let older = OutputDir::prepare(&out, &["scores-lira.npy", METRICS]).unwrap();
        let staged = older.stage().unwrap();
        std::fs::write(staged.path("scores-lira.npy"), "old").unwrap();
        staged.write_json(METRICS, &"r1").unwrap();
        staged.commit().unwrap();

        // A failing rerun without LiRA: the older scores stay with the older metrics.
        let dir = OutputDir::prepare(&out, &["model.bpk", METRICS]).unwrap();
        let mut staged = dir.stage().unwrap();
        std::fs::write(staged.path("model.bpk"), "m2").unwrap();
        staged.retire("scores-lira.npy");
        assert!(staged.commit().is_err()); // no metrics.json staged
        assert_eq!(names(&out), ["metrics.json", "scores-lira.npy"]);

        // A rerun that commits leaves only its own files.
        let dir = OutputDir::prepare(&out, &["model.bpk", METRICS]).unwrap();
        let mut staged = dir.stage().unwrap();
        std::fs::write(staged.path("model.bpk"), "m3").unwrap();
        staged.write_json(METRICS, &"r3").unwrap();
        staged.retire("scores-lira.npy");
        staged.retire("never-written.npy");
        staged.commit().unwrap();
        assert_eq!(names(&out), ["metrics.json", "model.bpk"]);
    }

    #[test]
    fn a_failed_commit_puts_the_old_run_back() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        run(&out, "m1", "r1").unwrap();
        let dir = OutputDir::prepare(&out, &["model.bpk", "plot.png", METRICS]).unwrap();
        let staged = dir.stage().unwrap();
        std::fs::write(staged.path("model.bpk"), "m2").unwrap();
        std::fs::write(staged.path("plot.png"), "p2").unwrap();
        // metrics.json is missing from the stage, so its rename (the last) fails after the
        // model and the plot were already moved in.
        assert!(staged.commit().is_err());
        assert_eq!(
            std::fs::read_to_string(out.join("model.bpk")).unwrap(),
            "m1"
        );
        assert!(
            std::fs::read_to_string(out.join(METRICS))
                .unwrap()
                .contains("r1")
        );
        assert_eq!(names(&out), ["metrics.json", "model.bpk"]);

        // A folder that appears where a file must go, after the check: refused, and kept.
        let dir = OutputDir::prepare(&out, &["model.bpk", "plot.png", METRICS]).unwrap();
        let staged = dir.stage().unwrap();
        std::fs::write(staged.path("model.bpk"), "m3").unwrap();
        std::fs::write(staged.path("plot.png"), "p3").unwrap();
        staged.write_json(METRICS, &"r3").unwrap();
        std::fs::create_dir_all(out.join("plot.png/x")).unwrap();
        assert!(staged.commit().is_err());
        assert!(out.join("plot.png/x").is_dir());
        assert_eq!(
            std::fs::read_to_string(out.join("model.bpk")).unwrap(),
            "m1"
        );
    }

    #[test]
    fn files_in_subfolders_commit_and_a_failed_commit_removes_the_folders_it_made() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let files = ["case-a/grid.png", "case-b/grid.png", METRICS];
        let staged = OutputDir::prepare(&out, &files).unwrap().stage().unwrap();
        std::fs::write(staged.path("case-a/grid.png"), "a1").unwrap();
        std::fs::write(staged.path("case-b/grid.png"), "b1").unwrap();
        staged.write_json(METRICS, &"r1").unwrap();
        staged.commit().unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("case-b/grid.png")).unwrap(),
            "b1"
        );
        // A second run with a new case fails at its last rename: the new case's folder goes,
        // the old files come back.
        let files = ["case-a/grid.png", "case-c/grid.png", METRICS];
        let staged = OutputDir::prepare(&out, &files).unwrap().stage().unwrap();
        std::fs::write(staged.path("case-a/grid.png"), "a2").unwrap();
        std::fs::write(staged.path("case-c/grid.png"), "c2").unwrap();
        assert!(staged.commit().is_err());
        assert_eq!(
            std::fs::read_to_string(out.join("case-a/grid.png")).unwrap(),
            "a1"
        );
        assert!(!out.join("case-c").exists());
        assert_eq!(names(&out), ["case-a", "case-b", "metrics.json"]);
    }

    #[test]
    fn a_folder_in_the_way_is_found_before_the_run_and_created_folders_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir_all(out.join("roc.png")).unwrap();
        let err = OutputDir::prepare(&out, &["roc.png", METRICS]).unwrap_err();
        assert!(err.to_string().contains("roc.png"), "{err}");
        // A run that fails after preparing leaves no folder it created.
        let fresh = tmp.path().join("x/y/z");
        drop(OutputDir::prepare(&fresh, &[METRICS]).unwrap());
        assert!(!tmp.path().join("x").exists());
        // An uncommitted stage leaves nothing either.
        let staged = OutputDir::prepare(&fresh, &[METRICS])
            .unwrap()
            .stage()
            .unwrap();
        staged.write_json(METRICS, &1).unwrap();
        drop(staged);
        assert!(!tmp.path().join("x").exists());
    }
}
