//! How the auditor crafts its canaries, before training and without any secret.
//!
//! - Input canaries are images given a wrong label (`mislabelled`): a model learns such a
//!   record only by memorising it, so its loss separates a canary that was trained on from one
//!   that was not better than an ordinary record's would (Steinke et al. 2023, §6).
//! - Gradient canaries are Dirac gradients, one parameter coordinate each (Nasr et al. 2023).
//!   Every other example's gradient at that coordinate is noise to the auditor, so it picks the
//!   coordinates where its own data's gradients are smallest (`quiet_coordinates`): for an MLP,
//!   the first-layer weights of pixels that are black in almost every image.

use burn::optim::GradientsParams;
use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::Result;
use crate::data::Dataset;
use crate::model::Classifier;
use crate::train::dp::ParamGrads;
use crate::train::{batch_tensors, cross_entropy, model_device};

/// Images per batch when the auditor measures its data's gradients.
const PROBE_BATCH: usize = 256;
/// Batches it averages over.
const PROBE_BATCHES: usize = 8;

/// `pool`'s images, each with a label drawn uniformly from the other classes.
pub fn mislabelled(pool: &Dataset, rng: &mut StdRng) -> Result<Dataset> {
    let classes = pool.classes();
    let labels = pool
        .labels()
        .iter()
        .map(|&y| {
            // One of the classes − 1 wrong labels, uniformly.
            let shift = rng.random_range(1..classes) as u8;
            (y + shift) % classes as u8
        })
        .collect();
    Ok(pool.relabelled(labels)?)
}

/// `m` distinct flat parameter coordinates (`model::flat`'s layout) where the mean absolute
/// gradient of the cross-entropy on `aux` is smallest at `model`'s weights (the initial
/// weights, which a white-box auditor knows). Ties, common among coordinates whose gradient is
/// exactly zero, are broken at random.
///
/// # Panics
/// If `m` exceeds the model's parameters (checked by the caller's config).
pub fn quiet_coordinates(
    model: &Classifier,
    aux: &Dataset,
    m: usize,
    rng: &mut StdRng,
) -> Vec<usize> {
    let device = model_device(model);
    let mut order: Vec<usize> = (0..aux.len()).collect();
    order.shuffle(rng);
    let mut magnitude: Vec<f64> = Vec::new();
    for batch in order.chunks(PROBE_BATCH).take(PROBE_BATCHES) {
        let (images, labels) = batch_tensors(aux, batch, &device);
        let loss = cross_entropy(model.forward(images), labels);
        let grads = GradientsParams::from_grads(loss.backward(), model);
        let flat = ParamGrads::from_autodiff(model, &grads).to_flat();
        magnitude.resize(flat.len(), 0.0);
        for (total, g) in magnitude.iter_mut().zip(flat) {
            *total += f64::from(g.abs());
        }
    }
    assert!(m <= magnitude.len(), "more canaries than parameters");
    let mut coordinates: Vec<usize> = (0..magnitude.len()).collect();
    coordinates.shuffle(rng);
    coordinates.sort_by(|&a, &b| magnitude[a].total_cmp(&magnitude[b]));
    coordinates.truncate(m);
    coordinates
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, ModelSpec};
    use burn::tensor::Device;
    use rand::SeedableRng;

    #[test]
    fn mislabelled_canaries_keep_their_images_and_never_their_labels() {
        let images: Vec<u8> = (0..40 * 4).map(|i| i as u8).collect();
        let labels: Vec<u8> = (0..40).map(|i| (i % 3) as u8).collect();
        let pool = Dataset::new(images, labels, 2, 2, 3).unwrap();
        let canaries = mislabelled(&pool, &mut StdRng::seed_from_u64(1)).unwrap();
        for i in 0..pool.len() {
            assert_eq!(canaries.image(i), pool.image(i));
            assert_ne!(canaries.label(i), pool.label(i));
        }
        // Both wrong labels occur.
        let shifted: Vec<usize> = (0..40)
            .map(|i| (canaries.label(i) + 3 - pool.label(i)) % 3)
            .collect();
        assert!(shifted.contains(&1) && shifted.contains(&2));
    }

    /// Pixel 0 is black in every image: the first-layer weights reading it have exactly zero
    /// gradient, and they are what the auditor picks.
    #[test]
    fn quiet_coordinates_are_the_weights_of_a_pixel_that_never_lights() {
        let device = Device::flex().autodiff();
        let mut rng = StdRng::seed_from_u64(2);
        let n = 64;
        let images: Vec<u8> = (0..n * 16)
            .map(|i| if i % 16 == 0 { 0 } else { rng.random::<u8>() })
            .collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
        let aux = Dataset::new(images, labels, 4, 4, 2).unwrap();
        let config = ModelSpec::mlp(&[5], Activation::Tanh).for_data(4, 2);
        let model = Classifier::new(&config, &device, &mut rng);
        let picked = quiet_coordinates(&model, &aux, 5, &mut rng);
        let flat = crate::model::flat::to_flat(&model).len();
        assert_eq!(flat, 16 * 5 + 5 + 5 * 2 + 2);
        // The first layer's weight is stored [in, out] or [out, in]; either way exactly the 5
        // coordinates reading pixel 0 have zero gradient.
        let mut zero = Vec::new();
        let (images, labels) = batch_tensors(&aux, &(0..n).collect::<Vec<_>>(), &device);
        let loss = cross_entropy(model.forward(images), labels);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        for (i, g) in ParamGrads::from_autodiff(&model, &grads)
            .to_flat()
            .iter()
            .enumerate()
        {
            if *g == 0.0 {
                zero.push(i);
            }
        }
        assert_eq!(zero.len(), 5, "{zero:?}");
        let mut sorted = picked.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, zero);
    }
}
