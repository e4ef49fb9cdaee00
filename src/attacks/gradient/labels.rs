//! iDLG's label rule (Zhao, Mopuri & Bilen 2020): with the cross-entropy loss, the gradient of
//! the logits is softmax(z) − y, negative only at the true class. At batch 1 the last layer's
//! bias gradient therefore has exactly one negative entry, the label.
//!
//! For a batch of B the bias gradient is the mean of B such rows: a class present in the batch
//! tends to be negative, and more negative the more often it appears. [`labels_from_bias`] takes
//! the B most negative classes, cycling through the negative ones when fewer than B are
//! negative (a class repeated in the batch). This is the simple form of the "bias-corrected"
//! counting of Geiping et al.'s breaching, which also subtracts each found label's expected
//! impact; exact at batch 1.

use super::GradientView;

/// The label of a batch-1 gradient: the class whose last-layer bias gradient is smallest (the
/// only negative one).
pub fn label_at_batch_one(view: &GradientView) -> usize {
    let bias = view.last_bias_gradient();
    bias.iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(class, _)| class)
        .expect("a model has at least one class")
}

/// B labels for a batch of B from the last-layer bias gradient (see the module docs).
pub fn labels_from_bias(view: &GradientView) -> Vec<usize> {
    let bias = view.last_bias_gradient();
    let mut order: Vec<usize> = (0..bias.len()).collect();
    order.sort_by(|&a, &b| bias[a].total_cmp(&bias[b]));
    let negative = order.iter().take_while(|&&c| bias[c] < 0.0).count().max(1);
    (0..view.batch_size())
        .map(|i| order[i % negative])
        .collect()
}
