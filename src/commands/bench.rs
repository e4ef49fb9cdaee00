//! `ppml bench train`: training-step throughput per backend, model and step mode.

use std::path::PathBuf;

use ppml::Result;
use ppml::config::{at_least_one, count_in};
use ppml::device::Backend;
use ppml::model::{Activation, ModelConfig, ModelKind, ModelSpec};
use ppml::progress::Progress;
use ppml::report::write_json_atomic;
use ppml::train::bench::{StepBench, StepMode, time_steps};
use rand::SeedableRng;
use rand::rngs::StdRng;

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
