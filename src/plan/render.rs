//! Plans for people (`+ ~ -/+ -`, field diffs underneath, one summary line) and as JSON.

use std::fmt::Write;

use super::{Action, Change, FieldDiff, State, Summary};
use crate::model::{Owner, Value};

/// The plan as text; unchanged resources are left out unless `all`.
pub fn text(changes: &[Change], verb: &str) -> String {
    let mut out = String::new();
    for c in changes.iter().filter(|c| c.action != Action::NoOp) {
        let _ = writeln!(
            out,
            "{:>3} {}{}",
            c.action.symbol(),
            c.id,
            not_owned_note(c)
        );
        for f in &c.fields {
            if c.action != Action::Create {
                let _ = writeln!(out, "        {}", field_line(f));
            }
        }
    }
    let s = Summary::of(changes);
    if s.create + s.update + s.replace + s.delete == 0 && s.not_owned == 0 {
        let _ = writeln!(out, "No changes: the live stack matches stack.toml.");
    } else {
        let _ = writeln!(out, "{verb}: {}", summary_line(&s));
    }
    out
}

pub fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "{} to create, {} to update, {} to replace, {} to delete",
        s.create, s.update, s.replace, s.delete
    );
    if s.not_owned > 0 {
        let _ = write!(line, ", {} not owned (left alone)", s.not_owned);
    }
    line
}

/// What a run did, naming only what happened: `9 created, 1 updated`, or `nothing changed`.
pub fn done_line(s: &Summary) -> String {
    let parts: Vec<String> = [
        (s.create, "created"),
        (s.update, "updated"),
        (s.replace, "replaced"),
        (s.delete, "deleted"),
        (s.not_owned, "left alone"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if parts.is_empty() {
        "nothing changed".into()
    } else {
        parts.join(", ")
    }
}

/// `VisibilityTimeout: 30 → 60`, with absent values shown as such.
pub fn field_line(f: &FieldDiff) -> String {
    let show = |v: &Option<Value>| v.as_ref().map_or("(absent)".into(), ToString::to_string);
    let mut line = format!("{}: {} → {}", f.field, show(&f.live), show(&f.desired));
    if f.forces_replacement {
        line.push_str(" (forces replacement)");
    }
    line
}

pub fn not_owned_note(c: &Change) -> String {
    match (c.action, &c.owner) {
        (Action::NotOwned, Some(Owner::Untagged)) => {
            " — exists but is not owned by this stack (no exstack:stack tag); left alone (see --adopt)"
                .into()
        }
        (Action::NotOwned, Some(Owner::Stack(other))) => {
            format!(" — belongs to stack `{other}`; left alone")
        }
        _ if c.unfinished => " — its creation was interrupted; up finishes it".into(),
        _ => String::new(),
    }
}

/// One status line per resource: in sync, drifted, missing or not owned.
pub fn status_text(changes: &[Change]) -> String {
    let mut out = String::new();
    for c in changes {
        let state = State::of(c.action).label();
        let _ = writeln!(out, "{state:>10}  {}{}", c.id, not_owned_note(c));
        if matches!(c.action, Action::Update | Action::Replace) {
            for f in &c.fields {
                let _ = writeln!(out, "              {}", field_line(f));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, ResourceId};

    const QUEUE: Kind = Kind::new(0, "queues", "queue");

    #[test]
    fn renders_symbols_fields_and_summary() {
        let changes = vec![
            Change {
                id: ResourceId::new(QUEUE, "task-dlq"),
                action: Action::Create,
                fields: vec![],
                owner: None,
                unfinished: false,
            },
            Change {
                id: ResourceId::new(QUEUE, "task-queue"),
                action: Action::Update,
                fields: vec![FieldDiff {
                    field: "VisibilityTimeout".into(),
                    live: Some(Value::from("30")),
                    desired: Some(Value::from("60")),
                    forces_replacement: false,
                }],
                owner: None,
                unfinished: false,
            },
        ];
        assert_eq!(
            text(&changes, "Plan"),
            "  + queue task-dlq\n  ~ queue task-queue\n        VisibilityTimeout: 30 → 60\nPlan: 1 to create, 1 to update, 0 to replace, 0 to delete\n"
        );
    }
}
