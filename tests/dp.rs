//! DP-SGD: the fast clipped sum against the per-example loop (f32; the f64 twin is in
//! `tests/f64.rs`), the noise's scale, the tapped forward pass, and the CLI.

use burn::tensor::{Device, Tensor, TensorData};
use ppml::model::{Classifier, ModelKind};
use ppml::train::dp::{DpSgd, ParamGrads, add_noise};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::dp_oracle::{fast_clipped_sum_matches_the_loop, random_batch, small_model};

#[test]
fn ghost_clipped_sum_equals_the_per_example_loop_for_the_mlp_in_f32() {
    let worst = fast_clipped_sum_matches_the_loop(ModelKind::Mlp, &Device::flex(), 1);
    assert!(worst < 1e-5, "relative difference {worst}");
}

#[test]
fn ghost_clipped_sum_equals_the_per_example_loop_for_the_cnn_in_f32() {
    let worst = fast_clipped_sum_matches_the_loop(ModelKind::Cnn, &Device::flex(), 2);
    assert!(worst < 1e-5, "relative difference {worst}");
}

#[test]
fn tapped_forward_gives_the_same_logits_as_the_plain_forward() {
    let device = Device::flex().autodiff();
    for kind in [ModelKind::Mlp, ModelKind::Cnn] {
        let mut rng = StdRng::seed_from_u64(5);
        let model = Classifier::new(&small_model(kind), &device, &mut rng);
        let (images, _) = random_batch(5, &device, &mut rng);
        let mut tapes = Vec::new();
        let tapped = model.forward_tapped(images.clone(), &mut tapes);
        let plain = model.forward(images);
        let diff = (tapped - plain).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-5, "{kind:?}: {diff}");
        // One tap per trainable layer: 3 dense layers, or conv, conv, dense, dense.
        assert_eq!(tapes.len(), if kind == ModelKind::Mlp { 3 } else { 4 });
    }
}

#[test]
fn noise_on_a_zero_gradient_has_standard_deviation_sigma_c_over_qn() {
    let device = Device::flex();
    // σ = 2, C = 0.5, q·N = 0.01 · 1000 = 10: std 2 · 0.5 / 10 = 0.1.
    let dp = DpSgd::new(0.01, 2.0, 0.5, 1000).unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let (n, steps) = (10_000, 20);
    let (mut sum, mut sum_sq) = (0.0_f64, 0.0_f64);
    let mut seen_first: Option<Vec<f32>> = None;
    for _ in 0..steps {
        let mut zero = ParamGrads::default();
        let id = burn::module::ParamId::new();
        zero.insert(id, Tensor::<1>::zeros([n], &device));
        let noisy = add_noise(zero, &dp, &mut rng);
        let values: Vec<f32> = noisy
            .get(id)
            .unwrap()
            .clone()
            .into_data()
            .try_to_vec()
            .unwrap();
        // A fresh draw every step.
        if let Some(first) = &seen_first {
            assert_ne!(first, &values);
        } else {
            seen_first = Some(values.clone());
        }
        for v in values {
            sum += v as f64;
            sum_sq += (v as f64).powi(2);
        }
    }
    let count = (n * steps) as f64;
    let mean = sum / count;
    let std = (sum_sq / count - mean * mean).sqrt();
    // 200,000 draws: the std estimate is within 0.5% with overwhelming probability.
    assert!((std - 0.1).abs() < 0.002, "std {std}");
    assert!(mean.abs() < 0.002, "mean {mean}");
}

#[test]
fn without_noise_the_step_divides_the_clipped_sum_by_the_expected_batch() {
    let device = Device::flex();
    let dp = DpSgd::new(0.5, 0.0, 1.0, 8).unwrap(); // q·N = 4
    let mut g = ParamGrads::default();
    let id = burn::module::ParamId::new();
    g.insert(
        id,
        Tensor::<1>::from_data(TensorData::new(vec![4.0f32, -8.0], [2]), &device),
    );
    let out = add_noise(g, &dp, &mut StdRng::seed_from_u64(0));
    let v: Vec<f32> = out
        .get(id)
        .unwrap()
        .clone()
        .into_data()
        .try_to_vec()
        .unwrap();
    assert_eq!(v, vec![1.0, -2.0]);
}
