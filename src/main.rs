//! exstack: parse, run, map the result to an exit code, print the error chain once.

mod aws;
mod cli;
mod commands;
mod engine;
mod graph;
mod manifest;
mod output;
mod package;
mod plan;
mod resolve;
mod resources;
mod runfiles;

use std::process::ExitCode;

use clap::Parser;

/// Exit codes, documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done; for `status`, everything is in sync.
    Success = 0,
    /// Something failed (invalid stack.toml, an AWS error, nothing at the endpoint).
    Failure = 1,
    /// `status`: the live stack differs from stack.toml. `verify`: a check failed.
    Drift = 3,
    /// Interrupted by Ctrl-C; what finished is reported.
    Interrupted = 130,
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Failure as u8);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(Exit::Failure as u8)
        }
    }
}
