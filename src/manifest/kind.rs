//! What the manifest needs from each resource kind, without naming any: its table in
//! stack.toml, what others may refer to, how its entries are read and checked, and the
//! references its checked spec makes. The kinds implement [`Declare`] in `src/resources/`.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::marker::PhantomData;
use std::sync::Arc;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;

use super::check::Checker;
use super::template::Template;
use crate::model::Kind;

/// A kind's checked settings, as stack.toml declares them for one resource.
pub trait Spec: Any + Debug + Send + Sync {
    fn kind(&self) -> Kind;

    /// Every reference this resource makes to another; these are the graph's edges.
    fn templates(&self) -> Vec<&Template>;

    /// A declared setting by its stack.toml key (`visibility_timeout`,
    /// `dead_letter.max_receive_count`), with defaults applied, for commands that read a
    /// lab's settings (verify's wait bounds).
    fn setting(&self, _key: &str) -> Option<Setting<'_>> {
        None
    }
}

/// One declared setting's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting<'a> {
    Int(i64),
    Text(String),
    Reference(&'a Template),
    List(Vec<String>),
}

/// One kind as stack.toml declares it; `Declared<K>` turns it into a [`Declaration`].
pub trait Declare: Send + Sync + 'static {
    const KIND: Kind;
    /// What `${<table>.<name>.<attribute>}` may name.
    const ATTRIBUTES: &'static [&'static str];
    /// The table's description in stack.schema.json (editors show it on hover).
    const ABOUT: &'static str;
    /// One entry exactly as written (serde, spans kept, unknown keys refused).
    type Raw: DeserializeOwned + JsonSchema + 'static;
    type Spec: Spec;

    /// Checks one entry, reporting every problem to `c`; the spec is used only when there
    /// are none.
    fn check(name: &Spanned<String>, raw: &Self::Raw, c: &mut Checker) -> Self::Spec;
}

/// Entries of one table, by name, each still as written.
pub type RawTable = Vec<(Spanned<String>, Box<dyn Any>)>;

/// A kind as the manifest parser sees it, whatever its types.
pub trait Declaration: Sync {
    fn kind(&self) -> Kind;
    fn attributes(&self) -> &'static [&'static str];
    /// The schema of the whole table (entries by name).
    fn schema(&self, generator: &mut SchemaGenerator) -> Schema;
    fn read(&self, table: toml::de::ValueDeserializer<'_>) -> Result<RawTable, toml::de::Error>;
    fn check(&self, name: &Spanned<String>, raw: &dyn Any, c: &mut Checker) -> Arc<dyn Spec>;
}

/// The [`Declaration`] of kind `K`.
pub struct Declared<K>(PhantomData<K>);

impl<K> Declared<K> {
    pub const NEW: Declared<K> = Declared(PhantomData);
}

impl<K: Declare> Declaration for Declared<K> {
    fn kind(&self) -> Kind {
        K::KIND
    }

    fn attributes(&self) -> &'static [&'static str] {
        K::ATTRIBUTES
    }

    fn schema(&self, generator: &mut SchemaGenerator) -> Schema {
        let entry = generator.subschema_for::<K::Raw>();
        schemars::json_schema!({
            "description": K::ABOUT,
            "type": "object",
            "additionalProperties": entry,
        })
    }

    fn read(&self, table: toml::de::ValueDeserializer<'_>) -> Result<RawTable, toml::de::Error> {
        let entries = BTreeMap::<Spanned<String>, K::Raw>::deserialize(table)?;
        Ok(entries
            .into_iter()
            .map(|(name, raw)| (name, Box::new(raw) as Box<dyn Any>))
            .collect())
    }

    fn check(&self, name: &Spanned<String>, raw: &dyn Any, c: &mut Checker) -> Arc<dyn Spec> {
        // `read` made every entry of this table, so each is a `K::Raw`.
        match raw.downcast_ref::<K::Raw>() {
            Some(raw) => Arc::new(K::check(name, raw, c)),
            None => unreachable!("{} entries are read by their own kind", K::KIND.table()),
        }
    }
}
