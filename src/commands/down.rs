//! `exstack down`: delete what the stack owns, in reverse graph order.

use std::time::Instant;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use super::up::{endpoint_gone_message, exit_code, plan_of};
use crate::Exit;
use crate::aws::Ctx;
use crate::cli::{DownArgs, Format, Global};
use crate::engine::{Engine, Outcome};
use crate::manifest::Stack;
use crate::output;
use crate::plan::{Summary, render};

pub async fn run(
    ctx: &Ctx,
    stack: &Stack,
    g: &Global,
    args: DownArgs,
    cancel: &CancellationToken,
) -> Result<Exit> {
    let started = Instant::now();
    let engine = Engine::new(ctx, stack)?;
    let observed = engine.observe().await?;
    let text = g.output == Format::Text;
    let outcomes = engine
        .destroy(&observed, args.include_unowned, cancel, &|o| {
            if text {
                output::outcome(o, g.verbose)
            }
        })
        .await;
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.failed()).collect();
    let calls = ctx.calls.snapshot();
    if g.output == Format::Json {
        output::json(&serde_json::json!({
            "ok": failed.is_empty() && !cancel.is_cancelled(),
            "outcomes": outcomes,
            "calls": calls,
            "elapsed_ms": started.elapsed().as_millis() as u64,
        }));
    } else {
        let done = Summary::of(&plan_of(&outcomes));
        let verb = if failed.is_empty() {
            "Finished"
        } else {
            "Incomplete"
        };
        output::status(
            verb,
            format_args!(
                "{} deleted in {:.2}s",
                done.delete,
                started.elapsed().as_secs_f64()
            ),
        );
        if done.not_owned > 0 {
            output::status(
                "Note",
                format_args!(
                    "{} left alone ({}); `exstack down --include-unowned` also deletes untagged ones",
                    done.not_owned,
                    render::summary_line(&done)
                ),
            );
        }
        if g.verbose {
            output::status(
                "Calls",
                format_args!("{} reads, {} writes", calls.reads, calls.writes),
            );
        }
    }
    if let Some(message) = endpoint_gone_message(ctx, &outcomes) {
        eprintln!("error: {message}");
    }
    Ok(exit_code(&failed, cancel))
}
