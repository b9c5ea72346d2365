//! exstack: parse, run, map the result to an exit code, print the error chain once.

mod aws;
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
    let verbosity = cli.global.verbosity();
    output::init(verbosity, cli.global.color);
    if verbosity == output::Verbosity::Trace {
        trace_aws_calls();
    }
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
    let json = cli.global.output == cli::Format::Json;
    match runtime.block_on(commands::run(cli)) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) => {
            output::error(format_args!("{e:#}"));
            // Scripts reading stdout get one document even when the command could not run.
            if json {
                output::json(&serde_json::json!({"ok": false, "error": format!("{e:#}")}));
            }
            ExitCode::from(Exit::Failure as u8)
        }
    }
}

/// `-vv`: every AWS call's request and response as the SDK traces them, on stderr.
/// RUST_LOG, when set, chooses instead.
fn trace_aws_calls() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "exstack=debug,aws_smithy_runtime=debug,aws_smithy_runtime::client::http=trace,aws_config=info",
        )
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(output::color())
        .init();
}
