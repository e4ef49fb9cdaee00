//! The ways to get a dataset without this machine downloading it: another dataset, or a
//! step-by-step manual install, worded for error messages.

use std::path::Path;

use super::source::{Source, official_source};
use crate::data::{DatasetName, fetch_dir};

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
