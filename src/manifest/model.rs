//! The validated stack: every name checked, every number in range, variables substituted.
//! Only resource references (`${queues.task-queue.arn}`) remain, resolved at apply time.

use std::path::PathBuf;
use std::sync::Arc;

use super::kind::{Setting, Spec};
use crate::graph::Graph;
use crate::model::{Kind, ResourceId};

#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub region: Option<String>,
    pub allow_aws: bool,
    /// The stack file, for messages.
    pub path: PathBuf,
    pub resources: Vec<Resource>,
    /// What refers to what; checked to have no cycle.
    pub graph: Graph,
    /// `[checks.<name>]`, in the order written.
    pub checks: Vec<super::checks::Check>,
    /// `[grade]`.
    pub grading: super::checks::Grading,
}

impl Stack {
    pub fn get(&self, id: &ResourceId) -> Option<&Resource> {
        self.resources.iter().find(|r| r.id() == id)
    }

    /// Every resource of one kind, with its spec as that kind's type.
    pub fn specs<T: Spec>(&self) -> impl Iterator<Item = (&Resource, &T)> {
        self.resources
            .iter()
            .filter_map(|r| r.spec_as::<T>().map(|s| (r, s)))
    }
}

/// One declared resource. Its kind is its spec's, so the two cannot disagree.
#[derive(Debug, Clone)]
pub struct Resource {
    id: ResourceId,
    pub spec: Arc<dyn Spec>,
}

impl Resource {
    pub fn new(name: impl Into<String>, spec: Arc<dyn Spec>) -> Resource {
        Resource {
            id: ResourceId::new(spec.kind(), name),
            spec,
        }
    }

    pub fn id(&self) -> &ResourceId {
        &self.id
    }

    pub fn kind(&self) -> Kind {
        self.id.kind
    }

    /// The spec as kind `T`'s own type, when it is one.
    pub fn spec_as<T: Spec>(&self) -> Option<&T> {
        let spec: &dyn std::any::Any = self.spec.as_ref();
        spec.downcast_ref::<T>()
    }

    pub fn setting(&self, key: &str) -> Option<Setting<'_>> {
        self.spec.setting(key)
    }
}
