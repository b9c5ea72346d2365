//! The pure diff: desired fields against live ones, per resource, into Terraform's vocabulary
//! (no-op, create `+`, update `~`, replace `-/+`, delete `-`). No network here.

pub mod render;

use serde::Serialize;

use crate::model::{Fields, Live, Owner, ResourceId, Value};

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
    pub live: Option<Value>,
    pub desired: Option<Value>,
    /// Changing this field means deleting and re-creating the resource.
    pub forces_replacement: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub id: ResourceId,
    pub action: Action,
    pub fields: Vec<FieldDiff>,
    /// Set for `NotOwned`: whose it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    /// Ours, but the run that created it stopped half-way: the update finishes it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unfinished: bool,
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
    match &live.owner {
        Owner::Us => {}
        Owner::Untagged if adopt => {}
        other => return change(id, Action::NotOwned, fields, Some(other.clone())),
    }
    let action = if fields.iter().any(|f| f.forces_replacement) {
        Action::Replace
    } else if fields.is_empty() && !live.unfinished {
        Action::NoOp
    } else {
        Action::Update
    };
    Change {
        unfinished: live.unfinished,
        ..change(id, action, fields, None)
    }
}

/// What `down` does with a live resource.
pub fn teardown(id: &ResourceId, live: Option<&Live>, include_unowned: bool) -> Change {
    let owner = live.map(|l| &l.owner);
    let action = match owner {
        None => Action::NoOp,
        Some(Owner::Us) => Action::Delete,
        Some(Owner::Untagged) if include_unowned => Action::Delete,
        Some(_) => Action::NotOwned,
    };
    let whose = owner.filter(|o| **o != Owner::Us && action == Action::NotOwned);
    change(id, action, Vec::new(), whose.cloned())
}

fn change(id: &ResourceId, action: Action, fields: Vec<FieldDiff>, owner: Option<Owner>) -> Change {
    Change {
        id: id.clone(),
        action,
        fields,
        owner,
        unfinished: false,
    }
}

/// Fields that differ; a desired value still unknown counts as a difference.
fn field_diffs(desired: &Fields, live: &Fields, replaced_by: &[&str]) -> Vec<FieldDiff> {
    let keys: std::collections::BTreeSet<&String> = desired.keys().chain(live.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let d = desired.get(k);
            let l = live.get(k);
            let differs = d != l || d.is_some_and(Value::is_unknown);
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
    use crate::model::Kind;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        crate::model::fields(pairs.iter().copied())
    }

    fn live(pairs: &[(&str, &str)], owner: Owner) -> Live {
        Live::new(fields(pairs), Default::default(), owner)
    }

    fn id() -> ResourceId {
        ResourceId::new(Kind::new(0, "queues", "queue"), "q")
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
        assert_eq!(c.fields[0].desired, Some(Value::from("60")));
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
                live: Some(Value::from("30")),
                desired: Some(Value::from("60")),
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
        let d = Fields::from([("environment.QUEUE_URL".to_owned(), Value::Unknown)]);
        let l = Live::new(d.clone(), Default::default(), Owner::Us);
        assert_eq!(diff(&id(), &d, Some(&l), &[], false).action, Action::Update);
    }

    #[test]
    fn a_stack_named_nobody_owns_its_resources() {
        // Its resources are the stack `nobody`'s, not untagged ones.
        let theirs = live(&[], Owner::from_tag(Some("nobody"), "mine"));
        let c = diff(&id(), &fields(&[]), Some(&theirs), &[], true);
        assert_eq!(c.action, Action::NotOwned, "adopt takes only untagged ones");
        assert_eq!(c.owner, Some(Owner::Stack("nobody".into())));
        let ours = live(&[], Owner::from_tag(Some("nobody"), "nobody"));
        assert_eq!(
            diff(&id(), &fields(&[]), Some(&ours), &[], false).action,
            Action::NoOp
        );
    }

    #[test]
    fn an_unfinished_creation_is_an_update() {
        let mut l = live(&[], Owner::Us);
        l.unfinished = true;
        let c = diff(&id(), &fields(&[]), Some(&l), &[], false);
        assert_eq!((c.action, c.unfinished), (Action::Update, true));
    }

    #[test]
    fn foreign_resources_are_not_touched_unless_adopted() {
        let d = fields(&[]);
        let mine = live(&[], Owner::Untagged);
        assert_eq!(
            diff(&id(), &d, Some(&mine), &[], false).action,
            Action::NotOwned
        );
        assert_eq!(diff(&id(), &d, Some(&mine), &[], true).action, Action::NoOp);
        let theirs = live(&[], Owner::Stack("other".into()));
        let c = diff(&id(), &d, Some(&theirs), &[], true);
        assert_eq!(
            (c.action, c.owner),
            (Action::NotOwned, Some(Owner::Stack("other".into())))
        );
    }

    #[test]
    fn teardown_deletes_only_ours_unless_asked() {
        let ours = live(&[], Owner::Us);
        let hand_made = live(&[], Owner::Untagged);
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
