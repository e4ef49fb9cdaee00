//! Records the git commit the binary is built from, and whether the work tree had uncommitted
//! changes, so that every metrics.json can be traced to its code (`provenance` in the results).
//! Outside a git checkout (a crates.io package, a tarball) both are left unset.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    // Rerun when the commit, the index or the sources change (not on every results file).
    for path in [
        ".git/HEAD",
        ".git/index",
        ".git/refs/heads",
        "src",
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
    if let Some(commit) = git(&["rev-parse", "HEAD"]).filter(|c| !c.is_empty()) {
        println!("cargo:rustc-env=PPML_GIT_COMMIT={commit}");
        // Changes to tracked files only: untracked run outputs do not make a build dirty.
        let dirty =
            git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        println!("cargo:rustc-env=PPML_GIT_DIRTY={dirty}");
    }
}
