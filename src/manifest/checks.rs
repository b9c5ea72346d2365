//! `[checks.<name>]`: what a lab must do, as ordered steps with expectations, and `[grade]`:
//! what grading a hand-built lab leaves out or weighs more. Steps name the stack's resources
//! by reference, so the checks follow the stack's names and settings wherever it runs.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::check::Checker;
use super::diagnostic::Diagnostic;
use super::model::Resource;
use super::raw::Scalar;
use super::template::Template;

// ---- stack.toml as written ----------------------------------------------------------------

/// A check of what the lab does: its steps run in order, and it passes when every one does.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    /// What it proves, in a line (default: the check's name).
    pub about: Option<String>,
    /// What it is worth when graded (default 1).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub points: Option<Spanned<i64>>,
    /// Shown under the check when it fails: where to look.
    pub hint: Option<String>,
    /// Words to select it by: `verify --skip-dlq` skips the checks tagged `dlq`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Run in order; a step's `capture` is `${check.<name>}` in the steps after it.
    #[schemars(with = "Vec<RawStep>")]
    pub steps: Spanned<Vec<RawStep>>,
}

/// One step: exactly one of `request`, `invoke`, `send`, `object`, `message` or `log`, with
/// what it sends and what it expects.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Call an API route: "POST ${apis.task-api.url}/tasks" (a method, then a URL).
    #[schemars(with = "Option<String>")]
    pub request: Option<Spanned<String>>,
    /// Invoke a function by name ("${functions.task-processor.name}") with `json` as payload.
    #[schemars(with = "Option<String>")]
    pub invoke: Option<Spanned<String>>,
    /// Send `json` or `body` to a queue, by URL ("${queues.task-queue.url}").
    #[schemars(with = "Option<String>")]
    pub send: Option<Spanned<String>>,
    /// Wait for an S3 object, "s3://${buckets.task-results.name}/results/${check.id}.json";
    /// its JSON is what `expect` and `capture` read.
    #[schemars(with = "Option<String>")]
    pub object: Option<Spanned<String>>,
    /// Wait for a message in a queue, by URL, whose JSON body has the `matching` fields. The
    /// message found is deleted: a check takes only what it made.
    #[schemars(with = "Option<String>")]
    pub message: Option<Spanned<String>>,
    /// Wait for a log line matching `pattern` in a log group ("/aws/lambda/${functions.x.name}").
    #[schemars(with = "Option<String>")]
    pub log: Option<Spanned<String>>,

    /// Request headers.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub headers: BTreeMap<String, Spanned<String>>,
    /// A JSON body (request, message) or payload (invoke); strings may hold `${...}`.
    #[schemars(with = "Option<serde_json::Value>")]
    pub json: Option<Spanned<toml::Value>>,
    /// A body as text, instead of `json`.
    #[schemars(with = "Option<String>")]
    pub body: Option<Spanned<String>>,
    /// The message group of a message sent to a FIFO queue.
    #[schemars(with = "Option<String>")]
    pub group: Option<Spanned<String>>,
    /// The deduplication id of a message sent to a FIFO queue.
    #[schemars(with = "Option<String>")]
    pub deduplication_id: Option<Spanned<String>>,

    /// `request`: the HTTP status expected.
    #[schemars(with = "Option<u16>")]
    pub status: Option<Spanned<i64>>,
    /// `invoke`: expect the function to fail (true) or to succeed (false, the default).
    pub error: Option<bool>,
    /// Fields the step's JSON must have, by path ("sum", "data.text"), with their values.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub expect: Option<Spanned<toml::Table>>,
    /// `message`: fields of the body that pick our message out of the queue.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub matching: Option<Spanned<toml::Table>>,
    /// `log`: a regular expression the line must match.
    #[schemars(with = "Option<String>")]
    pub pattern: Option<Spanned<String>>,
    /// Seconds to wait (`object`, `message`, `log`): a number, or arithmetic on the stack's
    /// settings such as "${queues.task-queue.visibility_timeout} * 3 + 30". Default: `verify
    /// --timeout`.
    #[schemars(with = "Option<Scalar>")]
    pub within: Option<Spanned<Scalar>>,
    /// Expect nothing to appear within `within`: no object, no message, no line.
    #[serde(default)]
    pub absent: bool,
    /// Values to keep for later steps, by name: `{ id = "message_id" }` reads the field
    /// `message_id` of this step's JSON into `${check.id}`.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
}

/// `[grade]`: how `exstack grade` weighs a lab built by hand.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGrade {
    /// Settings not graded, by address and stack.toml key:
    /// "functions.task-processor.environment.RESULTS_BUCKET", or a whole resource.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ignore: Vec<Spanned<String>>,
    /// What a resource's configuration is worth, by address (default 1 each).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, u32>")]
    pub points: BTreeMap<Spanned<String>, Spanned<i64>>,
}

// ---- checked -------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub about: String,
    pub points: u32,
    pub hint: Option<String>,
    pub tags: Vec<String>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub action: StepAction,
    /// How long a waiting step waits; `None`: the command's default.
    pub within: Option<Duration>,
    pub absent: bool,
    pub expect: Vec<(String, Json)>,
    pub capture: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub enum StepAction {
    Request {
        method: String,
        url: Template,
        headers: Vec<(String, Template)>,
        body: Option<Body>,
        status: Option<u16>,
    },
    Invoke {
        function: Template,
        payload: Option<Json>,
        error: bool,
    },
    Send {
        queue: Template,
        body: Body,
        group: Option<Template>,
        deduplication_id: Option<Template>,
    },
    Object {
        bucket: Template,
        key: Template,
    },
    Message {
        queue: Template,
        matching: Vec<(String, Json)>,
    },
    Log {
        group: Template,
        pattern: String,
    },
}

impl StepAction {
    /// The step's word in messages.
    pub fn verb(&self) -> &'static str {
        match self {
            StepAction::Request { .. } => "request",
            StepAction::Invoke { .. } => "invoke",
            StepAction::Send { .. } => "send",
            StepAction::Object { .. } => "object",
            StepAction::Message { .. } => "message",
            StepAction::Log { .. } => "log",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Body {
    Json(Json),
    Text(Template),
}

/// JSON whose strings may hold `${...}`.
#[derive(Debug, Clone)]
pub enum Json {
    Literal(serde_json::Value),
    Text(Template),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// `[grade]`, checked: addresses are declared resources.
#[derive(Debug, Clone, Default)]
pub struct Grading {
    /// `queues.task-queue` (the whole resource) or `functions.x.environment.Y` (one setting).
    pub ignore: Vec<String>,
    pub points: BTreeMap<String, u32>,
}

impl Grading {
    /// Whether the setting `key` (a stack.toml key) of `address` is left out of grading.
    pub fn ignores(&self, address: &str, key: &str) -> bool {
        self.ignore
            .iter()
            .any(|i| i == address || *i == format!("{address}.{key}"))
    }

    pub fn points_of(&self, address: &str) -> u32 {
        self.points.get(address).copied().unwrap_or(1)
    }
}

// ---- checking ------------------------------------------------------------------------------

const ACTIONS: [&str; 6] = ["request", "invoke", "send", "object", "message", "log"];

/// Checks every declared check against the stack's resources, in the order written.
pub(super) fn check_all(
    raw: &BTreeMap<Spanned<String>, RawCheck>,
    resources: &[Resource],
    c: &mut Checker,
) -> Vec<Check> {
    c.enter_check(resources.to_vec());
    let mut checks: Vec<(usize, Check)> = raw
        .iter()
        .map(|(name, check)| {
            c.forget_captured();
            (name.span().start, one(name, check, c))
        })
        .collect();
    checks.sort_by_key(|(at, _)| *at);
    checks.into_iter().map(|(_, check)| check).collect()
}

fn one(name: &Spanned<String>, raw: &RawCheck, c: &mut Checker) -> Check {
    let points = raw.points.as_ref().map_or(1, |p| points(p, c));
    if raw.steps.get_ref().is_empty() {
        c.problem(
            Diagnostic::new(
                format!("check `{}` has no steps", name.get_ref()),
                raw.steps.span(),
            )
            .with_help(
                "add [[checks.<name>.steps]] tables, e.g. request = \"POST ${apis.x.url}/tasks\"",
            ),
        );
    }
    let steps = raw
        .steps
        .get_ref()
        .iter()
        .filter_map(|s| step(s, raw.steps.span(), c))
        .collect();
    Check {
        name: name.get_ref().clone(),
        about: raw.about.clone().unwrap_or_else(|| name.get_ref().clone()),
        points,
        hint: raw.hint.clone(),
        tags: raw.tags.clone(),
        steps,
    }
}

fn points(p: &Spanned<i64>, c: &mut Checker) -> u32 {
    u32::try_from(*p.get_ref()).unwrap_or_else(|_| {
        c.problem(
            Diagnostic::new("points must be 0 or more", p.span())
                .with_help("write a whole number such as 1 or 5"),
        );
        0
    })
}

fn step(raw: &RawStep, at: std::ops::Range<usize>, c: &mut Checker) -> Option<Step> {
    let action = action(raw, at.clone(), c)?;
    let waits = matches!(
        action,
        StepAction::Object { .. } | StepAction::Message { .. } | StepAction::Log { .. }
    );
    if raw.absent && !waits {
        c.problem(
            Diagnostic::new(
                format!(
                    "`absent` is for steps that wait; a {} step acts",
                    action.verb()
                ),
                at,
            )
            .with_help("use absent = true with object, message or log"),
        );
    }
    let expect = raw
        .expect
        .as_ref()
        .map(|t| fields(t, c))
        .unwrap_or_default();
    let capture: Vec<(String, String)> = raw
        .capture
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // Captured after the step has run, so its own templates cannot use them.
    for (name, _) in &capture {
        c.captured(name);
    }
    Some(Step {
        action,
        within: raw.within.as_ref().and_then(|w| within(w, c)),
        absent: raw.absent,
        expect,
        capture,
    })
}

/// The one action the step names, with what it needs.
fn action(raw: &RawStep, at: std::ops::Range<usize>, c: &mut Checker) -> Option<StepAction> {
    let named = [
        &raw.request,
        &raw.invoke,
        &raw.send,
        &raw.object,
        &raw.message,
        &raw.log,
    ];
    let given: Vec<(&str, &Spanned<String>)> = ACTIONS
        .iter()
        .zip(named)
        .filter_map(|(word, v)| v.as_ref().map(|v| (*word, v)))
        .collect();
    let [(word, target)] = given.as_slice() else {
        let message = if given.is_empty() {
            "a step needs one of request, invoke, send, object, message or log".to_owned()
        } else {
            let words: Vec<&str> = given.iter().map(|(w, _)| *w).collect();
            format!(
                "a step does one thing; this one says {}",
                words.join(" and ")
            )
        };
        c.problem(Diagnostic::new(message, at).with_help(
            "split it into one [[checks.<name>.steps]] table per action, in the order they run",
        ));
        return None;
    };
    let body = body(raw, c);
    Some(match *word {
        "request" => request(target, raw, body, c)?,
        "invoke" => StepAction::Invoke {
            function: c.template(target),
            payload: match body {
                Some(Body::Json(j)) => Some(j),
                _ => None,
            },
            error: raw.error.unwrap_or(false),
        },
        "send" => StepAction::Send {
            queue: c.template(target),
            body: body.unwrap_or(Body::Json(Json::Literal(serde_json::json!({})))),
            group: raw.group.as_ref().map(|g| c.template(g)),
            deduplication_id: raw.deduplication_id.as_ref().map(|d| c.template(d)),
        },
        "object" => object(target, c)?,
        "message" => StepAction::Message {
            queue: c.template(target),
            matching: raw
                .matching
                .as_ref()
                .map(|t| fields(t, c))
                .unwrap_or_default(),
        },
        _ => StepAction::Log {
            group: c.template(target),
            pattern: pattern(raw, target, c)?,
        },
    })
}

fn request(
    target: &Spanned<String>,
    raw: &RawStep,
    body: Option<Body>,
    c: &mut Checker,
) -> Option<StepAction> {
    let text = target.get_ref();
    let Some((method, url)) = text.trim().split_once(' ') else {
        c.problem(
            Diagnostic::new(format!("`{text}` is not a method and a URL"), target.span())
                .with_help("write e.g. request = \"POST ${apis.task-api.url}/tasks\""),
        );
        return None;
    };
    let method = method.to_ascii_uppercase();
    const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    if !METHODS.contains(&method.as_str()) {
        c.problem(
            Diagnostic::new(format!("`{method}` is not an HTTP method"), target.span())
                .suggest(&method, METHODS)
                .or_help(format!("methods: {}", METHODS.join(", "))),
        );
    }
    // The URL's span starts after the method; the checker adds the opening quote itself.
    let offset = text.len() - url.trim_start().len();
    let span = target.span();
    let url = Spanned::new(span.start + offset..span.end, url.trim().to_owned());
    let status = raw.status.as_ref().and_then(|s| {
        let ok = u16::try_from(*s.get_ref())
            .ok()
            .filter(|n| (100..600).contains(n));
        if ok.is_none() {
            c.problem(
                Diagnostic::new("status must be an HTTP status, 100 to 599", s.span())
                    .with_help("e.g. status = 202"),
            );
        }
        ok
    });
    Some(StepAction::Request {
        method,
        url: c.template(&url),
        headers: raw
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), c.template(v)))
            .collect(),
        body,
        status,
    })
}

fn object(target: &Spanned<String>, c: &mut Checker) -> Option<StepAction> {
    let text = target.get_ref();
    let Some((bucket, key)) = text
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
    else {
        c.problem(
            Diagnostic::new(format!("`{text}` is not an s3://bucket/key"), target.span())
                .with_help("write e.g. object = \"s3://${buckets.task-results.name}/results/${check.id}.json\""),
        );
        return None;
    };
    let span = target.span();
    let bucket_at = span.start + "s3://".len();
    let key_at = bucket_at + bucket.len() + 1;
    Some(StepAction::Object {
        bucket: c.template(&Spanned::new(bucket_at..span.end, bucket.to_owned())),
        key: c.template(&Spanned::new(key_at..span.end, key.to_owned())),
    })
}

fn pattern(raw: &RawStep, target: &Spanned<String>, c: &mut Checker) -> Option<String> {
    let Some(pattern) = &raw.pattern else {
        c.problem(
            Diagnostic::new("a log step needs a pattern", target.span())
                .with_help("e.g. pattern = \"Processing \\\\d+ message\""),
        );
        return None;
    };
    match regex_lite::Regex::new(pattern.get_ref()) {
        Ok(_) => Some(pattern.get_ref().clone()),
        Err(e) => {
            c.problem(
                Diagnostic::new(
                    format!("the pattern is not a regular expression: {e}"),
                    pattern.span(),
                )
                .with_help("write a pattern such as \"Processing \\\\d+ message\""),
            );
            None
        }
    }
}

fn body(raw: &RawStep, c: &mut Checker) -> Option<Body> {
    match (&raw.json, &raw.body) {
        (Some(_), Some(body)) => {
            c.problem(
                Diagnostic::new("a step sends `json` or `body`, not both", body.span())
                    .with_help("keep one"),
            );
            None
        }
        (Some(json), None) => Some(Body::Json(json_template(json.get_ref(), json.span(), c))),
        (None, Some(body)) => Some(Body::Text(c.template(body))),
        (None, None) => None,
    }
}

/// The fields of an `expect` or `matching` table, by path.
fn fields(table: &Spanned<toml::Table>, c: &mut Checker) -> Vec<(String, Json)> {
    table
        .get_ref()
        .iter()
        .map(|(k, v)| (k.clone(), json_template(v, table.span(), c)))
        .collect()
}

/// A TOML value as JSON; its strings are templates (reported at `at`, the value's table).
fn json_template(v: &toml::Value, at: std::ops::Range<usize>, c: &mut Checker) -> Json {
    match v {
        toml::Value::String(s) => {
            let t = c.template(&Spanned::new(at.clone(), s.clone()));
            match t.as_literal() {
                Some(text) => Json::Literal(serde_json::Value::String(text)),
                None => Json::Text(t),
            }
        }
        toml::Value::Array(items) => Json::Array(
            items
                .iter()
                .map(|i| json_template(i, at.clone(), c))
                .collect(),
        ),
        toml::Value::Table(t) => Json::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), json_template(v, at.clone(), c)))
                .collect(),
        ),
        other => Json::Literal(serde_json::to_value(other).unwrap_or_default()),
    }
}

/// `within`: seconds, as a number or as arithmetic once the settings are substituted.
fn within(w: &Spanned<Scalar>, c: &mut Checker) -> Option<Duration> {
    let text = match w.get_ref() {
        Scalar::Int(n) => n.to_string(),
        Scalar::Str(s) => {
            let t = c.template(&Spanned::new(w.span(), s.clone()));
            t.as_literal()?
        }
    };
    match arithmetic(&text) {
        Some(n) if n >= 0.0 => Some(Duration::from_secs_f64(n)),
        _ => {
            c.problem(
                Diagnostic::new(format!("within is `{text}`, not a number of seconds"), w.span())
                    .with_help("write seconds, or arithmetic on settings such as \"${queues.q.visibility_timeout} * 3 + 30\""),
            );
            None
        }
    }
}

/// `+ - * /` and parentheses over numbers: enough to derive a wait from a lab's settings.
pub fn arithmetic(text: &str) -> Option<f64> {
    let tokens: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut at = 0;
    let value = sum(&tokens, &mut at)?;
    (at == tokens.len()).then_some(value)
}

fn sum(t: &[char], at: &mut usize) -> Option<f64> {
    let mut value = product(t, at)?;
    while let Some(op @ ('+' | '-')) = t.get(*at).copied() {
        *at += 1;
        let rhs = product(t, at)?;
        value = if op == '+' { value + rhs } else { value - rhs };
    }
    Some(value)
}

fn product(t: &[char], at: &mut usize) -> Option<f64> {
    let mut value = atom(t, at)?;
    while let Some(op @ ('*' | '/')) = t.get(*at).copied() {
        *at += 1;
        let rhs = atom(t, at)?;
        value = if op == '*' { value * rhs } else { value / rhs };
    }
    Some(value)
}

fn atom(t: &[char], at: &mut usize) -> Option<f64> {
    if t.get(*at) == Some(&'(') {
        *at += 1;
        let value = sum(t, at)?;
        (t.get(*at) == Some(&')')).then(|| *at += 1)?;
        return Some(value);
    }
    let start = *at;
    while t.get(*at).is_some_and(|c| c.is_ascii_digit() || *c == '.') {
        *at += 1;
    }
    t[start..*at].iter().collect::<String>().parse().ok()
}

/// `[grade]`, its addresses checked against the stack.
pub(super) fn grading(raw: &RawGrade, resources: &[Resource], c: &mut Checker) -> Grading {
    let address_of = |text: &str| {
        resources
            .iter()
            .map(|r| r.id().address())
            .find(|a| text == a || text.starts_with(&format!("{a}.")))
    };
    let known = |s: &Spanned<String>, c: &mut Checker| {
        if address_of(s.get_ref()).is_none() {
            let addresses: Vec<String> = resources.iter().map(|r| r.id().address()).collect();
            c.problem(
                Diagnostic::new(
                    format!("`{}` names no resource of this stack", s.get_ref()),
                    s.span(),
                )
                .suggest(s.get_ref(), addresses.iter().map(String::as_str))
                .or_help(
                    "write an address such as \"functions.task-processor\", then a setting's key",
                ),
            );
        }
        s.get_ref().clone()
    };
    let ignore = raw.ignore.iter().map(|s| known(s, c)).collect();
    let points = raw
        .points
        .iter()
        .map(|(address, p)| (known(address, c), points(p, c)))
        .collect();
    Grading { ignore, points }
}

#[cfg(test)]
mod tests {
    use super::arithmetic;

    #[test]
    fn waits_are_arithmetic_on_settings() {
        assert_eq!(arithmetic("3 * (60 + 10) + 30"), Some(240.0));
        assert_eq!(arithmetic("90"), Some(90.0));
        assert_eq!(arithmetic("10 / 4 - 1"), Some(1.5));
        assert_eq!(arithmetic("3 *"), None);
        assert_eq!(arithmetic("(1"), None);
        assert_eq!(arithmetic("x"), None);
    }
}
