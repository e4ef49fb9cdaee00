//! Reading experiment configs and the errors of configurations that cannot run.
//!
//! A config is one TOML file of tables (`[run]`, `[data]`, `[model]`, `[train]`,
//! `[privacy]`, and each experiment's own); unknown keys are rejected so a typo never passes
//! silently, and a file in the old flat layout is refused with the new place of each key.
//! Precedence: command-line flag > config file > built-in default.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A configuration that cannot be run. Always the user's to fix: exit code 2.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // variant fields are named in the messages
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The config file is not valid TOML for this experiment.
    #[error("invalid config {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// A value outside its allowed range.
    #[error("invalid {name} = {value}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    /// A backend that this build does not include.
    #[error("backend {0} is not available in this build: {1}")]
    Backend(String, String),
    /// A config in the flat layout of ppml before the tables: each moved key and its new place.
    #[error(
        "config {} uses the old flat layout; move {}. See the README's \"Config files\" section",
        path.display(),
        moved.join(", ")
    )]
    OldLayout { path: PathBuf, moved: Vec<String> },
    /// A checkpoint that does not fit the configured model.
    #[error("cannot load checkpoint {}: {reason}", path.display())]
    Checkpoint { path: PathBuf, reason: String },
}

impl ConfigError {
    /// Shorthand for [`ConfigError::Invalid`].
    pub fn invalid(name: &'static str, value: impl ToString, reason: impl Into<String>) -> Self {
        Self::Invalid {
            name,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// Where a key of the old flat layout went: `(old key, new place)`, such as
/// `("epochs", "[train]")` or `("model", "[model] kind")`. A dotted old key names a key in a
/// table (`"quantile.model"`).
pub type MovedKey = (&'static str, &'static str);

/// Reads a TOML config file into `T`, first refusing a file in the old flat layout: every key
/// of `moved` that the file still uses is named with its new place, all at once. An old key
/// that is now a table of the same name (`model`, now `[model]`) counts only when its value is
/// not a table.
pub fn load_config<T: DeserializeOwned>(path: &Path, moved: &[MovedKey]) -> Result<T, ConfigError> {
    parse_config(&read_config(path)?, path, moved)
}

/// The text of the config file at `path`.
pub fn read_config(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// [`load_config`] of a config's text (`path` names it in errors): what `ppml sweep` checks
/// its runs' configs with before writing them.
pub fn parse_config<T: DeserializeOwned>(
    text: &str,
    path: &Path,
    moved: &[MovedKey],
) -> Result<T, ConfigError> {
    let parse_error = |e: toml::de::Error| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    };
    let table: toml::Table = toml::from_str(text).map_err(parse_error)?;
    let old: Vec<String> = moved
        .iter()
        .filter(|(key, new)| match lookup(&table, key) {
            None => false,
            // A table where the new layout has a table of this very name is the new layout.
            Some(toml::Value::Table(_)) => !new.starts_with(&format!("[{key}]")),
            Some(_) => true,
        })
        .map(|(key, new)| format!("`{key}` to {new}"))
        .collect();
    if !old.is_empty() {
        return Err(ConfigError::OldLayout {
            path: path.to_path_buf(),
            moved: old,
        });
    }
    toml::from_str(text).map_err(parse_error)
}

/// The value at a dotted `key` of `table` (`"quantile.model"`), if any.
fn lookup<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let (first, rest) = match key.split_once('.') {
        Some((first, rest)) => (first, Some(rest)),
        None => (key, None),
    };
    let value = table.get(first)?;
    match (value, rest) {
        (_, None) => Some(value),
        (toml::Value::Table(inner), Some(rest)) => lookup(inner, rest),
        _ => None,
    }
}

/// Checks that `value` is a finite number above zero.
pub fn positive(name: &'static str, value: f64) -> Result<f64, ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(ConfigError::invalid(
            name,
            value,
            "must be a finite number above 0",
        ))
    }
}

/// Checks that `value` is at least 1.
pub fn at_least_one(name: &'static str, value: usize) -> Result<usize, ConfigError> {
    if value >= 1 {
        Ok(value)
    } else {
        Err(ConfigError::invalid(name, value, "must be at least 1"))
    }
}

/// Checks that a count is between 1 and `max`. The upper bounds are far beyond any real run;
/// they turn a typo such as `epochs = 18446744073709551615` (a run that would never end, or
/// overflow the step count) into a message instead.
pub fn count_in(name: &'static str, value: usize, max: usize) -> Result<usize, ConfigError> {
    at_least_one(name, value)?;
    if value > max {
        return Err(ConfigError::invalid(
            name,
            value,
            format!("must be at most {max}: a run this long would never finish"),
        ));
    }
    Ok(value)
}

/// Most passes over a training set any run may ask for.
pub const MAX_EPOCHS: usize = 100_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Tiny {
        #[allow(dead_code)]
        epochs: usize,
    }

    #[test]
    fn unknown_keys_are_reported_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "epochs = 1\nepoch = 2\n").unwrap();
        let err = load_config::<Tiny>(&p, &[]).unwrap_err().to_string();
        assert!(err.contains("c.toml") && err.contains("epoch"), "{err}");
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Tables {
        #[allow(dead_code)]
        model: toml::Table,
    }

    #[test]
    fn an_old_flat_config_names_the_new_place_of_every_moved_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.toml");
        let moved = [
            ("epochs", "[train]"),
            ("model", "[model] kind"),
            ("quantile.model", "[quantile.model] kind"),
            ("lr", "[train]"),
        ];
        std::fs::write(
            &p,
            "epochs = 3\nmodel = \"mlp\"\n[quantile]\nmodel = \"cnn\"\n",
        )
        .unwrap();
        let err = load_config::<Tables>(&p, &moved).unwrap_err().to_string();
        assert!(err.contains("old.toml uses the old flat layout"), "{err}");
        assert!(
            err.contains("`epochs` to [train], `model` to [model] kind, `quantile.model` to [quantile.model] kind"),
            "{err}"
        );
        assert!(!err.contains("`lr`"), "{err}");
        // The new layout: `model` is a table.
        std::fs::write(&p, "[model]\nkind = \"mlp\"\n").unwrap();
        load_config::<Tables>(&p, &moved).unwrap();
    }

    #[test]
    fn non_positive_and_nan_values_are_rejected() {
        assert!(positive("lr", 0.0).is_err());
        assert!(positive("lr", f64::NAN).is_err());
        assert!(positive("lr", 0.1).is_ok());
        assert!(at_least_one("epochs", 0).is_err());
    }
}
