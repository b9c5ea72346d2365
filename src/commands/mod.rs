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

use std::process::ExitCode;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use crate::aws::{Ctx, Target};
use crate::cli::{Cli, Command, Global};
use crate::manifest::{self, Stack};
use crate::output::Printer;

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

pub async fn run(cli: Cli, printer: &Printer) -> Result<Exit> {
    let g = &cli.global;
    // These need neither a stack file nor AWS.
    match &cli.command {
        Command::Init(args) => return init::run(args, printer),
        Command::Schema => return schema::run(printer),
        Command::Completions(args) => return completions::completions(args.shell, printer),
        Command::Man => return completions::man(printer),
        _ => {}
    }
    let stack = load_stack(g)?;
    // These need the stack file but not AWS.
    match &cli.command {
        Command::Validate => return validate::run(&stack, g, printer),
        Command::Graph(args) if !args.status => {
            return graph::run(&stack, *args, None, printer).await;
        }
        _ => {}
    }
    let machines = fleet::machines(g, &stack)?;
    let cancel = interrupt_on_ctrl_c(printer);
    match machines.as_slice() {
        [one] if g.targets.is_none() => {
            on_target(
                &cli.command,
                g,
                printer,
                &stack,
                one.target.clone(),
                &cancel,
            )
            .await
        }
        _ => fleet::run(&cli.command, g, printer, &stack, machines, &cancel).await,
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
) -> Result<Exit> {
    let ctx = Ctx::connect(target, &stack.name).await?;
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
            Some(ctx.run_files.lock(&stack.name).await?)
        }
        _ => None,
    };
    match command {
        Command::Init(_) | Command::Schema | Command::Completions(_) | Command::Man => {
            unreachable!("run before any stack file or target: see `run`")
        }
        Command::Validate => validate::run(stack, g, printer),
        Command::Graph(args) => graph::run(stack, *args, Some(&ctx), printer).await,
        Command::Plan(args) => status::plan(&ctx, stack, g, printer, *args).await,
        Command::Status => status::status(&ctx, stack, g, printer).await,
        Command::Up(a) if a.watch => watch::run(&ctx, stack, g, printer, a.up, cancel).await,
        Command::Up(a) => up::run(&ctx, stack, g, printer, a.up, cancel).await,
        Command::Down(args) => down::run(&ctx, stack, g, printer, *args, cancel).await,
        Command::Reset(args) => reset::run(&ctx, stack, g, printer, *args, cancel).await,
        Command::Outputs(args) => outputs::run(&ctx, stack, g, printer, *args).await,
        Command::Logs(args) => logs::run(&ctx, stack, g, printer, args, cancel).await,
        Command::Verify(args) => verify::run(&ctx, stack, g, printer, *args).await,
    }
}

/// Loads stack.toml with variables from `EXSTACK_VAR_<name>`, then `--var` (which wins).
fn load_stack(g: &Global) -> Result<Stack> {
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter_map(|(k, v)| k.strip_prefix("EXSTACK_VAR_").map(|n| (n.to_owned(), v)))
        .collect();
    vars.sort();
    vars.extend(g.vars.iter().cloned());
    manifest::load(&g.file, &vars)
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
