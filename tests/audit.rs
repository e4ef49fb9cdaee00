//! `ppml run audit`: the one-run audit on real DP-SGD training. A correct run's lower bound
//! stays below its claimed ε as often as the stated confidence promises; the positive
//! controls (`--audit-break noise|clip`) are caught on every seed; bad input exits 2.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use ppml::data::{Dataset, Truth};
use ppml::metrics::audit::{Guesses, epsilon_lower_bound, guess};
use ppml::metrics::audit_fdp::{dpsgd_curve, dpsgd_epsilon_lower_bound, rejects};
use ppml::model::{Activation, Classifier, ModelSpec};
use ppml::privacy::{Accountant, PrivacySpec};
use ppml::progress::Progress;
use ppml::runtime::Runtime;
use ppml::train::dp::{Audit, AuditBreak};
use ppml::train::{FitSpec, OptimizerKind, TrainOptions, dp_sgd, train_audited};

use crate::cli::rejects_run;
use crate::common::{fixtures, metrics, ppml, run_quick};

/// 200 images of 4×4 pixels whose first 8 pixels are always black: the first-layer weights
/// reading them get no gradient from the data, so Dirac canaries placed there face the DP
/// noise alone, and the audit sees exactly the subsampled Gaussian mechanism the accountant
/// analyses. The strongest setting for the auditor; if the bound ever exceeded the claim here
/// more often than the confidence allows, the noise or the sampling would be wrong.
fn dark_data(rng: &mut StdRng) -> Dataset {
    let n = 200;
    let images: Vec<u8> = (0..n * 16)
        .map(|i| if i % 16 < 8 { 0 } else { rng.random::<u8>() })
        .collect();
    let labels: Vec<u8> = (0..n).map(|_| rng.random_range(0..2u8)).collect();
    Dataset::new(images, labels, 4, 4, 2).unwrap()
}

/// One audited DP-SGD run of a 16-64-2 MLP at claimed ε, with 400 Dirac canaries on dead
/// coordinates, audited by both analyses at 95% with 100 guesses per side.
fn audited_run(epsilon: f64, audit_break: AuditBreak, seed: u64) -> Outcome {
    let mut rng = StdRng::seed_from_u64(seed);
    let data = dark_data(&mut rng);
    let model_spec = ModelSpec::mlp(&[64], Activation::Tanh);
    let opts = TrainOptions {
        epochs: 10,
        batch_size: 20,
        optimizer: OptimizerKind::Sgd,
        lr: 0.5,
        momentum: 0.0,
        ..TrainOptions::default()
    };
    let m = 400;
    let included: Vec<bool> = (0..m).map(|_| rng.random_bool(0.5)).collect();
    // The dead coordinates: pixels 0..8 of the first layer, in either weight layout.
    let device = burn::tensor::Device::flex();
    let ad = device.clone().autodiff();
    let model = Classifier::new(&model_spec.for_data(4, 2), &ad, &mut rng);
    let coordinates = dead_coordinates(&model, &data, m);
    let dirac: Vec<usize> = (0..m)
        .filter(|&i| included[i])
        .map(|i| coordinates[i])
        .collect();
    // σ is calibrated once per ε, for the expected 200 + 200 examples (a calibration takes
    // seconds in a debug build).
    let privacy = PrivacySpec {
        noise_multiplier: Some(sigma_for(epsilon)),
        clip_norm: 1.0,
        accountant: Accountant::Pld,
        ..PrivacySpec::default()
    };
    let plan = privacy.plan().unwrap();
    let fit = FitSpec {
        model: &model_spec,
        train: &opts,
        privacy: plan.as_ref(),
        audit_break,
    };
    // Planned for the expected 200 + 200 examples, whatever the coins drew (as the audit does).
    let (dp, report) = dp_sgd(&fit, data.len() + m / 2).unwrap().unwrap();
    let progress = Progress::hidden();
    let mut rt = Runtime::new(&device, &mut rng, &progress);
    let audit = Audit {
        dirac: &dirac,
        dirac_norm: 1.0,
        watch: &coordinates,
    };
    let (_, sums) = train_audited(model, &data, &data, &opts, &dp, audit, &mut rt).unwrap();
    let g = guess(&sums, &Truth::new(included), 100).unwrap();
    let bound = epsilon_lower_bound(g, 1e-5, 0.95).unwrap();
    let spent = &report.spent;
    // The f-DP test of the run's own claim: one PLD composition (the full search for the
    // least rejected σ' takes a dozen, seconds in a debug build; `fdp_epsilon` runs it).
    let claim = dpsgd_curve(spent.sample_rate, spent.noise_multiplier, spent.steps);
    Outcome {
        claimed: spent.epsilon,
        steinke: bound,
        fdp_rejects_claim: rejects(g, &claim, 0.05),
        guesses: g,
        sample_rate: spent.sample_rate,
        steps: spent.steps,
    }
}

/// One audited run's claim and what the two analyses proved.
struct Outcome {
    claimed: f64,
    steinke: f64,
    /// Whether the f-DP analysis rejects DP-SGD's curve at the run's own σ, at 95%.
    fdp_rejects_claim: bool,
    guesses: Guesses,
    sample_rate: f64,
    steps: u64,
}

impl Outcome {
    /// The f-DP analysis's empirical ε: the PLD ε of the least σ' it rejects.
    fn fdp_epsilon(&self) -> f64 {
        let (q, t) = (self.sample_rate, self.steps);
        dpsgd_epsilon_lower_bound(self.guesses, q, t, 1e-5, 0.95)
            .unwrap()
            .epsilon
    }
}

/// σ for `epsilon` at q = 20 / 400 over 10 epochs of 20 steps, cached.
fn sigma_for(epsilon: f64) -> f64 {
    use std::sync::Mutex;
    static CACHE: Mutex<Vec<(u64, f64)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap();
    if let Some(&(_, s)) = cache.iter().find(|(e, _)| *e == epsilon.to_bits()) {
        return s;
    }
    let c = ppml::privacy::calibrate(Accountant::Pld, 20.0 / 400.0, 200, epsilon, 1e-5).unwrap();
    cache.push((epsilon.to_bits(), c.noise_multiplier));
    c.noise_multiplier
}

/// The flat coordinates whose gradient is exactly zero on `data` (the dead pixels' weights).
fn dead_coordinates(model: &Classifier, data: &Dataset, m: usize) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(0);
    let picked = ppml::attacks::audit::canaries::quiet_coordinates(model, data, m, &mut rng);
    assert_eq!(picked.len(), m);
    picked
}

/// Over 40 correct runs at ε ≈ 2 each 95% lower bound may exceed the claim in at most 2 + a
/// binomial margin of them (Binomial(40, 0.05) ≤ 6 with probability 0.997); none does, as
/// one-run audits are not tight. The f-DP analysis, which tests the mechanism's own curve, gets
/// closer than Steinke's (compared on 8 of the runs). The positive control (σ = 0 while
/// claiming ε ≈ 2) is caught by both on every one of 8 seeds.
#[test]
fn the_bounds_respect_a_correct_run_and_catch_a_noiseless_one_on_every_seed() {
    let (mut above, mut steinke, mut fdp) = (0, 0.0, 0.0);
    for seed in 0..40 {
        let o = audited_run(2.0, AuditBreak::None, seed);
        assert!((o.claimed - 2.0).abs() < 0.01, "claimed {}", o.claimed);
        above += usize::from(o.steinke > o.claimed) + usize::from(o.fdp_rejects_claim);
        if seed < 8 {
            steinke += o.steinke / 8.0;
            fdp += o.fdp_epsilon() / 8.0;
        }
    }
    assert!(
        above <= 6,
        "{above} bounds of 40 correct runs above the claimed ε"
    );
    // The audit has power here, and the f-DP analysis more.
    assert!(
        steinke > 0.15 && fdp > steinke,
        "mean bounds: Steinke {steinke}, f-DP {fdp}"
    );
    for seed in 0..8 {
        let o = audited_run(2.0, AuditBreak::Noise, 100 + seed);
        let why = format!("seed {seed}: {}/200 correct", o.guesses.correct);
        assert!(o.steinke > o.claimed, "{why}: Steinke {}", o.steinke);
        assert!(o.fdp_rejects_claim, "{why}: f-DP accepts the claim");
    }
}

fn quick_audit(dir: &std::path::Path, out: &str, extra: &[&str]) -> assert_cmd::assert::Assert {
    ppml(dir)
        .args([
            "run",
            "audit",
            "--dataset",
            "fashion-mnist",
            "--quick",
            "--offline",
            "--canaries",
            "200",
            "--epochs",
            "5",
        ])
        .arg("--data-dir")
        .arg(fixtures())
        .arg("--out")
        .arg(dir.join(out))
        .args(extra)
        .assert()
}

/// Both breaks, three seeds each, on Fashion-MNIST images: the run writes its results, names
/// the contradiction and exits 1.
#[test]
fn the_positive_controls_exit_1_on_every_seed() {
    let dir = tempfile::tempdir().unwrap();
    for b in ["noise", "clip"] {
        for seed in ["0", "1", "2"] {
            let out = format!("{b}-{seed}");
            // RDP calibrates in milliseconds, the PLD in seconds; the claim is then RDP's ε.
            let run = quick_audit(
                dir.path(),
                &out,
                &[
                    "--epsilon",
                    "1",
                    "--accountant",
                    "rdp",
                    "--audit-break",
                    b,
                    "--seed",
                    seed,
                ],
            )
            .code(1);
            let stderr = String::from_utf8_lossy(&run.get_output().stderr).to_string();
            assert!(stderr.contains("is not what it claims"), "{stderr}");
            assert!(stderr.contains(&format!("--audit-break {b}")), "{stderr}");
            let m = metrics(&dir.path().join(&out));
            assert_eq!(m["config"]["audit"]["audit_break"], b);
            let level = &m["levels"][0];
            assert_eq!(level["contradiction"], true);
            assert!(!level["contradicted_by"].as_array().unwrap().is_empty());
            assert!(level["epsilon_steinke"].as_f64().unwrap() > 1.0);
            assert!(level["fdp"]["epsilon"].as_f64().unwrap() > 1.0);
        }
    }
}

#[test]
fn a_correct_quick_audit_reports_both_accountants_and_stays_below_them() {
    let dir = tempfile::tempdir().unwrap();
    quick_audit(dir.path(), "ok", &["--epsilon", "2"]).success();
    let m = metrics(&dir.path().join("ok"));
    let level = &m["levels"][0];
    let pld = level["privacy"]["epsilon_pld"].as_f64().unwrap();
    let rdp = level["privacy"]["epsilon_rdp"].as_f64().unwrap();
    assert!((pld - 2.0).abs() < 0.01 && rdp > pld, "{pld} {rdp}");
    assert!(level["epsilon_steinke"].as_f64().unwrap() <= pld);
    assert!(level["fdp"]["epsilon"].as_f64().unwrap() <= pld);
    // Little is proven at m = 100: at most a noise multiplier far above the run's own is ruled
    // out ("inf" when none is; seed 0 gets 63 of 100 guesses right, a bound at σ ≈ 31 for σ 1.9).
    let proven = &level["fdp"]["noise_multiplier"];
    let sigma = level["privacy"]["noise_multiplier"].as_f64().unwrap();
    assert!(
        proven == "inf" || proven.as_f64().unwrap() > 5.0 * sigma,
        "{proven} vs {sigma}"
    );
    assert_eq!(level["contradiction"], false);
    assert_eq!(level["contradicted_by"], serde_json::json!([]));
    assert_eq!(m["canaries"], 100, "--quick keeps 100 canaries");
    assert!(dir.path().join("ok/epsilon.png").exists());
    // Input canaries too, and a non-private reference.
    let m = run_quick(
        dir.path(),
        "audit",
        "input",
        &["--canary-kind", "input", "--epsilon", "inf"],
    );
    assert_eq!(m["levels"][0]["privacy"], serde_json::Value::Null);
    assert_eq!(m["levels"][0]["contradiction"], false);
}

#[test]
fn the_same_seed_gives_the_same_audit() {
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &str| {
        let mut m = run_quick(dir.path(), "audit", out, &["--epsilon", "4"]);
        for key in ["wall_seconds", "provenance"] {
            m.as_object_mut().unwrap().remove(key);
        }
        for level in m["levels"].as_array_mut().unwrap() {
            let level = level.as_object_mut().unwrap();
            level.remove("seconds");
            level.remove("train_seconds");
            level["fdp"].as_object_mut().unwrap().remove("seconds");
        }
        m
    };
    assert_eq!(run("a"), run("b"));
}

#[test]
fn bad_audit_input_exits_2_without_output() {
    let base = ["--dataset", "fashion-mnist"];
    for (extra, expect) in [
        (&["--canaries", "1"][..], "at least 2 canaries"),
        (&["--canaries", "100", "--guesses", "51"][..], "guesses"),
        (&["--confidence", "1"][..], "confidence"),
        (&["--confidence", "0"][..], "confidence"),
        (
            &[
                "--epsilon",
                "inf",
                "--audit-break",
                "noise",
                "--canary-kind",
                "input",
            ][..],
            "audit_break",
        ),
        (&["--epsilon", "inf"][..], "gradient canaries"),
        (&["--epsilon", "0"][..], "epsilons"),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        rejects_run("audit", &args, expect);
    }
    // The unsafe modes are a flag only: a config file cannot set them.
    let dir = tempfile::tempdir().unwrap();
    for (experiment, table) in [("audit", "audit"), ("mia", "membership")] {
        let file = dir.path().join(format!("{experiment}.toml"));
        std::fs::write(&file, format!("[{table}]\naudit_break = \"noise\"\n")).unwrap();
        let path = file.to_str().unwrap();
        rejects_run(experiment, &["--config", path], "audit_break");
    }
}

/// `ppml run mia`'s positive control: with canaries and a target trained without noise while
/// claiming ε = 1.5, the ceiling check fails (exit 1) on every seed tried; the same run with
/// correct DP-SGD passes.
#[test]
fn the_mia_canary_control_breaks_the_ceiling_only_when_the_noise_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("experiments/mia-fashion-eps1.5-canaries.toml");
    let run = |out: &str, extra: &[&str]| {
        ppml(dir.path())
            .args(["run", "mia", "--offline", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(fixtures())
            .arg("--out")
            .arg(dir.path().join(out))
            .args(["--members", "500", "--public", "500", "--canaries", "500"])
            .args(["--bootstrap", "20"])
            .args(extra)
            .assert()
    };
    for seed in ["0", "1"] {
        let out = format!("noise-{seed}");
        let failed = run(&out, &["--audit-break", "noise", "--seed", seed]).code(1);
        let stderr = String::from_utf8_lossy(&failed.get_output().stderr).to_string();
        assert!(stderr.contains("loss-canaries"), "{stderr}");
        assert!(stderr.contains("--audit-break noise"), "{stderr}");
        let m = metrics(&dir.path().join(&out));
        assert_eq!(m["canaries"]["dp_ceiling"]["respected"], false);
    }
    run("correct", &[]).success();
    let m = metrics(&dir.path().join("correct"));
    assert_eq!(m["canaries"]["dp_ceiling"]["respected"], true);
    assert_eq!(m["canaries"]["canaries"], 500);
}
