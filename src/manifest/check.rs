//! The checks every kind's entries share: variables substituted, `${...}` references resolved
//! against the declared names, numbers in range, names by AWS's rules. Every problem is
//! collected, so one run reports them all.

use std::collections::BTreeMap;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::diagnostic::Diagnostic;
use super::kind::{Declaration, Setting};
use super::raw::Scalar;
use super::template::{self, AccountFact, Part, Reference, Template, Token};
use crate::model::Kind;

/// Walks the raw file once, building the model and collecting every problem.
pub struct Checker<'k> {
    kinds: &'k [&'k dyn Declaration],
    variables: BTreeMap<String, Scalar>,
    /// Names declared per kind, for dangling-reference checks and suggestions.
    names: BTreeMap<Kind, Vec<String>>,
    /// The directory holding stack.toml; code paths are relative to it.
    base: PathBuf,
    pub(super) problems: Vec<Diagnostic>,
    /// Set while a declared check is read: what its `${...}` may name besides outputs.
    scope: Option<CheckScope>,
}

/// What a declared check's templates may name: the stack's settings
/// (`${queues.task-queue.visibility_timeout}`, substituted as written) and the values its
/// earlier steps captured (`${check.message_id}`), with `${check.run_id}` always there.
pub(super) struct CheckScope {
    pub resources: Vec<super::model::Resource>,
    pub captured: std::collections::BTreeSet<String>,
}

/// The value unique to each run of a check, for markers that find exactly its own messages.
pub const RUN_ID: &str = "run_id";

impl<'k> Checker<'k> {
    pub(super) fn new(
        kinds: &'k [&'k dyn Declaration],
        names: BTreeMap<Kind, Vec<String>>,
        base: PathBuf,
    ) -> Self {
        Checker {
            kinds,
            variables: BTreeMap::new(),
            names,
            base,
            problems: Vec::new(),
            scope: None,
        }
    }

    /// The variables `${var.x}` stands for, once overrides are applied.
    pub(super) fn set_variables(&mut self, variables: BTreeMap<String, Scalar>) {
        self.variables = variables;
    }

    /// Reads templates as a declared check's until `leave_check`.
    pub(super) fn enter_check(&mut self, resources: Vec<super::model::Resource>) {
        self.scope = Some(CheckScope {
            resources,
            captured: Default::default(),
        });
    }

    /// A value a step captured, nameable as `${check.<name>}` from the next step on.
    pub(super) fn captured(&mut self, name: &str) {
        if let Some(scope) = &mut self.scope {
            scope.captured.insert(name.to_owned());
        }
    }

    /// The next check starts with nothing captured.
    pub(super) fn forget_captured(&mut self) {
        if let Some(scope) = &mut self.scope {
            scope.captured.clear();
        }
    }

    pub fn problem(&mut self, d: Diagnostic) {
        self.problems.push(d);
    }

    /// Where stack.toml is: paths in it (a function's code) are relative to this.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// A field that must refer to a resource of one kind (a literal ARN/name is accepted too).
    pub fn reference_to(&mut self, s: &Spanned<String>, kind: Kind, attribute: &str) -> Template {
        let t = self.template(s);
        if let Some(text) = t.as_literal()
            && self.declared(kind).contains(&text)
        {
            self.problems.push(
                Diagnostic::new(format!("`{text}` is a name, not a reference"), s.span())
                    .with_help(format!(
                        "write \"${{{}.{text}.{attribute}}}\"",
                        kind.table()
                    )),
            );
        }
        t
    }

    fn declared(&self, kind: Kind) -> &[String] {
        self.names.get(&kind).map_or(&[], Vec::as_slice)
    }

    /// Parses `${...}` in a string field, substituting variables and checking references.
    pub fn template(&mut self, s: &Spanned<String>) -> Template {
        // +1: the span includes the opening quote. Escapes in basic strings can shift
        // offsets; the caret then lands near, not on, the reference.
        let base = s.span().start + 1;
        let mut parts = Vec::new();
        match template::tokenize(s.get_ref(), base) {
            Err(d) => self.problems.push(d),
            Ok(tokens) => {
                for token in tokens {
                    match token {
                        Token::Text(t) => parts.push(Part::Text(t.to_owned())),
                        Token::Expr { path, span } => parts.extend(self.expression(path, span)),
                    }
                }
            }
        }
        Template {
            parts: merge_text(parts),
            span: s.span(),
        }
    }

    /// Templates for a list of strings.
    pub fn templates(&mut self, list: &[Spanned<String>]) -> Vec<Template> {
        list.iter().map(|s| self.template(s)).collect()
    }

    /// One `${...}` as parts: usually one, none when it is wrong (the problem is reported),
    /// several when it names a setting that is itself a template.
    fn expression(&mut self, path: &str, at: Range<usize>) -> Vec<Part> {
        let segments: Vec<&str> = path.split('.').collect();
        match segments.as_slice() {
            ["var", name] => self.variable(name, at).into_iter().collect(),
            ["aws", "account_id"] => vec![Part::Account(AccountFact::AccountId)],
            ["aws", "region"] => vec![Part::Account(AccountFact::Region)],
            ["aws", other] => {
                self.problems.push(
                    Diagnostic::new(format!("unknown account fact `aws.{other}`"), at)
                        .suggest(other, ["account_id", "region"]),
                );
                Vec::new()
            }
            ["check", name] if self.scope.is_some() => self.check_value(name, at),
            [table, name, attribute @ ..] if !attribute.is_empty() => {
                let attribute = attribute.join(".");
                self.resource_reference(table, name, &attribute, at)
            }
            _ => {
                self.problems.push(
                    Diagnostic::new(format!("`${{{path}}}` is not a reference"), at).with_help(
                        "references look like ${queues.task-queue.arn}, ${var.name} or ${aws.account_id}",
                    ),
                );
                Vec::new()
            }
        }
    }

    /// `${check.<name>}`: the run's id, or what an earlier step of the check captured.
    fn check_value(&mut self, name: &str, at: Range<usize>) -> Vec<Part> {
        let captured = self.scope.as_ref().map(|s| &s.captured);
        if name == RUN_ID || captured.is_some_and(|c| c.contains(name)) {
            return vec![Part::Check(name.to_owned())];
        }
        let known: Vec<String> = captured.into_iter().flatten().cloned().collect();
        self.problems.push(
            Diagnostic::new(format!("`check.{name}` is not captured before this step"), at)
                .suggest(name, known.iter().map(String::as_str))
                .or_help(format!(
                    "capture it in an earlier step (capture = {{ {name} = \"field\" }}), or use ${{check.{RUN_ID}}}"
                )),
        );
        Vec::new()
    }

    /// A declared setting named in a check (`${queues.task-queue.visibility_timeout}`), as
    /// stack.toml gives it; `None` outside checks or when the resource has no such setting.
    fn setting_parts(&self, kind: Kind, name: &str, attribute: &str) -> Option<Vec<Part>> {
        let scope = self.scope.as_ref()?;
        let resource = scope
            .resources
            .iter()
            .find(|r| r.kind() == kind && r.id().name == name)?;
        match resource.setting(attribute)? {
            Setting::Int(n) => Some(vec![Part::Text(n.to_string())]),
            Setting::Text(t) => Some(vec![Part::Text(t)]),
            Setting::Reference(t) => Some(t.parts.clone()),
            Setting::List(_) => None,
        }
    }

    fn variable(&mut self, name: &str, at: Range<usize>) -> Option<Part> {
        match self.variables.get(name) {
            Some(Scalar::Str(s)) => Some(Part::Text(s.clone())),
            Some(Scalar::Int(n)) => Some(Part::Text(n.to_string())),
            None => {
                let known: Vec<String> = self.variables.keys().cloned().collect();
                self.problems.push(
                    Diagnostic::new(format!("unknown variable `{name}`"), at)
                        .suggest(name, known.iter().map(String::as_str))
                        .or_help("declare it under [variables]"),
                );
                None
            }
        }
    }

    fn resource_reference(
        &mut self,
        table: &str,
        name: &str,
        attribute: &str,
        at: Range<usize>,
    ) -> Vec<Part> {
        let Some(declaration) = self.kinds.iter().find(|k| k.kind().table() == table) else {
            let tables: Vec<&str> = self.kinds.iter().map(|k| k.kind().table()).collect();
            self.problems.push(
                Diagnostic::new(format!("unknown resource kind `{table}`"), at.clone())
                    .suggest(table, tables.iter().copied())
                    .or_help(format!("kinds: {}", tables.join(", "))),
            );
            return Vec::new();
        };
        let (kind, attributes) = (declaration.kind(), declaration.attributes());
        if !self.declared(kind).iter().any(|n| n == name) {
            let names = self.declared(kind).to_vec();
            self.problems.push(
                Diagnostic::new(
                    format!("`{table}.{name}` is not declared in this stack"),
                    at,
                )
                .suggest(name, names.iter().map(String::as_str))
                .or_help(format!("declare it as [{table}.{name}]")),
            );
            return Vec::new();
        }
        if !attributes.contains(&attribute) {
            if let Some(parts) = self.setting_parts(kind, name, attribute) {
                return parts;
            }
            self.problems.push(
                Diagnostic::new(
                    format!("{} has no attribute `{attribute}`", kind.label()),
                    at,
                )
                .suggest(attribute, attributes.iter().copied())
                .or_help(format!(
                    "attributes of a {}: {}",
                    kind.label(),
                    attributes.join(", ")
                )),
            );
            return Vec::new();
        }
        vec![Part::Ref(Reference {
            kind,
            name: name.to_owned(),
            attribute: attribute.to_owned(),
        })]
    }

    /// An optional number field, `default` when absent (or wrong: the problem is reported).
    pub fn int_or(
        &mut self,
        v: Option<&Spanned<Scalar>>,
        range: RangeInclusive<i64>,
        what: &str,
        default: i64,
    ) -> i64 {
        v.and_then(|v| self.int(v, range, what)).unwrap_or(default)
    }

    /// A number field: an integer, or a string that is entirely `${var.x}` holding one.
    pub fn int(
        &mut self,
        v: &Spanned<Scalar>,
        range: RangeInclusive<i64>,
        what: &str,
    ) -> Option<i64> {
        let n = match v.get_ref() {
            Scalar::Int(n) => *n,
            Scalar::Str(s) => self.int_text(v.span(), s, what)?,
        };
        if !range.contains(&n) {
            self.problems.push(
                Diagnostic::new(
                    format!("{what} is {n}, outside {}..={}", range.start(), range.end()),
                    v.span(),
                )
                .with_help(format!(
                    "use a value from {} to {}",
                    range.start(),
                    range.end()
                )),
            );
            return None;
        }
        Some(n)
    }

    fn int_text(&mut self, at: Range<usize>, s: &str, what: &str) -> Option<i64> {
        let known_problems = self.problems.len();
        let t = self.template(&Spanned::new(at.clone(), s.to_owned()));
        if self.problems.len() > known_problems {
            return None;
        }
        match t.as_literal().map(|text| text.trim().parse::<i64>()) {
            Some(Ok(n)) => Some(n),
            Some(Err(_)) | None => {
                if t.parts.iter().all(|p| matches!(p, Part::Text(_))) {
                    self.problems.push(
                        Diagnostic::new(format!("{what} must be a whole number, not \"{s}\""), at)
                            .with_help(
                                "write a number, or \"${var.name}\" naming a number variable",
                            ),
                    );
                }
                None
            }
        }
    }

    /// A name by AWS's rules for `what`: 1 to `max` characters for which `ok` holds.
    pub fn check_name(
        &mut self,
        name: &Spanned<String>,
        what: &str,
        max: usize,
        ok: fn(char) -> bool,
    ) {
        if !valid_name(name.get_ref(), 1, max, ok) {
            self.problems.push(
                Diagnostic::new(
                    format!("`{}` is not a valid {what} name", name.get_ref()),
                    name.span(),
                )
                .with_help(format!(
                    "{what} names are 1-{max} characters; see the AWS naming rules"
                )),
            );
        }
    }
}

/// `min..=max` characters, each passing `ok`.
pub fn valid_name(name: &str, min: usize, max: usize, ok: impl Fn(char) -> bool) -> bool {
    (min..=max).contains(&name.chars().count()) && name.chars().all(ok)
}

fn merge_text(parts: Vec<Part>) -> Vec<Part> {
    let mut out: Vec<Part> = Vec::with_capacity(parts.len());
    for part in parts {
        match (out.last_mut(), part) {
            (Some(Part::Text(prev)), Part::Text(t)) => prev.push_str(&t),
            (_, p) => out.push(p),
        }
    }
    out
}
