//! Guards for docs/architecture.md, read from the code itself: the top-level modules form
//! layers with no cycle between them, and no file outside `src/resources/` names a kind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, with its text up to its test module (tests may reach anywhere).
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let test_only = test_only_modules(&d);
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !test_only.contains(&stem) {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, without_tests(&text)));
            }
        }
    }
    out.sort();
    out
}

/// Modules declared `#[cfg(test)] mod name;` in the `mod.rs` of `dir`.
fn test_only_modules(dir: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(dir.join("mod.rs")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0].trim() == "#[cfg(test)]")
        .filter_map(|w| w[1].trim().strip_prefix("mod ")?.strip_suffix(';'))
        .map(str::to_owned)
        .collect()
}

/// The text without its `#[cfg(test)] mod ... { ... }` blocks and comment lines.
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut previous = "";
    // The closing line of the test module being skipped, e.g. `}` or `    }`.
    let mut skipping_to: Option<String> = None;
    for line in text.lines() {
        if let Some(end) = &skipping_to {
            if line == end {
                skipping_to = None;
            }
            continue;
        }
        let trimmed = line.trim();
        if previous == "#[cfg(test)]" && trimmed.starts_with("mod ") && trimmed.ends_with('{') {
            let indent = &line[..line.len() - line.trim_start().len()];
            skipping_to = Some(format!("{indent}}}"));
            continue;
        }
        previous = trimmed;
        if !trimmed.starts_with("//") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `src/engine/mod.rs` → `engine`, `src/main.rs` → `main`.
fn top_module(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// The top-level modules each module refers to as `crate::<module>`.
fn module_edges(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, text) in sources(src) {
        let from = top_module(src, &file);
        let refs = edges.entry(from.clone()).or_default();
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            let to: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !to.is_empty() && to != from {
                refs.insert(to);
            }
        }
    }
    edges
}

/// A cycle among `edges`, as a path that starts and ends at one module.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn top_level_modules_have_no_cycle() {
    let edges = module_edges(&src());
    assert!(edges.len() > 5, "found too few modules: {edges:?}");
    if let Some(cycle) = find_cycle(&edges) {
        panic!(
            "the top-level modules import each other in a cycle: {}\n(see docs/architecture.md for which layer may use which)",
            cycle.join(" -> ")
        );
    }
}

/// The names a kind's file declares for others: its module, its types and constants.
fn kind_names(file: &Path, text: &str) -> Vec<String> {
    let module = file.file_stem().unwrap().to_string_lossy().into_owned();
    let mut names = vec![format!("resources::{module}")];
    for line in text.lines() {
        let line = line.trim_start();
        for prefix in [
            "pub struct ",
            "pub enum ",
            "pub const ",
            "pub fn ",
            "pub type ",
        ] {
            if let Some(rest) = line.strip_prefix(prefix) {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                // `KIND` is every kind's constant: only `<module>::KIND` names one.
                if name != "KIND" {
                    names.push(name);
                }
            }
        }
    }
    names.push(format!("{module}::KIND"));
    names
}

fn names_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let boundary = |c: Option<char>| !c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        boundary(before) && boundary(after)
    })
}

#[test]
fn no_file_outside_resources_names_a_kind() {
    let src = src();
    let kinds: Vec<(PathBuf, String)> = sources(&src.join("resources"))
        .into_iter()
        .filter(|(_, text)| text.contains("impl Declare for"))
        .collect();
    assert!(kinds.len() >= 7, "found {} kinds", kinds.len());
    let names: Vec<(String, String)> = kinds
        .iter()
        .flat_map(|(file, text)| {
            let kind = file.file_stem().unwrap().to_string_lossy().into_owned();
            kind_names(file, text)
                .into_iter()
                .map(move |n| (kind.clone(), n))
        })
        .collect();
    let mut problems = Vec::new();
    for (file, text) in sources(&src) {
        if file.starts_with(src.join("resources")) {
            continue;
        }
        for (kind, name) in &names {
            if names_word(&text, name) {
                let rel = file.strip_prefix(&src).unwrap().display();
                problems.push(format!("src/{rel} names `{name}` of the {kind} kind"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "only src/resources/<kind>.rs may know a kind (ask the registry instead):\n{}",
        problems.join("\n")
    );
}
