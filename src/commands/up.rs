//! `exstack up`: read everything, plan, apply in graph order, print what changed and the outputs.

use std::time::Instant;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use super::outputs;
use crate::Exit;
use crate::aws::Ctx;
use crate::cli::{Format, Global, UpArgs};
use crate::engine::{Engine, Outcome, OutcomeResult};
use crate::manifest::Stack;
use crate::output;
use crate::plan::{Action, Summary, render};

pub async fn run(
    ctx: &Ctx,
    stack: &Stack,
    g: &Global,
    args: UpArgs,
    cancel: &CancellationToken,
) -> Result<Exit> {
    let started = Instant::now();
    let engine = Engine::new(ctx, stack)?;
    let observed = engine.observe().await?;
    let plan = engine.plan(&observed, args.adopt);
    let text = g.output == Format::Text;
    let outcomes = engine
        .apply(&observed, args.adopt, cancel, &|o| {
            if text {
                output::outcome(o, g.verbose)
            }
        })
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
    let calls = ctx.calls.snapshot();
    let done = Summary::of(&plan_of(&outcomes));
    if g.output == Format::Json {
        output::json(&serde_json::json!({
            "ok": failed.is_empty() && !cancel.is_cancelled(),
            "outcomes": outcomes,
            "planned": Summary::of(&plan),
            "outputs": stack_outputs,
            "calls": calls,
            "elapsed_ms": started.elapsed().as_millis() as u64,
        }));
    } else {
        let verb = if failed.is_empty() {
            "Finished"
        } else {
            "Incomplete"
        };
        output::status(
            verb,
            format_args!(
                "{} in {:.2}s",
                render::summary_line(&done).replace(" to ", " "),
                started.elapsed().as_secs_f64()
            ),
        );
        if g.verbose {
            output::status(
                "Calls",
                format_args!("{} reads, {} writes", calls.reads, calls.writes),
            );
        }
        outputs::print(&stack_outputs);
    }
    if let Some(message) = endpoint_gone_message(ctx, &outcomes) {
        eprintln!("error: {message}");
    }
    Ok(exit_code(&failed, cancel))
}

/// What was actually done, in the plan's vocabulary, for the summary line.
pub fn plan_of(outcomes: &[Outcome]) -> Vec<crate::plan::Change> {
    outcomes
        .iter()
        .map(|o| crate::plan::Change {
            id: o.id.clone(),
            action: match o.result {
                OutcomeResult::Done => o.action,
                OutcomeResult::NotOwned(_) => Action::NotOwned,
                _ => Action::NoOp,
            },
            fields: Vec::new(),
            owner: None,
        })
        .collect()
}

/// When the endpoint stopped answering mid-run: one line naming it and what was left undone.
pub fn endpoint_gone_message(ctx: &Ctx, outcomes: &[Outcome]) -> Option<String> {
    let gone = outcomes.iter().any(|o| match &o.result {
        OutcomeResult::Failed(e) => e.contains(crate::aws::errors::UNREACHABLE),
        _ => false,
    });
    let undone: Vec<String> = outcomes
        .iter()
        .filter(|o| o.failed())
        .map(|o| o.id.to_string())
        .collect();
    gone.then(|| {
        format!(
            "{} stopped answering; left undone: {}. Run the command again once LocalStack is back",
            ctx.target.describe(),
            undone.join(", ")
        )
    })
}

pub fn exit_code(failed: &[&Outcome], cancel: &CancellationToken) -> Exit {
    if cancel.is_cancelled() {
        Exit::Interrupted
    } else if failed.is_empty() {
        Exit::Success
    } else {
        Exit::Failure
    }
}
