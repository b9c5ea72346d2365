//! The pure diff: desired fields against live ones, per resource, into Terraform's vocabulary
//! (no-op, create `+`, update `~`, replace `-/+`, delete `-`). No network here.

pub mod render;

use serde::Serialize;

use crate::resolve::is_unknown;
use crate::resources::{Fields, Live, Owner, ResourceId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    Replace,
    Delete,
    /// Exists under the stack's name but belongs to someone else: left alone unless adopted.
    NotOwned,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NotOwned => "!",
        }
    }
}

/// A resource's state as `status` reports it, by what `up` would do to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    InSync,
    Drifted,
    Missing,
    NotOwned,
}

impl State {
    pub const ALL: [State; 4] = [
        State::InSync,
        State::Drifted,
        State::Missing,
        State::NotOwned,
    ];

    pub fn of(action: Action) -> State {
        match action {
            Action::NoOp => State::InSync,
            Action::Create => State::Missing,
            Action::Update | Action::Replace | Action::Delete => State::Drifted,
            Action::NotOwned => State::NotOwned,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            State::InSync => "in sync",
            State::Drifted => "drifted",
            State::Missing => "missing",
            State::NotOwned => "not owned",
        }
    }
}

/// One field that differs: `VisibilityTimeout: 30 → 60`. `None` means absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDiff {
    pub field: String,
    pub live: Option<String>,
    pub desired: Option<String>,
    /// Changing this field means deleting and re-creating the resource.
    pub forces_replacement: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    #[serde(serialize_with = "render::serialize_id")]
    pub id: ResourceId,
    pub action: Action,
    pub fields: Vec<FieldDiff>,
    /// Set for `NotOwned`: whose it is (`None` for an untagged one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

#[cfg(test)]
impl Change {
    pub fn field(&self, name: &str) -> Option<&FieldDiff> {
        self.fields.iter().find(|f| f.field == name)
    }
}

/// What `up` must do to make `live` match `desired`.
/// `adopt`: treat a same-named resource nobody owns as ours (it gets tagged).
pub fn diff(
    id: &ResourceId,
    desired: &Fields,
    live: Option<&Live>,
    replaced_by: &[&str],
    adopt: bool,
) -> Change {
    let Some(live) = live else {
        let fields = desired
            .iter()
            .map(|(k, v)| FieldDiff {
                field: k.clone(),
                live: None,
                desired: Some(v.clone()),
                forces_replacement: false,
            })
            .collect();
        return change(id, Action::Create, fields, None);
    };
    let fields = field_diffs(desired, &live.fields, replaced_by);
    let owner = match &live.owner {
        Owner::Us => None,
        Owner::Nobody if adopt => None,
        Owner::Nobody => return change(id, Action::NotOwned, fields, Some("nobody".into())),
        Owner::Stack(other) => return change(id, Action::NotOwned, fields, Some(other.clone())),
    };
    let action = if fields.iter().any(|f| f.forces_replacement) {
        Action::Replace
    } else if fields.is_empty() {
        Action::NoOp
    } else {
        Action::Update
    };
    change(id, action, fields, owner)
}

/// What `down` does with a live resource.
pub fn teardown(id: &ResourceId, live: Option<&Live>, include_unowned: bool) -> Change {
    let action = match live.map(|l| &l.owner) {
        None => Action::NoOp,
        Some(Owner::Us) => Action::Delete,
        Some(Owner::Nobody) if include_unowned => Action::Delete,
        Some(_) => Action::NotOwned,
    };
    let owner = match live.map(|l| &l.owner) {
        Some(Owner::Nobody) if action == Action::NotOwned => Some("nobody".into()),
        Some(Owner::Stack(s)) => Some(s.clone()),
        _ => None,
    };
    change(id, action, Vec::new(), owner)
}

fn change(
    id: &ResourceId,
    action: Action,
    fields: Vec<FieldDiff>,
    owner: Option<String>,
) -> Change {
    Change {
        id: id.clone(),
        action,
        fields,
        owner,
    }
}

/// Fields that differ; a desired value still unknown counts as a difference.
fn field_diffs(desired: &Fields, live: &Fields, replaced_by: &[&str]) -> Vec<FieldDiff> {
    let keys: std::collections::BTreeSet<&String> = desired.keys().chain(live.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let d = desired.get(k);
            let l = live.get(k);
            let differs = d != l || d.is_some_and(|v| is_unknown(v));
            differs.then(|| FieldDiff {
                field: k.clone(),
                live: l.cloned(),
                desired: d.cloned(),
                forces_replacement: replaced_by.contains(&k.as_str()),
            })
        })
        .collect()
}

/// Counts for the summary line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub unchanged: usize,
    pub not_owned: usize,
}

impl Summary {
    pub fn of<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Summary {
        let mut s = Summary::default();
        for c in changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
                Action::NoOp => s.unchanged += 1,
                Action::NotOwned => s.not_owned += 1,
            }
        }
        s
    }

    pub fn in_sync(&self) -> bool {
        self.create + self.update + self.replace + self.delete + self.not_owned == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Kind;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn live(pairs: &[(&str, &str)], owner: Owner) -> Live {
        Live {
            fields: fields(pairs),
            outputs: Default::default(),
            owner,
        }
    }

    fn id() -> ResourceId {
        ResourceId::new(Kind::Queue, "q")
    }

    #[test]
    fn absent_is_create_with_every_field() {
        let c = diff(
            &id(),
            &fields(&[("VisibilityTimeout", "60")]),
            None,
            &[],
            false,
        );
        assert_eq!(c.action, Action::Create);
        assert_eq!(c.fields[0].desired.as_deref(), Some("60"));
    }

    #[test]
    fn equal_is_noop_and_change_is_update() {
        let d = fields(&[("VisibilityTimeout", "60")]);
        let same = live(&[("VisibilityTimeout", "60")], Owner::Us);
        assert_eq!(
            diff(&id(), &d, Some(&same), &[], false).action,
            Action::NoOp
        );
        let other = live(&[("VisibilityTimeout", "30")], Owner::Us);
        let c = diff(&id(), &d, Some(&other), &[], false);
        assert_eq!(c.action, Action::Update);
        assert_eq!(
            c.fields,
            vec![FieldDiff {
                field: "VisibilityTimeout".into(),
                live: Some("30".into()),
                desired: Some("60".into()),
                forces_replacement: false
            }]
        );
    }

    #[test]
    fn extra_live_field_is_drift_and_replacement_fields_replace() {
        let d = fields(&[("source", "a")]);
        let l = live(&[("source", "b"), ("environment.X", "1")], Owner::Us);
        let c = diff(&id(), &d, Some(&l), &["source"], false);
        assert_eq!(c.action, Action::Replace);
        assert_eq!(c.field("environment.X").unwrap().desired, None);
    }

    #[test]
    fn unknown_desired_value_is_a_change() {
        let d = fields(&[("environment.QUEUE_URL", crate::resolve::UNKNOWN)]);
        let l = live(
            &[("environment.QUEUE_URL", crate::resolve::UNKNOWN)],
            Owner::Us,
        );
        assert_eq!(diff(&id(), &d, Some(&l), &[], false).action, Action::Update);
    }

    #[test]
    fn foreign_resources_are_not_touched_unless_adopted() {
        let d = fields(&[]);
        let mine = live(&[], Owner::Nobody);
        assert_eq!(
            diff(&id(), &d, Some(&mine), &[], false).action,
            Action::NotOwned
        );
        assert_eq!(diff(&id(), &d, Some(&mine), &[], true).action, Action::NoOp);
        let theirs = live(&[], Owner::Stack("other".into()));
        let c = diff(&id(), &d, Some(&theirs), &[], true);
        assert_eq!(
            (c.action, c.owner.as_deref()),
            (Action::NotOwned, Some("other"))
        );
    }

    #[test]
    fn teardown_deletes_only_ours_unless_asked() {
        let ours = live(&[], Owner::Us);
        let hand_made = live(&[], Owner::Nobody);
        let theirs = live(&[], Owner::Stack("x".into()));
        assert_eq!(teardown(&id(), Some(&ours), false).action, Action::Delete);
        assert_eq!(
            teardown(&id(), Some(&hand_made), false).action,
            Action::NotOwned
        );
        assert_eq!(
            teardown(&id(), Some(&hand_made), true).action,
            Action::Delete
        );
        assert_eq!(
            teardown(&id(), Some(&theirs), true).action,
            Action::NotOwned
        );
        assert_eq!(teardown(&id(), None, false).action, Action::NoOp);
    }
}
