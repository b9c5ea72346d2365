//! stack.toml: parse (serde, spans kept), then check everything that serde cannot —
//! references, names, ranges, cycles — collecting every problem before reporting.
//! Which tables there are comes from the kinds passed in; the manifest names none of them.

pub mod check;
pub mod checks;
pub mod diagnostic;
pub mod kind;
pub mod model;
pub mod raw;
pub mod template;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

pub use check::{Checker, valid_name};
pub use diagnostic::{Diagnostic, ManifestError};
pub use kind::{Declaration, Declare, Setting, Spec};
pub use model::*;
use raw::{Header, Scalar};

use crate::graph::Graph;
use crate::model::{Kind, ResourceId};

/// The tables every stack.toml may have besides the kinds'.
const HEADER_TABLES: [&str; 4] = ["stack", "variables", "checks", "grade"];

/// Reads and validates a stack file. `overrides` are `--var name=value` pairs and
/// `EXSTACK_VAR_<name>` environment variables, the command line winning.
pub fn load(
    path: &Path,
    overrides: &[(String, String)],
    kinds: &[&dyn Declaration],
) -> anyhow::Result<Stack> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {}: {e}\n  = help: run exstack in the directory that holds stack.toml, or pass --file <path>",
            path.display()
        )
    })?;
    Ok(parse(path, &source, overrides, kinds)?)
}

/// Validates stack.toml text. Pure: no file system or network, so it is fuzzed and snapshot-tested.
pub fn parse(
    path: &Path,
    source: &str,
    overrides: &[(String, String)],
    kinds: &[&dyn Declaration],
) -> Result<Stack, ManifestError> {
    let fail = |diagnostics| ManifestError {
        path: path.to_path_buf(),
        source: source.to_owned(),
        diagnostics,
    };
    let document = Document::read(source, kinds).map_err(|d| fail(vec![d]))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut checker = Checker::new(kinds, document.names(), base);
    let variables = variables(&document.header, overrides, &mut checker);
    checker.set_variables(variables);
    let stack = stack_settings(&document.header, &mut checker);
    let mut resources = Vec::new();
    for (declaration, entries) in &document.tables {
        for (name, raw) in entries {
            let spec = declaration.check(name, raw.as_ref(), &mut checker);
            resources.push(Resource::new(name.get_ref().clone(), spec));
        }
    }
    let checks = checks::check_all(&document.header.checks, &resources, &mut checker);
    let grading = checks::grading(&document.header.grade, &resources, &mut checker);
    if !checker.problems.is_empty() {
        return Err(fail(checker.problems));
    }
    let graph = graph(&resources).map_err(|cycle| fail(vec![cycle]))?;
    let (name, region, allow_aws) = stack;
    Ok(Stack {
        name,
        region,
        allow_aws,
        path: path.to_path_buf(),
        resources,
        graph,
        checks,
        grading,
    })
}

/// The file split into its header and each kind's entries, still as written.
struct Document<'k> {
    header: Header,
    tables: Vec<(&'k dyn Declaration, kind::RawTable)>,
}

impl<'k> Document<'k> {
    fn read(source: &str, kinds: &[&'k dyn Declaration]) -> Result<Document<'k>, Diagnostic> {
        let table = DeTable::parse(source).map_err(|e| serde_diagnostic(&e))?;
        let mut header = DeTable::default();
        let mut tables = Vec::new();
        for (key, value) in table.into_inner() {
            let name: &str = key.get_ref();
            if HEADER_TABLES.contains(&name) {
                header.insert(key, value);
                continue;
            }
            let Some(declaration) = kinds.iter().find(|k| k.kind().table() == name) else {
                return Err(unknown_table(name, key.span(), kinds));
            };
            let entries = declaration
                .read(ValueDeserializer::from(value))
                .map_err(|e| serde_diagnostic(&e))?;
            tables.push((*declaration, entries));
        }
        let span = 0..source.len();
        let header = Header::deserialize(ValueDeserializer::from(Spanned::new(
            span,
            DeValue::Table(header),
        )))
        .map_err(|e| serde_diagnostic(&e))?;
        // Kinds in their registry order, so resources are listed as the kinds are.
        tables.sort_by_key(|(d, _)| d.kind());
        Ok(Document { header, tables })
    }

    fn names(&self) -> BTreeMap<Kind, Vec<String>> {
        self.tables
            .iter()
            .map(|(d, entries)| {
                let names = entries.iter().map(|(n, _)| n.get_ref().clone()).collect();
                (d.kind(), names)
            })
            .collect()
    }
}

fn unknown_table(name: &str, at: std::ops::Range<usize>, kinds: &[&dyn Declaration]) -> Diagnostic {
    let expected: Vec<&str> = HEADER_TABLES
        .into_iter()
        .chain(kinds.iter().map(|k| k.kind().table()))
        .collect();
    let quoted: Vec<String> = expected.iter().map(|e| format!("`{e}`")).collect();
    Diagnostic::new(
        format!(
            "unknown field `{name}`, expected one of {}",
            quoted.join(", ")
        ),
        at,
    )
    .suggest(name, expected.iter().copied())
    .or_help(format!("valid keys here: {}", expected.join(", ")))
}

/// `[variables]` with `--var` and `EXSTACK_VAR_` overrides applied.
fn variables(
    header: &Header,
    overrides: &[(String, String)],
    checker: &mut Checker,
) -> BTreeMap<String, Scalar> {
    let mut variables: BTreeMap<String, Scalar> = header
        .variables
        .iter()
        .map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone()))
        .collect();
    for (name, text) in overrides {
        match variables.get(name) {
            None => {
                let known: Vec<&str> = variables.keys().map(String::as_str).collect();
                checker.problem(
                    Diagnostic {
                        message: format!(
                            "`--var {name}=...` sets a variable the stack does not declare"
                        ),
                        span: None,
                        help: None,
                    }
                    .suggest(name, known.iter().copied()),
                );
            }
            Some(Scalar::Int(_)) => match text.trim().parse::<i64>() {
                Ok(n) => {
                    variables.insert(name.clone(), Scalar::Int(n));
                }
                Err(_) => checker.problem(Diagnostic {
                    message: format!("variable `{name}` is a number, but was given `{text}`"),
                    span: None,
                    help: Some(format!("pass a whole number, e.g. --var {name}=5")),
                }),
            },
            Some(Scalar::Str(_)) => {
                variables.insert(name.clone(), Scalar::Str(text.clone()));
            }
        }
    }
    variables
}

/// The `[stack]` table: name, region, whether real AWS is allowed.
fn stack_settings(header: &Header, checker: &mut Checker) -> (String, Option<String>, bool) {
    let settings = &header.stack;
    let name = settings.name.get_ref().clone();
    if !valid_name(&name, 1, 64, |c| {
        c.is_ascii_alphanumeric() || c == '-' || c == '_'
    }) {
        checker.problem(
            Diagnostic::new(
                "the stack name must be 1-64 letters, digits, `-` or `_`",
                settings.name.span(),
            )
            .with_help("it is written into an ownership tag on every resource"),
        );
    }
    let region = settings.region.as_ref().map(|r| r.get_ref().clone());
    (name, region, settings.allow_aws)
}

/// The dependency graph; a reference cycle is reported at the reference that closes it.
fn graph(resources: &[Resource]) -> Result<Graph, Diagnostic> {
    let dependencies = resources
        .iter()
        .map(|r| {
            let deps: BTreeSet<ResourceId> = r
                .spec
                .templates()
                .into_iter()
                .flat_map(|t| t.references())
                .map(|reference| reference.target())
                .collect();
            (r.id().clone(), deps)
        })
        .collect();
    Graph::new(dependencies).map_err(|cycle| cycle_diagnostic(resources, &cycle))
}

fn cycle_diagnostic(resources: &[Resource], cycle: &[ResourceId]) -> Diagnostic {
    let path: Vec<String> = cycle.iter().map(ResourceId::address).collect();
    // Point at the reference from the first resource to the second.
    let span = resources
        .iter()
        .find(|r| r.id() == &cycle[0])
        .and_then(|r| {
            r.spec
                .templates()
                .into_iter()
                .find(|t| t.references().any(|x| x.target() == cycle[1]))
        })
        .map_or(0..0, |t| t.span.clone());
    Diagnostic::new(format!("reference cycle: {}", path.join(" → ")), span).with_help(
        "each resource must be creatable before the ones that refer to it; remove one reference",
    )
}

/// Turns a toml/serde error into a diagnostic, adding "did you mean" for unknown keys.
fn serde_diagnostic(e: &toml::de::Error) -> Diagnostic {
    let message = e.message().trim().to_owned();
    let span = e.span().unwrap_or(0..0);
    let mut d = Diagnostic::new(message.clone(), span);
    if message.starts_with("duplicate key") {
        d = d.with_help("each name may be declared once per kind; rename or merge the two tables");
    }
    if let Some((wrong, expected)) = unknown_field(&message) {
        d = d.suggest(wrong, expected.iter().copied());
        if d.help.is_none() {
            d = d.with_help(format!("valid keys here: {}", expected.join(", ")));
        }
    }
    d
}

/// Parses serde's "unknown field `x`, expected one of `a`, `b`" message.
fn unknown_field(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (wrong, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).collect::<Vec<_>>();
    Some((wrong, expected))
}

/// The JSON Schema of stack.toml: the header's, with each kind's table as a property.
pub fn schema(
    kinds: &[&dyn Declaration],
    mut generator: schemars::SchemaGenerator,
) -> schemars::Schema {
    let tables: Vec<(&str, schemars::Schema)> = kinds
        .iter()
        .map(|k| (k.kind().table(), k.schema(&mut generator)))
        .collect();
    let mut root = generator.into_root_schema_for::<Header>();
    if let Some(properties) = root
        .get_mut("properties")
        .and_then(serde_json::Value::as_object_mut)
    {
        for (table, schema) in tables {
            properties.insert(table.to_owned(), schema.to_value());
        }
    }
    root
}
