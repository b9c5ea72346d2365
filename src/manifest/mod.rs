//! stack.toml: parse (serde, spans kept), then check everything that serde cannot —
//! references, names, ranges, cycles — collecting every problem before reporting.

pub mod diagnostic;
pub mod model;
pub mod raw;
pub mod template;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

pub use diagnostic::{Diagnostic, ManifestError};
pub use model::*;
use raw::Scalar;
use template::{AccountFact, Part, Reference, Template, Token};

use crate::resources::{Kind, ResourceId};

/// Runtimes the executor and AWS both accept; a typo here is caught before any call.
pub const RUNTIMES: &[&str] = &[
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
];

/// Reads and validates a stack file. `overrides` are `--var name=value` pairs and
/// `EXSTACK_VAR_<name>` environment variables, the command line winning.
pub fn load(path: &Path, overrides: &[(String, String)]) -> anyhow::Result<Stack> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {}: {e}\n  = help: run exstack in the directory that holds stack.toml, or pass --file <path>",
            path.display()
        )
    })?;
    Ok(parse(path, &source, overrides)?)
}

/// Validates stack.toml text. Pure: no file system or network, so it is fuzzed and snapshot-tested.
pub fn parse(
    path: &Path,
    source: &str,
    overrides: &[(String, String)],
) -> Result<Stack, ManifestError> {
    let fail = |diagnostics| ManifestError {
        path: path.to_path_buf(),
        source: source.to_owned(),
        diagnostics,
    };
    let file: raw::File = toml::from_str(source).map_err(|e| fail(vec![serde_diagnostic(&e)]))?;
    let mut checker = Checker::new(&file, overrides);
    let stack = checker.stack(&file, path);
    if !checker.problems.is_empty() {
        return Err(fail(checker.problems));
    }
    let graph = crate::graph::Graph::build(&stack);
    if let Err(cycle) = graph {
        return Err(fail(vec![cycle]));
    }
    Ok(stack)
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

/// Walks the raw file once, building the model and collecting every problem.
struct Checker {
    variables: BTreeMap<String, Scalar>,
    /// Names declared per kind, for dangling-reference checks and suggestions.
    names: BTreeMap<Kind, Vec<String>>,
    problems: Vec<Diagnostic>,
}

impl Checker {
    fn new(file: &raw::File, overrides: &[(String, String)]) -> Self {
        let mut checker = Checker {
            variables: BTreeMap::new(),
            names: BTreeMap::new(),
            problems: Vec::new(),
        };
        checker.variables(file, overrides);
        for kind in Kind::ALL {
            let names = declared_names(file, kind);
            checker.names.insert(kind, names);
        }
        checker
    }

    fn variables(&mut self, file: &raw::File, overrides: &[(String, String)]) {
        for (name, value) in &file.variables {
            self.variables
                .insert(name.get_ref().clone(), value.get_ref().clone());
        }
        for (name, text) in overrides {
            match self.variables.get(name) {
                None => {
                    let known: Vec<&str> = self.variables.keys().map(String::as_str).collect();
                    let d = Diagnostic {
                        message: format!(
                            "`--var {name}=...` sets a variable the stack does not declare"
                        ),
                        span: None,
                        help: None,
                    }
                    .suggest(name, known.iter().copied());
                    self.problems.push(d);
                }
                Some(Scalar::Int(_)) => match text.trim().parse::<i64>() {
                    Ok(n) => {
                        self.variables.insert(name.clone(), Scalar::Int(n));
                    }
                    Err(_) => self.problems.push(Diagnostic {
                        message: format!("variable `{name}` is a number, but was given `{text}`"),
                        span: None,
                        help: Some(format!("pass a whole number, e.g. --var {name}=5")),
                    }),
                },
                Some(Scalar::Str(_)) => {
                    self.variables
                        .insert(name.clone(), Scalar::Str(text.clone()));
                }
            }
        }
    }

    fn stack(&mut self, file: &raw::File, path: &Path) -> Stack {
        let settings = file.stack.get_ref();
        let name = settings.name.get_ref().clone();
        if !valid_name(&name, 1, 64, |c| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        }) {
            self.problems.push(
                Diagnostic::new(
                    "the stack name must be 1-64 letters, digits, `-` or `_`",
                    span(&settings.name),
                )
                .with_help("it is written into an ownership tag on every resource"),
            );
        }
        let mut resources = Vec::new();
        for (n, q) in &file.queues {
            let spec = self.queue(n, q.get_ref());
            resources.push(self.resource(Kind::Queue, n, Spec::Queue(spec)));
        }
        for n in file.buckets.keys() {
            self.bucket_name(n);
            resources.push(self.resource(Kind::Bucket, n, Spec::Bucket(BucketSpec {})));
        }
        for (n, p) in &file.policies {
            let spec = self.policy(n, p.get_ref());
            resources.push(self.resource(Kind::Policy, n, Spec::Policy(spec)));
        }
        for (n, r) in &file.roles {
            let spec = self.role(n, r.get_ref());
            resources.push(self.resource(Kind::Role, n, Spec::Role(spec)));
        }
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for (n, f) in &file.functions {
            let spec = self.function(n, f.get_ref(), &base);
            resources.push(self.resource(Kind::Function, n, Spec::Function(spec)));
        }
        for (n, m) in &file.event_source_mappings {
            let spec = self.mapping(m.get_ref());
            resources.push(self.resource(
                Kind::EventSourceMapping,
                n,
                Spec::EventSourceMapping(spec),
            ));
        }
        for (n, a) in &file.apis {
            let spec = self.rest_api(a.get_ref());
            resources.push(self.resource(Kind::RestApi, n, Spec::RestApi(spec)));
        }
        Stack {
            name,
            region: settings.region.as_ref().map(|r| r.get_ref().clone()),
            allow_aws: settings.allow_aws,
            path: path.to_path_buf(),
            resources,
        }
    }

    fn resource(&mut self, kind: Kind, name: &Spanned<String>, spec: Spec) -> Resource {
        Resource {
            id: ResourceId::new(kind, name.get_ref()),
            spec,
        }
    }

    fn queue(&mut self, name: &Spanned<String>, q: &raw::Queue) -> QueueSpec {
        self.check_name(name, "queue", 80, |c| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        });
        QueueSpec {
            visibility_timeout: q
                .visibility_timeout
                .as_ref()
                .and_then(|v| self.int(v, 0..=43_200, "visibility_timeout (seconds)")),
            message_retention_period: q
                .message_retention_period
                .as_ref()
                .and_then(|v| self.int(v, 60..=1_209_600, "message_retention_period (seconds)")),
            dead_letter: q.dead_letter.as_ref().map(|d| {
                let d = d.get_ref();
                DeadLetter {
                    queue: self.reference_to(&d.queue, Kind::Queue, "arn"),
                    max_receive_count: self
                        .int(&d.max_receive_count, 1..=1000, "max_receive_count")
                        .unwrap_or(1),
                }
            }),
        }
    }

    fn bucket_name(&mut self, name: &Spanned<String>) {
        let n = name.get_ref();
        let ok = valid_name(n, 3, 63, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
        }) && !n.starts_with(['-', '.'])
            && !n.ends_with(['-', '.']);
        if !ok {
            self.problems.push(
                Diagnostic::new(format!("`{n}` is not a valid bucket name"), span(name)).with_help(
                    "bucket names are 3-63 lowercase letters, digits, `-` or `.`, starting and ending with a letter or digit",
                ),
            );
        }
    }

    fn policy(&mut self, name: &Spanned<String>, p: &raw::Policy) -> PolicySpec {
        self.check_name(name, "policy", 128, iam_name_char);
        if p.statements.get_ref().is_empty() {
            self.problems.push(
                Diagnostic::new("a policy needs at least one statement", span(&p.statements))
                    .with_help(
                        "add a [[policies.<name>.statements]] table with actions and resources",
                    ),
            );
        }
        let statements = p
            .statements
            .get_ref()
            .iter()
            .map(|s| self.statement(s.get_ref()))
            .collect();
        PolicySpec {
            description: p.description.as_ref().map(|d| d.get_ref().clone()),
            statements,
        }
    }

    fn statement(&mut self, s: &raw::Statement) -> Statement {
        let effect = match &s.effect {
            None => "Allow".to_owned(),
            Some(e) if matches!(e.get_ref().as_str(), "Allow" | "Deny") => e.get_ref().clone(),
            Some(e) => {
                self.problems.push(
                    Diagnostic::new(
                        format!(
                            "effect must be \"Allow\" or \"Deny\", not \"{}\"",
                            e.get_ref()
                        ),
                        span(e),
                    )
                    .suggest(e.get_ref(), ["Allow", "Deny"]),
                );
                "Allow".to_owned()
            }
        };
        for list in [&s.actions, &s.resources] {
            if list.get_ref().is_empty() {
                self.problems
                    .push(Diagnostic::new("this list must not be empty", span(list)));
            }
        }
        for action in s.actions.get_ref() {
            let a = action.get_ref();
            let ok = a == "*"
                || a.split_once(':')
                    .is_some_and(|(svc, op)| !svc.is_empty() && !op.is_empty());
            if !ok {
                self.problems.push(
                    Diagnostic::new(format!("`{a}` is not an IAM action"), span(action)).with_help(
                        "actions are written service:Operation, e.g. \"sqs:SendMessage\"",
                    ),
                );
            }
        }
        Statement {
            sid: s.sid.as_ref().map(|x| x.get_ref().clone()),
            effect,
            actions: s
                .actions
                .get_ref()
                .iter()
                .map(|a| a.get_ref().clone())
                .collect(),
            resources: s
                .resources
                .get_ref()
                .iter()
                .map(|r| self.template(r))
                .collect(),
        }
    }

    fn role(&mut self, name: &Spanned<String>, r: &raw::Role) -> RoleSpec {
        self.check_name(name, "role", 64, iam_name_char);
        if r.trusted_services.get_ref().is_empty() {
            self.problems.push(
                Diagnostic::new(
                    "a role must trust at least one service",
                    span(&r.trusted_services),
                )
                .with_help(
                    "for a Lambda function's role: trusted_services = [\"lambda.amazonaws.com\"]",
                ),
            );
        }
        for s in r.trusted_services.get_ref() {
            if !s.get_ref().ends_with(".amazonaws.com") {
                self.problems.push(
                    Diagnostic::new(
                        format!("`{}` is not an AWS service principal", s.get_ref()),
                        span(s),
                    )
                    .with_help(
                        "service principals end in .amazonaws.com, e.g. \"lambda.amazonaws.com\"",
                    ),
                );
            }
        }
        RoleSpec {
            description: r.description.as_ref().map(|d| d.get_ref().clone()),
            trusted_services: r
                .trusted_services
                .get_ref()
                .iter()
                .map(|s| s.get_ref().clone())
                .collect(),
            policies: r.policies.iter().map(|p| self.template(p)).collect(),
        }
    }

    fn function(&mut self, name: &Spanned<String>, f: &raw::Function, base: &Path) -> FunctionSpec {
        self.check_name(name, "function", 64, |c| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        });
        let runtime = f.runtime.get_ref();
        if !RUNTIMES.contains(&runtime.as_str()) {
            self.problems.push(
                Diagnostic::new(format!("unknown runtime `{runtime}`"), span(&f.runtime))
                    .suggest(runtime, RUNTIMES.iter().copied())
                    .or_help(format!("supported runtimes: {}", RUNTIMES.join(", "))),
            );
        }
        let handler = f.handler.get_ref();
        if !handler
            .split_once('.')
            .is_some_and(|(m, func)| !m.is_empty() && !func.is_empty() && !func.contains('.'))
        {
            self.problems.push(
                Diagnostic::new(
                    format!("handler `{handler}` is not of the form module.function"),
                    span(&f.handler),
                )
                .with_help(
                    "e.g. handler = \"task_processor.handler\" for handler() in task_processor.py",
                ),
            );
        }
        let files = f.files.as_ref().map(|files| {
            for file in files.get_ref() {
                if Path::new(file.get_ref()).is_absolute()
                    || file.get_ref().split(['/', '\\']).any(|c| c == "..")
                {
                    self.problems.push(
                        Diagnostic::new(
                            "files must be paths inside `code`, without `..`",
                            span(file),
                        )
                        .with_help(
                            "list paths relative to the code directory, e.g. \"task_processor.py\"",
                        ),
                    );
                }
            }
            files
                .get_ref()
                .iter()
                .map(|f| f.get_ref().clone())
                .collect()
        });
        let environment = f
            .environment
            .iter()
            .map(|(k, v)| {
                let key = k.get_ref();
                if !valid_name(key, 1, 128, |c| c.is_ascii_alphanumeric() || c == '_')
                    || key.starts_with(|c: char| c.is_ascii_digit())
                {
                    self.problems.push(
                        Diagnostic::new(
                            format!("`{key}` is not a valid environment variable name"),
                            span(k),
                        )
                        .with_help("use letters, digits and `_`, not starting with a digit"),
                    );
                }
                (key.clone(), self.template(v))
            })
            .collect();
        FunctionSpec {
            description: f.description.as_ref().map(|d| d.get_ref().clone()),
            code: base.join(f.code.get_ref()),
            files,
            handler: handler.clone(),
            runtime: runtime.clone(),
            role: self.reference_to(&f.role, Kind::Role, "arn"),
            timeout: f
                .timeout
                .as_ref()
                .and_then(|t| self.int(t, 1..=900, "timeout (seconds)"))
                .unwrap_or(3),
            memory: f
                .memory
                .as_ref()
                .and_then(|m| self.int(m, 128..=10_240, "memory (MB)"))
                .unwrap_or(128),
            environment,
        }
    }

    fn mapping(&mut self, m: &raw::EventSourceMapping) -> MappingSpec {
        MappingSpec {
            source: self.reference_to(&m.source, Kind::Queue, "arn"),
            function: self.reference_to(&m.function, Kind::Function, "name"),
            batch_size: m
                .batch_size
                .as_ref()
                .and_then(|b| self.int(b, 1..=10_000, "batch_size"))
                .unwrap_or(10),
            maximum_batching_window: m
                .maximum_batching_window
                .as_ref()
                .and_then(|w| self.int(w, 0..=300, "maximum_batching_window (seconds)"))
                .unwrap_or(0),
            enabled: m.enabled.as_ref().is_none_or(|e| *e.get_ref()),
        }
    }

    fn rest_api(&mut self, a: &raw::RestApi) -> RestApiSpec {
        let stage = a.stage.get_ref();
        if !valid_name(stage, 1, 128, |c| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        }) {
            self.problems.push(
                Diagnostic::new(
                    format!("`{stage}` is not a valid stage name"),
                    span(&a.stage),
                )
                .with_help("use letters, digits, `-` and `_`, e.g. \"dev\""),
            );
        }
        let routes = a
            .routes
            .iter()
            .filter_map(|(key, route)| self.route(key, route.get_ref()))
            .collect();
        RestApiSpec {
            description: a.description.as_ref().map(|d| d.get_ref().clone()),
            stage: stage.clone(),
            routes,
        }
    }

    fn route(&mut self, key: &Spanned<String>, r: &raw::Route) -> Option<Route> {
        const METHODS: [&str; 8] = [
            "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
        ];
        let Some((method, path)) = key.get_ref().split_once(' ') else {
            self.problems.push(
                Diagnostic::new(
                    format!("route `{}` must be \"METHOD /path\"", key.get_ref()),
                    span(key),
                )
                .with_help("e.g. [apis.task-api.routes.\"POST /tasks\"]"),
            );
            return None;
        };
        if !METHODS.contains(&method) {
            self.problems.push(
                Diagnostic::new(format!("unknown HTTP method `{method}`"), span(key))
                    .suggest(method, METHODS),
            );
        }
        let path = path.trim();
        let segments_ok = path.starts_with('/')
            && path[1..].split('/').all(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.{}+".contains(c))
            });
        if !segments_ok && path != "/" {
            self.problems.push(
                Diagnostic::new(format!("`{path}` is not a resource path"), span(key)).with_help(
                    "paths start with `/` and have no empty segments, e.g. /tasks or /tasks/{id}",
                ),
            );
        }
        if let Some(i) = &r.integration
            && i.get_ref() != "AWS_PROXY"
        {
            self.problems.push(
                Diagnostic::new(
                    format!("integration `{}` is not supported", i.get_ref()),
                    span(i),
                )
                .with_help("exstack builds Lambda proxy integrations: integration = \"AWS_PROXY\""),
            );
        }
        let authorization = r
            .authorization
            .as_ref()
            .map_or("NONE".to_owned(), |a| a.get_ref().clone());
        if !matches!(authorization.as_str(), "NONE" | "AWS_IAM") {
            let at = r.authorization.as_ref().map_or(span(key), span);
            self.problems.push(
                Diagnostic::new(
                    format!("authorization `{authorization}` is not supported"),
                    at,
                )
                .suggest(&authorization, ["NONE", "AWS_IAM"]),
            );
        }
        Some(Route {
            method: method.to_owned(),
            path: if path == "/" {
                path.to_owned()
            } else {
                path.trim_end_matches('/').to_owned()
            },
            function: self.reference_to(&r.function, Kind::Function, "arn"),
            authorization,
        })
    }

    /// A field that must refer to a resource of one kind (a literal ARN/name is accepted too).
    fn reference_to(&mut self, s: &Spanned<String>, kind: Kind, attribute: &str) -> Template {
        let t = self.template(s);
        if let Some(text) = t.as_literal()
            && self.declared(kind).contains(&text)
        {
            self.problems.push(
                Diagnostic::new(format!("`{text}` is a name, not a reference"), span(s)).with_help(
                    format!("write \"${{{}.{text}.{attribute}}}\"", kind.table()),
                ),
            );
        }
        t
    }

    fn declared(&self, kind: Kind) -> &[String] {
        self.names.get(&kind).map_or(&[], Vec::as_slice)
    }

    /// Parses `${...}` in a string field, substituting variables and checking references.
    fn template(&mut self, s: &Spanned<String>) -> Template {
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
                        Token::Expr { path, span } => {
                            if let Some(p) = self.expression(path, span) {
                                parts.push(p);
                            }
                        }
                    }
                }
            }
        }
        Template {
            parts: merge_text(parts),
            span: s.span(),
        }
    }

    fn expression(&mut self, path: &str, at: Range<usize>) -> Option<Part> {
        let segments: Vec<&str> = path.split('.').collect();
        match segments.as_slice() {
            ["var", name] => self.variable(name, at),
            ["aws", "account_id"] => Some(Part::Account(AccountFact::AccountId)),
            ["aws", "region"] => Some(Part::Account(AccountFact::Region)),
            ["aws", other] => {
                self.problems.push(
                    Diagnostic::new(format!("unknown account fact `aws.{other}`"), at)
                        .suggest(other, ["account_id", "region"]),
                );
                None
            }
            [table, name, attribute] => self.resource_reference(table, name, attribute, at),
            _ => {
                self.problems.push(
                    Diagnostic::new(format!("`${{{path}}}` is not a reference"), at).with_help(
                        "references look like ${queues.task-queue.arn}, ${var.name} or ${aws.account_id}",
                    ),
                );
                None
            }
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
    ) -> Option<Part> {
        let Some(kind) = Kind::from_table(table) else {
            let tables: Vec<&str> = Kind::ALL.iter().map(|k| k.table()).collect();
            self.problems.push(
                Diagnostic::new(format!("unknown resource kind `{table}`"), at.clone())
                    .suggest(table, tables.iter().copied())
                    .or_help(format!("kinds: {}", tables.join(", "))),
            );
            return None;
        };
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
            return None;
        }
        if !kind.attributes().contains(&attribute) {
            self.problems.push(
                Diagnostic::new(
                    format!("{} has no attribute `{attribute}`", kind.label()),
                    at,
                )
                .suggest(attribute, kind.attributes().iter().copied())
                .or_help(format!(
                    "attributes of a {}: {}",
                    kind.label(),
                    kind.attributes().join(", ")
                )),
            );
            return None;
        }
        Some(Part::Ref(Reference {
            kind,
            name: name.to_owned(),
            attribute: attribute.to_owned(),
        }))
    }

    /// A number field: an integer, or a string that is entirely `${var.x}` holding one.
    fn int(
        &mut self,
        v: &Spanned<Scalar>,
        range: std::ops::RangeInclusive<i64>,
        what: &str,
    ) -> Option<i64> {
        let n = match v.get_ref() {
            Scalar::Int(n) => *n,
            Scalar::Str(s) => {
                let known_problems = self.problems.len();
                let t = self.template(&Spanned::new(v.span(), s.clone()));
                if self.problems.len() > known_problems {
                    return None;
                }
                match t.as_literal().map(|text| text.trim().parse::<i64>()) {
                    Some(Ok(n)) => n,
                    Some(Err(_)) | None => {
                        if t.parts.iter().all(|p| matches!(p, Part::Text(_))) {
                            self.problems.push(
                                Diagnostic::new(
                                    format!("{what} must be a whole number, not \"{s}\""),
                                    v.span(),
                                )
                                .with_help(
                                    "write a number, or \"${var.name}\" naming a number variable",
                                ),
                            );
                        }
                        return None;
                    }
                }
            }
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

    fn check_name(&mut self, name: &Spanned<String>, what: &str, max: usize, ok: fn(char) -> bool) {
        if !valid_name(name.get_ref(), 1, max, ok) {
            self.problems.push(
                Diagnostic::new(
                    format!("`{}` is not a valid {what} name", name.get_ref()),
                    span(name),
                )
                .with_help(format!(
                    "{what} names are 1-{max} characters; see the AWS naming rules"
                )),
            );
        }
    }
}

impl Diagnostic {
    fn or_help(self, help: impl Into<String>) -> Self {
        if self.help.is_some() {
            self
        } else {
            self.with_help(help)
        }
    }
}

fn declared_names(file: &raw::File, kind: Kind) -> Vec<String> {
    fn keys<T>(m: &raw::Named<T>) -> Vec<String> {
        m.keys().map(|k| k.get_ref().clone()).collect()
    }
    match kind {
        Kind::Queue => keys(&file.queues),
        Kind::Bucket => keys(&file.buckets),
        Kind::Role => keys(&file.roles),
        Kind::Policy => keys(&file.policies),
        Kind::Function => keys(&file.functions),
        Kind::EventSourceMapping => keys(&file.event_source_mappings),
        Kind::RestApi => keys(&file.apis),
    }
}

fn span<T>(s: &Spanned<T>) -> Range<usize> {
    s.span()
}

fn valid_name(name: &str, min: usize, max: usize, ok: impl Fn(char) -> bool) -> bool {
    (min..=max).contains(&name.chars().count()) && name.chars().all(ok)
}

fn iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@-_".contains(c)
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

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const REPO_STACK: &str = include_str!("../../stack.toml");

    proptest! {
        // 2000 cases in CI; PROPTEST_CASES=<n> for a longer run.
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000),
            ..ProptestConfig::default()
        })]

        /// Arbitrary bytes: an error or a stack, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
            let _ = parse(Path::new("stack.toml"), &text, &[]);
        }

        /// The real stack with a span of it replaced by junk: errors must still render.
        #[test]
        fn mutated_stack_never_panics(at in 0usize..REPO_STACK.len(), len in 0usize..40, junk in "[\\[\\]{}$=\"'a-z0-9.\\n -]{0,20}") {
            let mut text = REPO_STACK.to_owned();
            let start = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            let end = (start + len..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
            text.replace_range(start..end, &junk);
            if let Err(e) = parse(Path::new("stack.toml"), &text, &[]) {
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!(
            "[stack]\nname = \"t\"\n[variables]\nx = {}1{}\n",
            "[".repeat(5000),
            "]".repeat(5000)
        );
        assert!(parse(Path::new("stack.toml"), &deep, &[]).is_err());
    }

    /// A large file (a megabyte of comments, two thousand resources) is handled in time.
    #[test]
    fn huge_files_are_bounded() {
        let mut text = String::from("[stack]\nname = \"t\"\n");
        text.push_str(
            &"# padding padding padding padding padding padding padding padding\n".repeat(16_000),
        );
        for i in 0..2000 {
            text.push_str(&format!(
                "[queues.q{i}]\nvisibility_timeout = {}\n",
                i % 100
            ));
        }
        let start = std::time::Instant::now();
        let stack = parse(Path::new("stack.toml"), &text, &[]).unwrap();
        assert_eq!(stack.resources.len(), 2000);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn repo_stack_parses_with_overrides() {
        let vars = [("visibility_timeout".to_owned(), "2".to_owned())];
        let stack = parse(Path::new("stack.toml"), REPO_STACK, &vars).unwrap();
        let queue = stack
            .resources
            .iter()
            .find(|r| r.id.name == "task-queue")
            .unwrap();
        let Spec::Queue(q) = &queue.spec else {
            panic!("not a queue")
        };
        assert_eq!(q.visibility_timeout, Some(2));
        let bad = [("visibility_timeout".to_owned(), "soon".to_owned())];
        assert!(
            parse(Path::new("stack.toml"), REPO_STACK, &bad)
                .unwrap_err()
                .to_string()
                .contains("is a number")
        );
    }
}
