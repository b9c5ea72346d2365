//! The stack's outputs: what a person pastes into curl or the AWS CLI next.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Result;
use serde_json::Value;

use super::Exit;
use super::report::{Report, json};
use crate::aws::Ctx;
use crate::cli::{OutputsArgs, OutputsFormat};
use crate::engine::Engine;
use crate::manifest::Stack;
use crate::model::{Outputs, ResourceId};
use crate::output::{Printer, Rendered, Settings};
use crate::resources;

/// The stack's outputs in the form asked for (`--format`, else `-o`), and what is missing.
pub struct StackOutputs {
    format: Option<OutputsFormat>,
    outputs: BTreeMap<String, String>,
    /// The shell variables, made only for `--format env`.
    env: Vec<(String, String)>,
    /// The resources that are not there.
    missing: Vec<String>,
}

impl Report for StackOutputs {
    /// The map, unless `--format` asked for text or env.
    fn json(&self) -> Option<Value> {
        match self.format {
            None | Some(OutputsFormat::Json) => json(&self.outputs),
            Some(OutputsFormat::Text | OutputsFormat::Env) => None,
        }
    }

    fn text(&self, _: Settings) -> String {
        match self.format {
            // `--format json` is JSON whatever `-o` says.
            Some(OutputsFormat::Json) => {
                Rendered::Json(json(&self.outputs).unwrap_or_default()).into_text()
            }
            Some(OutputsFormat::Env) => self
                .env
                .iter()
                .map(|(name, value)| format!("{name}={}\n", shell_quote(value)))
                .collect(),
            None | Some(OutputsFormat::Text) => table(&self.outputs),
        }
    }

    fn exit(&self) -> Exit {
        if self.missing.is_empty() {
            Exit::Success
        } else {
            Exit::Drift
        }
    }

    fn closing(&self, printer: &Printer) {
        if !self.missing.is_empty() {
            printer.notice(
                "Missing",
                format_args!("{} (run exstack up)", self.missing.join(", ")),
            );
        }
    }
}

pub async fn run(ctx: &Ctx, stack: &Stack, args: OutputsArgs) -> Result<StackOutputs> {
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
    let env = match args.format {
        Some(OutputsFormat::Env) => env(stack, &live)?,
        _ => Vec::new(),
    };
    Ok(StackOutputs {
        format: args.format,
        outputs: collect(stack, &live),
        env,
        missing,
    })
}

/// Named outputs, `<table>.<name>.<what>`: queue URLs, buckets, and each API route's URL
/// (on LocalStack in its two forms); each kind says what it shows.
pub fn collect(stack: &Stack, known: &HashMap<ResourceId, Outputs>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for r in &stack.resources {
        let Some(o) = known.get(r.id()) else { continue };
        for (what, value) in resources::kind(r.kind()).shown(r, o) {
            out.insert(format!("{}.{what}", r.id().address()), value);
        }
    }
    out
}

/// The outputs as shell variables, named from stack.toml: `TASK_QUEUE_URL`, `TASK_DLQ_URL`,
/// `TASK_RESULTS_BUCKET`, `TASK_PROCESSOR_ARN`, `TASK_API_URL` (the stage's base URL),
/// `TASK_API_ID`, `TASK_API_POST_TASKS_URL`; then the short names `QUEUE_URL`, `DLQ_URL`,
/// `BUCKET` and `API_URL` wherever the stack has exactly one such thing and no resource's
/// name already makes that name.
pub fn env(stack: &Stack, known: &HashMap<ResourceId, Outputs>) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut aliases: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for r in &stack.resources {
        let Some(o) = known.get(r.id()) else { continue };
        let env = resources::kind(r.kind()).env(stack, r, o);
        out.extend(env.vars);
        if let Some((alias, value)) = env.alias {
            aliases.entry(alias).or_default().push(value);
        }
    }
    let taken: BTreeSet<String> = out.iter().map(|(k, _)| k.clone()).collect();
    let mut short: Vec<(String, String)> = aliases
        .into_iter()
        .filter(|(alias, candidates)| candidates.len() == 1 && !taken.contains(*alias))
        .map(|(alias, mut candidates)| (alias.to_owned(), candidates.remove(0)))
        .collect();
    short.sort_by_key(|(alias, _)| ALIAS_ORDER.iter().position(|a| a == alias));
    out.extend(short);
    // Two resources whose names differ only in kind or punctuation (a queue and an API both
    // called `task-api`) would make one variable, and `eval` would keep the last silently.
    let mut seen = BTreeSet::new();
    if let Some((name, _)) = out.iter().find(|(n, _)| !seen.insert(n.as_str())) {
        anyhow::bail!(
            "two outputs would both be ${name}; rename one of the resources in {} or use -o json",
            stack.path.display()
        );
    }
    Ok(out)
}

/// The order the short names have always been printed in.
const ALIAS_ORDER: [&str; 4] = ["QUEUE_URL", "DLQ_URL", "BUCKET", "API_URL"];

/// Single quotes keep every character literal in sh; a quote inside becomes `'\''`.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// One output a line, names aligned.
pub fn table(outputs: &BTreeMap<String, String>) -> String {
    let width = outputs.keys().map(String::len).max().unwrap_or(0);
    outputs
        .iter()
        .map(|(k, v)| format!("{k:width$}  {v}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::resources::env_name;

    #[test]
    fn env_names_are_shell_identifiers() {
        assert_eq!(env_name("task-queue"), "TASK_QUEUE");
        assert_eq!(env_name("SQSProcessorPolicy"), "SQSPROCESSORPOLICY");
        assert_eq!(env_name("tasks/{id}"), "TASKS__ID_");
        assert_eq!(env_name("6-queue"), "_6_QUEUE");
        assert_eq!(env_name(""), "_");
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(shell_quote("http://a/b?x=1&y=2"), "'http://a/b?x=1&y=2'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    /// The repo's stack.toml, with `edit` applied, and made-up outputs for every resource.
    fn repo_stack(edit: (&str, &str)) -> (Stack, HashMap<ResourceId, Outputs>) {
        let path = std::path::Path::new("stack.toml");
        let source = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stack.toml"),
        )
        .unwrap()
        .replace(edit.0, edit.1);
        let kinds = resources::declarations();
        let stack = crate::manifest::parse(path, &source, &[], &kinds).unwrap();
        let mut known = HashMap::new();
        for r in &stack.resources {
            let name = &r.id().name;
            let mut o = resources::kind(r.kind()).predicted(r, "000000000000", "us-east-1");
            o.insert("url".into(), format!("u:{name}"));
            o.insert("id".into(), "abc".into());
            known.insert(r.id().clone(), o);
        }
        (stack, known)
    }

    #[test]
    fn two_resources_making_one_variable_are_refused() {
        // An API named like the task queue: both would be TASK_QUEUE_URL.
        let (stack, known) = repo_stack(("apis.task-api", "apis.task-queue"));
        let e = env(&stack, &known).unwrap_err().to_string();
        assert!(e.contains("$TASK_QUEUE_URL"), "{e}");
    }

    #[test]
    fn names_come_from_stack_toml_with_short_aliases() {
        let (stack, known) = repo_stack(("", ""));
        let env: BTreeMap<String, String> = env(&stack, &known).unwrap().into_iter().collect();
        let get = |k: &str| env.get(k).map(String::as_str);
        assert_eq!(get("TASK_QUEUE_URL"), Some("u:task-queue"));
        assert_eq!(get("QUEUE_URL"), Some("u:task-queue"));
        assert_eq!(get("TASK_DLQ_URL"), Some("u:task-dlq"));
        assert_eq!(get("DLQ_URL"), Some("u:task-dlq"));
        assert_eq!(get("TASK_RESULTS_BUCKET"), Some("task-results"));
        assert_eq!(get("BUCKET"), Some("task-results"));
        assert_eq!(get("TASK_API_URL"), Some("u:task-api"));
        assert_eq!(get("API_URL"), Some("u:task-api"));
        assert_eq!(get("TASK_API_ID"), Some("abc"));
        assert_eq!(get("TASK_API_POST_TASKS_URL"), Some("u:task-api/tasks"));
        assert_eq!(
            get("TASK_PROCESSOR_ARN"),
            Some("arn:aws:lambda:us-east-1:000000000000:function:task-processor")
        );
        assert!(get("API_ENQUEUE_ARN").is_some());
        // Policies, roles and mappings have nothing a curl command needs.
        assert_eq!(env.len(), 12, "{env:#?}");
    }
}
