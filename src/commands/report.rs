//! What commands share: the `Report` each returns, and for `up` and `down` the progress
//! lines while the walk runs and the closing lines.

use std::time::Instant;

use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::Exit;
use crate::aws::{CallCounts, Ctx};
use crate::engine::{Outcome, OutcomeResult, Progress};
use crate::model::ResourceId;
use crate::output::{Format, Level, Printer, Rendered, Settings};
use crate::plan::{Action, Change};

/// A command's result, as a value: what it shows on stdout, how the process exits, and what
/// a fleet's table says about it. Status lines on stderr are printed while the command runs.
pub trait Report: Send + Sync {
    /// The document `-o json` prints; `None` for a command whose output is text whatever
    /// `-o` says (`graph`, `logs`' JSON lines, `outputs --format env`).
    fn json(&self) -> Option<Value>;

    /// What people read on stdout, if anything.
    fn text(&self, settings: Settings) -> String;

    fn exit(&self) -> Exit;

    /// What changed, in a few words ("9 created"), for a fleet's table.
    fn changes(&self) -> Option<String> {
        None
    }

    /// Why it did not succeed, when it ran to the end and something failed (the first resource
    /// that failed, and how), for a fleet's table.
    fn problem(&self) -> Option<String> {
        None
    }

    /// A percentage, for a report that scores (`grade`): a fleet lists the lowest first.
    fn score(&self) -> Option<f64> {
        None
    }

    /// Status lines that close it on stderr, after what it put on stdout (`Missing …`, `-v`'s
    /// call counts).
    fn closing(&self, _printer: &Printer) {}

    /// Whether its text was shown part by part while it ran (`verify`'s steps, `logs`' lines),
    /// so printing it again would repeat it.
    fn streamed(&self) -> bool {
        false
    }
}

/// What `report` puts on stdout: its document with `-o json`, else its text.
pub fn rendered(report: &dyn Report, settings: Settings) -> Rendered {
    let document = match settings.format {
        Format::Json => report.json(),
        Format::Text => None,
    };
    match document {
        Some(document) => Rendered::Json(document),
        None => Rendered::Text(report.text(settings)),
    }
}

/// Shows `report` on stdout, unless its text was shown part by part already, then its
/// closing lines.
pub fn print(printer: &Printer, report: &dyn Report) {
    match rendered(report, printer.settings()) {
        Rendered::Text(_) if report.streamed() => {}
        shown => printer.show(shown),
    }
    report.closing(printer);
}

/// A report serialized: the document of every command that has one.
pub fn json(report: &impl Serialize) -> Option<Value> {
    serde_json::to_value(report).ok()
}

/// A result that is text whatever `-o` says (a schema, a diagram), or nothing at all.
pub struct Plain {
    pub text: String,
    pub exit: Exit,
}

impl Plain {
    pub fn new(text: impl Into<String>) -> Plain {
        Plain {
            text: text.into(),
            exit: Exit::Success,
        }
    }
}

impl Report for Plain {
    fn json(&self) -> Option<Value> {
        None
    }

    fn text(&self, _: Settings) -> String {
        self.text.clone()
    }

    fn exit(&self) -> Exit {
        self.exit
    }
}

/// A command that could not run: with `-o json` scripts still get one document.
#[derive(Serialize)]
pub struct CouldNotRun {
    ok: bool,
    error: String,
}

impl CouldNotRun {
    pub fn new(error: &anyhow::Error) -> CouldNotRun {
        CouldNotRun {
            ok: false,
            error: format!("{error:#}"),
        }
    }
}

impl Report for CouldNotRun {
    fn json(&self) -> Option<Value> {
        json(self)
    }

    /// Nothing: the error line on stderr says it all.
    fn text(&self, _: Settings) -> String {
        String::new()
    }

    fn exit(&self) -> Exit {
        Exit::Failure
    }
}

/// Shows each resource as it is worked on and when it is done, for people reading text: a
/// spinner per resource being worked on (on a terminal), and one line per resource that
/// changed or failed; unchanged ones only with `-v`. `verb` names the work in progress
/// ("Creating").
pub fn progress<'p>(
    printer: &Printer,
    verb: impl Fn(&ResourceId) -> &'static str + Sync + 'p,
) -> impl Fn(Progress<'_>) + Sync + 'p {
    let printer = printer.text_only();
    move |event| match event {
        // Plain lines say only what finished; a start is worth showing only as a spinner.
        Progress::Started(id) => printer.started(&id.to_string(), verb(id)),
        Progress::Finished(o) => {
            printer.stopped(&o.id.to_string());
            outcome(&printer, o);
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
pub fn conclude(
    ctx: &Ctx,
    printer: &Printer,
    outcomes: &[Outcome],
    failed: &[&Outcome],
    cancel: &CancellationToken,
    started: Instant,
    what: &str,
) -> Exit {
    printer.end_live();
    let (level, verb) = if failed.is_empty() {
        (Level::Progress, "Finished")
    } else {
        (Level::Failure, "Incomplete")
    };
    let people = printer.text_only();
    people.status_as(
        level,
        verb,
        format_args!("{what} in {:.2}s", started.elapsed().as_secs_f64()),
    );
    if printer.verbose() {
        calls_line(&ctx.calls.snapshot(), &people);
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

/// The first resource that failed, and how: why a run did not succeed.
pub fn first_failure(outcomes: &[Outcome]) -> Option<String> {
    outcomes.iter().find_map(|o| match &o.result {
        OutcomeResult::Failed(e) => Some(format!("{}: {e}", o.id)),
        _ => None,
    })
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

/// `-v`'s closing line: how many AWS calls the command made.
pub fn calls_line(calls: &CallCounts, printer: &Printer) {
    printer.status(
        "Calls",
        format_args!("{} reads, {} writes", calls.reads, calls.writes),
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Verbosity;

    /// A report with a document and a text, shown part by part or not.
    struct Sample {
        streamed: bool,
    }

    impl Report for Sample {
        fn json(&self) -> Option<Value> {
            Some(serde_json::json!({"ok": true}))
        }

        fn text(&self, _: Settings) -> String {
            "one line\n".into()
        }

        fn exit(&self) -> Exit {
            Exit::Success
        }

        fn streamed(&self) -> bool {
            self.streamed
        }
    }

    fn printed(format: Format, report: &dyn Report) -> String {
        let printer = Printer::buffer(Settings {
            format,
            verbosity: Verbosity::Normal,
            color: false,
            live: false,
        });
        print(&printer, report);
        printer.printed().stdout
    }

    #[test]
    fn a_report_is_its_document_with_json_and_its_text_otherwise() {
        let once = Sample { streamed: false };
        assert_eq!(printed(Format::Json, &once), "{\n  \"ok\": true\n}\n");
        assert_eq!(printed(Format::Text, &once), "one line\n");
        // What was shown line by line is not shown again; its document still is.
        let streamed = Sample { streamed: true };
        assert_eq!(printed(Format::Text, &streamed), "");
        assert_eq!(printed(Format::Json, &streamed), "{\n  \"ok\": true\n}\n");
        // Text whatever `-o` says.
        assert_eq!(printed(Format::Json, &Plain::new("graph\n")), "graph\n");
    }
}
