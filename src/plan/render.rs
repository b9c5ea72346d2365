//! Plans for people (`+ ~ -/+ -`, field diffs underneath, one summary line) and as JSON.

use std::fmt::Write;

use serde::Serializer;

use super::{Action, Change, FieldDiff, State, Summary};
use crate::resources::ResourceId;

pub fn serialize_id<S: Serializer>(id: &ResourceId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{}.{}", id.kind.table(), id.name))
}

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
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
    let mut line = format!("{}: {} → {}", f.field, show(&f.live), show(&f.desired));
    if f.forces_replacement {
        line.push_str(" (forces replacement)");
    }
    line
}

pub fn not_owned_note(c: &Change) -> String {
    match (c.action, c.owner.as_deref()) {
        (Action::NotOwned, Some("nobody")) => {
            " — exists but is not owned by this stack (no exstack:stack tag); left alone (see --adopt)"
                .into()
        }
        (Action::NotOwned, Some(other)) => {
            format!(" — belongs to stack `{other}`; left alone")
        }
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
    use crate::resources::Kind;

    #[test]
    fn renders_symbols_fields_and_summary() {
        let changes = vec![
            Change {
                id: ResourceId::new(Kind::Queue, "task-dlq"),
                action: Action::Create,
                fields: vec![],
                owner: None,
            },
            Change {
                id: ResourceId::new(Kind::Queue, "task-queue"),
                action: Action::Update,
                fields: vec![FieldDiff {
                    field: "VisibilityTimeout".into(),
                    live: Some("30".into()),
                    desired: Some("60".into()),
                    forces_replacement: false,
                }],
                owner: None,
            },
        ];
        assert_eq!(
            text(&changes, "Plan"),
            "  + queue task-dlq\n  ~ queue task-queue\n        VisibilityTimeout: 30 → 60\nPlan: 1 to create, 1 to update, 0 to replace, 0 to delete\n"
        );
    }
}
