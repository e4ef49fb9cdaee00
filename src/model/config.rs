//! What describes a classifier: its kind, widths, activation and input/output sizes.

use serde::{Deserialize, Serialize};

use super::Activation;
use super::lenet::MIN_SIDE;
use crate::config::{ConfigError, at_least_one};

/// The three model families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Fully connected: `side² → hidden… → classes`.
    Mlp,
    /// Papernot et al.'s CNN: conv 8×8/2 → maxpool 2/1 → conv 4×4/2 → maxpool 2/1 → dense → dense.
    #[default]
    Cnn,
    /// DLG's LeNet (Zhu et al. 2019): three 5×5 convs of 12 channels (strides 2, 2, 1) → dense;
    /// fixed widths; DLG's with sigmoid.
    Lenet,
}

/// A complete model description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// MLP, CNN or LeNet.
    pub kind: ModelKind,
    /// Nonlinearity between layers.
    pub activation: Activation,
    /// MLP hidden widths (e.g. `[256]` for 784-256-10).
    pub mlp_hidden: Vec<usize>,
    /// CNN channels of the two conv layers (Papernot et al.: `[16, 32]`).
    pub cnn_channels: [usize; 2],
    /// CNN width of the hidden dense layer (Papernot et al.: 32).
    pub cnn_dense: usize,
    /// Image side length.
    pub side: usize,
    /// Number of classes.
    pub classes: usize,
}

impl ModelConfig {
    /// Checks every width.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for &h in &self.mlp_hidden {
            at_least_one("mlp_hidden", h)?;
        }
        for &c in &self.cnn_channels {
            at_least_one("cnn_channels", c)?;
        }
        at_least_one("cnn_dense", self.cnn_dense)?;
        if self.kind == ModelKind::Cnn && self.side < 16 {
            return Err(ConfigError::invalid(
                "side",
                self.side,
                "the CNN needs images of at least 16×16",
            ));
        }
        if self.kind == ModelKind::Lenet && self.side < MIN_SIDE {
            return Err(ConfigError::invalid(
                "side",
                self.side,
                format!(
                    "LeNet needs images of at least {MIN_SIDE}×{MIN_SIDE}: its two stride-2 \
                     convolutions divide the side by 4"
                ),
            ));
        }
        Ok(())
    }
}
