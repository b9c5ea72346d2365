//! `exstack plan` and `exstack status`: the diff against live state, with no writes.

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use super::Exit;
use super::report::{Report, calls_line, json};
use crate::aws::{CallCounts, Ctx};
use crate::cli::UpArgs;
use crate::engine::Engine;
use crate::manifest::Stack;
use crate::output::{Printer, Settings};
use crate::plan::{Change, Summary, render};

/// What `up` would change.
#[derive(Serialize)]
pub struct Plan {
    changes: Vec<Change>,
    summary: Summary,
    calls: CallCounts,
}

impl Report for Plan {
    fn json(&self) -> Option<Value> {
        json(self)
    }

    fn text(&self, _: Settings) -> String {
        render::text(&self.changes, "Plan")
    }

    fn exit(&self) -> Exit {
        Exit::Success
    }
}

/// How each resource differs from stack.toml, if it does.
#[derive(Serialize)]
pub struct Status {
    in_sync: bool,
    resources: Vec<Change>,
    summary: Summary,
    calls: CallCounts,
}

impl Report for Status {
    fn json(&self) -> Option<Value> {
        json(self)
    }

    fn text(&self, _: Settings) -> String {
        render::status_text(&self.resources)
    }

    fn exit(&self) -> Exit {
        if self.in_sync {
            Exit::Success
        } else {
            Exit::Drift
        }
    }

    fn closing(&self, printer: &Printer) {
        if printer.verbose() {
            calls_line(&self.calls, &printer.text_only());
        }
    }

    fn changes(&self) -> Option<String> {
        Some(if self.in_sync {
            "in sync".to_owned()
        } else {
            render::summary_line(&self.summary)
        })
    }
}

pub async fn plan(ctx: &Ctx, stack: &Stack, args: UpArgs) -> Result<Plan> {
    let changes = live_changes(ctx, stack, args.adopt).await?;
    Ok(Plan {
        summary: Summary::of(&changes),
        changes,
        calls: ctx.calls.snapshot(),
    })
}

pub async fn status(ctx: &Ctx, stack: &Stack) -> Result<Status> {
    let changes = live_changes(ctx, stack, false).await?;
    let summary = Summary::of(&changes);
    Ok(Status {
        in_sync: summary.in_sync(),
        resources: changes,
        summary,
        calls: ctx.calls.snapshot(),
    })
}

/// Reads the live stack and compares it with stack.toml: what `up` would do to each resource.
pub async fn live_changes(ctx: &Ctx, stack: &Stack, adopt: bool) -> Result<Vec<Change>> {
    let engine = Engine::new(ctx, stack)?;
    let observed = engine.observe().await?;
    Ok(engine.plan(&observed, adopt))
}
