//! AWS errors in one place: what went wrong (with the SDK's full context), and whether
//! waiting and trying again can help. Resource code asks `is_not_found`, never parses messages.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// How an unreachable endpoint is described in errors.
pub const UNREACHABLE: &str = "no answer from the endpoint (connection refused or timed out)";

/// A failed AWS call, with the operation named so a person knows which call failed.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed: {detail}")]
pub struct AwsError {
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: Option<String>,
    /// Connection refused, timeouts: the endpoint, not the request, is the problem.
    pub unreachable: bool,
    /// How long the service asked us to wait before trying again (`Retry-After`).
    pub retry_after: Option<Duration>,
    detail: String,
}

impl AwsError {
    /// An endpoint that stopped answering, for tests of what the engine does then.
    #[cfg(test)]
    pub fn unreachable_for_test(operation: &'static str) -> AwsError {
        AwsError {
            operation,
            code: None,
            message: None,
            unreachable: true,
            retry_after: None,
            detail: UNREACHABLE.to_owned(),
        }
    }

    pub fn has_code(&self, codes: &[&str]) -> bool {
        self.code.as_deref().is_some_and(|c| codes.contains(&c))
    }

    pub fn message_contains(&self, needle: &str) -> bool {
        self.message.as_deref().is_some_and(|m| {
            m.to_ascii_lowercase()
                .contains(&needle.to_ascii_lowercase())
        })
    }

    /// "It isn't there", in each service's words.
    pub fn is_not_found(&self) -> bool {
        self.has_code(&[
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
            "NoSuchBucket",
            "NotFound",
            "NoSuchEntity",
            "ResourceNotFoundException",
            "NotFoundException",
            "NoSuchTagSet",
        ])
    }

    /// A create lost a race: the thing exists now although the read before it saw nothing
    /// (a run killed mid-request, another `up` at the same moment, a person).
    pub fn is_already_exists(&self) -> bool {
        self.has_code(&[
            "EntityAlreadyExists",
            "BucketAlreadyOwnedByYou",
            "QueueAlreadyExists",
            "QueueNameExists",
            "AWS.SimpleQueueService.QueueNameExists",
        ]) || (self.has_code(&["ResourceConflictException"])
            && self.message_contains("already exist"))
    }

    /// Worth retrying here: the request was fine but the resource was busy or not yet visible.
    /// Throttling and 5xx answers are not listed: the SDK's own retry already had its attempts.
    /// Lambda says "already exists" with the same code as "busy": waiting cannot cure that one.
    pub fn is_transient(&self) -> bool {
        let busy = self.has_code(&[
            "ResourceConflictException",
            "ConflictException",
            "OperationAborted",
            "AWS.SimpleQueueService.QueueDeletedRecently",
            "QueueDeletedRecently",
        ]);
        (busy && !self.is_already_exists()) || self.is_iam_propagation()
    }

    /// Throttled past the SDK's own retries (API Gateway's per-account limits).
    pub fn is_too_many_requests(&self) -> bool {
        self.has_code(&["TooManyRequestsException"])
    }

    /// IAM is eventually consistent: a new role may not be assumable for a few seconds.
    pub fn is_iam_propagation(&self) -> bool {
        self.has_code(&["InvalidParameterValueException"])
            && (self.message_contains("cannot be assumed")
                || self.message_contains("execution role does not have permissions"))
    }
}

/// Adds the operation name to an SDK result: `.aws("GetQueueUrl")?`.
pub trait AwsResult<T> {
    fn aws(self, operation: &'static str) -> Result<T, AwsError>;
}

impl<T, E> AwsResult<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn aws(self, operation: &'static str) -> Result<T, AwsError> {
        self.map_err(|e| {
            let unreachable = matches!(e, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_));
            // A service error says it best in its own code and message; the SDK's full context
            // (which includes the raw response) is for the other kinds.
            let detail = match (&e, e.code(), e.message()) {
                _ if unreachable => UNREACHABLE.to_owned(),
                (SdkError::ServiceError(_), Some(code), Some(message)) => {
                    format!("{code}: {message}")
                }
                (SdkError::ServiceError(_), Some(code), None) => code.to_owned(),
                // A proxy or a crashing server: the status says all there is to say.
                (SdkError::ServiceError(se), None, _) => {
                    format!(
                        "HTTP {} without an AWS error body",
                        se.raw().status().as_u16()
                    )
                }
                _ => DisplayErrorContext(&e).to_string(),
            };
            let retry_after = match &e {
                SdkError::ServiceError(se) => se
                    .raw()
                    .headers()
                    .get("retry-after")
                    .and_then(parse_retry_after),
                _ => None,
            };
            AwsError {
                operation,
                code: e.code().map(str::to_owned),
                message: e.message().map(str::to_owned),
                unreachable,
                retry_after,
                detail,
            }
        })
    }
}

/// `Retry-After` in seconds (API Gateway sends whole seconds; a fraction is tolerated).
/// The HTTP-date form is not used by AWS APIs and is ignored.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

/// `Ok(None)` for "not found", the value otherwise; other errors pass through.
pub trait Found<T> {
    fn found(self) -> Result<Option<T>, AwsError>;
}

impl<T> Found<T> for Result<T, AwsError> {
    fn found(self) -> Result<Option<T>, AwsError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// How long `retry_transient` keeps trying: long enough for IAM propagation on AWS
/// (seconds), short steps because LocalStack settles in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub first_wait: Duration,
    pub max_wait: Duration,
    pub give_up_after: Duration,
}

impl Patience {
    /// LocalStack settles in tens of milliseconds: poll at 10 ms for the first second.
    pub const LOCALSTACK: Patience = Patience {
        first_wait: Duration::from_millis(10),
        max_wait: Duration::from_secs(2),
        give_up_after: Duration::from_secs(60),
    };

    /// AWS takes seconds to make a function Active; polling faster only spends quota.
    pub const AWS: Patience = Patience {
        first_wait: Duration::from_millis(250),
        max_wait: Duration::from_secs(5),
        give_up_after: Duration::from_secs(300),
    };

    /// The next pause: steady during the first second, then doubling up to `max_wait`.
    fn next(&self, waited: Duration, last: Duration) -> Duration {
        if waited < Duration::from_secs(1) {
            self.first_wait
        } else {
            (last * 2).min(self.max_wait)
        }
    }
}

/// Runs `call` again while it fails transiently, with exponential backoff, within `patience`.
pub async fn retry_transient<T, F, Fut>(patience: Patience, mut call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let start = Instant::now();
    let mut wait = patience.first_wait;
    loop {
        match call().await {
            Err(e) if e.is_transient() && start.elapsed() + wait < patience.give_up_after => {
                tokio::time::sleep(wait).await;
                wait = patience.next(start.elapsed(), wait);
            }
            other => return other,
        }
    }
}

/// Polls `check` until it returns `Some`, at LocalStack-friendly intervals growing to AWS ones.
pub async fn wait_until<T, F, Fut>(
    what: &str,
    patience: Patience,
    mut check: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let start = Instant::now();
    let mut wait = patience.first_wait;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if start.elapsed() >= patience.give_up_after {
            anyhow::bail!(
                "gave up waiting for {what} after {:?}",
                patience.give_up_after
            );
        }
        tokio::time::sleep(wait).await;
        wait = patience.next(start.elapsed(), wait);
    }
}

#[cfg(test)]
impl AwsError {
    pub fn for_test(code: &str, message: &str) -> AwsError {
        AwsError {
            operation: "CreateFunction",
            code: Some(code.into()),
            message: Some(message.into()),
            unreachable: false,
            retry_after: None,
            detail: format!("{code}: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: &str, message: &str) -> AwsError {
        AwsError::for_test(code, message)
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(parse_retry_after("30"), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after(" 1.5 "),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn lambda_conflicts_are_told_apart_by_their_message() {
        let exists = error(
            "ResourceConflictException",
            "Function already exist: api-enqueue",
        );
        let busy = error(
            "ResourceConflictException",
            "The operation cannot be performed at this time. An update is in progress",
        );
        assert!(exists.is_already_exists() && !exists.is_transient());
        assert!(busy.is_transient() && !busy.is_already_exists());
    }

    #[test]
    fn each_service_says_already_exists_its_own_way() {
        assert!(
            error("EntityAlreadyExists", "Role with name x already exists.").is_already_exists()
        );
        assert!(error("BucketAlreadyOwnedByYou", "").is_already_exists());
        assert!(!error("NoSuchEntity", "").is_already_exists());
    }
}
