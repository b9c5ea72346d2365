//! stack.toml exactly as written: serde structs that reject unknown keys and wrong types,
//! with spans kept for the checks that come after. Their doc comments are also the
//! descriptions in `stack.schema.json` (`exstack schema`), which editors show on hover.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

// `Spanned` has no JsonSchema, so every field names the type it stands for with
// `#[schemars(with = ...)]`: the schema describes the TOML, not the spans.

// What every stack.toml has besides its resources: the `[stack]` table and `[variables]`.
// Each kind's table (`[queues.<name>]`, ...) is read by that kind (see `manifest::kind`).

/// An exstack stack: the resources of one lab, declared by kind and name.
/// References between them (`${queues.task-queue.arn}`) define the order they are created in.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "exstack stack.toml")]
pub struct Header {
    /// The stack's name and where it may run.
    pub stack: StackSettings,
    /// Values used as `${var.name}`; each can be overridden with `--var name=value`
    /// or the environment variable `EXSTACK_VAR_<name>`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Scalar>")]
    pub variables: BTreeMap<Spanned<String>, Spanned<Scalar>>,
    /// What the lab must do, checked by `exstack verify` and `exstack grade`, in the order
    /// written.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, super::checks::RawCheck>")]
    pub checks: BTreeMap<Spanned<String>, super::checks::RawCheck>,
    /// How `exstack grade` weighs a lab built by hand.
    #[serde(default)]
    pub grade: super::checks::RawGrade,
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
