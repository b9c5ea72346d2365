//! Convergence from any state (issue 7, point 1).
//!
//! - `random_damage_converges`: for many seeds, a converged lab is damaged out of band — a
//!   random subset of resources deleted and random fields changed, as a student at the AWS CLI
//!   would — then `status` must see it (exit 3), `up` succeeds, `status` is clean, a second
//!   `up` makes zero writes, and nothing is duplicated. Seeds run until a time budget is spent
//!   (`EXSTACK_SEED_SECS`, default 90) and at least `EXSTACK_MIN_SEEDS` (default 50) have run,
//!   in `EXSTACK_SEED_LABS` labs at once (default 3), from `EXSTACK_SEED_BASE` (default: from
//!   the clock). A failure names its seed; `EXSTACK_SEED=<n>` replays just that one. It steers
//!   around two known issues (see above `one_seed`); `random_damage_converges_strict`
//!   (ignored until they are fixed) does not.
//! - `partial_stacks_converge`: for every prefix of a creation order (resources 0..i exist,
//!   the rest were deleted out of band), `up` converges the same way.
//!
//! Helpers here (`command`, `converged`, `no_duplicates`) are shared with `interrupt.rs`.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_apigateway::types::{Op, PatchOperation};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::util::{Clients, Lab, Rng, Run, run};

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// The exstack binary for `lab`, with the same clean environment as `Lab::exstack`.
pub(crate) fn command(lab: &Lab, args: &[&str]) -> Command {
    lab.command(args)
}

/// Runs exstack with extra environment variables.
pub(crate) fn exstack_env(lab: &Lab, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = command(lab, args);
    cmd.envs(env.iter().copied());
    run(cmd)
}

/// A run, briefly: for JSON output only the outcomes that are neither done nor unchanged.
fn show(what: &str, run: &Run) -> String {
    let out = match serde_json::from_str::<serde_json::Value>(&run.stdout) {
        Ok(json) if json["outcomes"].is_array() => {
            let odd: Vec<String> = json["outcomes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|o| !matches!(o["result"]["status"].as_str(), Some("done" | "unchanged")))
                .map(|o| format!("  {} {}: {}", o["id"], o["action"], o["result"]))
                .collect();
            format!("{}\n  calls: {}", odd.join("\n"), json["calls"])
        }
        _ => run.stdout.chars().take(4000).collect(),
    };
    format!(
        "{what}: exit {}\nstdout:\n{out}\nstderr:\n{}",
        run.code, run.stderr
    )
}

/// `up` succeeds, `status` is clean, a second `up` writes nothing, and nothing is duplicated.
/// Returns the first `up`'s JSON.
pub(crate) async fn converged(lab: &Lab, c: &Clients) -> Result<serde_json::Value, String> {
    let up = lab.exstack(&["up", "-o", "json"]);
    if up.code != 0 {
        return Err(show("up did not succeed", &up));
    }
    let first = up.json();
    let status = lab.exstack(&["status"]);
    if status.code != 0 {
        let mut states = Vec::new();
        for uuid in mapping_uuids(lab, c).await {
            if let Ok(m) = c.lambda.get_event_source_mapping().uuid(&uuid).send().await {
                states.push(format!(
                    "{:?} ({:?})",
                    m.state(),
                    m.state_transition_reason()
                ));
            }
        }
        return Err(format!(
            "{}\nmapping state now: {states:?}",
            show("status not clean after up", &status)
        ));
    }
    let again = lab.exstack(&["up", "-o", "json"]);
    if again.code != 0 {
        return Err(show("second up did not succeed", &again));
    }
    let calls = &again.json()["calls"];
    if calls["writes"] != 0 {
        return Err(format!(
            "second up wrote: {}\nfirst up: {}",
            show("second up", &again),
            first["calls"]
        ));
    }
    no_duplicates(lab, c).await?;
    Ok(first)
}

/// Exactly one REST API with the lab's name (CreateRestApi is not idempotent), one event
/// source mapping on the processor, one API Gateway permission on api-enqueue.
pub(crate) async fn no_duplicates(lab: &Lab, c: &Clients) -> Result<(), String> {
    let apis = api_ids(lab, c).await;
    if apis.len() != 1 {
        return Err(format!(
            "{} REST APIs named {}: {apis:?}",
            apis.len(),
            lab.name("task-api")
        ));
    }
    let mappings = mapping_uuids(lab, c).await;
    if mappings.len() != 1 {
        return Err(format!(
            "{} event source mappings on the processor: {mappings:?}",
            mappings.len()
        ));
    }
    let sids = permission_sids(c, &lab.name("api-enqueue")).await;
    if sids.len() != 1 {
        return Err(format!(
            "{} permissions on api-enqueue: {sids:?}",
            sids.len()
        ));
    }
    Ok(())
}

pub(crate) async fn api_ids(lab: &Lab, c: &Clients) -> Vec<String> {
    let name = lab.name("task-api");
    let apis = c
        .apigateway
        .get_rest_apis()
        .limit(500)
        .send()
        .await
        .expect("GetRestApis");
    apis.items()
        .iter()
        .filter(|a| a.name() == Some(name.as_str()))
        .filter_map(|a| a.id().map(str::to_owned))
        .collect()
}

pub(crate) async fn mapping_uuids(lab: &Lab, c: &Clients) -> Vec<String> {
    let listed = c
        .lambda
        .list_event_source_mappings()
        .function_name(lab.name("task-processor"))
        .send()
        .await;
    match listed {
        Ok(l) => l
            .event_source_mappings()
            .iter()
            .filter_map(|m| m.uuid().map(str::to_owned))
            .collect(),
        Err(_) => Vec::new(),
    }
}

async fn permission_sids(c: &Clients, function: &str) -> Vec<String> {
    let Ok(p) = c.lambda.get_policy().function_name(function).send().await else {
        return Vec::new();
    };
    let doc: serde_json::Value =
        serde_json::from_str(p.policy().unwrap_or("{}")).unwrap_or_default();
    doc["Statement"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter_map(|st| st["Sid"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Choices on top of the shared generator.
trait Choose {
    fn chance(&mut self, p: f64) -> bool;
    fn pick<T: Copy>(&mut self, from: &[T]) -> T;
}

impl Choose for Rng {
    fn chance(&mut self, p: f64) -> bool {
        self.unit() <= p
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

// ---------------------------------------------------------------------------------------------
// Out-of-band damage

/// The repo stack's resources, by their unsuffixed names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Res {
    Dlq,
    Queue,
    Bucket,
    SqsPolicy,
    ApiPolicy,
    SqsRole,
    ApiRole,
    Processor,
    Enqueue,
    Mapping,
    Api,
}

/// Dependents before what they depend on: the order a student must delete in.
const TEARDOWN: [Res; 11] = [
    Res::Mapping,
    Res::Api,
    Res::Processor,
    Res::Enqueue,
    Res::SqsRole,
    Res::ApiRole,
    Res::SqsPolicy,
    Res::ApiPolicy,
    Res::Bucket,
    Res::Queue,
    Res::Dlq,
];

impl Res {
    fn name(self) -> &'static str {
        match self {
            Res::Dlq => "task-dlq",
            Res::Queue => "task-queue",
            Res::Bucket => "task-results",
            Res::SqsPolicy => "SQSProcessorPolicy",
            Res::ApiPolicy => "ApiEnqueuePolicy",
            Res::SqsRole => "lambda-sqs-processor",
            Res::ApiRole => "lambda-api-enqueue",
            Res::Processor => "task-processor",
            Res::Enqueue => "api-enqueue",
            Res::Mapping => "task-queue-to-processor",
            Res::Api => "task-api",
        }
    }

    /// From an outcome id such as `queues.task-dlq-<suffix>`.
    fn from_id(id: &str, suffix: &str) -> Res {
        let name = id
            .split_once('.')
            .map(|(_, n)| n)
            .and_then(|n| n.strip_suffix(&format!("-{suffix}")))
            .unwrap_or_else(|| panic!("unexpected outcome id {id}"));
        *TEARDOWN
            .iter()
            .find(|r| r.name() == name)
            .unwrap_or_else(|| panic!("unknown resource {id}"))
    }
}

/// One out-of-band change. Every one of them is drift `status` must report.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Damage {
    Delete(Res),
    /// Delete the mapping and wait until it is no longer listed.
    DeleteMappingAndWait,
    VisibilityTimeout(Res, u32),
    Retention(Res, u32),
    MaxReceiveCount(u32),
    RemoveRedrive,
    EnvChange(Res, &'static str),
    EnvRemove(Res, &'static str),
    EnvAdd(Res),
    Code(Res),
    Timeout(Res, i32),
    Memory(Res, i32),
    Handler(Res),
    DetachPolicy(Res),
    TrustPolicy(Res),
    PolicyVersion(Res, u64),
    MappingBatchSize(i32),
    MappingWindow(i32),
    MappingDisable,
    DeleteIntegration,
    DeleteMethod,
    DeleteRouteResource,
    DeleteStage,
    RedeployByHand,
    RemovePermission,
    ApiDescription,
}

/// What seed `seed` does to a converged lab.
fn plan_damage(seed: u64, steer: bool) -> Vec<Damage> {
    use Damage::*;
    let mut rng = Rng::new(seed);
    let p_delete = rng.pick(&[0.0, 0.1, 0.2, 0.35, 0.6, 1.0]);
    let p_change = rng.pick(&[0.05, 0.15, 0.3, 0.5]);
    let mut changes = Vec::new();
    let mut maybe = |rng: &mut Rng, d: Damage| {
        if rng.chance(p_change) {
            changes.push(d);
        }
    };
    let v = rng.pick(&[0, 10, 30, 120, 900]);
    maybe(&mut rng, VisibilityTimeout(Res::Queue, v));
    let v = rng.pick(&[0, 10, 60, 120]);
    maybe(&mut rng, VisibilityTimeout(Res::Dlq, v));
    for q in [Res::Queue, Res::Dlq] {
        let r = rng.pick(&[60, 3600, 86400, 1_209_600]);
        maybe(&mut rng, Retention(q, r));
    }
    if rng.chance(0.5) {
        let n = rng.pick(&[1, 2, 4, 5, 10]);
        maybe(&mut rng, MaxReceiveCount(n));
    } else {
        maybe(&mut rng, RemoveRedrive);
    }
    for f in [Res::Processor, Res::Enqueue] {
        let key = if f == Res::Processor {
            "RESULTS_BUCKET"
        } else {
            "QUEUE_URL"
        };
        let key = rng.pick(&[key, "AWS_ENDPOINT_URL"]);
        maybe(&mut rng, EnvChange(f, key));
        maybe(&mut rng, EnvRemove(f, key));
        maybe(&mut rng, EnvAdd(f));
        maybe(&mut rng, Code(f));
        let t = rng.pick(&[3, 10, 60, 300]);
        maybe(&mut rng, Timeout(f, t));
        let m = rng.pick(&[256, 512, 1024]);
        maybe(&mut rng, Memory(f, m));
        maybe(&mut rng, Handler(f));
    }
    for r in [Res::SqsRole, Res::ApiRole] {
        maybe(&mut rng, DetachPolicy(r));
        maybe(&mut rng, TrustPolicy(r));
    }
    for p in [Res::SqsPolicy, Res::ApiPolicy] {
        let salt = rng.next() % 1_000_000;
        maybe(&mut rng, PolicyVersion(p, salt));
    }
    let b = rng.pick(&[1, 2, 10, 100]);
    maybe(&mut rng, MappingBatchSize(b));
    // Neither 10 (the exercise's) nor 1 (the random-damage labs'), nor 0: SQS wants a
    // window above 0 for batches above 10.
    let w = rng.pick(&[2, 5, 30, 300]);
    maybe(&mut rng, MappingWindow(w));
    maybe(&mut rng, MappingDisable);
    // Deploying by hand needs the route whole: before any change to it.
    maybe(&mut rng, DeleteStage);
    maybe(&mut rng, RedeployByHand);
    // One change to the route at most: each of these supersedes the one before.
    let route = rng.pick(&[
        None,
        Some(DeleteIntegration),
        Some(DeleteMethod),
        Some(DeleteRouteResource),
    ]);
    if let Some(d) = route {
        maybe(&mut rng, d);
    }
    maybe(&mut rng, RemovePermission);
    maybe(&mut rng, ApiDescription);

    let mut deleted: Vec<Res> = TEARDOWN
        .iter()
        .copied()
        .filter(|_| rng.chance(p_delete))
        .collect();
    // Steering around a known issue (see `one_seed`): the mapping goes with its function.
    if steer && deleted.contains(&Res::Processor) && !deleted.contains(&Res::Mapping) {
        deleted.insert(0, Res::Mapping);
    }
    // Changes to what is deleted anyway are moot.
    let touches = |d: &Damage, r: Res| match d {
        VisibilityTimeout(q, _) | Retention(q, _) => *q == r,
        MaxReceiveCount(_) | RemoveRedrive => r == Res::Queue,
        EnvChange(f, _)
        | EnvRemove(f, _)
        | EnvAdd(f)
        | Code(f)
        | Timeout(f, _)
        | Memory(f, _)
        | Handler(f) => *f == r,
        DetachPolicy(x) | TrustPolicy(x) | PolicyVersion(x, _) => *x == r,
        MappingBatchSize(_) | MappingWindow(_) | MappingDisable => r == Res::Mapping,
        RemovePermission => r == Res::Enqueue || r == Res::Api,
        _ => r == Res::Api,
    };
    changes.retain(|d| !deleted.iter().any(|r| touches(d, *r)));
    let mut all = changes;
    all.extend(deleted.into_iter().map(|r| match r {
        // Gone for good before the function goes (LocalStack deletes mappings asynchronously).
        Res::Mapping if steer => DeleteMappingAndWait,
        r => Delete(r),
    }));
    if all.is_empty() {
        all.push(rng.pick(&[
            MaxReceiveCount(7),
            Delete(Res::Api),
            Delete(Res::Bucket),
            Code(Res::Processor),
            DetachPolicy(Res::ApiRole),
            DeleteMethod,
        ]));
    }
    all
}

fn arn_of_policy(lab: &Lab, p: Res) -> String {
    format!("arn:aws:iam::000000000000:policy/{}", lab.name(p.name()))
}

fn policy_for_role(r: Res) -> Res {
    if r == Res::SqsRole {
        Res::SqsPolicy
    } else {
        Res::ApiPolicy
    }
}

/// Waits until Lambda accepts the next change to `function` (LastUpdateStatus not InProgress).
async fn function_settled(c: &Clients, function: &str) {
    for _ in 0..200 {
        let Ok(cfg) = c
            .lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
        else {
            return;
        };
        let busy = cfg.last_update_status().map(|s| s.as_str()) == Some("InProgress")
            || cfg.state().map(|s| s.as_str()) == Some("Pending");
        if !busy {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn env_of(c: &Clients, function: &str) -> HashMap<String, String> {
    let cfg = c
        .lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .expect("GetFunctionConfiguration");
    cfg.environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default()
}

async fn set_env(c: &Clients, function: &str, vars: HashMap<String, String>) {
    let env = aws_sdk_lambda::types::Environment::builder()
        .set_variables(Some(vars))
        .build();
    c.lambda
        .update_function_configuration()
        .function_name(function)
        .environment(env)
        .send()
        .await
        .expect("UpdateFunctionConfiguration");
}

async fn mapping(lab: &Lab, c: &Clients) -> String {
    mapping_uuids(lab, c)
        .await
        .into_iter()
        .next()
        .expect("a mapping")
}

async fn the_api(lab: &Lab, c: &Clients) -> String {
    api_ids(lab, c)
        .await
        .into_iter()
        .next()
        .expect("the REST API")
}

async fn apply(lab: &Lab, c: &Clients, d: &Damage) {
    use Damage::*;
    match *d {
        Delete(r) => delete(lab, c, r).await,
        DeleteMappingAndWait => {
            delete(lab, c, Res::Mapping).await;
            let t = Instant::now();
            while !mapping_uuids(lab, c).await.is_empty() && t.elapsed() < Duration::from_secs(30) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        VisibilityTimeout(q, v) => {
            set_queue_attr(
                lab,
                c,
                q,
                QueueAttributeName::VisibilityTimeout,
                v.to_string(),
            )
            .await
        }
        Retention(q, v) => {
            set_queue_attr(
                lab,
                c,
                q,
                QueueAttributeName::MessageRetentionPeriod,
                v.to_string(),
            )
            .await
        }
        MaxReceiveCount(n) => {
            let dlq = format!(
                "arn:aws:sqs:us-east-1:000000000000:{}",
                lab.name("task-dlq")
            );
            let policy = format!(r#"{{"deadLetterTargetArn":"{dlq}","maxReceiveCount":"{n}"}}"#);
            set_queue_attr(
                lab,
                c,
                Res::Queue,
                QueueAttributeName::RedrivePolicy,
                policy,
            )
            .await
        }
        RemoveRedrive => {
            set_queue_attr(
                lab,
                c,
                Res::Queue,
                QueueAttributeName::RedrivePolicy,
                String::new(),
            )
            .await
        }
        EnvChange(f, key) => {
            let name = lab.name(f.name());
            let mut vars = env_of(c, &name).await;
            vars.insert(key.into(), "http://wrong.example".into());
            set_env(c, &name, vars).await;
            function_settled(c, &name).await;
        }
        EnvRemove(f, key) => {
            let name = lab.name(f.name());
            let mut vars = env_of(c, &name).await;
            vars.remove(key);
            set_env(c, &name, vars).await;
            function_settled(c, &name).await;
        }
        EnvAdd(f) => {
            let name = lab.name(f.name());
            let mut vars = env_of(c, &name).await;
            vars.insert("DEBUG".into(), "1".into());
            set_env(c, &name, vars).await;
            function_settled(c, &name).await;
        }
        Code(f) => {
            let name = lab.name(f.name());
            c.replace_code(&name, "edited.py").await;
            function_settled(c, &name).await;
        }
        Timeout(f, t) => {
            let name = lab.name(f.name());
            c.lambda
                .update_function_configuration()
                .function_name(&name)
                .timeout(t)
                .send()
                .await
                .expect("UpdateFunctionConfiguration timeout");
            function_settled(c, &name).await;
        }
        Memory(f, m) => {
            let name = lab.name(f.name());
            c.lambda
                .update_function_configuration()
                .function_name(&name)
                .memory_size(m)
                .send()
                .await
                .expect("UpdateFunctionConfiguration memory");
            function_settled(c, &name).await;
        }
        Handler(f) => {
            let name = lab.name(f.name());
            c.lambda
                .update_function_configuration()
                .function_name(&name)
                .handler("main.handler")
                .send()
                .await
                .expect("UpdateFunctionConfiguration handler");
            function_settled(c, &name).await;
        }
        DetachPolicy(r) => {
            c.iam
                .detach_role_policy()
                .role_name(lab.name(r.name()))
                .policy_arn(arn_of_policy(lab, policy_for_role(r)))
                .send()
                .await
                .expect("DetachRolePolicy");
        }
        TrustPolicy(r) => {
            let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"apigateway.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
            c.iam
                .update_assume_role_policy()
                .role_name(lab.name(r.name()))
                .policy_document(doc)
                .send()
                .await
                .expect("UpdateAssumeRolePolicy");
        }
        PolicyVersion(p, salt) => {
            let arn = arn_of_policy(lab, p);
            let versions = c
                .iam
                .list_policy_versions()
                .policy_arn(&arn)
                .send()
                .await
                .expect("ListPolicyVersions");
            let old: Vec<&str> = versions
                .versions()
                .iter()
                .filter(|v| !v.is_default_version())
                .filter_map(|v| v.version_id())
                .collect();
            // At IAM's limit of five a student deletes one first, as would anyone.
            if versions.versions().len() >= 5 {
                c.iam
                    .delete_policy_version()
                    .policy_arn(&arn)
                    .version_id(old[0])
                    .send()
                    .await
                    .expect("DeletePolicyVersion");
            }
            let doc = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"s{salt}","Effect":"Allow","Action":"sqs:*","Resource":"*"}}]}}"#
            );
            c.iam
                .create_policy_version()
                .policy_arn(&arn)
                .policy_document(doc)
                .set_as_default(true)
                .send()
                .await
                .expect("CreatePolicyVersion");
        }
        MappingBatchSize(b) => {
            let uuid = mapping(lab, c).await;
            update_mapping(c, &uuid, |u| u.batch_size(b)).await;
        }
        MappingWindow(w) => {
            let uuid = mapping(lab, c).await;
            update_mapping(c, &uuid, |u| u.maximum_batching_window_in_seconds(w)).await;
        }
        MappingDisable => {
            let uuid = mapping(lab, c).await;
            update_mapping(c, &uuid, |u| u.enabled(false)).await;
        }
        DeleteIntegration | DeleteMethod | DeleteRouteResource => {
            let api = the_api(lab, c).await;
            let resource = c.tasks_route_id(&api).await.expect("/tasks");
            let ag = &c.apigateway;
            match d {
                DeleteIntegration => {
                    ag.delete_integration()
                        .rest_api_id(&api)
                        .resource_id(&resource)
                        .http_method("POST")
                        .send()
                        .await
                        .expect("DeleteIntegration");
                }
                DeleteMethod => {
                    ag.delete_method()
                        .rest_api_id(&api)
                        .resource_id(&resource)
                        .http_method("POST")
                        .send()
                        .await
                        .expect("DeleteMethod");
                }
                _ => {
                    ag.delete_resource()
                        .rest_api_id(&api)
                        .resource_id(&resource)
                        .send()
                        .await
                        .expect("DeleteResource");
                }
            }
        }
        DeleteStage => {
            let api = the_api(lab, c).await;
            c.apigateway
                .delete_stage()
                .rest_api_id(&api)
                .stage_name("dev")
                .send()
                .await
                .expect("DeleteStage");
        }
        RedeployByHand => {
            let api = the_api(lab, c).await;
            c.apigateway
                .create_deployment()
                .rest_api_id(&api)
                .stage_name("dev")
                .description("by hand")
                .send()
                .await
                .expect("CreateDeployment");
        }
        RemovePermission => {
            let function = lab.name("api-enqueue");
            for sid in permission_sids(c, &function).await {
                c.lambda
                    .remove_permission()
                    .function_name(&function)
                    .statement_id(sid)
                    .send()
                    .await
                    .expect("RemovePermission");
            }
        }
        ApiDescription => {
            let api = the_api(lab, c).await;
            c.apigateway
                .update_rest_api()
                .rest_api_id(&api)
                .patch_operations(
                    PatchOperation::builder()
                        .op(Op::Replace)
                        .path("/description")
                        .value("edited by hand")
                        .build(),
                )
                .send()
                .await
                .expect("UpdateRestApi");
        }
    }
}

async fn update_mapping<F>(c: &Clients, uuid: &str, set: F)
where
    F: FnOnce(
        aws_sdk_lambda::operation::update_event_source_mapping::builders::UpdateEventSourceMappingFluentBuilder,
    ) -> aws_sdk_lambda::operation::update_event_source_mapping::builders::UpdateEventSourceMappingFluentBuilder,
{
    mapping_settled(c, uuid).await;
    set(c.lambda.update_event_source_mapping().uuid(uuid))
        .send()
        .await
        .expect("UpdateEventSourceMapping");
    mapping_settled(c, uuid).await;
}

async fn mapping_settled(c: &Clients, uuid: &str) {
    for _ in 0..200 {
        let Ok(m) = c.lambda.get_event_source_mapping().uuid(uuid).send().await else {
            return;
        };
        if !matches!(
            m.state(),
            Some("Creating" | "Updating" | "Enabling" | "Disabling")
        ) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn set_queue_attr(lab: &Lab, c: &Clients, q: Res, name: QueueAttributeName, v: String) {
    let url = c.queue_url(&lab.name(q.name())).await;
    c.sqs
        .set_queue_attributes()
        .queue_url(url)
        .attributes(name, v)
        .send()
        .await
        .expect("SetQueueAttributes");
}

/// Deletes one resource out of band, as far as it exists.
async fn delete(lab: &Lab, c: &Clients, r: Res) {
    let name = lab.name(r.name());
    match r {
        Res::Dlq | Res::Queue => {
            if let Ok(u) = c.sqs.get_queue_url().queue_name(&name).send().await {
                c.sqs
                    .delete_queue()
                    .queue_url(u.queue_url().unwrap())
                    .send()
                    .await
                    .expect("DeleteQueue");
            }
        }
        Res::Bucket => {
            if let Ok(list) = c.s3.list_objects_v2().bucket(&name).send().await {
                for o in list.contents() {
                    c.s3.delete_object()
                        .bucket(&name)
                        .key(o.key().unwrap())
                        .send()
                        .await
                        .expect("DeleteObject");
                }
                c.s3.delete_bucket()
                    .bucket(&name)
                    .send()
                    .await
                    .expect("DeleteBucket");
            }
        }
        Res::SqsPolicy | Res::ApiPolicy => {
            let arn = arn_of_policy(lab, r);
            let Ok(entities) = c
                .iam
                .list_entities_for_policy()
                .policy_arn(&arn)
                .send()
                .await
            else {
                return;
            };
            for role in entities.policy_roles() {
                c.iam
                    .detach_role_policy()
                    .role_name(role.role_name().unwrap())
                    .policy_arn(&arn)
                    .send()
                    .await
                    .expect("DetachRolePolicy");
            }
            let versions = c
                .iam
                .list_policy_versions()
                .policy_arn(&arn)
                .send()
                .await
                .expect("ListPolicyVersions");
            for v in versions
                .versions()
                .iter()
                .filter(|v| !v.is_default_version())
            {
                c.iam
                    .delete_policy_version()
                    .policy_arn(&arn)
                    .version_id(v.version_id().unwrap())
                    .send()
                    .await
                    .expect("DeletePolicyVersion");
            }
            c.iam
                .delete_policy()
                .policy_arn(&arn)
                .send()
                .await
                .expect("DeletePolicy");
        }
        Res::SqsRole | Res::ApiRole => {
            let Ok(attached) = c
                .iam
                .list_attached_role_policies()
                .role_name(&name)
                .send()
                .await
            else {
                return;
            };
            for p in attached.attached_policies() {
                c.iam
                    .detach_role_policy()
                    .role_name(&name)
                    .policy_arn(p.policy_arn().unwrap())
                    .send()
                    .await
                    .expect("DetachRolePolicy");
            }
            c.iam
                .delete_role()
                .role_name(&name)
                .send()
                .await
                .expect("DeleteRole");
        }
        Res::Processor | Res::Enqueue => {
            if c.lambda
                .get_function()
                .function_name(&name)
                .send()
                .await
                .is_ok()
            {
                c.lambda
                    .delete_function()
                    .function_name(&name)
                    .send()
                    .await
                    .expect("DeleteFunction");
            }
        }
        Res::Mapping => {
            for uuid in mapping_uuids(lab, c).await {
                mapping_settled(c, &uuid).await;
                c.lambda
                    .delete_event_source_mapping()
                    .uuid(uuid)
                    .send()
                    .await
                    .expect("DeleteEventSourceMapping");
            }
        }
        Res::Api => {
            for id in api_ids(lab, c).await {
                c.apigateway
                    .delete_rest_api()
                    .rest_api_id(id)
                    .send()
                    .await
                    .expect("DeleteRestApi");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The tests

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

// Known exstack issues the default run steers around (the strict run does not; see the
// `#[ignore]` reason and `plan_damage(_, steer)`):
// - an event source mapping whose function was deleted out of band is judged "not owned"
//   (its owner is read from the function's tags), so `up` refuses it: the default run deletes
//   the mapping along with the processor;
// - on LocalStack, ListEventSourceMappings reports a stale `State` (a stopped poller writes
//   "Disabled" over the live worker's "Enabled" up to a batching window after an update), so
//   `status` can report `Enabled: false → true` on a mapping that is enabled: the default run
//   waits for the listed state to agree and converges again (counted as a flap).

/// Whether the mapping's listed state is not (yet) the one GetEventSourceMapping reports.
async fn mapping_state_stale(lab: &Lab, c: &Clients) -> bool {
    let Ok(listed) = c
        .lambda
        .list_event_source_mappings()
        .function_name(lab.name("task-processor"))
        .send()
        .await
    else {
        return false;
    };
    for m in listed.event_source_mappings() {
        let Some(uuid) = m.uuid() else { continue };
        if let Ok(got) = c.lambda.get_event_source_mapping().uuid(uuid).send().await
            && got.state() != m.state()
        {
            return true;
        }
    }
    false
}

pub(crate) static MAPPING_FLAPS: AtomicU64 = AtomicU64::new(0);

/// `converged`, except that a failure caused by LocalStack's stale listed mapping state is
/// waited out (up to 30 s) and retried, at most twice.
pub(crate) async fn converged_past_mapping_flaps(lab: &Lab, c: &Clients) -> Result<(), String> {
    let mut tries = 0;
    loop {
        let result = converged(lab, c).await;
        let Err(e) = &result else { return Ok(()) };
        let flap = e.contains("Enabled: false → true")
            || e.contains("UpdateEventSourceMapping")
            || mapping_state_stale(lab, c).await;
        if !flap || tries == 2 {
            return result.map(|_| ());
        }
        tries += 1;
        MAPPING_FLAPS.fetch_add(1, Ordering::SeqCst);
        let t = Instant::now();
        while mapping_state_stale(lab, c).await && t.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// One seed on a converged lab: damage, check `status` sees it, then converge.
async fn one_seed(lab: &Lab, c: &Clients, seed: u64, strict: bool) -> Result<(), String> {
    let damage = plan_damage(seed, !strict);
    let applied = async {
        for d in &damage {
            apply(lab, c, d).await;
        }
    };
    // A panic in an SDK call is a failed seed too, reported with the seed.
    if let Err(e) = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(applied)).await {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        return Err(format!("damage {damage:?} could not be applied: {msg}"));
    }
    let status = lab.exstack(&["status"]);
    if status.code != 3 {
        return Err(format!(
            "damage {damage:?}: {}",
            show("status should report drift (exit 3)", &status)
        ));
    }
    let result = if strict {
        converged(lab, c).await.map(|_| ())
    } else {
        converged_past_mapping_flaps(lab, c).await
    };
    result.map_err(|e| format!("damage {damage:?}: {e}"))
}

/// Random out-of-band damage with nothing steered around.
#[test]
fn random_damage_converges() {
    random_damage(true);
}

fn random_damage(strict: bool) {
    let replay = env_u64("EXSTACK_SEED");
    let budget = Duration::from_secs(env_u64("EXSTACK_SEED_SECS").unwrap_or(90));
    let min_seeds = env_u64("EXSTACK_MIN_SEEDS").unwrap_or(50);
    let labs = match replay {
        Some(_) => 1,
        None => env_u64("EXSTACK_SEED_LABS").unwrap_or(3).max(1),
    };
    let base = replay.unwrap_or_else(|| {
        env_u64("EXSTACK_SEED_BASE").unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                % 1_000_000
                * 1000
        })
    });
    eprintln!(
        "random damage: seeds from {base}, budget {budget:?}, at least {min_seeds} seeds, {labs} labs"
    );
    let started = Instant::now();
    let next = AtomicU64::new(base);
    let done = AtomicU64::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for worker in 0..labs {
            let (next, done, failures) = (&next, &done, &failures);
            s.spawn(move || {
                let rt = runtime();
                let new_lab = || {
                    let lab = Lab::new(&format!("conv{worker}"));
                    // LocalStack finishes deleting a mapping only when its poller's long poll
                    // (the batching window) ends: 1 s instead of 10 keeps seeds short.
                    lab.edit_stack("batching_window = 10", "batching_window = 1");
                    lab
                };
                let mut lab = new_lab();
                let mut c = rt.block_on(lab.clients());
                if let Err(e) = rt.block_on(converged(&lab, &c)) {
                    failures.lock().unwrap().push(format!("initial up: {e}"));
                    return;
                }
                loop {
                    let more = match replay {
                        Some(_) => next.load(Ordering::SeqCst) == base,
                        None => {
                            started.elapsed() < budget || done.load(Ordering::SeqCst) < min_seeds
                        }
                    };
                    // A hard stop, should LocalStack crawl: three times the budget.
                    if !more || started.elapsed() > budget * 3 {
                        break;
                    }
                    let seed = next.fetch_add(1, Ordering::SeqCst);
                    if replay.is_some() && seed != base {
                        break;
                    }
                    let t = Instant::now();
                    let result = rt.block_on(one_seed(&lab, &c, seed, strict));
                    done.fetch_add(1, Ordering::SeqCst);
                    if let Err(e) = result {
                        eprintln!("seed {seed} FAILED after {:?}", t.elapsed());
                        failures.lock().unwrap().push(format!(
                            "seed {seed} (replay: EXSTACK_SEED={seed} cargo test --test tests convergence::random_damage_converges{}):\n{e}",
                            if strict { "_strict -- --ignored" } else { "" }
                        ));
                        // Start the next seed from a fresh, converged lab.
                        drop(lab);
                        lab = new_lab();
                        c = rt.block_on(lab.clients());
                        if let Err(e) = rt.block_on(converged(&lab, &c)) {
                            failures.lock().unwrap().push(format!("fresh lab after seed {seed}: {e}"));
                            return;
                        }
                    }
                }
                lab.exstack(&["down"]);
            });
        }
    });
    let ran = done.load(Ordering::SeqCst);
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "random damage{}: {ran} seeds ({base}..{}) in {:.1}s, {} failed, {} listed-mapping-state flaps waited out",
        if strict { " (strict)" } else { "" },
        base + ran,
        started.elapsed().as_secs_f64(),
        failures.len(),
        MAPPING_FLAPS.load(Ordering::SeqCst)
    );
    assert!(
        failures.is_empty(),
        "{} failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    if replay.is_none() {
        assert!(ran >= min_seeds, "only {ran} seeds ran");
    }
}

/// Every prefix of a creation order: resources 0..i exist, i.. were deleted out of band.
#[test]
fn partial_stacks_converge() {
    let rt = runtime();
    let probe = Lab::new("convorder");
    let up = probe.exstack(&["up", "-o", "json"]).ok().json();
    // Completion order is a creation order: nothing finishes before what it depends on.
    let order: Vec<Res> = up["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| Res::from_id(o["id"].as_str().unwrap(), &probe.suffix))
        .collect();
    assert_eq!(order.len(), 11, "{up}");
    probe.exstack(&["down"]).ok();
    drop(probe);
    eprintln!("creation order: {order:?}");

    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for worker in 0..2 {
            let (order, failures) = (&order, &failures);
            s.spawn(move || {
                let rt = runtime();
                let lab = Lab::new(&format!("convpre{worker}"));
                let c = rt.block_on(lab.clients());
                for keep in (worker..=order.len()).step_by(2) {
                    let t = Instant::now();
                    let result = rt.block_on(async {
                        if keep > 0 {
                            // A whole stack, then delete the rest, dependents first.
                            let up = lab.exstack(&["up"]);
                            if up.code != 0 {
                                return Err(show("setup up failed", &up));
                            }
                        }
                        let gone: Vec<Res> = order[keep..].to_vec();
                        for r in TEARDOWN.iter().filter(|r| gone.contains(r)) {
                            delete(&lab, &c, *r).await;
                        }
                        let prepared = t.elapsed();
                        converged(&lab, &c).await?;
                        let conv = t.elapsed() - prepared;
                        let down = lab.exstack(&["down"]);
                        if down.code != 0 {
                            return Err(show("down failed", &down));
                        }
                        eprintln!(
                            "prefix of {keep}: prepared in {:.1}s, converged in {:.1}s, down in {:.1}s",
                            prepared.as_secs_f64(),
                            conv.as_secs_f64(),
                            (t.elapsed() - prepared - conv).as_secs_f64()
                        );
                        Ok::<(), String>(())
                    });
                    if let Err(e) = result {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("prefix {:?}: {e}", &order[..keep]));
                    }
                }
            });
        }
    });
    drop(rt);
    eprintln!(
        "partial stacks: {} prefixes in {:.1}s",
        order.len() + 1,
        started.elapsed().as_secs_f64()
    );
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
