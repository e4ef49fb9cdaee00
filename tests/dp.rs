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
fn ghost_clipped_sum_equals_the_per_example_loop_for_lenet_in_f32() {
    let worst = fast_clipped_sum_matches_the_loop(ModelKind::Lenet, &Device::flex(), 3);
    assert!(worst < 1e-5, "relative difference {worst}");
}

#[test]
fn tapped_forward_gives_the_same_logits_as_the_plain_forward() {
    let device = Device::flex().autodiff();
    for kind in [ModelKind::Mlp, ModelKind::Cnn, ModelKind::Lenet] {
        let mut rng = StdRng::seed_from_u64(5);
        let model = Classifier::new(&small_model(kind), &device, &mut rng);
        let (images, _) = random_batch(5, &device, &mut rng);
        let mut tapes = Vec::new();
        let tapped = model.forward_tapped(images.clone(), &mut tapes);
        let plain = model.forward(images);
        let diff = (tapped - plain).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-5, "{kind:?}: {diff}");
        // One tap per trainable layer: 3 dense layers, conv, conv, dense, dense (CNN), or
        // conv, conv, conv, dense (LeNet).
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
    let mut draws = Vec::with_capacity(n * steps);
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
        for &v in &values {
            sum += v as f64;
            sum_sq += (v as f64).powi(2);
        }
        draws.extend(values);
    }
    let count = (n * steps) as f64;
    let mean = sum / count;
    let std = (sum_sq / count - mean * mean).sqrt();
    // 200,000 draws: the std estimate's standard error is 0.16%; the tolerance is 2%.
    assert!((std - 0.1).abs() < 0.002, "std {std}");
    assert!(mean.abs() < 0.002, "mean {mean}");
    // A normal's shape, not only its scale: P(|z| > 2σ) = 4.550% (s.e. 0.047% over 200,000
    // draws), P(|z| > 3σ) = 0.270% (s.e. 0.012%), E[(z/σ)⁴] = 3 (s.e. about 0.022).
    let (mut beyond2, mut beyond3, mut fourth) = (0.0, 0.0, 0.0);
    for v in draws.iter().map(|&v| f64::from(v) / 0.1) {
        beyond2 += f64::from(u8::from(v.abs() > 2.0)) / count;
        beyond3 += f64::from(u8::from(v.abs() > 3.0)) / count;
        fourth += v.powi(4) / count;
    }
    assert!((beyond2 - 0.0455).abs() < 0.0025, "P(|z| > 2σ) = {beyond2}");
    assert!((beyond3 - 0.0027).abs() < 0.0006, "P(|z| > 3σ) = {beyond3}");
    assert!((fourth - 3.0).abs() < 0.1, "fourth moment {fourth}");
}

/// The fused f32 path adds to a gradient exactly the noise it adds to zero, then scales:
/// `noisy(g) = g / (q·N) + noisy(0)` from the same seed, up to f32 rounding.
#[test]
fn the_noise_added_to_a_gradient_is_the_noise_added_to_zero() {
    let device = Device::flex();
    let dp = DpSgd::new(0.01, 2.0, 0.5, 1000).unwrap();
    let n = 20_000;
    let g: Vec<f32> = (0..n).map(|i| ((i % 97) as f32 - 48.0) / 16.0).collect();
    let noisy = |values: Vec<f32>| -> Vec<f32> {
        let mut grads = ParamGrads::default();
        let id = burn::module::ParamId::new();
        grads.insert(
            id,
            Tensor::<1>::from_data(TensorData::new(values, [n]), &device),
        );
        let noisy = add_noise(grads, &dp, &mut StdRng::seed_from_u64(5));
        noisy
            .get(id)
            .unwrap()
            .clone()
            .into_data()
            .try_to_vec()
            .unwrap()
    };
    let (on_g, on_zero) = (noisy(g.clone()), noisy(vec![0.0; n]));
    for ((a, z), g) in on_g.iter().zip(&on_zero).zip(&g) {
        let expected = g / 10.0 + z;
        assert!(
            (a - expected).abs() <= 1e-6 * (1.0 + expected.abs()),
            "{a} vs {expected}"
        );
    }
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

mod cli {
    use crate::common::{fixtures, metrics, ppml};

    /// `ppml run train --quick` on the fixture with `args`: exit 2, `expect` on stderr, no
    /// output folder.
    fn train_rejects(args: &[&str], expect: &str) {
        let mut all = vec!["--dataset", "fashion-mnist", "--quick"];
        all.extend_from_slice(args);
        crate::cli::rejects(&all, expect);
    }

    #[test]
    fn impossible_privacy_parameters_exit_2_with_the_reason() {
        train_rejects(&["--epsilon", "0"], "epsilon");
        train_rejects(&["--epsilon=-1"], "epsilon");
        train_rejects(&["--epsilon", "1", "--delta", "0"], "delta");
        train_rejects(&["--epsilon", "1", "--delta", "1"], "delta");
        train_rejects(&["--epsilon", "1", "--clip-norm", "0"], "clip_norm");
        train_rejects(&["--noise-multiplier", "0"], "noise_multiplier");
        train_rejects(&["--noise-multiplier=-2"], "noise_multiplier");
        // 1e-6 is out of reach for one epoch at q = 256/2000 even with σ = 1000.
        train_rejects(&["--epsilon", "1e-6"], "unreachable");
    }

    #[test]
    fn giving_both_epsilon_and_sigma_in_a_config_exits_2() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.toml");
        std::fs::write(&cfg, "[privacy]\nepsilon = 2.0\nnoise_multiplier = 1.0\n").unwrap();
        train_rejects(&["--config", cfg.to_str().unwrap()], "not both");
    }

    #[test]
    fn accountant_rejects_out_of_range_arguments() {
        let dir = tempfile::tempdir().unwrap();
        for (args, expect) in [
            (
                &["--sample-rate", "0", "--noise-multiplier", "1"][..],
                "sample rate",
            ),
            (
                &["--sample-rate", "1.5", "--noise-multiplier", "1"],
                "sample rate",
            ),
            (
                &["--sample-rate", "0.01", "--noise-multiplier", "0"],
                "noise multiplier",
            ),
            (
                &[
                    "--sample-rate",
                    "0.01",
                    "--noise-multiplier",
                    "1",
                    "--delta",
                    "1",
                ],
                "delta",
            ),
            (&["--sample-rate", "0.01", "--epsilon", "0"], "epsilon"),
            (&["--sample-rate", "1", "--epsilon", "1e-6"], "unreachable"),
        ] {
            let assert = ppml(dir.path())
                .args(["accountant", "--steps", "100"])
                .args(args)
                .assert()
                .code(2);
            let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
            assert!(stderr.contains(expect), "{args:?}: {stderr}");
        }
    }

    #[test]
    fn accountant_prints_both_epsilons_and_calibrates_sigma() {
        let dir = tempfile::tempdir().unwrap();
        // The MNIST-like case of the reference vectors.
        let assert = ppml(dir.path())
            .args(["accountant", "--sample-rate", "0.004266666666666667"])
            .args(["--noise-multiplier", "1.1", "--steps", "14062", "--json"])
            .assert()
            .success();
        let v: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
        let p = &v["privacy"];
        assert!(
            (p["epsilon_rdp"].as_f64().unwrap() - 2.596556).abs() < 1e-4,
            "{p}"
        );
        assert!(
            (p["epsilon_pld"].as_f64().unwrap() - 2.381686).abs() < 2e-3,
            "{p}"
        );
        assert_eq!(p["epsilon"], p["epsilon_pld"], "PLD is the default");

        let assert = ppml(dir.path())
            .args(["accountant", "--sample-rate", "0.004266666666666667"])
            .args([
                "--epsilon",
                "1.5",
                "--steps",
                "3515",
                "--accountant",
                "rdp",
                "--json",
            ])
            .assert()
            .success();
        let v: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
        let sigma = v["privacy"]["noise_multiplier"].as_f64().unwrap();
        assert!((sigma - 1.0205).abs() < 0.01, "σ = {sigma}");
        assert!(v["privacy"]["epsilon"].as_f64().unwrap() <= 1.5);
    }

    #[test]
    fn a_dp_run_records_its_privacy_and_learns() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dp");
        ppml(dir.path())
            .args(["run", "train", "--offline", "--dataset", "fashion-mnist"])
            .arg("--data-dir")
            .arg(fixtures())
            .arg("--out")
            .arg(&out)
            .args([
                "--model",
                "mlp",
                "--epochs",
                "3",
                "--batch-size",
                "300",
                "--test-limit",
                "500",
            ])
            .args([
                "--epsilon",
                "8",
                "--clip-norm",
                "1",
                "--lr",
                "0.5",
                "--momentum",
                "0.5",
            ])
            .assert()
            .success();
        let m = metrics(&out);
        let p = &m["privacy"];
        // q = 300/3000, 3 epochs of 10 steps; σ calibrated so that PLD's ε is just under 8.
        assert_eq!(p["sample_rate"], 0.1);
        assert_eq!(p["steps"], 30);
        assert_eq!(m["steps"], 30);
        assert_eq!(p["accountant"], "pld");
        assert_eq!(p["target_epsilon"], 8.0);
        let eps = p["epsilon"].as_f64().unwrap();
        assert!(eps <= 8.0 && eps > 7.9, "{p}");
        assert!(
            p["epsilon_rdp"].as_f64().unwrap() >= eps,
            "RDP is never tighter: {p}"
        );
        assert!(p["noise_multiplier"].as_f64().unwrap() > 0.3, "{p}");
        assert_eq!(p["expected_batch_size"], 300.0);
        assert_eq!(m["config"]["privacy"]["epsilon"], 8.0);
        // Chance is 10%; a private MLP on 3,000 images still learns something.
        let acc = m["test_accuracy"].as_f64().unwrap();
        assert!(acc > 0.4, "test accuracy {acc}");
    }

    #[test]
    fn epsilon_inf_is_non_private_and_flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.toml");
        std::fs::write(&cfg, "[privacy]\nepsilon = 3.0\n[model]\nkind = \"mlp\"\n").unwrap();
        let out = dir.path().join("o");
        ppml(dir.path())
            .args([
                "run",
                "train",
                "--offline",
                "--dataset",
                "fashion-mnist",
                "--quick",
            ])
            .arg("--data-dir")
            .arg(fixtures())
            .arg("--config")
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .args(["--epsilon", "inf"])
            .assert()
            .success();
        let m = metrics(&out);
        assert!(m["privacy"].is_null(), "{}", m["privacy"]);
        assert!(m["config"]["privacy"]["epsilon"].is_null());
    }
}
