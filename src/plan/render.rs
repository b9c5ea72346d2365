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
                for line in field_lines(f) {
                    let _ = writeln!(out, "        {line}");
                }
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

/// `VisibilityTimeout: 30 → 60`; a JSON document (a policy) as a line diff of its
/// pretty-printed forms, `-` live and `+` desired, so the changed statement stands out.
pub fn field_lines(f: &FieldDiff) -> Vec<String> {
    let pretty = |v: &Option<Value>| {
        let json: serde_json::Value = serde_json::from_str(v.as_ref()?.known()?).ok()?;
        json.is_object()
            .then(|| serde_json::to_string_pretty(&json).ok())?
    };
    let (Some(live), Some(desired)) = (pretty(&f.live), pretty(&f.desired)) else {
        return vec![field_line(f)];
    };
    let replacement = if f.forces_replacement {
        " (forces replacement)"
    } else {
        ""
    };
    let mut lines = vec![format!("{}:{replacement}", f.field)];
    let diff = similar::TextDiff::from_lines(&live, &desired);
    for group in diff.grouped_ops(1) {
        for op in group {
            for change in diff.iter_changes(&op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                lines.push(format!("  {sign} {}", change.value().trim_end()));
            }
        }
    }
    lines
}

/// `VisibilityTimeout: 30 → 60`, with absent values shown as such, on one line.
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
        // A resource someone else owns is compared too: a student's hand-built queue shows
        // how it differs from the lab.
        if matches!(
            c.action,
            Action::Update | Action::Replace | Action::NotOwned
        ) {
            for line in c.fields.iter().flat_map(field_lines) {
                let _ = writeln!(out, "              {line}");
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
    fn a_changed_document_is_a_line_diff() {
        let doc = |action: &str| {
            format!(
                r#"{{"Statement":[{{"Action":["{action}"],"Effect":"Allow"}}],"Version":"2012-10-17"}}"#
            )
        };
        let f = FieldDiff {
            field: "document".into(),
            live: Some(Value::from(doc("sqs:*"))),
            desired: Some(Value::from(doc("sqs:SendMessage"))),
            forces_replacement: false,
        };
        let lines = field_lines(&f);
        assert_eq!(lines[0], "document:");
        assert!(
            lines.contains(&"  -         \"sqs:*\"".to_owned()),
            "{lines:#?}"
        );
        assert!(
            lines.contains(&"  +         \"sqs:SendMessage\"".to_owned()),
            "{lines:#?}"
        );
        assert!(
            !lines.iter().any(|l| l.contains("Version")),
            "only changes and their context"
        );
    }

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
