//! One emulator, one lab per account: `--accounts` makes each account its own lab machine,
//! and nothing of one account's lab is visible from another.

use crate::util::{Lab, Target, skip_without_function_execution, target};

/// Two accounts of this test run alone: 12 digits from the process id and a counter-free
/// clock, so parallel and earlier runs never share one.
fn two_accounts() -> (String, String) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let base = 200_000_000_000u64
        + u64::from(std::process::id() % 100_000) * 10_000_000
        + u64::from(nanos % 5_000_000) * 2;
    (format!("{base:012}"), format!("{:012}", base + 1))
}

/// What one machine's `status -o json` plans for each resource: `no_op` when in sync.
fn actions(status: &serde_json::Value) -> Vec<String> {
    let resources = status["resources"].as_array().cloned().unwrap_or_default();
    resources
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect()
}

/// How many resources each machine of a fleet's `status -o json` has in sync, by name.
fn in_sync(run: &crate::util::Run) -> Vec<(String, usize)> {
    let doc = run.json();
    doc["targets"]
        .as_array()
        .unwrap_or_else(|| panic!("not a fleet's document: {}", run.stdout))
        .iter()
        .map(|t| {
            let synced = actions(&t["result"])
                .iter()
                .filter(|a| *a == "no_op")
                .count();
            (t["name"].as_str().unwrap().to_owned(), synced)
        })
        .collect()
}

#[test]
fn each_account_holds_its_own_lab_and_sees_no_other() {
    let lab = Lab::new("accounts");
    // Bucket names are global across accounts, on AWS and on the emulators alike.
    let bucket = lab.name("task-results");
    lab.edit_stack(
        &format!("[buckets.{bucket}]\n"),
        &format!("[buckets.{bucket}]\nname = \"{bucket}-${{aws.account_id}}\"\n"),
    );
    let (a, b) = two_accounts();
    let both = format!("{a},{b}");

    if target() == Target::Moto {
        // moto's server acts in 123456789012 whatever the key: refused before any write.
        let up = lab.exstack(&["up", "--accounts", &both, "-v"]);
        assert_eq!(up.code, 1, "{}", up.stderr);
        let said = format!("{}{}", up.stdout, up.stderr);
        assert!(
            said.contains("does not take the access key id as the account"),
            "{said}"
        );
        assert!(!said.contains("Created"), "{said}");
        return;
    }
    let up = lab.exstack(&["up", "--accounts", &both, "-o", "json"]).ok();
    assert_eq!(up.json()["ok"], true, "{}", up.stdout);

    let status = lab
        .exstack(&["status", "--accounts", &both, "-o", "json"])
        .ok();
    assert_eq!(
        in_sync(&status),
        vec![(a.clone(), 11), (b.clone(), 11)],
        "{}",
        status.stdout
    );

    // The emulator's default account holds none of it.
    let default = lab.exstack(&["status", "-o", "json"]);
    assert_eq!(default.code, 3, "{}", default.stdout);
    let planned = actions(&default.json());
    assert_eq!(planned.len(), 11);
    assert!(planned.iter().all(|a| a == "create"), "{planned:?}");

    // Taking one account's lab down leaves the other's whole.
    lab.exstack(&["down", "--accounts", &a]).ok();
    let status = lab.exstack(&["status", "--accounts", &both, "-o", "json"]);
    assert_eq!(status.code, 3, "{}", status.stdout);
    assert_eq!(
        in_sync(&status),
        vec![(a.clone(), 0), (b.clone(), 11)],
        "{}",
        status.stdout
    );

    if !skip_without_function_execution("the account's verify") {
        let verify = lab.exstack(&["verify", "--skip-dlq", "--accounts", &b]);
        assert_eq!(verify.code, 0, "{}\n{}", verify.stdout, verify.stderr);
    }
    lab.exstack(&["down", "--accounts", &b]).ok();
}
