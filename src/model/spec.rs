//! The `[model]` table: which network, with which widths and activation. Every model ppml
//! builds comes from one — the classifier a run trains, a membership target, LiRA's shadows,
//! the attacker's quantile regressor, the federated global model — and [`ModelSpec::for_data`]
//! is the one place a [`ModelConfig`] is made from it and the data's shape.

use serde::{Deserialize, Serialize};

use super::{Activation, ModelConfig, ModelKind};
use crate::config::ConfigError;

/// A network's description, without the data's shape. A `[model]` table in TOML; every key is
/// optional (the default is Papernot et al.'s tanh CNN) and unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSpec {
    /// Model family: `mlp`, `cnn` or `lenet` (DLG's LeNet, whose widths are fixed: the
    /// `mlp_hidden`, `cnn_channels` and `cnn_dense` keys do not apply to it).
    pub kind: ModelKind,
    /// Nonlinearity between layers.
    pub activation: Activation,
    /// MLP hidden widths (`[256]` is 784-256-10).
    pub mlp_hidden: Vec<usize>,
    /// CNN channels of the two conv layers (Papernot et al.: `[16, 32]`).
    pub cnn_channels: [usize; 2],
    /// CNN width of the hidden dense layer (Papernot et al.: 32).
    pub cnn_dense: usize,
}

impl Default for ModelSpec {
    /// Papernot et al. 2021's tanh CNN (16/32 channels, dense 32).
    fn default() -> Self {
        Self {
            kind: ModelKind::Cnn,
            activation: Activation::Tanh,
            mlp_hidden: vec![256],
            cnn_channels: [16, 32],
            cnn_dense: 32,
        }
    }
}

impl ModelSpec {
    /// An MLP with these hidden widths and activation (the CNN keys keep their defaults).
    pub fn mlp(hidden: &[usize], activation: Activation) -> Self {
        Self {
            kind: ModelKind::Mlp,
            activation,
            mlp_hidden: hidden.to_vec(),
            ..Self::default()
        }
    }

    /// The model for `side × side` images and `classes` outputs.
    pub fn for_data(&self, side: usize, classes: usize) -> ModelConfig {
        ModelConfig {
            kind: self.kind,
            activation: self.activation,
            mlp_hidden: self.mlp_hidden.clone(),
            cnn_channels: self.cnn_channels,
            cnn_dense: self.cnn_dense,
            side,
            classes,
        }
    }

    /// Checks every width, and that one batch of `batch_size` 28×28 images fits in memory
    /// (`batch_key` names the key to blame). Called before any data is read.
    pub fn validate(&self, batch_size: usize, batch_key: &'static str) -> Result<(), ConfigError> {
        let model = self.for_data(28, 2);
        model.validate()?;
        model.check_fits(batch_size, batch_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_papernots_tanh_cnn() {
        let c = ModelSpec::default().for_data(28, 10);
        assert_eq!((c.kind, c.activation), (ModelKind::Cnn, Activation::Tanh));
        assert_eq!((c.cnn_channels, c.cnn_dense, c.classes), ([16, 32], 32, 10));
    }

    #[test]
    fn a_table_with_an_unknown_key_is_refused() {
        let ok: ModelSpec = toml::from_str("kind = \"mlp\"\nmlp_hidden = [64]").unwrap();
        assert_eq!(ok, ModelSpec::mlp(&[64], Activation::Tanh));
        assert!(toml::from_str::<ModelSpec>("kind = \"mlp\"\nhidden = [64]").is_err());
    }

    #[test]
    fn a_zero_width_names_its_key() {
        let spec = ModelSpec {
            cnn_dense: 0,
            ..ModelSpec::default()
        };
        let m = spec.validate(1, "batch_size").unwrap_err().to_string();
        assert!(m.starts_with("invalid cnn_dense = 0"), "{m}");
    }
}
