//! Resolves `${...}` references against what is known: applied or observed outputs first,
//! then outputs predictable from the name (ARNs), else "known after apply".

use std::collections::HashMap;

use crate::manifest::template::{AccountFact, Part, Template};
use crate::resources::{Outputs, ResourceId};

/// Shown in plans for a value that only exists once a dependency is created (a queue URL).
pub const UNKNOWN: &str = "(known after apply)";

pub struct Resolver<'a> {
    pub account_id: &'a str,
    pub region: &'a str,
    pub outputs: &'a HashMap<ResourceId, Outputs>,
}

impl Resolver<'_> {
    pub fn string(&self, t: &Template) -> String {
        let mut out = String::new();
        for part in &t.parts {
            match part {
                Part::Text(s) => out.push_str(s),
                Part::Account(AccountFact::AccountId) => out.push_str(self.account_id),
                Part::Account(AccountFact::Region) => out.push_str(self.region),
                Part::Ref(r) => {
                    let id = ResourceId::new(r.kind, &r.name);
                    match self.outputs.get(&id).and_then(|o| o.get(&r.attribute)) {
                        Some(v) => out.push_str(v),
                        None => return UNKNOWN.to_owned(),
                    }
                }
            }
        }
        out
    }

    pub fn strings<'t>(&self, ts: impl IntoIterator<Item = &'t Template>) -> Vec<String> {
        ts.into_iter().map(|t| self.string(t)).collect()
    }
}

/// True when a desired value still waits for a dependency; such values must never be sent.
pub fn is_unknown(value: &str) -> bool {
    value.contains(UNKNOWN)
}
