//! The configuration checks that come with the declaration: every resource exists and its
//! settings are stack.toml's, one check per resource, in words a student understands
//! ("task-queue: visibility timeout is 30 s; the lab asks for 60 s").

use serde::Serialize;

use crate::engine::{Engine, Observed};
use crate::manifest::checks::Grading;
use crate::model::Value;
use crate::plan::FieldDiff;
use crate::resources::{self, Graded};

/// How strictly: `verify` holds an exstack-made lab to every field; `grade` holds a lab
/// built by hand to what the lab asks for, less what `[grade]` leaves out.
#[derive(Clone, Copy)]
pub enum Comparison<'a> {
    Everything,
    Graded(&'a Grading),
}

/// One resource's configuration check.
#[derive(Debug, Clone, Serialize)]
pub struct Configuration {
    /// Its address, `queues.task-queue`.
    pub address: String,
    /// "queue task-queue".
    pub name: String,
    pub points: u32,
    /// Each difference as a sentence; none when it matches.
    pub problems: Vec<String>,
}

impl Configuration {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One check per declared resource, whoever owns what is there.
pub fn configuration(
    engine: &Engine,
    observed: &Observed,
    how: Comparison<'_>,
) -> Vec<Configuration> {
    // Compared as if adopted: the fields count, not the ownership tag.
    let changes = engine.plan(observed, true);
    changes
        .iter()
        .map(|change| {
            let id = &change.id;
            let address = id.address();
            let exists = observed.get(id).is_some_and(Option::is_some);
            let problems = if !exists {
                vec![format!("{}: missing; the lab asks for it", id.name)]
            } else {
                differences(
                    &id.name,
                    &address,
                    &change.fields,
                    resources::kind(id.kind),
                    how,
                )
            };
            let points = match how {
                Comparison::Everything => 1,
                Comparison::Graded(g) => g.points_of(&address),
            };
            Configuration {
                name: id.to_string(),
                address,
                points,
                problems,
            }
        })
        .filter(|c| match how {
            Comparison::Graded(g) => !g.ignores(&c.address, ""),
            Comparison::Everything => true,
        })
        .collect()
}

/// The resource's differing fields as sentences.
fn differences(
    name: &str,
    address: &str,
    fields: &[FieldDiff],
    kind: &dyn resources::AnyKind,
    how: Comparison<'_>,
) -> Vec<String> {
    let said = |f: &FieldDiff, how| sentence(name, address, kind, f, how);
    let mut problems: Vec<String> = fields.iter().filter_map(|f| said(f, how)).collect();
    // Something more than the lab asks for costs nothing, but where a piece is wrong it is
    // named too: GET /tasks where POST /tasks was asked for.
    if !problems.is_empty() && matches!(how, Comparison::Graded(_)) {
        let more = fields.iter().filter(|f| f.desired.is_none());
        problems.extend(more.filter_map(|f| said(f, Comparison::Everything)));
    }
    problems
}

/// A differing field as a sentence, or `None` when this comparison leaves it out.
fn sentence(
    name: &str,
    address: &str,
    kind: &dyn resources::AnyKind,
    f: &FieldDiff,
    how: Comparison<'_>,
) -> Option<String> {
    let field = kind.field(&f.field);
    if let Comparison::Graded(grading) = how {
        // What the lab asks for counts; something more a student set does not.
        let by_presence = field.graded == Graded::Presence && f.live.is_some();
        if f.desired.is_none()
            || field.graded == Graded::Never
            || by_presence
            || grading.ignores(address, &field.key)
        {
            return None;
        }
    }
    let words = &field.words;
    let shown = |v: &Value| match v {
        Value::Known(t) if t.is_empty() => "empty".to_owned(),
        other => format!("{other}{}", field.unit),
    };
    Some(match (&f.live, &f.desired) {
        (None, Some(_)) if field.opaque => format!("{name}: {words} is missing"),
        (None, Some(want)) => format!(
            "{name}: {words} is missing; the lab asks for {}",
            shown(want)
        ),
        (Some(seen), None) => format!("{name}: {words} is {}; the lab asks for none", shown(seen)),
        (Some(_), Some(_)) if field.opaque => {
            format!("{name}: {words} differs from what the lab asks for")
        }
        (Some(seen), Some(want)) => format!(
            "{name}: {words} is {}; the lab asks for {}",
            shown(seen),
            shown(want)
        ),
        (None, None) => return None,
    })
}
