//! Gradient inversion against a party's FedSGD gradient on a real Fashion-MNIST image: the
//! analytic inversion and iDLG's label rule are exact at batch 1, and DLG's gradient matching
//! (L-BFGS with a strong-Wolfe line search) recovers the image to within PSNR 40 dB.

use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use ppml::attacks::Attack;
use ppml::attacks::gradient::dlg::{Dlg, LabelMode};
use ppml::attacks::gradient::{GradientView, Reconstruction, analytic::Analytic};
use ppml::data::{DatasetName, load};
use ppml::model::{Activation, Classifier, ExplicitMlp, ModelDelta, ModelSpec, ParamLayout};
use ppml::progress::Progress;
use ppml::runtime::Runtime;
use ppml::train::cross_entropy;
use ppml::train::dp::ParamGrads;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::common::fixtures;

/// Image `index` of the fixture's training split, as pixels in [0, 1], and its label.
fn real_image(index: usize) -> (Vec<f32>, usize) {
    let splits = load(DatasetName::FashionMnist, Some(&fixtures())).unwrap();
    let train = splits.train;
    let pixels = train
        .image(index)
        .iter()
        .map(|&p| f32::from(p) / 255.0)
        .collect();
    (pixels, train.label(index))
}

/// A sigmoid MLP (as DLG attacks), the FedSGD gradient a party holding `image` would send for
/// it (burn's autodiff, as `fl` computes it), and the server's view of that gradient.
fn observed(hidden: &[usize], image: &[f32], label: usize, seed: u64) -> GradientView {
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let mut rng = StdRng::seed_from_u64(seed);
    let config = ModelSpec::mlp(hidden, Activation::Sigmoid).for_data(28, 10);
    let model = Classifier::new(&config, &ad, &mut rng);
    let x = Tensor::<4>::from_data(TensorData::new(image.to_vec(), [1, 1, 28, 28]), &ad);
    let y = Tensor::<1, Int>::from_data(TensorData::new(vec![label as i64], [1]), &ad);
    let loss = cross_entropy(model.forward(x), y);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let flat = ParamGrads::from_autodiff(&model, &grads).to_flat();
    let delta = ModelDelta::new(ParamLayout::of(&model), flat);
    let Classifier::Mlp(mlp) = &model else {
        unreachable!("an MLP spec builds an MLP")
    };
    GradientView::new(ExplicitMlp::of(mlp, &device), &delta, 1, 28, &device)
}

fn run<A: Attack<GradientView, Output = Reconstruction>>(
    attack: &A,
    view: &GradientView,
) -> Reconstruction {
    let device = Device::flex();
    let mut rng = StdRng::seed_from_u64(0);
    attack
        .run(
            view,
            &mut Runtime::new(&device, &mut rng, &Progress::hidden()),
        )
        .unwrap()
}

fn mse(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn the_analytic_inversion_and_the_idlg_label_are_exact_at_batch_one() {
    for index in [0, 7, 42] {
        let (image, label) = real_image(index);
        let view = observed(&[64], &image, label, index as u64);
        let got = run(&Analytic, &view);
        assert_eq!(got.labels, vec![label], "image {index}");
        let worst = got.images[0]
            .iter()
            .zip(&image)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(worst < 1e-3, "image {index}: worst pixel error {worst}");
    }
}

#[test]
fn the_analytic_inversion_refuses_a_batch_it_cannot_separate() {
    let (image, label) = real_image(0);
    let view = observed(&[16], &image, label, 0);
    let two = GradientView::new(
        view.model().clone(),
        &ModelDelta::new(
            ParamLayout::of(&Classifier::new(
                &ModelSpec::mlp(&[16], Activation::Sigmoid).for_data(28, 10),
                &Device::flex(),
                &mut StdRng::seed_from_u64(0),
            )),
            vec![0.0; view.model().num_params()],
        ),
        2,
        28,
        &Device::flex(),
    );
    let device = Device::flex();
    let mut rng = StdRng::seed_from_u64(0);
    let err = Analytic
        .run(
            &two,
            &mut Runtime::new(&device, &mut rng, &Progress::hidden()),
        )
        .unwrap_err();
    assert!(err.to_string().contains("batch 1"), "{err}");
}

/// The reference result: a single image is recovered exactly from its gradient.
#[test]
fn dlg_recovers_a_single_real_image_from_its_gradient() {
    let (image, label) = real_image(3);
    let view = observed(&[64], &image, label, 3);
    for labels in [LabelMode::Inferred, LabelMode::Joint] {
        let dlg = Dlg {
            labels,
            iterations: 400,
            restarts: 2,
            ..Dlg::default()
        };
        let got = run(&dlg, &view);
        let error = mse(&got.images[0], &image);
        let psnr = -10.0 * error.log10();
        eprintln!(
            "{labels:?}: MSE {error:e}, PSNR {psnr:.1} dB, matching loss {:e}, {} evaluations",
            got.matching_loss, got.evaluations
        );
        assert_eq!(got.labels, vec![label], "{labels:?}");
        assert!(psnr >= 40.0, "{labels:?}: PSNR {psnr:.1} dB");
    }
}
