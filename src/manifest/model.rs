//! The validated stack: every name checked, every number in range, variables substituted.
//! Only resource references (`${queues.task-queue.arn}`) remain, resolved at apply time.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::template::Template;
use crate::resources::ResourceId;

#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub region: Option<String>,
    pub allow_aws: bool,
    /// The stack file, for messages.
    pub path: PathBuf,
    pub resources: Vec<Resource>,
}

impl Stack {
    pub fn get(&self, id: &ResourceId) -> Option<&Resource> {
        self.resources.iter().find(|r| &r.id == id)
    }
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub id: ResourceId,
    pub spec: Spec,
}

#[derive(Debug, Clone)]
pub enum Spec {
    Queue(QueueSpec),
    Bucket(BucketSpec),
    Role(RoleSpec),
    Policy(PolicySpec),
    Function(FunctionSpec),
    EventSourceMapping(MappingSpec),
    RestApi(RestApiSpec),
}

impl Spec {
    /// Every reference this resource makes to another; these are the graph's edges.
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            Spec::Queue(q) => q.dead_letter.iter().map(|d| &d.queue).collect(),
            Spec::Bucket(_) => vec![],
            Spec::Role(r) => r.policies.iter().collect(),
            Spec::Policy(p) => p.statements.iter().flat_map(|s| &s.resources).collect(),
            Spec::Function(f) => std::iter::once(&f.role)
                .chain(f.environment.values())
                .collect(),
            Spec::EventSourceMapping(m) => vec![&m.source, &m.function],
            Spec::RestApi(a) => a.routes.iter().map(|r| &r.function).collect(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct QueueSpec {
    pub visibility_timeout: Option<i64>,
    pub message_retention_period: Option<i64>,
    pub dead_letter: Option<DeadLetter>,
}

#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub queue: Template,
    pub max_receive_count: i64,
}

#[derive(Debug, Clone, Default)]
pub struct BucketSpec {}

#[derive(Debug, Clone)]
pub struct RoleSpec {
    pub description: Option<String>,
    pub trusted_services: Vec<String>,
    /// ARNs of the managed policies attached to the role.
    pub policies: Vec<Template>,
}

#[derive(Debug, Clone)]
pub struct PolicySpec {
    pub description: Option<String>,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: String,
    pub actions: Vec<String>,
    pub resources: Vec<Template>,
}

#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub description: Option<String>,
    /// The directory packaged into the deployment zip, relative to stack.toml.
    pub code: PathBuf,
    /// Only these files of `code`, when given; otherwise every file.
    pub files: Option<Vec<String>>,
    pub handler: String,
    pub runtime: String,
    pub role: Template,
    pub timeout: i64,
    pub memory: i64,
    pub environment: BTreeMap<String, Template>,
}

#[derive(Debug, Clone)]
pub struct MappingSpec {
    pub source: Template,
    pub function: Template,
    pub batch_size: i64,
    pub maximum_batching_window: i64,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct RestApiSpec {
    pub description: Option<String>,
    pub stage: String,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub method: String,
    /// Always starts with `/`, no trailing slash: `/tasks`.
    pub path: String,
    pub function: Template,
    pub authorization: String,
}
