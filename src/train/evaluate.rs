//! Loss and accuracy of a model over a whole dataset, in inference mode.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::Serialize;

use super::cross_entropy;
use crate::data::Dataset;
use crate::model::Classifier;

/// Examples per forward pass when evaluating.
const EVAL_BATCH: usize = 1000;

/// Mean loss and accuracy over a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
}

/// A batch of images and labels as tensors on `device`.
pub(crate) fn batch_tensors(
    data: &Dataset,
    indices: &[usize],
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let (x, y) = data.batch(indices);
    let n = indices.len();
    let images = Tensor::from_data(TensorData::new(x, [n, 1, data.rows(), data.cols()]), device);
    let labels = Tensor::from_data(TensorData::new(y, [n]), device);
    (images, labels)
}

/// Number of rows whose arg-max logit equals the label.
pub(crate) fn count_correct(logits: Tensor<2>, labels: Tensor<1, Int>) -> usize {
    let n = labels.dims()[0];
    let predicted = logits.argmax(1).reshape([n]);
    predicted.equal(labels).int().sum().into_scalar::<i64>() as usize
}

/// Evaluates `model` (an autodiff or plain module) on `data` without tracking gradients.
pub fn evaluate(model: &Classifier, data: &Dataset, device: &Device) -> Evaluation {
    over_batches(model, data, device, |_| {})
}

/// [`evaluate`], and in the same pass the mean of `model`'s predicted class distribution
/// (softmax of the logits) over `data`, one entry per class: what a server that owns public
/// data expects a batch's predictions to average (the offset of the label-count rule in
/// `attacks::gradient::labels`).
pub fn evaluate_with_mean_softmax(
    model: &Classifier,
    data: &Dataset,
    device: &Device,
) -> (Evaluation, Vec<f64>) {
    let mut sum: Option<Tensor<1>> = None;
    let evaluation = over_batches(model, data, device, |logits| {
        let p = burn::tensor::activation::softmax(logits, 1)
            .sum_dim(0)
            .flatten::<1>(0, 1);
        sum = Some(match sum.take() {
            Some(s) => s + p,
            None => p,
        });
    });
    let n = data.len().max(1) as f64;
    let mean = sum.map_or_else(Vec::new, |s| {
        s.into_data()
            .convert::<f64>()
            .try_into_vec::<f64>()
            .expect("float probabilities")
            .into_iter()
            .map(|v| v / n)
            .collect()
    });
    (evaluation, mean)
}

/// Loss and accuracy of `model` over `data` in batches, handing each batch's logits to `each`.
fn over_batches(
    model: &Classifier,
    data: &Dataset,
    device: &Device,
    mut each: impl FnMut(Tensor<2>),
) -> Evaluation {
    let model = model.valid();
    let mut loss_sum = 0.0;
    let mut correct = 0;
    let all: Vec<usize> = (0..data.len()).collect();
    for chunk in all.chunks(EVAL_BATCH) {
        let (images, labels) = batch_tensors(data, chunk, device);
        let logits = model.forward(images);
        correct += count_correct(logits.clone(), labels.clone());
        each(logits.clone());
        let loss = cross_entropy(logits, labels).into_scalar::<f32>() as f64;
        loss_sum += loss * chunk.len() as f64;
    }
    let n = data.len().max(1) as f64;
    Evaluation {
        loss: loss_sum / n,
        accuracy: correct as f64 / n,
    }
}
