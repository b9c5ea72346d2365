//! Command-line definitions only; commands live in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::output::{ColorChoice, Format, Verbosity};

#[derive(Debug, Parser)]
#[command(
    name = "exstack",
    version,
    about = "Provision the SQS + Lambda + API Gateway lab onto LocalStack from one stack.toml, and tear it down again.",
    after_help = examples(&[
        ("exstack init my-lab && cd my-lab", "a new lab directory with the exercise's stack.toml"),
        ("exstack up", "create the lab on LocalStack, then print its URLs"),
        ("exstack verify", "prove it works, criterion by criterion"),
        ("exstack status", "what differs from stack.toml after students' changes"),
        ("exstack reset --targets lab-machines.txt", "every lab machine back to a fresh copy"),
    ])
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

    /// A file listing lab machines: one `[name] URL [account=ID]` per line, or TOML
    /// `[[target]]` tables with `name`, `endpoint` and `account`.
    #[arg(long, global = true, value_name = "FILE")]
    pub targets: Option<PathBuf>,

    /// One lab per account on each emulator: 12-digit ids separated by commas, each its own
    /// lab machine, isolated from the others (the emulator takes the id as the access key).
    #[arg(long, global = true, value_name = "IDS", value_delimiter = ',', value_parser = parse_account)]
    pub accounts: Vec<String>,

    /// A range of accounts, one lab each, as --accounts: FIRST..LAST, e.g. 100000000001..100000000030.
    #[arg(long, global = true, value_name = "FIRST..LAST", value_parser = parse_accounts, conflicts_with = "accounts")]
    pub accounts_from: Option<Accounts>,

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check stack.toml without contacting AWS.
    #[command(after_help = examples(&[
        ("exstack validate", "check ./stack.toml"),
        ("exstack validate -v", "also list the resources in creation order"),
        ("exstack -f lab/stack.toml validate -o json", "for scripts"),
    ]))]
    Validate,
    /// Show what `up` would change; makes no changes.
    #[command(after_help = examples(&[
        ("exstack plan", "what `exstack up` would create, update or replace"),
        ("exstack plan --var visibility_timeout=2", "the plan with a variable changed"),
        ("exstack plan -o json", "the changes as JSON, with AWS call counts"),
    ]))]
    Plan(UpArgs),
    /// Create or update every resource so the account matches stack.toml.
    #[command(after_help = examples(&[
        ("exstack up", "create the lab on LocalStack at http://localhost:4566"),
        ("exstack up --var visibility_timeout=2 --var batching_window=0", "a lab whose retries take seconds"),
        ("exstack up --adopt", "take over queues, roles... made by hand following the exercise"),
        ("exstack up --endpoint-url http://localhost:4590", "another LocalStack"),
        ("exstack up --watch", "then apply every save of stack.toml or a function's code, until Ctrl-C"),
    ]))]
    Up(UpCommand),
    /// Delete every resource this stack owns.
    #[command(after_help = examples(&[
        ("exstack down", "delete the lab (the bucket is emptied first)"),
        ("exstack down --include-unowned", "also delete same-named resources made by hand"),
        ("exstack down --endpoint-url http://lab-01:4566 --endpoint-url http://lab-02:4566", "two lab machines at once"),
    ]))]
    Down(DownArgs),
    /// Compare the live stack with stack.toml (exit 0 only when in sync).
    #[command(after_help = examples(&[
        ("exstack status", "one line per resource: in sync, drifted, missing or not owned"),
        ("exstack status || exstack up", "repair whatever drifted"),
        ("exstack status -o json", "for scripts: `in_sync`, and each resource's fields"),
    ]))]
    Status,
    /// Print the stack's URLs, ARNs and names.
    #[command(after_help = examples(&[
        ("exstack outputs", "the API's URL, the queue URLs, the bucket"),
        ("exstack outputs -o json | jq -r '.\"apis.task-api.POST /tasks\"'", "the URL to POST tasks to"),
        ("eval \"$(exstack outputs --format env)\"", "set API_URL, QUEUE_URL, ... in this shell"),
    ]))]
    Outputs(OutputsArgs),
    /// Show a function's log lines (CloudWatch Logs `/aws/lambda/<name>`).
    #[command(after_help = examples(&[
        ("exstack logs task-processor", "what the processor printed in the last 10 minutes"),
        ("exstack logs api-enqueue --since 2h", "further back"),
        ("exstack logs task-processor --follow", "new lines as they come, until Ctrl-C"),
    ]))]
    Logs(LogsArgs),
    /// Prove the lab works: every resource as stack.toml declares it, then its [checks].
    #[command(after_help = examples(&[
        ("exstack verify", "every check stack.toml declares"),
        ("exstack verify --skip-dlq", "all but the checks tagged `dlq`, which wait for retries"),
        ("exstack verify --check compute --check transform", "only these checks"),
        ("exstack verify --timeout 20 -o json", "shorter waits; the checks as JSON"),
    ]))]
    Verify(VerifyArgs),
    /// Mark a lab a student built by hand, with points; changes nothing of theirs.
    ///
    /// Reads same-named resources whoever made them, compares each with stack.toml (less
    /// what [grade] leaves out), then runs the stack's [checks].
    #[command(after_help = examples(&[
        ("exstack grade", "the score, check by check, with what is wrong in words"),
        ("exstack grade --junit grade.xml", "also JUnit XML, for CI"),
        ("exstack grade --gradescope results.json", "also Gradescope's autograder results"),
        ("exstack grade --targets classroom.txt --csv class.csv", "every student's machine, worst first; a row each in class.csv"),
    ]))]
    Grade(GradeArgs),
    /// Down, then up: a lab machine back to a fresh copy of the exercise.
    #[command(after_help = examples(&[
        ("exstack reset", "the lab as fresh as after its first `exstack up`"),
        ("exstack reset --include-unowned", "also delete same-named resources made by hand"),
        ("exstack reset --targets lab-machines.txt", "every lab machine listed in the file"),
    ]))]
    Reset(ResetArgs),
    /// Draw the stack's resources and their references, optionally coloured by live state.
    #[command(after_help = examples(&[
        ("exstack graph", "Mermaid, for a README or https://mermaid.live"),
        ("exstack graph --format dot | dot -Tsvg > stack.svg", "a picture, with Graphviz"),
        ("exstack graph --status", "each resource coloured: in sync, drifted, missing, not owned"),
    ]))]
    Graph(GraphArgs),
    /// Create a new lab directory: the exercise's stack.toml, its functions and the schema.
    #[command(after_help = examples(&[
        ("exstack init my-lab && cd my-lab && exstack up", "a fresh lab, running"),
        ("exstack init", "into the current directory (refuses to overwrite any file)"),
    ]))]
    Init(InitArgs),
    /// Print the JSON Schema of stack.toml, for editors.
    #[command(after_help = examples(&[
        ("exstack schema > stack.schema.json", "then start stack.toml with `#:schema ./stack.schema.json`"),
    ]))]
    Schema,
    /// Print a shell completion script.
    #[command(after_help = examples(&[
        ("exstack completions bash > ~/.local/share/bash-completion/completions/exstack", "bash"),
        ("exstack completions zsh > ~/.zfunc/_exstack", "zsh (with ~/.zfunc on $fpath)"),
        ("exstack completions fish > ~/.config/fish/completions/exstack.fish", "fish"),
    ]))]
    Completions(CompletionsArgs),
    /// Print the manual page (roff).
    #[command(after_help = examples(&[
        ("exstack man | man -l -", "read it"),
        ("exstack man > ~/.local/share/man/man1/exstack.1", "install it for `man exstack`"),
    ]))]
    Man,
}

/// An `Examples:` section: each command line, then what it does, as `--help` shows them.
fn examples(lines: &[(&str, &str)]) -> String {
    let mut text = String::from("Examples:");
    for (command, what) in lines {
        text.push_str(&format!("\n  {command}\n      {what}"));
    }
    text
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

#[derive(Debug, Args, Clone)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub checks: ChecksArgs,
}

/// Which of the declared checks run, and how long their waits are.
#[derive(Debug, Args, Clone)]
pub struct ChecksArgs {
    /// Run only this check (a [checks.<name>], or a resource's address for its
    /// configuration); repeatable.
    #[arg(long = "check", value_name = "NAME")]
    pub only: Vec<String>,

    /// Leave this check out; repeatable.
    #[arg(long, value_name = "NAME")]
    pub skip: Vec<String>,

    /// Leave out the checks tagged `dlq` (in the exercise: the dead-letter check, which waits
    /// maxReceiveCount × the visibility timeout).
    #[arg(long)]
    pub skip_dlq: bool,

    /// Seconds a waiting step waits when its check does not say (`within`).
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

#[derive(Debug, Args, Clone)]
pub struct GradeArgs {
    #[command(flatten)]
    pub checks: ChecksArgs,

    /// Also write the result as JUnit XML (a test suite per machine, a test case per check).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Also write Gradescope's autograder `results.json` (with several machines, one file
    /// each: results-<machine>.json).
    #[arg(long, value_name = "FILE")]
    pub gradescope: Option<PathBuf>,

    /// Also write a CSV row per lab machine: target, score, total, percent, failed checks.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
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

fn parse_account(s: &str) -> Result<String, String> {
    let id = s.trim();
    if crate::aws::is_account_id(id) {
        Ok(id.to_owned())
    } else {
        Err(format!(
            "`{id}` is not an account id; write 12 digits, like 111111111111"
        ))
    }
}

/// The accounts of `--accounts-from`, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounts(pub Vec<String>);

/// More than a classroom, fewer than a typo like 100000000001..200000000001 would make.
const MOST_ACCOUNTS: u64 = 1000;

fn parse_accounts(s: &str) -> Result<Accounts, String> {
    let (first, last) = s.split_once("..").ok_or_else(|| {
        format!("expected FIRST..LAST, like 100000000001..100000000030, got `{s}`")
    })?;
    let (first, last) = (parse_account(first)?, parse_account(last)?);
    let (a, b): (u64, u64) = (first.parse().unwrap_or(0), last.parse().unwrap_or(0));
    if b < a {
        return Err(format!(
            "{last} comes before {first}; write the range FIRST..LAST"
        ));
    }
    if b - a >= MOST_ACCOUNTS {
        return Err(format!(
            "{first}..{last} is {} accounts; at most {MOST_ACCOUNTS} at once",
            b - a + 1
        ));
    }
    Ok(Accounts((a..=b).map(|n| format!("{n:012}")).collect()))
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected NAME=VALUE, got `{s}`"))
}

#[derive(Debug, Args, Clone, Copy)]
pub struct GraphArgs {
    /// Mermaid (GitHub renders it in Markdown) or Graphviz DOT.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,

    /// Read the live stack and colour each resource by its state, as `exstack status` reports it.
    #[arg(long)]
    pub status: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The directory to create the lab in; made if missing.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args, Clone, Copy)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
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
