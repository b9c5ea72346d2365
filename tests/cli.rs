//! The commands that need neither AWS nor a running lab — schema, completions, man, init,
//! graph — and the help every command prints. Each also guards a committed artifact
//! (stack.schema.json, README's graph) against going stale.

use std::path::Path;

use crate::util::{Lab, Run, command_in, exstack_in, repo, run};

/// Nothing listens here: these commands must not try to reach AWS.
const NO_AWS: &str = "http://127.0.0.1:9";

fn exstack(dir: &Path, args: &[&str]) -> Run {
    exstack_in(dir, NO_AWS, args)
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// --- schema ------------------------------------------------------------------------------

fn schema() -> serde_json::Value {
    serde_json::from_str(&read(repo().join("stack.schema.json")))
        .expect("stack.schema.json is JSON")
}

/// The schema's verdict on a stack.toml text: Ok, or every violation, one per line.
fn check_against_schema(stack: &str) -> Result<(), String> {
    let instance: serde_json::Value = toml::from_str(stack).expect("valid TOML");
    let validator = jsonschema::validator_for(&schema()).expect("a valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

#[test]
fn committed_schema_is_what_exstack_schema_prints() {
    let printed = exstack(&repo(), &["schema"]).ok().stdout;
    assert!(
        printed == read(repo().join("stack.schema.json")),
        "stack.schema.json is stale: run `cargo run -- schema > stack.schema.json`"
    );
}

#[test]
fn repo_stack_points_at_the_schema_and_matches_it() {
    let stack = read(repo().join("stack.toml"));
    assert_eq!(stack.lines().next(), Some("#:schema ./stack.schema.json"));
    check_against_schema(&stack).unwrap();
    // The directive is a comment to exstack.
    exstack(&repo(), &["validate"]).ok();
}

#[test]
fn schema_rejects_wrong_types_and_unknown_keys_as_exstack_does() {
    for (stack, wrong) in [
        (
            "[stack]\nname = \"t\"\n[queues.q]\nvisibility_timeout = true\n",
            "/queues/q/visibility_timeout",
        ),
        (
            "[stack]\nname = \"t\"\n[roles.r]\ntrusted_services = \"lambda.amazonaws.com\"\n",
            "/roles/r/trusted_services",
        ),
        (
            "[stack]\nname = \"t\"\n[queues.q]\nvisiblity_timeout = 5\n",
            "/queues/q",
        ),
        ("[queues.q]\n", ""),
    ] {
        let errors = check_against_schema(stack).expect_err(stack);
        assert!(
            errors.lines().any(|l| l.starts_with(&format!("{wrong}:"))),
            "expected an error at `{wrong}` for\n{stack}\ngot\n{errors}"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("stack.toml"), stack).unwrap();
        assert_eq!(exstack(dir.path(), &["validate"]).code, 1, "{stack}");
    }
}

// --- completions, man, version -------------------------------------------------------------

const COMMANDS: &[&str] = &[
    "validate",
    "plan",
    "up",
    "down",
    "status",
    "outputs",
    "logs",
    "verify",
    "grade",
    "reset",
    "graph",
    "init",
    "schema",
    "completions",
    "man",
];

#[test]
fn bash_completions_know_every_command() {
    let script = exstack(&repo(), &["completions", "bash"]).ok().stdout;
    // The words offered after `exstack `: the first `opts=` list that has `--version`.
    let top_level: Vec<&str> = script
        .lines()
        .find(|l| l.trim_start().starts_with("opts=") && l.contains("--version"))
        .expect("a top-level word list")
        .split(['"', ' '])
        .collect();
    for command in COMMANDS {
        assert!(top_level.contains(command), "no completion for `{command}`");
    }
    for shell in ["zsh", "fish"] {
        let script = exstack(&repo(), &["completions", shell]).ok().stdout;
        assert!(script.contains("verify"), "{shell}:\n{script}");
    }
}

#[test]
fn man_page_is_roff_with_every_command() {
    let page = exstack(&repo(), &["man"]).ok().stdout;
    assert!(page.contains(".TH exstack 1"), "{page}");
    for command in COMMANDS {
        assert!(
            page.contains(command),
            "`{command}` missing from the man page"
        );
    }
}

#[test]
fn version_is_the_crate_version() {
    let run = exstack(&repo(), &["--version"]).ok();
    assert_eq!(
        run.stdout,
        format!("exstack {}\n", env!("CARGO_PKG_VERSION"))
    );
}

// --- init ----------------------------------------------------------------------------------

const LAB_FILES: &[&str] = &[
    "stack.toml",
    "stack.schema.json",
    "functions/task_processor.py",
    "functions/api_enqueue.py",
];

#[test]
fn init_makes_a_lab_that_validates() {
    let dir = tempfile::tempdir().unwrap();
    let run = exstack(dir.path(), &["init", "my-lab"]).ok();
    let lab = dir.path().join("my-lab");
    for file in LAB_FILES {
        assert!(
            run.stderr.contains(file),
            "not reported: {file}\n{}",
            run.stderr
        );
        assert_eq!(
            read(lab.join(file)),
            read(repo().join(file)),
            "{file} differs from the repo's"
        );
    }
    assert!(
        run.stderr.contains("cd my-lab && exstack up"),
        "{}",
        run.stderr
    );
    exstack(&lab, &["validate"]).ok();
}

#[test]
fn init_defaults_to_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = exstack(dir.path(), &["init"]).ok();
    assert!(run.stderr.contains("Next exstack up"), "{}", run.stderr);
    exstack(dir.path(), &["validate"]).ok();
}

#[test]
fn init_never_overwrites_and_writes_nothing_when_it_refuses() {
    let dir = tempfile::tempdir().unwrap();
    exstack(dir.path(), &["init"]).ok();
    std::fs::write(dir.path().join("stack.toml"), "# mine\n").unwrap();
    std::fs::remove_file(dir.path().join("functions/api_enqueue.py")).unwrap();

    let run = exstack(dir.path(), &["init"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    for file in ["stack.toml", "stack.schema.json", "task_processor.py"] {
        assert!(
            run.stderr.contains(file),
            "not named: {file}\n{}",
            run.stderr
        );
    }
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    assert_eq!(read(dir.path().join("stack.toml")), "# mine\n");
    assert!(
        !dir.path().join("functions/api_enqueue.py").exists(),
        "init wrote a file although it refused"
    );
}

// --- graph ---------------------------------------------------------------------------------

/// The first ```mermaid block of the README.
fn readme_mermaid() -> String {
    let readme = read(repo().join("README.md"));
    let start = readme
        .find("```mermaid\n")
        .expect("README has a mermaid block")
        + 11;
    let len = readme[start..].find("```").expect("the block ends");
    readme[start..start + len].to_owned()
}

#[test]
fn readme_graph_is_what_exstack_graph_prints() {
    let printed = exstack(&repo(), &["graph"]).ok().stdout;
    assert!(
        printed == readme_mermaid(),
        "README's graph is stale; replace its ```mermaid block with `exstack graph`:\n{printed}"
    );
}

#[test]
fn graph_as_dot() {
    insta::assert_snapshot!(exstack(&repo(), &["graph", "--format", "dot"]).ok().stdout);
}

/// Needs LocalStack: the colours come from the live stack.
#[test]
fn graph_status_colours_resources_by_live_state() {
    let lab = Lab::new("graphstatus");
    // Every resource, and the legend's key for the state.
    let before = lab.exstack(&["graph", "--status"]).ok().stdout;
    assert_eq!(before.matches(":::missing").count(), 11 + 1, "{before}");
    lab.exstack(&["up"]).ok();
    let after = lab
        .exstack(&["graph", "--status", "--format", "dot"])
        .ok()
        .stdout;
    let in_sync = after.matches("fillcolor=\"#d4edda\"").count();
    assert_eq!(in_sync, 11 + 1, "{after}");
}

// --- help ----------------------------------------------------------------------------------

/// `--help` without the environment's values, which clap shows next to each flag.
fn help(args: &[&str]) -> String {
    let mut cmd = command_in(&repo(), NO_AWS, args);
    cmd.env_remove("AWS_ENDPOINT_URL")
        .env_remove("EXSTACK_FILE");
    run(cmd).ok().stdout
}

#[test]
fn every_help_has_examples() {
    let top = help(&["--help"]);
    insta::assert_snapshot!("help", top);
    // The commands as `--help` lists them, so a new one cannot be left out.
    let commands: Vec<&str> = top
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands section")
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert_eq!(commands, COMMANDS);
    for command in commands {
        let text = help(&[command, "--help"]);
        assert!(
            text.contains("\nExamples:\n  exstack"),
            "{command}:\n{text}"
        );
        insta::assert_snapshot!(format!("help_{command}"), text);
    }
}
