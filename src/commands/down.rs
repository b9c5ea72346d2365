//! `exstack down`: delete what the stack owns, in reverse graph order.

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::Exit;
use super::report::{Report, as_changes, conclude, first_failure, json, progress};
use crate::aws::{CallCounts, Ctx};
use crate::cli::DownArgs;
use crate::engine::{Engine, Observed, Outcome};
use crate::manifest::Stack;
use crate::output::{Printer, Settings};
use crate::plan::{Summary, render};

/// What one `down` did: its JSON document (people read its status lines only).
#[derive(Serialize)]
pub struct Down {
    ok: bool,
    outcomes: Vec<Outcome>,
    calls: CallCounts,
    elapsed_ms: u64,
    #[serde(skip)]
    exit: Exit,
    /// What was deleted, in a few words ("11 deleted").
    #[serde(skip)]
    done: String,
    /// What is left of the stack, for `reset`'s `up`.
    #[serde(skip)]
    pub left: Observed,
}

impl Report for Down {
    fn json(&self) -> Option<Value> {
        json(self)
    }

    /// Nothing: people read the status lines.
    fn text(&self, _: Settings) -> String {
        String::new()
    }

    fn exit(&self) -> Exit {
        self.exit
    }

    fn changes(&self) -> Option<String> {
        Some(self.done.clone())
    }

    fn problem(&self) -> Option<String> {
        first_failure(&self.outcomes)
    }
}

pub async fn run(
    ctx: &Ctx,
    stack: &Stack,
    printer: &Printer,
    args: DownArgs,
    cancel: &CancellationToken,
) -> Result<Down> {
    let started = Instant::now();
    let engine = Engine::new(ctx, stack)?;
    let observed = engine.observe().await?;
    let outcomes = engine
        .destroy(
            &observed,
            args.include_unowned,
            cancel,
            &progress(printer, |_| "Deleting"),
        )
        .await;
    // Leaving someone else's resource alone is what down should do, not a failure.
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.failed()).collect();
    let ok = failed.is_empty() && !cancel.is_cancelled();
    let calls = ctx.calls.snapshot();
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let done = Summary::of(&as_changes(&outcomes));
    let what = render::done_line(&Summary {
        not_owned: 0,
        ..done
    });
    let exit = conclude(ctx, printer, &outcomes, &failed, cancel, started, &what);
    if done.not_owned > 0 {
        printer.text_only().notice(
            "Note",
            format_args!(
                "{} left alone ({}); `exstack down --include-unowned` also deletes untagged ones",
                done.not_owned,
                render::summary_line(&done)
            ),
        );
    }
    Ok(Down {
        ok,
        calls,
        elapsed_ms,
        exit,
        done: what,
        left: Engine::after_teardown(&observed, &outcomes),
        outcomes,
    })
}
