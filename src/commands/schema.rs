//! `exstack schema`: the JSON Schema of stack.toml, derived from the serde structs that parse it,
//! so editors (Taplo / Even Better TOML) check and complete the file as exstack would read it.

use schemars::Schema;
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use serde_json::Value;

use super::report::Plain;
use crate::manifest;

/// Where the repo's and `exstack init`'s stack.toml expect the schema, next to themselves.
pub const FILE_NAME: &str = "stack.schema.json";

pub fn run() -> Plain {
    Plain::new(text())
}

/// The schema as pretty JSON with a final newline, byte for byte what is committed.
pub fn text() -> String {
    // Draft 7 is what editors' TOML and JSON validators understand best.
    let generator = SchemaSettings::draft07()
        .with_transform(RecursiveTransform(without_null))
        .into_generator();
    let schema = manifest::schema(&crate::resources::declarations(), generator);
    let mut text = serde_json::to_string_pretty(&schema).expect("a JSON value always serializes");
    text.push('\n');
    text
}

/// TOML has no null: an optional key is one that is not required, not one that may be null.
/// Turns `Option<T>`'s `"type": ["T", "null"]` into `"type": "T"`, and its
/// `"anyOf": [T, {"type": "null"}]` into `"allOf": [T]`.
fn without_null(schema: &mut Schema) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            object.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(any_of)) = object.get_mut("anyOf") {
        any_of.retain(|s| s.get("type").and_then(Value::as_str) != Some("null"));
        if any_of.len() == 1 {
            let only = any_of.clone();
            object.remove("anyOf");
            object.insert("allOf".into(), Value::Array(only));
        }
    }
}
