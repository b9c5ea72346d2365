//! The walk over the graph, apart from what it walks: each node starts once the nodes it waits
//! for have succeeded, as many at once as the graph allows; failures skip what waits on them;
//! after Ctrl-C or once the endpoint is gone, nothing new starts. It knows nothing of AWS, so
//! unit tests drive it with made-up work, delays and failures.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

// Tokio's clock, so tests with paused time see the durations they set up.
use tokio::time::Instant;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio_util::sync::CancellationToken;

use super::{Outcome, OutcomeResult, Progress, Step, StepError, failure, outcome};
use crate::model::{Outputs, ResourceId};
use crate::plan::Action;

/// Something `walk` was waiting for has happened.
enum Event<'a> {
    Stepped(ResourceId, Result<Step<'a>, StepError>, Instant),
    Settled(
        ResourceId,
        Action,
        Option<Outputs>,
        anyhow::Result<()>,
        Instant,
    ),
}

type Running<'w> = FuturesUnordered<Pin<Box<dyn Future<Output = Event<'w>> + 'w>>>;

/// Runs `work` for each node once every node in `after(node)` has succeeded, as many at
/// once as the graph allows. A step may leave a settle future (a function becoming
/// Active): its dependents start at once, and its outcome is reported when it settles.
/// `not_owned_blocks`: whether a resource left alone (someone else's) stops its waiters.
pub async fn walk<'w, W, F>(
    order: Vec<ResourceId>,
    not_owned_blocks: bool,
    after: impl Fn(&ResourceId) -> Vec<ResourceId>,
    cancel: &CancellationToken,
    report: &(dyn Fn(Progress<'_>) + Sync),
    mut work: W,
) -> Vec<Outcome>
where
    W: FnMut(&ResourceId, &HashMap<ResourceId, Outputs>) -> F,
    F: Future<Output = Result<Step<'w>, StepError>> + 'w,
{
    let mut walk = Walk {
        waits: order.iter().map(|id| (id.clone(), after(id))).collect(),
        pending: order,
        not_owned_blocks,
        succeeded: BTreeSet::new(),
        finished: BTreeSet::new(),
        new_outputs: HashMap::new(),
        outcomes: Vec::new(),
        endpoint_gone: false,
        report,
    };
    let mut running: Running<'w> = FuturesUnordered::new();
    loop {
        walk.skip_blocked();
        if !cancel.is_cancelled() && !walk.endpoint_gone {
            for id in walk.take_ready() {
                report(Progress::Started(&id));
                let fut = work(&id, &walk.new_outputs);
                let started = Instant::now();
                running.push(Box::pin(
                    async move { Event::Stepped(id, fut.await, started) },
                ));
            }
        }
        let Some(event) = running.next().await else {
            break;
        };
        if let Some((id, outcome)) = walk.on_event(event, &mut running) {
            walk.finish(id, outcome);
        }
    }
    walk.skip_the_rest()
}

/// Where a walk stands.
struct Walk<'r> {
    /// What each node waits for.
    waits: HashMap<ResourceId, Vec<ResourceId>>,
    /// Not started yet, in order.
    pending: Vec<ResourceId>,
    not_owned_blocks: bool,
    succeeded: BTreeSet<ResourceId>,
    finished: BTreeSet<ResourceId>,
    /// Outputs of the steps done in this walk, for the steps after them.
    new_outputs: HashMap<ResourceId, Outputs>,
    outcomes: Vec<Outcome>,
    /// Once the endpoint stops answering, starting more work only adds timeouts.
    endpoint_gone: bool,
    report: &'r (dyn Fn(Progress<'_>) + Sync),
}

impl Walk<'_> {
    /// Skips what can never run: a prerequisite finished without succeeding.
    fn skip_blocked(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for id in pending {
            let blocked = self.waits[&id]
                .iter()
                .find(|d| self.finished.contains(*d) && !self.succeeded.contains(*d))
                .cloned();
            match blocked {
                Some(d) => {
                    let why = format!("not attempted: {d} did not succeed");
                    self.finish(id.clone(), skipped(&id, why));
                }
                None => self.pending.push(id),
            }
        }
    }

    /// Removes from `pending` and returns what may start now.
    fn take_ready(&mut self) -> Vec<ResourceId> {
        let (ready, waiting) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|id| self.waits[id].iter().all(|d| self.succeeded.contains(d)));
        self.pending = waiting;
        ready
    }

    /// The outcome an event brings, if it brings one now (a step that settles brings it later).
    fn on_event<'w>(
        &mut self,
        event: Event<'w>,
        running: &mut Running<'w>,
    ) -> Option<(ResourceId, Outcome)> {
        let o = match event {
            Event::Stepped(id, Ok(step), started) => {
                self.succeeded.insert(id.clone());
                if let Some(out) = &step.outputs {
                    self.new_outputs.insert(id.clone(), out.clone());
                }
                let (action, outputs) = (step.action, step.outputs);
                if let Some(settle) = step.settle {
                    running.push(Box::pin(async move {
                        Event::Settled(id, action, outputs, settle.await, started)
                    }));
                    return None;
                }
                let r = if action == Action::NoOp {
                    OutcomeResult::Unchanged
                } else {
                    OutcomeResult::Done
                };
                let o = outcome(&id, action, r, started.elapsed());
                Outcome { outputs, ..o }
            }
            Event::Settled(id, action, outputs, result, started) => {
                let o = match result {
                    Ok(()) => outcome(&id, action, OutcomeResult::Done, started.elapsed()),
                    Err(e) => failure(&id, action, &e, started.elapsed()),
                };
                Outcome { outputs, ..o }
            }
            Event::Stepped(id, Err(StepError::NotOwned(why)), started) => {
                if !self.not_owned_blocks {
                    self.succeeded.insert(id.clone());
                }
                let result = OutcomeResult::NotOwned(why);
                outcome(&id, Action::NotOwned, result, started.elapsed())
            }
            Event::Stepped(id, Err(StepError::Failed(action, e)), started) => {
                failure(&id, action, &e, started.elapsed())
            }
        };
        Some((o.id.clone(), o))
    }

    fn finish(&mut self, id: ResourceId, o: Outcome) {
        self.endpoint_gone |= o.unreachable;
        self.finished.insert(id);
        (self.report)(Progress::Finished(&o));
        self.outcomes.push(o);
    }

    /// What never started (Ctrl-C, or the endpoint went away) is skipped, saying why.
    fn skip_the_rest(mut self) -> Vec<Outcome> {
        let why = if self.endpoint_gone {
            "not started: the endpoint stopped answering"
        } else {
            "not started: interrupted"
        };
        for id in std::mem::take(&mut self.pending) {
            let o = skipped(&id, why.into());
            (self.report)(Progress::Finished(&o));
            self.outcomes.push(o);
        }
        self.outcomes
    }
}

fn skipped(id: &ResourceId, why: String) -> Outcome {
    outcome(
        id,
        Action::NoOp,
        OutcomeResult::Skipped(why),
        Duration::ZERO,
    )
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::model::Kind;

    const THING: Kind = Kind::new(0, "things", "thing");

    fn id(name: &str) -> ResourceId {
        ResourceId::new(THING, name)
    }

    /// What a made-up step does: how long it takes, how it ends, and how long it settles.
    #[derive(Clone, Copy)]
    enum Ends {
        Ok,
        Fails,
        Unreachable,
        NotOwned,
    }

    #[derive(Clone, Copy)]
    struct Work {
        takes_ms: u64,
        ends: Ends,
        settles: Option<(u64, bool)>,
    }

    const QUICK: Work = Work {
        takes_ms: 10,
        ends: Ends::Ok,
        settles: None,
    };

    /// The order of events, as `(ms since the start, what)`.
    type Log = Rc<RefCell<Vec<(u64, String)>>>;

    struct Run {
        outcomes: Vec<Outcome>,
        log: Vec<(u64, String)>,
    }

    impl Run {
        fn result(&self, name: &str) -> &OutcomeResult {
            &self
                .outcomes
                .iter()
                .find(|o| o.id.name == name)
                .unwrap()
                .result
        }

        fn started_at(&self, name: &str) -> Option<u64> {
            let what = format!("start {name}");
            self.log.iter().find(|(_, w)| *w == what).map(|(t, _)| *t)
        }
    }

    /// Walks `edges` (node, what it waits for) with `work` per node, cancelling after
    /// `cancel_after_ms` when given.
    async fn walk_with(
        edges: &[(&str, &[&str])],
        work: &[(&str, Work)],
        not_owned_blocks: bool,
        cancel_after_ms: Option<u64>,
    ) -> Run {
        let order: Vec<ResourceId> = edges.iter().map(|(n, _)| id(n)).collect();
        let waits: HashMap<ResourceId, Vec<ResourceId>> = edges
            .iter()
            .map(|(n, deps)| (id(n), deps.iter().map(|d| id(d)).collect()))
            .collect();
        let plan: HashMap<String, Work> = work.iter().map(|(n, w)| (n.to_string(), *w)).collect();
        let log: Log = Rc::default();
        let start = tokio::time::Instant::now();
        let cancel = CancellationToken::new();
        if let Some(ms) = cancel_after_ms {
            let token = cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                token.cancel();
            });
        }
        let report = |_: Progress<'_>| {};
        let outcomes = walk(
            order,
            not_owned_blocks,
            |n| waits[n].clone(),
            &cancel,
            &report,
            |n: &ResourceId, _: &HashMap<ResourceId, Outputs>| {
                let w = plan.get(&n.name).copied().unwrap_or(QUICK);
                let (log, name) = (log.clone(), n.name.clone());
                let ms = move || start.elapsed().as_millis() as u64;
                log.borrow_mut().push((ms(), format!("start {name}")));
                async move {
                    tokio::time::sleep(Duration::from_millis(w.takes_ms)).await;
                    log.borrow_mut().push((ms(), format!("end {name}")));
                    let settle = w.settles.map(|(settle_ms, ok)| {
                        let log = log.clone();
                        let name = name.clone();
                        Box::pin(async move {
                            tokio::time::sleep(Duration::from_millis(settle_ms)).await;
                            log.borrow_mut().push((ms(), format!("settled {name}")));
                            if ok {
                                Ok(())
                            } else {
                                Err(anyhow::anyhow!("never became ready"))
                            }
                        })
                            as Pin<Box<dyn Future<Output = anyhow::Result<()>>>>
                    });
                    match w.ends {
                        Ends::Ok => Ok(Step {
                            action: Action::Create,
                            outputs: Some(Outputs::new()),
                            settle,
                        }),
                        Ends::Fails => Err(StepError::Failed(
                            Action::Create,
                            anyhow::anyhow!("refused"),
                        )),
                        Ends::Unreachable => Err(StepError::Failed(
                            Action::Create,
                            crate::aws::errors::AwsError::unreachable_for_test("CreateThing")
                                .into(),
                        )),
                        Ends::NotOwned => Err(StepError::NotOwned("someone else's".into())),
                    }
                }
            },
        )
        .await;
        let log = log.borrow().clone();
        Run { outcomes, log }
    }

    #[tokio::test(start_paused = true)]
    async fn independent_nodes_run_at_once_and_dependents_after() {
        let run = walk_with(
            &[("a", &[]), ("b", &[]), ("c", &["a", "b"])],
            &[
                (
                    "a",
                    Work {
                        takes_ms: 100,
                        ..QUICK
                    },
                ),
                (
                    "b",
                    Work {
                        takes_ms: 30,
                        ..QUICK
                    },
                ),
            ],
            true,
            None,
        )
        .await;
        assert_eq!(run.started_at("a"), Some(0));
        assert_eq!(run.started_at("b"), Some(0));
        // c waits for the slower of its two dependencies, and no longer.
        assert_eq!(run.started_at("c"), Some(100));
        assert!(
            run.outcomes
                .iter()
                .all(|o| matches!(o.result, OutcomeResult::Done))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_skips_everything_that_waits_on_it_and_nothing_else() {
        let run = walk_with(
            &[("a", &[]), ("b", &["a"]), ("c", &["b"]), ("d", &[])],
            &[(
                "a",
                Work {
                    ends: Ends::Fails,
                    ..QUICK
                },
            )],
            true,
            None,
        )
        .await;
        assert!(matches!(run.result("a"), OutcomeResult::Failed(e) if e.contains("refused")));
        assert!(matches!(run.result("b"), OutcomeResult::Skipped(why) if why.contains("thing a")));
        // Skipped transitively: c waits on b, which never ran.
        assert!(matches!(run.result("c"), OutcomeResult::Skipped(why) if why.contains("thing b")));
        assert!(matches!(run.result("d"), OutcomeResult::Done));
        assert_eq!(run.started_at("b"), None);
        assert_eq!(run.outcomes.len(), 4, "every node has exactly one outcome");
    }

    #[tokio::test(start_paused = true)]
    async fn dependents_start_before_a_step_settles_and_its_outcome_waits_for_it() {
        let slow_settle = Work {
            settles: Some((500, true)),
            ..QUICK
        };
        let run = walk_with(
            &[("fn", &[]), ("map", &["fn"])],
            &[("fn", slow_settle)],
            true,
            None,
        )
        .await;
        assert_eq!(run.started_at("map"), Some(10), "map starts when fn exists");
        let done = |name: &str| run.outcomes.iter().position(|o| o.id.name == name).unwrap();
        assert!(done("map") < done("fn"), "fn is reported once it settled");
        let settled = run.outcomes.iter().find(|o| o.id.name == "fn").unwrap();
        assert_eq!(settled.elapsed, Duration::from_millis(510));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_settle_is_a_failure() {
        let bad = Work {
            settles: Some((50, false)),
            ..QUICK
        };
        let run = walk_with(&[("fn", &[])], &[("fn", bad)], true, None).await;
        assert!(
            matches!(run.result("fn"), OutcomeResult::Failed(e) if e.contains("never became ready"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn after_cancel_nothing_new_starts_and_what_runs_finishes() {
        let run = walk_with(
            &[("a", &[]), ("b", &["a"])],
            &[(
                "a",
                Work {
                    takes_ms: 100,
                    ..QUICK
                },
            )],
            true,
            Some(50),
        )
        .await;
        assert!(
            matches!(run.result("a"), OutcomeResult::Done),
            "in flight, so it finishes"
        );
        assert!(
            matches!(run.result("b"), OutcomeResult::Skipped(why) if why.contains("interrupted"))
        );
        assert_eq!(run.started_at("b"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn once_the_endpoint_is_gone_nothing_new_starts() {
        let run = walk_with(
            &[("a", &[]), ("slow", &[]), ("b", &["slow"])],
            &[
                (
                    "a",
                    Work {
                        ends: Ends::Unreachable,
                        ..QUICK
                    },
                ),
                (
                    "slow",
                    Work {
                        takes_ms: 100,
                        ..QUICK
                    },
                ),
            ],
            true,
            None,
        )
        .await;
        assert!(run.outcomes.iter().any(|o| o.unreachable));
        assert!(matches!(run.result("slow"), OutcomeResult::Done));
        assert!(
            matches!(run.result("b"), OutcomeResult::Skipped(why) if why.contains("endpoint stopped answering"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn someone_elses_resource_blocks_up_but_not_down() {
        let edges: &[(&str, &[&str])] = &[("theirs", &[]), ("mine", &["theirs"])];
        let work = &[(
            "theirs",
            Work {
                ends: Ends::NotOwned,
                ..QUICK
            },
        )];
        let up = walk_with(edges, work, true, None).await;
        assert!(matches!(up.result("theirs"), OutcomeResult::NotOwned(_)));
        assert!(matches!(up.result("mine"), OutcomeResult::Skipped(_)));
        let down = walk_with(edges, work, false, None).await;
        assert!(matches!(down.result("mine"), OutcomeResult::Done));
    }
}
