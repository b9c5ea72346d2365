//! `--output json` keeps its documented shape (issue 9): each command's real output is
//! compared with the example in docs/json-output.md. Every field printed must be documented
//! there, and every top-level field documented must be printed.

use serde_json::Value;

use crate::util::{Lab, dead_endpoint, repo};

/// Objects whose keys are data (operation names, output names), not fields.
const MAPS: &[&str] = &["by_operation", "outputs"];

/// Documents nested in another command's, checked against their own example.
const NESTED: &[(&str, &str)] = &[
    ("reset.down", "down"),
    ("reset.up", "up"),
    ("fleet.targets[].result", "status"),
];

/// The ```json block under the heading that names `command`.
fn documented(command: &str) -> Value {
    let doc = std::fs::read_to_string(repo().join("docs/json-output.md")).expect("the doc");
    let heading = format!("`exstack {command} -o json`");
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with(&heading) || (command == "fleet" && s.starts_with("Several")))
        .unwrap_or_else(|| panic!("docs/json-output.md has no section {heading}"));
    let block = section
        .split("```json\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a json block");
    serde_json::from_str(block)
        .unwrap_or_else(|e| panic!("{heading}: the example is not JSON: {e}"))
}

/// Where `actual` has a field the example lacks (or a different kind of value).
fn undocumented(example: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (example, actual) {
        (_, Value::Null) | (Value::Null, _) => {}
        (Value::Object(e), Value::Object(a)) => {
            if MAPS.iter().any(|m| path.ends_with(m)) {
                return;
            }
            if let Some((_, command)) = NESTED.iter().find(|(p, _)| *p == path) {
                out.extend(problems(command, actual));
                return;
            }
            for (k, v) in a {
                match e.get(k) {
                    Some(ev) => undocumented(ev, v, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let Some(example) = merged(e) {
                for v in a {
                    undocumented(&example, v, &format!("{path}[]"), out);
                }
            }
        }
        (e, a) if std::mem::discriminant(e) == std::mem::discriminant(a) => {}
        (e, a) => out.push(format!("{path}: documented as {e}, printed {a}")),
    }
}

/// An example list's entries as one: each may show fields the others lack (a `hint`).
fn merged(examples: &[Value]) -> Option<Value> {
    let first = examples.first()?.clone();
    let Value::Object(mut all) = first else {
        return Some(first);
    };
    for e in examples.iter().skip(1).filter_map(Value::as_object) {
        for (k, v) in e {
            all.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Some(Value::Object(all))
}

/// Fields printed but not documented, and top-level fields documented but not printed.
fn problems(command: &str, actual: &Value) -> Vec<String> {
    let example = documented(command);
    let mut out = Vec::new();
    undocumented(&example, actual, command, &mut out);
    if let (Value::Object(e), Value::Object(a)) = (&example, actual)
        && command != "outputs"
    {
        for k in e.keys().filter(|k| !a.contains_key(*k)) {
            out.push(format!("{command}.{k} is documented but not printed"));
        }
    }
    out
}

#[track_caller]
pub(crate) fn matches_doc(command: &str, stdout: &str) {
    let actual: Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("{command} -o json is not JSON ({e}):\n{stdout}"));
    let problems = problems(command, &actual);
    assert!(problems.is_empty(), "{command}: {problems:#?}\n{stdout}");
}

#[test]
fn every_command_prints_its_documented_shape() {
    let lab = Lab::new("jsonshape");
    matches_doc(
        "validate",
        &lab.exstack(&["validate", "-o", "json"]).ok().stdout,
    );
    matches_doc("plan", &lab.exstack(&["plan", "-o", "json"]).ok().stdout);
    // Nothing is up yet: status differs (exit 3) and still prints its document.
    let status = lab.exstack(&["status", "-o", "json"]);
    assert_eq!(status.code, 3, "{}", status.stderr);
    matches_doc("status", &status.stdout);
    matches_doc("up", &lab.exstack(&["up", "-o", "json"]).ok().stdout);
    matches_doc(
        "outputs",
        &lab.exstack(&["outputs", "-o", "json"]).ok().stdout,
    );
    matches_doc("reset", &lab.exstack(&["reset", "-o", "json"]).ok().stdout);
    matches_doc("down", &lab.exstack(&["down", "-o", "json"]).ok().stdout);
    let fleet = lab.exstack(&[
        "status",
        "-o",
        "json",
        "--endpoint-url",
        &lab.endpoint,
        "--endpoint-url",
        &dead_endpoint(),
    ]);
    matches_doc("fleet", &fleet.stdout);
    // A command that cannot run still prints one document.
    let dead = lab.exstack(&["status", "-o", "json", "--endpoint-url", &dead_endpoint()]);
    assert_eq!(dead.code, 1);
    matches_doc("<any command>", &dead.stdout);
}

/// The checker itself: an undocumented field is caught.
#[test]
fn an_undocumented_field_is_caught() {
    let example: Value =
        serde_json::json!({"ok": true, "steps": [{"name": "x", "ok": true}, {"hint": "h"}]});
    let actual: Value = serde_json::json!({"ok": true, "steps": [{"name": "x", "ok": true, "new": 1, "hint": "h"}], "extra": 2});
    let mut problems = Vec::new();
    undocumented(&example, &actual, "verify", &mut problems);
    // serde_json's maps are sorted, so `extra` comes first.
    assert_eq!(problems, vec!["verify.extra", "verify.steps[].new"]);
}
