//! Interrupted and concurrent runs, and a big bucket (issue 7, points 2, 5 and 11).
//!
//! - `killed_after_every_write_*`: `EXSTACK_FAULT_DIE_AFTER_WRITES=k` aborts an `up` from
//!   empty right after its k-th write, for every k of a full `up`; the next `up` converges
//!   with no duplicates. The strict variant is ignored until a bucket created but not yet
//!   tagged is recognised as ours; the other tolerates exactly that state and nothing else.
//! - `ctrl_c_*`: SIGINT (via `kill -INT`) once a resource is created; a small delaying proxy
//!   keeps the rest of the run in flight for seconds, so the signal always lands mid-run.
//! - `two_ups_at_once_*`: both succeed, one of each resource, one run waits for the other.
//! - `down_empties_a_big_bucket_in_batches`: 1,000 objects, then 2,200 versions and delete
//!   markers, each in a few DeleteObjects calls and seconds.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::convergence::{command, converged, exstack_env, no_duplicates, runtime};
use crate::util::{Clients, Lab, Target, endpoint, target};

// ---------------------------------------------------------------------------------------------
// Killed after the k-th write

/// Strict: every kill point converges with no help.
#[test]
fn killed_after_every_write_then_up_converges() {
    kill_points(false);
}

/// Whether `bucket` exists with no tags at all.
async fn untagged(c: &Clients, bucket: &str) -> bool {
    match c.s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(t) => t.tag_set().is_empty(),
        Err(e) => {
            let e = e.into_service_error();
            e.meta().code() == Some("NoSuchTagSet")
        }
    }
}

fn kill_points(tolerate_bucket_window: bool) {
    let probe = Lab::new("killcount");
    let up = probe.exstack(&["up", "-o", "json"]).ok().json();
    let writes = up["calls"]["writes"].as_u64().unwrap();
    probe.exstack(&["down"]).ok();
    drop(probe);
    assert!(writes >= 11, "{}", up["calls"]);

    let started = Instant::now();
    let failures = Mutex::new(Vec::new());
    let killed = AtomicU64::new(0);
    let window: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    let labs = 3;
    std::thread::scope(|s| {
        for worker in 0..labs {
            let (failures, killed, window) = (&failures, &killed, &window);
            s.spawn(move || {
                let rt = runtime();
                let lab = Lab::new(&format!("kill{worker}"));
                let c = rt.block_on(lab.clients());
                let bucket = lab.name("task-results");
                let stack = lab.name("exercise-6");
                for k in (1 + worker..=writes).step_by(labs as usize) {
                    let k_text = k.to_string();
                    let run = exstack_env(
                        &lab,
                        &["up"],
                        &[("EXSTACK_FAULT_DIE_AFTER_WRITES", k_text.as_str())],
                    );
                    // Done before the k-th write is only possible at the very end.
                    if run.code == 0 && k < writes {
                        failures.lock().unwrap().push(format!(
                            "k={k}: up finished although it should die after write {k} of {writes}:\n{}",
                            run.stderr
                        ));
                    } else if run.code != 0 {
                        killed.fetch_add(1, Ordering::SeqCst);
                    }
                    let done: Vec<&str> = run
                        .stderr
                        .lines()
                        .filter_map(|l| l.trim_start().strip_prefix("Created "))
                        .collect();
                    let mut result = rt.block_on(converged(&lab, &c));
                    if result.is_err()
                        && tolerate_bucket_window
                        && rt.block_on(untagged(&c, &bucket))
                    {
                        window.lock().unwrap().push(k);
                        rt.block_on(
                            c.s3.put_bucket_tagging()
                                .bucket(&bucket)
                                .tagging(
                                    aws_sdk_s3::types::Tagging::builder()
                                        .tag_set(
                                            aws_sdk_s3::types::Tag::builder()
                                                .key("exstack:stack")
                                                .value(&stack)
                                                .build()
                                                .unwrap(),
                                        )
                                        .build()
                                        .unwrap(),
                                )
                                .send(),
                        )
                        .expect("PutBucketTagging");
                        result = rt.block_on(converged(&lab, &c));
                    }
                    let clean = if let Err(e) = result {
                        let e: String = e.chars().take(3000).collect();
                        failures.lock().unwrap().push(format!(
                            "k={k} (replay: EXSTACK_FAULT_DIE_AFTER_WRITES={k} exstack up; exstack up)\ncreated before the kill: {done:?}\n{e}"
                        ));
                        // What a failed case left must not spoil the next one.
                        lab.exstack(&["down", "--include-unowned"])
                    } else {
                        lab.exstack(&["down"])
                    };
                    if clean.code != 0 {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("k={k}: down failed:\n{}", clean.stderr));
                    }
                }
            });
        }
    });
    let mut window = window.into_inner().unwrap();
    window.sort();
    eprintln!(
        "killed after every write: k = 1..={writes}, {} runs killed, in {:.1}s; bucket left untagged at k = {window:?}",
        killed.load(Ordering::SeqCst),
        started.elapsed().as_secs_f64()
    );
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {writes} kill points failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Ctrl-C

/// A TCP proxy to LocalStack that holds every chunk the client sends for `delay` ms (settable
/// at any time), so a run lasts long enough to be interrupted half-way. Lives for the process.
struct SlowProxy {
    url: String,
    delay_ms: Arc<AtomicU64>,
}

impl SlowProxy {
    fn start() -> SlowProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = endpoint()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let delay_ms = Arc::new(AtomicU64::new(0));
        let delay = delay_ms.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let delay = delay.clone();
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || pump(client, server, Some(delay)));
                std::thread::spawn(move || pump(s2, c2, None));
            }
        });
        SlowProxy { url, delay_ms }
    }

    fn set_delay(&self, ms: u64) {
        self.delay_ms.store(ms, Ordering::SeqCst);
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, delay: Option<Arc<AtomicU64>>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Some(d) = &delay {
                    let ms = d.load(Ordering::SeqCst);
                    if ms > 0 {
                        std::thread::sleep(Duration::from_millis(ms));
                    }
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

fn sigint(pid: u32) {
    // The process may have finished in the meantime; the caller judges by its exit code.
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
}

struct Interrupted {
    code: i32,
    stderr: Vec<String>,
    stdout: String,
    /// From the first SIGINT to the exit.
    after_first: Duration,
    /// From the second SIGINT (if sent) to the exit.
    after_second: Option<Duration>,
}

/// Runs `up` on `lab` and sends SIGINT once a line starting with `after` (say "Created")
/// appears on stderr; with `twice`, a second SIGINT once exstack says it is finishing the calls
/// in flight.
fn up_interrupted(lab: &Lab, after: &str, twice: bool) -> Interrupted {
    let mut child = command(lab, &["up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn exstack");
    let pid = child.id();
    let stderr = child.stderr.take().unwrap();
    let after = after.to_owned();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut first = None;
        let mut second = None;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if first.is_none() && line.trim_start().starts_with(&after) {
                sigint(pid);
                first = Some(Instant::now());
            }
            if twice && first.is_some() && second.is_none() && line.contains("Interrupted") {
                sigint(pid);
                second = Some(Instant::now());
            }
            lines.push(line);
        }
        (lines, first, second)
    });
    let out = child.wait_with_output().expect("wait for exstack");
    let exited = Instant::now();
    let (stderr, first, second) = reader.join().unwrap();
    let first = first.expect("the trigger line never came: the run never got that far");
    Interrupted {
        code: out.status.code().unwrap_or(-1),
        stderr,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        after_first: exited - first,
        after_second: second.map(|s| exited.saturating_duration_since(s)),
    }
}

/// First Ctrl-C: the calls in flight finish, nothing new starts, exit 130, and the output says
/// what was done and what was not. Then `up` converges.
#[test]
fn ctrl_c_finishes_in_flight_reports_and_exits_130() {
    let proxy = SlowProxy::start();
    let lab = Lab::with_endpoint("sigint", &proxy.url);
    let c = runtime().block_on(Clients::new(&endpoint()));
    // Every request waits 100 ms: an `up` from empty then takes seconds, not half of one.
    proxy.set_delay(100);
    let run = up_interrupted(&lab, "Created", false);
    proxy.set_delay(0);
    let text = run.stderr.join("\n");
    eprintln!(
        "Ctrl-C once: exit {} {:.2}s after the signal\n{text}",
        run.code,
        run.after_first.as_secs_f64()
    );
    assert_eq!(run.code, 130, "{text}\nstdout:\n{}", run.stdout);
    assert!(text.contains("Interrupted"), "{text}");
    let created = text.matches("Created").count();
    let not_started = run
        .stderr
        .iter()
        .filter(|l| l.trim_start().starts_with("Skipped") && l.contains("interrupted"))
        .count();
    assert!(created >= 1, "{text}");
    assert!(not_started >= 1, "nothing reported as not started:\n{text}");
    // Each of the 11 resources is accounted for: done, or not started.
    let reported = run
        .stderr
        .iter()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with("Created") || l.starts_with("Skipped") || l.starts_with("Failed")
        })
        .count();
    assert_eq!(reported, 11, "not every resource is reported:\n{text}");
    let rt = runtime();
    rt.block_on(converged(&lab, &c)).unwrap();
}

/// A second Ctrl-C exits at once, without waiting for the calls in flight; `up` converges after.
#[test]
fn ctrl_c_twice_exits_at_once() {
    let proxy = SlowProxy::start();
    let lab = Lab::with_endpoint("sigint2", &proxy.url);
    let c = runtime().block_on(Clients::new(&endpoint()));
    proxy.set_delay(300);
    // After the bucket: killing its create between CreateBucket and PutBucketTagging is the
    // known window (see `killed_after_every_write_*`); this test is about the second Ctrl-C.
    let run = up_interrupted(&lab, "Created bucket", true);
    proxy.set_delay(0);
    let text = run.stderr.join("\n");
    let second = run.after_second.expect("no second SIGINT was sent");
    eprintln!(
        "Ctrl-C twice: exit {} {:.3}s after the second signal\n{text}",
        run.code,
        second.as_secs_f64()
    );
    assert_eq!(run.code, 130, "{text}");
    // A call in flight through the proxy takes ≥ 300 ms; an immediate exit is well below.
    assert!(second < Duration::from_millis(250), "{second:?}\n{text}");
    let rt = runtime();
    rt.block_on(converged(&lab, &c)).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Two `up`s at once

fn two_ups(a: Command, b: Command) -> [(i32, serde_json::Value, String); 2] {
    let spawn = |mut cmd: Command| {
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn exstack")
    };
    let (ca, cb) = (spawn(a), spawn(b));
    [ca.wait_with_output(), cb.wait_with_output()].map(|out| {
        let out = out.expect("wait");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
        (out.status.code().unwrap_or(-1), json, stderr)
    })
}

fn check_two(
    lab: &Lab,
    c: &Clients,
    runs: &[(i32, serde_json::Value, String); 2],
    rt: &tokio::runtime::Runtime,
) {
    let dup = rt.block_on(no_duplicates(lab, c));
    let brief: Vec<String> = runs
        .iter()
        .map(|(code, json, stderr)| {
            let odd: Vec<String> = json["outcomes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|o| o["result"]["status"] != "done" && o["result"]["status"] != "unchanged")
                .map(|o| format!("{} {}", o["id"], o["result"]))
                .collect();
            format!(
                "exit {code}, writes {}, {odd:?}\n{stderr}",
                json["calls"]["writes"]
            )
        })
        .collect();
    let brief = brief.join("\n---\n");
    assert!(dup.is_ok(), "{dup:?}\n{brief}");
    for (code, json, _) in runs {
        assert_eq!(*code, 0, "{brief}");
        assert_eq!(json["ok"], true, "{brief}");
    }
    let creates: Vec<usize> = runs
        .iter()
        .map(|(_, j, _)| {
            j["outcomes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|o| o["action"] == "create")
                .count()
        })
        .collect();
    assert_eq!(
        creates.iter().sum::<usize>(),
        11,
        "creates per run: {creates:?}\n{brief}"
    );
    let status = lab.exstack(&["status"]);
    // MiniStack 1.5.33 builds a queue's URL from the request's Host (localhost or 127.0.0.1);
    // AWS and LocalStack give one URL whatever the spelling. So there, the function written
    // by the run with the other spelling holds the other URL: only that drift is accepted.
    if target() == Target::MiniStack && status.code == 3 {
        let drifted: Vec<&str> = status.stdout.lines().filter(|l| l.contains("→")).collect();
        assert!(
            drifted
                .iter()
                .all(|l| l.contains("QUEUE_URL: http://localhost:")
                    || l.contains("QUEUE_URL: http://127.0.0.1:")),
            "{}",
            status.stdout
        );
        return;
    }
    status.ok();
}

#[test]
fn two_ups_at_once_make_one_of_each() {
    let rt = runtime();
    let lab = Lab::new("twoups");
    let c = rt.block_on(lab.clients());
    let started = Instant::now();
    let rounds = 3;
    for round in 0..rounds {
        let runs = two_ups(
            command(&lab, &["up", "-o", "json"]),
            command(&lab, &["up", "-o", "json"]),
        );
        check_two(&lab, &c, &runs, &rt);
        let waited = runs
            .iter()
            .filter(|(_, _, e)| e.contains("Waiting"))
            .count();
        assert_eq!(
            waited, 1,
            "round {round}: exactly one run should wait for the other"
        );
        // The one that waited found everything made: it wrote nothing.
        let writes: Vec<u64> = runs
            .iter()
            .map(|(_, j, _)| j["calls"]["writes"].as_u64().unwrap())
            .collect();
        assert!(writes.contains(&0), "round {round}: writes {writes:?}");
        lab.exstack(&["down"]).ok();
    }
    eprintln!(
        "two ups at once: {rounds} rounds in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// The same LocalStack named two ways (127.0.0.1 and localhost) is still one account.
#[test]
fn two_ups_at_once_through_two_spellings_of_the_endpoint() {
    let rt = runtime();
    let lab = Lab::new("twospell");
    let c = rt.block_on(lab.clients());
    let other = endpoint().replace("127.0.0.1", "localhost");
    assert_ne!(
        other,
        endpoint(),
        "set EXSTACK_TEST_ENDPOINT to a 127.0.0.1 address"
    );
    let mut b = command(&lab, &["up", "-o", "json"]);
    b.env("AWS_ENDPOINT_URL", &other);
    let runs = two_ups(command(&lab, &["up", "-o", "json"]), b);
    check_two(&lab, &c, &runs, &rt);
    lab.exstack(&["down"]).ok();
}

// ---------------------------------------------------------------------------------------------
// A big bucket

async fn put_many(c: &Clients, bucket: &str, keys: impl Iterator<Item = String>) {
    use futures::StreamExt;
    futures::stream::iter(keys)
        .map(|key| async move {
            c.s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(aws_sdk_s3::primitives::ByteStream::from_static(
                    b"{\"ok\":true}",
                ))
                .send()
                .await
                .expect("PutObject");
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
}

/// `down` on the lab; returns (seconds, DeleteObjects calls, ListObjectVersions calls).
fn timed_down(lab: &Lab) -> (f64, u64, u64) {
    let t = Instant::now();
    let down = lab.exstack(&["down", "-o", "json"]).ok().json();
    let secs = t.elapsed().as_secs_f64();
    let ops = &down["calls"]["by_operation"];
    let n = |op: &str| ops[op].as_u64().unwrap_or(0);
    (secs, n("S3:DeleteObjects"), n("S3:ListObjectVersions"))
}

async fn bucket_gone(c: &Clients, bucket: &str) -> bool {
    c.s3.head_bucket().bucket(bucket).send().await.is_err()
}

#[test]
fn down_empties_a_big_bucket_in_batches() {
    let rt = runtime();
    let lab = Lab::new("bigbucket");
    let c = rt.block_on(lab.clients());
    let bucket = lab.name("task-results");

    // 1,000 objects.
    lab.exstack(&["up"]).ok();
    let t = Instant::now();
    rt.block_on(put_many(
        &c,
        &bucket,
        (0..1000).map(|i| format!("results/{i:04}.json")),
    ));
    let put = t.elapsed().as_secs_f64();
    let (secs, batches, lists) = timed_down(&lab);
    eprintln!(
        "big bucket: 1000 objects (put in {put:.1}s) → down in {secs:.2}s, {batches} DeleteObjects, {lists} ListObjectVersions"
    );
    assert!(rt.block_on(bucket_gone(&c, &bucket)), "bucket still there");
    assert!((1..=2).contains(&batches), "{batches} DeleteObjects calls");
    assert!(secs < 20.0, "down took {secs:.1}s");

    // Versioned: 1,000 keys written twice, 200 of them then deleted: 2,200 versions and markers.
    lab.exstack(&["up"]).ok();
    rt.block_on(async {
        c.s3.put_bucket_versioning()
            .bucket(&bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("PutBucketVersioning");
        let keys = || (0..1000).map(|i| format!("results/{i:04}.json"));
        put_many(&c, &bucket, keys()).await;
        put_many(&c, &bucket, keys()).await;
        for i in 0..200 {
            c.s3.delete_object()
                .bucket(&bucket)
                .key(format!("results/{i:04}.json"))
                .send()
                .await
                .expect("DeleteObject");
        }
        let versions =
            c.s3.list_object_versions()
                .bucket(&bucket)
                .send()
                .await
                .expect("ListObjectVersions");
        assert!(
            !versions.versions().is_empty() && !versions.delete_markers().is_empty(),
            "versioning did not take"
        );
    });
    let (secs, batches, lists) = timed_down(&lab);
    eprintln!(
        "big bucket, versioned: 2000 versions + 200 delete markers → down in {secs:.2}s, {batches} DeleteObjects, {lists} ListObjectVersions"
    );
    assert!(
        rt.block_on(bucket_gone(&c, &bucket)),
        "versioned bucket still there"
    );
    assert!((3..=4).contains(&batches), "{batches} DeleteObjects calls");
    assert!(secs < 20.0, "down took {secs:.1}s");
}

// ---------------------------------------------------------------------------------------------
// A create that loses its race

/// A run killed while its CreateFunction is still being served leaves the next run reading
/// "no such function" and then hearing "already exists". That next run takes what it finds
/// (tagged as this stack's) and goes on, instead of retrying the create until it gives up.
#[tokio::test]
async fn a_create_that_loses_its_race_adopts_the_winner() {
    let lab = Lab::new("lostrace");
    let c = lab.clients().await;
    let up = exstack_env(
        &lab,
        &["up", "-o", "json"],
        &[("EXSTACK_FAULT_LOSE_CREATE_RACE", "policies,roles,functions")],
    );
    assert_eq!(up.code, 0, "stdout:\n{}\nstderr:\n{}", up.stdout, up.stderr);
    if let Err(e) = converged(&lab, &c).await {
        panic!("{e}");
    }
}
