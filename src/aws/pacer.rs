//! API Gateway's control-plane limits on real AWS, kept instead of discovered: CreateRestApi
//! once every 3 s, CreateDeployment once every 5 s, DeleteRestApi once every 30 s, per account.
//! One pacer per account per process, so every target of a run acting in that account (a fleet
//! pointed at one real account) waits its turn instead of failing with TooManyRequests.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use super::errors::AwsError;

/// The calls AWS limits per account, tightly enough that a run can hit the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Paced {
    CreateRestApi,
    CreateDeployment,
    DeleteRestApi,
}

impl Paced {
    /// AWS's documented rate for the call (API Gateway quotas: "fixed" account-level limits).
    pub fn interval(self) -> Duration {
        match self {
            Paced::CreateRestApi => Duration::from_secs(3),
            Paced::CreateDeployment => Duration::from_secs(5),
            Paced::DeleteRestApi => Duration::from_secs(30),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Paced::CreateRestApi => "CreateRestApi",
            Paced::CreateDeployment => "CreateDeployment",
            Paced::DeleteRestApi => "DeleteRestApi",
        }
    }
}

/// A wait of a second or more for `op`'s turn, for whoever shows progress to tell of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    pub op: Paced,
    pub wait: Duration,
}

/// Told of each such wait; the caller decides how (or whether) to show it.
pub type OnPacing = Arc<dyn Fn(Pacing) + Send + Sync>;

/// When each paced call may next be made in one account.
#[derive(Default)]
pub struct Pacer {
    /// Shared by every handle on the account (see `telling`).
    next: Arc<Mutex<HashMap<Paced, Instant>>>,
    on_pacing: Option<OnPacing>,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer").field("next", &self.next).finish()
    }
}

impl Pacer {
    /// The process's pacer for `account` (`<partition>:<account id>`): the same `Arc` for
    /// every caller naming the same account.
    pub fn for_account(account: &str) -> Arc<Pacer> {
        static PACERS: OnceLock<Mutex<HashMap<String, Arc<Pacer>>>> = OnceLock::new();
        let mut pacers = PACERS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        pacers.entry(account.to_owned()).or_default().clone()
    }

    /// The same account's turns, with the waits of calls made through the new handle told to
    /// `on_pacing` (so each lab machine of a fleet tells of its own).
    pub fn telling(&self, on_pacing: OnPacing) -> Arc<Pacer> {
        Arc::new(Pacer {
            next: self.next.clone(),
            on_pacing: Some(on_pacing),
        })
    }

    /// Takes the next free slot for `op` and returns when it is. Slots are handed out in call
    /// order, so concurrent callers queue instead of racing.
    fn reserve(&self, op: Paced) -> Instant {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let slot = next.get(&op).copied().filter(|t| *t > now).unwrap_or(now);
        next.insert(op, slot + op.interval());
        slot
    }

    /// Waits for this caller's turn at `op`; returns how long it waited.
    pub async fn wait(&self, op: Paced) -> Duration {
        let slot = self.reserve(op);
        let waited = slot.saturating_duration_since(Instant::now());
        if waited >= Duration::from_secs(1)
            && let Some(on_pacing) = &self.on_pacing
        {
            on_pacing(Pacing { op, wait: waited });
        }
        tokio::time::sleep_until(slot).await;
        waited
    }

    /// AWS said "too many requests": nobody in this process makes `op` for `wait`.
    pub fn hold_off(&self, op: Paced, wait: Duration) {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let until = Instant::now() + wait;
        let slot = next.entry(op).or_insert(until);
        *slot = (*slot).max(until);
    }
}

/// Makes `call` in its turn (when there is a pacer, i.e. on real AWS), and again after the
/// advised wait while API Gateway answers TooManyRequests, for up to `give_up_after`.
pub async fn paced<T, F, Fut>(
    pacer: Option<&Pacer>,
    op: Paced,
    give_up_after: Duration,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let start = Instant::now();
    loop {
        if let Some(p) = pacer {
            p.wait(op).await;
        }
        match call().await {
            Err(e) if e.is_too_many_requests() => {
                // The Retry-After header when AWS sends one, else the call's documented rate.
                let wait = e.retry_after.unwrap_or_else(|| op.interval());
                if start.elapsed() + wait >= give_up_after {
                    return Err(e);
                }
                match pacer {
                    Some(p) => p.hold_off(op, wait),
                    None => tokio::time::sleep(wait).await,
                }
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn too_many(retry_after: Option<u64>) -> AwsError {
        let mut e = AwsError::for_test("TooManyRequestsException", "Too Many Requests");
        e.retry_after = retry_after.map(Duration::from_secs);
        e
    }

    /// Calls made through one pacer, as (seconds since start) of each.
    async fn times_of(pacer: &Pacer, ops: &[Paced]) -> Vec<u64> {
        let start = Instant::now();
        let calls = ops.iter().map(|op| async move {
            paced(Some(pacer), *op, Duration::from_secs(300), || async {
                Ok::<_, AwsError>(start.elapsed().as_secs())
            })
            .await
            .unwrap()
        });
        futures::future::join_all(calls).await
    }

    #[tokio::test(start_paused = true)]
    async fn each_call_keeps_its_own_rate() {
        let pacer = Pacer::default();
        let times = times_of(
            &pacer,
            &[
                Paced::CreateRestApi,
                Paced::CreateRestApi,
                Paced::CreateRestApi,
                Paced::CreateDeployment,
                Paced::CreateDeployment,
                Paced::DeleteRestApi,
                Paced::DeleteRestApi,
            ],
        )
        .await;
        assert_eq!(times, [0, 3, 6, 0, 5, 0, 30]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_free_slot_is_not_waited_for() {
        let pacer = Pacer::default();
        assert_eq!(pacer.wait(Paced::CreateDeployment).await, Duration::ZERO);
        tokio::time::sleep(Duration::from_secs(7)).await;
        assert_eq!(pacer.wait(Paced::CreateDeployment).await, Duration::ZERO);
        assert_eq!(
            pacer.wait(Paced::CreateDeployment).await,
            Duration::from_secs(5)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn targets_in_one_account_share_a_pacer_and_other_accounts_do_not() {
        let a = Pacer::for_account("aws:111111111111-pacer-test");
        let a_again = Pacer::for_account("aws:111111111111-pacer-test");
        let b = Pacer::for_account("aws:222222222222-pacer-test");
        assert!(Arc::ptr_eq(&a, &a_again));
        assert!(!Arc::ptr_eq(&a, &b));
        // Two "targets" deleting an API each in the same account: the second waits 30 s.
        let start = Instant::now();
        let (first, second) = tokio::join!(
            a.wait(Paced::DeleteRestApi),
            a_again.wait(Paced::DeleteRestApi)
        );
        assert_eq!((first, second), (Duration::ZERO, Duration::from_secs(30)));
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        // Another account is not held up by them.
        assert_eq!(b.wait(Paced::DeleteRestApi).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn each_handle_tells_of_its_own_long_waits_and_shares_the_turns() {
        let account = Pacer::default();
        let told = Arc::new(Mutex::new(Vec::new()));
        let to = told.clone();
        let one = account.telling(Arc::new(move |p| to.lock().unwrap().push(p)));
        let other = account.telling(Arc::new(|_| {}));
        assert_eq!(other.wait(Paced::CreateDeployment).await, Duration::ZERO);
        // The other handle took the slot: this one waits, and says so.
        assert_eq!(
            one.wait(Paced::CreateDeployment).await,
            Duration::from_secs(5)
        );
        assert_eq!(
            *told.lock().unwrap(),
            vec![Pacing {
                op: Paced::CreateDeployment,
                wait: Duration::from_secs(5)
            }]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn too_many_requests_is_retried_after_the_advised_wait() {
        let pacer = Pacer::default();
        let attempts = AtomicU32::new(0);
        let start = Instant::now();
        let result = paced(
            Some(&pacer),
            Paced::CreateRestApi,
            Duration::from_secs(300),
            || async {
                let n = attempts.fetch_add(1, Ordering::SeqCst);
                if n < 2 {
                    Err(too_many(Some(12)))
                } else {
                    Ok(n)
                }
            },
        )
        .await;
        assert_eq!(result.unwrap(), 2);
        // Two advised waits of 12 s each; the 3 s rate is inside them.
        assert_eq!(start.elapsed(), Duration::from_secs(24));
    }

    #[tokio::test(start_paused = true)]
    async fn without_advice_the_documented_rate_is_the_wait_and_gives_up_in_time() {
        let start = Instant::now();
        let attempts = AtomicU32::new(0);
        let result: Result<(), _> = paced(
            None,
            Paced::DeleteRestApi,
            Duration::from_secs(100),
            || async {
                attempts.fetch_add(1, Ordering::SeqCst);
                Err(too_many(None))
            },
        )
        .await;
        assert!(result.unwrap_err().is_too_many_requests());
        // Tries at 0, 30, 60 and 90 s; a fifth try would start past the 100 s budget.
        assert_eq!(attempts.load(Ordering::SeqCst), 4);
        assert_eq!(start.elapsed(), Duration::from_secs(90));
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_are_not_retried() {
        let attempts = AtomicU32::new(0);
        let result: Result<(), _> = paced(
            None,
            Paced::CreateRestApi,
            Duration::from_secs(300),
            || async {
                attempts.fetch_add(1, Ordering::SeqCst);
                Err(AwsError::for_test("BadRequestException", "Invalid name"))
            },
        )
        .await;
        assert!(result.is_err());
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
    }
}
