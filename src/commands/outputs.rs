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

/// Named outputs: queue URLs, buckets, and each API route's URL in LocalStack's two forms.
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
                let (Some(id), Some(base)) = (o.get("id"), o.get("url")) else {
                    continue;
                };
                out.insert(key("id"), id.clone());
                for route in &api.routes {
                    let path = route.path.trim_start_matches('/');
                    out.insert(
                        key(&format!("{} /{path}", route.method)),
                        format!("{base}/{path}"),
                    );
                    if let Some(host) = host_style_url(base, id, &api.stage) {
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

/// `http://<id>.execute-api.localhost.localstack.cloud:4566/dev` for a LocalStack base URL.
fn host_style_url(base: &str, id: &str, stage: &str) -> Option<String> {
    let rest = base.split("/restapis/").next()?;
    let port = rest
        .rsplit_once(':')
        .map(|(_, p)| p)
        .filter(|p| p.chars().all(|c| c.is_ascii_digit()))?;
    Some(format!(
        "http://{id}.execute-api.localhost.localstack.cloud:{port}/{stage}"
    ))
}

pub fn print(outputs: &BTreeMap<String, String>) {
    let width = outputs.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in outputs {
        output::data(format_args!("{k:width$}  {v}\n"));
    }
}
