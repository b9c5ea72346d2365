//! Runs a lab's checks: the configuration of every declared resource, compared field by
//! field, and the behaviour its `[checks.<name>]` declare, step by step. Used by `verify`
//! (an exstack-made lab) and `grade` (a student's, built by hand). Nothing here prints: waits
//! are told through a callback.

mod configuration;
mod steps;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::aws::Ctx;
use crate::manifest::check::RUN_ID;
use crate::manifest::checks::{Check, Step};
use crate::model::{Outputs, ResourceId};
pub use configuration::{Comparison, Configuration, configuration};
use steps::Made;

/// How one declared check went.
#[derive(Debug, Clone, Serialize)]
pub struct Ran {
    pub ok: bool,
    pub ms: u64,
    /// What was wrong, at the step that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Tells of a long wait ("45s of up to 240s for a message in task-dlq").
pub type OnWait<'a> = &'a (dyn Fn(String) + Sync);

/// What the steps need: the lab machine, the stack's outputs, and how long to wait when a
/// step does not say.
pub struct Runner<'a> {
    pub ctx: &'a Ctx,
    pub outputs: HashMap<ResourceId, Outputs>,
    pub default_wait: Duration,
    pub on_wait: OnWait<'a>,
    http: reqwest::Client,
}

impl<'a> Runner<'a> {
    pub fn new(
        ctx: &'a Ctx,
        outputs: HashMap<ResourceId, Outputs>,
        default_wait: Duration,
        on_wait: OnWait<'a>,
    ) -> anyhow::Result<Runner<'a>> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Runner {
            ctx,
            outputs,
            default_wait,
            on_wait,
            http,
        })
    }

    /// Runs `check`'s steps in order until one fails, then removes what they made.
    pub async fn run(&self, check: &Check) -> Ran {
        let start = Instant::now();
        let mut captured = HashMap::from([(RUN_ID.to_owned(), unique_run_id())]);
        let mut made = Made::default();
        let mut problem = None;
        for (n, step) in check.steps.iter().enumerate() {
            if let Err(e) = self.step(step, &mut captured, &mut made).await {
                problem = Some(step_problem(check, n, &e));
                break;
            }
        }
        made.clean_up(self.ctx).await;
        Ran {
            ok: problem.is_none(),
            ms: start.elapsed().as_millis() as u64,
            problem,
        }
    }

    async fn step(
        &self,
        step: &Step,
        captured: &mut HashMap<String, String>,
        made: &mut Made,
    ) -> anyhow::Result<()> {
        let resolver = crate::resolve::Resolver {
            account_id: &self.ctx.account,
            region: &self.ctx.target.region,
            outputs: &self.outputs,
            captured,
        };
        let document = steps::act(self, step, &resolver, made).await?;
        steps::expect(&step.expect, &document, &resolver)?;
        let values = steps::capture(&step.capture, &document)?;
        captured.extend(values);
        Ok(())
    }

    fn wait_of(&self, step: &Step) -> Duration {
        step.within.unwrap_or(self.default_wait)
    }
}

/// "step 2 (object): expected …", or just the problem for a one-step check.
fn step_problem(check: &Check, n: usize, e: &anyhow::Error) -> String {
    if check.steps.len() == 1 {
        format!("{e:#}")
    } else {
        let verb = check.steps[n].action.verb();
        format!("step {} ({verb}): {e:#}", n + 1)
    }
}

/// Unique across runs and machines, so two runs against one lab never take each other's
/// messages: the time in nanoseconds, the process and a counter.
pub fn unique_run_id() -> String {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("exstack-check-{nanos}-{}-{n}", std::process::id())
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_ids_differ_within_one_process_and_one_instant() {
        let (a, b) = (super::unique_run_id(), super::unique_run_id());
        assert_ne!(a, b);
        assert!(a.starts_with("exstack-check-"));
    }
}
