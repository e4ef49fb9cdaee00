//! f64 checks, in a test binary of their own: a device's float type is process-wide state in
//! burn, so switching flex to f64 must not leak into the f32 tests.

#[path = "dp_oracle.rs"]
mod dp_oracle;

use burn::tensor::{Device, FloatDType, Tensor, TensorData};
use ppml::model::ModelKind;

/// Flex in f64. The float type is set once per process: configuring it again (from a test
/// running in parallel) is an error.
fn f64_device() -> Device {
    static CONFIGURED: std::sync::Once = std::sync::Once::new();
    CONFIGURED.call_once(|| {
        Device::flex()
            .configure(FloatDType::F64)
            .expect("flex supports f64");
    });
    Device::flex()
}

#[test]
fn ghost_clipped_sum_equals_the_per_example_loop_in_f64() {
    let device = f64_device();
    for (kind, seed) in [(ModelKind::Mlp, 3), (ModelKind::Cnn, 4)] {
        let worst = dp_oracle::fast_clipped_sum_matches_the_loop(kind, &device, seed);
        eprintln!("{kind:?}: worst relative difference {worst:e}");
        assert!(worst < 1e-10, "{kind:?}: relative difference {worst}");
    }
}

/// The values of a tensor, as f64.
fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .unwrap()
}

/// `batch` images uniform in [0, 1] and soft labels (softmax of N(0, 1) logits) on `device`.
fn images_and_soft_labels(
    batch: usize,
    device: &Device,
    rng: &mut rand::rngs::StdRng,
) -> (Tensor<4>, Tensor<2>) {
    use rand::RngExt;
    let x: Vec<f64> = (0..batch * 784).map(|_| rng.random::<f64>()).collect();
    let z: Vec<f64> = (0..batch * 10)
        .map(|_| rng.random::<f64>() * 4.0 - 2.0)
        .collect();
    (
        Tensor::from_data(TensorData::new(x, [batch, 1, 28, 28]), device),
        burn::tensor::activation::softmax(
            Tensor::from_data(TensorData::new(z, [batch, 10]), device),
            1,
        ),
    )
}

/// The largest |a − b| over the largest |b|.
fn relative_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    diff / scale
}

#[test]
fn the_explicit_mlp_gradient_equals_burns_autodiff_in_f64() {
    use burn::optim::GradientsParams;
    use ppml::model::{Activation, Classifier, ExplicitMlp, ModelSpec};
    use rand::SeedableRng;
    let device = f64_device();
    let ad = device.clone().autodiff();
    for (activation, seed) in [
        (Activation::Sigmoid, 1),
        (Activation::Tanh, 2),
        (Activation::Relu, 3),
    ] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let config = ModelSpec::mlp(&[24, 16], activation).for_data(28, 10);
        let model = Classifier::new(&config, &ad, &mut rng);
        let Classifier::Mlp(mlp) = &model else {
            unreachable!("an MLP spec builds an MLP")
        };
        let (x, y) = images_and_soft_labels(3, &ad, &mut rng);
        let log_p = burn::tensor::activation::log_softmax(model.forward(x.clone()), 1);
        let loss = (y.clone() * log_p).sum_dim(1).neg().mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let mut autodiff = Vec::new();
        for layer in &mlp.layers {
            autodiff.extend(values(grads.get::<2>(layer.weight.id).unwrap()));
            let bias = layer.bias.as_ref().unwrap();
            autodiff.extend(values(grads.get::<1>(bias.id).unwrap()));
        }
        let explicit = ExplicitMlp::of(mlp, &device);
        let written: Vec<f64> = explicit
            .gradients(x.inner(), y.inner())
            .into_iter()
            .flat_map(values)
            .collect();
        assert_eq!(written.len(), explicit.num_params());
        let worst = relative_difference(&written, &autodiff);
        eprintln!("{activation:?}: relative difference {worst:e}");
        assert!(worst < 1e-10, "{activation:?}: {worst}");
    }
}

/// DLG's objective, ‖∇θ L(x') − ∇θ L(x)‖², differentiated by burn through the written
/// gradient, against central finite differences of the same objective.
#[test]
fn the_gradient_matching_loss_has_the_input_gradient_finite_differences_give() {
    use ppml::model::victim::squared_distance;
    use ppml::model::{Activation, Classifier, ExplicitMlp, ModelSpec};
    use rand::{RngExt, SeedableRng};
    let device = f64_device();
    let ad = device.clone().autodiff();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let config = ModelSpec::mlp(&[16], Activation::Sigmoid).for_data(28, 10);
    let model = Classifier::new(&config, &device, &mut rng);
    let Classifier::Mlp(mlp) = &model else {
        unreachable!("an MLP spec builds an MLP")
    };
    let (x, y) = images_and_soft_labels(2, &device, &mut rng);
    let (dummy, _) = images_and_soft_labels(2, &device, &mut rng);
    let plain = ExplicitMlp::of(mlp, &device);
    let target = plain.gradients(x, y.clone());
    let objective = |images: Tensor<4>| -> f64 {
        values(squared_distance(
            &plain.gradients(images, y.clone()),
            &target,
        ))[0]
    };
    // burn's gradient of the objective at the dummy images.
    let on_ad = ExplicitMlp::of(mlp, &ad);
    let dummy_ad = Tensor::<4>::from_data(dummy.to_data(), &ad).require_grad();
    let target_ad: Vec<Tensor<1>> = target
        .iter()
        .map(|t| Tensor::from_data(t.to_data(), &ad))
        .collect();
    let y_ad = Tensor::<2>::from_data(y.to_data(), &ad);
    let loss = squared_distance(&on_ad.gradients(dummy_ad.clone(), y_ad), &target_ad);
    let grads = loss.backward();
    let analytic = values(dummy_ad.grad(&grads).unwrap());
    let base = values(dummy.clone());
    // Central differences err by O(h²): 1e-4 leaves that near 1e-9 of the largest component
    // here, far above f64 rounding.
    let h = 1e-4;
    let mut worst = 0.0f64;
    let scale = analytic.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for _ in 0..12 {
        let i = rng.random_range(0..base.len());
        let at = |delta: f64| {
            let mut v = base.clone();
            v[i] += delta;
            objective(Tensor::from_data(
                TensorData::new(v, [2, 1, 28, 28]),
                &device,
            ))
        };
        let numeric = (at(h) - at(-h)) / (2.0 * h);
        worst = worst.max((numeric - analytic[i]).abs() / scale);
    }
    eprintln!("finite differences: worst difference {worst:e} of the largest component");
    assert!(worst < 1e-6, "{worst}");
}
