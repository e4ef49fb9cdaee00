//! Small models, shards and options for the tests of `party.rs` and `round.rs`.

use burn::tensor::Device;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::{Algorithm, BatchSampling, FederatedOptions};
use crate::data::Dataset;
use crate::fl::{Aggregation, SecAggParams, SumNoise};
use crate::model::{Activation, Classifier, ModelConfig, ModelKind};

/// Side of the test images: big enough for the CNN's two convolutions and pools.
pub(super) const SIDE: usize = 16;
/// Classes of the test data.
pub(super) const CLASSES: usize = 3;

/// `n` random images with labels cycling through the classes.
pub(super) fn shard(n: usize, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let images = (0..n * SIDE * SIDE).map(|_| rng.random::<u8>()).collect();
    let labels = (0..n).map(|i| (i % CLASSES) as u8).collect();
    Dataset::new(images, labels, SIDE, SIDE, CLASSES).expect("a consistent test shard")
}

/// A small classifier of `kind` on the autodiff CPU device.
pub(super) fn model(kind: ModelKind, seed: u64) -> Classifier {
    let config = ModelConfig {
        kind,
        activation: Activation::Tanh,
        mlp_hidden: vec![8],
        cnn_channels: [2, 4],
        cnn_dense: 8,
        side: SIDE,
        classes: CLASSES,
    };
    let mut rng = StdRng::seed_from_u64(seed);
    Classifier::new(&config, &Device::flex().autodiff(), &mut rng)
}

/// `algorithm` over plain aggregation of `parties`, batches of `batch_size`, lr 0.1.
pub(super) fn options(
    algorithm: Algorithm,
    parties: usize,
    batch_size: usize,
    vector_len: usize,
) -> FederatedOptions {
    FederatedOptions {
        algorithm,
        local_steps: 2,
        batch_size,
        sampling: BatchSampling::Fixed,
        lr: 0.1,
        aggregation: Aggregation::Plain,
        params: SecAggParams::every_party(parties, vector_len).expect("valid parameters"),
        clip_range: 1.0,
        dropouts_per_round: 0,
        noise: SumNoise::None,
        max_grad_norm: None,
        local_noise: None,
    }
}
