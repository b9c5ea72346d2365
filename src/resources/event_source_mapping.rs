//! Event source mappings (queue → function). AWS names them by UUID only, so a mapping is found
//! by what it connects; it belongs to the stack that owns its function.

use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_lambda::types::EventSourceMappingConfiguration;
use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::{Build, FieldDoc, KindImpl, Resource, Shape, owner_of};
use crate::aws::Ctx;
use crate::aws::errors::{AwsResult, Found, retry_transient, wait_until};
use crate::manifest::raw::Scalar;
use crate::manifest::template::Template;
use crate::manifest::{Checker, Declare, Setting, Spec};
use crate::model::{Fields, Kind, Live, Outputs, Owner, ResourceId, Value};
use crate::plan::FieldDiff;

pub const KIND: Kind = Kind::new(5, "event_source_mappings", "event source mapping");

/// An SQS → Lambda trigger.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "EventSourceMapping")]
pub struct RawMapping {
    /// The queue's ARN, e.g. `"${queues.task-queue.arn}"`.
    #[schemars(with = "String")]
    pub source: Spanned<String>,
    /// The function's name, e.g. `"${functions.task-processor.name}"`.
    #[schemars(with = "String")]
    pub function: Spanned<String>,
    /// Messages per invocation (1-10000, default 10).
    #[schemars(with = "Option<Scalar>")]
    pub batch_size: Option<Spanned<Scalar>>,
    /// Seconds to gather a batch before invoking (0-300, default 0).
    #[schemars(with = "Option<Scalar>")]
    pub maximum_batching_window: Option<Spanned<Scalar>>,
    /// Whether the trigger runs (default true).
    #[schemars(with = "Option<bool>")]
    pub enabled: Option<Spanned<bool>>,
}

#[derive(Debug, Clone)]
pub struct MappingSpec {
    pub source: Template,
    pub function: Template,
    pub batch_size: i32,
    pub maximum_batching_window: i32,
    pub enabled: bool,
}

impl Spec for MappingSpec {
    fn kind(&self) -> Kind {
        KIND
    }

    fn templates(&self) -> Vec<&Template> {
        vec![&self.source, &self.function]
    }

    fn setting(&self, key: &str) -> Option<Setting<'_>> {
        match key {
            "source" => Some(Setting::Reference(&self.source)),
            "function" => Some(Setting::Reference(&self.function)),
            "batch_size" => Some(Setting::Int(self.batch_size.into())),
            "maximum_batching_window" => Some(Setting::Int(self.maximum_batching_window.into())),
            _ => None,
        }
    }
}

impl Declare for EventSourceMapping {
    const KIND: Kind = KIND;
    const ATTRIBUTES: &'static [&'static str] = &["uuid"];
    const ABOUT: &'static str =
        "Triggers that invoke a function with batches of messages from a queue, by name.";
    type Raw = RawMapping;
    type Spec = MappingSpec;

    fn check(_name: &Spanned<String>, m: &RawMapping, c: &mut Checker) -> MappingSpec {
        MappingSpec {
            source: c.reference_to(&m.source, super::queue::KIND, "arn"),
            function: c.reference_to(&m.function, super::function::KIND, "name"),
            // The ranges fit in i32, which is what Lambda takes.
            batch_size: c.int_or(m.batch_size.as_ref(), 1..=10_000, "batch_size", 10) as i32,
            maximum_batching_window: c.int_or(
                m.maximum_batching_window.as_ref(),
                0..=300,
                "maximum_batching_window (seconds)",
                0,
            ) as i32,
            enabled: m.enabled.as_ref().is_none_or(|e| *e.get_ref()),
        }
    }
}

impl KindImpl for EventSourceMapping {
    const SHAPE: Shape = Shape {
        mermaid: ("([", "])"),
        dot: "ellipse",
    };
    const FIELDS: &'static [FieldDoc] = &[
        FieldDoc::new("BatchSize", "batch_size", "batch size"),
        FieldDoc::new(
            "MaximumBatchingWindowInSeconds",
            "maximum_batching_window",
            "batching window",
        )
        .unit(" s"),
        FieldDoc::new("Enabled", "enabled", "enabled"),
    ];

    fn build(spec: &MappingSpec, b: &Build<'_>) -> Box<dyn Resource> {
        Box::new(EventSourceMapping {
            id: ResourceId::new(KIND, b.name),
            source: b.resolver.value(&spec.source),
            function: b.resolver.value(&spec.function),
            batch_size: spec.batch_size,
            window: spec.maximum_batching_window,
            enabled: spec.enabled,
        })
    }

    /// A mapping has no name of its own: AWS knows it by its UUID only.
    fn predicted(_name: &str, _account: &str, _region: &str) -> Outputs {
        Outputs::new()
    }
}

pub struct EventSourceMapping {
    id: ResourceId,
    source: Value,
    function: Value,
    batch_size: i32,
    window: i32,
    enabled: bool,
}

impl EventSourceMapping {
    fn source(&self) -> Result<&str> {
        self.source.sendable()
    }

    fn function(&self) -> Result<&str> {
        self.function.sendable()
    }

    async fn find(&self, ctx: &Ctx) -> Result<Option<EventSourceMappingConfiguration>> {
        let listed = ctx
            .lambda
            .list_event_source_mappings()
            .function_name(self.function()?)
            .event_source_arn(self.source()?)
            .send()
            .await
            .aws("ListEventSourceMappings")
            .found()?;
        Ok(listed.and_then(|l| {
            l.event_source_mappings
                .unwrap_or_default()
                .into_iter()
                // A mapping being deleted is as good as gone (LocalStack deletes asynchronously).
                .find(|m| {
                    m.event_source_arn() == self.source.known() && m.state() != Some("Deleting")
                })
        }))
    }

    /// Enabled and disabled are the settled states; the rest are transitions.
    async fn wait_settled(&self, ctx: &Ctx, uuid: &str) -> Result<()> {
        wait_until(&format!("{} to settle", self.id), ctx.patience, || async {
            let m = ctx
                .lambda
                .get_event_source_mapping()
                .uuid(uuid)
                .send()
                .await
                .aws("GetEventSourceMapping")?;
            Ok(matches!(m.state(), Some("Enabled" | "Disabled")).then_some(()))
        })
        .await
    }
}

#[async_trait]
impl Resource for EventSourceMapping {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn desired(&self) -> Fields {
        crate::model::fields([
            ("BatchSize", self.batch_size.to_string()),
            ("MaximumBatchingWindowInSeconds", self.window.to_string()),
            ("Enabled", self.enabled.to_string()),
        ])
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Live>> {
        // Found by what it connects: unknown ends mean it cannot exist yet.
        if self.source.is_unknown() || self.function.is_unknown() {
            return Ok(None);
        }
        let (mapping, tags) = tokio::join!(
            self.find(ctx),
            ctx.lambda
                .get_function()
                .function_name(self.function()?)
                .send()
        );
        let Some(m) = mapping? else { return Ok(None) };
        let owner = match tags.aws("GetFunction").found()? {
            Some(f) => owner_of(f.tags().into_iter().flatten(), &ctx.stack),
            // Its function is gone; ours will be created (tagged) before the mapping is touched,
            // and a same-named function that is not ours is refused there.
            None => Owner::Us,
        };
        // The listed state can lag behind on LocalStack (Disabled for a moment after an
        // update); the mapping itself says what it is.
        let uuid = m.uuid().unwrap_or_default();
        let state = ctx
            .lambda
            .get_event_source_mapping()
            .uuid(uuid)
            .send()
            .await
            .aws("GetEventSourceMapping")
            .found()?
            .and_then(|m| m.state);
        let Some(state) = state else { return Ok(None) };
        if state == "Deleting" {
            return Ok(None);
        }
        let enabled = !matches!(state.as_str(), "Disabled" | "Disabling");
        let fields = crate::model::fields([
            ("BatchSize", m.batch_size().unwrap_or_default().to_string()),
            (
                "MaximumBatchingWindowInSeconds",
                m.maximum_batching_window_in_seconds()
                    .unwrap_or_default()
                    .to_string(),
            ),
            ("Enabled", enabled.to_string()),
        ]);
        let outputs = Outputs::from([("uuid".into(), uuid.to_owned())]);
        Ok(Some(Live::new(fields, outputs, owner)))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Outputs> {
        let (function, source) = (self.function()?, self.source()?);
        let created = retry_transient(ctx.patience, || async {
            ctx.lambda
                .create_event_source_mapping()
                .function_name(function)
                .event_source_arn(source)
                .batch_size(self.batch_size)
                .maximum_batching_window_in_seconds(self.window)
                .enabled(self.enabled)
                .send()
                .await
                .aws("CreateEventSourceMapping")
        })
        .await?;
        let uuid = created
            .uuid
            .ok_or_else(|| anyhow::anyhow!("CreateEventSourceMapping returned no UUID"))?;
        Ok(Outputs::from([("uuid".into(), uuid)]))
    }

    async fn update(&self, ctx: &Ctx, live: &Live, _changed: &[FieldDiff]) -> Result<Outputs> {
        let uuid = live.output("uuid")?;
        retry_transient(ctx.patience, || async {
            ctx.lambda
                .update_event_source_mapping()
                .uuid(uuid)
                .batch_size(self.batch_size)
                .maximum_batching_window_in_seconds(self.window)
                .enabled(self.enabled)
                .send()
                .await
                .aws("UpdateEventSourceMapping")
        })
        .await?;
        Ok(live.outputs.clone())
    }

    async fn settle(&self, ctx: &Ctx, outputs: &Outputs) -> Result<()> {
        match outputs.get("uuid") {
            Some(uuid) => self.wait_settled(ctx, uuid).await,
            None => Ok(()),
        }
    }

    async fn delete(&self, ctx: &Ctx, live: &Live) -> Result<()> {
        let uuid = live.output("uuid")?;
        retry_transient(ctx.patience, || async {
            ctx.lambda
                .delete_event_source_mapping()
                .uuid(uuid)
                .send()
                .await
                .aws("DeleteEventSourceMapping")
                .found()
        })
        .await?;
        Ok(())
    }

    /// Mappings carry no tags of their own: adopting the function adopts them.
    async fn tag(&self, _ctx: &Ctx, _live: &Live) -> Result<()> {
        Ok(())
    }
}
