//! `exstack graph`: the resources as nodes (grouped and shaped by kind) and their references as
//! edges, in Mermaid or Graphviz DOT; with `--status`, coloured by live state. The output depends
//! only on stack.toml (and the live states), so it can be committed and checked for staleness.

use std::collections::BTreeMap;
use std::fmt::Write;

use anyhow::Result;

use super::report::Plain;
use crate::aws::Ctx;
use crate::cli::{GraphArgs, GraphFormat};
use crate::graph::Graph;
use crate::manifest::Stack;
use crate::model::{Kind, ResourceId};
use crate::plan::State;
use crate::resources;

/// Each resource's live state; absent when the graph is drawn without `--status`.
type States = BTreeMap<ResourceId, State>;

/// `ctx` is given only with `--status`: without it the graph needs no AWS.
pub async fn run(stack: &Stack, args: GraphArgs, ctx: Option<&Ctx>) -> Result<Plain> {
    let states = match ctx {
        Some(ctx) => Some(live_states(ctx, stack).await?),
        None => None,
    };
    let drawing = Drawing::new(stack, &stack.graph, states.as_ref());
    Ok(Plain::new(match args.format {
        GraphFormat::Mermaid => drawing.mermaid(),
        GraphFormat::Dot => drawing.dot(),
    }))
}

async fn live_states(ctx: &Ctx, stack: &Stack) -> Result<States> {
    let changes = super::status::live_changes(ctx, stack, false).await?;
    Ok(changes
        .into_iter()
        .map(|c| (c.id, State::of(c.action)))
        .collect())
}

const REFERENCE_NOTE: &str = "an arrow points from a resource to one it refers to";

/// What both formats draw: resources grouped by kind, in (kind, name) order, and references.
struct Drawing<'a> {
    stack_name: &'a str,
    groups: Vec<(Kind, Vec<&'a ResourceId>)>,
    graph: &'a Graph,
    states: Option<&'a States>,
}

impl<'a> Drawing<'a> {
    fn new(stack: &'a Stack, graph: &'a Graph, states: Option<&'a States>) -> Self {
        let groups = resources::KINDS
            .iter()
            .map(|k| {
                let kind = k.kind();
                let mut ids: Vec<&ResourceId> = stack
                    .resources
                    .iter()
                    .map(|r| r.id())
                    .filter(|id| id.kind == kind)
                    .collect();
                ids.sort();
                (kind, ids)
            })
            .filter(|(_, ids)| !ids.is_empty())
            .collect();
        Drawing {
            stack_name: &stack.name,
            groups,
            graph,
            states,
        }
    }

    fn ids(&self) -> impl Iterator<Item = &'a ResourceId> + '_ {
        self.groups.iter().flat_map(|(_, ids)| ids.iter().copied())
    }

    /// (from, to) for every reference, in node order.
    fn edges(&self) -> Vec<(&'a ResourceId, &'a ResourceId)> {
        self.ids()
            .flat_map(|from| self.graph.dependencies(from).map(move |to| (from, to)))
            .collect()
    }

    fn state(&self, id: &ResourceId) -> Option<State> {
        self.states.and_then(|s| s.get(id).copied())
    }

    fn mermaid(&self) -> String {
        // Positional ids: resource names may hold `.` or `-`, which Mermaid ids cannot.
        let node_ids: BTreeMap<&ResourceId, String> = self
            .ids()
            .enumerate()
            .map(|(i, id)| (id, format!("n{i}")))
            .collect();
        let mut out = String::from("flowchart LR\n");
        let _ = writeln!(out, "    %% {REFERENCE_NOTE}");
        for (kind, ids) in &self.groups {
            let _ = writeln!(out, "    subgraph {}", kind.table());
            for id in ids {
                let (open, close) = resources::kind(id.kind).shape().mermaid;
                let class = self
                    .state(id)
                    .map_or(String::new(), |s| format!(":::{}", class_name(s)));
                let label = id.name.replace('"', "#quot;");
                let _ = writeln!(
                    out,
                    "        {}{open}\"{label}\"{close}{class}",
                    node_ids[id]
                );
            }
            let _ = writeln!(out, "    end");
        }
        for (from, to) in self.edges() {
            let _ = writeln!(out, "    {} --> {}", node_ids[from], node_ids[to]);
        }
        if self.states.is_some() {
            let _ = writeln!(out, "    subgraph legend");
            for state in State::ALL {
                let class = class_name(state);
                let _ = writeln!(out, "        {class}[\"{}\"]:::{class}", state.label());
            }
            let _ = writeln!(out, "    end");
            for state in State::ALL {
                let (fill, stroke) = colours(state);
                let _ = writeln!(
                    out,
                    "    classDef {} fill:{fill},stroke:{stroke},color:#000",
                    class_name(state)
                );
            }
        }
        out
    }

    fn dot(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "digraph {} {{", dot_quote(self.stack_name));
        let _ = writeln!(out, "    rankdir=LR;");
        let _ = writeln!(out, "    fontname=\"Helvetica\";");
        let _ = writeln!(out, "    node [fontname=\"Helvetica\"];");
        let _ = writeln!(out, "    // {REFERENCE_NOTE}");
        for (kind, ids) in &self.groups {
            let _ = writeln!(
                out,
                "    subgraph {} {{",
                dot_quote(&format!("cluster_{}", kind.table()))
            );
            let _ = writeln!(out, "        label={};", dot_quote(kind.table()));
            for id in ids {
                let _ = writeln!(
                    out,
                    "        {} [label={}, shape={}{}];",
                    dot_quote(&dot_id(id)),
                    dot_quote(&id.name),
                    resources::kind(id.kind).shape().dot,
                    self.state(id).map_or(String::new(), dot_fill)
                );
            }
            let _ = writeln!(out, "    }}");
        }
        for (from, to) in self.edges() {
            let _ = writeln!(
                out,
                "    {} -> {};",
                dot_quote(&dot_id(from)),
                dot_quote(&dot_id(to))
            );
        }
        if self.states.is_some() {
            let _ = writeln!(out, "    subgraph \"cluster_legend\" {{");
            let _ = writeln!(out, "        label=\"legend\";");
            for state in State::ALL {
                let _ = writeln!(
                    out,
                    "        {} [label={}, shape=box{}];",
                    dot_quote(&format!("legend.{}", class_name(state))),
                    dot_quote(state.label()),
                    dot_fill(state)
                );
            }
            let _ = writeln!(out, "    }}");
        }
        out.push_str("}\n");
        out
    }
}

/// (fill, stroke): green in sync, amber drifted, red missing, grey not owned.
fn colours(state: State) -> (&'static str, &'static str) {
    match state {
        State::InSync => ("#d4edda", "#2e7d32"),
        State::Drifted => ("#fff3cd", "#b8860b"),
        State::Missing => ("#f8d7da", "#c62828"),
        State::NotOwned => ("#e2e3e5", "#616161"),
    }
}

fn class_name(state: State) -> String {
    state.label().replace(' ', "_")
}

fn dot_fill(state: State) -> String {
    let (fill, stroke) = colours(state);
    format!(", style=filled, fillcolor=\"{fill}\", color=\"{stroke}\"")
}

/// `queues.task-dlq`, as references name a resource.
fn dot_id(id: &ResourceId) -> String {
    id.address()
}

fn dot_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const STACK: &str = r#"
[stack]
name = "t"
[queues.dlq]
[queues.main]
dead_letter = { queue = "${queues.dlq.arn}", max_receive_count = 3 }
[buckets.results]
"#;

    fn draw(states: Option<&States>, format: GraphFormat) -> String {
        let kinds = resources::declarations();
        let stack = crate::manifest::parse(Path::new("stack.toml"), STACK, &[], &kinds).unwrap();
        let drawing = Drawing::new(&stack, &stack.graph, states);
        match format {
            GraphFormat::Mermaid => drawing.mermaid(),
            GraphFormat::Dot => drawing.dot(),
        }
    }

    fn states() -> States {
        let kinds = resources::declarations();
        let stack = crate::manifest::parse(Path::new("stack.toml"), STACK, &[], &kinds).unwrap();
        let id = |name: &str| {
            let r = stack.resources.iter().find(|r| r.id().name == name);
            r.map(|r| r.id().clone()).unwrap()
        };
        BTreeMap::from([
            (id("dlq"), State::InSync),
            (id("main"), State::Drifted),
            (id("results"), State::Missing),
        ])
    }

    #[test]
    fn mermaid_groups_by_kind_and_draws_references() {
        assert_eq!(
            draw(None, GraphFormat::Mermaid),
            "flowchart LR
    %% an arrow points from a resource to one it refers to
    subgraph queues
        n0[[\"dlq\"]]
        n1[[\"main\"]]
    end
    subgraph buckets
        n2[(\"results\")]
    end
    n1 --> n0
"
        );
    }

    #[test]
    fn status_colours_each_node_and_adds_a_legend() {
        let states = states();
        let mermaid = draw(Some(&states), GraphFormat::Mermaid);
        assert!(mermaid.contains("n0[[\"dlq\"]]:::in_sync"), "{mermaid}");
        assert!(mermaid.contains("n1[[\"main\"]]:::drifted"), "{mermaid}");
        assert!(mermaid.contains("n2[(\"results\")]:::missing"), "{mermaid}");
        assert!(
            mermaid.contains("not_owned[\"not owned\"]:::not_owned"),
            "{mermaid}"
        );
        assert!(
            mermaid.contains("classDef missing fill:#f8d7da"),
            "{mermaid}"
        );

        let dot = draw(Some(&states), GraphFormat::Dot);
        assert!(
            dot.contains("\"buckets.results\" [label=\"results\", shape=cylinder, style=filled, fillcolor=\"#f8d7da\""),
            "{dot}"
        );
        assert!(
            dot.contains("\"legend.not_owned\" [label=\"not owned\""),
            "{dot}"
        );
    }

    #[test]
    fn without_status_there_is_no_colour_or_legend() {
        for format in [GraphFormat::Mermaid, GraphFormat::Dot] {
            let text = draw(None, format);
            assert!(!text.contains("legend") && !text.contains("fill"), "{text}");
        }
    }
}
