//! Everything that talks to AWS starts here: where (endpoint, region), as whom (credentials),
//! and the one context that owns every client, built from one SDK config.

pub mod errors;

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

pub const DEFAULT_ENDPOINT: &str = "http://localhost:4566";
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where commands act. Real AWS only when asked for by name (`--aws` or `allow_aws`).
#[derive(Debug, Clone)]
pub struct Target {
    /// `None` means real AWS with the SDK's normal endpoint resolution.
    pub endpoint: Option<String>,
    pub region: String,
}

impl Target {
    pub fn is_aws(&self) -> bool {
        self.endpoint.is_none()
    }

    pub fn describe(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("{e} ({})", self.region),
            None => format!("AWS ({})", self.region),
        }
    }
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
    pub sts: aws_sdk_sts::Client,
    /// Functions' log lines, for `exstack logs`.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub target: Target,
    /// The stack name, written into every ownership tag.
    pub stack: String,
    pub calls: Arc<Calls>,
    pub patience: Patience,
    /// The account the credentials act in (LocalStack: 000000000000).
    pub account: String,
    /// The run lock and the journal of unfinished creations.
    pub run_files: crate::runfiles::RunFiles,
}

impl Ctx {
    /// Checks the endpoint, builds every client and learns the account id.
    pub async fn connect(target: Target, stack: &str) -> Result<Ctx> {
        check_endpoint(&target).await?;
        let mut ctx = Ctx::new(target, stack).await;
        ctx.account = match ctx.account_id().await {
            Err(e)
                if e.downcast_ref::<errors::AwsError>()
                    .is_some_and(|a| a.unreachable) =>
            {
                bail!(
                    "{} stopped answering right after its health check; nothing was changed",
                    ctx.target.describe()
                )
            }
            other => other?,
        };
        Ok(ctx)
    }

    async fn new(target: Target, stack: &str) -> Ctx {
        let config = sdk_config(&target).await;
        let calls = Arc::new(Calls::default());
        let die_after_writes = std::env::var("EXSTACK_FAULT_DIE_AFTER_WRITES")
            .ok()
            .and_then(|v| v.parse().ok());
        let count = || CountCalls {
            calls: calls.clone(),
            die_after_writes,
        };
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            // LocalStack serves buckets by path; virtual-host names need DNS it may not have.
            .force_path_style(target.endpoint.is_some())
            .interceptor(count())
            .build();
        Ctx {
            sqs: aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(&config)
                    .interceptor(count())
                    .build(),
            ),
            s3: aws_sdk_s3::Client::from_conf(s3),
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(&config)
                    .interceptor(count())
                    .build(),
            ),
            lambda: aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(&config)
                    .interceptor(count())
                    .build(),
            ),
            apigateway: aws_sdk_apigateway::Client::from_conf(
                aws_sdk_apigateway::config::Builder::from(&config)
                    .interceptor(count())
                    .build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(&config)
                    .interceptor(count())
                    .build(),
            ),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(
                aws_sdk_cloudwatchlogs::config::Builder::from(&config)
                    .interceptor(count())
                    .build(),
            ),
            stack: stack.to_owned(),
            calls,
            patience: if target.is_aws() {
                Patience::AWS
            } else {
                Patience::LOCALSTACK
            },
            account: String::new(),
            run_files: crate::runfiles::RunFiles::new(&target, stack),
            target,
        }
    }

    async fn account_id(&self) -> Result<String> {
        let who = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .aws("GetCallerIdentity")?;
        who.account
            .context("GetCallerIdentity returned no account id")
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
            // LocalStack's test credentials: a user's real keys are never sent to it.
            let test = Credentials::new("test", "test", None, None, "exstack-localstack");
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

/// Checks that something answers at a LocalStack endpoint before any AWS call, so a missing
/// LocalStack is one clear line; refuses a non-LocalStack endpoint unless AWS was chosen.
pub async fn check_endpoint(target: &Target) -> Result<()> {
    let Some(endpoint) = &target.endpoint else {
        return Ok(());
    };
    let url = format!("{}/_localstack/health", endpoint.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .build()?;
    let answer = client.get(&url).send().await;
    match answer {
        Err(e) if e.is_connect() || e.is_timeout() => bail!(
            "nothing answers at {endpoint}: start LocalStack with `scripts/localstack start` (or a localstack/localstack container), or pass --endpoint-url"
        ),
        Err(e) => bail!("cannot reach {endpoint}: {e}"),
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => bail!(
            "{endpoint} answered {} to {url}: it does not look like LocalStack. \
             To act on real AWS, pass --aws (without --endpoint-url); exstack refuses otherwise",
            r.status()
        ),
    }
}
