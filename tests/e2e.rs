//! The exercise end to end: `verify` passes on a fresh `up`, fails naming the criterion
//! when the stack is broken out of band, and passes again after one `up`.

use crate::util::Lab;

const FAST: [&str; 4] = [
    "--var",
    "visibility_timeout=2",
    "--var",
    "batching_window=0",
];

fn with_fast<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.iter().copied().chain(FAST).collect()
}

#[tokio::test]
async fn verify_passes_fails_when_broken_and_passes_after_repair() {
    if crate::util::skip_without_function_execution(
        "verify_passes_fails_when_broken_and_passes_after_repair",
    ) {
        return;
    }
    let lab = Lab::new("e2e");
    lab.exstack(&with_fast(&["up"])).ok();
    let run = lab
        .exstack(&with_fast(&["verify", "-o", "json", "--timeout", "45"]))
        .ok();
    crate::json_output::matches_doc("verify", &run.stdout);
    let verify = run.json();
    let checks = verify["checks"].as_array().unwrap();
    // A configuration check per resource, `ready`, and the stack's six declared checks.
    assert_eq!(checks.len(), 11 + 1 + 6, "{verify}");
    assert!(checks.iter().all(|s| s["ok"] == true), "{verify}");
    assert!(checks.iter().any(|s| s["name"] == "dead-letter"));

    // Nothing of verify's own is left behind.
    let c = lab.clients().await;
    let left =
        c.s3.list_objects_v2()
            .bucket(lab.name("task-results"))
            .send()
            .await
            .unwrap();
    assert_eq!(
        left.key_count(),
        Some(0),
        "verify left results behind: {left:?}"
    );

    // Break it: delete the event source mapping.
    crate::util::delete_mappings(&c, &lab.name("task-processor")).await;
    let broken = lab.exstack(&with_fast(&["verify", "--skip-dlq", "--timeout", "5"]));
    assert_eq!(broken.code, 3, "{}{}", broken.stdout, broken.stderr);
    assert!(
        broken.stdout.contains(&format!(
            "✗ event source mapping {} as stack.toml declares it",
            lab.name("task-queue-to-processor")
        )),
        "{}",
        broken.stdout
    );

    lab.exstack(&with_fast(&["up"])).ok();
    lab.exstack(&with_fast(&["verify", "--skip-dlq", "--timeout", "45"]))
        .ok();
    lab.exstack(&["down"]).ok();
}

#[test]
fn verify_on_an_empty_account_says_run_up_first() {
    let lab = Lab::new("e2eempty");
    let run = lab.exstack(&["verify"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("run `exstack up` first"),
        "{}",
        run.stderr
    );
}
