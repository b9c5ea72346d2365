//! Everything that talks to AWS starts here: where (endpoint, region), as whom (credentials),
//! and the one context that owns every client, built from one SDK config.

pub mod arn;
pub mod errors;
pub mod pacer;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::{Credentials, Intercept, SharedCredentialsProvider};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;

use errors::{AwsResult, Patience};
use pacer::Pacer;

pub const DEFAULT_ENDPOINT: &str = "http://localhost:4566";
pub const DEFAULT_REGION: &str = "us-east-1";

/// Names endpoints that are AWS emulators other than LocalStack (say, moto): a URL, or several
/// separated by commas. Only a named endpoint is acted on; see [`discover`].
pub const EMULATOR_ENV: &str = "EXSTACK_EMULATOR";

/// What implements the AWS APIs at the target. Everything that differs between them (URL
/// forms, patience, pacing) asks this, and only [`discover`] decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Answers LocalStack's health check: its invoke URLs and host names are available.
    LocalStack,
    /// MiniStack (PyPI `ministack`): answers its own health check, and LocalStack's too;
    /// serves LocalStack's path form of a stage URL and `{id}.execute-api.localhost`.
    MiniStack,
    /// Another implementation of the AWS APIs, named as one in `EXSTACK_EMULATOR`.
    Emulator,
    /// Real AWS, reached through the SDK's own endpoint resolution.
    Aws,
}

/// Where commands act. Real AWS only when asked for by name (`--aws` or `allow_aws`).
#[derive(Debug, Clone)]
pub struct Target {
    /// `None` means real AWS with the SDK's normal endpoint resolution.
    pub endpoint: Option<String>,
    pub region: String,
    /// On an emulator, the 12-digit account to act in, sent as the access key id (emulators
    /// take it as the account): one emulator then holds a lab per student. `None`: the
    /// emulator's default account. Never set for real AWS, where the credentials decide.
    pub account: Option<String>,
}

impl Target {
    pub fn is_aws(&self) -> bool {
        self.endpoint.is_none()
    }

    pub fn describe(&self) -> String {
        match (&self.endpoint, &self.account) {
            (Some(e), Some(a)) => format!("{e} account {a} ({})", self.region),
            (Some(e), None) => format!("{e} ({})", self.region),
            (None, _) => format!("AWS ({})", self.region),
        }
    }
}

/// Whether `text` is an account id an emulator takes as its access key: 12 digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Counts every AWS operation by name, split into reads and writes, so "a second `up`
/// makes zero writes" is something a test can check.
#[derive(Debug, Default)]
pub struct Calls {
    by_operation: Mutex<BTreeMap<String, u64>>,
    writes_done: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CallCounts {
    pub reads: u64,
    pub writes: u64,
    pub by_operation: BTreeMap<String, u64>,
}

impl Calls {
    fn record(&self, service: &str, operation: &str) {
        let key = format!("{service}:{operation}");
        let mut map = self.by_operation.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(key).or_default() += 1;
    }

    pub fn snapshot(&self) -> CallCounts {
        let map = self
            .by_operation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut counts = CallCounts::default();
        for (op, n) in &map {
            let name = op.split(':').nth(1).unwrap_or(op);
            if is_read(name) {
                counts.reads += n;
            } else {
                counts.writes += n;
            }
        }
        counts.by_operation = map;
        counts
    }
}

/// Operations that change nothing. Everything else counts as a write.
fn is_read(operation: &str) -> bool {
    ["Get", "List", "Head", "Describe", "Filter"]
        .iter()
        .any(|p| operation.starts_with(p))
        || operation == "ReceiveMessage"
}

#[derive(Debug)]
struct CountCalls {
    calls: Arc<Calls>,
    /// Fault injection for the interrupted-run tests: die right after this many writes.
    die_after_writes: Option<u64>,
}

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            self.calls.record(m.service(), m.name());
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(limit) = self.die_after_writes else {
            return Ok(());
        };
        if cfg.load::<Metadata>().is_some_and(|m| !is_read(m.name())) {
            let done = self
                .calls
                .writes_done
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                + 1;
            if done >= limit {
                // As sudden as SIGKILL: no destructors, no output flushed.
                std::process::abort();
            }
        }
        Ok(())
    }
}

/// Every client, the target and the stack's identity; handed to each resource.
pub struct Ctx {
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    /// Functions' log lines, for `exstack logs`.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub target: Target,
    /// The stack name, written into every ownership tag.
    pub stack: String,
    pub calls: Arc<Calls>,
    pub patience: Patience,
    /// The account the credentials act in, from STS (LocalStack: 000000000000, moto: 123456789012).
    pub account: String,
    pub platform: Platform,
    /// What the emulator says it is (`LocalStack 2026.3.0 (community)`), for `status -v`.
    pub about: Option<String>,
    /// API Gateway's per-account rate limits, kept on real AWS only (shared per account).
    pub pacer: Option<Arc<Pacer>>,
    /// Whether an emulator serves a deployed API at `{endpoint}/restapis/{id}/{stage}/_user_request_`,
    /// by API id, as probed once per run.
    user_requests: Mutex<BTreeMap<String, bool>>,
    /// The run lock and the journal of unfinished creations.
    pub run_files: crate::runfiles::RunFiles,
    /// Test-only fault injection (see [`Faults`]).
    pub faults: Faults,
}

impl Ctx {
    /// Checks the endpoint, builds every client and learns the account id.
    pub async fn connect(target: Target, stack: &str) -> Result<Ctx> {
        let answering = discover(&target).await?;
        let faults = Faults::from_env();
        let calls = Arc::new(Calls::default());
        let clients = Clients::new(&target, &calls, &faults).await;
        let account = match account_id(&clients.sts).await {
            Err(e)
                if e.downcast_ref::<errors::AwsError>()
                    .is_some_and(|a| a.unreachable) =>
            {
                bail!(
                    "{} stopped answering right after its health check; nothing was changed",
                    target.describe()
                )
            }
            other => other?,
        };
        if let Some(wanted) = target.account.as_deref().filter(|w| *w != account) {
            bail!(
                "{} acts in account {account}, not {wanted}: this emulator does not take the access key id as the account, so it holds one lab only; list it without an account",
                target.describe()
            );
        }
        // API Gateway's per-account limits are AWS's alone, shared by every target of the account.
        let pacer = (answering.platform == Platform::Aws).then(|| {
            let key = format!("{}:{account}", arn::partition(&target.region));
            Pacer::for_account(&key)
        });
        Ok(Ctx::new(
            clients,
            target,
            stack,
            Facts { account, answering },
            calls,
            faults,
            pacer,
        ))
    }

    /// A context for unit tests: clients for `endpoint` (nothing is contacted until a call),
    /// LocalStack's account, and the `platform` the test is about.
    #[cfg(test)]
    pub async fn for_test(endpoint: &str, platform: Platform) -> Ctx {
        let target = Target {
            endpoint: Some(endpoint.to_owned()),
            region: "eu-west-1".into(),
            account: None,
        };
        let (calls, faults) = (Arc::new(Calls::default()), Faults::default());
        let clients = Clients::new(&target, &calls, &faults).await;
        let facts = Facts {
            account: "000000000000".into(),
            answering: Answering {
                platform,
                about: None,
            },
        };
        Ctx::new(clients, target, "test-stack", facts, calls, faults, None)
    }

    fn new(
        clients: Clients,
        target: Target,
        stack: &str,
        facts: Facts,
        calls: Arc<Calls>,
        faults: Faults,
        pacer: Option<Arc<Pacer>>,
    ) -> Ctx {
        let Clients {
            sqs,
            s3,
            iam,
            lambda,
            apigateway,
            sts: _,
            logs,
        } = clients;
        Ctx {
            sqs,
            s3,
            iam,
            lambda,
            apigateway,
            logs,
            stack: stack.to_owned(),
            calls,
            patience: if target.is_aws() {
                Patience::AWS
            } else {
                Patience::LOCALSTACK
            },
            account: facts.account,
            platform: facts.answering.platform,
            about: facts.answering.about,
            pacer,
            faults,
            user_requests: Mutex::default(),
            run_files: crate::runfiles::RunFiles::new(
                target.endpoint.as_deref(),
                &target.region,
                target.account.as_deref(),
                stack,
            ),
            target,
        }
    }

    /// An ARN in the target's partition, region and account.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        arn::arn(&self.target.region, service, &self.account, resource)
    }

    /// Where a deployed REST API stage answers, if anywhere: real AWS's execute-api host;
    /// LocalStack's path form; on another emulator that path form only when it serves it.
    pub async fn api_url(&self, api_id: &str, stage: &str) -> Option<String> {
        let endpoint = match (&self.target.endpoint, self.platform) {
            (None, _) | (_, Platform::Aws) => {
                return Some(arn::execute_api_url(api_id, &self.target.region, stage));
            }
            (Some(e), _) => e.trim_end_matches('/'),
        };
        let url = format!("{endpoint}/restapis/{api_id}/{stage}/_user_request_");
        match self.platform {
            Platform::LocalStack | Platform::MiniStack => Some(url),
            _ => self.serves_user_requests(api_id, &url).await.then_some(url),
        }
    }

    /// A header a check's request to a stage needs on this target, if any. MiniStack looks a
    /// stage's API up in the request's account only (AWS, by its id alone), and an unsigned
    /// request is in the default account; a credential scope naming the account finds it.
    /// (Its signature is not checked unless MiniStack runs with AUTH=true.)
    pub fn stage_request_header(&self, url: &str) -> Option<(&'static str, String)> {
        let account = self.target.account.as_deref()?;
        let endpoint = self.target.endpoint.as_deref()?;
        let a_stage = url.starts_with(endpoint) || url.contains(".execute-api.");
        (self.platform == Platform::MiniStack && a_stage).then(|| {
            let scope = format!(
                "{account}/20260101/{}/execute-api/aws4_request",
                self.target.region
            );
            (
                "authorization",
                format!("AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"),
            )
        })
    }

    /// The emulator's host-name form of a stage URL: LocalStack's
    /// `http://<id>.execute-api.localhost.localstack.cloud:<port>/<stage>`, MiniStack's
    /// `http://<id>.execute-api.localhost:<port>/<stage>`.
    pub fn emulator_host_url(&self, api_id: &str, stage: &str) -> Option<String> {
        let domain = match self.platform {
            Platform::LocalStack => "localhost.localstack.cloud",
            Platform::MiniStack => "localhost",
            Platform::Emulator | Platform::Aws => return None,
        };
        let endpoint = self.target.endpoint.as_deref()?;
        let port = crate::endpoint::Endpoint::parse(endpoint).ok()?.port();
        Some(format!(
            "http://{api_id}.execute-api.{domain}:{port}/{stage}"
        ))
    }

    /// Asks the emulator once per API: an implementation that routes the path to API Gateway
    /// answers a method-less path with API Gateway's own error (an `x-amzn-ErrorType` header);
    /// one that does not falls through to another service (moto: S3's NoSuchBucket).
    async fn serves_user_requests(&self, api_id: &str, url: &str) -> bool {
        if let Some(known) = self.user_requests_known(api_id) {
            return known;
        }
        let probe = format!("{url}/exstack-probe");
        let answer = async {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .no_proxy()
                .build()
                .ok()?;
            client.get(&probe).send().await.ok()
        }
        .await;
        let served = answer.is_some_and(|r| {
            r.headers().contains_key("x-amzn-errortype")
                || r.headers().contains_key("x-amz-apigw-id")
        });
        self.user_requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(api_id.to_owned(), served);
        served
    }

    fn user_requests_known(&self, api_id: &str) -> Option<bool> {
        self.user_requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(api_id)
            .copied()
    }
}

/// What the target told us when we connected.
struct Facts {
    account: String,
    answering: Answering,
}

/// The account the credentials act in, from STS.
async fn account_id(sts: &aws_sdk_sts::Client) -> Result<String> {
    let who = sts
        .get_caller_identity()
        .send()
        .await
        .aws("GetCallerIdentity")?;
    who.account
        .context("GetCallerIdentity returned no account id")
}

/// Test-only fault injection, read once from the environment. For exstack's own tests only
/// (tests/interrupt.rs, tests/faults.rs), as cargo's `__CARGO_TEST_*` are for cargo's.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// `EXSTACK_FAULT_DIE_AFTER_WRITES=n`: abort the process right after the n-th write.
    pub die_after_writes: Option<u64>,
    /// `EXSTACK_FAULT_LOSE_CREATE_RACE=functions,roles`: create those kinds twice, so the
    /// second create loses a race, as after a run killed mid-request. Never on real AWS.
    pub lose_create_race: Vec<String>,
}

impl Faults {
    fn from_env() -> Faults {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Faults {
            die_after_writes: var("EXSTACK_FAULT_DIE_AFTER_WRITES").and_then(|v| v.parse().ok()),
            lose_create_race: var("EXSTACK_FAULT_LOSE_CREATE_RACE")
                .map(|v| v.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
        }
    }
}

/// Every service client, from one SDK config, each counting its calls.
struct Clients {
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    iam: aws_sdk_iam::Client,
    lambda: aws_sdk_lambda::Client,
    apigateway: aws_sdk_apigateway::Client,
    sts: aws_sdk_sts::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
}

/// A service's client from the shared config, with the call counter.
macro_rules! client {
    ($service:ident, $config:expr, $count:expr) => {
        $service::Client::from_conf(
            $service::config::Builder::from($config)
                .interceptor($count)
                .build(),
        )
    };
}

impl Clients {
    async fn new(target: &Target, calls: &Arc<Calls>, faults: &Faults) -> Clients {
        let config = sdk_config(target).await;
        let count = || CountCalls {
            calls: calls.clone(),
            die_after_writes: faults.die_after_writes,
        };
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            // LocalStack serves buckets by path; virtual-host names need DNS it may not have.
            .force_path_style(target.endpoint.is_some())
            .interceptor(count())
            .build();
        Clients {
            sqs: client!(aws_sdk_sqs, &config, count()),
            s3: aws_sdk_s3::Client::from_conf(s3),
            iam: client!(aws_sdk_iam, &config, count()),
            lambda: client!(aws_sdk_lambda, &config, count()),
            apigateway: client!(aws_sdk_apigateway, &config, count()),
            sts: client!(aws_sdk_sts, &config, count()),
            logs: client!(aws_sdk_cloudwatchlogs, &config, count()),
        }
    }
}

/// One SDK config for every client: one connection pool, one retry policy.
async fn sdk_config(target: &Target) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(target.region.clone()))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        );
    match &target.endpoint {
        Some(endpoint) => {
            // Test credentials: a user's real keys are never sent to an emulator. The access
            // key id names the account where one is asked for.
            let key = target.account.as_deref().unwrap_or("test");
            let test = Credentials::new(key, "test", None, None, "exstack-emulator");
            loader = loader
                .endpoint_url(endpoint)
                .credentials_provider(SharedCredentialsProvider::new(test))
                .retry_config(
                    RetryConfig::standard()
                        .with_max_attempts(5)
                        .with_initial_backoff(Duration::from_millis(50))
                        .with_max_backoff(Duration::from_secs(2)),
                );
        }
        None => {
            loader = loader.retry_config(RetryConfig::standard().with_max_attempts(8));
        }
    }
    loader.load().await
}

/// What answers at the target, as its health check tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answering {
    pub platform: Platform,
    /// The emulator's own words for what it is: `LocalStack 2026.3.0 (community)`; `None` on AWS
    /// and for an emulator that has no health check.
    pub about: Option<String>,
}

/// Finds out what the target is, before any AWS call: nothing answering is one clear line;
/// LocalStack and MiniStack answer their health checks; any other endpoint is acted on only
/// when `EXSTACK_EMULATOR` names it, and an AWS host name never counts as an emulator.
pub async fn discover(target: &Target) -> Result<Answering> {
    let Some(endpoint) = &target.endpoint else {
        return Ok(Answering {
            platform: Platform::Aws,
            about: None,
        });
    };
    let declared = std::env::var(EMULATOR_ENV).unwrap_or_default();
    discover_endpoint(endpoint, &declared).await
}

async fn discover_endpoint(endpoint: &str, declared: &str) -> Result<Answering> {
    let named = names_endpoint(declared, endpoint);
    if named && is_aws_host(endpoint) {
        bail!(
            "{endpoint} is real AWS, not an emulator: to act on AWS pass --aws (without --endpoint-url) and remove it from {EMULATOR_ENV}"
        );
    }
    let base = endpoint.trim_end_matches('/');
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .build()?;
    // Both at once: MiniStack answers LocalStack's health check as well as its own, so only
    // its own tells them apart, and asking in parallel costs no time.
    let localstack_url = format!("{base}/_localstack/health");
    let ministack_url = format!("{base}/_ministack/health");
    let (localstack, ministack) = tokio::join!(
        client.get(&localstack_url).send(),
        health(&client, &ministack_url),
    );
    let response = match localstack {
        Err(e) if e.is_connect() || e.is_timeout() => {
            let start = if named {
                "start it (for moto: `scripts/moto start`)"
            } else {
                "start an emulator with `scripts/localstack start` or `scripts/ministack start` (or a localstack/localstack container)"
            };
            bail!("nothing answers at {endpoint}: {start}, or pass --endpoint-url")
        }
        Err(e) => bail!("cannot reach {endpoint}: {e}"),
        Ok(r) => r,
    };
    if let Some(body) = ministack {
        return Ok(Answering {
            platform: Platform::MiniStack,
            about: Some(about("MiniStack", &body)),
        });
    }
    let status = response.status();
    let body: Option<serde_json::Value> = response.json().await.ok();
    match body.filter(|b| status.is_success() && b.get("services").is_some()) {
        Some(body) => Ok(Answering {
            platform: Platform::LocalStack,
            about: Some(about("LocalStack", &body)),
        }),
        None if named => Ok(Answering {
            platform: Platform::Emulator,
            about: None,
        }),
        None => bail!(
            "{endpoint} answered {status} to {localstack_url}: it does not look like LocalStack or MiniStack. \
             If it is another AWS emulator (moto, ...), name it: {EMULATOR_ENV}={endpoint}. \
             To act on real AWS, pass --aws (without --endpoint-url); exstack refuses otherwise"
        ),
    }
}

/// A health check's JSON body when it answers 200 with one, listing its services.
async fn health(client: &reqwest::Client, url: &str) -> Option<serde_json::Value> {
    let response = client.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body: serde_json::Value = response.json().await.ok()?;
    body.get("services").is_some().then_some(body)
}

/// `LocalStack 2026.3.0 (community)`, from a health check's `version` and `edition`.
fn about(name: &str, health: &serde_json::Value) -> String {
    let field = |k: &str| {
        health
            .get(k)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
    };
    match (field("version"), field("edition")) {
        (Some(v), Some(e)) => format!("{name} {v} ({e})"),
        (Some(v), None) => format!("{name} {v}"),
        (None, Some(e)) => format!("{name} ({e})"),
        (None, None) => name.to_owned(),
    }
}

/// Whether `declared` (URLs separated by commas or spaces) names `endpoint`, however spelled.
/// A text that does not parse names nothing and is named by nothing.
fn names_endpoint(declared: &str, endpoint: &str) -> bool {
    use crate::endpoint::Endpoint;
    let Ok(wanted) = Endpoint::parse(endpoint) else {
        return false;
    };
    declared
        .split([',', ' '])
        .filter_map(|d| Endpoint::parse(d).ok())
        .any(|d| d.canonical() == wanted.canonical())
}

/// AWS's own host names: those are real AWS whatever anyone calls them. A text that does not
/// parse could be AWS spelled oddly, so it counts as AWS and is never trusted as an emulator.
fn is_aws_host(endpoint: &str) -> bool {
    crate::endpoint::Endpoint::parse(endpoint).map_or(true, |e| e.is_within(arn::AWS_DOMAINS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emulator_is_named_by_its_endpoint_however_spelled() {
        let declared = "http://localhost:5000, http://10.0.0.7:4566";
        assert!(names_endpoint(declared, "http://127.0.0.1:5000"));
        assert!(names_endpoint(declared, "http://10.0.0.7:4566/"));
        assert!(!names_endpoint(declared, "http://127.0.0.1:5001"));
        assert!(!names_endpoint(declared, "http://10.0.0.8:4566"));
        assert!(!names_endpoint("", "http://127.0.0.1:5000"));
        assert!(!names_endpoint("not a url", "not a url"));
    }

    #[test]
    fn aws_host_names_are_recognised() {
        assert!(is_aws_host("https://sqs.us-east-1.amazonaws.com"));
        assert!(is_aws_host("https://lambda.cn-north-1.amazonaws.com.cn/"));
        assert!(is_aws_host("https://sts.us-east-1.api.aws:443"));
        assert!(!is_aws_host("http://127.0.0.1:5000"));
        assert!(!is_aws_host("http://notamazonaws.com:5000"));
        assert!(is_aws_host("https://SQS.us-east-1.AmazonAWS.com.:443"));
        assert!(is_aws_host("https://a:b@sqs.us-east-1.amazonaws.com"));
        assert!(is_aws_host("https://sqs.us-east-1.amazonaws.com:99999"));
        assert!(is_aws_host("not a url"));
    }

    /// A local HTTP server giving every request the same raw answer; counts the requests.
    async fn server(answer: &'static str) -> (String, Arc<std::sync::atomic::AtomicU32>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        (url, hits)
    }

    async fn emulator_ctx(endpoint: &str) -> Ctx {
        Ctx::for_test(endpoint, Platform::Emulator).await
    }

    #[tokio::test]
    async fn an_emulator_gets_the_path_form_url_only_if_it_serves_it() {
        // API Gateway's own answer for a path with no method, as AWS and LocalStack give it.
        let (serving, hits) = server(
            "HTTP/1.1 403 Forbidden\r\nx-amzn-ErrorType: MissingAuthenticationTokenException\r\ncontent-length: 2\r\n\r\n{}",
        )
        .await;
        let ctx = emulator_ctx(&serving).await;
        let url = format!("{serving}/restapis/abc/dev/_user_request_");
        assert_eq!(ctx.api_url("abc", "dev").await, Some(url.clone()));
        assert_eq!(ctx.api_url("abc", "dev").await, Some(url));
        assert_eq!(
            hits.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "probed once per API"
        );
        assert_eq!(ctx.emulator_host_url("abc", "dev"), None);

        // moto: the path falls through to S3.
        let (not_serving, _) = server(
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/xml\r\ncontent-length: 7\r\n\r\n<Error>",
        )
        .await;
        let ctx = emulator_ctx(&not_serving).await;
        assert_eq!(ctx.api_url("abc", "dev").await, None);
    }

    #[tokio::test]
    async fn localstack_and_aws_urls_need_no_request() {
        let mut ctx = emulator_ctx("http://127.0.0.1:9").await;
        ctx.platform = Platform::LocalStack;
        assert_eq!(
            ctx.api_url("abc", "dev").await.as_deref(),
            Some("http://127.0.0.1:9/restapis/abc/dev/_user_request_")
        );
        assert_eq!(
            ctx.emulator_host_url("abc", "dev").as_deref(),
            Some("http://abc.execute-api.localhost.localstack.cloud:9/dev")
        );
        ctx.platform = Platform::Aws;
        assert_eq!(
            ctx.api_url("abc", "dev").await.as_deref(),
            Some("https://abc.execute-api.eu-west-1.amazonaws.com/dev")
        );
        assert_eq!(ctx.emulator_host_url("abc", "dev"), None);
    }

    /// A local HTTP server answering `found` for the paths it lists and 404 for any other.
    async fn server_of(found: &'static [(&'static str, &'static str)]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let n = stream.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let path = request.split_whitespace().nth(1).unwrap_or("");
                let body = found.iter().find(|(p, _)| *p == path).map(|(_, b)| *b);
                let answer = match body {
                    Some(b) => format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{b}",
                        b.len()
                    ),
                    None => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_owned(),
                };
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        url
    }

    #[tokio::test]
    async fn localstack_and_ministack_are_told_apart_by_their_own_health_checks() {
        const LOCALSTACK: &str =
            r#"{"services": {"sqs": "running"}, "edition": "community", "version": "2026.3.0"}"#;
        const MINISTACK: &str =
            r#"{"services": {"sqs": "available"}, "edition": "light", "version": "1.5.33"}"#;
        let localstack = server_of(&[("/_localstack/health", LOCALSTACK)]).await;
        let found = discover_endpoint(&localstack, "").await.unwrap();
        assert_eq!(found.platform, Platform::LocalStack);
        assert_eq!(
            found.about.as_deref(),
            Some("LocalStack 2026.3.0 (community)")
        );

        let ministack = server_of(&[
            ("/_localstack/health", MINISTACK),
            ("/_ministack/health", MINISTACK),
        ])
        .await;
        let found = discover_endpoint(&ministack, "").await.unwrap();
        assert_eq!(found.platform, Platform::MiniStack);
        assert_eq!(found.about.as_deref(), Some("MiniStack 1.5.33 (light)"));

        // moto: neither; acted on only when named.
        let moto = server_of(&[]).await;
        let err = discover_endpoint(&moto, "").await.unwrap_err().to_string();
        assert!(err.contains("EXSTACK_EMULATOR"), "{err}");
        let found = discover_endpoint(&moto, &moto).await.unwrap();
        assert_eq!((found.platform, found.about), (Platform::Emulator, None));
    }

    /// The exercise's Docker setup: LocalStack as the container `aws-training-localstack`,
    /// reached by that name from another container. The URL forms keep the name and port.
    #[tokio::test]
    async fn a_localstack_container_reached_by_name_keeps_it_in_its_urls() {
        let mut ctx = emulator_ctx("http://aws-training-localstack:4566").await;
        ctx.platform = Platform::LocalStack;
        assert_eq!(
            ctx.api_url("abc", "dev").await.as_deref(),
            Some("http://aws-training-localstack:4566/restapis/abc/dev/_user_request_")
        );
        assert_eq!(
            ctx.emulator_host_url("abc", "dev").as_deref(),
            Some("http://abc.execute-api.localhost.localstack.cloud:4566/dev")
        );
    }

    #[tokio::test]
    async fn each_emulator_has_its_host_name_form_of_a_stage_url() {
        let mut ctx = emulator_ctx("http://127.0.0.1:4577").await;
        ctx.platform = Platform::MiniStack;
        assert_eq!(
            ctx.emulator_host_url("abc", "dev").as_deref(),
            Some("http://abc.execute-api.localhost:4577/dev")
        );
        assert_eq!(
            ctx.api_url("abc", "dev").await.as_deref(),
            Some("http://127.0.0.1:4577/restapis/abc/dev/_user_request_")
        );
    }

    #[tokio::test]
    async fn an_aws_host_named_as_an_emulator_is_refused_without_a_request() {
        let endpoint = "https://sqs.us-east-1.amazonaws.com";
        let err = discover_endpoint(endpoint, endpoint).await.unwrap_err();
        assert!(err.to_string().contains("is real AWS"), "{err}");
    }
}
