//! Resolves `${...}` references against what is known: applied or observed outputs first,
//! then outputs predictable from the name (ARNs), else [`Value::Unknown`].

use std::collections::HashMap;

use crate::manifest::template::{AccountFact, Part, Template};
use crate::model::{Outputs, ResourceId, Value};

pub struct Resolver<'a> {
    pub account_id: &'a str,
    pub region: &'a str,
    pub outputs: &'a HashMap<ResourceId, Outputs>,
    /// A declared check's run id and captured values (`${check.<name>}`); empty elsewhere.
    pub captured: &'a HashMap<String, String>,
}

/// What a resolver outside declared checks has captured: nothing.
pub fn nothing_captured() -> &'static HashMap<String, String> {
    static NOTHING: std::sync::LazyLock<HashMap<String, String>> =
        std::sync::LazyLock::new(HashMap::new);
    &NOTHING
}

impl Resolver<'_> {
    /// The template's text, or `Unknown` while any reference in it is not known yet.
    pub fn value(&self, t: &Template) -> Value {
        let mut out = String::new();
        for part in &t.parts {
            match part {
                Part::Text(s) => out.push_str(s),
                Part::Account(AccountFact::AccountId) => out.push_str(self.account_id),
                Part::Account(AccountFact::Region) => out.push_str(self.region),
                Part::Check(name) => match self.captured.get(name) {
                    Some(v) => out.push_str(v),
                    None => return Value::Unknown,
                },
                Part::Ref(r) => match self
                    .outputs
                    .get(&r.target())
                    .and_then(|o| o.get(&r.attribute))
                {
                    Some(v) => out.push_str(v),
                    None => return Value::Unknown,
                },
            }
        }
        Value::Known(out)
    }

    pub fn values<'t>(&self, ts: impl IntoIterator<Item = &'t Template>) -> Vec<Value> {
        ts.into_iter().map(|t| self.value(t)).collect()
    }

    /// The first of `ts` that cannot be resolved yet.
    pub fn first_unknown<'t>(
        &self,
        ts: impl IntoIterator<Item = &'t Template>,
    ) -> Option<&'t Template> {
        ts.into_iter().find(|t| self.value(t).is_unknown())
    }
}

/// All of `values` as text, or `Unknown` when any is unknown (a document that embeds them).
pub fn all_known(values: &[Value]) -> Option<Vec<String>> {
    values
        .iter()
        .map(|v| v.known().map(str::to_owned))
        .collect()
}
