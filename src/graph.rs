//! The dependency graph: edges from `${...}` references. Deterministic order (kind, then name),
//! levels of mutually independent resources, and the reverse for teardown.

use std::collections::{BTreeMap, BTreeSet};

use crate::manifest::{Diagnostic, Stack};
use crate::resources::ResourceId;

#[derive(Debug, Clone)]
pub struct Graph {
    /// Each resource and the resources it depends on.
    dependencies: BTreeMap<ResourceId, BTreeSet<ResourceId>>,
}

impl Graph {
    /// Builds the graph; a reference cycle is reported at the reference that closes it.
    pub fn build(stack: &Stack) -> Result<Graph, Diagnostic> {
        let mut dependencies = BTreeMap::new();
        for r in &stack.resources {
            let deps: BTreeSet<ResourceId> = r
                .spec
                .templates()
                .into_iter()
                .flat_map(|t| t.references())
                .map(|reference| ResourceId::new(reference.kind, &reference.name))
                .collect();
            dependencies.insert(r.id.clone(), deps);
        }
        let graph = Graph { dependencies };
        if let Some(cycle) = graph.find_cycle() {
            return Err(cycle_diagnostic(stack, &cycle));
        }
        Ok(graph)
    }

    pub fn dependencies(&self, id: &ResourceId) -> impl Iterator<Item = &ResourceId> {
        self.dependencies.get(id).into_iter().flatten()
    }

    pub fn dependents<'a>(&'a self, id: &'a ResourceId) -> impl Iterator<Item = &'a ResourceId> {
        self.dependencies
            .iter()
            .filter(move |(_, deps)| deps.contains(id))
            .map(|(n, _)| n)
    }

    /// Groups of resources whose members do not depend on each other, in creation order.
    pub fn levels(&self) -> Vec<Vec<ResourceId>> {
        let mut level: BTreeMap<&ResourceId, usize> = BTreeMap::new();
        let mut remaining: Vec<&ResourceId> = self.dependencies.keys().collect();
        while !remaining.is_empty() {
            remaining.retain(|id| {
                let deps: Option<Vec<usize>> = self.dependencies[*id]
                    .iter()
                    .map(|d| level.get(d).copied())
                    .collect();
                match deps {
                    Some(ls) => {
                        level.insert(id, ls.into_iter().max().map_or(0, |m| m + 1));
                        false
                    }
                    None => true,
                }
            });
        }
        let depth = level.values().max().map_or(0, |m| m + 1);
        let mut levels = vec![Vec::new(); depth];
        for (id, l) in level {
            levels[l].push(id.clone());
        }
        levels
    }

    /// Creation order: every resource after all it depends on.
    pub fn order(&self) -> Vec<ResourceId> {
        self.levels().into_iter().flatten().collect()
    }

    /// Teardown order: dependents before what they depend on.
    pub fn teardown_order(&self) -> Vec<ResourceId> {
        let mut order = self.order();
        order.reverse();
        order
    }

    /// A cycle as a path that starts and ends at the same resource.
    fn find_cycle(&self) -> Option<Vec<ResourceId>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Visiting,
            Done,
        }
        fn visit<'a>(
            g: &'a Graph,
            id: &'a ResourceId,
            marks: &mut BTreeMap<&'a ResourceId, Mark>,
            path: &mut Vec<&'a ResourceId>,
        ) -> Option<Vec<ResourceId>> {
            match marks.get(id) {
                Some(Mark::Done) => return None,
                Some(Mark::Visiting) => {
                    let start = path.iter().position(|p| *p == id).unwrap_or(0);
                    let mut cycle: Vec<ResourceId> =
                        path[start..].iter().map(|p| (*p).clone()).collect();
                    cycle.push(id.clone());
                    return Some(cycle);
                }
                None => {}
            }
            marks.insert(id, Mark::Visiting);
            path.push(id);
            for dep in g.dependencies(id) {
                if let Some(c) = visit(g, dep, marks, path) {
                    return Some(c);
                }
            }
            path.pop();
            marks.insert(id, Mark::Done);
            None
        }
        let mut marks = BTreeMap::new();
        self.dependencies
            .keys()
            .find_map(|id| visit(self, id, &mut marks, &mut Vec::new()))
    }
}

fn cycle_diagnostic(stack: &Stack, cycle: &[ResourceId]) -> Diagnostic {
    let path: Vec<String> = cycle
        .iter()
        .map(|id| format!("{}.{}", id.kind.table(), id.name))
        .collect();
    // Point at the reference from the first resource to the second.
    let span = stack
        .get(&cycle[0])
        .and_then(|r| {
            r.spec.templates().into_iter().find(|t| {
                t.references()
                    .any(|x| x.kind == cycle[1].kind && x.name == cycle[1].name)
            })
        })
        .map_or(0..0, |t| t.span.clone());
    Diagnostic::new(format!("reference cycle: {}", path.join(" → ")), span).with_help(
        "each resource must be creatable before the ones that refer to it; remove one reference",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Kind;
    use std::path::Path;

    fn stack(src: &str) -> Result<Stack, crate::manifest::ManifestError> {
        crate::manifest::parse(Path::new("stack.toml"), src, &[])
    }

    #[test]
    fn levels_follow_references() {
        let s = stack(
            r#"
[stack]
name = "t"
[queues.dlq]
[queues.main]
dead_letter = { queue = "${queues.dlq.arn}", max_receive_count = 3 }
[buckets.bucket-1]
"#,
        )
        .unwrap();
        let g = Graph::build(&s).unwrap();
        let names = |l: &Vec<ResourceId>| l.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
        let levels = g.levels();
        assert_eq!(levels.len(), 2);
        assert_eq!(names(&levels[0]), ["dlq", "bucket-1"]);
        assert_eq!(names(&levels[1]), ["main"]);
        assert_eq!(
            g.teardown_order().first(),
            Some(&ResourceId::new(Kind::Queue, "main"))
        );
    }

    #[test]
    fn cycles_are_named() {
        let err = stack(
            r#"
[stack]
name = "t"
[queues.a]
dead_letter = { queue = "${queues.b.arn}", max_receive_count = 3 }
[queues.b]
dead_letter = { queue = "${queues.a.arn}", max_receive_count = 3 }
"#,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("reference cycle: queues.a → queues.b → queues.a"),
            "{text}"
        );
        assert!(text.contains("stack.toml:5:"), "{text}");
    }
}
