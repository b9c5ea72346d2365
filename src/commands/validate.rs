//! `exstack validate`: the checks every command runs first, and nothing else.

use anyhow::Result;

use super::Exit;
use crate::cli::Global;
use crate::graph::Graph;
use crate::manifest::Stack;
use crate::output::{Format, Printer};

pub fn run(stack: &Stack, g: &Global, printer: &Printer) -> Result<Exit> {
    let graph = Graph::build(stack).map_err(|d| anyhow::anyhow!(d.message))?;
    let levels = graph.levels();
    if g.output == Format::Json {
        let levels: Vec<Vec<String>> = levels
            .iter()
            .map(|l| {
                l.iter()
                    .map(|id| format!("{}.{}", id.kind.table(), id.name))
                    .collect()
            })
            .collect();
        printer.json(&serde_json::json!({"valid": true, "stack": stack.name, "levels": levels}));
        return Ok(Exit::Success);
    }
    printer.data(format_args!(
        "{} is valid: stack `{}`, {} resources in {} levels\n",
        stack.path.display(),
        stack.name,
        stack.resources.len(),
        levels.len()
    ));
    if printer.verbose() {
        for (i, level) in levels.iter().enumerate() {
            let names: Vec<String> = level.iter().map(ToString::to_string).collect();
            printer.data(format_args!("  level {i}: {}\n", names.join(", ")));
        }
    }
    Ok(Exit::Success)
}
