//! The stack's outputs: what a person pastes into curl or the AWS CLI next.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;

use crate::Exit;
use crate::aws::Ctx;
use crate::cli::{Format, Global};
use crate::engine::Engine;
use crate::manifest::{Spec, Stack};
use crate::output;
use crate::resources::{Outputs, ResourceId};

pub async fn run(ctx: &Ctx, stack: &Stack, g: &Global) -> Result<Exit> {
    let engine = Engine::new(ctx, stack)?;
    let observed = engine.observe().await?;
    let missing: Vec<String> = observed
        .iter()
        .filter(|(_, l)| l.is_none())
        .map(|(id, _)| id.to_string())
        .collect();
    let live: HashMap<ResourceId, Outputs> = observed
        .into_iter()
        .filter_map(|(id, l)| l.map(|l| (id, l.outputs)))
        .collect();
    let outputs = collect(stack, &live);
    match g.output {
        Format::Json => output::json(&serde_json::json!(outputs)),
        Format::Text => print(&outputs),
    }
    if !missing.is_empty() {
        output::status(
            "Missing",
            format_args!("{} (run exstack up)", missing.join(", ")),
        );
        return Ok(Exit::Drift);
    }
    Ok(Exit::Success)
}

/// Named outputs: queue URLs, buckets, and each API route's URL (on LocalStack in its two forms).
pub fn collect(stack: &Stack, known: &HashMap<ResourceId, Outputs>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for r in &stack.resources {
        let Some(o) = known.get(&r.id) else { continue };
        let key = |attr: &str| format!("{}.{}.{attr}", r.id.kind.table(), r.id.name);
        match &r.spec {
            Spec::Queue(_) => {
                if let Some(url) = o.get("url") {
                    out.insert(key("url"), url.clone());
                }
            }
            Spec::Bucket(_) => {
                out.insert(key("name"), r.id.name.clone());
            }
            Spec::RestApi(api) => {
                let Some(id) = o.get("id") else { continue };
                out.insert(key("id"), id.clone());
                // No `url` where the target cannot serve the stage (an emulator without it).
                let Some(base) = o.get("url") else { continue };
                for route in &api.routes {
                    let path = route.path.trim_start_matches('/');
                    out.insert(
                        key(&format!("{} /{path}", route.method)),
                        format!("{base}/{path}"),
                    );
                    // LocalStack's host-name form, only when the target is LocalStack.
                    if let Some(host) = o.get("host_url") {
                        out.insert(
                            key(&format!("{} /{path} (host)", route.method)),
                            format!("{host}/{path}"),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    out
}

pub fn print(outputs: &BTreeMap<String, String>) {
    let width = outputs.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in outputs {
        output::data(format_args!("{k:width$}  {v}\n"));
    }
}
