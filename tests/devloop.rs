//! A student's edit–run–read loop (issue 9): `logs` shows what a function printed, `up --watch`
//! redeploys what was saved, `outputs --format env` makes the exercise's curl commands work.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::util::{Lab, Run, command_in, run};

/// Retries and batches that take seconds, not minutes.
fn lab_vars() -> Vec<String> {
    ["batching_window=0", "visibility_timeout=2"]
        .into_iter()
        .flat_map(|v| ["--var".to_owned(), v.to_owned()])
        .collect()
}

fn exstack(lab: &Lab, args: &[&str]) -> Run {
    let vars = lab_vars();
    let all: Vec<&str> = args
        .iter()
        .copied()
        .chain(vars.iter().map(String::as_str))
        .collect();
    lab.exstack(&all)
}

/// Runs `logs` until its output contains `needle`, or panics with the last output at `deadline`.
fn logs_until(lab: &Lab, args: &[&str], needle: &str, deadline: Duration) -> Run {
    let started = Instant::now();
    loop {
        let run = lab.exstack(args).ok();
        if run.stdout.contains(needle) {
            return run;
        }
        assert!(
            started.elapsed() < deadline,
            "no `{needle}` in `exstack {}` after {deadline:?}:\n{}{}",
            args.join(" "),
            run.stdout,
            run.stderr
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[tokio::test]
async fn logs_show_what_the_processor_printed_and_its_traceback() {
    let lab = Lab::new("logs");
    exstack(&lab, &["up"]).ok();
    let processor = lab.name("task-processor");

    // Before it ever ran there is no log group: said so, not an error.
    let before = lab.exstack(&["logs", &processor]).ok();
    assert_eq!(before.stdout, "", "{}", before.stderr);
    assert!(before.stderr.contains("has not run"), "{}", before.stderr);

    let c = lab.clients().await;
    let queue = c.queue_url(&lab.name("task-queue")).await;
    c.sqs
        .send_message()
        .queue_url(&queue)
        .message_body(r#"{"task_type": "compute", "data": {"numbers": [1, 2, 3]}}"#)
        .send()
        .await
        .unwrap();
    let run = logs_until(
        &lab,
        &["logs", &processor],
        "Processing 1 message(s)",
        Duration::from_secs(30),
    );
    // Each line carries its time and stream: `2026-11-28 17:57:23.592Z  [$LATEST]f15d81c8  ...`.
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("Processing 1 message(s)"))
        .unwrap();
    let fields: Vec<&str> = line.splitn(3, "  ").collect();
    assert!(fields[0].ends_with('Z') && fields[0].len() == 24, "{line}");
    assert!(fields[1].starts_with("[$LATEST]"), "{line}");
    assert_eq!(fields[2], "Processing 1 message(s)", "{line}");

    // A failing task: the traceback is there too.
    c.sqs
        .send_message()
        .queue_url(&queue)
        .message_body(r#"{"task_type": "fail", "data": {}}"#)
        .send()
        .await
        .unwrap();
    let run = logs_until(
        &lab,
        &["logs", &processor],
        "SimulatedFailure",
        Duration::from_secs(30),
    );
    assert!(run.stdout.contains("Traceback"), "{}", run.stdout);

    // -o json: one object per event, one per line.
    let json = lab.exstack(&["logs", &processor, "-o", "json"]).ok();
    let events: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for line in json.stdout.lines() {
        crate::json_output::matches_doc("logs", line);
    }
    assert!(
        events
            .iter()
            .any(|e| e["message"] == "Processing 1 message(s)"
                && e["stream"].as_str().unwrap().contains("[$LATEST]")
                && e["timestamp"].as_i64().unwrap() > 0
                && e["function"] == processor.as_str()),
        "{}",
        json.stdout
    );

    // --since reaches back no further than asked: a window that starts now has none of it.
    let recent = lab.exstack(&["logs", &processor, "--since", "0s"]).ok();
    assert!(
        !recent.stdout.contains("Processing 1 message(s)"),
        "{}",
        recent.stdout
    );
}

#[test]
fn logs_for_an_unknown_function_list_the_stacks_functions() {
    let lab = Lab::new("logsunknown");
    let typo = lab.name("task-procesor");
    let run = lab.exstack(&["logs", &typo]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("is not a function"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&lab.name("api-enqueue"))
            && run.stderr.contains(&lab.name("task-processor")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("did you mean `{}`?", lab.name("task-processor"))),
        "{}",
        run.stderr
    );
    let bad = lab.exstack(&["logs", &lab.name("task-processor"), "--since", "10 minutes"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

/// `up --watch` as a child process; its stderr lines arrive on a channel. Killed when dropped.
struct Watcher {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Watcher {
    fn start(lab: &Lab) -> Watcher {
        let vars = lab_vars();
        let mut args = vec!["up", "--watch"];
        args.extend(vars.iter().map(String::as_str));
        let mut child = command_in(lab.dir.path(), &lab.endpoint, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn exstack up --watch");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watcher {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Lines up to and including the first that satisfies `done`.
    fn until(&mut self, done: impl Fn(&str) -> bool, deadline: Duration) -> Vec<String> {
        let started = Instant::now();
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_sub(started.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    got.push(line.clone());
                    if done(&line) {
                        return got;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "waited {deadline:?}; stderr so far:\n{}",
                        self.seen.join("\n")
                    )
                }
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "exstack up --watch ended ({:?}); stderr:\n{}",
                    self.child.try_wait(),
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_watching(line: &str) -> bool {
    line.trim_start().starts_with("Watching")
}

async fn code_sha(c: &crate::util::Clients, function: &str) -> String {
    c.lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .unwrap()
        .code_sha256
        .unwrap()
}

#[tokio::test]
async fn watch_redeploys_only_the_saved_function_and_survives_a_broken_stack() {
    let lab = Lab::new("watch");
    let c = lab.clients().await;
    let (processor, enqueue) = (lab.name("task-processor"), lab.name("api-enqueue"));
    let mut watcher = Watcher::start(&lab);
    watcher.until(is_watching, Duration::from_secs(90));
    let enqueue_sha = code_sha(&c, &enqueue).await;
    let mut sha = code_sha(&c, &processor).await;

    // Each save: the processor's CodeSha256 changes in LocalStack within the deadline, and the
    // output names an update of the processor only.
    let mut latencies = Vec::new();
    for i in 0..5 {
        let file = lab.path("functions/task_processor.py");
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str(&format!("# edit {i}\n"));
        let saved = Instant::now();
        std::fs::write(&file, text).unwrap();
        loop {
            let now = code_sha(&c, &processor).await;
            if now != sha {
                sha = now;
                break;
            }
            assert!(
                saved.elapsed() < Duration::from_secs(15),
                "CodeSha256 unchanged 15 s after save {i}; stderr:\n{}",
                watcher.seen.join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        latencies.push(saved.elapsed());
        let lines = watcher.until(is_watching, Duration::from_secs(30));
        let text = lines.join("\n");
        assert!(
            text.contains(&format!("Updated function {processor}")),
            "{text}"
        );
        assert_eq!(text.matches("Updated").count(), 1, "{text}");
        assert!(!text.contains(&enqueue), "{text}");
    }
    assert_eq!(code_sha(&c, &enqueue).await, enqueue_sha);
    latencies.sort();
    eprintln!(
        "save → new CodeSha256 in LocalStack: median {:?} (all: {latencies:?})",
        latencies[latencies.len() / 2]
    );

    // An invalid stack.toml: an error with its location, and the watch goes on.
    let stack = std::fs::read_to_string(lab.path("stack.toml")).unwrap();
    std::fs::write(lab.path("stack.toml"), format!("{stack}\ngarbage [[\n")).unwrap();
    let lines = watcher.until(is_watching, Duration::from_secs(30));
    let text = lines.join("\n");
    assert!(
        lines.iter().any(|l| l.starts_with("error:")),
        "no error line:\n{text}"
    );
    assert!(text.contains("stack.toml:"), "{text}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(watcher.is_running(), "{}", watcher.seen.join("\n"));

    // Fixed again: the watch picks it up, with nothing to change.
    std::fs::write(lab.path("stack.toml"), &stack).unwrap();
    let lines = watcher.until(is_watching, Duration::from_secs(30));
    let text = lines.join("\n");
    assert!(text.contains("Finished nothing changed"), "{text}");
    assert!(!text.contains("error"), "{text}");
}

/// Ctrl-C while watching ends it with exit 0 and a last line.
#[test]
fn ctrl_c_ends_a_watch_with_exit_0() {
    let lab = Lab::new("watchstop");
    let mut watcher = Watcher::start(&lab);
    watcher.until(is_watching, Duration::from_secs(90));
    let _ = Command::new("kill")
        .args(["-INT", &watcher.child.id().to_string()])
        .status();
    watcher.until(|l| l.contains("Stopped"), Duration::from_secs(10));
    let status = watcher.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", watcher.seen.join("\n"));
}

#[tokio::test]
async fn outputs_env_lines_evaluate_in_sh_and_the_api_url_takes_a_task() {
    let lab = Lab::new("outenv");
    exstack(&lab, &["up"]).ok();
    let json = lab.exstack(&["outputs", "-o", "json"]).ok().json();
    let env = lab.exstack(&["outputs", "--format", "env"]).ok();
    for line in env.stdout.lines() {
        let (name, value) = line.split_once('=').unwrap();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
            "{line}"
        );
        assert!(value.starts_with('\'') && value.ends_with('\''), "{line}");
    }
    let suffix = lab.suffix.to_uppercase();
    // What sh makes of the lines is what `outputs -o json` says.
    let script = format!(
        r#"eval "$("$EXSTACK" outputs --format env)" && printf '%s\n' "$QUEUE_URL" "$DLQ_URL" "$BUCKET" "$API_URL" "$TASK_QUEUE_{suffix}_URL" "$TASK_API_{suffix}_POST_TASKS_URL" "$TASK_PROCESSOR_{suffix}_ARN""#
    );
    let values = run(sh(&lab, &script)).ok();
    let values: Vec<&str> = values.stdout.lines().collect();
    let api = json[format!("apis.{}.POST /tasks", lab.name("task-api"))]
        .as_str()
        .unwrap();
    assert_eq!(
        values,
        [
            json[format!("queues.{}.url", lab.name("task-queue"))]
                .as_str()
                .unwrap(),
            json[format!("queues.{}.url", lab.name("task-dlq"))]
                .as_str()
                .unwrap(),
            lab.name("task-results").as_str(),
            api.strip_suffix("/tasks").unwrap(),
            json[format!("queues.{}.url", lab.name("task-queue"))]
                .as_str()
                .unwrap(),
            api,
            format!(
                "arn:aws:lambda:us-east-1:000000000000:function:{}",
                lab.name("task-processor")
            )
            .as_str(),
        ]
    );

    // The exercise's curl command, with the URL from the environment.
    let curl = r#"eval "$("$EXSTACK" outputs --format env)" && curl -s -o /dev/null -w '%{http_code}' -X POST "$API_URL/tasks" -H 'Content-Type: application/json' -d '{"task_type": "compute", "data": {"numbers": [10, 20, 30]}}'"#;
    let posted = run(sh(&lab, curl)).ok();
    assert_eq!(posted.stdout, "202", "{}", posted.stderr);
}

/// `sh -c script` in the lab's directory with `$EXSTACK` and the lab's endpoint.
fn sh(lab: &Lab, script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.current_dir(lab.dir.path())
        .args(["-c", script])
        .env("EXSTACK", env!("CARGO_BIN_EXE_exstack"))
        .env("AWS_ENDPOINT_URL", &lab.endpoint)
        .env_remove("AWS_REGION");
    cmd
}

/// Both run until Ctrl-C, which a fleet (output shown when every machine is done) cannot show.
#[test]
fn watch_and_follow_refuse_several_lab_machines() {
    let lab = Lab::new("watchfleet");
    let dead = crate::util::dead_endpoint();
    let two = [
        "--endpoint-url",
        lab.endpoint.as_str(),
        "--endpoint-url",
        dead.as_str(),
    ];
    let processor = lab.name("task-processor");
    for (args, said) in [
        (vec!["up", "--watch"], "watches one lab machine"),
        (
            vec!["logs", processor.as_str(), "--follow"],
            "follows one lab machine",
        ),
    ] {
        let all: Vec<&str> = args.iter().chain(two.iter()).copied().collect();
        let run = lab.exstack(&all);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains(said), "{}", run.stderr);
    }
}
