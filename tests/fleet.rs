//! Many lab machines in one command (issue 8): every machine gets the same command, one
//! dead machine neither blocks nor aborts the others, and the summary names each.
//! The timing goal (8 machines in ≤ 3× the time of one) is measured by `bench/fleet`.

use crate::util::{Instance, Lab, dead_endpoint, skip_without_function_execution};

#[test]
fn a_dead_machine_is_named_and_the_others_still_converge() {
    let lab = Lab::new("fleetdead");
    let dead = dead_endpoint();
    let run = lab.exstack(&[
        "up",
        "--endpoint-url",
        &lab.endpoint,
        "--endpoint-url",
        &dead,
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1, "one machine failed: exit 1\n{}", run.stderr);
    let json = run.json();
    let targets = json["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 2, "{json}");
    let (good, bad) = (&targets[0], &targets[1]);
    assert_eq!(good["ok"], true, "{good}");
    assert_eq!(
        good["result"]["ok"], true,
        "the machine's own up JSON: {good}"
    );
    assert_eq!(good["changes"], "11 created", "{good}");
    assert_eq!(bad["ok"], false, "{bad}");
    let error = bad["error"].as_str().unwrap_or_default();
    assert!(error.contains("nothing answers at"), "{error}");
    assert!(error.contains(&dead), "{error}");
    assert_eq!(json["ok"], false);
    // The good machine really is up, and a second fleet `up` changes nothing there.
    lab.exstack(&["status"]).ok();
}

#[test]
fn a_targets_file_names_machines_and_the_table_lists_each() {
    let lab = Lab::new("fleetfile");
    let dead = dead_endpoint();
    let file = lab.path("classroom.txt");
    std::fs::write(
        &file,
        format!(
            "# room 2\nlab-01 {}\nlab-02 {dead}   # switched off\n",
            lab.endpoint
        ),
    )
    .unwrap();
    let file = file.to_string_lossy().into_owned();
    let run = lab.exstack(&["status", "--targets", &file]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let table: Vec<&str> = run.stdout.lines().collect();
    assert!(table[0].starts_with("TARGET"), "{}", run.stdout);
    assert!(
        table[1].starts_with("lab-01") && table[1].contains("differs"),
        "nothing is up yet, so lab-01 differs: {}",
        run.stdout
    );
    assert!(
        table[2].starts_with("lab-02") && table[2].contains("failed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("0 of 2 lab machines ok"),
        "{}",
        run.stdout
    );
    // Each machine's own report follows, under its name.
    assert!(run.stdout.contains("== lab-01"), "{}", run.stdout);
    // Progress lines (not a terminal here) carry the machine's name.
    assert!(
        run.stderr.lines().any(|l| l.starts_with("lab-02 |")),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bad_targets_file_says_which_line_and_does_nothing() {
    let lab = Lab::new("fleetbad");
    let file = lab.path("targets.txt");
    std::fs::write(
        &file,
        format!("lab-01 {}\nlab-02 10.0.0.2:4566\n", lab.endpoint),
    )
    .unwrap();
    let file = file.to_string_lossy().into_owned();
    let run = lab.exstack(&["up", "--targets", &file]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("line 2"), "{}", run.stderr);
    assert!(run.stderr.contains("http://lab-07:4566"), "{}", run.stderr);
    let status = lab.exstack(&["status", "-o", "json"]);
    assert_eq!(
        status.json()["summary"]["create"],
        11,
        "nothing was created: {}",
        status.stdout
    );
}

#[test]
fn reset_is_down_then_up_in_one_document() {
    let lab = Lab::new("reset");
    lab.exstack(&["up"]).ok();
    let run = lab.exstack(&["reset", "-o", "json"]).ok();
    let json = run.json();
    assert_eq!(json["ok"], true, "{json}");
    let deleted = json["down"]["outcomes"]
        .as_array()
        .expect("down outcomes")
        .iter()
        .filter(|o| o["action"] == "delete" && o["result"]["status"] == "done")
        .count();
    assert_eq!(deleted, 11, "{json}");
    assert_eq!(json["up"]["ok"], true, "{json}");
    // `up` plans from what `down` left instead of reading every resource again: after down,
    // the only reads are waits for functions and the mapping to settle. (Call counts are
    // per process, so up's are its own minus down's.)
    let (before, after) = (
        &json["down"]["calls"]["by_operation"],
        &json["up"]["calls"]["by_operation"],
    );
    let observing = [
        "SQS:GetQueueUrl",
        "IAM:GetRole",
        "S3:GetBucketTagging",
        "API Gateway:GetRestApis",
    ];
    for op in observing {
        assert_eq!(after[op], before[op], "up read again with {op}: {json}");
    }
    lab.exstack(&["status"]).ok();
}

/// Real AWS in a fleet is as explicit as alone: `aws:<region>` targets need --aws, and are
/// never mixed with emulators. Refused before any call, so this runs without AWS.
#[test]
fn aws_targets_in_a_fleet_need_aws_and_stand_alone() {
    let lab = Lab::new("fleetaws");
    let file = lab.path("regions.txt");
    std::fs::write(&file, "eu aws:eu-west-1\nus aws:us-east-1\n").unwrap();
    let file = file.to_string_lossy().into_owned();
    let run = lab.exstack(&["status", "--targets", &file]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("pass --aws"), "{}", run.stderr);

    let mixed = lab.exstack(&[
        "status",
        "--aws",
        "--targets",
        &file,
        "--endpoint-url",
        &lab.endpoint,
    ]);
    assert_eq!(mixed.code, 1, "{}", mixed.stdout);
    assert!(
        mixed.stderr.contains("no emulator endpoints"),
        "{}",
        mixed.stderr
    );
}

/// Two emulators on two ports, one command: each machine's functions reach their own
/// emulator (nothing in the stack names one), so `verify` passes on both.
#[test]
fn every_machine_of_a_fleet_verifies_end_to_end() {
    if skip_without_function_execution("every_machine_of_a_fleet_verifies_end_to_end") {
        return;
    }
    let second = Instance::start(4631);
    let lab = Lab::new("fleetverify");
    let both = [
        "--endpoint-url",
        &lab.endpoint,
        "--endpoint-url",
        &second.endpoint,
    ];
    let up: Vec<&str> = ["up"].iter().chain(both.iter()).copied().collect();
    lab.exstack(&up).ok();
    let mut verify: Vec<&str> = ["verify", "--skip-dlq", "-o", "json"].to_vec();
    verify.extend(both);
    let run = lab.exstack(&verify);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    let passed: Vec<bool> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["result"]["ok"] == true)
        .collect();
    assert_eq!(passed, [true, true], "{json}");
    let mut down: Vec<&str> = vec!["down"];
    down.extend(both);
    lab.exstack(&down).ok();
}
