//! iDLG's label rule (Zhao, Mopuri & Bilen 2020): with the cross-entropy loss, the gradient of
//! the logits is softmax(z) − y, negative only at the true class. At batch 1 the last layer's
//! bias gradient therefore has exactly one negative entry, the label.

use super::GradientView;

/// The label of a batch-1 gradient: the class whose last-layer bias gradient is smallest (the
/// only negative one).
pub fn label_at_batch_one(view: &GradientView) -> usize {
    let bias = view
        .gradient()
        .last()
        .expect("a model has parameters")
        .clone()
        .into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .expect("a float gradient");
    bias.iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(class, _)| class)
        .expect("a model has at least one class")
}
