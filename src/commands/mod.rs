//! One file per command, each a short orchestration of manifest → engine → output.

mod completions;
mod down;
mod fleet;
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

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use crate::aws::pacer::{OnPacing, Pacing};
use crate::aws::{Ctx, Target};
use crate::cli::{Cli, Command, Global};
use crate::manifest::Stack;
use crate::output::Printer;
use crate::runfiles::RunFiles;
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

/// Runs the command and prints its report; the exit code says how it went.
pub async fn run(cli: &Cli, printer: &Printer) -> Result<Exit> {
    let report = report_of(cli, printer).await?;
    report::print(printer, report.as_ref());
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
    let g = &cli.global;
    // These need neither a stack file nor AWS.
    match &cli.command {
        Command::Init(args) => return Ok(Box::new(init::run(args, printer)?)),
        Command::Schema => return Ok(Box::new(schema::run())),
        Command::Completions(args) => return Ok(Box::new(completions::completions(args.shell))),
        Command::Man => return Ok(Box::new(completions::man()?)),
        _ => {}
    }
    let stack = load_stack(g)?;
    // These need the stack file but not AWS.
    match &cli.command {
        Command::Validate => return Ok(Box::new(validate::run(&stack)?)),
        Command::Graph(args) if !args.status => {
            return Ok(Box::new(graph::run(&stack, *args, None).await?));
        }
        _ => {}
    }
    let machines = fleet::machines(g, &stack)?;
    let cancel = interrupt_on_ctrl_c(printer);
    match machines.as_slice() {
        [one] if g.targets.is_none() => {
            let target = one.target.clone();
            on_target(&cli.command, g, printer, &stack, target, &cancel).await
        }
        _ => Ok(Box::new(
            fleet::run(&cli.command, g, printer, &stack, machines, &cancel).await?,
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
    }
    // Held until the command ends: two `up`s on one stack run one after the other.
    // `up --watch` takes it for each apply instead, so a `down` elsewhere is not blocked.
    let _lock = match command {
        Command::Up(a) if a.watch => None,
        Command::Up(_) | Command::Down(_) | Command::Reset(_) => {
            Some(lock(&ctx, &stack.name, printer).await?)
        }
        _ => None,
    };
    Ok(match command {
        Command::Init(_) | Command::Schema | Command::Completions(_) | Command::Man => {
            unreachable!("run before any stack file or target: see `run`")
        }
        Command::Validate => Box::new(validate::run(stack)?),
        Command::Graph(args) => Box::new(graph::run(stack, *args, Some(&ctx)).await?),
        Command::Plan(args) => Box::new(status::plan(&ctx, stack, *args).await?),
        Command::Status => Box::new(status::status(&ctx, stack, printer).await?),
        Command::Up(a) if a.watch => {
            Box::new(watch::run(&ctx, stack, g, printer, a.up, cancel).await?)
        }
        Command::Up(a) => Box::new(up::run(&ctx, stack, printer, a.up, cancel).await?),
        Command::Down(args) => Box::new(down::run(&ctx, stack, printer, *args, cancel).await?),
        Command::Reset(args) => Box::new(reset::run(&ctx, stack, printer, *args, cancel).await?),
        Command::Outputs(args) => Box::new(outputs::run(&ctx, stack, printer, *args).await?),
        Command::Logs(args) => Box::new(logs::run(&ctx, stack, printer, args, cancel).await?),
        Command::Verify(args) => Box::new(verify::run(&ctx, stack, printer, *args).await?),
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
    let target = &ctx.target;
    RunFiles::new(target.endpoint.as_deref(), &target.region, stack)
        .lock(waiting)
        .await
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
