//! Event source mappings (queue → function). AWS names them by UUID only, so a mapping is found
//! by what it connects; it belongs to the stack that owns its function.

use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_lambda::types::EventSourceMappingConfiguration;

use super::{Fields, Kind, Live, Outputs, Owner, Resource, ResourceId, owner_of};
use crate::aws::Ctx;
use crate::aws::errors::{AwsResult, Found, retry_transient, wait_until};
use crate::manifest::MappingSpec;
use crate::plan::FieldDiff;
use crate::resolve::Resolver;

pub struct EventSourceMapping {
    id: ResourceId,
    source: String,
    function: String,
    batch_size: i64,
    window: i64,
    enabled: bool,
}

impl EventSourceMapping {
    pub fn resolve(name: String, spec: &MappingSpec, r: &Resolver) -> EventSourceMapping {
        EventSourceMapping {
            id: ResourceId::new(Kind::EventSourceMapping, name),
            source: r.string(&spec.source),
            function: r.string(&spec.function),
            batch_size: spec.batch_size,
            window: spec.maximum_batching_window,
            enabled: spec.enabled,
        }
    }

    async fn find(&self, ctx: &Ctx) -> Result<Option<EventSourceMappingConfiguration>> {
        let listed = ctx
            .lambda
            .list_event_source_mappings()
            .function_name(&self.function)
            .event_source_arn(&self.source)
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
                    m.event_source_arn() == Some(self.source.as_str())
                        && m.state() != Some("Deleting")
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

    fn batch_size(&self) -> i32 {
        i32::try_from(self.batch_size).unwrap_or(i32::MAX)
    }

    fn window(&self) -> i32 {
        i32::try_from(self.window).unwrap_or(i32::MAX)
    }
}

#[async_trait]
impl Resource for EventSourceMapping {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn desired(&self) -> Fields {
        Fields::from([
            ("BatchSize".into(), self.batch_size.to_string()),
            (
                "MaximumBatchingWindowInSeconds".into(),
                self.window.to_string(),
            ),
            ("Enabled".into(), self.enabled.to_string()),
        ])
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Live>> {
        let (mapping, tags) = tokio::join!(
            self.find(ctx),
            ctx.lambda
                .get_function()
                .function_name(&self.function)
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
        Ok(Some(Live {
            fields: Fields::from([
                (
                    "BatchSize".into(),
                    m.batch_size().unwrap_or_default().to_string(),
                ),
                (
                    "MaximumBatchingWindowInSeconds".into(),
                    m.maximum_batching_window_in_seconds()
                        .unwrap_or_default()
                        .to_string(),
                ),
                ("Enabled".into(), enabled.to_string()),
            ]),
            outputs: Outputs::from([("uuid".into(), m.uuid().unwrap_or_default().to_owned())]),
            owner,
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Outputs> {
        let created = retry_transient(ctx.patience, || async {
            ctx.lambda
                .create_event_source_mapping()
                .function_name(&self.function)
                .event_source_arn(&self.source)
                .batch_size(self.batch_size())
                .maximum_batching_window_in_seconds(self.window())
                .enabled(self.enabled)
                .send()
                .await
                .aws("CreateEventSourceMapping")
        })
        .await?;
        let uuid = created.uuid.unwrap_or_default();
        Ok(Outputs::from([("uuid".into(), uuid)]))
    }

    async fn update(&self, ctx: &Ctx, live: &Live, _changed: &[FieldDiff]) -> Result<Outputs> {
        let uuid = &live.outputs["uuid"];
        retry_transient(ctx.patience, || async {
            ctx.lambda
                .update_event_source_mapping()
                .uuid(uuid)
                .batch_size(self.batch_size())
                .maximum_batching_window_in_seconds(self.window())
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
        retry_transient(ctx.patience, || async {
            ctx.lambda
                .delete_event_source_mapping()
                .uuid(&live.outputs["uuid"])
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
