//! What each subcommand does: resolve its config, run the library, print a summary.

use std::path::{Path, PathBuf};

use ppml::config::{at_least_one, load_toml};
use ppml::data::{self, DatasetName, DatasetReport, FileCheck};
use ppml::device::Backend;
use ppml::experiments::train::{self, TrainConfig};
use ppml::experiments::{RunContext, RunOptions};
use ppml::model::{Activation, ModelConfig, ModelKind};
use ppml::progress::Progress;
use ppml::report::{ReportError, write_json_atomic};
use ppml::train::bench::{StepBench, time_steps};
use ppml::{Error, Result};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::cli::{BenchCommand, Cli, Command, CommonArgs, DataCommand, RunCommand};

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> Result<()> {
    let progress = if cli.quiet {
        Progress::hidden()
    } else {
        Progress::stderr()
    };
    match cli.command {
        Command::Run(RunCommand::Train(args)) => {
            let mut config: TrainConfig = match &args.common.config {
                Some(path) => load_toml(path)?,
                None => TrainConfig::default(),
            };
            let options = run_options(&args.common, "train", progress);
            args.apply(&mut config)?;
            let mut ctx = RunContext::new(options, config.backend, config.seed)?;
            let report = train::run(config, &mut ctx)?;
            println!(
                "train: {} {} on {}: test accuracy {:.2}%, train accuracy {:.2}% ({:.0} samples/s) -> {}",
                format!("{:?}", report.config.model).to_lowercase(),
                format!("{:?}", report.config.activation).to_lowercase(),
                report.header.dataset,
                100.0 * report.test_accuracy,
                100.0 * report.train_accuracy,
                report.timing.samples_per_second,
                ctx.out_path("metrics.json").display()
            );
            Ok(())
        }
        Command::Data(DataCommand::Fetch {
            name,
            data_dir,
            url,
        }) => {
            let dest = data::fetch_dir(name, data_dir.as_deref());
            let files = data::fetch::fetch(name, &dest, url.as_deref(), &progress)?;
            for f in files {
                println!("{}", f.display());
            }
            Ok(())
        }
        Command::Bench(BenchCommand::Train {
            backend,
            model,
            batch_size,
            warmup,
            steps,
            json,
        }) => bench_train(
            &backend,
            &model,
            batch_size,
            (warmup, steps),
            json,
            &progress,
        ),
        Command::Data(DataCommand::Check {
            name,
            data_dir,
            json,
        }) => check(name, data_dir.as_deref(), json),
    }
}

fn run_options(common: &CommonArgs, experiment: &str, progress: Progress) -> RunOptions {
    RunOptions {
        data_dir: common.data_dir.clone(),
        out: common
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(experiment)),
        offline: common.offline,
        progress,
    }
}

/// `ppml data check`: one block per dataset. A named dataset that is missing or corrupt is an
/// error; without a name, missing datasets are listed as such.
fn check(name: Option<DatasetName>, data_dir: Option<&Path>, json: bool) -> Result<()> {
    let names: Vec<DatasetName> = name.map_or(DatasetName::ALL.to_vec(), |n| vec![n]);
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for n in names {
        match data::check_dataset(n, data_dir) {
            Ok(r) => found.push(r),
            Err(data::DataError::NotFound { .. }) if name.is_none() => missing.push(n),
            Err(e) => return Err(Error::Data(e)),
        }
    }
    if json {
        let value = serde_json::json!({ "found": found, "missing": missing });
        let text = serde_json::to_string_pretty(&value).map_err(ReportError::from)?;
        println!("{text}");
        return Ok(());
    }
    for r in &found {
        print_report(r);
    }
    for n in &missing {
        println!("{n}: not found (get it with `ppml data fetch {n}`)");
    }
    Ok(())
}

fn print_report(r: &DatasetReport) {
    let subset = if r.complete { "" } else { " (a subset)" };
    println!(
        "{}: {} train / {} test{subset} in {}",
        r.name, r.train, r.test, r.dir
    );
    println!("  train per class: {:?}", r.train_class_counts);
    println!("  test per class:  {:?}", r.test_class_counts);
    let verified = r
        .files
        .iter()
        .filter(|(_, c)| *c == FileCheck::Verified)
        .count();
    let why = match (r.complete, verified) {
        (false, _) => " (a subset cannot match; structure checked)",
        (true, 4) => "",
        (true, _) => " (the others have no published checksum; structure checked)",
    };
    println!("  sha256: {verified}/4 files match the published content{why}");
}

/// `ppml bench train`: one line per backend and model, and optionally a JSON file.
fn bench_train(
    backends: &[Backend],
    models: &[ModelKind],
    batch_size: usize,
    (warmup, steps): (usize, usize),
    json: Option<PathBuf>,
    progress: &Progress,
) -> Result<()> {
    at_least_one("batch_size", batch_size)?;
    at_least_one("steps", steps)?;
    let mut rows = Vec::new();
    println!("backend  model  batch  median ms/step  samples/s");
    for &backend in backends {
        let device = backend.device()?;
        for &kind in models {
            let mut rng = StdRng::seed_from_u64(0);
            let model_config = bench_model(kind);
            let bench = StepBench {
                batch_size,
                warmup,
                steps,
            };
            let t = time_steps(&model_config, bench, &device, &mut rng, progress);
            println!(
                "{:<8} {:<6} {:>5}  {:>14.2}  {:>9.0}",
                backend.as_str(),
                format!("{kind:?}").to_lowercase(),
                batch_size,
                t.median_seconds * 1e3,
                t.samples_per_second
            );
            rows.push(serde_json::json!({
                "backend": backend, "model": kind, "config": model_config, "timing": t
            }));
        }
    }
    if let Some(path) = json {
        let value = serde_json::json!({
            "benchmark": "train-step",
            "ppml_version": env!("CARGO_PKG_VERSION"),
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "results": rows,
        });
        write_json_atomic(&path, &value)?;
    }
    Ok(())
}

/// The two models of the peer speed table.
fn bench_model(kind: ModelKind) -> ModelConfig {
    ModelConfig {
        kind,
        activation: match kind {
            ModelKind::Mlp => Activation::Relu,
            ModelKind::Cnn => Activation::Tanh,
        },
        mlp_hidden: vec![256],
        cnn_channels: [16, 32],
        cnn_dense: 32,
        side: 28,
        classes: 10,
    }
}
