//! `exstack validate`: the checks every command runs first, and nothing else.

use std::path::PathBuf;

use anyhow::Result;
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::Exit;
use super::report::{Report, json};
use crate::manifest::Stack;
use crate::model::ResourceId;
use crate::output::Settings;

/// A valid stack and the order its resources are created in.
#[derive(Serialize)]
pub struct Valid {
    valid: bool,
    stack: String,
    #[serde(serialize_with = "addresses")]
    levels: Vec<Vec<ResourceId>>,
    #[serde(skip)]
    path: PathBuf,
    #[serde(skip)]
    resources: usize,
}

impl Report for Valid {
    fn json(&self) -> Option<Value> {
        json(self)
    }

    fn text(&self, settings: Settings) -> String {
        let mut text = format!(
            "{} is valid: stack `{}`, {} resources in {} levels\n",
            self.path.display(),
            self.stack,
            self.resources,
            self.levels.len()
        );
        if settings.verbose() {
            for (i, level) in self.levels.iter().enumerate() {
                let names: Vec<String> = level.iter().map(ToString::to_string).collect();
                text.push_str(&format!("  level {i}: {}\n", names.join(", ")));
            }
        }
        text
    }

    fn exit(&self) -> Exit {
        Exit::Success
    }
}

pub fn run(stack: &Stack) -> Result<Valid> {
    let levels = stack.graph.levels();
    Ok(Valid {
        valid: true,
        stack: stack.name.clone(),
        levels,
        path: stack.path.clone(),
        resources: stack.resources.len(),
    })
}

/// Each level's ids as references name them: `queues.task-dlq`.
fn addresses<S: Serializer>(levels: &[Vec<ResourceId>], s: S) -> Result<S::Ok, S::Error> {
    let levels: Vec<Vec<String>> = levels
        .iter()
        .map(|l| l.iter().map(ResourceId::address).collect())
        .collect();
    levels.serialize(s)
}
