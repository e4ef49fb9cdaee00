//! The global-model attack end to end on the Fashion-MNIST fixture: a malicious server's
//! imprint block gives back every sample alone in its bin through SecAgg, the oracle placement
//! every sample, and the DP aggregate (both noise placements) nothing.

use crate::cli::rejects_run;

/// `ppml run global-model-attack --quick` on the fixture.
fn run_experiment(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    crate::common::run_quick(dir, "global-model-attack", "gm", extra)
}

#[test]
fn lone_samples_come_back_exactly_through_secagg_and_the_dp_aggregate_stops_them() {
    let dir = tempfile::tempdir().unwrap();
    let m = run_experiment(
        dir.path(),
        &[
            "--parties",
            "3",
            "--batch-size",
            "4",
            "--bins",
            "12,192",
            "--oracle",
            "--epsilon",
            "inf,3",
            "--noise",
            "central,distributed",
            "--seeds",
            "2",
            "--rounds",
            "5",
        ],
    );
    let cases = m["cases"].as_array().unwrap();
    // 2 seeds × (inf + ε 3 central + ε 3 distributed) × (2 bin counts + the oracle).
    assert_eq!(cases.len(), 2 * 3 * 3, "{cases:?}");
    let f = |c: &serde_json::Value, key: &str| c[key].as_f64().unwrap();
    for c in cases {
        let ssim: Vec<f64> = c["ssim"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_f64().unwrap())
            .collect();
        let exact = c["exact"].as_u64().unwrap() as usize;
        let psnr = c["psnr"].as_array().unwrap();
        let at_50_db = psnr.iter().filter(|p| p.as_f64().unwrap() >= 50.0).count();
        assert_eq!(exact, at_50_db, "{c}");
        assert!(ssim.iter().filter(|&&s| s > 0.99).count() >= exact, "{c}");
        if c["epsilon"] == "inf" {
            assert_eq!(c["samples"], 12, "{c}");
            // Every sample alone in its bin comes back exactly; shared bins blend.
            let alone = c["alone"].as_u64().unwrap() as usize;
            assert!(exact >= alone, "{alone} alone, {exact} exact: {c}");
            // and nothing else does: no empty bin shows up (bins found ≤ samples).
            assert!(c["bins_found"].as_u64().unwrap() <= 12, "{c}");
            assert!(c["recovered"].as_u64().unwrap() as usize >= alone, "{c}");
            let k = f(c, "bins");
            let formula = 12.0 * (1.0 - 1.0 / k).powf(11.0);
            if c["placement"] == "oracle-upper-bound" {
                assert_eq!(c["bins"], 12);
                assert_eq!(c["recovered"], 12, "{c}");
                assert_eq!(exact, 12, "{c}");
                assert_eq!(f(c, "expected_recovered"), 12.0);
            } else {
                assert!((f(c, "expected_recovered") - formula).abs() < 1e-9, "{c}");
            }
        } else {
            // The DP aggregate: nothing recovered, no better than the prior.
            assert_eq!(c["recovered"], 0, "{c}");
            assert_eq!(exact, 0, "{c}");
            assert!(f(c, "mean_rdlv") <= 0.0, "{c}");
            assert!(f(c, "noise_multiplier") > 0.0, "{c}");
        }
        let case_dir = c["dir"].as_str().unwrap();
        let file = |name: &str| dir.path().join("gm").join(case_dir).join(name);
        let png = std::fs::read(file("grid.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let npy = std::fs::read(file("reconstructions.npy")).unwrap();
        let header = String::from_utf8_lossy(&npy[10..80]).to_string();
        let n = c["samples"].as_u64().unwrap();
        assert!(
            header.contains(&format!("'shape': ({n}, 28, 28)")),
            "{header}"
        );
    }
    // With 192 bins for 12 samples most are alone in both seeds; the attack found them.
    let wide: Vec<&serde_json::Value> = cases
        .iter()
        .filter(|c| c["bins"] == 192 && c["epsilon"] == "inf")
        .collect();
    assert!(
        wide.iter().all(|c| c["recovered"].as_u64().unwrap() >= 8),
        "{wide:?}"
    );
    // The privacy block: DP-SGD's keys over the union of the parties' data.
    let privacy = m["privacy"].as_array().unwrap();
    assert_eq!(privacy.len(), 1, "{privacy:?}");
    let p = &privacy[0];
    assert!((f(p, "epsilon") - 3.0).abs() < 1e-2, "{p}");
    for key in [
        "delta",
        "noise_multiplier",
        "sample_rate",
        "steps",
        "clip_norm",
        "epsilon_rdp",
        "epsilon_pld",
    ] {
        assert!(!p[key].is_null(), "{key}: {p}");
    }
    assert_eq!(p["steps"], 5);
    assert!(p["neighbouring"].as_str().unwrap().contains("union"));
    // The planted-free global model trained at every level.
    let training = m["training"].as_array().unwrap();
    assert_eq!(training.len(), 3, "{training:?}");
    assert!(training.iter().all(|t| f(t, "test_accuracy") > 0.0));
}

#[test]
fn every_seed_of_a_single_federation_run_draws_its_own_batches() {
    let dir = tempfile::tempdir().unwrap();
    let m = run_experiment(
        dir.path(),
        &[
            "--parties",
            "2",
            "--batch-size",
            "3",
            "--bins",
            "6",
            "--seeds",
            "2",
            "--rounds",
            "1",
        ],
    );
    let cases = m["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2, "{cases:?}");
    let originals = |c: &serde_json::Value| {
        let case_dir = c["dir"].as_str().unwrap();
        std::fs::read(dir.path().join("gm").join(case_dir).join("originals.npy")).unwrap()
    };
    assert_eq!(cases[0]["seed"], 0);
    assert_eq!(cases[1]["seed"], 1);
    assert_ne!(
        originals(&cases[0]),
        originals(&cases[1]),
        "seed 1 repeated seed 0's batches"
    );
}

#[test]
fn scale_mia_finds_every_sample_the_oracle_isolates_in_the_latent_code() {
    let dir = tempfile::tempdir().unwrap();
    let m = run_experiment(
        dir.path(),
        &[
            "--attack",
            "scale-mia",
            "--parties",
            "2",
            "--batch-size",
            "4",
            "--bins",
            "64",
            "--oracle",
            "--seeds",
            "1",
            "--rounds",
            "1",
        ],
    );
    let ae = &m["autoencoder"];
    assert_eq!(ae["latent"], 256, "{ae}");
    assert!(ae["final_mse"].as_f64().unwrap() < 0.1, "{ae}");
    let cases = m["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2, "{cases:?}");
    for c in cases {
        assert_eq!(c["attack"], "scale-mia");
        let (alone, found) = (
            c["alone"].as_u64().unwrap(),
            c["bins_found"].as_u64().unwrap(),
        );
        // Every lone latent makes its bin's Δb non-zero; no empty bin shows up.
        assert!(alone <= found && found <= 8, "{c}");
        if c["placement"] == "oracle-upper-bound" {
            assert_eq!((alone, found), (8, 8), "{c}");
        }
        let npy = std::fs::read(
            dir.path()
                .join("gm")
                .join(c["dir"].as_str().unwrap())
                .join("reconstructions.npy"),
        )
        .unwrap();
        assert!(String::from_utf8_lossy(&npy[10..80]).contains("'shape': (8, 28, 28)"));
    }
}

#[test]
fn impossible_global_model_settings_exit_2_without_output() {
    let base = ["--dataset", "fashion-mnist", "--quick"];
    for (extra, expect) in [
        (&["--bins", "0"][..], "bins"),
        (
            &["--parties", "3", "--batch-size", "8", "--bins", "20"][..],
            "fewer bins than the 24 samples",
        ),
        (&["--epsilon", "0"][..], "epsilons"),
        (&["--epsilon", "-1"][..], "epsilons"),
        (
            &["--attack", "scale-mia", "--model", "cnn"][..],
            "first layer of an MLP",
        ),
        (
            &["--attack", "scale-mia", "--statistic", "dct"][..],
            "needs an image",
        ),
        (&["--parties", "1"][..], "at least 2 parties"),
        (&["--seeds", "0"][..], "seeds"),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        rejects_run("global-model-attack", &args, expect);
    }
    // The attacker's cut-offs from the parties' own split.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("overlap.toml");
    std::fs::write(&config, "[imprint]\naux = \"train\"\n").unwrap();
    let path = config.to_str().unwrap();
    rejects_run(
        "global-model-attack",
        &["--dataset", "fashion-mnist", "--config", path],
        "overlap the parties' data",
    );
    // One federation listed twice.
    let twice = dir.path().join("twice.toml");
    std::fs::write(&twice, "[imprint]\nfederations = [[3, 8], [3, 8]]\n").unwrap();
    rejects_run(
        "global-model-attack",
        &[
            "--dataset",
            "fashion-mnist",
            "--config",
            twice.to_str().unwrap(),
        ],
        "listed twice",
    );
    // The fixture's 3,000 training images give 3 parties shards of 1,000.
    rejects_run(
        "global-model-attack",
        &[
            "--dataset",
            "fashion-mnist",
            "--batch-size",
            "1200",
            "--bins",
            "4000",
        ],
        "larger than a party's shard (1000 examples",
    );
}
