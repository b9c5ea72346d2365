//! The engine against fake resources held in memory: plan, apply, drift, ownership and
//! teardown, with no emulator. The fakes stand for any kind; the stack is parsed as usual.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use anyhow::Result;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::aws::Platform;
use crate::manifest::Setting;
use crate::model::{Fields, Value};
use crate::plan::FieldDiff;

/// The fake account: each resource's fields and owner, by id.
type Account = Rc<RefCell<BTreeMap<ResourceId, (Fields, Owner)>>>;

// Each test runs on its own thread (tokio's current-thread runtime), so each has its own account.
thread_local! {
    static ACCOUNT: Account = Account::default();
    static WRITES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn account() -> Account {
    ACCOUNT.with(Rc::clone)
}

fn wrote(what: String) {
    WRITES.with(|w| w.borrow_mut().push(what));
}

fn writes() -> Vec<String> {
    WRITES.with(|w| std::mem::take(&mut *w.borrow_mut()))
}

/// A resource whose desired fields are its declared visibility timeout and its references.
struct Fake {
    id: ResourceId,
    desired: Fields,
}

fn fake(declared: &manifest::Resource, build: &Build<'_>) -> Box<dyn Resource> {
    let mut desired = Fields::new();
    if let Some(Setting::Int(n)) = declared.setting("visibility_timeout") {
        desired.insert("timeout".into(), n.to_string().into());
    }
    for (i, t) in declared.spec.templates().into_iter().enumerate() {
        desired.insert(format!("ref{i}"), build.resolver.value(t));
    }
    Box::new(Fake {
        id: declared.id().clone(),
        desired,
    })
}

#[async_trait]
impl Resource for Fake {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn desired(&self) -> Fields {
        self.desired.clone()
    }

    async fn read(&self, _ctx: &Ctx) -> Result<Option<Live>> {
        let found = account().borrow().get(&self.id).cloned();
        Ok(found.map(|(fields, owner)| {
            let arn = format!("arn:{}", self.id.name);
            Live::new(fields, Outputs::from([("arn".into(), arn)]), owner)
        }))
    }

    async fn create(&self, _ctx: &Ctx) -> Result<Outputs> {
        assert!(
            !self.desired.values().any(Value::is_unknown),
            "sent an unknown value"
        );
        wrote(format!("create {}", self.id.name));
        let entry = (self.desired.clone(), Owner::Us);
        account().borrow_mut().insert(self.id.clone(), entry);
        Ok(Outputs::from([(
            "arn".into(),
            format!("arn:{}", self.id.name),
        )]))
    }

    async fn update(&self, _ctx: &Ctx, live: &Live, changed: &[FieldDiff]) -> Result<Outputs> {
        let names: Vec<&str> = changed.iter().map(|c| c.field.as_str()).collect();
        wrote(format!("update {} {}", self.id.name, names.join(",")));
        let entry = (self.desired.clone(), Owner::Us);
        account().borrow_mut().insert(self.id.clone(), entry);
        Ok(live.outputs.clone())
    }

    async fn delete(&self, _ctx: &Ctx, _live: &Live) -> Result<()> {
        wrote(format!("delete {}", self.id.name));
        account().borrow_mut().remove(&self.id);
        Ok(())
    }

    async fn tag(&self, _ctx: &Ctx, _live: &Live) -> Result<()> {
        wrote(format!("tag {}", self.id.name));
        Ok(())
    }
}

const STACK: &str = r#"
[stack]
name = "t"
[queues.dlq]
[queues.main]
visibility_timeout = 60
dead_letter = { queue = "${queues.dlq.arn}", max_receive_count = 3 }
"#;

fn stack() -> Stack {
    let kinds = resources::declarations();
    manifest::parse(Path::new("stack.toml"), STACK, &[], &kinds).unwrap()
}

fn id(stack: &Stack, name: &str) -> ResourceId {
    stack
        .resources
        .iter()
        .find(|r| r.id().name == name)
        .unwrap()
        .id()
        .clone()
}

async fn up(engine: &Engine<'_>) -> Vec<Outcome> {
    let observed = engine.observe().await.unwrap();
    engine
        .apply(&observed, false, &CancellationToken::new(), &|_| {})
        .await
}

fn actions(changes: &[Change]) -> Vec<(String, Action)> {
    changes
        .iter()
        .map(|c| (c.id.name.clone(), c.action))
        .collect()
}

#[tokio::test]
async fn up_creates_in_order_with_real_outputs_then_does_nothing() {
    let ctx = Ctx::for_test("http://127.0.0.1:9", Platform::LocalStack).await;
    let stack = stack();
    let engine = Engine::with_factory(&ctx, &stack, fake).unwrap();
    let outcomes = up(&engine).await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o.result, OutcomeResult::Done))
    );
    assert_eq!(writes(), ["create dlq", "create main"]);
    // main was created with the ARN dlq's create returned.
    let main = account().borrow()[&id(&stack, "main")].0.clone();
    assert_eq!(main["ref0"], Value::from("arn:dlq"));
    let observed = engine.observe().await.unwrap();
    let plan = engine.plan(&observed, false);
    assert!(plan.iter().all(|c| c.action == Action::NoOp), "{plan:?}");
    up(&engine).await;
    assert!(writes().is_empty(), "a second up writes nothing");
}

#[tokio::test]
async fn drift_is_planned_field_by_field_and_repaired() {
    let ctx = Ctx::for_test("http://127.0.0.1:9", Platform::LocalStack).await;
    let stack = stack();
    let engine = Engine::with_factory(&ctx, &stack, fake).unwrap();
    up(&engine).await;
    writes();
    let main = id(&stack, "main");
    account()
        .borrow_mut()
        .get_mut(&main)
        .unwrap()
        .0
        .insert("timeout".into(), "30".into());
    let plan = engine.plan(&engine.observe().await.unwrap(), false);
    let change = plan.iter().find(|c| c.id == main).unwrap();
    assert_eq!(change.action, Action::Update);
    assert_eq!(change.fields[0].live, Some(Value::from("30")));
    up(&engine).await;
    assert_eq!(writes(), ["update main timeout"]);
}

#[tokio::test]
async fn an_untagged_resource_is_left_alone_and_blocks_its_dependents() {
    let ctx = Ctx::for_test("http://127.0.0.1:9", Platform::LocalStack).await;
    let stack = stack();
    let engine = Engine::with_factory(&ctx, &stack, fake).unwrap();
    let dlq = id(&stack, "dlq");
    account()
        .borrow_mut()
        .insert(dlq, (Fields::new(), Owner::Untagged));
    let plan = engine.plan(&engine.observe().await.unwrap(), false);
    assert_eq!(
        actions(&plan),
        [
            ("dlq".into(), Action::NotOwned),
            ("main".into(), Action::Create)
        ]
    );
    let outcomes = up(&engine).await;
    assert!(
        writes().is_empty(),
        "nothing is done to someone else's resource"
    );
    assert!(outcomes.iter().any(|o| o.not_owned()));
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o.result, OutcomeResult::Skipped(_)))
    );
}

#[tokio::test]
async fn down_deletes_dependents_first_and_only_ours() {
    let ctx = Ctx::for_test("http://127.0.0.1:9", Platform::LocalStack).await;
    let stack = stack();
    let engine = Engine::with_factory(&ctx, &stack, fake).unwrap();
    up(&engine).await;
    writes();
    let observed = engine.observe().await.unwrap();
    engine
        .destroy(&observed, false, &CancellationToken::new(), &|_| {})
        .await;
    assert_eq!(writes(), ["delete main", "delete dlq"]);
    assert!(account().borrow().is_empty());
}
