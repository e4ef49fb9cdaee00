//! `ppml sweep`: expands a grid (`ppml::experiments::sweep`), checks every run's config as its
//! experiment will read it, then runs what is not finished, `--jobs` processes at a time, or
//! prints it for GNU parallel or a Slurm job array.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use ppml::config::ConfigError;
use ppml::experiments::audit::Audit;
use ppml::experiments::federated::Federated;
use ppml::experiments::global_model_attack::GlobalModelAttack;
use ppml::experiments::gradient_inversion::GradientInversion;
use ppml::experiments::mia::Mia;
use ppml::experiments::sweep::{self, Job, Status, SweepError};
use ppml::experiments::train::Train;
use ppml::experiments::{self, Experiment};
use ppml::progress::Progress;
use ppml::report::METRICS;
use ppml::{Error, Result};

use crate::cli::SweepArgs;

/// Refuses a run whose experiment is unknown or whose config its experiment would refuse,
/// checked exactly as `ppml run` will read it (`experiments::parse`), before anything is written.
fn check(job: &Job) -> Result<()> {
    let (text, path) = (&job.config_text, job.config_path.as_path());
    match job.experiment.as_str() {
        Train::NAME => experiments::parse::<Train>(text, path).map(drop),
        Federated::NAME => experiments::parse::<Federated>(text, path).map(drop),
        Mia::NAME => experiments::parse::<Mia>(text, path).map(drop),
        GradientInversion::NAME => experiments::parse::<GradientInversion>(text, path).map(drop),
        GlobalModelAttack::NAME => experiments::parse::<GlobalModelAttack>(text, path).map(drop),
        Audit::NAME => experiments::parse::<Audit>(text, path).map(drop),
        other => Err(SweepError::Config {
            name: job.name.clone(),
            message: format!(
                "unknown experiment {other:?} (train, federated, mia, gradient-inversion, \
                 global-model-attack, audit)"
            ),
        }
        .into()),
    }
}

/// `ppml sweep GRID`.
pub fn sweep(args: &SweepArgs, progress: Progress) -> Result<()> {
    if args.jobs == 0 {
        return Err(ConfigError::invalid("--jobs", 0, "must be at least 1").into());
    }
    let mut grid = sweep::load_grid(&args.grid)?;
    if args.quick && !grid.args.iter().any(|a| a == "--quick") {
        grid.args.push("--quick".into());
        let mut quick = grid.out.clone().into_os_string();
        quick.push("-quick");
        grid.out = quick.into();
    }
    if let Some(out) = &args.out {
        grid.out.clone_from(out);
    }
    let jobs = sweep::expand(&grid)?;
    for job in &jobs {
        check(job)?;
    }
    sweep::write_configs(&jobs)?;
    let mut pending: Vec<&Job> = Vec::new();
    let mut reruns = Vec::new();
    for job in &jobs {
        if let Status::Pending(why) = job.status() {
            // A run whose folder holds results that are not this run's: said, never silent.
            if job.out.join(METRICS).exists() {
                reruns.push(format!("  {} runs again: {why}", job.name));
            }
            pending.push(job);
        }
    }
    eprintln!(
        "sweep {}: {} runs, {} finished already, {} to run",
        args.grid.display(),
        jobs.len(),
        jobs.len() - pending.len(),
        pending.len()
    );
    for line in &reruns {
        eprintln!("{line}");
    }
    if args.emit_jobs {
        // A reader that stops early (`| head`) closes the pipe: not an error, and no panic.
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        for job in &pending {
            if writeln!(stdout, "{}", job.command_line()).is_err() {
                break;
            }
        }
        return Ok(());
    }
    if let Some(script) = &args.emit_slurm {
        return emit_slurm(&grid.out, &pending, script);
    }
    run_all(&pending, args.jobs, progress)
}

/// `<out>/.sweep/jobs.txt` (one command line per run still to do) and an `sbatch` script whose
/// array task i runs line i.
fn emit_slurm(out: &Path, pending: &[&Job], script: &Path) -> Result<()> {
    if pending.is_empty() {
        eprintln!("nothing to run: no script written");
        return Ok(());
    }
    let list = out.join(".sweep").join("jobs.txt");
    let lines: String = pending.iter().map(|j| j.command_line() + "\n").collect();
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|source| SweepError::Write {
            path: path.to_path_buf(),
            source,
        })
    };
    write(&list, &lines)?;
    let list = std::fs::canonicalize(&list).unwrap_or(list);
    let cwd = std::env::current_dir().map_err(|source| SweepError::Read {
        path: ".".into(),
        source,
    })?;
    let quote = |p: &Path| shlex::try_quote(&p.display().to_string()).map(|q| q.into_owned());
    let (list, cwd) = (
        quote(&list).unwrap_or_default(),
        quote(&cwd).unwrap_or_default(),
    );
    let text = format!(
        "#!/bin/bash\n\
         # Generated by `ppml sweep --emit-slurm`: task i runs line i of the jobs file.\n\
         # Submit with: sbatch {script}   (ppml must be on the nodes' PATH)\n\
         #SBATCH --job-name=ppml-sweep\n\
         #SBATCH --array=1-{n}\n\
         #SBATCH --cpus-per-task=2\n\
         #SBATCH --output=ppml-sweep-%a.log\n\
         set -euo pipefail\n\
         cd {cwd}\n\
         eval \"$(sed -n \"${{SLURM_ARRAY_TASK_ID}}p\" {list})\"\n",
        script = script.display(),
        n = pending.len(),
    );
    write(script, &text)?;
    eprintln!(
        "wrote {} ({} tasks) and {list}",
        script.display(),
        pending.len()
    );
    Ok(())
}

/// Runs the jobs, `parallel` child processes at a time, each logging to
/// `<out>/.sweep/logs/<name>.log`, under one progress bar; fails if any run failed.
fn run_all(pending: &[&Job], parallel: usize, progress: Progress) -> Result<()> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::SweepRuns(format!("cannot find the ppml binary to run: {e}")))?;
    let started = Instant::now();
    let bar = progress.items(pending.len() as u64, "runs", "sweep");
    let queue = Mutex::new(pending.iter());
    let (failed, flagged) = (Mutex::new(Vec::new()), Mutex::new(Vec::new()));
    std::thread::scope(|scope| {
        for _ in 0..parallel.min(pending.len()) {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some(job) = next else { break };
                    if let Err(reason) = run_one(&exe, job) {
                        // A run that wrote its metrics.json and then failed raised an alarm
                        // its results hold (a positive control caught, a DP ceiling passed).
                        let list = if job.status() == Status::Done {
                            &flagged
                        } else {
                            &failed
                        };
                        list.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(format!("{}: {reason}", job.name));
                    }
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    let failed = failed.into_inner().unwrap_or_else(|e| e.into_inner());
    let flagged = flagged.into_inner().unwrap_or_else(|e| e.into_inner());
    eprintln!(
        "sweep: {} runs in {:.1} s, {} failed, {} wrote their results and then exited with an \
         error (their metrics.json says why)",
        pending.len(),
        started.elapsed().as_secs_f64(),
        failed.len(),
        flagged.len()
    );
    for f in &flagged {
        eprintln!("  {f}");
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::SweepRuns(format!(
            "{} sweep runs failed:\n  {}",
            failed.len(),
            failed.join("\n  ")
        )))
    }
}

/// One run as a child process, its output in its log file.
fn run_one(exe: &Path, job: &Job) -> std::result::Result<(), String> {
    let log_path = &job.log;
    let cannot_write = |e: std::io::Error| format!("cannot write {}: {e}", log_path.display());
    if let Some(logs) = log_path.parent() {
        std::fs::create_dir_all(logs).map_err(cannot_write)?;
    }
    let log = std::fs::File::create(log_path).map_err(cannot_write)?;
    let err = log.try_clone().map_err(cannot_write)?;
    let status = Command::new(exe)
        .args(job.args())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .status()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "exit code {} (log: {})",
            status.code().map_or("none".into(), |c| c.to_string()),
            log_path.display()
        ))
    }
}
