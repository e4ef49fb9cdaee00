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
    for (kind, seed) in [
        (ModelKind::Mlp, 3),
        (ModelKind::Cnn, 4),
        (ModelKind::Lenet, 5),
    ] {
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

/// A victim's explicit gradient, `(images, soft labels) -> one flat tensor per parameter`.
type Gradients<'a> = &'a dyn Fn(Tensor<4>, Tensor<2>) -> Vec<Tensor<1>>;

/// DLG's objective, ‖∇θ L(x') − ∇θ L(x)‖², differentiated by burn through the written gradient
/// (`on_ad`, the same weights on the autodiff device), against central finite differences of
/// the same objective (`plain`) at 12 random pixels of a batch of 2. Returns the worst
/// difference relative to the largest component of burn's gradient, and the number of pixels
/// whose step crossed a kink.
///
/// With max-pooling the parameter gradient jumps where a window's maximum changes hands (the
/// routing flips), so the objective is only piecewise smooth: a step that crosses such a tie
/// measures the jump, not the derivative. The two one-sided differences then disagree by far
/// more than curvature explains (measured: −0.23 against −1.6e-4 for one CNN pixel at
/// h = 1e-4); such a pixel is measured again with a step 100× smaller.
fn finite_difference_error(
    plain: Gradients,
    on_ad: Gradients,
    device: &Device,
    rng: &mut rand::rngs::StdRng,
) -> (f64, usize) {
    use ppml::model::victim::squared_distance;
    use rand::RngExt;
    let ad = device.clone().autodiff();
    let (x, y) = images_and_soft_labels(2, device, rng);
    let (dummy, _) = images_and_soft_labels(2, device, rng);
    let target = plain(x, y.clone());
    let objective = |images: Tensor<4>| -> f64 {
        values(squared_distance(&plain(images, y.clone()), &target))[0]
    };
    // burn's gradient of the objective at the dummy images.
    let dummy_ad = Tensor::<4>::from_data(dummy.to_data(), &ad).require_grad();
    let target_ad: Vec<Tensor<1>> = target
        .iter()
        .map(|t| Tensor::from_data(t.to_data(), &ad))
        .collect();
    let y_ad = Tensor::<2>::from_data(y.to_data(), &ad);
    let loss = squared_distance(&on_ad(dummy_ad.clone(), y_ad), &target_ad);
    let grads = loss.backward();
    let analytic = values(dummy_ad.grad(&grads).unwrap());
    let base = values(dummy);
    // Central differences err by O(h²): 1e-4 leaves that near 1e-9 of the largest component
    // here, far above f64 rounding.
    let mut worst = 0.0f64;
    let mut kinks = 0;
    let scale = analytic.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for _ in 0..12 {
        let i = rng.random_range(0..base.len());
        let at = |delta: f64| {
            let mut v = base.clone();
            v[i] += delta;
            objective(Tensor::from_data(
                TensorData::new(v, [2, 1, 28, 28]),
                device,
            ))
        };
        let f0 = at(0.0);
        // (central difference, whether the one-sided ones disagree by a tenth of the scale)
        let measure = |h: f64| {
            let (right, left) = (at(h), at(-h));
            let crossed = ((right - f0) / h - (f0 - left) / h).abs() > 0.1 * scale;
            ((right - left) / (2.0 * h), crossed)
        };
        let (mut numeric, crossed) = measure(1e-4);
        if crossed {
            kinks += 1;
            numeric = measure(1e-6).0;
        }
        worst = worst.max((numeric - analytic[i]).abs() / scale);
    }
    (worst, kinks)
}

#[test]
fn the_gradient_matching_loss_has_the_input_gradient_finite_differences_give() {
    use ppml::model::{Activation, Classifier, ExplicitMlp, ModelSpec};
    use rand::SeedableRng;
    let device = f64_device();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let config = ModelSpec::mlp(&[16], Activation::Sigmoid).for_data(28, 10);
    let model = Classifier::new(&config, &device, &mut rng);
    let Classifier::Mlp(mlp) = &model else {
        unreachable!("an MLP spec builds an MLP")
    };
    let plain = ExplicitMlp::of(mlp, &device);
    let on_ad = plain.to_device(&device.clone().autodiff());
    let (worst, kinks) = finite_difference_error(
        &|x, y| plain.gradients(x, y),
        &|x, y| on_ad.gradients(x, y),
        &device,
        &mut rng,
    );
    eprintln!("MLP finite differences: worst difference {worst:e} of the largest component");
    assert!(worst < 1e-6, "{worst}");
    assert_eq!(kinks, 0, "a smooth model has no kinks");
}

/// DLG's LeNet at the weights of `lenet`, written with burn's own `conv2d` and parameters
/// marked `require_grad`: the autodiff reference for the explicit gradient, flat, in its order.
fn lenet_autodiff_gradient(
    lenet: &ppml::model::ExplicitLenet,
    x: Tensor<4>,
    y: Tensor<2>,
    ad: &Device,
) -> Vec<f64> {
    use burn::tensor::activation::{log_softmax, sigmoid};
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    let params: Vec<Tensor<1>> = lenet
        .parameters()
        .into_iter()
        .map(|p| Tensor::<1>::from_data(p.to_data(), ad).require_grad())
        .collect();
    let shapes = lenet.param_shapes();
    let mut h = Tensor::<4>::from_data(x.to_data(), ad);
    for (i, stride) in [2, 2, 1].into_iter().enumerate() {
        let s = &shapes[2 * i];
        let w = params[2 * i].clone().reshape([s[0], s[1], s[2], s[3]]);
        let options = ConvOptions::new([stride, stride], [2, 2], [1, 1], 1);
        h = sigmoid(conv2d(h, w, Some(params[2 * i + 1].clone()), options));
    }
    let s = &shapes[6];
    let w = params[6].clone().reshape([s[0], s[1]]);
    let logits = h.flatten::<2>(1, 3).matmul(w) + params[7].clone().unsqueeze_dim(0);
    let y = Tensor::<2>::from_data(y.to_data(), ad);
    let loss = (y * log_softmax(logits, 1)).sum_dim(1).neg().mean();
    let grads = loss.backward();
    params
        .iter()
        .flat_map(|p| values(p.grad(&grads).unwrap()))
        .collect()
}

#[test]
fn the_explicit_lenet_gradient_equals_burns_autodiff_of_its_conv_forward_in_f64() {
    use ppml::model::{Activation, ExplicitLenet};
    use rand::SeedableRng;
    let device = f64_device();
    let ad = device.clone().autodiff();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let lenet = ExplicitLenet::new(Activation::Sigmoid, 10, 28, &device, &mut rng);
    assert_eq!(lenet.param_sizes(), [300, 12, 3600, 12, 3600, 12, 5880, 10]);
    let (x, y) = images_and_soft_labels(3, &device, &mut rng);
    let autodiff = lenet_autodiff_gradient(&lenet, x.clone(), y.clone(), &ad);
    let written: Vec<f64> = lenet.gradients(x, y).into_iter().flat_map(values).collect();
    assert_eq!(written.len(), lenet.num_params());
    let worst = relative_difference(&written, &autodiff);
    eprintln!("LeNet: relative difference {worst:e}");
    assert!(worst < 1e-10, "{worst}");
}

#[test]
fn the_lenet_matching_loss_has_the_input_gradient_finite_differences_give() {
    use ppml::model::{Activation, ExplicitLenet};
    use rand::SeedableRng;
    let device = f64_device();
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let plain = ExplicitLenet::new(Activation::Sigmoid, 10, 28, &device, &mut rng);
    let on_ad = plain.to_device(&device.clone().autodiff());
    let (worst, kinks) = finite_difference_error(
        &|x, y| plain.gradients(x, y),
        &|x, y| on_ad.gradients(x, y),
        &device,
        &mut rng,
    );
    eprintln!("LeNet finite differences: worst difference {worst:e} of the largest component");
    assert!(worst < 1e-6, "{worst}");
    assert_eq!(kinks, 0, "a smooth model has no kinks");
}

/// A small tanh CNN (channels 4 and 8, dense 16) for 28×28 images and 10 classes.
fn small_cnn(device: &Device, rng: &mut rand::rngs::StdRng) -> ppml::model::Classifier {
    use ppml::model::{Activation, Classifier, ModelKind, ModelSpec};
    let spec = ModelSpec {
        kind: ModelKind::Cnn,
        activation: Activation::Tanh,
        cnn_channels: [4, 8],
        cnn_dense: 16,
        ..ModelSpec::default()
    };
    Classifier::new(&spec.for_data(28, 10), device, rng)
}

/// burn's autodiff gradient of `model`'s mean soft-label cross-entropy at `(x, y)`, one vector
/// per parameter in visiting order: the flat order of `ModelSnapshot` and of a federated update.
fn autodiff_gradients(
    model: &ppml::model::Classifier,
    x: Tensor<4>,
    y: Tensor<2>,
) -> Vec<Vec<f64>> {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::optim::GradientsParams;
    struct Collect<'a>(&'a GradientsParams, Vec<Vec<f64>>);
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.1.push(values(self.0.get::<D>(param.id).unwrap()));
        }
    }
    let log_p = burn::tensor::activation::log_softmax(model.forward(x), 1);
    let loss = (y * log_p).sum_dim(1).neg().mean();
    let grads = GradientsParams::from_grads(loss.backward(), model);
    let mut collect = Collect(&grads, Vec::new());
    model.visit(&mut collect);
    collect.1
}

/// The layout of `model` (the flat order of its snapshot and of a federated update), checked to
/// hold each of `layers`' weight then bias, in order, and the size of every parameter.
fn checked_layout(
    model: &ppml::model::Classifier,
    layers: &[&str],
) -> (std::sync::Arc<ppml::model::ParamLayout>, Vec<usize>) {
    let layout = ppml::model::ParamLayout::of(model);
    let names: Vec<&str> = layout.params().iter().map(|p| p.name()).collect();
    let expected: Vec<String> = layers
        .iter()
        .flat_map(|l| [format!("{l}.weight"), format!("{l}.bias")])
        .collect();
    assert_eq!(names, expected);
    let sizes = layout.params().iter().map(|p| p.len()).collect();
    (layout, sizes)
}

#[test]
fn the_explicit_cnn_gradient_equals_burns_autodiff_of_the_classifier_in_f64() {
    use ppml::model::{Classifier, ExplicitCnn};
    use rand::SeedableRng;
    let device = f64_device();
    let ad = device.clone().autodiff();
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let model = small_cnn(&ad, &mut rng);
    let Classifier::Cnn(cnn) = &model else {
        unreachable!("a CNN spec builds a CNN")
    };
    let (x, y) = images_and_soft_labels(3, &ad, &mut rng);
    let autodiff = autodiff_gradients(&model, x.clone(), y.clone()).concat();

    let explicit = ExplicitCnn::of(cnn, &device);
    let names = ["conv1", "conv2", "fc1", "fc2"];
    let (_, sizes) = checked_layout(&model, &names);
    assert_eq!(explicit.param_sizes(), sizes);
    let written: Vec<f64> = explicit
        .gradients(x.inner(), y.inner())
        .into_iter()
        .flat_map(values)
        .collect();
    assert_eq!(written.len(), explicit.num_params());
    let worst = relative_difference(&written, &autodiff);
    eprintln!("CNN: relative difference {worst:e}");
    assert!(worst < 1e-10, "{worst}");
}

/// A LeNet `Classifier` built from its `ModelConfig`: the victim's explicit gradient
/// (`Victim::of`) is burn's autodiff gradient of the same classifier, parameter by parameter in
/// the flat order of its `ModelSnapshot`, so a federated LeNet update is what the victim writes.
#[test]
fn the_lenet_victims_gradient_equals_burns_autodiff_of_the_classifier_in_f64() {
    use ppml::model::{Activation, Classifier, ModelKind, ModelSnapshot, ModelSpec, Victim};
    use rand::SeedableRng;
    let device = f64_device();
    let ad = device.clone().autodiff();
    for (activation, seed) in [
        (Activation::Sigmoid, 15),
        (Activation::Tanh, 16),
        (Activation::Relu, 17),
    ] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let spec = ModelSpec {
            kind: ModelKind::Lenet,
            activation,
            ..ModelSpec::default()
        };
        let model = Classifier::new(&spec.for_data(28, 10), &ad, &mut rng);
        let (x, y) = images_and_soft_labels(3, &ad, &mut rng);
        let autodiff = autodiff_gradients(&model, x.clone(), y.clone());

        let (layout, sizes) = checked_layout(&model, &["conv1", "conv2", "conv3", "fc"]);
        let victim = Victim::of(&model, &device);
        assert_eq!(victim.param_sizes(), sizes);
        assert_eq!(
            victim.num_params(),
            ModelSnapshot::of(&model).values().len()
        );
        let written = victim.gradients(x.inner(), y.inner());
        assert_eq!(written.len(), autodiff.len());
        for ((param, w), a) in layout.params().iter().zip(written).zip(&autodiff) {
            let w = values(w);
            let worst = relative_difference(&w, a);
            eprintln!(
                "LeNet {activation:?} {}: relative difference {worst:e}",
                param.name()
            );
            assert!(worst < 1e-10, "{activation:?} {}: {worst}", param.name());
        }
    }
}

#[test]
fn the_cnn_matching_loss_has_the_input_gradient_finite_differences_give() {
    use ppml::model::{Classifier, ExplicitCnn};
    use rand::SeedableRng;
    let device = f64_device();
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    let model = small_cnn(&device, &mut rng);
    let Classifier::Cnn(cnn) = &model else {
        unreachable!("a CNN spec builds a CNN")
    };
    let plain = ExplicitCnn::of(cnn, &device);
    let on_ad = plain.to_device(&device.clone().autodiff());
    let (worst, kinks) = finite_difference_error(
        &|x, y| plain.gradients(x, y),
        &|x, y| on_ad.gradients(x, y),
        &device,
        &mut rng,
    );
    eprintln!(
        "CNN finite differences: worst difference {worst:e} of the largest component, \
         {kinks} of 12 steps across a max-pool tie"
    );
    assert!(worst < 1e-6, "{worst}");
    // Ties are rare: a step of 1e-4 crosses one for at most a few of the 12 pixels.
    assert!(kinks <= 2, "{kinks} kinks");
}

/// The CNN's explicit backward pass on a CPU (`model/cnn/host.rs`: im2col convolutions, its own
/// pooling and activation kernels, no tape) against burn's autodiff through burn's own layers
/// (`Conv2d`, `MaxPool2d`): logits, and the mean loss's gradient as a plain training step
/// takes it, for every activation. Half of every image is exactly zero and the rest takes four
/// values, so most pooling windows hold ties: burn sends a tie's gradient to the first maximum
/// in row-major order, and so must the kernels.
#[test]
fn the_cnns_explicit_backward_equals_burns_autodiff_in_f64() {
    use burn::tensor::Int;
    use ppml::model::{Activation, Classifier, ModelSpec};
    use ppml::train::dp::weighted_sum;
    use rand::{RngExt, SeedableRng};
    let device = f64_device();
    let ad = device.clone().autodiff();
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let batch = 5;
    for activation in [Activation::Tanh, Activation::Relu, Activation::Sigmoid] {
        let spec = ModelSpec {
            kind: ModelKind::Cnn,
            activation,
            cnn_channels: [4, 8],
            cnn_dense: 16,
            ..ModelSpec::default()
        };
        let model = Classifier::new(&spec.for_data(28, 10), &ad, &mut rng);
        let x: Vec<f64> = (0..batch * 784)
            .map(|i| {
                if (i % 784) < 392 {
                    0.0
                } else {
                    f64::from(rng.random_range(0..4u8)) / 3.0
                }
            })
            .collect();
        let labels: Vec<i64> = (0..batch).map(|_| rng.random_range(0..10)).collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [batch, 1, 28, 28]), &ad);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), &ad);
        let soft = labels.clone().inner().one_hot::<2>(10).float();
        let soft = Tensor::<2>::from_data(soft.into_data(), &ad);

        let burn_logits = values(model.forward(x.clone()).inner());
        let host_logits = values(burn::module::Module::valid(&model).forward(x.clone().inner()));
        let worst = relative_difference(&host_logits, &burn_logits);
        assert!(worst < 1e-12, "{activation:?} logits: {worst}");

        let autodiff = autodiff_gradients(&model, x.clone(), soft).concat();
        let (layers, logits) = model.backprop(x, labels).expect("a CNN on flex");
        let worst = relative_difference(&values(logits), &burn_logits);
        assert!(worst < 1e-12, "{activation:?} backprop logits: {worst}");
        let weights = Tensor::full([batch], 1.0 / batch as f64, &device);
        let explicit = weighted_sum(&layers, weights).in_model_order(&model);
        let explicit: Vec<f64> = explicit
            .iter()
            .flat_map(|(_, g)| values(g.clone()))
            .collect();
        let worst = relative_difference(&explicit, &autodiff);
        eprintln!("{activation:?}: relative difference {worst:e}");
        assert!(worst < 1e-10, "{activation:?}: {worst}");
    }
}

/// The f64 path of the Gaussian mechanism (noise drawn in f32, added and scaled in f64) adds
/// to a gradient exactly the noise it adds to zero: `noisy(g) = g / (q·N) + noisy(0)`.
#[test]
fn the_noise_added_to_an_f64_gradient_is_the_noise_added_to_zero() {
    use ppml::train::dp::{DpSgd, ParamGrads, add_noise};
    use rand::SeedableRng;
    let device = f64_device();
    let dp = DpSgd::new(0.01, 2.0, 0.5, 1000).unwrap();
    let n = 20_000;
    let g: Vec<f64> = (0..n).map(|i| ((i % 97) as f64 - 48.0) / 16.0).collect();
    let noisy = |v: Vec<f64>| {
        let mut grads = ParamGrads::default();
        let id = burn::module::ParamId::new();
        grads.insert(id, Tensor::<1>::from_data(TensorData::new(v, [n]), &device));
        let noisy = add_noise(grads, &dp, &mut rand::rngs::StdRng::seed_from_u64(5));
        values(noisy.get(id).unwrap().clone())
    };
    let (on_g, on_zero) = (noisy(g.clone()), noisy(vec![0.0; n]));
    assert!(on_zero.iter().any(|&z| z != 0.0));
    for ((a, z), g) in on_g.iter().zip(&on_zero).zip(&g) {
        assert!(
            (a - (g / 10.0 + z)).abs() < 1e-12,
            "{a} vs {}",
            g / 10.0 + z
        );
    }
}
