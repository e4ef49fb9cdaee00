//! Gradient inversion against a party's FedSGD gradient on a real Fashion-MNIST image: the
//! analytic inversion and iDLG's label rule are exact at batch 1, and DLG's gradient matching
//! (L-BFGS with a strong-Wolfe line search) recovers the image to within PSNR 40 dB.

use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use ppml::attacks::Attack;
use ppml::attacks::gradient::dlg::{Dlg, LabelMode};
use ppml::attacks::gradient::ig::InvertingGradients;
use ppml::attacks::gradient::{GradientView, Reconstruction, analytic::Analytic};
use ppml::data::{DatasetName, load};
use ppml::model::{
    Activation, Classifier, ExplicitMlp, ModelDelta, ModelSpec, ParamLayout, Victim,
};
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
    GradientView::new(
        Victim::Mlp(ExplicitMlp::of(mlp, &device)),
        &delta,
        1,
        28,
        &device,
    )
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

/// Inverting Gradients matches the gradient's direction with a total-variation prior: not
/// exact like DLG on this model, but the image comes back (PSNR ≥ 30 dB).
#[test]
fn inverting_gradients_recovers_a_single_real_image() {
    let (image, label) = real_image(5);
    let view = observed(&[64], &image, label, 5);
    let ig = InvertingGradients {
        iterations: 400,
        ..InvertingGradients::default()
    };
    let got = run(&ig, &view);
    let psnr = -10.0 * mse(&got.images[0], &image).log10();
    eprintln!(
        "Inverting Gradients: PSNR {psnr:.1} dB, cosine distance {:?}",
        got.matching_loss
    );
    assert_eq!(got.labels, vec![label]);
    assert!(psnr >= 30.0, "PSNR {psnr:.1} dB");
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
            "{labels:?}: MSE {error:e}, PSNR {psnr:.1} dB, matching loss {:?}, {} evaluations",
            got.matching_loss, got.evaluations
        );
        assert_eq!(got.labels, vec![label], "{labels:?}");
        assert!(psnr >= 40.0, "{labels:?}: PSNR {psnr:.1} dB");
    }
}

/// `ppml run gradient-inversion --quick` on the fixture.
fn run_experiment(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    crate::common::run_quick(dir, "gradient-inversion", "gi", extra)
}

/// The reference result in miniature: a party's gradient gives its image away under plain
/// aggregation, its masked upload gives nothing under SecAgg, and the sum is attacked too.
#[test]
fn a_partys_gradient_leaks_its_image_and_its_masked_upload_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let m = run_experiment(
        dir.path(),
        &["--batch-size", "1", "--attack", "analytic,dlg"],
    );
    let cases = m["cases"].as_array().unwrap();
    let case = |aggregation: &str, target: &str, attack: &str| {
        cases
            .iter()
            .find(|c| {
                c["aggregation"] == aggregation && c["target"] == target && c["attack"] == attack
            })
            .unwrap_or_else(|| panic!("no case {aggregation} {target} {attack}"))
    };
    for attack in ["analytic", "dlg"] {
        let plain = case("plain", "party", attack);
        assert_eq!(plain["recovered"], 1, "{plain}");
        assert_eq!(plain["label_accuracy"], 1.0, "{plain}");
        let masked = case("secagg", "party", attack);
        assert_eq!(masked["recovered"], 0, "{masked}");
        assert!(masked["mean_ssim"].as_f64().unwrap() < 0.2, "{masked}");
    }
    // The sum of 4 parties' batches of 1 is one batch of 4; analytic does not apply to it.
    let sum = case("secagg", "sum", "dlg");
    assert_eq!(sum["samples"], 4);
    assert!(
        cases
            .iter()
            .all(|c| !(c["target"] == "sum" && c["attack"] == "analytic"))
    );
    // Every case has its grid and arrays: [n, 28, 28] float32.
    for c in cases {
        let case_dir = c["dir"].as_str().unwrap();
        let file = |name: &str| dir.path().join("gi").join(case_dir).join(name);
        let png = std::fs::read(file("grid.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let npy = std::fs::read(file("reconstructions.npy")).unwrap();
        let header = String::from_utf8_lossy(&npy[10..80]).to_string();
        let n = c["samples"].as_u64().unwrap();
        assert!(
            header.contains(&format!("'shape': ({n}, 28, 28)")),
            "{header}"
        );
        assert!(header.contains("'<f4'"), "{header}");
    }
}

#[test]
fn impossible_inversion_settings_exit_2_without_output() {
    use crate::cli::rejects_run;
    let base = ["--dataset", "fashion-mnist", "--quick"];
    for (extra, expect) in [
        (&["--batch-size", "0"][..], "batch_sizes"),
        (&["--ssim-threshold", "1.5"][..], "ssim_threshold"),
        (&["--ssim-threshold", "0"][..], "ssim_threshold"),
        (&["--iterations", "0"][..], "iterations"),
        (
            &["--model", "cnn", "--attack", "analytic"][..],
            "dense first layer",
        ),
        (
            &["--parties", "1", "--aggregation", "secagg"][..],
            "parties",
        ),
        (&["--attack-round", "0"][..], "attack_round"),
        (
            &["--attack-round", "3", "--rounds", "2"][..],
            "beyond the run's 2 round(s)",
        ),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        rejects_run("gradient-inversion", &args, expect);
    }
    // The fixture's 3,000 training images make shards of 750 for 4 parties: a batch of 800 would
    // shrink silently, so it is refused once the data is read, before any round.
    rejects_run(
        "gradient-inversion",
        &["--dataset", "fashion-mnist", "--batch-size", "800"],
        "larger than a party's shard (750 examples",
    );
}

/// Local DP at the party: the record names ε and the calibrated σ, and the noise drowns the
/// gradient DLG matched exactly without it.
#[test]
fn local_dp_at_the_party_stops_the_recovery_plain_aggregation_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let m = run_experiment(
        dir.path(),
        &[
            "--batch-size",
            "1",
            "--aggregation",
            "plain",
            "--attack",
            "dlg",
            "--epsilon",
            "inf,10",
        ],
    );
    let cases = m["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    let open = cases.iter().find(|c| c["epsilon"] == "inf").unwrap();
    assert_eq!(open["recovered"], 1, "{open}");
    assert!(open["noise_multiplier"].is_null());
    let private = cases.iter().find(|c| c["epsilon"] == 10.0).unwrap();
    assert_eq!(private["recovered"], 0, "{private}");
    let sigma = private["noise_multiplier"].as_f64().unwrap();
    assert!(
        sigma > 0.4 && sigma < 0.6,
        "σ for ε = 10 at one release: {sigma}"
    );
    assert!(private["name"].as_str().unwrap().contains("eps10"));
    // The run's privacy block states the guarantee behind that σ, once per finite ε.
    let privacy = m["privacy"].as_array().unwrap();
    assert_eq!(privacy.len(), 1, "{privacy:?}");
    assert_eq!(privacy[0]["noise_multiplier"].as_f64().unwrap(), sigma);
    assert_eq!(privacy[0]["sample_rate"], 1.0);
    assert_eq!(privacy[0]["steps"], 1);
    assert!((privacy[0]["epsilon"].as_f64().unwrap() - 10.0).abs() < 1e-2);
}

/// iDLG beyond batch 1: the bias-corrected label counts fix the labels, then only the images
/// are searched; a later round attacks a model the federation has already moved.
#[test]
fn idlg_counts_the_labels_of_a_batch_and_a_later_round_can_be_attacked() {
    let dir = tempfile::tempdir().unwrap();
    let m = run_experiment(
        dir.path(),
        &[
            "--batch-size",
            "2",
            "--aggregation",
            "plain",
            "--attack",
            "idlg",
            "--attack-round",
            "3",
        ],
    );
    assert_eq!(m["config"]["inversion"]["attack_round"], 3);
    let cases = m["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 1);
    let case = &cases[0];
    assert_eq!(case["samples"], 2);
    assert_eq!(case["label_count_accuracy"], 1.0, "{case}");
    assert_eq!(case["recovered"], 2, "{case}");
}
