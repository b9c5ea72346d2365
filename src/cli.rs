//! Command-line definitions only; commands live in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::output::Verbosity;

#[derive(Debug, Parser)]
#[command(
    name = "exstack",
    version,
    about = "Provision the SQS + Lambda + API Gateway lab onto LocalStack from one stack.toml, and tear it down again."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The stack file.
    #[arg(
        short,
        long,
        global = true,
        default_value = "stack.toml",
        env = "EXSTACK_FILE"
    )]
    pub file: PathBuf,

    /// LocalStack (or other AWS-compatible) endpoint [env: AWS_ENDPOINT_URL]
    /// [default: http://localhost:4566]. Repeat it to act on several lab machines at once.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Vec<String>,

    /// A file listing lab machines: one `[name] URL` per line, or TOML `[[target]]` tables
    /// with `name` and `endpoint`.
    #[arg(long, global = true, value_name = "FILE")]
    pub targets: Option<PathBuf>,

    /// How many lab machines to work on at once.
    #[arg(short, long, global = true, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,

    /// Region [default: the stack's region, else us-east-1]
    #[arg(long, global = true, env = "AWS_REGION")]
    pub region: Option<String>,

    /// Act on real AWS with the environment's credentials (never implied).
    #[arg(long, global = true)]
    pub aws: bool,

    /// Set a stack variable, e.g. --var visibility_timeout=5 (also EXSTACK_VAR_<name>).
    #[arg(long = "var", global = true, value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    /// Output format: text for people, json for scripts (on stdout).
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Text)]
    pub output: Format,

    /// More detail: -v unchanged resources, timings and AWS call counts; -vv also HTTP-level
    /// tracing of every AWS call (RUST_LOG refines it).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors and data: no progress lines.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// When to colour the output (NO_COLOR in the environment means never, for auto).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

impl Global {
    pub fn verbosity(&self) -> Verbosity {
        match (self.quiet, self.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, 1) => Verbosity::Verbose,
            (false, _) => Verbosity::Trace,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check stack.toml without contacting AWS.
    Validate,
    /// Show what `up` would change; makes no changes.
    Plan(UpArgs),
    /// Create or update every resource so the account matches stack.toml.
    Up(UpArgs),
    /// Delete every resource this stack owns.
    Down(DownArgs),
    /// Compare the live stack with stack.toml (exit 0 only when in sync).
    Status,
    /// Print the stack's URLs, ARNs and names.
    Outputs,
    /// Prove the lab works: POST tasks, see results in S3 and failures in the dead-letter queue.
    Verify(VerifyArgs),
    /// Down, then up: a lab machine back to a fresh copy of the exercise.
    Reset(ResetArgs),
}

#[derive(Debug, Args, Clone, Copy)]
pub struct ResetArgs {
    #[command(flatten)]
    pub down: DownArgs,
}

#[derive(Debug, Args, Clone, Copy, Default)]
pub struct UpArgs {
    /// Take over same-named resources that carry no ownership tag (say, made by hand following
    /// the exercise) by tagging them. Resources of another stack are never taken over.
    #[arg(long)]
    pub adopt: bool,
}

#[derive(Debug, Args, Clone, Copy)]
pub struct DownArgs {
    /// Also delete same-named resources that carry no ownership tag: the instructor's
    /// "clean everything" reset. Resources tagged by another stack are still left alone.
    #[arg(long)]
    pub include_unowned: bool,
}

#[derive(Debug, Args, Clone, Copy)]
pub struct VerifyArgs {
    /// Skip the dead-letter step (it waits maxReceiveCount × the visibility timeout).
    #[arg(long)]
    pub skip_dlq: bool,

    /// Seconds to wait for each result to appear in the bucket.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected NAME=VALUE, got `{s}`"))
}
