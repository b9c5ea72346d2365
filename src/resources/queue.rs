//! SQS queues: attributes compared as SQS returns them (strings), the redrive policy
//! compared field by field so JSON formatting never shows as drift.

use std::collections::HashMap;

use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_sqs::types::QueueAttributeName;

use super::{Fields, Kind, Live, OWNER_TAG, Outputs, Resource, ResourceId, owner_of};
use crate::aws::Ctx;
use crate::aws::errors::{AwsResult, Found, retry_transient};
use crate::manifest::QueueSpec;
use crate::plan::FieldDiff;
use crate::resolve::Resolver;

/// SQS's own defaults, so a queue made without them is not drift.
const DEFAULT_VISIBILITY_TIMEOUT: i64 = 30;
const DEFAULT_RETENTION: i64 = 345_600;

const DLQ_ARN: &str = "RedrivePolicy.deadLetterTargetArn";
const DLQ_MAX_RECEIVES: &str = "RedrivePolicy.maxReceiveCount";

pub struct Queue {
    id: ResourceId,
    visibility_timeout: i64,
    retention: i64,
    /// (dead-letter queue ARN, maxReceiveCount)
    dead_letter: Option<(String, i64)>,
}

impl Queue {
    pub fn resolve(name: String, spec: &QueueSpec, r: &Resolver) -> Queue {
        Queue {
            id: ResourceId::new(Kind::Queue, name),
            visibility_timeout: spec
                .visibility_timeout
                .unwrap_or(DEFAULT_VISIBILITY_TIMEOUT),
            retention: spec.message_retention_period.unwrap_or(DEFAULT_RETENTION),
            dead_letter: spec
                .dead_letter
                .as_ref()
                .map(|d| (r.string(&d.queue), d.max_receive_count)),
        }
    }

    fn redrive_json(&self) -> String {
        match &self.dead_letter {
            Some((arn, max)) => serde_json::json!({
                "deadLetterTargetArn": arn,
                "maxReceiveCount": max.to_string(),
            })
            .to_string(),
            // An empty policy removes the dead-letter queue.
            None => String::new(),
        }
    }

    /// The attributes `changed` asks for, in SQS's names.
    fn attributes(&self, changed: &[&str]) -> HashMap<QueueAttributeName, String> {
        let mut attrs = HashMap::new();
        let wants = |f: &str| changed.is_empty() || changed.contains(&f);
        if wants("VisibilityTimeout") {
            attrs.insert(
                QueueAttributeName::VisibilityTimeout,
                self.visibility_timeout.to_string(),
            );
        }
        if wants("MessageRetentionPeriod") {
            attrs.insert(
                QueueAttributeName::MessageRetentionPeriod,
                self.retention.to_string(),
            );
        }
        let redrive_changed = wants(DLQ_ARN) || wants(DLQ_MAX_RECEIVES);
        if redrive_changed && (self.dead_letter.is_some() || !changed.is_empty()) {
            attrs.insert(QueueAttributeName::RedrivePolicy, self.redrive_json());
        }
        attrs
    }

    fn outputs(&self, ctx: &Ctx, url: String) -> Outputs {
        let mut out =
            Kind::Queue.predicted_outputs(&self.id.name, &ctx.account, &ctx.target.region);
        out.insert("url".into(), url);
        out
    }
}

#[async_trait]
impl Resource for Queue {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn desired(&self) -> Fields {
        let mut f = Fields::new();
        f.insert(
            "VisibilityTimeout".into(),
            self.visibility_timeout.to_string(),
        );
        f.insert("MessageRetentionPeriod".into(), self.retention.to_string());
        if let Some((arn, max)) = &self.dead_letter {
            f.insert(DLQ_ARN.into(), arn.clone());
            f.insert(DLQ_MAX_RECEIVES.into(), max.to_string());
        }
        f
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Live>> {
        let found = ctx
            .sqs
            .get_queue_url()
            .queue_name(&self.id.name)
            .send()
            .await
            .aws("GetQueueUrl")
            .found()?;
        let Some(url) = found.and_then(|r| r.queue_url) else {
            return Ok(None);
        };
        let (attrs, tags) = tokio::join!(
            ctx.sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::All)
                .send(),
            ctx.sqs.list_queue_tags().queue_url(&url).send()
        );
        // Deleted between the two calls: absent.
        let Some(attrs) = attrs.aws("GetQueueAttributes").found()? else {
            return Ok(None);
        };
        let tags = tags
            .aws("ListQueueTags")
            .found()?
            .and_then(|t| t.tags)
            .unwrap_or_default();
        let attrs = attrs.attributes.unwrap_or_default();
        let mut fields = Fields::new();
        for (name, key) in [
            (QueueAttributeName::VisibilityTimeout, "VisibilityTimeout"),
            (
                QueueAttributeName::MessageRetentionPeriod,
                "MessageRetentionPeriod",
            ),
        ] {
            if let Some(v) = attrs.get(&name) {
                fields.insert(key.into(), v.clone());
            }
        }
        if let Some(policy) = attrs.get(&QueueAttributeName::RedrivePolicy) {
            fields.extend(redrive_fields(policy));
        }
        let mut outputs = self.outputs(ctx, url);
        if let Some(arn) = attrs.get(&QueueAttributeName::QueueArn) {
            outputs.insert("arn".into(), arn.clone());
        }
        Ok(Some(Live {
            fields,
            outputs,
            owner: owner_of(tags.iter(), &ctx.stack),
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Outputs> {
        // Retried: SQS refuses a name for a while after that queue was deleted (down && up).
        let created = retry_transient(ctx.patience, || async {
            ctx.sqs
                .create_queue()
                .queue_name(&self.id.name)
                .set_attributes(Some(self.attributes(&[])))
                .tags(OWNER_TAG, &ctx.stack)
                .send()
                .await
                .aws("CreateQueue")
        })
        .await?;
        let url = created.queue_url.unwrap_or_default();
        Ok(self.outputs(ctx, url))
    }

    async fn update(&self, ctx: &Ctx, live: &Live, changed: &[FieldDiff]) -> Result<Outputs> {
        let names: Vec<&str> = changed.iter().map(|c| c.field.as_str()).collect();
        let url = live.outputs.get("url").cloned().unwrap_or_default();
        ctx.sqs
            .set_queue_attributes()
            .queue_url(&url)
            .set_attributes(Some(self.attributes(&names)))
            .send()
            .await
            .aws("SetQueueAttributes")?;
        Ok(live.outputs.clone())
    }

    async fn delete(&self, ctx: &Ctx, live: &Live) -> Result<()> {
        let url = live.outputs.get("url").cloned().unwrap_or_default();
        ctx.sqs
            .delete_queue()
            .queue_url(url)
            .send()
            .await
            .aws("DeleteQueue")
            .found()?;
        Ok(())
    }

    async fn tag(&self, ctx: &Ctx, live: &Live) -> Result<()> {
        let url = live.outputs.get("url").cloned().unwrap_or_default();
        ctx.sqs
            .tag_queue()
            .queue_url(url)
            .tags(OWNER_TAG, &ctx.stack)
            .send()
            .await
            .aws("TagQueue")?;
        Ok(())
    }
}

/// SQS returns the redrive policy as JSON text whose maxReceiveCount may be a number or a string.
fn redrive_fields(policy: &str) -> Fields {
    let mut f = Fields::new();
    let Ok(json) = serde_json::from_str::<serde_json::Value>(policy) else {
        return f;
    };
    if let Some(arn) = json.get("deadLetterTargetArn").and_then(|v| v.as_str()) {
        f.insert(DLQ_ARN.into(), arn.to_owned());
    }
    match json.get("maxReceiveCount") {
        Some(serde_json::Value::String(s)) => f.insert(DLQ_MAX_RECEIVES.into(), s.clone()),
        Some(serde_json::Value::Number(n)) => f.insert(DLQ_MAX_RECEIVES.into(), n.to_string()),
        _ => None,
    };
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redrive_policy_normalizes_numbers_and_strings() {
        let a = redrive_fields(r#"{"deadLetterTargetArn":"arn:x","maxReceiveCount":"3"}"#);
        let b = redrive_fields(r#"{"maxReceiveCount": 3, "deadLetterTargetArn": "arn:x"}"#);
        assert_eq!(a, b);
        assert_eq!(a[DLQ_MAX_RECEIVES], "3");
        assert!(redrive_fields("").is_empty());
    }
}
