//! The vocabulary every layer shares: what a resource is called (its kind and name), the values
//! compared between stack.toml and the account, and who owns a live resource. It depends on
//! nothing else in exstack; the kinds themselves are declared in `resources`.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

/// A resource kind, as stack.toml names it. Each kind declares its own `Kind` constant in
/// `src/resources/<kind>.rs`; `rank` orders kinds the way output lists them.
#[derive(Clone, Copy)]
pub struct Kind {
    rank: u8,
    table: &'static str,
    label: &'static str,
}

impl Kind {
    pub const fn new(rank: u8, table: &'static str, label: &'static str) -> Kind {
        Kind { rank, table, label }
    }

    /// The table name in stack.toml and in references: `queues`.
    pub fn table(self) -> &'static str {
        self.table
    }

    /// How a person calls it, in output: `queue`.
    pub fn label(self) -> &'static str {
        self.label
    }
}

// Identity is the table name; `rank` only orders.
impl PartialEq for Kind {
    fn eq(&self, other: &Self) -> bool {
        self.table == other.table
    }
}

impl Eq for Kind {}

impl std::hash::Hash for Kind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.table.hash(state);
    }
}

impl PartialOrd for Kind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.rank, self.table).cmp(&(other.rank, other.table))
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.table)
    }
}

/// A resource's identity: its kind and its name in stack.toml.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    pub kind: Kind,
    pub name: String,
}

impl ResourceId {
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        ResourceId {
            kind,
            name: name.into(),
        }
    }

    /// As references and JSON name it: `queues.task-queue`.
    pub fn address(&self) -> String {
        format!("{}.{}", self.kind.table(), self.name)
    }
}

/// As people read it: `queue task-queue`.
impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.label(), self.name)
    }
}

impl Serialize for ResourceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.address())
    }
}

/// A setting's value as compared: known text, or not known until a dependency exists
/// (a queue URL before the queue is created). An unknown value is never sent to AWS.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    Known(String),
    Unknown,
}

impl Value {
    pub fn known(&self) -> Option<&str> {
        match self {
            Value::Known(s) => Some(s),
            Value::Unknown => None,
        }
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// The text to send to AWS; an unknown value is never sent.
    pub fn sendable(&self) -> anyhow::Result<&str> {
        self.known().ok_or_else(|| {
            anyhow::anyhow!("a value is still unknown: its dependency has no outputs yet")
        })
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Known(s)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Known(s.to_owned())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Known(s) => f.write_str(s),
            Value::Unknown => f.write_str("(known after apply)"),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Normalized, comparable settings of one resource: `VisibilityTimeout` → `60`.
pub type Fields = BTreeMap<String, Value>;

/// What other resources can refer to: `arn`, `url`, `name`, `id`.
pub type Outputs = BTreeMap<String, String>;

/// The tag that marks a resource as created by a stack; its value is the stack name.
pub const OWNER_TAG: &str = "exstack:stack";

/// Who a live resource belongs to, by its ownership tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Tagged with this stack's name.
    Us,
    /// No ownership tag: made by hand (say, a student following the exercise) or by another tool.
    Untagged,
    /// Tagged with another stack's name.
    Stack(String),
}

impl Owner {
    pub fn from_tag(tag: Option<&str>, stack: &str) -> Owner {
        match tag {
            Some(t) if t == stack => Owner::Us,
            Some(t) => Owner::Stack(t.to_owned()),
            None => Owner::Untagged,
        }
    }
}

/// The JSON contract (docs/json-output.md): `nobody` for an untagged resource, else the owner.
impl Serialize for Owner {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Owner::Us => s.serialize_none(),
            Owner::Untagged => s.serialize_str("nobody"),
            Owner::Stack(name) => s.serialize_str(name),
        }
    }
}

/// A resource as it is in the account.
#[derive(Debug, Clone)]
pub struct Live {
    pub fields: Fields,
    pub outputs: Outputs,
    pub owner: Owner,
    /// Ours, but the run creating it stopped before it was finished (a bucket made, its tag
    /// not yet written): `up` finishes it.
    pub unfinished: bool,
    /// The kind's own typed reading of what it found (an API's routes and permissions), for
    /// its `update`; the generic diff sees only `fields`.
    pub state: Option<Arc<dyn Any + Send + Sync>>,
}

impl Live {
    pub fn new(fields: Fields, outputs: Outputs, owner: Owner) -> Live {
        Live {
            fields,
            outputs,
            owner,
            unfinished: false,
            state: None,
        }
    }

    pub fn with_state(mut self, state: impl Any + Send + Sync) -> Live {
        self.state = Some(Arc::new(state));
        self
    }

    /// The kind's typed state, when it left one of type `T`.
    pub fn state<T: Any>(&self) -> Option<&T> {
        self.state.as_deref().and_then(|s| s.downcast_ref::<T>())
    }

    /// An output every live resource of its kind has (its kind's `read` always sets it).
    pub fn output(&self, key: &str) -> anyhow::Result<&str> {
        self.outputs
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| anyhow::anyhow!("the live resource has no {key}"))
    }
}

/// Fields from `(name, value)` pairs of text.
pub fn fields<K: Into<String>, V: Into<Value>>(pairs: impl IntoIterator<Item = (K, V)>) -> Fields {
    pairs
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: Kind = Kind::new(0, "queues", "queue");
    const BUCKET: Kind = Kind::new(1, "buckets", "bucket");

    #[test]
    fn ids_have_one_address_and_kinds_order_by_rank() {
        let id = ResourceId::new(QUEUE, "task-queue");
        assert_eq!(id.address(), "queues.task-queue");
        assert_eq!(id.to_string(), "queue task-queue");
        assert_eq!(
            serde_json::to_value(&id).unwrap(),
            serde_json::json!("queues.task-queue")
        );
        // "buckets" < "queues" as text, but queues rank first.
        assert!(QUEUE < BUCKET);
    }

    #[test]
    fn a_stack_named_nobody_is_still_an_owner() {
        assert_eq!(
            Owner::from_tag(Some("nobody"), "mine"),
            Owner::Stack("nobody".into())
        );
        assert_eq!(Owner::from_tag(Some("nobody"), "nobody"), Owner::Us);
        assert_eq!(Owner::from_tag(None, "nobody"), Owner::Untagged);
    }

    #[test]
    fn unknown_values_show_as_known_after_apply() {
        assert_eq!(Value::Unknown.to_string(), "(known after apply)");
        assert_eq!(Value::from("60").known(), Some("60"));
    }
}
