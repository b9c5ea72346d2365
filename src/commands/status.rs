//! `exstack plan` and `exstack status`: the diff against live state, with no writes.

use anyhow::Result;

use crate::Exit;
use crate::aws::Ctx;
use crate::cli::{Format, Global, UpArgs};
use crate::engine::Engine;
use crate::manifest::Stack;
use crate::output;
use crate::plan::{Change, Summary, render};

pub async fn plan(ctx: &Ctx, stack: &Stack, g: &Global, args: UpArgs) -> Result<Exit> {
    let changes = live_changes(ctx, stack, args.adopt).await?;
    match g.output {
        Format::Json => output::json(&serde_json::json!({
            "changes": changes,
            "summary": Summary::of(&changes),
            "calls": ctx.calls.snapshot(),
        })),
        Format::Text => output::data(render::text(&changes, "Plan")),
    }
    Ok(Exit::Success)
}

pub async fn status(ctx: &Ctx, stack: &Stack, g: &Global) -> Result<Exit> {
    let changes = live_changes(ctx, stack, false).await?;
    let summary = Summary::of(&changes);
    output::summary(if summary.in_sync() {
        "in sync".to_owned()
    } else {
        render::summary_line(&summary)
    });
    match g.output {
        Format::Json => output::json(&serde_json::json!({
            "in_sync": summary.in_sync(),
            "resources": changes,
            "summary": summary,
            "calls": ctx.calls.snapshot(),
        })),
        Format::Text => {
            output::data(render::status_text(&changes));
            if crate::output::verbose() {
                let calls = ctx.calls.snapshot();
                output::status(
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
