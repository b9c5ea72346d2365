//! SQS queues: attributes compared as SQS returns them (strings), the redrive policy
//! compared field by field so JSON formatting never shows as drift.

use std::collections::HashMap;

use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_sqs::types::QueueAttributeName;
use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::{Build, Env, FieldDoc, KindImpl, Resource, Shape, owner_of};
use crate::aws::errors::{AwsResult, Found, retry_transient};
use crate::aws::{Ctx, arn};
use crate::manifest::raw::Scalar;
use crate::manifest::template::Template;
use crate::manifest::{Checker, Declare, Setting, Spec, Stack};
use crate::model::{Fields, Kind, Live, OWNER_TAG, Outputs, ResourceId, Value};
use crate::plan::FieldDiff;

pub const KIND: Kind = Kind::new(0, "queues", "queue");

/// An SQS queue.
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Queue")]
pub struct RawQueue {
    /// Seconds a received message stays invisible before it is delivered again (0-43200).
    #[schemars(with = "Option<Scalar>")]
    pub visibility_timeout: Option<Spanned<Scalar>>,
    /// Seconds a message is kept (60-1209600).
    #[schemars(with = "Option<Scalar>")]
    pub message_retention_period: Option<Spanned<Scalar>>,
    /// Where messages go after failing `max_receive_count` times.
    #[schemars(with = "Option<DeadLetter>")]
    pub dead_letter: Option<Spanned<DeadLetter>>,
}

/// A queue's dead-letter queue (its redrive policy).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadLetter {
    /// The dead-letter queue's ARN, e.g. `"${queues.task-dlq.arn}"`.
    #[schemars(with = "String")]
    pub queue: Spanned<String>,
    /// Receives before a message moves to the dead-letter queue (1-1000).
    #[schemars(with = "Scalar")]
    pub max_receive_count: Spanned<Scalar>,
}

#[derive(Debug, Clone, Default)]
pub struct QueueSpec {
    pub visibility_timeout: Option<i64>,
    pub message_retention_period: Option<i64>,
    pub dead_letter: Option<DeadLetterSpec>,
}

#[derive(Debug, Clone)]
pub struct DeadLetterSpec {
    pub queue: Template,
    pub max_receive_count: i64,
}

impl Spec for QueueSpec {
    fn kind(&self) -> Kind {
        KIND
    }

    fn templates(&self) -> Vec<&Template> {
        self.dead_letter.iter().map(|d| &d.queue).collect()
    }

    fn setting(&self, key: &str) -> Option<Setting<'_>> {
        match key {
            "visibility_timeout" => Some(Setting::Int(
                self.visibility_timeout
                    .unwrap_or(DEFAULT_VISIBILITY_TIMEOUT),
            )),
            "message_retention_period" => Some(Setting::Int(
                self.message_retention_period.unwrap_or(DEFAULT_RETENTION),
            )),
            "dead_letter.queue" => self
                .dead_letter
                .as_ref()
                .map(|d| Setting::Reference(&d.queue)),
            "dead_letter.max_receive_count" => self
                .dead_letter
                .as_ref()
                .map(|d| Setting::Int(d.max_receive_count)),
            _ => None,
        }
    }
}

impl Declare for Queue {
    const KIND: Kind = KIND;
    const ATTRIBUTES: &'static [&'static str] = &["arn", "url", "name"];
    const ABOUT: &'static str =
        "SQS queues, by name. Others refer to them as `${queues.<name>.arn}`, `.url` or `.name`.";
    type Raw = RawQueue;
    type Spec = QueueSpec;

    fn check(name: &Spanned<String>, q: &RawQueue, c: &mut Checker) -> QueueSpec {
        c.check_name(name, "queue", 80, |c| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        });
        QueueSpec {
            visibility_timeout: q
                .visibility_timeout
                .as_ref()
                .and_then(|v| c.int(v, 0..=43_200, "visibility_timeout (seconds)")),
            message_retention_period: q
                .message_retention_period
                .as_ref()
                .and_then(|v| c.int(v, 60..=1_209_600, "message_retention_period (seconds)")),
            dead_letter: q.dead_letter.as_ref().map(|d| {
                let d = d.get_ref();
                DeadLetterSpec {
                    queue: c.reference_to(&d.queue, KIND, "arn"),
                    max_receive_count: c.int_or(
                        Some(&d.max_receive_count),
                        1..=1000,
                        "max_receive_count",
                        1,
                    ),
                }
            }),
        }
    }
}

impl KindImpl for Queue {
    const SHAPE: Shape = Shape {
        mermaid: ("[[", "]]"),
        dot: "cds",
    };
    const FIELDS: &'static [FieldDoc] = &[
        FieldDoc::new(
            "VisibilityTimeout",
            "visibility_timeout",
            "visibility timeout",
        )
        .unit(" s"),
        FieldDoc::new("MessageRetentionPeriod", "retention", "message retention").unit(" s"),
        FieldDoc::new(DLQ_ARN, "dead_letter.queue", "dead-letter queue"),
        FieldDoc::new(
            DLQ_MAX_RECEIVES,
            "dead_letter.max_receive_count",
            "max receive count before the dead-letter queue",
        ),
    ];

    fn build(spec: &QueueSpec, b: &Build<'_>) -> Box<dyn Resource> {
        Box::new(Queue::resolve(b.name.to_owned(), spec, b))
    }

    fn predicted(name: &str, account: &str, region: &str) -> Outputs {
        Outputs::from([
            ("name".into(), name.into()),
            ("arn".into(), arn::arn(region, "sqs", account, name)),
        ])
    }

    fn shown(_spec: &QueueSpec, _name: &str, o: &Outputs) -> Vec<(String, String)> {
        o.get("url")
            .map(|u| ("url".into(), u.clone()))
            .into_iter()
            .collect()
    }

    /// `<NAME>_URL`, and `QUEUE_URL` or `DLQ_URL` (a dead-letter queue being one another
    /// queue redrives to).
    fn env(stack: &Stack, _spec: &QueueSpec, name: &str, base: &str, o: &Outputs) -> Env {
        let Some(url) = o.get("url") else {
            return Env::default();
        };
        let is_dead_letter = stack.specs::<QueueSpec>().any(|(_, q)| {
            q.dead_letter
                .iter()
                .any(|d| d.queue.references().any(|r| r.name == name))
        });
        let alias = if is_dead_letter {
            "DLQ_URL"
        } else {
            "QUEUE_URL"
        };
        Env {
            vars: vec![(format!("{base}_URL"), url.clone())],
            alias: Some((alias, url.clone())),
        }
    }
}

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
    dead_letter: Option<(Value, i64)>,
}

impl Queue {
    fn resolve(name: String, spec: &QueueSpec, b: &Build<'_>) -> Queue {
        let r = b.resolver;
        Queue {
            id: ResourceId::new(KIND, name),
            visibility_timeout: spec
                .visibility_timeout
                .unwrap_or(DEFAULT_VISIBILITY_TIMEOUT),
            retention: spec.message_retention_period.unwrap_or(DEFAULT_RETENTION),
            dead_letter: spec
                .dead_letter
                .as_ref()
                .map(|d| (r.value(&d.queue), d.max_receive_count)),
        }
    }

    fn redrive_json(&self) -> Result<String> {
        Ok(match &self.dead_letter {
            Some((arn, max)) => serde_json::json!({
                "deadLetterTargetArn": arn.sendable()?,
                "maxReceiveCount": max.to_string(),
            })
            .to_string(),
            // An empty policy removes the dead-letter queue.
            None => String::new(),
        })
    }

    /// The attributes `changed` asks for, in SQS's names.
    fn attributes(&self, changed: &[&str]) -> Result<HashMap<QueueAttributeName, String>> {
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
            attrs.insert(QueueAttributeName::RedrivePolicy, self.redrive_json()?);
        }
        Ok(attrs)
    }

    fn outputs(&self, ctx: &Ctx, url: String) -> Outputs {
        let mut out = Queue::predicted(&self.id.name, &ctx.account, &ctx.target.region);
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
            self.visibility_timeout.to_string().into(),
        );
        f.insert(
            "MessageRetentionPeriod".into(),
            self.retention.to_string().into(),
        );
        if let Some((arn, max)) = &self.dead_letter {
            f.insert(DLQ_ARN.into(), arn.clone());
            f.insert(DLQ_MAX_RECEIVES.into(), max.to_string().into());
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
                fields.insert(key.into(), v.as_str().into());
            }
        }
        if let Some(policy) = attrs.get(&QueueAttributeName::RedrivePolicy) {
            fields.extend(redrive_fields(policy));
        }
        let mut outputs = self.outputs(ctx, url);
        if let Some(arn) = attrs.get(&QueueAttributeName::QueueArn) {
            outputs.insert("arn".into(), arn.clone());
        }
        Ok(Some(Live::new(
            fields,
            outputs,
            owner_of(tags.iter(), &ctx.stack),
        )))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Outputs> {
        // Retried: SQS refuses a name for a while after that queue was deleted (down && up).
        let attributes = self.attributes(&[])?;
        let created = retry_transient(ctx.patience, || async {
            ctx.sqs
                .create_queue()
                .queue_name(&self.id.name)
                .set_attributes(Some(attributes.clone()))
                .tags(OWNER_TAG, &ctx.stack)
                .send()
                .await
                .aws("CreateQueue")
        })
        .await?;
        let url = created
            .queue_url
            .ok_or_else(|| anyhow::anyhow!("CreateQueue returned no queue URL"))?;
        Ok(self.outputs(ctx, url))
    }

    async fn update(&self, ctx: &Ctx, live: &Live, changed: &[FieldDiff]) -> Result<Outputs> {
        let names: Vec<&str> = changed.iter().map(|c| c.field.as_str()).collect();
        ctx.sqs
            .set_queue_attributes()
            .queue_url(live.output("url")?)
            .set_attributes(Some(self.attributes(&names)?))
            .send()
            .await
            .aws("SetQueueAttributes")?;
        Ok(live.outputs.clone())
    }

    async fn delete(&self, ctx: &Ctx, live: &Live) -> Result<()> {
        ctx.sqs
            .delete_queue()
            .queue_url(live.output("url")?)
            .send()
            .await
            .aws("DeleteQueue")
            .found()?;
        Ok(())
    }

    async fn tag(&self, ctx: &Ctx, live: &Live) -> Result<()> {
        ctx.sqs
            .tag_queue()
            .queue_url(live.output("url")?)
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
        f.insert(DLQ_ARN.into(), arn.into());
    }
    match json.get("maxReceiveCount") {
        Some(serde_json::Value::String(s)) => f.insert(DLQ_MAX_RECEIVES.into(), s.as_str().into()),
        Some(serde_json::Value::Number(n)) => {
            f.insert(DLQ_MAX_RECEIVES.into(), n.to_string().into())
        }
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
        assert_eq!(a[DLQ_MAX_RECEIVES], Value::from("3"));
        assert!(redrive_fields("").is_empty());
    }
}
