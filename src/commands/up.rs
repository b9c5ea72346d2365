//! `exstack up`: read everything, plan, apply in graph order, print what changed and the outputs.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use super::Exit;
use super::outputs;
use super::report::{as_changes, conclude, planned_verbs, progress};
use crate::aws::Ctx;
use crate::cli::{Global, UpArgs};
use crate::engine::{Engine, Observed, Outcome};
use crate::manifest::Stack;
use crate::output::{Format, Printer};
use crate::plan::{Summary, render};

pub async fn run(
    ctx: &Ctx,
    stack: &Stack,
    g: &Global,
    printer: &Printer,
    args: UpArgs,
    cancel: &CancellationToken,
) -> Result<Exit> {
    run_from(ctx, stack, g, printer, args, cancel, None).await
}

/// `up` from a live state already known (`reset` knows what its `down` left), or from a
/// fresh read of every resource when `known` is `None`.
pub async fn run_from(
    ctx: &Ctx,
    stack: &Stack,
    g: &Global,
    printer: &Printer,
    args: UpArgs,
    cancel: &CancellationToken,
    known: Option<Observed>,
) -> Result<Exit> {
    let (exit, stack_outputs) = apply_from(ctx, stack, g, printer, args, cancel, known).await?;
    if g.output == Format::Text {
        outputs::print(printer, &stack_outputs);
    }
    Ok(exit)
}

/// One `up` without printing the outputs: what changed, the closing line, the exit code.
pub async fn apply(
    ctx: &Ctx,
    stack: &Stack,
    g: &Global,
    printer: &Printer,
    args: UpArgs,
    cancel: &CancellationToken,
) -> Result<(Exit, BTreeMap<String, String>)> {
    apply_from(ctx, stack, g, printer, args, cancel, None).await
}

async fn apply_from(
    ctx: &Ctx,
    stack: &Stack,
    g: &Global,
    printer: &Printer,
    args: UpArgs,
    cancel: &CancellationToken,
    known: Option<Observed>,
) -> Result<(Exit, BTreeMap<String, String>)> {
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
            &progress(g, printer, planned_verbs(&plan)),
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
    if g.output == Format::Json {
        printer.json(&serde_json::json!({
            "ok": failed.is_empty() && !cancel.is_cancelled(),
            "outcomes": outcomes,
            "planned": Summary::of(&plan),
            "outputs": stack_outputs,
            "calls": ctx.calls.snapshot(),
            "elapsed_ms": started.elapsed().as_millis() as u64,
        }));
    }
    let done = Summary::of(&as_changes(&outcomes));
    let what = render::done_line(&done);
    let exit = conclude(ctx, g, printer, &outcomes, &failed, cancel, started, &what);
    Ok((exit, stack_outputs))
}
