//! The images back from the imprint rows' gradient: difference adjacent rows, divide.
//!
//! Row i of the imprint layer receives, from each sample j whose statistic exceeds cut-off i,
//! g_j·x_j in its weight gradient and g_j in its bias gradient, with the same g_j for every row
//! the sample activates (the map back to the image treats every row alike). So row i minus row
//! i + 1 holds only the samples of bin i: ΔW_i = Σ_{j in bin i} g_j x_j, Δb_i = Σ g_j, and a
//! sample alone there is ΔW_i ÷ Δb_i exactly. Occupied bins are read off the gradient itself,
//! |Δb_i| above `min_weight` (0 without noise; a multiple of the noise's standard deviation
//! under a DP aggregate), never off the private data. A bin of several samples gives their
//! g-weighted mean: a blend. Differences are taken in f64: the cancellation grows with the
//! number of samples above a cut-off.

/// What one occupied bin gives.
#[derive(Debug, Clone, PartialEq)]
pub struct BinImage {
    /// The bin (imprint row) it came from.
    pub bin: usize,
    /// ΔW ÷ Δb: the sample, if it was alone in the bin.
    pub image: Vec<f32>,
    /// Δb, the summed weight of the bin's samples.
    pub weight: f64,
}

/// The images of every bin whose |Δb| exceeds `min_weight`, in bin order. `rows[i]` is the
/// imprint row i's weight gradient (one value per pixel) and `bias[i]` its bias gradient.
///
/// The released sum is stored in f32, so two rows holding the same samples can still differ
/// by their representation error, up to half an f32 ulp each; that much is added to
/// `min_weight` per bin, or an empty bin would show up wherever the sum crosses a power of two.
///
/// # Panics
/// When `rows` and `bias` differ in length (a programming error).
pub fn separate(rows: &[Vec<f64>], bias: &[f64], min_weight: f64) -> Vec<BinImage> {
    assert_eq!(rows.len(), bias.len(), "one bias per imprint row");
    let k = rows.len();
    (0..k)
        .filter_map(|i| {
            let next_b = if i + 1 < k { bias[i + 1] } else { 0.0 };
            let weight = bias[i] - next_b;
            let representation = 0.5 * f64::from(f32::EPSILON) * (bias[i].abs() + next_b.abs());
            let floor = min_weight + representation;
            // A NaN weight (a non-finite gradient) is no occupied bin either.
            if weight.abs().partial_cmp(&floor) != Some(std::cmp::Ordering::Greater) {
                return None;
            }
            let image = rows[i]
                .iter()
                .enumerate()
                .map(|(p, &w)| {
                    let next_w = if i + 1 < k { rows[i + 1][p] } else { 0.0 };
                    ((w - next_w) / weight) as f32
                })
                .collect();
            Some(BinImage {
                bin: i,
                image,
                weight,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attacks::imprint::bins::Cutoffs;

    /// The imprint rows' gradient of `samples` (image, statistic, g) under `cuts`, as the
    /// chain rule gives it.
    fn gradient(samples: &[(Vec<f32>, f64, f64)], cuts: &Cutoffs) -> (Vec<Vec<f64>>, Vec<f64>) {
        let d = samples[0].0.len();
        let mut rows = vec![vec![0.0; d]; cuts.len()];
        let mut bias = vec![0.0; cuts.len()];
        for (image, stat, g) in samples {
            for (i, &c) in cuts.values().iter().enumerate() {
                if *stat > c {
                    bias[i] += g;
                    for (w, &x) in rows[i].iter_mut().zip(image) {
                        *w += g * f64::from(x);
                    }
                }
            }
        }
        (rows, bias)
    }

    #[test]
    fn a_sample_alone_in_its_bin_comes_back_exactly_and_a_shared_bin_blends() {
        let cuts = Cutoffs::from_values(vec![-1.0, 0.2, 0.4, 0.6, 0.8]);
        let samples = vec![
            (vec![0.1, 0.9, 0.3], 0.3, -0.7), // bin 1, alone
            (vec![0.5, 0.5, 0.5], 0.5, 0.25), // bin 2, shared
            (vec![0.0, 1.0, 0.0], 0.55, 0.5), // bin 2, shared
            (vec![0.7, 0.2, 0.6], 0.9, 1.3),  // bin 4, alone
        ];
        let (rows, bias) = gradient(&samples, &cuts);
        let got = separate(&rows, &bias, 0.0);
        let bins: Vec<usize> = got.iter().map(|b| b.bin).collect();
        assert_eq!(bins, vec![1, 2, 4], "bins 0 and 3 are empty");
        for (found, (image, ..)) in [(&got[0], &samples[0]), (&got[2], &samples[3])] {
            for (a, b) in found.image.iter().zip(image) {
                assert!((a - b).abs() < 1e-6, "{:?} vs {image:?}", found.image);
            }
        }
        // The shared bin: (0.25·x₁ + 0.5·x₂) / 0.75.
        let blend = [
            0.5 * 0.25 / 0.75,
            (0.5 * 0.25 + 0.5) / 0.75,
            0.5 * 0.25 / 0.75,
        ];
        for (a, b) in got[1].image.iter().zip(blend) {
            assert!((f64::from(*a) - b).abs() < 1e-6, "{:?}", got[1].image);
        }
    }

    #[test]
    fn bins_below_the_noise_level_are_skipped() {
        let cuts = Cutoffs::from_values(vec![-1.0, 0.5]);
        let samples = vec![(vec![1.0, 0.0], 0.7, 0.01)];
        let (rows, bias) = gradient(&samples, &cuts);
        assert_eq!(separate(&rows, &bias, 0.0).len(), 1);
        assert!(separate(&rows, &bias, 0.05).is_empty());
    }

    #[test]
    fn the_f32_representation_of_the_sum_makes_no_bin() {
        // Two rows with the same samples whose sums round to neighbouring f32 values: the
        // difference is one ulp, not a sample.
        let b = 0.2_f32;
        let next = f32::from_bits(b.to_bits() + 1);
        let rows = vec![vec![f64::from(b)], vec![f64::from(next)]];
        let bias = vec![f64::from(b), f64::from(next)];
        let got = separate(&rows, &bias, 0.0);
        assert_eq!(
            got.iter().map(|g| g.bin).collect::<Vec<_>>(),
            vec![1],
            "bin 0 is empty"
        );
    }
}
