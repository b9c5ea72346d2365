//! What `up` and `down` share: progress lines while the walk runs, and the closing lines.

use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::Exit;
use crate::aws::Ctx;
use crate::cli::{Format, Global};
use crate::engine::{Outcome, OutcomeResult, Progress};
use crate::model::ResourceId;
use crate::output;
use crate::plan::{Action, Change};

/// Shows each resource as it is worked on and when it is done, in text mode. `verb` names
/// the work in progress ("Creating") for the spinner.
pub fn progress<'g>(
    g: &'g Global,
    verb: impl Fn(&ResourceId) -> &'static str + Sync + 'g,
) -> impl Fn(Progress<'_>) + Sync + 'g {
    move |event| {
        if g.output == Format::Text {
            let verb = match event {
                Progress::Started(id) => verb(id),
                Progress::Finished(o) => verb(&o.id),
            };
            output::progress(event, verb)
        }
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
pub fn conclude(
    ctx: &Ctx,
    g: &Global,
    outcomes: &[Outcome],
    failed: &[&Outcome],
    cancel: &CancellationToken,
    started: Instant,
    what: &str,
) -> Exit {
    output::end_live();
    output::summary(what);
    if g.output == Format::Text {
        let verb = if failed.is_empty() {
            "Finished"
        } else {
            "Incomplete"
        };
        output::status(
            verb,
            format_args!("{what} in {:.2}s", started.elapsed().as_secs_f64()),
        );
        if output::verbose() {
            let calls = ctx.calls.snapshot();
            output::status(
                "Calls",
                format_args!("{} reads, {} writes", calls.reads, calls.writes),
            );
        }
    }
    if let Some(message) = endpoint_gone_message(ctx, outcomes) {
        output::error(message);
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
            unfinished: false,
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
