//! One file per command, each a short orchestration of manifest → engine → output.

mod down;
mod logs;
mod outputs;
mod report;
mod status;
mod up;
mod validate;
mod verify;
mod watch;

use anyhow::{Result, bail};
use tokio_util::sync::CancellationToken;

use crate::Exit;
use crate::aws::{Ctx, DEFAULT_ENDPOINT, DEFAULT_REGION, Target};
use crate::cli::{Cli, Command, Global};
use crate::manifest::{self, Stack};

pub async fn run(cli: Cli) -> Result<Exit> {
    let g = &cli.global;
    let stack = load_stack(g)?;
    if let Command::Validate = cli.command {
        return validate::run(&stack, g);
    }
    let target = target(g, &stack)?;
    let ctx = Ctx::connect(target, &stack.name).await?;
    if ctx.target.is_aws() {
        crate::output::status(
            "Target",
            format_args!("account {} on {}", ctx.account, ctx.target.describe()),
        );
    }
    let cancel = interrupt_on_ctrl_c();
    // Held until the command ends: two `up`s on one stack run one after the other.
    // `up --watch` takes it for each apply instead, so a `down` elsewhere is not blocked.
    let _lock = match cli.command {
        Command::Up(a) if !a.watch => Some(ctx.run_files.lock(&stack.name)?),
        Command::Down(_) => Some(ctx.run_files.lock(&stack.name)?),
        _ => None,
    };
    match cli.command {
        Command::Validate => unreachable!("handled above"),
        Command::Plan(args) => status::plan(&ctx, &stack, g, args).await,
        Command::Status => status::status(&ctx, &stack, g).await,
        Command::Up(a) if a.watch => watch::run(&ctx, &stack, g, a.up, &cancel).await,
        Command::Up(a) => up::run(&ctx, &stack, g, a.up, &cancel).await,
        Command::Down(args) => down::run(&ctx, &stack, g, args, &cancel).await,
        Command::Outputs(args) => outputs::run(&ctx, &stack, g, args).await,
        Command::Logs(args) => logs::run(&ctx, &stack, g, &args, &cancel).await,
        Command::Verify(args) => verify::run(&ctx, &stack, g, args).await,
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

/// LocalStack unless real AWS is asked for by name; never both.
fn target(g: &Global, stack: &Stack) -> Result<Target> {
    let region = g
        .region
        .clone()
        .or_else(|| stack.region.clone())
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    // Real AWS only by name: --aws, or `allow_aws = true` in the stack with no endpoint set.
    if g.aws || (stack.allow_aws && g.endpoint_url.is_none()) {
        if g.endpoint_url.is_some() {
            bail!(
                "--aws targets real AWS and cannot be combined with --endpoint-url or AWS_ENDPOINT_URL"
            );
        }
        return Ok(Target {
            endpoint: None,
            region,
        });
    }
    let endpoint = g
        .endpoint_url
        .clone()
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
    Ok(Target {
        endpoint: Some(endpoint),
        region,
    })
}

/// First Ctrl-C: stop starting new calls and let those in flight finish.
/// Second Ctrl-C: exit at once.
fn interrupt_on_ctrl_c() -> CancellationToken {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            token.cancel();
            eprintln!(
                "\nInterrupted: finishing the calls in flight, starting no new ones (Ctrl-C again to quit now)"
            );
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(Exit::Interrupted as i32);
            }
        }
    });
    cancel
}
