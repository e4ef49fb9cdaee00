//! Reading experiment configs and the errors of configurations that cannot run.
//!
//! A config is one flat TOML file; unknown keys are rejected so a typo never passes silently.
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

/// Reads a TOML config file into `T`.
pub fn load_toml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    })
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
        let err = load_toml::<Tiny>(&p).unwrap_err().to_string();
        assert!(err.contains("c.toml") && err.contains("epoch"), "{err}");
    }

    #[test]
    fn non_positive_and_nan_values_are_rejected() {
        assert!(positive("lr", 0.0).is_err());
        assert!(positive("lr", f64::NAN).is_err());
        assert!(positive("lr", 0.1).is_ok());
        assert!(at_least_one("epochs", 0).is_err());
    }
}
