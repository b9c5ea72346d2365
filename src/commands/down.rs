//! `exstack down`: delete what the stack owns, in reverse graph order.

use std::time::Instant;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use super::Exit;
use super::report::{as_changes, conclude, progress};
use crate::aws::Ctx;
use crate::cli::{DownArgs, Global};
use crate::engine::{Engine, Observed, Outcome};
use crate::manifest::Stack;
use crate::output::{Format, Printer};
use crate::plan::{Summary, render};

pub async fn run(
    ctx: &Ctx,
    stack: &Stack,
    g: &Global,
    printer: &Printer,
    args: DownArgs,
    cancel: &CancellationToken,
) -> Result<Exit> {
    Ok(teardown(ctx, stack, g, printer, args, cancel).await?.0)
}

/// `down`, also returning what is left of the stack (for `reset`'s `up`).
pub async fn teardown(
    ctx: &Ctx,
    stack: &Stack,
    g: &Global,
    printer: &Printer,
    args: DownArgs,
    cancel: &CancellationToken,
) -> Result<(Exit, Observed)> {
    let started = Instant::now();
    let engine = Engine::new(ctx, stack)?;
    let observed = engine.observe().await?;
    let outcomes = engine
        .destroy(
            &observed,
            args.include_unowned,
            cancel,
            &progress(g, printer, |_| "Deleting"),
        )
        .await;
    // Leaving someone else's resource alone is what down should do, not a failure.
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.failed()).collect();
    if g.output == Format::Json {
        printer.json(&serde_json::json!({
            "ok": failed.is_empty() && !cancel.is_cancelled(),
            "outcomes": outcomes,
            "calls": ctx.calls.snapshot(),
            "elapsed_ms": started.elapsed().as_millis() as u64,
        }));
    }
    let done = Summary::of(&as_changes(&outcomes));
    let exit = conclude(
        ctx,
        g,
        printer,
        &outcomes,
        &failed,
        cancel,
        started,
        &render::done_line(&Summary {
            not_owned: 0,
            ..done
        }),
    );
    if g.output == Format::Text && done.not_owned > 0 {
        printer.notice(
            "Note",
            format_args!(
                "{} left alone ({}); `exstack down --include-unowned` also deletes untagged ones",
                done.not_owned,
                render::summary_line(&done)
            ),
        );
    }
    Ok((exit, Engine::after_teardown(&observed, &outcomes)))
}
