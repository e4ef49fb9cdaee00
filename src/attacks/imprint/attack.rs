//! The attack proper: read the imprint rows out of the released sum, find the occupied bins,
//! divide. [`read_bins`] is shared with Scale-MIA (`attacks::scale_mia`), whose rows measure a
//! latent instead of the pixels.

use super::recover::{BinImage, separate};
use super::view::{AggregateView, ImprintView};
use crate::Result;
use crate::attacks::Attack;
use crate::model::{IMPRINT_BIAS, IMPRINT_WEIGHT};
use crate::runtime::Runtime;

/// Fowl et al.'s imprint attack on the secure aggregate.
#[derive(Debug, Clone, Copy)]
pub struct Imprint {
    /// Under a noisy aggregate, a bin is occupied when its Δb exceeds this many standard
    /// deviations of the noise in Δb (√2 times the noise of one coordinate).
    pub noise_sds: f64,
}

impl Default for Imprint {
    fn default() -> Self {
        // Four standard deviations: over 40,000 empty bins about one false bin appears.
        Self { noise_sds: 4.0 }
    }
}

impl Imprint {
    /// The |Δb| an empty bin cannot reach (see [`min_weight`]).
    pub fn min_weight(&self, view: &ImprintView) -> f64 {
        min_weight(&view.aggregate, self.noise_sds)
    }
}

/// The |Δb| an empty bin cannot reach: the fixed-point rounding of two coordinates, plus
/// `noise_sds` standard deviations of the DP noise in their difference.
pub fn min_weight(aggregate: &AggregateView, noise_sds: f64) -> f64 {
    2.0 * aggregate.rounding + noise_sds * std::f64::consts::SQRT_2 * aggregate.noise_std
}

/// Every occupied bin of the imprint layer of `bins` rows in the released sum, ΔW ÷ Δb each
/// (one value per input of the block: pixels, or a latent), the heaviest bins (largest |Δb|)
/// first.
///
/// # Panics
/// When the sum has no imprint layer: the attack reads only what its own server planted.
pub fn read_bins(aggregate: &AggregateView, bins: usize, min_weight: f64) -> Vec<BinImage> {
    let sum = &aggregate.sum;
    let weight = sum
        .param(IMPRINT_WEIGHT)
        .expect("the server planted the imprint layer it attacks");
    let bias = sum
        .param(IMPRINT_BIAS)
        .expect("the server planted the imprint layer it attacks");
    let d = weight.len() / bins;
    // The weight is [d, k]: row i of the imprint layer is column i.
    let rows: Vec<Vec<f64>> = (0..bins)
        .map(|i| (0..d).map(|p| f64::from(weight[p * bins + i])).collect())
        .collect();
    let bias: Vec<f64> = bias.iter().map(|&b| f64::from(b)).collect();
    let mut found = separate(&rows, &bias, min_weight);
    found.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
    found
}

impl Attack<ImprintView> for Imprint {
    /// One image per occupied bin, the heaviest bins (largest |Δb|) first.
    type Output = Vec<BinImage>;

    fn run(&self, view: &ImprintView, _rt: &mut Runtime<'_>) -> Result<Vec<BinImage>> {
        let k = view.secrets.cutoffs.len();
        Ok(read_bins(&view.aggregate, k, self.min_weight(view)))
    }
}
