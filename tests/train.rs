//! End-to-end training runs on the real-data fixture.

use serde_json::Value;

use crate::common::{fixtures, metrics, ppml};

fn train(out: &std::path::Path, args: &[&str]) {
    ppml(out.parent().unwrap())
        .args(["run", "train", "--offline", "--dataset", "fashion-mnist"])
        .arg("--data-dir")
        .arg(fixtures())
        .arg("--out")
        .arg(out)
        .args(args)
        .assert()
        .success();
}

/// metrics.json without the wall-clock block and the provenance (whose command line names the
/// output folder), the only parts allowed to differ between runs with the same seed.
fn without_timing(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("timing");
    v.as_object_mut().unwrap().remove("provenance");
    v
}

#[test]
fn quick_run_writes_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q");
    train(&out, &["--quick", "--model", "mlp"]);
    let m = metrics(&out);
    for key in [
        "experiment",
        "dataset",
        "seed",
        "config",
        "privacy",
        "ppml_version",
        "train_accuracy",
        "test_accuracy",
        "history",
        "timing",
    ] {
        assert!(m.get(key).is_some(), "metrics.json lacks {key}");
    }
    assert_eq!(m["experiment"], "train");
    assert_eq!(m["quick"], true);
    assert_eq!(m["config"]["train"]["epochs"], 1);
    assert_eq!(m["config"]["model"]["kind"], "mlp");
    assert!(m["timing"]["samples_per_second"].as_f64().unwrap() > 0.0);
    assert!(out.join("model.bpk").is_file());
}

#[test]
fn the_same_seed_gives_the_same_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--train-limit",
        "500",
        "--test-limit",
        "200",
        "--epochs",
        "2",
    ];
    for model in ["mlp", "cnn"] {
        let (a, b) = (
            dir.path().join(format!("a-{model}")),
            dir.path().join(format!("b-{model}")),
        );
        let with_model: Vec<&str> = args.iter().copied().chain(["--model", model]).collect();
        train(&a, &with_model);
        train(&b, &with_model);
        assert_eq!(without_timing(metrics(&a)), without_timing(metrics(&b)));
        let c = dir.path().join(format!("c-{model}"));
        let other_seed: Vec<&str> = with_model.iter().copied().chain(["--seed", "7"]).collect();
        train(&c, &other_seed);
        assert_ne!(
            metrics(&a)["test_loss"],
            metrics(&c)["test_loss"],
            "a different seed should change the run"
        );
    }
}

#[test]
fn mlp_on_real_images_beats_chance_by_a_wide_margin() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mlp");
    train(
        &out,
        &[
            "--model",
            "mlp",
            "--activation",
            "relu",
            "--epochs",
            "3",
            "--optimizer",
            "adam",
            "--lr",
            "0.001",
            "--batch-size",
            "64",
        ],
    );
    let acc = metrics(&out)["test_accuracy"].as_f64().unwrap();
    // 10 classes: chance is 10%. 3,000 images and 3 epochs reach about 75-80%.
    assert!(acc > 0.65, "test accuracy {acc}");
}

#[test]
fn cnn_on_real_images_beats_chance_by_a_wide_margin() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cnn");
    train(
        &out,
        &["--model", "cnn", "--epochs", "3", "--batch-size", "64"],
    );
    let acc = metrics(&out)["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.6, "test accuracy {acc}");
}

#[test]
fn a_checkpoint_restores_the_trained_model() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    train(
        &first,
        &["--model", "mlp", "--train-limit", "600", "--epochs", "2"],
    );
    // Resuming with a tiny learning rate must start from the trained accuracy, not from chance.
    let resumed = dir.path().join("resumed");
    let ckpt = first.join("model.bpk");
    train(
        &resumed,
        &[
            "--model",
            "mlp",
            "--train-limit",
            "600",
            "--epochs",
            "1",
            "--lr",
            "1e-9",
            "--momentum",
            "0",
            "--init-from",
            ckpt.to_str().unwrap(),
        ],
    );
    let (a, b) = (metrics(&first), metrics(&resumed));
    let diff = (a["test_accuracy"].as_f64().unwrap() - b["test_accuracy"].as_f64().unwrap()).abs();
    assert!(
        diff < 1e-9,
        "first {} vs resumed {}",
        a["test_accuracy"],
        b["test_accuracy"]
    );
    assert!(a["test_accuracy"].as_f64().unwrap() > 0.5);
}

/// `result`'s value, or a panic naming the config file.
fn valid<T>(path: &std::path::Path, result: ppml::Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every published config parses (unknown keys and the old flat layout would be errors) and
/// passes validation, and the DP ones are private.
#[test]
fn every_config_in_experiments_is_valid() {
    use ppml::experiments::federated::Federated;
    use ppml::experiments::load;
    use ppml::experiments::mia::Mia;
    use ppml::experiments::train::Train;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("gradient-inversion-") {
            use ppml::experiments::gradient_inversion::GradientInversion;
            let config = valid(&path, load::<GradientInversion>(Some(&path), false));
            valid(&path, config.validate());
            checked += 1;
        } else if name.starts_with("global-model-") {
            use ppml::experiments::global_model_attack::GlobalModelAttack;
            let config = valid(&path, load::<GlobalModelAttack>(Some(&path), false));
            valid(&path, config.validate());
            let private = config.defense.epsilons.iter().any(|e| e.is_finite());
            assert_eq!(name.contains("-eps"), private, "{name}");
            checked += 1;
        } else if name.starts_with("audit-") {
            use ppml::experiments::audit::Audit;
            let config = valid(&path, load::<Audit>(Some(&path), false));
            valid(&path, config.validate());
            checked += 1;
        } else if name.starts_with("federated-") {
            let config = valid(&path, load::<Federated>(Some(&path), false));
            valid(&path, config.validate());
            checked += 1;
        } else if name.starts_with("mia-") {
            let resolved = valid(&path, load::<Mia>(Some(&path), false)).resolve();
            valid(&path, resolved.validate());
            assert_eq!(
                name.contains("-eps"),
                resolved.privacy.epsilon.is_some(),
                "{name}"
            );
            checked += 1;
        } else if name.starts_with("sweep-") {
            // A sweep grid, not a run's config: it expands (its configs are checked above),
            // one run per block and grid value (tests run in the repository root, where the
            // grid's config paths start).
            use ppml::experiments::sweep::{expand, load_grid};
            let grid = load_grid(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let jobs = expand(&grid).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(jobs.len() >= grid.blocks.len(), "{name}");
            checked += 1;
        } else if path.extension().is_some_and(|e| e == "toml") {
            let config = valid(&path, load::<Train>(Some(&path), false));
            valid(&path, config.validate());
            assert_eq!(
                name.starts_with("dp-"),
                config.privacy.epsilon.is_some(),
                "{name}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked} configs");
}

/// The mission's commands without a config file resolve to the published DP configurations, so
/// `ppml run mia --epsilon 1.5 --dataset fashion-mnist` reproduces the published ε = 1.5 row
/// and `ppml run train --epsilon 3 --dataset fashion-mnist` the dp-fashion-eps3 row.
#[test]
fn dp_flags_without_a_config_take_the_published_dp_hyperparameters() {
    use ppml::data::DatasetName;
    use ppml::experiments::mia::Mia;
    use ppml::experiments::train::Train;
    use ppml::experiments::{Experiment, load};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let published = |name: &str| dir.join(name);
    let mut mia = Mia::default_config(true);
    mia.data.dataset = DatasetName::FashionMnist;
    mia.privacy.epsilon = Some(1.5);
    let file = load::<Mia>(Some(&published("mia-fashion-eps1.5.toml")), false).unwrap();
    assert_eq!(mia, file);
    let mut nodp = Mia::default_config(false);
    nodp.data.dataset = DatasetName::FashionMnist;
    let file = load::<Mia>(Some(&published("mia-fashion-nodp.toml")), false).unwrap();
    assert_eq!(nodp, file);
    let mut train = Train::default_config(true);
    train.data.dataset = DatasetName::FashionMnist;
    train.privacy.epsilon = Some(3.0);
    let file = load::<Train>(Some(&published("dp-fashion-eps3.toml")), false).unwrap();
    assert_eq!(train, file);
}
