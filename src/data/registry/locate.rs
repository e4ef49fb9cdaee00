//! Where a dataset's files are looked for, in order, and where a fetch writes them.

use std::path::{Path, PathBuf};

use super::DatasetName;
use crate::data::DataError;

/// Environment variable naming a folder of datasets.
pub const DATA_DIR_ENV: &str = "PPML_DATA_DIR";
/// Where Debian's `dataset-fashion-mnist` package puts its files.
pub const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// The four files of a dataset found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The folder they are in.
    pub dir: PathBuf,
    /// Train images, train labels, test images, test labels (each raw or `.gz`).
    pub files: [PathBuf; 4],
}

/// The folders searched for `name`, in order, given an optional `--data-dir`.
pub fn search_dirs(name: DatasetName, data_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let env_dir = std::env::var_os(DATA_DIR_ENV).map(PathBuf::from);
    for root in data_dir.map(Path::to_path_buf).into_iter().chain(env_dir) {
        dirs.push(root.join(name.as_str()));
        dirs.push(root);
    }
    dirs.push(Path::new("data").join(name.as_str()));
    if name == DatasetName::FashionMnist {
        dirs.push(PathBuf::from(DEBIAN_FASHION_MNIST));
    }
    dirs
}

/// The folder `ppml data fetch` writes `name` into.
pub fn fetch_dir(name: DatasetName, data_dir: Option<&Path>) -> PathBuf {
    let root = data_dir
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(DATA_DIR_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("data"));
    root.join(name.as_str())
}

/// The path of `file` in `dir`, raw or gzip, if present.
fn find_file(dir: &Path, file: &str) -> Option<PathBuf> {
    [file.to_string(), format!("{file}.gz")]
        .into_iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

/// Finds the first folder holding all four files of `name`.
pub fn locate(name: DatasetName, data_dir: Option<&Path>) -> Result<Located, DataError> {
    let spec = name.spec();
    let searched = search_dirs(name, data_dir);
    for dir in &searched {
        let found: Vec<PathBuf> = spec
            .files
            .iter()
            .filter_map(|f| find_file(dir, f.name))
            .collect();
        if let Ok(files) = <[PathBuf; 4]>::try_from(found) {
            return Ok(Located {
                dir: dir.clone(),
                files,
            });
        }
    }
    Err(DataError::NotFound { name, searched })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_is_searched_before_the_defaults() {
        let dirs = search_dirs(DatasetName::FashionMnist, Some(Path::new("/x")));
        assert_eq!(dirs[0], Path::new("/x/fashion-mnist"));
        assert_eq!(dirs[1], Path::new("/x"));
        assert_eq!(dirs.last().unwrap(), Path::new(DEBIAN_FASHION_MNIST));
    }
}
