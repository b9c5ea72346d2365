//! One file per command, each a short orchestration of manifest → engine → output.

mod checklist;
mod completions;
mod down;
mod fleet;
mod grade;
mod graph;
mod init;
mod logs;
mod outputs;
mod report;
mod reset;
mod schema;
mod status;
mod up;
mod validate;
mod verify;
mod watch;

use std::fs::File;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use tokio_util::sync::CancellationToken;

use crate::aws::pacer::{OnPacing, Pacing};
use crate::aws::{Ctx, Target};
use crate::cli::{Cli, Command, Global};
use crate::manifest::Stack;
use crate::output::Printer;
use report::{CouldNotRun, Report};

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

impl Exit {
    /// The process's exit status.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// What each command needs and does, asked in one place.
impl Command {
    /// Reads stack.toml (all but init, schema, completions and man).
    pub fn needs_stack(&self) -> bool {
        !matches!(
            self,
            Command::Init(_) | Command::Schema | Command::Completions(_) | Command::Man
        )
    }

    /// Talks to a lab machine (all that read the stack but validate and graph without
    /// `--status`).
    pub fn needs_aws(&self) -> bool {
        match self {
            Command::Validate => false,
            Command::Graph(args) => args.status,
            other => other.needs_stack(),
        }
    }

    /// Holds the stack's run lock for all of its run, so two on one stack take turns.
    /// `up --watch` takes it for each apply instead, so a `down` elsewhere is not blocked.
    pub fn takes_lock(&self) -> bool {
        match self {
            Command::Up(a) => !a.watch,
            Command::Down(_) | Command::Reset(_) => true,
            _ => false,
        }
    }

    /// Why it acts on one lab machine only, if it does: it runs until Ctrl-C, and a fleet's
    /// output is shown when every machine is done.
    pub fn one_machine_only(&self) -> Option<&'static str> {
        match self {
            Command::Up(a) if a.watch => {
                Some("`up --watch` watches one lab machine: give one --endpoint-url")
            }
            Command::Logs(a) if a.follow => {
                Some("`logs --follow` follows one lab machine: give one --endpoint-url")
            }
            _ => None,
        }
    }

    /// Its report is worth reading for each machine, under a fleet's table (for the others
    /// the table's line says it all).
    pub fn reports_per_machine(&self) -> bool {
        matches!(
            self,
            Command::Status
                | Command::Verify(_)
                | Command::Grade(_)
                | Command::Plan(_)
                | Command::Outputs(_)
                | Command::Logs(_)
                | Command::Graph(_)
        )
    }
}

/// Runs the command and prints its report; the exit code says how it went.
pub async fn run(cli: &Cli, printer: &Printer) -> Result<Exit> {
    let report = report_of(cli, printer).await?;
    report::print(printer, report.as_ref());
    // Written from the document printed, so one machine's files and a class's agree.
    if let (Command::Grade(args), Some(document)) = (&cli.command, report.json()) {
        grade::write_files(args, &document)?;
    }
    Ok(report.exit())
}

/// When the command could not run: the error line, and for scripts one document anyway.
pub fn could_not_run(printer: &Printer, error: &anyhow::Error) -> Exit {
    printer.error(format_args!("{error:#}"));
    let report = CouldNotRun::new(error);
    report::print(printer, &report);
    report.exit()
}

async fn report_of(cli: &Cli, printer: &Printer) -> Result<Box<dyn Report>> {
    let (command, g) = (&cli.command, &cli.global);
    let mut job = Job {
        g,
        printer,
        stack: None,
        ctx: None,
        cancel: &CancellationToken::new(),
    };
    if !command.needs_stack() {
        return execute(command, &job).await;
    }
    let stack = load_stack(g)?;
    job.stack = Some(&stack);
    if !command.needs_aws() {
        return execute(command, &job).await;
    }
    let machines = fleet::machines(g, &stack)?;
    let cancel = interrupt_on_ctrl_c(printer);
    match machines.as_slice() {
        [one] if g.targets.is_none() => {
            let target = one.target.clone();
            on_target(command, g, printer, &stack, target, &cancel).await
        }
        _ => Ok(Box::new(
            fleet::run(command, g, printer, &stack, machines, &cancel).await?,
        )),
    }
}

/// One command on one lab machine.
pub(crate) async fn on_target(
    command: &Command,
    g: &Global,
    printer: &Printer,
    stack: &Stack,
    target: Target,
    cancel: &CancellationToken,
) -> Result<Box<dyn Report>> {
    let mut ctx = Ctx::connect(target, &stack.name).await?;
    // On real AWS the account's pacer is shared; each machine tells of its own waits.
    ctx.pacer = ctx.pacer.map(|p| p.telling(pacing_notices(printer)));
    if ctx.target.is_aws() {
        printer.status(
            "Target",
            format_args!("account {} on {}", ctx.account, ctx.target.describe()),
        );
    } else if printer.verbose() {
        // Which emulator, edition and version answer: a licensed LocalStack, the frozen
        // community core or MiniStack behave differently, and a bug report needs to say.
        let about = ctx.about.as_deref().unwrap_or("an AWS emulator");
        printer.status(
            "Target",
            format_args!(
                "{about}, account {} on {}",
                ctx.account,
                ctx.target.describe()
            ),
        );
    }
    // Held until the command ends: two `up`s on one stack run one after the other.
    let _lock = if command.takes_lock() {
        Some(lock(&ctx, &stack.name, printer).await?)
    } else {
        None
    };
    let job = Job {
        g,
        printer,
        stack: Some(stack),
        ctx: Some(&ctx),
        cancel,
    };
    execute(command, &job).await
}

/// What a command runs with: the stack when it needs one, a lab machine when it needs AWS
/// (`Command::needs_stack`, `Command::needs_aws`).
struct Job<'a> {
    g: &'a Global,
    printer: &'a Printer,
    stack: Option<&'a Stack>,
    ctx: Option<&'a Ctx>,
    cancel: &'a CancellationToken,
}

impl<'a> Job<'a> {
    fn stack(&self) -> Result<&'a Stack> {
        self.stack
            .context("this command reads the stack file first")
    }

    fn ctx(&self) -> Result<&'a Ctx> {
        self.ctx
            .context("this command connects to a lab machine first")
    }
}

/// Runs `command`: the one place each command's function is called.
async fn execute(command: &Command, job: &Job<'_>) -> Result<Box<dyn Report>> {
    let (printer, cancel) = (job.printer, job.cancel);
    Ok(match command {
        Command::Init(args) => Box::new(init::run(args, printer)?),
        Command::Schema => Box::new(schema::run()),
        Command::Completions(args) => Box::new(completions::completions(args.shell)),
        Command::Man => Box::new(completions::man()?),
        Command::Validate => Box::new(validate::run(job.stack()?)?),
        // Without `--status` there is no machine: the graph is stack.toml's alone.
        Command::Graph(args) => Box::new(graph::run(job.stack()?, *args, job.ctx).await?),
        Command::Plan(args) => Box::new(status::plan(job.ctx()?, job.stack()?, *args).await?),
        Command::Status => Box::new(status::status(job.ctx()?, job.stack()?).await?),
        Command::Up(a) if a.watch => {
            let (ctx, stack) = (job.ctx()?, job.stack()?);
            Box::new(watch::run(ctx, stack, job.g, printer, a.up, cancel).await?)
        }
        Command::Up(a) => Box::new(up::run(job.ctx()?, job.stack()?, printer, a.up, cancel).await?),
        Command::Down(args) => {
            Box::new(down::run(job.ctx()?, job.stack()?, printer, *args, cancel).await?)
        }
        Command::Reset(args) => {
            Box::new(reset::run(job.ctx()?, job.stack()?, printer, *args, cancel).await?)
        }
        Command::Outputs(args) => Box::new(outputs::run(job.ctx()?, job.stack()?, *args).await?),
        Command::Logs(args) => {
            Box::new(logs::run(job.ctx()?, job.stack()?, printer, args, cancel).await?)
        }
        Command::Verify(args) => {
            Box::new(verify::run(job.ctx()?, job.stack()?, printer, args).await?)
        }
        Command::Grade(args) => {
            Box::new(grade::run(job.ctx()?, job.stack()?, printer, args).await?)
        }
    })
}

/// Takes the run lock of `stack` on `ctx`'s target, saying so when another run holds it.
pub(crate) async fn lock(ctx: &Ctx, stack: &str, printer: &Printer) -> Result<File> {
    let waiting = |path: &Path| {
        printer.notice(
            "Waiting",
            format_args!(
                "for another exstack run on stack `{stack}` to finish ({})",
                path.display()
            ),
        );
    };
    ctx.run_files.lock(waiting).await
}

/// A status line for each wait of a second or more for API Gateway's per-account rate.
fn pacing_notices(printer: &Printer) -> OnPacing {
    let printer = printer.clone();
    Arc::new(move |pacing: Pacing| {
        printer.status(
            "Pacing",
            format_args!(
                "{}: waiting {}s (AWS allows one every {}s per account)",
                pacing.op.name(),
                pacing.wait.as_secs(),
                pacing.op.interval().as_secs()
            ),
        );
    })
}

/// Loads stack.toml with variables from `EXSTACK_VAR_<name>`, then `--var` (which wins).
fn load_stack(g: &Global) -> Result<Stack> {
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter_map(|(k, v)| k.strip_prefix("EXSTACK_VAR_").map(|n| (n.to_owned(), v)))
        .collect();
    vars.sort();
    vars.extend(g.vars.iter().cloned());
    crate::resources::load_stack(&g.file, &vars)
}

/// First Ctrl-C: stop starting new calls and let those in flight finish.
/// Second Ctrl-C: exit at once.
fn interrupt_on_ctrl_c(printer: &Printer) -> CancellationToken {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let printer = printer.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            token.cancel();
            printer.notice(
                "Interrupted",
                "finishing the calls in flight, starting no new ones (Ctrl-C again to quit now)",
            );
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(i32::from(Exit::Interrupted.code()));
            }
        }
    });
    cancel
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn command(args: &[&str]) -> Command {
        Cli::parse_from(std::iter::once("exstack").chain(args.iter().copied())).command
    }

    #[test]
    fn each_command_says_what_it_needs() {
        assert!(!command(&["schema"]).needs_stack());
        assert!(!command(&["init", "lab"]).needs_aws());
        assert!(command(&["validate"]).needs_stack());
        assert!(!command(&["validate"]).needs_aws());
        assert!(!command(&["graph"]).needs_aws());
        assert!(command(&["graph", "--status"]).needs_aws());
        assert!(command(&["verify"]).needs_aws());
        assert!(command(&["up"]).takes_lock());
        assert!(command(&["reset"]).takes_lock());
        assert!(!command(&["up", "--watch"]).takes_lock());
        assert!(!command(&["status"]).takes_lock());
        assert!(command(&["up", "--watch"]).one_machine_only().is_some());
        assert!(
            command(&["logs", "f", "--follow"])
                .one_machine_only()
                .is_some()
        );
        assert!(command(&["logs", "f"]).one_machine_only().is_none());
        assert!(command(&["status"]).reports_per_machine());
        assert!(!command(&["up"]).reports_per_machine());
    }
}
