//! Command-line definitions only; commands live in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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

    /// LocalStack (or other AWS-compatible) endpoint [default: http://localhost:4566]
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,

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

    /// Show timings and the count of AWS calls made.
    #[arg(short, long, global = true)]
    pub verbose: bool,
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
    Up(UpCommand),
    /// Delete every resource this stack owns.
    Down(DownArgs),
    /// Compare the live stack with stack.toml (exit 0 only when in sync).
    Status,
    /// Print the stack's URLs, ARNs and names.
    Outputs(OutputsArgs),
    /// Show a function's log lines (CloudWatch Logs `/aws/lambda/<name>`).
    Logs(LogsArgs),
    /// Prove the lab works: POST tasks, see results in S3 and failures in the dead-letter queue.
    Verify(VerifyArgs),
}

#[derive(Debug, Args, Clone, Copy)]
pub struct UpArgs {
    /// Take over same-named resources that carry no ownership tag (say, made by hand following
    /// the exercise) by tagging them. Resources of another stack are never taken over.
    #[arg(long)]
    pub adopt: bool,
}

#[derive(Debug, Args, Clone, Copy)]
pub struct UpCommand {
    #[command(flatten)]
    pub up: UpArgs,

    /// After the first `up`, keep watching stack.toml and the functions' code; apply what
    /// changes on every save, until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
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

#[derive(Debug, Args, Clone, Copy)]
pub struct OutputsArgs {
    /// `env`: shell-quoted NAME=value lines for `eval "$(exstack outputs --format env)"`.
    /// Without it, `-o` decides (text or json).
    #[arg(long, value_enum)]
    pub format: Option<OutputsFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputsFormat {
    Text,
    Json,
    Env,
}

#[derive(Debug, Args, Clone)]
pub struct LogsArgs {
    /// The function's name in stack.toml, e.g. task-processor.
    pub function: String,

    /// Keep printing new lines as they arrive, until Ctrl-C.
    #[arg(long)]
    pub follow: bool,

    /// How far back to start: 30s, 10m, 2h or 1d.
    #[arg(long, default_value = "10m", value_parser = parse_since)]
    pub since: std::time::Duration,
}

fn parse_since(s: &str) -> Result<std::time::Duration, String> {
    let bad =
        || format!("expected a number and a unit (s, m, h or d), e.g. 30s, 10m, 2h, 1d; got `{s}`");
    let s = s.trim();
    let unit = s.chars().last().ok_or_else(bad)?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    let n: u64 = s[..s.len() - 1].parse().map_err(|_| bad())?;
    n.checked_mul(seconds)
        .map(std::time::Duration::from_secs)
        .ok_or_else(bad)
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected NAME=VALUE, got `{s}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_number_and_a_unit() {
        assert_eq!(parse_since("30s"), Ok(std::time::Duration::from_secs(30)));
        assert_eq!(parse_since("10m"), Ok(std::time::Duration::from_secs(600)));
        assert_eq!(parse_since("2h"), Ok(std::time::Duration::from_secs(7200)));
        assert_eq!(
            parse_since("1d"),
            Ok(std::time::Duration::from_secs(86_400))
        );
        for bad in [
            "",
            "10",
            "m",
            "-1m",
            "1.5h",
            "10 m",
            "1w",
            "99999999999999999999d",
        ] {
            assert!(parse_since(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
