//! Labels read off the last layer's gradient, before any image is searched for.
//!
//! With the cross-entropy loss, the gradient at the logits is (softmax(z) − y) / B: for one
//! image it is negative only at the true class (iDLG's rule, Zhao, Mopuri & Bilen 2020). The
//! last layer's bias gradient is that row, summed over the batch, so for a batch of B its entry
//! for class c is (Σ_b p_bc − n_c) / B, where n_c counts class c in the batch: negative for every
//! class present (while the model is unsure), about −1/B more negative per extra occurrence.
//!
//! A negative entry proves its class is in the batch (n_c > Σ_b p_bc ≥ 0). But a class present
//! once is negative only while the others give it less than one image's worth of probability:
//! at B = 16 and p ≈ 0.1 its entry is (1.6 − 1)/16 > 0. Counting therefore needs the offset
//! Σ_b p_bc, which Wainakh et al. 2022 ("User-Level Label Leakage from Gradients in Federated
//! Learning") estimate from the model's predictions on data the attacker holds.
//! [`labels_from_bias`] does so when the view carries the broadcast model's mean softmax p̄ on
//! the server's public images: the expected count of class c is B·(p̄_c − g_c); every negative
//! class gets one label first (certain), then, until there are B, the class with the largest
//! remaining expected count, one at a time. Without p̄ it falls back to the "bias-corrected" rule
//! of Geiping et al.'s breaching ([`bias_corrected_counts`]). Both are iDLG's rule at batch 1.
//! The labels are a multiset: which image carries which one is left to the image search.

use super::GradientView;

/// The label of a batch-1 gradient: the class whose last-layer bias gradient is smallest (the
/// only negative one).
pub fn label_at_batch_one(view: &GradientView) -> usize {
    argmin(&view.last_bias_gradient())
}

/// B labels for the batch of B behind the view's gradient (see the module docs).
pub fn labels_from_bias(view: &GradientView) -> Vec<usize> {
    let bias = view.last_bias_gradient();
    match view.public_softmax() {
        Some(mean) => expected_counts(&bias, mean, view.batch_size()),
        None => bias_corrected_counts(&bias, view.batch_size()),
    }
}

/// The label multiset of `batch` images from the last layer's bias gradient `bias` and the
/// model's mean softmax `mean` on public data: each negative class once, then the largest
/// remaining expected count B·(p̄_c − g_c), one label at a time.
pub fn expected_counts(bias: &[f64], mean: &[f64], batch: usize) -> Vec<usize> {
    let b = batch as f64;
    let mut expected: Vec<f64> = bias.iter().zip(mean).map(|(g, p)| b * (p - g)).collect();
    let mut labels: Vec<usize> = (0..bias.len()).filter(|&c| bias[c] < 0.0).collect();
    labels.truncate(batch);
    for &c in &labels {
        expected[c] -= 1.0;
    }
    while labels.len() < batch {
        let c = argmax(&expected);
        labels.push(c);
        expected[c] -= 1.0;
    }
    labels
}

/// The bias-corrected label multiset of `batch` images from the last layer's bias gradient
/// `bias` (one entry per class), in the order found.
pub fn bias_corrected_counts(bias: &[f64], batch: usize) -> Vec<usize> {
    let mut bias = bias.to_vec();
    let mut labels: Vec<usize> = (0..bias.len()).filter(|&c| bias[c] < 0.0).collect();
    labels.truncate(batch);
    if labels.is_empty() {
        // No negative entry (a saturated model, or noise): fall back to the smallest.
        labels.push(argmin(&bias));
    }
    let impact = labels.iter().map(|&c| bias[c]).sum::<f64>() / batch as f64;
    for &c in &labels {
        bias[c] -= impact;
    }
    while labels.len() < batch {
        let c = argmin(&bias);
        labels.push(c);
        bias[c] -= impact;
    }
    labels
}

/// The index of the largest value.
fn argmax(values: &[f64]) -> usize {
    values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(class, _)| class)
        .expect("a model has at least one class")
}

/// The index of the smallest value.
fn argmin(values: &[f64]) -> usize {
    values
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(class, _)| class)
        .expect("a model has at least one class")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bias gradient of a batch whose predictions are uniform over the classes:
    /// (Σ_b p − n_c) / B.
    fn bias_of(labels: &[usize], classes: usize) -> Vec<f64> {
        let b = labels.len() as f64;
        (0..classes)
            .map(|c| {
                let n = labels.iter().filter(|&&l| l == c).count() as f64;
                (b / classes as f64 - n) / b
            })
            .collect()
    }

    fn sorted(mut v: Vec<usize>) -> Vec<usize> {
        v.sort_unstable();
        v
    }

    #[test]
    fn one_image_gives_its_label() {
        assert_eq!(bias_corrected_counts(&bias_of(&[2], 4), 1), vec![2]);
    }

    #[test]
    fn distinct_labels_are_each_found_once() {
        let truth = [3, 0, 1];
        assert_eq!(
            sorted(bias_corrected_counts(&bias_of(&truth, 10), 3)),
            vec![0, 1, 3]
        );
    }

    #[test]
    fn a_repeated_label_is_counted_by_its_impact() {
        // Class 1 three times, class 2 once: the naive "B most negative" rule would cycle
        // through {1, 2} and answer {1, 1, 2, 2}.
        let truth = [1, 1, 1, 2];
        assert_eq!(
            sorted(bias_corrected_counts(&bias_of(&truth, 10), 4)),
            vec![1, 1, 1, 2]
        );
    }

    /// A batch of 16 under a model that gives every class 0.1: a class present once has a
    /// positive entry, (1.6 − 1)/16, which the bias-corrected rule cannot see and the expected
    /// counts can.
    #[test]
    fn expected_counts_find_the_labels_whose_entries_are_positive() {
        let truth = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9];
        let bias = bias_of(&truth, 10);
        assert!(
            bias[3] > 0.0,
            "class 3 is present once and positive: {}",
            bias[3]
        );
        let mean = vec![0.1; 10];
        assert_eq!(sorted(expected_counts(&bias, &mean, 16)), truth.to_vec());
        assert_ne!(sorted(bias_corrected_counts(&bias, 16)), truth.to_vec());
        assert_eq!(expected_counts(&bias_of(&[7], 10), &mean, 1), vec![7]);
    }

    #[test]
    fn no_negative_entry_still_gives_b_labels() {
        let labels = bias_corrected_counts(&[0.1, 0.0, 0.3], 2);
        assert_eq!(labels.len(), 2);
        assert_eq!(labels[0], 1);
    }
}
