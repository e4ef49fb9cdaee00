//! The ground truth of a gradient-inversion case: the images and labels of the batches behind
//! the attacked gradient, opened here and nowhere else, and the label accuracy of an attack.

use crate::data::Truth;
use crate::fl::federated::BatchTruth;

/// The batches behind one observed gradient, as sealed pixel rows in [0, 1] and labels.
#[derive(Debug, Clone)]
pub struct Originals {
    pixels: Truth<Vec<Vec<f32>>>,
    labels: Truth<Vec<usize>>,
}

impl Originals {
    /// The examples of `batches`, in order (party 0's batch, then the others').
    pub fn of(batches: &[&BatchTruth]) -> Self {
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for batch in batches {
            let examples = batch.examples.unseal();
            for i in 0..examples.len() {
                pixels.push(
                    examples
                        .image(i)
                        .iter()
                        .map(|&p| f32::from(p) / 255.0)
                        .collect(),
                );
                labels.push(examples.label(i));
            }
        }
        Self {
            pixels: Truth::new(pixels),
            labels: Truth::new(labels),
        }
    }

    /// The sealed images.
    pub fn pixels(&self) -> &Truth<Vec<Vec<f32>>> {
        &self.pixels
    }
}

/// The share of originals whose matched reconstruction carries the right label: original `i`
/// is matched to reconstruction `matched[i]`, labelled `labels[matched[i]]`.
pub fn label_accuracy(originals: &Originals, matched: &[usize], labels: &[usize]) -> f64 {
    let truth = originals.labels.unseal();
    let right = truth
        .iter()
        .zip(matched)
        .filter(|&(&label, &r)| labels.get(r) == Some(&label))
        .count();
    right as f64 / truth.len().max(1) as f64
}
