//! One file per resource kind, all behind [`Resource`]: Terraform's create/read/update/delete,
//! with "absent" as a value and the comparison done by the pure diff in `plan`.
//!
//! A kind is one file: its stack.toml table and checks ([`Declare`]), its lifecycle
//! ([`Resource`]) and what commands show of it ([`KindImpl`]). [`KINDS`] lists them; nothing
//! outside this directory names a kind. To add one, see docs/architecture.md.

pub mod bucket;
pub mod event_source_mapping;
pub mod function;
mod iam;
pub mod policy;
pub mod queue;
pub mod rest_api;
pub mod role;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use async_trait::async_trait;

use crate::aws::Ctx;
use crate::manifest::kind::Declared;
use crate::manifest::{self, Declaration, Declare, Stack};
use crate::model::{Fields, Kind, Live, OWNER_TAG, Outputs, Owner, ResourceId};
use crate::package::Package;
use crate::plan::FieldDiff;
use crate::resolve::Resolver;

/// Every kind exstack knows, in the order output lists them.
pub static KINDS: &[&dyn AnyKind] = &[
    &Declared::<queue::Queue>::NEW,
    &Declared::<bucket::Bucket>::NEW,
    &Declared::<policy::Policy>::NEW,
    &Declared::<role::Role>::NEW,
    &Declared::<function::Function>::NEW,
    &Declared::<event_source_mapping::EventSourceMapping>::NEW,
    &Declared::<rest_api::RestApi>::NEW,
];

/// The kinds as the manifest parser sees them.
pub fn declarations() -> Vec<&'static dyn Declaration> {
    KINDS.iter().map(|k| *k as &dyn Declaration).collect()
}

/// Reads and validates a stack file with every kind (see [`manifest::load`]).
pub fn load_stack(path: &std::path::Path, vars: &[(String, String)]) -> Result<Stack> {
    manifest::load(path, vars, &declarations())
}

/// The registered kind of `kind`.
pub fn kind(kind: Kind) -> &'static dyn AnyKind {
    KINDS
        .iter()
        .copied()
        .find(|k| k.kind() == kind)
        .unwrap_or_else(|| unreachable!("every Kind is declared by a registered kind"))
}

/// One resource kind's lifecycle. Implementations hold the desired, resolved settings;
/// reading needs only the identity, so `read` works on a partly resolved value too.
#[async_trait]
pub trait Resource: Send + Sync {
    fn id(&self) -> &ResourceId;

    /// Desired settings, normalized exactly as `read` normalizes live ones.
    fn desired(&self) -> Fields;

    /// Desired settings as compared with `live`; differs from `desired` only for kinds
    /// whose settings name their own live identity (an API's permissions name its id).
    fn desired_for(&self, _live: Option<&Live>) -> Fields {
        self.desired()
    }

    /// Fields that cannot change in place: a difference there means delete and create.
    fn replaced_by(&self) -> &'static [&'static str] {
        &[]
    }

    /// Live state, or `None` when the resource does not exist.
    async fn read(&self, ctx: &Ctx) -> Result<Option<Live>>;

    async fn create(&self, ctx: &Ctx) -> Result<Outputs>;

    /// Brings a live resource to the desired settings; `changed` lists what differs.
    async fn update(&self, ctx: &Ctx, live: &Live, changed: &[FieldDiff]) -> Result<Outputs>;

    /// Waits until what `create` or `update` started has taken effect (a function Active, a
    /// mapping Enabled). Dependents do not wait for this; the run does.
    async fn settle(&self, _ctx: &Ctx, _outputs: &Outputs) -> Result<()> {
        Ok(())
    }

    /// Deletes it; something already gone is success.
    async fn delete(&self, ctx: &Ctx, live: &Live) -> Result<()>;

    /// Deletes and creates it again, for a change of a field in `replaced_by`. A kind whose
    /// resource others hold on to (a policy attached to roles) puts those back itself.
    async fn replace(&self, ctx: &Ctx, live: &Live) -> Result<Outputs> {
        self.delete(ctx, live).await?;
        self.create(ctx).await
    }

    /// Marks a live resource as ours (`up --adopt`).
    async fn tag(&self, ctx: &Ctx, live: &Live) -> Result<()>;
}

/// What a kind needs to build its resource for one run.
pub struct Build<'a> {
    pub name: &'a str,
    pub resolver: &'a Resolver<'a>,
    /// The kind's deployment package, when it has one (see [`KindImpl::package`]).
    pub package: Option<Arc<Package>>,
}

/// How `graph` draws a kind: Mermaid's brackets and Graphviz's shape.
pub struct Shape {
    pub mermaid: (&'static str, &'static str),
    pub dot: &'static str,
}

/// Shell variables for `outputs --format env`: named ones, and a short alias candidate
/// (`QUEUE_URL`) used when the stack has exactly one of its kind.
#[derive(Default)]
pub struct Env {
    pub vars: Vec<(String, String)>,
    pub alias: Option<(&'static str, String)>,
}

/// One compared field in stack.toml's words, for sentences a student understands
/// ("visibility timeout is 30 s; the lab asks for 60 s") and for `[grade] ignore`.
pub struct FieldDoc {
    /// The field's name in a plan; ending in `.` or ` `, a prefix (`environment.`).
    pub field: &'static str,
    /// Its stack.toml key (`visibility_timeout`); a prefix's rest is appended.
    pub key: &'static str,
    /// In words ("visibility timeout"); a prefix's rest is appended.
    pub words: &'static str,
    /// Written after each value (" s").
    pub unit: &'static str,
    /// How `grade` holds a hand-built lab to it.
    pub graded: Graded,
    /// Its values mean nothing to read (a hash, a whole document): say only that it differs.
    pub opaque: bool,
}

/// How `grade` compares a field of a lab built by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Graded {
    /// Its value must be what the lab asks for.
    Value,
    /// It must be there; its value is exstack's own record (a deployment's routes hash),
    /// which a hand-built lab cannot carry. The checks judge what it serves.
    Presence,
    /// Not at all: a student's own work may rightly differ (a code hash); the checks judge it.
    Never,
}

impl FieldDoc {
    pub const fn new(field: &'static str, key: &'static str, words: &'static str) -> FieldDoc {
        FieldDoc {
            field,
            key,
            words,
            unit: "",
            graded: Graded::Value,
            opaque: false,
        }
    }

    pub const fn opaque(self) -> FieldDoc {
        FieldDoc {
            opaque: true,
            ..self
        }
    }

    pub const fn unit(self, unit: &'static str) -> FieldDoc {
        FieldDoc { unit, ..self }
    }

    pub const fn ungraded(self) -> FieldDoc {
        FieldDoc {
            graded: Graded::Never,
            ..self
        }
    }

    pub const fn graded_by_presence(self) -> FieldDoc {
        FieldDoc {
            graded: Graded::Presence,
            ..self
        }
    }
}

/// A field of a plan described: [`FieldDoc`] with a prefix's rest filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub key: String,
    pub words: String,
    pub unit: &'static str,
    pub graded: Graded,
    pub opaque: bool,
}

/// Describes `field` by the first of `docs` that names it, or by its own name.
fn describe(docs: &[FieldDoc], field: &str) -> Described {
    let found = docs.iter().find_map(|d| {
        let prefix = d.field.ends_with(['.', ' ']);
        let rest = if prefix {
            field.strip_prefix(d.field)?
        } else {
            (field == d.field).then_some("")?
        };
        Some(Described {
            key: format!("{}{rest}", d.key),
            words: format!("{}{rest}", d.words),
            unit: d.unit,
            graded: d.graded,
            opaque: d.opaque,
        })
    });
    found.unwrap_or_else(|| Described {
        key: field.to_owned(),
        words: field.to_owned(),
        unit: "",
        graded: Graded::Value,
        opaque: false,
    })
}

/// Everything about a kind beyond its declaration: its resource and what commands show of it.
pub trait KindImpl: Declare {
    const SHAPE: Shape;
    /// Its plan's fields in stack.toml's words.
    const FIELDS: &'static [FieldDoc] = &[];

    fn build(spec: &Self::Spec, b: &Build<'_>) -> Box<dyn Resource>;

    /// Outputs known before the resource exists, so a plan can show real ARNs. `name` is the
    /// resource's name in AWS (see [`KindImpl::aws_name`]).
    fn predicted(name: &str, _account: &str, _region: &str) -> Outputs {
        Outputs::from([("name".into(), name.into())])
    }

    /// Its name in AWS: the table's name, unless the kind lets the stack say otherwise.
    fn aws_name(_spec: &Self::Spec, name: &str, _account: &str, _region: &str) -> String {
        name.to_owned()
    }

    /// `outputs`' named values (`url`, `POST /tasks`), from the live outputs.
    fn shown(_spec: &Self::Spec, _name: &str, _outputs: &Outputs) -> Vec<(String, String)> {
        Vec::new()
    }

    /// `outputs --format env`'s variables; `base` is the resource's name as a variable name.
    fn env(_stack: &Stack, _spec: &Self::Spec, _name: &str, _base: &str, _o: &Outputs) -> Env {
        Env::default()
    }

    /// A deployment package built from local files before any call (a function's zip).
    fn package(_spec: &Self::Spec) -> Result<Option<Package>> {
        Ok(None)
    }

    /// Local paths whose changes `up --watch` applies.
    fn watched(_spec: &Self::Spec) -> Vec<PathBuf> {
        Vec::new()
    }

    /// The CloudWatch Logs group its output goes to, for `logs`.
    fn log_group(_name: &str) -> Option<String> {
        None
    }
}

/// A kind, whatever its types: what the engine and commands call.
pub trait AnyKind: Declaration {
    fn build(&self, r: &manifest::Resource, b: &Build<'_>) -> Box<dyn Resource>;
    fn predicted(&self, r: &manifest::Resource, account: &str, region: &str) -> Outputs;
    fn shape(&self) -> &'static Shape;
    fn field(&self, field: &str) -> Described;
    fn shown(&self, r: &manifest::Resource, outputs: &Outputs) -> Vec<(String, String)>;
    fn env(&self, stack: &Stack, r: &manifest::Resource, o: &Outputs) -> Env;
    fn package(&self, r: &manifest::Resource) -> Result<Option<Package>>;
    fn watched(&self, r: &manifest::Resource) -> Vec<PathBuf>;
    fn log_group(&self, name: &str) -> Option<String>;
}

/// `r`'s spec as kind `K`'s: the registry picks `K` by the spec's own kind, so this holds.
fn spec_of<K: KindImpl>(r: &manifest::Resource) -> &K::Spec {
    r.spec_as::<K::Spec>()
        .unwrap_or_else(|| unreachable!("{} is built by its own kind", r.id()))
}

impl<K: KindImpl> AnyKind for Declared<K> {
    fn build(&self, r: &manifest::Resource, b: &Build<'_>) -> Box<dyn Resource> {
        K::build(spec_of::<K>(r), b)
    }

    fn predicted(&self, r: &manifest::Resource, account: &str, region: &str) -> Outputs {
        let name = K::aws_name(spec_of::<K>(r), &r.id().name, account, region);
        K::predicted(&name, account, region)
    }

    fn shape(&self) -> &'static Shape {
        &K::SHAPE
    }

    fn field(&self, field: &str) -> Described {
        describe(K::FIELDS, field)
    }

    fn shown(&self, r: &manifest::Resource, outputs: &Outputs) -> Vec<(String, String)> {
        K::shown(spec_of::<K>(r), &r.id().name, outputs)
    }

    fn env(&self, stack: &Stack, r: &manifest::Resource, o: &Outputs) -> Env {
        let name = &r.id().name;
        K::env(stack, spec_of::<K>(r), name, &env_name(name), o)
    }

    fn package(&self, r: &manifest::Resource) -> Result<Option<Package>> {
        K::package(spec_of::<K>(r))
    }

    fn watched(&self, r: &manifest::Resource) -> Vec<PathBuf> {
        K::watched(spec_of::<K>(r))
    }

    fn log_group(&self, name: &str) -> Option<String> {
        K::log_group(name)
    }
}

/// Deployment packages, built once per run and shared by every resolution of a resource.
pub type Packages = HashMap<ResourceId, Arc<Package>>;

/// Packages every resource that has local files; a problem (an unreadable file, a symlink
/// out) stops the run before any call is made.
pub fn package_all(stack: &Stack) -> Result<Packages> {
    let mut out = Packages::new();
    for r in &stack.resources {
        let package = kind(r.kind())
            .package(r)
            .with_context(|| format!("packaging {}", r.id()))?;
        if let Some(package) = package {
            out.insert(r.id().clone(), Arc::new(package));
        }
    }
    Ok(out)
}

/// Turns a list of tags into the owner, for the APIs that return tags as a map.
pub fn owner_of<'a>(
    mut tags: impl Iterator<Item = (&'a String, &'a String)>,
    stack: &str,
) -> Owner {
    let tag = tags
        .find(|(k, _)| k.as_str() == OWNER_TAG)
        .map(|(_, v)| v.as_str());
    Owner::from_tag(tag, stack)
}

/// `task-queue` → `TASK_QUEUE`: letters and digits upper-cased, anything else `_`.
pub fn env_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod parse_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_described_by_name_or_prefix() {
        const DOCS: &[FieldDoc] = &[
            FieldDoc::new(
                "VisibilityTimeout",
                "visibility_timeout",
                "visibility timeout",
            )
            .unit(" s"),
            FieldDoc::new("environment.", "environment.", "environment variable "),
        ];
        let timeout = describe(DOCS, "VisibilityTimeout");
        assert_eq!(
            (timeout.key.as_str(), timeout.unit),
            ("visibility_timeout", " s")
        );
        let env = describe(DOCS, "environment.QUEUE_URL");
        assert_eq!(env.words, "environment variable QUEUE_URL");
        assert_eq!(env.key, "environment.QUEUE_URL");
        assert_eq!(describe(DOCS, "Other").words, "Other");
    }

    #[test]
    fn kinds_are_listed_once_in_rank_order() {
        let kinds: Vec<Kind> = KINDS.iter().map(|k| k.kind()).collect();
        let mut sorted = kinds.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(kinds, sorted, "ranks must be distinct and follow KINDS");
    }
}
