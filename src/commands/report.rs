//! What `up` and `down` share: progress lines while the walk runs, and the closing lines.

use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::Exit;
use crate::aws::Ctx;
use crate::cli::Global;
use crate::engine::{Outcome, OutcomeResult, Progress};
use crate::output::{Format, Level, Printer};
use crate::plan::{Action, Change};
use crate::resources::ResourceId;

/// Shows each resource as it is worked on and when it is done, in text mode: a spinner per
/// resource being worked on (on a terminal), and one line per resource that changed or
/// failed; unchanged ones only with `-v`. `verb` names the work in progress ("Creating").
pub fn progress<'g>(
    g: &'g Global,
    printer: &'g Printer,
    verb: impl Fn(&ResourceId) -> &'static str + Sync + 'g,
) -> impl Fn(Progress<'_>) + Sync + 'g {
    move |event| {
        if g.output == Format::Text {
            match event {
                // Plain lines say only what finished; a start is worth showing only as a spinner.
                Progress::Started(id) => printer.started(&id.to_string(), verb(id)),
                Progress::Finished(o) => {
                    printer.stopped(&o.id.to_string());
                    outcome(printer, o);
                }
            }
        }
    }
}

fn outcome(printer: &Printer, o: &Outcome) {
    let ms = o.elapsed.as_millis();
    let (level, verb, text) = match &o.result {
        OutcomeResult::Done => (
            Level::Progress,
            past_tense(o.action),
            format!("{}  {ms} ms", o.id),
        ),
        OutcomeResult::Unchanged if printer.verbose() => {
            (Level::Progress, "Unchanged", o.id.to_string())
        }
        OutcomeResult::Unchanged => return,
        OutcomeResult::Failed(e) => (Level::Failure, "Failed", format!("{}: {e}", o.id)),
        OutcomeResult::Skipped(why) => (Level::Warning, "Skipped", format!("{} ({why})", o.id)),
        OutcomeResult::NotOwned(why) => (Level::Warning, "Left alone", format!("{}: {why}", o.id)),
    };
    printer.checked(level, verb, text);
}

fn past_tense(action: Action) -> &'static str {
    match action {
        Action::Create => "Created",
        Action::Update => "Updated",
        Action::Replace => "Replaced",
        Action::Delete => "Deleted",
        Action::NoOp | Action::NotOwned => "Checked",
    }
}

/// The spinner's verb for each resource: what the plan says will happen to it.
pub fn planned_verbs(plan: &[Change]) -> impl Fn(&ResourceId) -> &'static str + Sync + '_ {
    move |id| {
        let action = plan.iter().find(|c| &c.id == id).map(|c| c.action);
        match action {
            Some(Action::Create) => "Creating",
            Some(Action::Update) => "Updating",
            Some(Action::Replace) => "Replacing",
            Some(Action::Delete) => "Deleting",
            _ => "Checking",
        }
    }
}

/// The headline (`Finished …` or `Incomplete …`), the call counts with `-v`, the one-line
/// error when the endpoint went away, and the exit code.
#[allow(clippy::too_many_arguments)]
pub fn conclude(
    ctx: &Ctx,
    g: &Global,
    printer: &Printer,
    outcomes: &[Outcome],
    failed: &[&Outcome],
    cancel: &CancellationToken,
    started: Instant,
    what: &str,
) -> Exit {
    printer.end_live();
    printer.summary(what);
    if g.output == Format::Text {
        let (level, verb) = if failed.is_empty() {
            (Level::Progress, "Finished")
        } else {
            (Level::Failure, "Incomplete")
        };
        printer.status_as(
            level,
            verb,
            format_args!("{what} in {:.2}s", started.elapsed().as_secs_f64()),
        );
        if printer.verbose() {
            let calls = ctx.calls.snapshot();
            printer.status(
                "Calls",
                format_args!("{} reads, {} writes", calls.reads, calls.writes),
            );
        }
    }
    if let Some(message) = endpoint_gone_message(ctx, outcomes) {
        printer.error(message);
    }
    if cancel.is_cancelled() {
        Exit::Interrupted
    } else if failed.is_empty() {
        Exit::Success
    } else {
        Exit::Failure
    }
}

/// What was actually done, in the plan's vocabulary, for the summary line.
pub fn as_changes(outcomes: &[Outcome]) -> Vec<Change> {
    outcomes
        .iter()
        .map(|o| Change {
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
fn endpoint_gone_message(ctx: &Ctx, outcomes: &[Outcome]) -> Option<String> {
    let gone = outcomes.iter().any(|o| o.unreachable);
    let undone: Vec<String> = outcomes
        .iter()
        .filter(|o| o.failed())
        .map(|o| o.id.to_string())
        .collect();
    gone.then(|| {
        format!(
            "{} stopped answering; left undone: {}. Run the command again once it is back",
            ctx.target.describe(),
            undone.join(", ")
        )
    })
}
