//! `exstack up`: read everything, plan, apply in graph order, print what changed and the outputs.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::Exit;
use super::outputs;
use super::report::{Report, as_changes, conclude, first_failure, json, planned_verbs, progress};
use crate::aws::{CallCounts, Ctx};
use crate::cli::UpArgs;
use crate::engine::{Engine, Observed, Outcome};
use crate::manifest::Stack;
use crate::output::{Printer, Settings};
use crate::plan::{Summary, render};

/// What one `up` did: its JSON document, and the outputs for people.
#[derive(Serialize)]
pub struct Up {
    ok: bool,
    outcomes: Vec<Outcome>,
    planned: Summary,
    outputs: BTreeMap<String, String>,
    calls: CallCounts,
    elapsed_ms: u64,
    #[serde(skip)]
    exit: Exit,
    /// What was done, in a few words ("11 created").
    #[serde(skip)]
    done: String,
    /// Whether the text shows the outputs (`up --watch` shows them only after the first).
    #[serde(skip)]
    show_outputs: bool,
}

impl Report for Up {
    fn json(&self) -> Option<Value> {
        json(self)
    }

    fn text(&self, _: Settings) -> String {
        if self.show_outputs {
            outputs::table(&self.outputs)
        } else {
            String::new()
        }
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
    args: UpArgs,
    cancel: &CancellationToken,
) -> Result<Up> {
    run_from(ctx, stack, printer, args, cancel, None).await
}

/// `up` from a live state already known (`reset` knows what its `down` left), or from a
/// fresh read of every resource when `known` is `None`.
pub async fn run_from(
    ctx: &Ctx,
    stack: &Stack,
    printer: &Printer,
    args: UpArgs,
    cancel: &CancellationToken,
    known: Option<Observed>,
) -> Result<Up> {
    let up = apply_from(ctx, stack, printer, args, cancel, known).await?;
    Ok(Up {
        show_outputs: true,
        ..up
    })
}

/// One `up` whose text leaves the outputs out: what changed, the closing line, the exit code.
pub async fn apply(
    ctx: &Ctx,
    stack: &Stack,
    printer: &Printer,
    args: UpArgs,
    cancel: &CancellationToken,
) -> Result<Up> {
    apply_from(ctx, stack, printer, args, cancel, None).await
}

async fn apply_from(
    ctx: &Ctx,
    stack: &Stack,
    printer: &Printer,
    args: UpArgs,
    cancel: &CancellationToken,
    known: Option<Observed>,
) -> Result<Up> {
    let started = Instant::now();
    let engine = Engine::new(ctx, stack)?;
    let observed = match known {
        Some(observed) => observed,
        None => engine.observe().await?,
    };
    let plan = engine.plan(&observed, args.adopt);
    let outcomes = engine
        .apply(
            &observed,
            args.adopt,
            cancel,
            &progress(printer, planned_verbs(&plan)),
        )
        .await;
    let mut known = engine.known_outputs(&observed);
    for o in &outcomes {
        if let Some(out) = &o.outputs {
            known.insert(o.id.clone(), out.clone());
        }
    }
    let stack_outputs = outputs::collect(stack, &known);
    // up cannot converge past a resource it may not manage: that is a failure here.
    let failed: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.failed() || o.not_owned())
        .collect();
    let ok = failed.is_empty() && !cancel.is_cancelled();
    let calls = ctx.calls.snapshot();
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let done = Summary::of(&as_changes(&outcomes));
    let what = render::done_line(&done);
    let exit = conclude(ctx, printer, &outcomes, &failed, cancel, started, &what);
    Ok(Up {
        ok,
        planned: Summary::of(&plan),
        outputs: stack_outputs,
        calls,
        elapsed_ms,
        exit,
        done: what,
        show_outputs: false,
        outcomes,
    })
}
