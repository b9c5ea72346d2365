//! stack.toml exactly as written: serde structs that reject unknown keys and wrong types,
//! with spans kept for the checks that come after.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

pub type Named<T> = BTreeMap<Spanned<String>, Spanned<T>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub stack: Spanned<StackSettings>,
    #[serde(default)]
    pub variables: BTreeMap<Spanned<String>, Spanned<Scalar>>,
    #[serde(default)]
    pub queues: Named<Queue>,
    #[serde(default)]
    pub buckets: Named<Bucket>,
    #[serde(default)]
    pub roles: Named<Role>,
    #[serde(default)]
    pub policies: Named<Policy>,
    #[serde(default)]
    pub functions: Named<Function>,
    #[serde(default)]
    pub event_source_mappings: Named<EventSourceMapping>,
    #[serde(default)]
    pub apis: Named<RestApi>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackSettings {
    pub name: Spanned<String>,
    pub region: Option<Spanned<String>>,
    /// Real AWS must be chosen on purpose; see `aws::Target`.
    #[serde(default)]
    pub allow_aws: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    pub visibility_timeout: Option<Spanned<Scalar>>,
    pub message_retention_period: Option<Spanned<Scalar>>,
    pub dead_letter: Option<Spanned<DeadLetter>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetter {
    pub queue: Spanned<String>,
    pub max_receive_count: Spanned<Scalar>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Bucket {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub description: Option<Spanned<String>>,
    pub trusted_services: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub policies: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub description: Option<Spanned<String>>,
    pub statements: Spanned<Vec<Spanned<Statement>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    pub sid: Option<Spanned<String>>,
    pub effect: Option<Spanned<String>>,
    pub actions: Spanned<Vec<Spanned<String>>>,
    pub resources: Spanned<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    pub description: Option<Spanned<String>>,
    pub code: Spanned<String>,
    pub files: Option<Spanned<Vec<Spanned<String>>>>,
    pub handler: Spanned<String>,
    pub runtime: Spanned<String>,
    pub role: Spanned<String>,
    pub timeout: Option<Spanned<Scalar>>,
    pub memory: Option<Spanned<Scalar>>,
    #[serde(default)]
    pub environment: BTreeMap<Spanned<String>, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSourceMapping {
    pub source: Spanned<String>,
    pub function: Spanned<String>,
    pub batch_size: Option<Spanned<Scalar>>,
    pub maximum_batching_window: Option<Spanned<Scalar>>,
    pub enabled: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestApi {
    pub description: Option<Spanned<String>>,
    pub stage: Spanned<String>,
    #[serde(default)]
    pub routes: BTreeMap<Spanned<String>, Spanned<Route>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub function: Spanned<String>,
    pub integration: Option<Spanned<String>>,
    pub authorization: Option<Spanned<String>>,
}

/// A variable's value, or a number field: an integer or a string (which may be `${var.x}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    Int(i64),
    Str(String),
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
