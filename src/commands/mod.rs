//! What each subcommand does: resolve its config, run the library, print a summary.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ppml::data::{self, DatasetName, DatasetReport, FileCheck};
use ppml::experiments::{self, Experiment, RunOptions};
use ppml::privacy::{self, Accountant, PrivacyError, PrivacySpent, SubsampledGaussian};
use ppml::progress::Progress;
use ppml::report::{METRICS, ReportError, tables};
use ppml::{Error, Result};

use crate::cli::{
    AccountantArgs, BenchCommand, Cli, Command, CommonArgs, DataCommand, ExperimentArgs,
    ReportArgs, RunCommand,
};

/// Prints a run's warnings on stderr (they are in its metrics.json too).
fn warn_all(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

mod bench;
mod sweep;

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> Result<()> {
    let progress = if cli.quiet {
        Progress::hidden()
    } else {
        Progress::stderr()
    };
    match cli.command {
        Command::Run(RunCommand::Train(args)) => run_experiment(*args, progress),
        Command::Run(RunCommand::Federated(args)) => run_experiment(*args, progress),
        Command::Run(RunCommand::Mia(args)) => run_experiment(*args, progress),
        Command::Run(RunCommand::GradientInversion(args)) => run_experiment(*args, progress),
        Command::Run(RunCommand::GlobalModelAttack(args)) => run_experiment(*args, progress),
        Command::Run(RunCommand::Audit(args)) => run_experiment(*args, progress),
        Command::Accountant(args) => accountant(&args),
        Command::Report(args) => report(&args),
        Command::Sweep(args) => sweep::sweep(&args, progress),
        Command::Data(DataCommand::Fetch {
            name,
            data_dir,
            url,
        }) => {
            let dest = data::fetch_dir(name, data_dir.as_deref());
            let files = data::fetch::fetch(name, &dest, url.as_deref(), &progress)?;
            for f in files {
                say!("{}", f.display());
            }
            Ok(())
        }
        Command::Bench(BenchCommand::Train {
            backend,
            model,
            mode,
            batch_size,
            warmup,
            steps,
            json,
        }) => bench::bench_train(
            (&backend, &model, &mode),
            batch_size,
            (warmup, steps),
            json,
            &progress,
        ),
        Command::Bench(BenchCommand::Dlg(args)) => bench::bench_dlg(args),
        Command::Data(DataCommand::Check {
            name,
            data_dir,
            json,
        }) => check(name, data_dir.as_deref(), json),
    }
}

/// `ppml report`: print every results table, or rewrite the generated blocks of a Markdown
/// file (or check that they are up to date).
fn report(args: &ReportArgs) -> Result<()> {
    let (runs, skipped) = tables::collect_runs(&args.results)?;
    for file in &skipped {
        eprintln!("warning: skipped: {file}");
    }
    if let Some(dir) = &args.plots {
        let written = ppml::report::figures::write_figures(&runs, dir)?;
        for file in &written.files {
            say!("wrote {}", file.display());
        }
        for note in &written.skipped {
            say!("no plot {note}");
        }
    }
    let Some(file) = &args.markdown else {
        if args.plots.is_some() {
            return Ok(());
        }
        say_raw!(tables::Table::All.render(&runs.iter().collect::<Vec<_>>()));
        return Ok(());
    };
    let read_error = |source| tables::TableError::Read {
        path: file.clone(),
        source,
    };
    let document = std::fs::read_to_string(file).map_err(read_error)?;
    let (updated, blocks) = tables::splice(&document, file, |block| block.render(&runs))?;
    let what = format!("{blocks} generated tables; {}", tables::summary(&runs));
    if args.check {
        if updated != document {
            return Err(Error::Stale(format!(
                "the results tables in {} are out of date: run `ppml report {} --markdown {}`",
                file.display(),
                args.results.display(),
                file.display()
            )));
        }
        say!("{}: up to date ({what})", file.display());
    } else if updated != document {
        std::fs::write(file, updated).map_err(|source| ReportError::Io {
            path: file.clone(),
            source,
        })?;
        say!("{}: rewritten ({what})", file.display());
    } else {
        say!("{}: already up to date ({what})", file.display());
    }
    Ok(())
}

/// `ppml accountant`: ε of a noise multiplier, or the noise multiplier of a target ε, with
/// both accountants' figures and how long each took.
fn accountant(args: &AccountantArgs) -> Result<()> {
    let timed = |f: &mut dyn FnMut() -> Result<f64, PrivacyError>| {
        let started = Instant::now();
        f().map(|v| (v, started.elapsed().as_secs_f64()))
    };
    let (q, steps, delta) = (args.sample_rate, args.steps, args.delta);
    let calibration = match args.epsilon {
        Some(target) => {
            let started = Instant::now();
            let c = privacy::calibrate(args.accountant, q, steps, target, delta)?;
            Some((c, started.elapsed().as_secs_f64()))
        }
        None => None,
    };
    let sigma = calibration.map_or_else(
        || {
            args.noise_multiplier
                .expect("clap requires --noise-multiplier without --epsilon")
        },
        |(c, _)| c.noise_multiplier,
    );
    let mech = SubsampledGaussian::new(q, sigma, steps)?;
    let (eps_pld, pld_seconds) = timed(&mut || privacy::epsilon(Accountant::Pld, &mech, delta))?;
    // Validated by the PLD call above.
    let started = Instant::now();
    let rdp = privacy::rdp::epsilon(q, sigma, steps, delta);
    let rdp_seconds = started.elapsed().as_secs_f64();
    let (eps_rdp, _) = rdp;
    let spent = PrivacySpent::from_epsilons(&mech, delta, args.accountant, eps_pld, rdp);
    if args.json {
        let value = serde_json::json!({
            "privacy": spent,
            "target_epsilon": args.epsilon,
            "seconds": {
                "epsilon_pld": pld_seconds,
                "epsilon_rdp": rdp_seconds,
                "calibration": calibration.map(|(_, t)| t),
            },
            "calibration": {
                "at_search_floor": calibration.map(|(c, _)| c.at_search_floor),
            },
            "ppml_version": env!("CARGO_PKG_VERSION"),
        });
        let text = serde_json::to_string_pretty(&value).map_err(ReportError::from)?;
        say!("{text}");
        return Ok(());
    }
    say!("Poisson-subsampled Gaussian: q = {q}, σ = {sigma:.4}, {steps} steps, δ = {delta:e}");
    if let (Some(target), Some((c, t))) = (args.epsilon, calibration) {
        if c.at_search_floor {
            say!(
                "  calibrated: σ = {sigma:.4}, the search's lower end, already gives ε ≤ {target} under {} ({:.2} s); a smaller σ may too",
                args.accountant.as_str(),
                t
            );
        } else {
            say!(
                "  calibrated: σ = {sigma:.4} is the smallest noise multiplier with ε ≤ {target} under {} ({:.2} s)",
                args.accountant.as_str(),
                t
            );
        }
    }
    say!("  pld: ε = {eps_pld:.4} ({:.1} ms)", pld_seconds * 1e3);
    say!(
        "  rdp: ε = {eps_rdp:.4} at order {} ({:.1} ms)",
        spent.rdp_order,
        rdp_seconds * 1e3
    );
    Ok(())
}

/// `ppml run <experiment>`: the config from its file (refusing the old flat layout) or the
/// defaults, the flags on top, the run, then its warnings and summary.
fn run_experiment<A: ExperimentArgs>(args: A, progress: Progress) -> Result<()> {
    let name = <A::Experiment as Experiment>::NAME;
    let mut options = run_options(args.common(), name, progress);
    let out = options.out.join(METRICS);
    let path = args.common().config.clone();
    let (mut config, config_file) =
        experiments::load_with_file::<A::Experiment>(path.as_deref(), args.asks_for_dp())?;
    options.config_file = config_file;
    args.apply(&mut config)?;
    let report = experiments::launch::<A::Experiment>(config, options)?;
    warn_all(<A::Experiment as Experiment>::warnings(&report));
    for line in <A::Experiment as Experiment>::summary(&report) {
        say!("{line}");
    }
    say!("  -> {}", out.display());
    Ok(())
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
        config_file: None,
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
        say!("{text}");
        return Ok(());
    }
    for r in &found {
        print_report(r);
    }
    for n in &missing {
        say!("{n}: not found (get it with `ppml data fetch {n}`)");
    }
    Ok(())
}

fn print_report(r: &DatasetReport) {
    let subset = if r.complete { "" } else { " (a subset)" };
    say!(
        "{}: {} train / {} test{subset} in {}",
        r.name,
        r.train,
        r.test,
        r.dir
    );
    say!("  train per class: {:?}", r.train_class_counts);
    say!("  test per class:  {:?}", r.test_class_counts);
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
    say!("  sha256: {verified}/4 files match the published content{why}");
}
