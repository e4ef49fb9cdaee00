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

    /// How many images the batches hold.
    pub fn len(&self) -> usize {
        self.pixels.unseal().len()
    }

    /// True when the batches hold no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `statistic` of every image, in order: what the imprint attack's idealised (oracle)
    /// placement is built from. Only measurement code reads the private images, so an upper
    /// bound that peeks at them goes through here, never through the attack's view.
    pub fn statistics(&self, statistic: impl Fn(&[f32]) -> f64) -> Vec<f64> {
        self.pixels.unseal().iter().map(|x| statistic(x)).collect()
    }

    /// Images whose bin (`bin_of`; `None`: in no bin) no other image of the batches shares:
    /// the samples an imprint block isolates, which its formula predicts.
    pub fn alone_in_bins(&self, bin_of: impl Fn(&[f32]) -> Option<usize>) -> usize {
        let bins: Vec<Option<usize>> = self.pixels.unseal().iter().map(|x| bin_of(x)).collect();
        bins.iter()
            .filter(|b| b.is_some() && bins.iter().filter(|c| c == b).count() == 1)
            .count()
    }
}

/// The share of the batch's labels that `labels` finds, both taken as multisets (which image
/// carries which label does not matter): Σ_c min(n_c, n̂_c) / B. The measure of a label-count
/// rule such as the bias-corrected one of `attacks::gradient::labels`.
pub fn label_count_accuracy(originals: &Originals, labels: &[usize]) -> f64 {
    let truth = originals.labels.unseal();
    let mut left = labels.to_vec();
    let found = truth
        .iter()
        .filter(|&&label| match left.iter().position(|&l| l == label) {
            Some(at) => {
                left.swap_remove(at);
                true
            }
            None => false,
        })
        .count();
    found as f64 / truth.len().max(1) as f64
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

#[cfg(test)]
mod tests {
    use super::*;

    fn originals(labels: &[usize]) -> Originals {
        Originals {
            pixels: Truth::new(vec![vec![0.0]; labels.len()]),
            labels: Truth::new(labels.to_vec()),
        }
    }

    #[test]
    fn label_counts_compare_as_multisets() {
        let truth = originals(&[1, 1, 2, 5]);
        assert_eq!(label_count_accuracy(&truth, &[5, 2, 1, 1]), 1.0);
        // One 1 too few, one 3 too many.
        assert_eq!(label_count_accuracy(&truth, &[1, 2, 5, 3]), 0.75);
        assert_eq!(label_count_accuracy(&truth, &[1, 1, 1, 1]), 0.5);
    }

    #[test]
    fn label_accuracy_reads_the_matched_reconstruction() {
        let truth = originals(&[0, 1]);
        // Original 0 ↔ reconstruction 1 (labelled 0), original 1 ↔ reconstruction 0 (labelled 0).
        assert_eq!(label_accuracy(&truth, &[1, 0], &[0, 0]), 0.5);
    }
}
