//! Parsing real stacks with every kind: fuzzing, size bounds and overrides. Here rather than
//! in `manifest` because the manifest knows no kinds of its own.

use std::path::Path;

use crate::manifest::{ManifestError, Stack};

fn parse(path: &Path, text: &str, vars: &[(String, String)]) -> Result<Stack, ManifestError> {
    crate::manifest::parse(path, text, vars, &super::declarations())
}
use proptest::prelude::*;

const REPO_STACK: &str = include_str!("../../stack.toml");

proptest! {
    // 2000 cases in CI; PROPTEST_CASES=<n> for a longer run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000),
        ..ProptestConfig::default()
    })]

    /// Arbitrary bytes: an error or a stack, never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = parse(Path::new("stack.toml"), &text, &[]);
    }

    /// The real stack with a span of it replaced by junk: errors must still render.
    #[test]
    fn mutated_stack_never_panics(at in 0usize..REPO_STACK.len(), len in 0usize..40, junk in "[\\[\\]{}$=\"'a-z0-9.\\n -]{0,20}") {
        let mut text = REPO_STACK.to_owned();
        let start = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let end = (start + len..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.replace_range(start..end, &junk);
        if let Err(e) = parse(Path::new("stack.toml"), &text, &[]) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!(
        "[stack]\nname = \"t\"\n[variables]\nx = {}1{}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    assert!(parse(Path::new("stack.toml"), &deep, &[]).is_err());
}

/// A large file (a megabyte of comments, two thousand resources) is handled in time.
#[test]
fn huge_files_are_bounded() {
    let mut text = String::from("[stack]\nname = \"t\"\n");
    text.push_str(
        &"# padding padding padding padding padding padding padding padding\n".repeat(16_000),
    );
    for i in 0..2000 {
        text.push_str(&format!(
            "[queues.q{i}]\nvisibility_timeout = {}\n",
            i % 100
        ));
    }
    let start = std::time::Instant::now();
    let stack = parse(Path::new("stack.toml"), &text, &[]).unwrap();
    assert_eq!(stack.resources.len(), 2000);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn repo_stack_parses_with_overrides() {
    let vars = [("visibility_timeout".to_owned(), "2".to_owned())];
    let stack = parse(Path::new("stack.toml"), REPO_STACK, &vars).unwrap();
    let queue = stack
        .resources
        .iter()
        .find(|r| r.id().name == "task-queue")
        .unwrap();
    assert_eq!(
        queue.setting("visibility_timeout"),
        Some(crate::manifest::Setting::Int(2))
    );
    let bad = [("visibility_timeout".to_owned(), "soon".to_owned())];
    assert!(
        parse(Path::new("stack.toml"), REPO_STACK, &bad)
            .unwrap_err()
            .to_string()
            .contains("is a number")
    );
}
