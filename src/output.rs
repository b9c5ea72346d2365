//! What people see: progress and results on stderr, data (outputs, JSON) on stdout.

use std::io::Write;

use crate::engine::{Outcome, OutcomeResult};
use crate::plan::Action;

/// A cargo-style line: a right-aligned verb, then what it applies to.
pub fn status(verb: &str, message: impl std::fmt::Display) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{verb:>12} {message}");
}

/// One line per resource that changed or failed; unchanged ones only when `verbose`.
pub fn outcome(o: &Outcome, verbose: bool) {
    let ms = o.elapsed.as_millis();
    match &o.result {
        OutcomeResult::Done => status(past_tense(o.action), format_args!("{}  {ms} ms", o.id)),
        OutcomeResult::Unchanged if verbose => status("Unchanged", &o.id),
        OutcomeResult::Unchanged => {}
        OutcomeResult::Failed(e) => status("Failed", format_args!("{}: {e}", o.id)),
        OutcomeResult::Skipped(why) => status("Skipped", format_args!("{} ({why})", o.id)),
        OutcomeResult::NotOwned(why) => status("Left alone", format_args!("{}: {why}", o.id)),
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

/// Data for scripts and people alike.
pub fn data(text: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{text}");
}

pub fn json(value: &serde_json::Value) {
    data(format_args!(
        "{}\n",
        serde_json::to_string_pretty(value).unwrap_or_default()
    ));
}
