//! stack.toml exactly as written: serde structs that reject unknown keys and wrong types,
//! with spans kept for the checks that come after. Their doc comments are also the
//! descriptions in `stack.schema.json` (`exstack schema`), which editors show on hover.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

pub type Named<T> = BTreeMap<Spanned<String>, Spanned<T>>;

// `Spanned` has no JsonSchema, so every field names the type it stands for with
// `#[schemars(with = ...)]`: the schema describes the TOML, not the spans.

/// An exstack stack: the resources of one lab, declared by kind and name.
/// References between them (`${queues.task-queue.arn}`) define the order they are created in.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "exstack stack.toml")]
pub struct File {
    /// The stack's name and where it may run.
    #[schemars(with = "StackSettings")]
    pub stack: Spanned<StackSettings>,
    /// Values used as `${var.name}`; each can be overridden with `--var name=value`
    /// or the environment variable `EXSTACK_VAR_<name>`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Scalar>")]
    pub variables: BTreeMap<Spanned<String>, Spanned<Scalar>>,
    /// SQS queues, by name. Others refer to them as `${queues.<name>.arn}`, `.url` or `.name`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Queue>")]
    pub queues: Named<Queue>,
    /// S3 buckets, by name (3-63 lowercase letters, digits, `-` or `.`).
    /// Others refer to them as `${buckets.<name>.arn}` or `.name`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Bucket>")]
    pub buckets: Named<Bucket>,
    /// IAM roles, by name. Others refer to them as `${roles.<name>.arn}` or `.name`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Role>")]
    pub roles: Named<Role>,
    /// IAM managed policies, by name. Roles attach them as `${policies.<name>.arn}`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Policy>")]
    pub policies: Named<Policy>,
    /// Lambda functions, by name. Others refer to them as `${functions.<name>.arn}` or `.name`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Function>")]
    pub functions: Named<Function>,
    /// Triggers that invoke a function with batches of messages from a queue, by name.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, EventSourceMapping>")]
    pub event_source_mappings: Named<EventSourceMapping>,
    /// API Gateway REST APIs, by name. Others refer to them as `${apis.<name>.id}`, `.url` or `.name`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RestApi>")]
    pub apis: Named<RestApi>,
}

/// The `[stack]` table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackSettings {
    /// The stack's name (1-64 letters, digits, `-` or `_`), written into the ownership tag
    /// `exstack:stack` on every resource.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// The region, unless `--region` or `AWS_REGION` says otherwise; default `us-east-1`.
    #[schemars(with = "Option<String>")]
    pub region: Option<Spanned<String>>,
    /// Let the stack act on real AWS when no endpoint is set. Real AWS must be chosen on
    /// purpose; without this, only `--aws` does.
    #[serde(default)]
    pub allow_aws: bool,
}

/// An SQS queue.
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Queue {
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

/// An S3 bucket; it has no settings. `exstack down` empties it (all versions) first.
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bucket {}

/// An IAM role that AWS services may assume.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Role {
    #[schemars(with = "Option<String>")]
    pub description: Option<Spanned<String>>,
    /// Services that may assume the role, e.g. `["lambda.amazonaws.com"]`.
    #[schemars(with = "Vec<String>")]
    pub trusted_services: Spanned<Vec<Spanned<String>>>,
    /// ARNs of managed policies to attach, e.g. `["${policies.SQSProcessorPolicy.arn}"]`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub policies: Vec<Spanned<String>>,
}

/// An IAM managed policy; its statements are rendered to the JSON policy document AWS expects.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[schemars(with = "Option<String>")]
    pub description: Option<Spanned<String>>,
    /// At least one statement, as `[[policies.<name>.statements]]` tables.
    #[schemars(with = "Vec<Statement>")]
    pub statements: Spanned<Vec<Spanned<Statement>>>,
}

/// One statement of a policy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// An optional statement id.
    #[schemars(with = "Option<String>")]
    pub sid: Option<Spanned<String>>,
    /// `"Allow"` (the default) or `"Deny"`.
    #[schemars(with = "Option<String>")]
    pub effect: Option<Spanned<String>>,
    /// Actions, e.g. `["sqs:SendMessage"]`.
    #[schemars(with = "Vec<String>")]
    pub actions: Spanned<Vec<Spanned<String>>>,
    /// Resource ARNs, e.g. `["${queues.task-queue.arn}"]` or `["*"]`.
    #[schemars(with = "Vec<String>")]
    pub resources: Spanned<Vec<Spanned<String>>>,
}

/// A Lambda function, packaged from a directory into a deterministic zip.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Function {
    #[schemars(with = "Option<String>")]
    pub description: Option<Spanned<String>>,
    /// The directory holding the code, relative to stack.toml.
    #[schemars(with = "String")]
    pub code: Spanned<String>,
    /// Only these files of `code` go into the zip (default: all of it).
    #[schemars(with = "Option<Vec<String>>")]
    pub files: Option<Spanned<Vec<Spanned<String>>>>,
    /// `<module>.<function>`, e.g. `"task_processor.handler"`.
    #[schemars(with = "String")]
    pub handler: Spanned<String>,
    /// The Lambda runtime, e.g. `"python3.12"`; the supported ones are listed as `examples`.
    #[schemars(with = "String", extend("examples" = super::RUNTIMES))]
    pub runtime: Spanned<String>,
    /// The execution role's ARN, e.g. `"${roles.lambda-sqs-processor.arn}"`.
    #[schemars(with = "String")]
    pub role: Spanned<String>,
    /// Seconds an invocation may run (1-900, default 3).
    #[schemars(with = "Option<Scalar>")]
    pub timeout: Option<Spanned<Scalar>>,
    /// Memory in MB (128-10240, default 128).
    #[schemars(with = "Option<Scalar>")]
    pub memory: Option<Spanned<Scalar>>,
    /// Environment variables; values may refer to other resources, e.g. `"${queues.task-queue.url}"`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub environment: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// An SQS → Lambda trigger.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventSourceMapping {
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

/// An API Gateway REST API, deployed to one stage.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestApi {
    #[schemars(with = "Option<String>")]
    pub description: Option<Spanned<String>>,
    /// The stage the routes are deployed to, e.g. `"dev"`.
    #[schemars(with = "String")]
    pub stage: Spanned<String>,
    /// Routes keyed by `"METHOD /path"`, e.g. `[apis.task-api.routes."POST /tasks"]`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Route>")]
    pub routes: BTreeMap<Spanned<String>, Spanned<Route>>,
}

/// One route of an API, served by a Lambda function.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The function's ARN, e.g. `"${functions.api-enqueue.arn}"`.
    #[schemars(with = "String")]
    pub function: Spanned<String>,
    /// `"AWS_PROXY"` (the default and the only one supported).
    #[schemars(with = "Option<String>")]
    pub integration: Option<Spanned<String>>,
    /// `"NONE"` (the default) or `"AWS_IAM"`.
    #[schemars(with = "Option<String>")]
    pub authorization: Option<Spanned<String>>,
}

/// A variable's value, or a number field: an integer or a string (which may be `${var.x}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    Int(i64),
    Str(String),
}

impl JsonSchema for Scalar {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Scalar".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An integer, or a string such as \"${var.name}\".",
            "type": ["integer", "string"]
        })
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or a string such as \"${var.name}\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                i64::try_from(v)
                    .map(Scalar::Int)
                    .map_err(|_| E::custom("integer too large"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_owned()))
            }
        }
        d.deserialize_any(ScalarVisitor)
    }
}
