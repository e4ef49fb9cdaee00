//! An in-memory labelled image set, kept as bytes (a quarter of the memory of f32) and turned into
//! `[0, 1]` floats one batch at a time.

use super::DataError;

/// Labelled greyscale images, upright, row-major, with labels in `0..classes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    images: Vec<u8>,
    labels: Vec<u8>,
    rows: usize,
    cols: usize,
    classes: usize,
}

impl Dataset {
    /// Builds a dataset, checking that every label is below `classes` and that the image buffer
    /// holds exactly one `rows × cols` image per label.
    pub fn new(
        images: Vec<u8>,
        labels: Vec<u8>,
        rows: usize,
        cols: usize,
        classes: usize,
    ) -> Result<Self, DataError> {
        if images.len() != labels.len() * rows * cols {
            return Err(DataError::Inconsistent(format!(
                "{} image bytes for {} labels of {rows}×{cols} images",
                images.len(),
                labels.len()
            )));
        }
        if let Some(&bad) = labels.iter().find(|&&l| l as usize >= classes) {
            return Err(DataError::Inconsistent(format!(
                "label {bad} is outside 0..{classes}"
            )));
        }
        Ok(Self {
            images,
            labels,
            rows,
            cols,
            classes,
        })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the dataset holds no example.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image height.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Image width.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Pixels per image.
    pub fn pixels(&self) -> usize {
        self.rows * self.cols
    }

    /// Number of classes (labels are `0..classes`).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The `i`-th image, upright, row-major, 0 = background.
    pub fn image(&self, i: usize) -> &[u8] {
        let p = self.pixels();
        &self.images[i * p..(i + 1) * p]
    }

    /// The `i`-th label.
    pub fn label(&self, i: usize) -> usize {
        self.labels[i] as usize
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The mean image, pixels scaled to [0, 1]: the prior of an attacker who owns this data
    /// (RDLV's reference in `metrics::leakage`).
    pub fn mean_image(&self) -> Vec<f32> {
        let n = self.len().max(1) as f64;
        let mut sum = vec![0.0f64; self.pixels()];
        for i in 0..self.len() {
            for (s, &p) in sum.iter_mut().zip(self.image(i)) {
                *s += f64::from(f32::from(p) / 255.0);
            }
        }
        sum.iter().map(|s| (s / n) as f32).collect()
    }

    /// The same images with `labels` instead (one per image, each below `classes`).
    pub fn relabelled(&self, labels: Vec<u8>) -> Result<Dataset, DataError> {
        Dataset::new(
            self.images.clone(),
            labels,
            self.rows,
            self.cols,
            self.classes,
        )
    }

    /// How many examples each class has.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// A new dataset holding the examples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let p = self.pixels();
        let mut images = Vec::with_capacity(indices.len() * p);
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Dataset {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            rows: self.rows,
            cols: self.cols,
            classes: self.classes,
        }
    }

    /// The examples of `self` followed by those of `other`.
    ///
    /// # Panics
    /// When the two differ in image size or class count (a programming error: both come from
    /// one dataset).
    pub fn concat(&self, other: &Dataset) -> Dataset {
        assert!(
            (self.rows, self.cols, self.classes) == (other.rows, other.cols, other.classes),
            "concat: datasets of different shapes"
        );
        let mut images = self.images.clone();
        images.extend_from_slice(&other.images);
        let mut labels = self.labels.clone();
        labels.extend_from_slice(&other.labels);
        Dataset {
            images,
            labels,
            rows: self.rows,
            cols: self.cols,
            classes: self.classes,
        }
    }

    /// The first `n` examples (all of them when `n` is larger).
    pub fn take(&self, n: usize) -> Dataset {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.subset(&idx)
    }

    /// Pixels of the examples at `indices` scaled to `[0, 1]`, concatenated, with their labels.
    pub fn batch(&self, indices: &[usize]) -> (Vec<f32>, Vec<i64>) {
        let mut x = Vec::with_capacity(indices.len() * self.pixels());
        for &i in indices {
            x.extend(self.image(i).iter().map(|&v| v as f32 / 255.0));
        }
        let y = indices.iter().map(|&i| self.labels[i] as i64).collect();
        (x, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_outside_the_class_range_are_rejected() {
        let err = Dataset::new(vec![0; 8], vec![0, 3], 2, 2, 3).unwrap_err();
        assert!(err.to_string().contains("label 3"), "{err}");
    }

    #[test]
    fn concat_keeps_each_image_with_its_label_in_order() {
        let a = Dataset::new(vec![1, 1, 2, 2], vec![0, 1], 1, 2, 3).unwrap();
        let b = Dataset::new(vec![3, 3], vec![2], 1, 2, 3).unwrap();
        let both = a.concat(&b);
        assert_eq!(both.len(), 3);
        assert_eq!((both.image(2), both.label(2)), (&[3u8, 3][..], 2));
        assert_eq!((both.image(1), both.label(1)), (&[2u8, 2][..], 1));
    }

    #[test]
    fn subset_and_batch_keep_images_with_their_labels() {
        let d = Dataset::new((0..12).collect(), vec![0, 1, 2], 2, 2, 3).unwrap();
        let s = d.subset(&[2, 0]);
        assert_eq!(s.image(0), &[8, 9, 10, 11]);
        assert_eq!(s.label(0), 2);
        assert_eq!(s.class_counts(), vec![1, 0, 1]);
        let (x, y) = d.batch(&[1]);
        assert_eq!(y, vec![1]);
        assert_eq!(x, vec![4.0 / 255.0, 5.0 / 255.0, 6.0 / 255.0, 7.0 / 255.0]);
    }
}
