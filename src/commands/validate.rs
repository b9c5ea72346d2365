//! `exstack validate`: the checks every command runs first, and nothing else.

use anyhow::Result;

use crate::Exit;
use crate::cli::{Format, Global};
use crate::manifest::Stack;
use crate::output;

pub fn run(stack: &Stack, g: &Global) -> Result<Exit> {
    let levels = stack.graph.levels();
    if g.output == Format::Json {
        let levels: Vec<Vec<String>> = levels
            .iter()
            .map(|l| l.iter().map(|id| id.address()).collect())
            .collect();
        output::json(&serde_json::json!({"valid": true, "stack": stack.name, "levels": levels}));
        return Ok(Exit::Success);
    }
    output::data(format_args!(
        "{} is valid: stack `{}`, {} resources in {} levels\n",
        stack.path.display(),
        stack.name,
        stack.resources.len(),
        levels.len()
    ));
    if crate::output::verbose() {
        for (i, level) in levels.iter().enumerate() {
            let names: Vec<String> = level.iter().map(ToString::to_string).collect();
            output::data(format_args!("  level {i}: {}\n", names.join(", ")));
        }
    }
    Ok(Exit::Success)
}
