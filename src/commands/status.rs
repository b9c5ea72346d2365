//! `exstack plan` and `exstack status`: the diff against live state, with no writes.

use anyhow::Result;

use super::Exit;
use crate::aws::Ctx;
use crate::cli::{Global, UpArgs};
use crate::engine::Engine;
use crate::manifest::Stack;
use crate::output::{Format, Printer};
use crate::plan::{Change, Summary, render};

pub async fn plan(
    ctx: &Ctx,
    stack: &Stack,
    g: &Global,
    printer: &Printer,
    args: UpArgs,
) -> Result<Exit> {
    let changes = live_changes(ctx, stack, args.adopt).await?;
    match g.output {
        Format::Json => printer.json(&serde_json::json!({
            "changes": changes,
            "summary": Summary::of(&changes),
            "calls": ctx.calls.snapshot(),
        })),
        Format::Text => printer.data(render::text(&changes, "Plan")),
    }
    Ok(Exit::Success)
}

pub async fn status(ctx: &Ctx, stack: &Stack, g: &Global, printer: &Printer) -> Result<Exit> {
    let changes = live_changes(ctx, stack, false).await?;
    let summary = Summary::of(&changes);
    printer.summary(if summary.in_sync() {
        "in sync".to_owned()
    } else {
        render::summary_line(&summary)
    });
    match g.output {
        Format::Json => printer.json(&serde_json::json!({
            "in_sync": summary.in_sync(),
            "resources": changes,
            "summary": summary,
            "calls": ctx.calls.snapshot(),
        })),
        Format::Text => {
            printer.data(render::status_text(&changes));
            if printer.verbose() {
                let calls = ctx.calls.snapshot();
                printer.status(
                    "Calls",
                    format_args!("{} reads, {} writes", calls.reads, calls.writes),
                );
            }
        }
    }
    Ok(if summary.in_sync() {
        Exit::Success
    } else {
        Exit::Drift
    })
}

/// Reads the live stack and compares it with stack.toml: what `up` would do to each resource.
pub async fn live_changes(ctx: &Ctx, stack: &Stack, adopt: bool) -> Result<Vec<Change>> {
    let engine = Engine::new(ctx, stack)?;
    let observed = engine.observe().await?;
    Ok(engine.plan(&observed, adopt))
}
