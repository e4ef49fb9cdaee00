//! Restoring trained weights (burn's burnpack format); `report::save_checkpoint` writes them.

use std::path::Path;

use burn::module::Module;

use crate::config::ConfigError;
use crate::model::Classifier;

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
