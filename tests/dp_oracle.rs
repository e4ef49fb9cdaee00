//! The fast DP-SGD clipped sum (tapped layers, ghost norms) against the per-example loop
//! oracle, shared by the f32 tests (integration binary) and the f64 tests (`tests/f64.rs`).

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use ppml::model::{Activation, Classifier, ModelConfig, ModelKind, ModelSpec};
use ppml::train::dp::{clipped_batch_gradient, clipped_sum_per_example_loop};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Small versions of the MLP and the CNN, and LeNet (whose widths are fixed; tanh here); the
/// CNN keeps Papernot's channels so that the first convolution takes the explicit per-example
/// path and the second the Gram-matrix one.
pub fn small_model(kind: ModelKind) -> ModelConfig {
    ModelSpec {
        kind,
        activation: Activation::Tanh,
        mlp_hidden: vec![24, 16],
        cnn_channels: [16, 32],
        cnn_dense: 16,
    }
    .for_data(28, 10)
}

/// A random batch on `device`.
pub fn random_batch(
    batch: usize,
    device: &Device,
    rng: &mut StdRng,
) -> (Tensor<4>, Tensor<1, Int>) {
    let x: Vec<f32> = (0..batch * 784).map(|_| rng.random::<f32>()).collect();
    let y: Vec<i64> = (0..batch).map(|_| rng.random_range(0..10)).collect();
    (
        Tensor::from_data(TensorData::new(x, [batch, 1, 28, 28]), device),
        Tensor::from_data(TensorData::new(y, [batch]), device),
    )
}

/// Checks the fast clipped sum against the oracle with the clipping norm at the median
/// per-example norm (so some examples are clipped and some are not), and with no clipping.
/// Returns the worst relative difference seen.
pub fn fast_clipped_sum_matches_the_loop(kind: ModelKind, device: &Device, seed: u64) -> f64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let ad = device.clone().autodiff();
    let model = Classifier::new(&small_model(kind), &ad, &mut rng);
    let batch = 7;
    let (images, labels) = random_batch(batch, &ad, &mut rng);

    // Per-example norms from the oracle itself (a batch of one, never clipped).
    let mut norms: Vec<f64> = (0..batch)
        .map(|b| {
            let g = clipped_sum_per_example_loop(
                &model,
                images.clone().slice(b..b + 1),
                labels.clone().slice(b..b + 1),
                f64::INFINITY,
            );
            g.squared_norm().into_scalar::<f64>().sqrt()
        })
        .collect();
    norms.sort_by(f64::total_cmp);
    assert!(norms[0] < norms[batch - 1], "examples differ: {norms:?}");
    let median = norms[batch / 2];

    let frozen = model.clone().no_grad(); // as DP training runs it
    let mut worst = 0.0_f64;
    for clip in [median, f64::INFINITY] {
        let fast = clipped_batch_gradient(&frozen, images.clone(), labels.clone(), clip);
        let slow = clipped_sum_per_example_loop(&model, images.clone(), labels.clone(), clip);
        let (diff, scale) = fast.sum.max_abs_difference(&slow);
        assert!(scale > 0.0, "the oracle's gradient is not all zero");
        worst = worst.max(diff / scale);
        // The summed loss is reported too.
        assert!(fast.loss_sum > 0.0 && fast.loss_sum.is_finite());
    }
    worst
}
