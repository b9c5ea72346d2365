//! The dependency graph: edges from `${...}` references. Deterministic order (kind, then name),
//! levels of mutually independent resources, and the reverse for teardown.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::ResourceId;

#[derive(Debug, Clone)]
pub struct Graph {
    /// Each resource and the resources it depends on.
    dependencies: BTreeMap<ResourceId, BTreeSet<ResourceId>>,
}

impl Graph {
    /// The graph of `dependencies` (each resource and what it refers to); a cycle is returned
    /// as a path that starts and ends at the same resource.
    pub fn new(
        dependencies: BTreeMap<ResourceId, BTreeSet<ResourceId>>,
    ) -> Result<Graph, Vec<ResourceId>> {
        let graph = Graph { dependencies };
        match graph.find_cycle() {
            Some(cycle) => Err(cycle),
            None => Ok(graph),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    const QUEUE: Kind = Kind::new(0, "queues", "queue");
    const BUCKET: Kind = Kind::new(1, "buckets", "bucket");

    fn id(kind: Kind, name: &str) -> ResourceId {
        ResourceId::new(kind, name)
    }

    fn graph(edges: Vec<(ResourceId, Vec<ResourceId>)>) -> Result<Graph, Vec<ResourceId>> {
        Graph::new(
            edges
                .into_iter()
                .map(|(from, to)| (from, to.into_iter().collect()))
                .collect(),
        )
    }

    #[test]
    fn levels_follow_references() {
        let (dlq, main, bucket) = (id(QUEUE, "dlq"), id(QUEUE, "main"), id(BUCKET, "bucket-1"));
        let g = graph(vec![
            (dlq.clone(), vec![]),
            (main.clone(), vec![dlq.clone()]),
            (bucket.clone(), vec![]),
        ])
        .unwrap();
        let levels = g.levels();
        assert_eq!(levels, vec![vec![dlq.clone(), bucket], vec![main.clone()]]);
        assert_eq!(g.teardown_order().first(), Some(&main));
        assert_eq!(g.dependents(&dlq).collect::<Vec<_>>(), vec![&main]);
    }

    #[test]
    fn cycles_are_named() {
        let (a, b) = (id(QUEUE, "a"), id(QUEUE, "b"));
        let cycle = graph(vec![
            (a.clone(), vec![b.clone()]),
            (b.clone(), vec![a.clone()]),
        ])
        .unwrap_err();
        assert_eq!(cycle, vec![a.clone(), b, a]);
    }
}
