//! How much memory a model and one batch through it need, checked before anything is allocated.
//!
//! A width such as `mlp_hidden = 1000000000` would otherwise reach burn's allocator, which
//! aborts the process ("memory allocation failed") instead of returning an error, and a width
//! near `usize::MAX` overflows the size arithmetic ("capacity overflow"). Both must be a clear
//! exit-2 message naming the key instead. The figures are lower bounds (weights, their
//! gradients and one optimizer state; each layer's output and its gradient for the batch), so a
//! configuration that fits is never refused; one that is refused could not have run.

use super::cnn::{conv_sides, feature_side};
use super::{ModelConfig, ModelKind, lenet};
use crate::config::ConfigError;

/// Bytes of one `f32`.
const FLOAT: u128 = 4;

/// Sizes that decide a model's memory, in `u128` with saturating arithmetic so that no width,
/// however large, can overflow them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// Trainable parameters.
    pub parameters: u128,
    /// Floats each example occupies between the layers (input, every layer's output, and for
    /// the CNN and LeNet the im2col patches of each convolution).
    pub floats_per_example: u128,
    /// The config key of the widest part of the model, named when it does not fit.
    pub widest_key: &'static str,
}

/// `a · b`, saturating.
fn mul(a: usize, b: usize) -> u128 {
    (a as u128).saturating_mul(b as u128)
}

impl ModelConfig {
    /// The model's parameter count and per-example activation size.
    pub fn footprint(&self) -> Footprint {
        let input = mul(self.side, self.side);
        match self.kind {
            ModelKind::Mlp => {
                let widths: Vec<usize> = std::iter::once(self.side * self.side)
                    .chain(self.mlp_hidden.iter().copied())
                    .chain(std::iter::once(self.classes))
                    .collect();
                let parameters = widths.windows(2).fold(0u128, |acc, w| {
                    acc.saturating_add(mul(w[0], w[1]).saturating_add(w[1] as u128))
                });
                let floats = widths
                    .iter()
                    .fold(0u128, |acc, &w| acc.saturating_add(w as u128));
                Footprint {
                    parameters,
                    floats_per_example: floats,
                    widest_key: "mlp_hidden",
                }
            }
            ModelKind::Cnn => {
                let [c1, c2] = self.cnn_channels;
                let (s1, p1, s2) = conv_sides(self.side);
                let f = feature_side(self.side);
                let (k1, k2) = (64u128, 16u128); // 8×8 and 4×4 kernels
                let conv1 = (c1 as u128).saturating_mul(k1 + 1);
                let conv2 = mul(c1, c2).saturating_mul(k2).saturating_add(c2 as u128);
                let dense = mul(c2, f * f)
                    .saturating_mul(self.cnn_dense as u128)
                    .saturating_add(self.cnn_dense as u128);
                let out = mul(self.cnn_dense, self.classes).saturating_add(self.classes as u128);
                let parameters = conv1
                    .saturating_add(conv2)
                    .saturating_add(dense)
                    .saturating_add(out);
                let floats = [
                    input,
                    mul(s1 * s1, 64),                            // conv1 patches
                    mul(c1, s1 * s1),                            // conv1 output
                    mul(c1, p1 * p1),                            // pooled
                    mul(s2 * s2, 16).saturating_mul(c1 as u128), // conv2 patches
                    mul(c2, s2 * s2),                            // conv2 output
                    mul(c2, f * f),                              // pooled
                    self.cnn_dense as u128,
                    self.classes as u128,
                ]
                .into_iter()
                .fold(0u128, u128::saturating_add);
                // Both convolutions grow with `cnn_channels`; only the dense layers with
                // `cnn_dense` (whose input width also grows with the channels).
                let widest_key = if dense >= conv1.max(conv2) {
                    "cnn_dense"
                } else {
                    "cnn_channels"
                };
                Footprint {
                    parameters,
                    floats_per_example: floats,
                    widest_key,
                }
            }
            ModelKind::Lenet => {
                let k = (lenet::KERNEL * lenet::KERNEL) as u128;
                let sides = lenet::conv_sides(self.side);
                let (mut parameters, mut floats) = (0u128, input);
                let (mut c_in, mut last) = (1, self.side);
                for s in sides {
                    let c = lenet::CHANNELS;
                    parameters = parameters
                        .saturating_add(mul(c, c_in).saturating_mul(k))
                        .saturating_add(c as u128);
                    floats = floats
                        .saturating_add(mul(s * s, c_in).saturating_mul(k)) // patches
                        .saturating_add(mul(c, s * s)); // output
                    (c_in, last) = (c, s);
                }
                let features = lenet::CHANNELS * last * last;
                let dense = mul(features, self.classes).saturating_add(self.classes as u128);
                Footprint {
                    parameters: parameters.saturating_add(dense),
                    floats_per_example: floats.saturating_add(self.classes as u128),
                    // Its widths are fixed: only the data (side, classes) sizes it.
                    widest_key: "kind",
                }
            }
        }
    }

    /// Checks that the model, trained in batches of `batch_size`, fits in `available` bytes of
    /// memory. `batch_key` names the batch-size key in the message.
    pub fn check_fits_in(
        &self,
        batch_size: usize,
        batch_key: &'static str,
        available: u64,
    ) -> Result<(), ConfigError> {
        let fp = self.footprint();
        // Weights, their gradients and one optimizer state (momentum or Adam's first moment).
        let model_bytes = fp.parameters.saturating_mul(3 * FLOAT);
        // Every activation and its gradient.
        let batch_bytes = fp
            .floats_per_example
            .saturating_mul(batch_size as u128)
            .saturating_mul(2 * FLOAT);
        let available = u128::from(available);
        if model_bytes > available {
            return Err(ConfigError::invalid(
                fp.widest_key,
                self.widths_text(fp.widest_key),
                format!(
                    "the model would have {} parameters and need at least {} of memory; \
                     this machine has {} available",
                    count_text(fp.parameters),
                    bytes_text(model_bytes),
                    bytes_text(available)
                ),
            ));
        }
        if model_bytes.saturating_add(batch_bytes) > available {
            return Err(ConfigError::invalid(
                batch_key,
                batch_size,
                format!(
                    "one batch through this model would need at least {} of memory \
                     ({} per example); this machine has {} available",
                    bytes_text(batch_bytes),
                    bytes_text(fp.floats_per_example.saturating_mul(2 * FLOAT)),
                    bytes_text(available.saturating_sub(model_bytes))
                ),
            ));
        }
        Ok(())
    }

    /// [`ModelConfig::check_fits_in`] against the memory this machine has available now.
    pub fn check_fits(
        &self,
        batch_size: usize,
        batch_key: &'static str,
    ) -> Result<(), ConfigError> {
        self.check_fits_in(batch_size, batch_key, available_memory())
    }

    fn widths_text(&self, key: &str) -> String {
        match key {
            "mlp_hidden" => format!("{:?}", self.mlp_hidden),
            "cnn_channels" => format!("{:?}", self.cnn_channels),
            "kind" => format!("{:?}", self.kind).to_lowercase(),
            _ => self.cnn_dense.to_string(),
        }
    }
}

/// Bytes of memory available to this process: `MemAvailable` of `/proc/meminfo` on Linux.
/// Where that cannot be read, no limit is assumed (the check then only catches overflow).
pub fn available_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(u64::MAX, |kb| kb.saturating_mul(1024))
}

fn bytes_text(b: u128) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    if b == u128::MAX {
        "more than 10^38 bytes".into()
    } else if (b as f64) >= 1e6 * GIB {
        format!("{:.1e} GiB", b as f64 / GIB)
    } else {
        format!("{:.1} GiB", b as f64 / GIB)
    }
}

fn count_text(n: u128) -> String {
    if n == u128::MAX {
        "more than 10^38".into()
    } else if n >= 1_000_000_000 {
        format!("{:.2e}", n as f64)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelSpec;

    fn config(kind: ModelKind) -> ModelConfig {
        ModelSpec {
            kind,
            ..ModelSpec::default()
        }
        .for_data(28, 10)
    }

    #[test]
    fn parameter_counts_match_the_built_models() {
        // The README's 26,010 for Papernot's CNN, and 784·256 + 256 + 256·10 + 10 for the MLP.
        assert_eq!(config(ModelKind::Cnn).footprint().parameters, 26_010);
        assert_eq!(config(ModelKind::Mlp).footprint().parameters, 203_530);
        // DLG's LeNet: 12·1·25 + 12, twice 12·12·25 + 12, 588·10 + 10.
        let lenet = config(ModelKind::Lenet).footprint().parameters;
        assert_eq!(lenet, 300 + 12 + 2 * (3600 + 12) + 5880 + 10);
        for kind in [ModelKind::Mlp, ModelKind::Cnn, ModelKind::Lenet] {
            let c = config(kind);
            let built = crate::model::Classifier::new(
                &c,
                &burn::tensor::Device::flex(),
                &mut rand::SeedableRng::seed_from_u64(0),
            );
            assert_eq!(
                c.footprint().parameters,
                burn::module::Module::num_params(&built) as u128,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn lenets_activations_are_its_patches_and_maps() {
        // 784 pixels; conv1 196 positions × 25 taps and 12 × 196; conv2 49 × 300 and 12 × 49;
        // conv3 the same; 10 logits.
        let floats = 784 + (196 * 25 + 12 * 196) + 2 * (49 * 300 + 12 * 49) + 10;
        assert_eq!(
            config(ModelKind::Lenet).footprint().floats_per_example,
            floats
        );
    }

    #[test]
    fn huge_widths_are_refused_by_name_without_overflow() {
        let mut mlp = config(ModelKind::Mlp);
        mlp.mlp_hidden = vec![usize::MAX];
        let err = mlp.check_fits_in(128, "batch_size", 24 << 30).unwrap_err();
        assert!(err.to_string().contains("mlp_hidden"), "{err}");
        mlp.mlp_hidden = vec![1_000_000_000];
        assert!(mlp.check_fits_in(128, "batch_size", 24 << 30).is_err());
        let mut cnn = config(ModelKind::Cnn);
        cnn.cnn_channels = [100_000, 100_000];
        cnn.cnn_dense = 100_000;
        let err = cnn.check_fits_in(128, "batch_size", 24 << 30).unwrap_err();
        assert!(err.to_string().contains("cnn_"), "{err}");
        cnn.cnn_channels = [1_000_000_000, 1];
        cnn.cnn_dense = 1;
        let err = cnn.check_fits_in(1, "batch_size", 24 << 30).unwrap_err();
        assert!(err.to_string().contains("cnn_channels"), "{err}");
        cnn.cnn_channels = [16, 32];
        cnn.cnn_dense = usize::MAX;
        let err = cnn.check_fits_in(128, "batch_size", 24 << 30).unwrap_err();
        assert!(err.to_string().contains("cnn_dense"), "{err}");
    }

    #[test]
    fn a_huge_batch_is_refused_by_its_key_and_normal_runs_fit() {
        let mlp = config(ModelKind::Mlp);
        let err = mlp
            .check_fits_in(10_000_000, "batch_size", 24 << 30)
            .unwrap_err();
        assert!(err.to_string().contains("batch_size = 10000000"), "{err}");
        // The widest published config (CNN 64/128/256) at batch 2048 fits in 4 GiB.
        let mut wide = config(ModelKind::Cnn);
        wide.cnn_channels = [64, 128];
        wide.cnn_dense = 256;
        assert!(wide.check_fits_in(2048, "batch_size", 4 << 30).is_ok());
        assert!(mlp.check_fits_in(60_000, "batch_size", 1 << 30).is_ok());
    }
}
