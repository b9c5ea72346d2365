//! What people see: progress and results on stderr, data (outputs, JSON) on stdout.
//!
//! One shell per process, set from the global flags (`-q`, `-v`, `--color`, `NO_COLOR`).
//! A line goes to one of three places: plain lines on stderr (pipes, CI logs), the live view
//! when stderr is a terminal, or, in a fleet, the row of the lab machine being worked on.

mod live;
mod style;

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, OnceLock};

pub use live::{FleetView, Row};
pub use style::{Mark, paint_mark};

use crate::cli::ColorChoice;
use crate::engine::{Outcome, OutcomeResult, Progress};
use crate::plan::Action;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `-q`: errors and data only.
    Quiet,
    Normal,
    /// `-v`: unchanged resources, timings, call counts.
    Verbose,
    /// `-vv`: also the SDK's HTTP-level tracing.
    Trace,
}

struct Shell {
    verbosity: Verbosity,
    color: bool,
    /// stderr is a terminal that can redraw lines: spinners instead of a line per event.
    live: bool,
}

static SHELL: OnceLock<Shell> = OnceLock::new();

fn shell() -> &'static Shell {
    SHELL.get_or_init(|| Shell {
        verbosity: Verbosity::Normal,
        color: false,
        live: false,
    })
}

/// Decides once, from the flags and the terminal, how everything is printed.
pub fn init(verbosity: Verbosity, color: ColorChoice) {
    let stderr_tty = std::io::stderr().is_terminal();
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    // https://no-color.org: any non-empty NO_COLOR turns colour off unless asked for by flag.
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stderr_tty && !dumb && !no_color,
    };
    let _ = SHELL.set(Shell {
        verbosity,
        color,
        // `-vv` writes trace lines straight to stderr, which would tear through spinners.
        live: stderr_tty && !dumb && matches!(verbosity, Verbosity::Normal | Verbosity::Verbose),
    });
}

pub fn verbosity() -> Verbosity {
    shell().verbosity
}

pub fn verbose() -> bool {
    verbosity() >= Verbosity::Verbose
}

/// Whether progress may redraw lines in place (a terminal, not `-q`).
pub fn is_live() -> bool {
    shell().live
}

pub fn color() -> bool {
    shell().color
}

tokio::task_local! {
    /// Set while a fleet works on one lab machine: its lines go to that machine's row.
    static ROW: Arc<Row>;
}

/// Runs `work` with its output going to `row`.
pub async fn on_row<F: Future>(row: Arc<Row>, work: F) -> F::Output {
    ROW.scope(row, work).await
}

fn with_row(f: impl FnOnce(&Row)) -> bool {
    ROW.try_with(|row| f(row)).is_ok()
}

/// Whether this is one machine of a fleet (its lines go to its row).
fn in_fleet_row() -> bool {
    with_row(|_| ())
}

/// A cargo-style line: a right-aligned verb, then what it applies to.
pub fn status(verb: &str, message: impl Display) {
    if verbosity() == Verbosity::Quiet {
        return;
    }
    let message = message.to_string();
    if with_row(|row| row.status(verb, &message)) {
        return;
    }
    line(&format!("{} {message}", style::verb(verb)));
}

/// An error line, shown even with `-q`.
pub fn error(message: impl Display) {
    let message = message.to_string();
    if with_row(|row| row.status("error", &message)) {
        return;
    }
    line(&format!("{} {message}", style::error_label()));
}

/// Writes a whole line to stderr, above the live view if one is drawing.
fn line(text: &str) {
    if !live::println(text) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }
}

/// The engine's progress: a spinner per resource being worked on (on a terminal), and one
/// line per resource that changed or failed; unchanged ones only with `-v`.
pub fn progress(event: Progress<'_>, verb: &str) {
    match event {
        // Plain lines say only what finished; a start is worth showing only as a spinner.
        Progress::Started(id) if is_live() => {
            if !with_row(|row| row.status(verb, &id.to_string())) {
                live::started(id, verb);
            }
        }
        Progress::Started(_) => {}
        Progress::Finished(o) => {
            live::finished(&o.id);
            outcome(o);
        }
    }
}

/// Ends the live view, if one is drawing, leaving only the finished lines.
pub fn end_live() {
    live::end();
}

fn outcome(o: &Outcome) {
    let ms = o.elapsed.as_millis();
    let (verb, text) = match &o.result {
        OutcomeResult::Done => (past_tense(o.action), format!("{}  {ms} ms", o.id)),
        OutcomeResult::Unchanged if verbose() => ("Unchanged", o.id.to_string()),
        OutcomeResult::Unchanged => return,
        OutcomeResult::Failed(e) => ("Failed", format!("{}: {e}", o.id)),
        OutcomeResult::Skipped(why) => ("Skipped", format!("{} ({why})", o.id)),
        OutcomeResult::NotOwned(why) => ("Left alone", format!("{}: {why}", o.id)),
    };
    if is_live() && !in_fleet_row() {
        // On a terminal each finished resource gets a mark, like a checklist.
        let mark = match &o.result {
            OutcomeResult::Failed(_) => Mark::Failed,
            OutcomeResult::Done | OutcomeResult::Unchanged => Mark::Passed,
            _ => Mark::Skipped,
        };
        line(&format!("{} {verb:<10} {text}", paint_mark(mark)));
    } else {
        status(verb, text);
    }
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

/// What a command changed, in a few words ("9 created"), for a fleet's summary table.
pub fn summary(text: impl Display) {
    with_row(|row| row.summary(text.to_string()));
}

/// Data for scripts and people alike.
pub fn data(text: impl Display) {
    let text = text.to_string();
    if with_row(|row| row.data(&text)) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{text}");
}

tokio::task_local! {
    /// Set while one command runs inside another (reset runs down, then up): its JSON is kept
    /// for the outer command's single document instead of printed.
    static JSON: std::cell::RefCell<Option<serde_json::Value>>;
}

/// Runs `work`, keeping the JSON document it prints.
pub async fn keeping_json<F: Future>(work: F) -> (F::Output, Option<serde_json::Value>) {
    JSON.scope(std::cell::RefCell::new(None), async {
        let out = work.await;
        (out, JSON.with(|kept| kept.borrow_mut().take()))
    })
    .await
}

pub fn json(value: &serde_json::Value) {
    if JSON
        .try_with(|kept| *kept.borrow_mut() = Some(value.clone()))
        .is_ok()
        || with_row(|row| row.json(value.clone()))
    {
        return;
    }
    data(format_args!(
        "{}\n",
        serde_json::to_string_pretty(value).unwrap_or_default()
    ));
}
