//! Cross-entropy from logits.

use burn::tensor::{Int, Tensor, activation::log_softmax};

/// `−log softmax(logits_b)[y_b]` for every example.
///
/// # Shapes
/// - `logits`: `[batch, classes]`
/// - `labels`: `[batch]`
/// - output: `[batch]`
pub fn per_example_cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let batch = labels.dims()[0];
    let log_p = log_softmax(logits, 1); // [batch, classes]
    let picked = log_p.gather(1, labels.reshape([batch, 1])); // [batch, 1]
    picked.reshape([batch]).neg()
}

/// `−mean_b log softmax(logits_b)[y_b]`.
///
/// # Shapes
/// - `logits`: `[batch, classes]`
/// - `labels`: `[batch]`
/// - output: `[1]`
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    per_example_cross_entropy(logits, labels).mean()
}
