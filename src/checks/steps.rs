//! Each kind of step: what it sends or waits for, and the JSON document it yields for its
//! expectations and captures.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use aws_smithy_types::Blob;
use serde_json::Value as JsonValue;

use super::Runner;
use crate::aws::Ctx;
use crate::aws::errors::AwsResult;
use crate::manifest::checks::{Body, Json, Step, StepAction};
use crate::manifest::template::Template;
use crate::resolve::Resolver;

/// What a check's steps left behind, removed when it ends: the objects they found (the
/// lab's results of what the check sent).
#[derive(Default)]
pub struct Made {
    objects: Vec<(String, String)>,
}

impl Made {
    pub async fn clean_up(self, ctx: &Ctx) {
        for (bucket, key) in self.objects {
            let _ = ctx.s3.delete_object().bucket(bucket).key(key).send().await;
        }
    }
}

/// Does the step and returns what it yields: a response body, a function's result, an
/// object, a message body (JSON where it parses, else a string).
pub async fn act(
    runner: &Runner<'_>,
    step: &Step,
    r: &Resolver<'_>,
    made: &mut Made,
) -> Result<JsonValue> {
    let ctx = runner.ctx;
    match &step.action {
        StepAction::Request {
            method,
            url,
            headers,
            body,
            status,
        } => {
            let url = text(r, url)?;
            let mut request = runner
                .http
                .request(method.parse().context("HTTP method")?, &url);
            if let Some((name, value)) = ctx.stage_request_header(&url) {
                request = request.header(name, value);
            }
            for (name, value) in headers {
                request = request.header(name, text(r, value)?);
            }
            if let Some(body) = body {
                request = match body {
                    Body::Json(j) => request.json(&json(r, j)?),
                    Body::Text(t) => request.body(text(r, t)?),
                };
            }
            let answer = request
                .send()
                .await
                .with_context(|| format!("{method} {url}"))?;
            let seen = answer.status().as_u16();
            let body = answer.text().await.unwrap_or_default();
            if let Some(expected) = status
                && *expected != seen
            {
                bail!("expected {expected} from {method} {url}, saw {seen}: {body}");
            }
            Ok(parsed(&body))
        }
        StepAction::Invoke {
            function,
            payload,
            error,
        } => invoke(ctx, &text(r, function)?, payload.as_ref(), *error, r).await,
        StepAction::Send {
            queue,
            body,
            group,
            deduplication_id,
        } => {
            let body = match body {
                Body::Json(j) => json(r, j)?.to_string(),
                Body::Text(t) => text(r, t)?,
            };
            let sent = ctx
                .sqs
                .send_message()
                .queue_url(text(r, queue)?)
                .message_body(body)
                .set_message_group_id(optional(r, group.as_ref())?)
                .set_message_deduplication_id(optional(r, deduplication_id.as_ref())?)
                .send()
                .await
                .aws("SendMessage")?;
            Ok(serde_json::json!({ "message_id": sent.message_id() }))
        }
        StepAction::Object { bucket, key } => {
            let (bucket, key) = (text(r, bucket)?, text(r, key)?);
            let what = format!("s3://{bucket}/{key}");
            let found = wait(runner, step, &what, || object(ctx, &bucket, &key)).await?;
            if found.is_some() {
                made.objects.push((bucket, key));
            }
            Ok(found.unwrap_or(JsonValue::Null))
        }
        StepAction::Message { queue, matching } => {
            let url = text(r, queue)?;
            let wanted: Vec<(String, JsonValue)> = matching
                .iter()
                .map(|(path, j)| Ok((path.clone(), json(r, j)?)))
                .collect::<Result<_>>()?;
            let what = format!("a message in {}", short_queue(&url));
            let found = wait(runner, step, &what, || take_message(ctx, &url, &wanted)).await?;
            Ok(found.unwrap_or(JsonValue::Null))
        }
        StepAction::Log { group, pattern } => {
            let group = text(r, group)?;
            let regex = regex_lite::Regex::new(pattern).context("the step's pattern")?;
            let since = epoch_ms() - 1_000;
            let what = format!("a line matching `{pattern}` in {group}");
            let found = wait(runner, step, &what, || log_line(ctx, &group, &regex, since)).await?;
            Ok(found.unwrap_or(JsonValue::Null))
        }
    }
}

/// Polls `look` until it finds something or the step's bound passes. A step that expects
/// something fails on nothing; an `absent` step fails on anything.
async fn wait<F, Fut>(
    runner: &Runner<'_>,
    step: &Step,
    what: &str,
    mut look: F,
) -> Result<Option<JsonValue>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<JsonValue>>>,
{
    let bound = runner.wait_of(step);
    let start = Instant::now();
    let mut told = Instant::now();
    let found = loop {
        if let Some(found) = look().await? {
            break Some(found);
        }
        if start.elapsed() >= bound {
            break None;
        }
        if told.elapsed() >= Duration::from_secs(10) {
            let (waited, bound) = (start.elapsed().as_secs(), bound.as_secs());
            (runner.on_wait)(format!("{waited}s of up to {bound}s for {what}"));
            told = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let secs = bound.as_secs();
    match (found, step.absent) {
        (None, false) => bail!("expected {what} within {secs}s, saw nothing"),
        (Some(seen), true) => bail!("expected no {what} within {secs}s, saw {seen}"),
        (found, _) => Ok(found),
    }
}

async fn invoke(
    ctx: &Ctx,
    function: &str,
    payload: Option<&Json>,
    expect_error: bool,
    r: &Resolver<'_>,
) -> Result<JsonValue> {
    let payload = match payload {
        Some(j) => json(r, j)?.to_string(),
        None => "{}".to_owned(),
    };
    let answer = ctx
        .lambda
        .invoke()
        .function_name(function)
        .payload(Blob::new(payload))
        .send()
        .await
        .aws("Invoke")?;
    let result = answer
        .payload()
        .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
        .unwrap_or_default();
    match (answer.function_error(), expect_error) {
        (Some(kind), false) => bail!("{function} failed ({kind}): {result}"),
        (None, true) => bail!("expected {function} to fail, it returned {result}"),
        _ => Ok(parsed(&result)),
    }
}

async fn object(ctx: &Ctx, bucket: &str, key: &str) -> Result<Option<JsonValue>> {
    let got = ctx
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .aws("GetObject");
    match got {
        Ok(object) => {
            let bytes = object.body.collect().await.context("reading")?.into_bytes();
            Ok(Some(parsed(&String::from_utf8_lossy(&bytes))))
        }
        Err(e) if e.is_not_found() || e.has_code(&["NoSuchKey", "NoSuchBucket"]) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Looks once (a second's long poll) for a message with the wanted fields, deleting it when
/// found: it is the check's own.
async fn take_message(
    ctx: &Ctx,
    url: &str,
    wanted: &[(String, JsonValue)],
) -> Result<Option<JsonValue>> {
    // Visibility 0: looking must not hide anyone else's messages.
    let got = ctx
        .sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .wait_time_seconds(1)
        .send()
        .await
        .aws("ReceiveMessage")?;
    let ours = got.messages().iter().find_map(|m| {
        let body = parsed(m.body().unwrap_or_default());
        let matches = wanted
            .iter()
            .all(|(path, v)| at(&body, path).is_some_and(|seen| same(v, seen)));
        matches.then_some((m, body))
    });
    let Some((message, body)) = ours else {
        return Ok(None);
    };
    if let Some(handle) = message.receipt_handle() {
        ctx.sqs
            .delete_message()
            .queue_url(url)
            .receipt_handle(handle)
            .send()
            .await
            .aws("DeleteMessage")?;
    }
    Ok(Some(body))
}

async fn log_line(
    ctx: &Ctx,
    group: &str,
    regex: &regex_lite::Regex,
    since_ms: i64,
) -> Result<Option<JsonValue>> {
    let page = ctx
        .logs
        .filter_log_events()
        .log_group_name(group)
        .start_time(since_ms)
        .send()
        .await
        .aws("FilterLogEvents");
    let events = match page {
        Ok(page) => page.events.unwrap_or_default(),
        // No group yet: the function has not run since it was made.
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let line = events
        .iter()
        .filter_map(|e| e.message())
        .find(|m| regex.is_match(m));
    Ok(line.map(|l| JsonValue::String(l.trim_end().to_owned())))
}

/// The fields `expect` names, each as it should be.
pub fn expect(expected: &[(String, Json)], document: &JsonValue, r: &Resolver<'_>) -> Result<()> {
    let mut wrong = Vec::new();
    for (path, j) in expected {
        let want = json(r, j)?;
        match at(document, path) {
            Some(seen) if same(&want, seen) => {}
            Some(seen) => wrong.push(format!("{path}: expected {want}, saw {seen}")),
            None => wrong.push(format!(
                "{path}: expected {want}, saw nothing in {document}"
            )),
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("{}", wrong.join("; ")))
    }
}

/// The values `capture` names, as text for `${check.<name>}`.
pub fn capture(wanted: &[(String, String)], document: &JsonValue) -> Result<Vec<(String, String)>> {
    wanted
        .iter()
        .map(|(name, path)| {
            let value = at(document, path)
                .ok_or_else(|| anyhow!("expected a `{path}` to capture, saw {document}"))?;
            let text = match value {
                JsonValue::String(s) => s.clone(),
                other => other.to_string(),
            };
            Ok((name.clone(), text))
        })
        .collect()
}

/// The value at a dotted path ("data.numbers.0").
fn at<'v>(document: &'v JsonValue, path: &str) -> Option<&'v JsonValue> {
    path.split('.').try_fold(document, |v, segment| match v {
        JsonValue::Array(items) => items.get(segment.parse::<usize>().ok()?),
        other => other.get(segment),
    })
}

/// Equal, numbers by value (150 and 150.0 are the same sum).
fn same(want: &JsonValue, seen: &JsonValue) -> bool {
    match (want.as_f64(), seen.as_f64()) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
        _ => want == seen,
    }
}

fn parsed(text: &str) -> JsonValue {
    serde_json::from_str(text).unwrap_or_else(|_| JsonValue::String(text.to_owned()))
}

fn text(r: &Resolver<'_>, t: &Template) -> Result<String> {
    r.value(t)
        .known()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("{} is not known: is the stack up?", names(t)))
}

fn optional(r: &Resolver<'_>, t: Option<&Template>) -> Result<Option<String>> {
    t.map(|t| text(r, t)).transpose()
}

fn names(t: &Template) -> String {
    let names: Vec<String> = t.references().map(ToString::to_string).collect();
    if names.is_empty() {
        "a captured value".to_owned()
    } else {
        names.join(", ")
    }
}

/// A JSON template's value; a string that is all one number stays a string.
fn json(r: &Resolver<'_>, j: &Json) -> Result<JsonValue> {
    Ok(match j {
        Json::Literal(v) => v.clone(),
        Json::Text(t) => JsonValue::String(text(r, t)?),
        Json::Array(items) => {
            JsonValue::Array(items.iter().map(|i| json(r, i)).collect::<Result<_>>()?)
        }
        Json::Object(fields) => JsonValue::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), json(r, v)?)))
                .collect::<Result<_>>()?,
        ),
    })
}

/// `task-dlq` from its URL.
fn short_queue(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_reach_into_objects_and_arrays() {
        let doc = json!({"sum": 150, "data": {"numbers": [10, 20]}});
        assert_eq!(at(&doc, "sum"), Some(&json!(150)));
        assert_eq!(at(&doc, "data.numbers.1"), Some(&json!(20)));
        assert_eq!(at(&doc, "data.missing"), None);
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(same(&json!(30), &json!(30.0)));
        assert!(!same(&json!("30"), &json!(30)));
        assert!(same(&json!("HELLO"), &json!("HELLO")));
    }

    #[test]
    fn captures_read_text_and_fail_naming_the_field() {
        let doc = json!({"message_id": "abc", "n": 5});
        let wanted = vec![("id".to_owned(), "message_id".to_owned())];
        assert_eq!(
            capture(&wanted, &doc).unwrap(),
            vec![("id".into(), "abc".into())]
        );
        let missing = vec![("x".to_owned(), "nope".to_owned())];
        let e = capture(&missing, &doc).unwrap_err().to_string();
        assert!(e.contains("`nope`"), "{e}");
    }
}
