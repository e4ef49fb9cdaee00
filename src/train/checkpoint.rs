//! Saving and restoring trained weights (burn's burnpack format).

use std::path::Path;

use burn::module::Module;

use crate::config::ConfigError;
use crate::model::Classifier;
use crate::report::ReportError;

/// Writes the model's weights to `path`.
pub fn save_checkpoint(model: &Classifier, path: &Path) -> Result<(), ReportError> {
    model.clone().save_file(path).map_err(|e| ReportError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// Loads weights from `path` into `model`, which must have the same architecture.
pub fn load_checkpoint(model: Classifier, path: &Path) -> Result<Classifier, ConfigError> {
    if !path.is_file() {
        let reason = if path.is_dir() {
            "it is a folder; give the model.bpk file inside a run's folder"
        } else {
            "no such file"
        };
        return Err(ConfigError::Checkpoint {
            path: path.to_path_buf(),
            reason: reason.into(),
        });
    }
    model
        .try_load_file(path)
        .map_err(|e| ConfigError::Checkpoint {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}
