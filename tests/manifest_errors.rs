//! What a person sees for each class of bad stack.toml: file, line, column, a caret, and
//! the closest valid name. Snapshots keep the wording honest; nothing reaches AWS.

use crate::util::exstack_in;

fn validate(stack: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stack.toml"), stack).unwrap();
    // An endpoint where nothing listens: validation errors must come before any connection.
    let run = exstack_in(dir.path(), "http://127.0.0.1:9", &["up"]);
    assert_eq!(run.code, 1, "invalid stack accepted:\n{stack}");
    assert!(
        !run.stderr.contains("nothing answers"),
        "tried to connect first:\n{}",
        run.stderr
    );
    run.stderr
}

const HEAD: &str = "[stack]\nname = \"t\"\n";

#[test]
fn repo_stack_is_valid() {
    let run = exstack_in(&crate::util::repo(), "http://127.0.0.1:9", &["validate"]).ok();
    assert!(
        run.stdout.contains("11 resources in 6 levels"),
        "{}",
        run.stdout
    );
}

#[test]
fn unknown_key_suggests_the_closest() {
    insta::assert_snapshot!(validate(&format!(
        "{HEAD}[queues.q]\nvisiblity_timeout = 5\n"
    )));
}

#[test]
fn wrong_type() {
    insta::assert_snapshot!(validate(&format!(
        "{HEAD}[queues.q]\nvisibility_timeout = true\n"
    )));
}

#[test]
fn dangling_reference_suggests_the_closest() {
    insta::assert_snapshot!(validate(&format!(
        "{HEAD}[queues.task-dlq]\n[queues.q]\ndead_letter = {{ queue = \"${{queues.task-dql.arn}}\", max_receive_count = 3 }}\n"
    )));
}

#[test]
fn unknown_attribute_and_kind() {
    insta::assert_snapshot!(validate(&format!(
        "{HEAD}[queues.d]\n[queues.q]\ndead_letter = {{ queue = \"${{queue.d.arn}}\", max_receive_count = 3 }}\n[queues.r]\ndead_letter = {{ queue = \"${{queues.d.ARN}}\", max_receive_count = 3 }}\n"
    )));
}

#[test]
fn duplicate_names() {
    insta::assert_snapshot!(validate(&format!(
        "{HEAD}[queues.q]\n[buckets.bucket-one]\n[queues.q]\n"
    )));
}

#[test]
fn reference_cycle() {
    insta::assert_snapshot!(validate(&format!(
        "{HEAD}[queues.a]\ndead_letter = {{ queue = \"${{queues.b.arn}}\", max_receive_count = 3 }}\n[queues.b]\ndead_letter = {{ queue = \"${{queues.a.arn}}\", max_receive_count = 3 }}\n"
    )));
}

#[test]
fn impossible_values() {
    let stack = format!(
        "{HEAD}[queues.q]\n[roles.r]\ntrusted_services = [\"lambda.amazonaws.com\"]\n\
[functions.f]\ncode = \".\"\nhandler = \"m.handler\"\nruntime = \"python3.99\"\nrole = \"${{roles.r.arn}}\"\ntimeout = -5\n\
[event_source_mappings.m]\nsource = \"${{queues.q.arn}}\"\nfunction = \"${{functions.f.name}}\"\nbatch_size = 0\n"
    );
    insta::assert_snapshot!(validate(&stack));
}

#[test]
fn unknown_variable_and_bad_override() {
    insta::assert_snapshot!(validate(&format!(
        "{HEAD}[variables]\ntimeout = 60\n[queues.q]\nvisibility_timeout = \"${{var.timout}}\"\n"
    )));
}

#[test]
fn not_toml_at_all() {
    insta::assert_snapshot!(validate("this is = = not toml"));
}

/// A bucket's own `name`: checked as S3 checks names (with the account's 12 digits in place),
/// and only text, variables and account facts, never another resource.
#[test]
fn bad_bucket_names() {
    insta::assert_snapshot!(validate(&format!(
        "{HEAD}[queues.q]\n[buckets.a]\nname = \"Results-${{aws.account_id}}\"\n[buckets.b]\nname = \"r-${{queues.q.name}}\"\n[buckets.c]\nname = \"results-${{aws.account_id}}\"\n"
    )));
}
