//! One module per resource kind, all behind [`Resource`]: Terraform's create/read/update/delete,
//! with "absent" as a value and the comparison done by the pure diff in `plan`.

pub mod bucket;
pub mod event_source_mapping;
pub mod function;
pub mod policy;
pub mod queue;
pub mod rest_api;
pub mod role;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use async_trait::async_trait;

use crate::aws::Ctx;
use crate::manifest::{Spec, Stack};
use crate::package::Package;
use crate::plan::FieldDiff;
use crate::resolve::Resolver;

/// Normalized, comparable settings of one resource: `VisibilityTimeout` → `"60"`.
pub type Fields = BTreeMap<String, String>;

/// What other resources can refer to: `arn`, `url`, `name`, `id`.
pub type Outputs = BTreeMap<String, String>;

/// The tag that marks a resource as created by a stack; its value is the stack name.
pub const OWNER_TAG: &str = "exstack:stack";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Queue,
    Bucket,
    Policy,
    Role,
    Function,
    EventSourceMapping,
    RestApi,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Queue,
        Kind::Bucket,
        Kind::Policy,
        Kind::Role,
        Kind::Function,
        Kind::EventSourceMapping,
        Kind::RestApi,
    ];

    /// The table name in stack.toml and in references.
    pub fn table(self) -> &'static str {
        match self {
            Kind::Queue => "queues",
            Kind::Bucket => "buckets",
            Kind::Policy => "policies",
            Kind::Role => "roles",
            Kind::Function => "functions",
            Kind::EventSourceMapping => "event_source_mappings",
            Kind::RestApi => "apis",
        }
    }

    pub fn from_table(table: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.table() == table)
    }

    /// How a person calls it, in output.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Queue => "queue",
            Kind::Bucket => "bucket",
            Kind::Policy => "policy",
            Kind::Role => "role",
            Kind::Function => "function",
            Kind::EventSourceMapping => "event source mapping",
            Kind::RestApi => "rest api",
        }
    }

    /// What `${<table>.<name>.<attribute>}` may name.
    pub fn attributes(self) -> &'static [&'static str] {
        match self {
            Kind::Queue => &["arn", "url", "name"],
            Kind::Bucket | Kind::Policy | Kind::Role | Kind::Function => &["arn", "name"],
            Kind::EventSourceMapping => &["uuid"],
            Kind::RestApi => &["id", "name", "url"],
        }
    }

    /// Outputs known before the resource exists, so a plan can show real ARNs (in the
    /// region's partition: `arn:aws-cn:` in China, `arn:aws-us-gov:` in GovCloud).
    pub fn predicted_outputs(self, name: &str, account: &str, region: &str) -> Outputs {
        let arn = |service: &str, resource: String| {
            Some(crate::aws::arn::arn(region, service, account, &resource))
        };
        let arn = match self {
            Kind::Queue => arn("sqs", name.to_owned()),
            Kind::Bucket => arn("s3", name.to_owned()),
            Kind::Policy => arn("iam", format!("policy/{name}")),
            Kind::Role => arn("iam", format!("role/{name}")),
            Kind::Function => arn("lambda", format!("function:{name}")),
            Kind::EventSourceMapping | Kind::RestApi => None,
        };
        let mut out = Outputs::new();
        if self != Kind::EventSourceMapping {
            out.insert("name".into(), name.into());
        }
        if let Some(arn) = arn {
            out.insert("arn".into(), arn);
        }
        out
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
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.label(), self.name)
    }
}

/// Who a live resource belongs to, by its ownership tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Tagged with this stack's name.
    Us,
    /// No ownership tag: made by hand (say, a student following the exercise) or by another tool.
    Nobody,
    /// Tagged with another stack's name.
    Stack(String),
}

impl Owner {
    pub fn from_tag(tag: Option<&str>, stack: &str) -> Owner {
        match tag {
            Some(t) if t == stack => Owner::Us,
            Some(t) => Owner::Stack(t.to_owned()),
            None => Owner::Nobody,
        }
    }
}

/// A resource as it is in the account.
#[derive(Debug, Clone)]
pub struct Live {
    pub fields: Fields,
    pub outputs: Outputs,
    pub owner: Owner,
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

    /// Marks a live resource as ours (`up --adopt`).
    async fn tag(&self, ctx: &Ctx, live: &Live) -> Result<()>;
}

/// Function code, packaged once per run and shared by every resolution of the function.
pub type Packages = HashMap<ResourceId, Arc<Package>>;

/// Packages every function's code; a problem (an unreadable file, a symlink out) stops
/// the run before any call is made.
pub fn package_all(stack: &Stack) -> Result<Packages> {
    let mut out = Packages::new();
    for r in &stack.resources {
        if let Spec::Function(f) = &r.spec {
            let package = crate::package::build(&f.code, f.files.as_deref())
                .with_context(|| format!("packaging {}", r.id))?;
            out.insert(r.id.clone(), Arc::new(package));
        }
    }
    Ok(out)
}

/// The resource behind one stack.toml entry, with references resolved by `r`.
pub fn build(
    stack: &Stack,
    packages: &Packages,
    id: &ResourceId,
    r: &Resolver,
) -> Box<dyn Resource> {
    let decl = stack.get(id).expect("graph nodes come from the stack");
    let name = id.name.clone();
    match &decl.spec {
        Spec::Queue(s) => Box::new(queue::Queue::resolve(name, s, r)),
        Spec::Bucket(_) => Box::new(bucket::Bucket::new(name)),
        Spec::Policy(s) => Box::new(policy::Policy::resolve(name, s, r)),
        Spec::Role(s) => Box::new(role::Role::resolve(name, s, r)),
        Spec::Function(s) => Box::new(function::Function::resolve(
            name,
            s,
            packages[id].clone(),
            r,
        )),
        Spec::EventSourceMapping(s) => Box::new(event_source_mapping::EventSourceMapping::resolve(
            name, s, r,
        )),
        Spec::RestApi(s) => Box::new(rest_api::RestApi::resolve(name, s, r)),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicted_arns_follow_the_partition_of_the_region() {
        let arn = |kind: Kind, region: &str| {
            kind.predicted_outputs("x", "123456789012", region)["arn"].clone()
        };
        assert_eq!(
            arn(Kind::Queue, "us-east-1"),
            "arn:aws:sqs:us-east-1:123456789012:x"
        );
        assert_eq!(
            arn(Kind::Queue, "cn-north-1"),
            "arn:aws-cn:sqs:cn-north-1:123456789012:x"
        );
        assert_eq!(
            arn(Kind::Role, "us-gov-west-1"),
            "arn:aws-us-gov:iam::123456789012:role/x"
        );
        assert_eq!(
            arn(Kind::Policy, "cn-northwest-1"),
            "arn:aws-cn:iam::123456789012:policy/x"
        );
        assert_eq!(arn(Kind::Bucket, "cn-north-1"), "arn:aws-cn:s3:::x");
        assert_eq!(
            arn(Kind::Function, "eu-west-1"),
            "arn:aws:lambda:eu-west-1:123456789012:function:x"
        );
    }
}
