//! The `[data]` table: which dataset a run reads, and how much of it.

use serde::{Deserialize, Serialize};

use super::{Dataset, DatasetName};
use crate::config::{ConfigError, at_least_one};

/// The dataset and optional caps on its splits. A `[data]` table in TOML.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSpec {
    /// The dataset (default: EMNIST letters, the reference results' dataset).
    pub dataset: DatasetName,
    /// Use only the first N training examples.
    pub train_limit: Option<usize>,
    /// Use only the first N test examples.
    pub test_limit: Option<usize>,
}

impl DataSpec {
    /// Checks that a given cap is at least 1.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(n) = self.train_limit {
            at_least_one("train_limit", n)?;
        }
        if let Some(n) = self.test_limit {
            at_least_one("test_limit", n)?;
        }
        Ok(())
    }

    /// Caps both at `train` / `test` (as `--quick` does): a given cap is kept if smaller.
    pub fn cap(&mut self, train: usize, test: usize) {
        self.train_limit = Some(self.train_limit.map_or(train, |n| n.min(train)));
        self.test_limit = Some(self.test_limit.map_or(test, |n| n.min(test)));
    }

    /// The training examples this spec uses.
    pub fn train_part(&self, train: &Dataset) -> Dataset {
        limit(train, self.train_limit)
    }

    /// The test examples this spec uses.
    pub fn test_part(&self, test: &Dataset) -> Dataset {
        limit(test, self.test_limit)
    }
}

/// The first `n` examples of `data` (all of them for `None`).
fn limit(data: &Dataset, n: Option<usize>) -> Dataset {
    match n {
        Some(n) if n < data.len() => data.take(n),
        _ => data.clone(),
    }
}
