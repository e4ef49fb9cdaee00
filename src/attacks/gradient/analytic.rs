//! The analytic inversion of a dense first layer. For y = xW + b followed by anything,
//! ∂L/∂W[:, j] = x·∂L/∂b_j, so x = ∂L/∂W[:, j] ÷ ∂L/∂b_j for any unit j with ∂L/∂b_j ≠ 0:
//! exact at batch 1 (Phong et al. 2017; the "analytic" baseline of breaching). It is the
//! sanity check of every other attack: whatever they recover, this recovers exactly.

use super::labels::label_at_batch_one;
use super::{GradientView, Reconstruction};
use crate::attacks::Attack;
use crate::config::ConfigError;
use crate::model::Victim;
use crate::runtime::Runtime;

/// Inverts the first dense layer of a batch-1 gradient.
#[derive(Debug, Clone, Copy, Default)]
pub struct Analytic;

impl Attack<GradientView> for Analytic {
    type Output = Reconstruction;

    fn run(&self, view: &GradientView, _rt: &mut Runtime<'_>) -> crate::Result<Reconstruction> {
        if !matches!(view.model(), Victim::Mlp(_)) {
            return Err(ConfigError::invalid(
                "attack",
                "analytic",
                "the analytic inversion needs a dense first layer (an MLP victim); a conv-first \
                 model's first layer sees patches, not the image",
            )
            .into());
        }
        if view.batch_size() != 1 {
            return Err(ConfigError::invalid(
                "batch_size",
                view.batch_size(),
                "the analytic inversion of a dense layer is exact only at batch 1",
            )
            .into());
        }
        let read = |i: usize| {
            view.gradient()[i]
                .clone()
                .into_data()
                .convert::<f64>()
                .try_into_vec::<f64>()
                .expect("a float gradient")
        };
        let (weight, bias) = (read(0), read(1));
        let units = bias.len();
        // The unit with the largest |∂L/∂b_j| divides with the least rounding error.
        let (j, db) = bias
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .expect("a dense layer has units");
        let image = if db == 0.0 {
            // No unit carries the input (a dead layer): nothing to divide by.
            vec![0.0; weight.len() / units]
        } else {
            weight
                .chunks_exact(units)
                .map(|row| (row[j] / db) as f32)
                .collect()
        };
        Ok(Reconstruction {
            images: vec![image],
            labels: vec![label_at_batch_one(view)],
            matching_loss: None,
            evaluations: 0,
        })
    }
}
