//! `exstack verify`: proves the lab works, criterion by criterion, the way the exercise's
//! "Success Criteria" and "Testing Your Work" describe it. It cleans up only what it made:
//! its results (by their message ids) and its own message in the dead-letter queue.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use serde::Serialize;
use serde_json::{Value, json};

use super::Exit;
use super::report::{Report, json};
use crate::aws::Ctx;
use crate::aws::errors::AwsResult;
use crate::cli::VerifyArgs;
use crate::engine::{Engine, Observed};
use crate::manifest::{Resource, Setting, Stack};
use crate::model::ResourceId;
use crate::output::{Level, Printer, Rendered, Settings};
use crate::plan::Action;
use crate::resources;

#[derive(Debug, Serialize)]
struct Step {
    name: String,
    ok: bool,
    ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

impl Step {
    /// `✓ name  (12 ms)`, and what was wrong under a failed one.
    fn text(&self) -> String {
        let mark = if self.ok { "✓" } else { "✗" };
        let mut text = format!("{mark} {}  ({} ms)\n", self.name, self.ms);
        if let Some(p) = &self.problem {
            text.push_str(&format!("    {p}\n"));
        }
        text
    }
}

/// Where the dead-letter check would be, with `--skip-dlq`.
const SKIPPED_DLQ: &str = "- fail task → dead-letter queue: skipped (--skip-dlq)\n";

/// Every check and how it went.
#[derive(Debug, Serialize)]
pub struct Verified {
    ok: bool,
    steps: Vec<Step>,
    #[serde(skip)]
    skipped_dlq: bool,
}

impl Verified {
    fn tally(&self) -> String {
        let passed = self.steps.iter().filter(|s| s.ok).count();
        format!("{passed} of {} checks passed", self.steps.len())
    }
}

impl Report for Verified {
    fn json(&self) -> Option<Value> {
        json(self)
    }

    fn text(&self, _: Settings) -> String {
        let mut text: String = self.steps.iter().map(Step::text).collect();
        if self.skipped_dlq {
            text.push_str(SKIPPED_DLQ);
        }
        text
    }

    fn exit(&self) -> Exit {
        if self.ok { Exit::Success } else { Exit::Drift }
    }

    fn changes(&self) -> Option<String> {
        Some(self.tally())
    }

    /// People see each step as soon as it is done.
    fn streamed(&self) -> bool {
        true
    }
}

/// The parts of the stack the checks talk to.
struct Lab {
    queue_url: String,
    dlq_url: String,
    dlq_name: String,
    max_receives: i64,
    visibility: i64,
    window: i64,
    bucket: String,
    api_url: String,
}

pub async fn run(
    ctx: &Ctx,
    stack: &Stack,
    printer: &Printer,
    args: VerifyArgs,
) -> Result<Verified> {
    let engine = Engine::new(ctx, stack)?;
    let observed = engine.observe().await?;
    // Nothing there at all is a setup mistake; a piece missing is a failed criterion below.
    if observed.values().all(Option::is_none) {
        bail!("the stack is not up: run `exstack up` first");
    }
    let lab = lab(stack, &observed)?;
    let mut list = Checklist {
        people: printer.text_only(),
        steps: Vec::new(),
    };
    for (name, problem) in configuration_checks(&engine, &observed) {
        list.record(Step {
            name,
            ok: problem.is_none(),
            ms: 0,
            problem,
        });
    }
    let ready = "every resource is ready (functions Active, mappings settled)";
    list.record(timed(ready, engine.settle_all(&observed)).await);
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut made = Vec::new();
    let deadline = Duration::from_secs(args.timeout);
    task_checks(ctx, &http, &lab, deadline, &mut made, &mut list).await;
    if args.skip_dlq {
        list.people.show(Rendered::Text(SKIPPED_DLQ.to_owned()));
    } else {
        dead_letter_check(ctx, &http, &lab, &mut made, &mut list).await;
    }
    cleanup(ctx, &lab, &made).await;
    let verified = Verified {
        ok: list.steps.iter().all(|s| s.ok),
        steps: list.steps,
        skipped_dlq: args.skip_dlq,
    };
    if verified.ok {
        list.people.status("Verified", verified.tally());
    } else {
        list.people
            .status_as(Level::Failure, "Failed", verified.tally());
    }
    Ok(verified)
}

/// The checks so far, each shown to people as it finishes.
struct Checklist {
    people: Printer,
    steps: Vec<Step>,
}

impl Checklist {
    fn record(&mut self, step: Step) {
        self.people.show(Rendered::Text(step.text()));
        self.steps.push(step);
    }
}

/// The exercise's task round trips: compute, transform, and five at once.
async fn task_checks(
    ctx: &Ctx,
    http: &reqwest::Client,
    lab: &Lab,
    deadline: Duration,
    made: &mut Vec<String>,
    list: &mut Checklist,
) {
    let compute = json!({"task_type": "compute", "data": {"numbers": [10, 20, 30, 40, 50]}});
    let expect_compute = json!({"sum": 150, "average": 30.0, "max": 50, "min": 10});
    let name = "POST compute → 202 → result in S3 with sum/average/max/min";
    let check = task_round_trip(ctx, http, lab, &compute, &expect_compute, deadline, made);
    list.record(timed(name, check).await);
    let transform = json!({"task_type": "transform", "data": {"text": "Hello World from SQS"}});
    let expect_transform = json!({"uppercase": "HELLO WORLD FROM SQS", "lowercase": "hello world from sqs", "word_count": 4, "char_count": 20});
    let name = "POST transform → result with upper/lower/word/char counts";
    let check = task_round_trip(
        ctx,
        http,
        lab,
        &transform,
        &expect_transform,
        deadline,
        made,
    );
    list.record(timed(name, check).await);
    let name = "POST 5 tasks at once → every one produces a result";
    list.record(timed(name, many_tasks(ctx, http, lab, deadline, made)).await);
}

/// A failing task reaches the dead-letter queue, waiting as long as the stack's own settings
/// say that takes.
async fn dead_letter_check(
    ctx: &Ctx,
    http: &reqwest::Client,
    lab: &Lab,
    made: &mut Vec<String>,
    list: &mut Checklist,
) {
    let wait =
        Duration::from_secs((lab.max_receives * (lab.visibility + lab.window) + 30).max(0) as u64);
    list.people.notice(
        "Waiting",
        format_args!(
            "up to {}s for a failing task to reach {} ({} receives × {}s visibility + {}s batching window)",
            wait.as_secs(),
            lab.dlq_name,
            lab.max_receives,
            lab.visibility,
            lab.window
        ),
    );
    let name = format!(
        "POST fail → no result, in {} after {} receives",
        lab.dlq_name, lab.max_receives
    );
    let people = list.people.clone();
    let check = fail_reaches_dlq(ctx, http, lab, wait, made, &people);
    list.record(timed(&name, check).await);
}

async fn timed(name: &str, check: impl std::future::Future<Output = Result<()>>) -> Step {
    let start = Instant::now();
    let result = check.await;
    Step {
        name: name.to_owned(),
        ok: result.is_ok(),
        ms: start.elapsed().as_millis() as u64,
        problem: result.err().map(|e| format!("{e:#}")),
    }
}

/// The static criteria, from the same diff `status` uses: one per kind that has one.
fn configuration_checks(engine: &Engine, observed: &Observed) -> Vec<(String, Option<String>)> {
    let changes = engine.plan(observed, false);
    resources::KINDS
        .iter()
        .filter_map(|k| k.verify_check().map(|what| (k.kind(), what)))
        .map(|(kind, what)| {
            let drift: Vec<String> = changes
                .iter()
                .filter(|c| c.id.kind == kind && c.action != Action::NoOp)
                .flat_map(|c| {
                    let fields: Vec<String> = c
                        .fields
                        .iter()
                        .map(|f| format!("{}: {}", c.id, crate::plan::render::field_line(f)))
                        .collect();
                    if fields.is_empty() {
                        vec![format!("{}: {:?}", c.id, c.action)]
                    } else {
                        fields
                    }
                })
                .collect();
            let problem = (!drift.is_empty())
                .then(|| format!("expected stack.toml's settings, saw {}", drift.join("; ")));
            (what.to_owned(), problem)
        })
        .collect()
}

fn int(r: &Resource, key: &str) -> Option<i64> {
    match r.setting(key) {
        Some(Setting::Int(n)) => Some(n),
        _ => None,
    }
}

/// Finds the exercise's parts from what stack.toml declares: the queue with a dead-letter
/// queue, the bucket, the POST route. (The exercise's checks move into stack.toml itself
/// with declared checks; until then they find the lab by its settings.)
fn lab(stack: &Stack, observed: &Observed) -> Result<Lab> {
    let live = |id: &ResourceId| {
        observed
            .get(id)
            .and_then(Option::as_ref)
            .map(|l| &l.outputs)
    };
    let (queue, dlq_id) = stack
        .resources
        .iter()
        .find_map(|r| match r.setting("dead_letter.queue") {
            Some(Setting::Reference(t)) => Some((r, t.references().next().map(|x| x.target()))),
            _ => None,
        })
        .context(
            "verify checks the exercise's lab: the stack needs a queue with a dead_letter queue",
        )?;
    let dlq_id =
        dlq_id.context("the dead_letter queue must be a ${queues.<name>.arn} reference")?;
    let bucket = stack
        .in_table("buckets")
        .next()
        .context("the stack needs a results bucket")?;
    let (api, route_path) = stack
        .resources
        .iter()
        .find_map(|r| match r.setting("routes") {
            Some(Setting::List(routes)) => routes
                .iter()
                .find_map(|route| route.strip_prefix("POST ").map(|p| (r, p.to_owned()))),
            _ => None,
        })
        .context("the stack needs an API with a POST route")?;
    let window = stack
        .resources
        .iter()
        .find_map(|r| int(r, "maximum_batching_window"))
        .unwrap_or(0);
    let url = |id: &ResourceId, key: &str| {
        live(id)
            .and_then(|o| o.get(key))
            .cloned()
            .ok_or_else(|| anyhow!("{id} has no {key}; run `exstack up` first"))
    };
    Ok(Lab {
        queue_url: url(queue.id(), "url")?,
        dlq_url: url(&dlq_id, "url")?,
        dlq_name: dlq_id.name.clone(),
        max_receives: int(queue, "dead_letter.max_receive_count").unwrap_or(1),
        visibility: int(queue, "visibility_timeout").unwrap_or(30),
        window,
        bucket: bucket.id().name.clone(),
        api_url: format!("{}{route_path}", url(api.id(), "url")?),
    })
}

/// POSTs a task and returns its message id, checking the 202.
async fn submit(http: &reqwest::Client, lab: &Lab, task: &Value) -> Result<String> {
    let answer = http
        .post(&lab.api_url)
        .json(task)
        .send()
        .await
        .with_context(|| format!("POST {}", lab.api_url))?;
    let status = answer.status();
    let body = answer.text().await.unwrap_or_default();
    if status.as_u16() != 202 {
        bail!(
            "expected 202 from POST {}, saw {status}: {body}",
            lab.api_url
        );
    }
    let parsed: Value =
        serde_json::from_str(&body).with_context(|| format!("the 202 body is not JSON: {body}"))?;
    parsed["message_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("expected a message_id in the 202 body, saw {body}"))
}

/// Polls for `results/<id>.json` until the deadline.
async fn result_of(ctx: &Ctx, lab: &Lab, id: &str, deadline: Duration) -> Result<Value> {
    let key = format!("results/{id}.json");
    let start = Instant::now();
    loop {
        let got = ctx
            .s3
            .get_object()
            .bucket(&lab.bucket)
            .key(&key)
            .send()
            .await
            .aws("GetObject");
        match got {
            Ok(object) => {
                let bytes = object
                    .body
                    .collect()
                    .await
                    .context("reading the result")?
                    .into_bytes();
                return serde_json::from_slice(&bytes)
                    .with_context(|| format!("{key} is not JSON"));
            }
            Err(e) if e.is_not_found() || e.has_code(&["NoSuchKey"]) => {}
            Err(e) => return Err(e.into()),
        }
        if start.elapsed() > deadline {
            bail!(
                "expected s3://{}/{key} within {}s, saw nothing",
                lab.bucket,
                deadline.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn task_round_trip(
    ctx: &Ctx,
    http: &reqwest::Client,
    lab: &Lab,
    task: &Value,
    expect: &Value,
    deadline: Duration,
    made: &mut Vec<String>,
) -> Result<()> {
    let id = submit(http, lab, task).await?;
    made.push(id.clone());
    let result = result_of(ctx, lab, &id, deadline).await?;
    let mut wrong = Vec::new();
    for (k, v) in expect.as_object().into_iter().flatten() {
        let seen = &result[k];
        let equal = match (v.as_f64(), seen.as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-9,
            _ => v == seen,
        };
        if !equal {
            wrong.push(format!("{k}: expected {v}, saw {seen}"));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        bail!("{}", wrong.join("; "))
    }
}

async fn many_tasks(
    ctx: &Ctx,
    http: &reqwest::Client,
    lab: &Lab,
    deadline: Duration,
    made: &mut Vec<String>,
) -> Result<()> {
    let tasks: Vec<Value> = (1..=5)
        .map(|i| json!({"task_type": "compute", "data": {"numbers": [i * 10, i * 20, i * 30]}}))
        .collect();
    let ids = futures::future::join_all(tasks.iter().map(|t| submit(http, lab, t))).await;
    let ids: Vec<String> = ids.into_iter().collect::<Result<_>>()?;
    made.extend(ids.iter().cloned());
    let results =
        futures::future::join_all(ids.iter().map(|id| result_of(ctx, lab, id, deadline))).await;
    let sums: Vec<i64> = results
        .into_iter()
        .map(|r| r.map(|v| v["sum"].as_i64().unwrap_or(-1)))
        .collect::<Result<_>>()?;
    let expected: Vec<i64> = (1..=5).map(|i| i * 60).collect();
    if sums != expected {
        bail!("expected sums {expected:?}, saw {sums:?}");
    }
    Ok(())
}

/// A `fail` task must produce no result and end in the dead-letter queue. It carries a marker
/// so we find (and delete) exactly our message, never a student's.
async fn fail_reaches_dlq(
    ctx: &Ctx,
    http: &reqwest::Client,
    lab: &Lab,
    wait: Duration,
    made: &mut Vec<String>,
    people: &Printer,
) -> Result<()> {
    let marker = unique_marker();
    let task = json!({"task_type": "fail", "data": {"exstack_verify": marker}});
    let id = submit(http, lab, &task).await?;
    made.push(id.clone());
    let start = Instant::now();
    let mut last_report = Instant::now();
    while !take_dead_letter(ctx, lab, &marker).await? {
        if start.elapsed() > wait {
            return Err(not_in_dead_letter_queue(ctx, lab, wait).await);
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            let (waited, bound) = (start.elapsed().as_secs(), wait.as_secs());
            people.notice("Waiting", format_args!("{waited}s of up to {bound}s"));
            last_report = Instant::now();
        }
    }
    if result_of(ctx, lab, &id, Duration::ZERO).await.is_ok() {
        bail!("the failing task produced a result, expected none");
    }
    Ok(())
}

/// Unique across runs and machines, so two verifies of one lab never take each other's
/// dead letter: the time in nanoseconds, the process and a counter.
fn unique_marker() -> String {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("exstack-verify-{nanos}-{}-{n}", std::process::id())
}

/// Looks for our message in the dead-letter queue once (a second's long poll), deleting it
/// when found.
async fn take_dead_letter(ctx: &Ctx, lab: &Lab, marker: &str) -> Result<bool> {
    // Visibility 0: looking must not hide anyone else's dead letters.
    let got = ctx
        .sqs
        .receive_message()
        .queue_url(&lab.dlq_url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .wait_time_seconds(1)
        .send()
        .await
        .aws("ReceiveMessage")?;
    let ours = got
        .messages()
        .iter()
        .find(|m| m.body().is_some_and(|b| b.contains(marker)));
    let Some(message) = ours else {
        return Ok(false);
    };
    if let Some(handle) = message.receipt_handle() {
        ctx.sqs
            .delete_message()
            .queue_url(&lab.dlq_url)
            .receipt_handle(handle)
            .send()
            .await
            .aws("DeleteMessage")?;
    }
    Ok(true)
}

/// Why the failing task was not found, with how many messages the task queue still holds.
async fn not_in_dead_letter_queue(ctx: &Ctx, lab: &Lab, wait: Duration) -> anyhow::Error {
    let queue = ctx
        .sqs
        .get_queue_attributes()
        .queue_url(&lab.queue_url)
        .attribute_names(
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )
        .send()
        .await
        .aws("GetQueueAttributes");
    let in_flight: HashMap<_, _> = match queue {
        Ok(q) => q.attributes().cloned().unwrap_or_default(),
        Err(e) => return e.into(),
    };
    anyhow!(
        "expected the failing task in {} within {}s, saw nothing there (task queue in flight: {:?})",
        lab.dlq_name,
        wait.as_secs(),
        in_flight.values().next()
    )
}

/// Deletes exactly the results this run produced.
async fn cleanup(ctx: &Ctx, lab: &Lab, made: &[String]) {
    for id in made {
        let _ = ctx
            .s3
            .delete_object()
            .bucket(&lab.bucket)
            .key(format!("results/{id}.json"))
            .send()
            .await;
    }
}

#[cfg(test)]
mod marker_tests {
    #[test]
    fn markers_differ_within_one_process_and_one_instant() {
        let (a, b) = (super::unique_marker(), super::unique_marker());
        assert_ne!(a, b);
        assert!(a.starts_with("exstack-verify-"));
    }
}
