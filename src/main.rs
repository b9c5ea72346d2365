//! exstack: parse, run, map the result to an exit code, print the error chain once.

mod aws;
mod checks;
mod cli;
mod commands;
mod endpoint;
mod engine;
mod graph;
mod manifest;
mod model;
mod output;
mod package;
mod plan;
mod resolve;
mod resources;
mod runfiles;

use std::process::ExitCode;

use clap::Parser;

use commands::Exit;
use output::{Printer, Settings};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let g = &cli.global;
    let printer = Printer::terminal(Settings::detect(g.output, g.verbosity(), g.color));
    if printer.verbosity() == output::Verbosity::Trace {
        trace_aws_calls(printer.color());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Failure.into();
        }
    };
    match runtime.block_on(commands::run(&cli, &printer)) {
        Ok(exit) => exit.into(),
        Err(e) => commands::could_not_run(&printer, &e).into(),
    }
}

/// `-vv`: every AWS call's request and response as the SDK traces them, on stderr.
/// RUST_LOG, when set, chooses instead.
fn trace_aws_calls(color: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "exstack=debug,aws_smithy_runtime=debug,aws_smithy_runtime::client::http=trace,aws_config=info",
        )
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .init();
}
