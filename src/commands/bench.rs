//! `ppml bench train`: training-step throughput per backend, model and step mode.
//! `ppml bench dlg`: the speed of DLG's evaluations and attack runs, per batch size.

use std::path::PathBuf;

use ppml::Result;
use ppml::attacks::gradient::bench::{AttackRun, DlgBench, setup as dlg_setup};
use ppml::config::{at_least_one, count_in};
use ppml::device::Backend;
use ppml::model::{Activation, ModelConfig, ModelKind, ModelSpec};
use ppml::progress::Progress;
use ppml::report::write_json_atomic;
use ppml::train::bench::{StepBench, StepMode, time_steps};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::cli::DlgBenchArgs;

/// `ppml bench train`: one line per backend, model and step mode, and optionally a JSON file.
pub(super) fn bench_train(
    (backends, models, modes): (&[Backend], &[ModelKind], &[StepMode]),
    batch_size: usize,
    (warmup, steps): (usize, usize),
    json: Option<PathBuf>,
    progress: &Progress,
) -> Result<()> {
    at_least_one("batch_size", batch_size)?;
    count_in("steps", steps, MAX_BENCH_STEPS)?;
    if warmup > MAX_BENCH_STEPS {
        count_in("warmup", warmup, MAX_BENCH_STEPS)?;
    }
    for &kind in models {
        // Before any allocation: a batch of 10^7 would abort inside the allocator.
        bench_model(kind).check_fits(batch_size, "batch_size")?;
    }
    let mut rows = Vec::new();
    say!("backend  model  mode     batch  median ms/step  samples/s  vs plain");
    for &backend in backends {
        let device = backend.device()?;
        for &kind in models {
            let mut plain_median = None;
            for &mode in modes {
                let mut rng = StdRng::seed_from_u64(0);
                let model_config = bench_model(kind);
                let bench = StepBench {
                    mode,
                    batch_size,
                    // The per-example loop is ~100× slower; a few steps give a stable median.
                    warmup: if mode == StepMode::DpLoop {
                        warmup.min(1)
                    } else {
                        warmup
                    },
                    steps: if mode == StepMode::DpLoop {
                        steps.min(5)
                    } else {
                        steps
                    },
                };
                let t = time_steps(&model_config, bench, &device, &mut rng, progress);
                if mode == StepMode::Plain {
                    plain_median = Some(t.median_seconds);
                }
                let ratio = plain_median.map(|p| t.median_seconds / p);
                say!(
                    "{:<8} {:<6} {:<8} {:>5}  {:>14.2}  {:>9.0}  {}",
                    backend.as_str(),
                    format!("{kind:?}").to_lowercase(),
                    mode.as_str(),
                    batch_size,
                    t.median_seconds * 1e3,
                    t.samples_per_second,
                    ratio.map_or("-".into(), |r| format!("{r:.2}x")),
                );
                rows.push(serde_json::json!({
                    "backend": backend, "model": kind, "mode": mode, "config": model_config,
                    "timing": t, "time_vs_plain": ratio,
                }));
            }
        }
    }
    if let Some(path) = json {
        let value = serde_json::json!({
            "benchmark": "train-step",
            "ppml_version": env!("CARGO_PKG_VERSION"),
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "dp": { "noise_multiplier": 1.0, "max_grad_norm": 1.0, "sampling": "fixed batch" },
            "results": rows,
        });
        write_json_atomic(&path, &value)?;
    }
    Ok(())
}

/// Most timed (or warm-up) steps of `ppml bench train`.
const MAX_BENCH_STEPS: usize = 1_000_000;

/// The two models of the peer speed table (the MLP and the CNN), and DLG's sigmoid LeNet.
fn bench_model(kind: ModelKind) -> ModelConfig {
    let spec = match kind {
        ModelKind::Mlp => ModelSpec::mlp(&[256], Activation::Relu),
        ModelKind::Cnn => ModelSpec::default(),
        ModelKind::Lenet => ModelSpec {
            kind,
            activation: Activation::Sigmoid,
            ..ModelSpec::default()
        },
    };
    spec.for_data(28, 10)
}

/// `ppml bench dlg`: per backend and batch size, the median time of one loss-and-gradient
/// evaluation, then one line per attack run; optionally a JSON file with the setup and every
/// figure. Lines are printed between measurements, never during one.
pub(super) fn bench_dlg(args: DlgBenchArgs) -> Result<()> {
    let each = DlgBench {
        batch: 1,
        seeds: args.seeds,
        max_evals: args.max_evals,
        threshold: args.threshold,
        warmup: args.warmup,
        evals: args.evals,
    };
    let benches: Vec<DlgBench> = args
        .batch
        .iter()
        .map(|&batch| DlgBench { batch, ..each })
        .collect();
    for bench in &benches {
        bench.check()?;
    }
    let devices = args
        .backend
        .iter()
        .map(|&b| b.device().map(|d| (b, d)))
        .collect::<Result<Vec<_>, _>>()?;
    let load_at_start = std::fs::read_to_string("/proc/loadavg").ok();
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    say!(
        "DLG on the 784-256-10 sigmoid MLP, L-BFGS (lr 1, history 100, strong Wolfe); {profile} build"
    );
    let mut rows = Vec::new();
    for (backend, device) in &devices {
        for bench in &benches {
            let timing = bench.time_evaluations(device)?;
            say!(
                "{} batch {}: {:.3} ms per loss-and-gradient evaluation (median of {}; p10 {:.3}, p90 {:.3})",
                backend.as_str(),
                bench.batch,
                timing.median_ms,
                timing.evaluations,
                timing.p10_ms,
                timing.p90_ms,
            );
            let mut runs = Vec::new();
            for seed in 0..bench.seeds as u64 {
                let run = bench.attack(seed, device);
                say!("  seed {seed}: {}", run_line(&run, bench));
                runs.push(run);
            }
            rows.push(serde_json::json!({
                "backend": backend, "settings": bench, "evaluation": timing, "attacks": runs,
            }));
        }
    }
    if let Some(path) = args.json {
        let value = serde_json::json!({
            "benchmark": "dlg",
            "ppml_version": env!("CARGO_PKG_VERSION"),
            "build_profile": profile,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "loadavg_at_start": load_at_start.map(|l| l.trim().to_string()),
            "setup": dlg_setup(),
            "results": rows,
        });
        write_json_atomic(&path, &value)?;
    }
    Ok(())
}

/// One attack run in words.
fn run_line(run: &AttackRun, bench: &DlgBench) -> String {
    let in_run = run.in_run_eval_median_ms.map_or(String::new(), |ms| {
        format!(
            "; {ms:.3} ms per evaluation in the run, {:.0}% of the time in evaluations",
            100.0 * run.seconds_in_evaluations / run.seconds_total
        )
    });
    match (run.evals_to_threshold, run.seconds_to_threshold) {
        (Some(evals), Some(seconds)) => format!(
            "MSE < {:e} after {evals} evaluations, {seconds:.3} s ({} L-BFGS iterations{in_run})",
            bench.threshold, run.lbfgs_iterations
        ),
        _ => format!(
            "not reached in {} evaluations (MSE {:.3e} at the last iterate; {:.3} s{in_run})",
            run.evals_total, run.final_mse_best_order, run.seconds_total
        ),
    }
}
