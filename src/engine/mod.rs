//! Walks the graph: reads every resource at once, plans, then applies each resource as soon as
//! everything it depends on is done, carrying outputs (ARNs, URLs) forward to its dependents.

mod schedule;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::aws::Ctx;
use crate::aws::errors::AwsError;
use crate::graph::Graph;
use crate::manifest::{self, Stack};
use crate::model::{Live, Outputs, Owner, ResourceId};
use crate::plan::{self, Action, Change};
use crate::resolve::Resolver;
use crate::resources::{self, Build, Packages, Resource};

/// Live state of every resource in the stack; `None` where it does not exist.
pub type Observed = HashMap<ResourceId, Option<Live>>;

/// Everything a run needs that does not change during it.
pub struct Engine<'a> {
    pub ctx: &'a Ctx,
    pub stack: &'a Stack,
    pub graph: Graph,
    pub packages: Packages,
    factory: Factory,
}

/// Makes the resource for one declared entry: the kinds' registry, or fakes in tests.
pub type Factory = fn(&manifest::Resource, &Build<'_>) -> Box<dyn Resource>;

fn registry(declared: &manifest::Resource, build: &Build<'_>) -> Box<dyn Resource> {
    resources::kind(declared.kind()).build(declared, build)
}

/// What the walk tells whoever shows it: work on a resource began, or ended.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'p> {
    Started(&'p ResourceId),
    Finished(&'p Outcome),
}

/// What happened to one resource.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub id: ResourceId,
    pub action: Action,
    pub result: OutcomeResult,
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
    /// ARNs, URLs and ids after the step, for `outputs` and dependents.
    #[serde(skip)]
    pub outputs: Option<Outputs>,
    /// Failed because the endpoint stopped answering, not because the request was refused.
    #[serde(skip)]
    pub unreachable: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum OutcomeResult {
    Done,
    Unchanged,
    Failed(String),
    /// Not attempted: a dependency failed, or the run was interrupted first.
    Skipped(String),
    /// Left alone because someone else owns it.
    NotOwned(String),
}

impl Outcome {
    /// Failed or not attempted. Leaving another's resource alone is not a failure by itself;
    /// `up` treats it as one because the stack cannot converge.
    pub fn failed(&self) -> bool {
        matches!(
            self.result,
            OutcomeResult::Failed(_) | OutcomeResult::Skipped(_)
        )
    }

    pub fn not_owned(&self) -> bool {
        matches!(self.result, OutcomeResult::NotOwned(_))
    }
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl<'a> Engine<'a> {
    pub fn new(ctx: &'a Ctx, stack: &'a Stack) -> Result<Engine<'a>> {
        Engine::with_factory(ctx, stack, registry)
    }

    /// An engine whose resources come from `factory` instead of the kinds' registry.
    pub fn with_factory(ctx: &'a Ctx, stack: &'a Stack, factory: Factory) -> Result<Engine<'a>> {
        let packages = resources::package_all(stack)?;
        Ok(Engine {
            ctx,
            stack,
            graph: stack.graph.clone(),
            packages,
            factory,
        })
    }

    /// Outputs predictable from names alone (ARNs), for resources not yet read or created.
    fn predicted(&self) -> HashMap<ResourceId, Outputs> {
        self.stack
            .resources
            .iter()
            .map(|r| {
                let (account, region) = (&self.ctx.account, &self.ctx.target.region);
                let o = resources::kind(r.kind()).predicted(r, account, region);
                (r.id().clone(), o)
            })
            .collect()
    }

    fn resolver<'o>(&'o self, outputs: &'o HashMap<ResourceId, Outputs>) -> Resolver<'o> {
        Resolver {
            account_id: &self.ctx.account,
            region: &self.ctx.target.region,
            outputs,
            captured: crate::resolve::nothing_captured(),
        }
    }

    fn build(&self, id: &ResourceId, outputs: &HashMap<ResourceId, Outputs>) -> Box<dyn Resource> {
        let Some(declared) = self.stack.get(id) else {
            unreachable!("graph nodes come from the stack")
        };
        let build = Build {
            name: &id.name,
            resolver: &self.resolver(outputs),
            package: self.packages.get(id).cloned(),
        };
        (self.factory)(declared, &build)
    }

    /// The first reference of `id` that cannot be resolved with `outputs`.
    fn unresolved(
        &self,
        id: &ResourceId,
        outputs: &HashMap<ResourceId, Outputs>,
    ) -> Option<String> {
        let declared = self.stack.get(id)?;
        let templates = declared.spec.templates();
        let missing = self.resolver(outputs).first_unknown(templates)?;
        let names: Vec<String> = missing.references().map(ToString::to_string).collect();
        Some(names.join(", "))
    }

    /// Reads every resource concurrently (a cold LocalStack then loads its services in parallel).
    pub async fn observe(&self) -> Result<Observed> {
        let predicted = self.predicted();
        let reads = self.graph.order().into_iter().map(|id| {
            let resource = self.build(&id, &predicted);
            async move {
                let live = resource.read(self.ctx).await;
                (id, live)
            }
        });
        let results = futures::future::join_all(reads).await;
        let mut observed = Observed::new();
        let mut errors = Vec::new();
        let mut unreachable = false;
        for (id, live) in results {
            match live {
                Ok(l) => {
                    observed.insert(id, l);
                }
                Err(e) => {
                    unreachable |= is_unreachable(&e);
                    errors.push(format!("reading {id}: {e:#}"));
                }
            }
        }
        if unreachable {
            return Err(anyhow!(
                "{} stopped answering while exstack was reading the stack; nothing was changed. Run the command again once it is back",
                self.ctx.target.describe()
            ));
        }
        if !errors.is_empty() {
            return Err(anyhow!(errors.join("\n")));
        }
        Ok(observed)
    }

    /// What is left after `destroy`: what it deleted is gone, the rest is as it was read.
    /// `reset` plans its `up` from this instead of reading every resource again.
    pub fn after_teardown(observed: &Observed, outcomes: &[Outcome]) -> Observed {
        let deleted: BTreeSet<&ResourceId> = outcomes
            .iter()
            .filter(|o| o.action == Action::Delete && matches!(o.result, OutcomeResult::Done))
            .map(|o| &o.id)
            .collect();
        observed
            .iter()
            .map(|(id, live)| {
                let left = if deleted.contains(id) {
                    None
                } else {
                    live.clone()
                };
                (id.clone(), left)
            })
            .collect()
    }

    /// Outputs as known now: observed where the resource exists, predicted otherwise.
    pub fn known_outputs(&self, observed: &Observed) -> HashMap<ResourceId, Outputs> {
        let mut outputs = self.predicted();
        for (id, live) in observed {
            if let Some(live) = live {
                outputs
                    .entry(id.clone())
                    .or_default()
                    .extend(live.outputs.clone());
            }
        }
        outputs
    }

    /// Waits until every existing resource has settled (a function Active, a mapping
    /// enabled), as `up` does before it reports done.
    pub async fn settle_all(&self, observed: &Observed) -> Result<()> {
        let outputs = self.known_outputs(observed);
        for (id, live) in observed {
            if let Some(live) = live {
                self.build(id, &outputs)
                    .settle(self.ctx, &live.outputs)
                    .await?;
            }
        }
        Ok(())
    }

    /// What `up` would do, in creation order.
    pub fn plan(&self, observed: &Observed, adopt: bool) -> Vec<Change> {
        let outputs = self.known_outputs(observed);
        self.graph
            .order()
            .iter()
            .map(|id| self.change(id, &outputs, observed, adopt))
            .collect()
    }

    fn change(
        &self,
        id: &ResourceId,
        outputs: &HashMap<ResourceId, Outputs>,
        observed: &Observed,
        adopt: bool,
    ) -> Change {
        let resource = self.build(id, outputs);
        let live = observed.get(id).and_then(Option::as_ref);
        let desired = resource.desired_for(live);
        plan::diff(id, &desired, live, resource.replaced_by(), adopt)
    }

    /// Brings the live stack to stack.toml. Each resource starts once its dependencies are done;
    /// after `cancel`, nothing new starts and what is in flight finishes.
    pub async fn apply(
        &self,
        observed: &Observed,
        adopt: bool,
        cancel: &CancellationToken,
        report: &(dyn Fn(Progress<'_>) + Sync),
    ) -> Vec<Outcome> {
        let mut outputs = self.known_outputs(observed);
        let order = self.graph.order();
        let deps = |id: &ResourceId| self.graph.dependencies(id).cloned().collect::<Vec<_>>();
        // A dependent of someone else's resource would build on what we may not manage.
        schedule::walk(
            order,
            true,
            deps,
            cancel,
            report,
            |id, done: &HashMap<ResourceId, Outputs>| {
                outputs.extend(done.clone());
                let resource = self.build(id, &outputs);
                let unresolved = self.unresolved(id, &outputs);
                let live = observed.get(id).cloned().flatten();
                async move { self.converge(resource, live, adopt, unresolved).await }
            },
        )
        .await
    }

    /// Deletes what the stack owns, dependents before their dependencies.
    pub async fn destroy(
        &self,
        observed: &Observed,
        include_unowned: bool,
        cancel: &CancellationToken,
        report: &(dyn Fn(Progress<'_>) + Sync),
    ) -> Vec<Outcome> {
        let outputs = self.known_outputs(observed);
        let order = self.graph.teardown_order();
        let dependents = |id: &ResourceId| self.graph.dependents(id).cloned().collect::<Vec<_>>();
        // What someone else's resource depends on is still ours to delete.
        schedule::walk(order, false, dependents, cancel, report, |id, _| {
            let resource = self.build(id, &outputs);
            let live = observed.get(id).cloned().flatten();
            let change = plan::teardown(id, live.as_ref(), include_unowned);
            async move {
                match (change.action, live) {
                    (Action::Delete, Some(live)) => match resource.delete(self.ctx, &live).await {
                        Ok(()) => Ok(Step::done(Action::Delete, None)),
                        Err(e) => Err(StepError::Failed(Action::Delete, e)),
                    },
                    (Action::NotOwned, _) => Err(not_owned(&change)),
                    _ => Ok(Step::done(Action::NoOp, None)),
                }
            }
        })
        .await
    }

    /// Plans one resource against its live state, with its dependencies' real outputs, and acts.
    async fn converge(
        &self,
        resource: Box<dyn Resource>,
        live: Option<Live>,
        adopt: bool,
        unresolved: Option<String>,
    ) -> Result<Step<'a>, StepError> {
        let desired = resource.desired_for(live.as_ref());
        let change = plan::diff(
            resource.id(),
            &desired,
            live.as_ref(),
            resource.replaced_by(),
            adopt,
        );
        let fail = |e: anyhow::Error| StepError::Failed(change.action, e);
        if let Some(reference) = unresolved {
            return Err(fail(anyhow!(
                "{reference} is still unknown after its dependencies were applied"
            )));
        }
        let ctx = self.ctx;
        let outputs = match (change.action, &live) {
            (Action::NotOwned, _) => return Err(not_owned(&change)),
            (Action::Create, _) => match create_or_find(ctx, resource.as_ref()).await {
                Ok(Created::New(outputs)) => outputs,
                Ok(Created::Found(live)) => {
                    return Box::pin(self.converge(resource, Some(live), adopt, None)).await;
                }
                Err(e) => return Err(fail(e)),
            },
            (Action::NoOp | Action::Update, Some(live)) => {
                if live.owner != Owner::Us {
                    resource.tag(ctx, live).await.map_err(fail)?;
                }
                if change.action == Action::NoOp {
                    return Ok(Step::done(Action::NoOp, Some(live.outputs.clone())));
                }
                resource
                    .update(ctx, live, &change.fields)
                    .await
                    .map_err(fail)?
            }
            (Action::Replace, Some(live)) => resource.replace(ctx, live).await.map_err(fail)?,
            (action, _) => return Err(fail(anyhow!("nothing to {action:?} against"))),
        };
        let settled_outputs = outputs.clone();
        Ok(Step {
            action: change.action,
            outputs: Some(outputs),
            settle: Some(Box::pin(async move {
                resource.settle(ctx, &settled_outputs).await
            })),
        })
    }
}

/// The endpoint itself is gone (connection refused, timeouts), not one request refused.
fn is_unreachable(e: &anyhow::Error) -> bool {
    any_aws_error(e, |a| a.unreachable)
}

/// A create refused because the thing exists after all.
fn is_already_exists(e: &anyhow::Error) -> bool {
    any_aws_error(e, AwsError::is_already_exists)
}

fn any_aws_error(e: &anyhow::Error, test: impl Fn(&AwsError) -> bool) -> bool {
    e.chain()
        .any(|c| c.downcast_ref::<AwsError>().is_some_and(&test))
}

enum Created {
    New(Outputs),
    /// The create was refused as already existing, and this is what exists.
    Found(Live),
}

/// Creates, or finds what won the race to create it. A run killed in the middle of a create
/// (its request still being served) is the usual winner: its tags may land a moment after the
/// resource itself, so an untagged answer is read again for a short while before it is taken
/// as someone else's; the caller then plans against it like any read, so something a person
/// made is still never touched. "Already exists" with nothing to read means the old one is
/// still being deleted (an event source mapping in `Deleting`): the create is tried again.
async fn create_or_find(ctx: &Ctx, resource: &dyn Resource) -> Result<Created> {
    let start = Instant::now();
    let mut wait = ctx.patience.first_wait;
    let mut try_create = true;
    // Counted from the first untagged answer, not from the create (which may have spent
    // seconds on IAM propagation retries).
    let mut untagged_since: Option<Instant> = None;
    loop {
        if try_create {
            match create(ctx, resource).await {
                Err(e) if is_already_exists(&e) && start.elapsed() < ctx.patience.give_up_after => {
                }
                created => return created.map(Created::New),
            }
        }
        match resource.read(ctx).await? {
            Some(live) if live.owner == Owner::Us => return Ok(Created::Found(live)),
            Some(live) => {
                let since = *untagged_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= LOST_RACE_TAG_WAIT {
                    return Ok(Created::Found(live));
                }
                try_create = false;
            }
            None => try_create = true,
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_millis(500));
    }
}

/// Creates, first letting a rival create the same thing when a test asks for it
/// ([`crate::aws::Faults::lose_create_race`]).
async fn create(ctx: &Ctx, resource: &dyn Resource) -> Result<Outputs> {
    let table = resource.id().kind.table();
    // A test hook: never on real AWS, where a double create costs money and quota.
    if !ctx.target.is_aws() && ctx.faults.lose_create_race.iter().any(|t| t == table) {
        resource.create(ctx).await?;
    }
    resource.create(ctx).await
}

/// How long an untagged winner of a create race may take to show its ownership tags.
const LOST_RACE_TAG_WAIT: Duration = Duration::from_secs(3);

/// What one step did, and what is left to wait for before it counts as done.
pub struct Step<'a> {
    action: Action,
    outputs: Option<Outputs>,
    settle: Option<Pin<Box<dyn Future<Output = Result<()>> + 'a>>>,
}

impl Step<'_> {
    fn done(action: Action, outputs: Option<Outputs>) -> Self {
        Step {
            action,
            outputs,
            settle: None,
        }
    }
}

pub enum StepError {
    NotOwned(String),
    Failed(Action, anyhow::Error),
}

fn not_owned(change: &Change) -> StepError {
    let whose = match &change.owner {
        Some(Owner::Stack(other)) => format!("belongs to stack `{other}`"),
        _ => {
            "exists without this stack's ownership tag (made by hand or by another tool)".to_owned()
        }
    };
    StepError::NotOwned(whose)
}

fn failure(id: &ResourceId, action: Action, e: &anyhow::Error, elapsed: Duration) -> Outcome {
    let result = OutcomeResult::Failed(format!("{e:#}"));
    Outcome {
        unreachable: is_unreachable(e),
        ..outcome(id, action, result, elapsed)
    }
}

fn outcome(id: &ResourceId, action: Action, result: OutcomeResult, elapsed: Duration) -> Outcome {
    Outcome {
        id: id.clone(),
        action,
        result,
        elapsed,
        outputs: None,
        unreachable: false,
    }
}
