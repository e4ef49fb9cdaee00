//! The `ppml` binary: parse the command line, call the library, map errors to exit codes
//! (0 success, 2 bad input or configuration, 1 anything else).

#[macro_use]
mod say;
mod allocator;
mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    allocator::keep_freed_memory();
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
