//! `exstack logs <function>`: a function's lines from CloudWatch Logs (`/aws/lambda/<name>`),
//! so a student sees what the handler printed and its tracebacks without learning `aws logs`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::Exit;
use super::report::Report;
use crate::aws::Ctx;
use crate::aws::errors::{AwsError, AwsResult};
use crate::cli::LogsArgs;
use crate::manifest::Stack;
use crate::manifest::diagnostic::closest;
use crate::output::{Format, Printer, Rendered, Settings};

/// How far back each `--follow` poll looks again: a line can be stored (ingested) a little
/// after its timestamp, so the window overlaps and event ids drop what was already printed.
const FOLLOW_OVERLAP: Duration = Duration::from_secs(30);

/// The lines shown, each as soon as it was read. `--follow` keeps none: it runs until Ctrl-C
/// on one machine, where every line is on the screen already.
pub struct Logs {
    events: Vec<Event>,
}

impl Report for Logs {
    /// None: `-o json` prints JSON Lines, one object per event.
    fn json(&self) -> Option<serde_json::Value> {
        None
    }

    fn text(&self, settings: Settings) -> String {
        self.events
            .iter()
            .map(|e| e.line(settings.format))
            .collect()
    }

    fn exit(&self) -> Exit {
        Exit::Success
    }

    fn streamed(&self) -> bool {
        true
    }
}

/// One log event, as `-o json` prints it: one object a line (JSON Lines).
#[derive(Serialize)]
struct Event {
    function: String,
    time: String,
    timestamp: i64,
    stream: String,
    event_id: Option<String>,
    message: String,
}

pub async fn run(
    ctx: &Ctx,
    stack: &Stack,
    printer: &Printer,
    args: &LogsArgs,
    cancel: &CancellationToken,
) -> Result<Logs> {
    let (function, group) = log_group(stack, &args.function)?;
    let first_start = epoch_ms(SystemTime::now()) - args.since.as_millis() as i64;
    // FilterLogEvents is limited to a few calls a second per account on AWS.
    let poll = if ctx.target.is_aws() {
        Duration::from_secs(1)
    } else {
        Duration::from_millis(500)
    };
    let mut printed: HashMap<String, i64> = HashMap::new();
    let mut logs = Logs { events: Vec::new() };
    let mut said_waiting = false;
    loop {
        let start = if args.follow && !printed.is_empty() {
            first_start.max(epoch_ms(SystemTime::now()) - FOLLOW_OVERLAP.as_millis() as i64)
        } else {
            first_start
        };
        match read_events(ctx, &group, start).await {
            Ok(events) => {
                for event in events {
                    let Some(ts) = event.timestamp() else {
                        continue;
                    };
                    if printed.insert(identity(&event), ts).is_none() {
                        let event = Event::of(function, &event);
                        printer.show(Rendered::Text(event.line(printer.settings().format)));
                        if !args.follow {
                            logs.events.push(event);
                        }
                    }
                }
                printed.retain(|_, ts| *ts >= start);
            }
            Err(e) if e.is_not_found() => {
                if !args.follow {
                    printer.status(
                        "No logs",
                        format_args!("{group} does not exist yet: {function} has not run"),
                    );
                    return Ok(logs);
                }
                if !said_waiting {
                    printer.notice(
                        "Waiting",
                        format_args!("for {function} to run ({group} does not exist yet)"),
                    );
                    said_waiting = true;
                }
            }
            Err(e) => return Err(e.into()),
        }
        if !args.follow {
            return Ok(logs);
        }
        // Ctrl-C is how `--follow` ends: that is success, not an interruption.
        tokio::select! {
            () = cancel.cancelled() => return Ok(logs),
            () = tokio::time::sleep(poll) => {}
        }
    }
}

/// The function's name and its log group, or an error listing the stack's functions (the
/// resources that have logs) with the closest one.
fn log_group<'a>(stack: &'a Stack, wanted: &str) -> Result<(&'a str, String)> {
    let groups: Vec<(&str, String)> = stack
        .resources
        .iter()
        .filter_map(|r| {
            let name = r.id().name.as_str();
            crate::resources::kind(r.kind())
                .log_group(name)
                .map(|g| (name, g))
        })
        .collect();
    if let Some(found) = groups.iter().find(|(f, _)| *f == wanted) {
        return Ok(found.clone());
    }
    let functions: Vec<&str> = groups.iter().map(|(f, _)| *f).collect();
    let mut message = format!(
        "`{wanted}` is not a function of {}; its functions: {}",
        stack.path.display(),
        if functions.is_empty() {
            "none".to_owned()
        } else {
            functions.join(", ")
        }
    );
    if let Some(near) = closest(wanted, functions.iter().copied()) {
        message.push_str(&format!("\n  = help: did you mean `{near}`?"));
    }
    bail!(message)
}

/// What tells an event from the others while following: its id, as AWS gives every event.
/// MiniStack 1.5.33 gives none; its stream, time and text then stand in for it.
fn identity(event: &FilteredLogEvent) -> String {
    match event.event_id() {
        Some(id) => id.to_owned(),
        None => format!(
            "{}|{}|{}",
            event.log_stream_name().unwrap_or_default(),
            event.timestamp().unwrap_or_default(),
            event.message().unwrap_or_default()
        ),
    }
}

/// Every event of the group from `start_ms` on, oldest first.
async fn read_events(
    ctx: &Ctx,
    group: &str,
    start_ms: i64,
) -> Result<Vec<FilteredLogEvent>, AwsError> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(start_ms)
            .set_next_token(token.clone())
            .send()
            .await
            .aws("FilterLogEvents")?;
        events.extend(page.events.unwrap_or_default());
        match page.next_token {
            // A server that hands back the token it was given would loop forever.
            Some(next) if Some(&next) != token.as_ref() => token = Some(next),
            _ => break,
        }
    }
    events.sort_by_key(|e| e.timestamp().unwrap_or_default());
    Ok(events)
}

impl Event {
    fn of(function: &str, event: &FilteredLogEvent) -> Event {
        let timestamp = event.timestamp().unwrap_or_default();
        Event {
            function: function.to_owned(),
            time: utc(timestamp),
            timestamp,
            stream: event.log_stream_name().unwrap_or_default().to_owned(),
            event_id: event.event_id().map(str::to_owned),
            message: event
                .message()
                .unwrap_or_default()
                .trim_end_matches(['\n', '\r'])
                .to_owned(),
        }
    }

    /// Its line: the JSON object, or the time, the short stream name and the message.
    fn line(&self, format: Format) -> String {
        match format {
            Format::Json => format!("{}\n", serde_json::to_value(self).unwrap_or_default()),
            Format::Text => format!(
                "{}  {}  {}\n",
                self.time,
                short_stream(&self.stream),
                self.message
            ),
        }
    }
}

/// `2026/11/28/[$LATEST]f15d81c82cd962889bbb92c7ed07f08c` → `[$LATEST]f15d81c8`: the date is
/// in the timestamp already, and 8 hex digits tell execution environments apart.
fn short_stream(stream: &str) -> &str {
    let tail = stream.rsplit_once('/').map_or(stream, |(_, t)| t);
    match tail.find(']') {
        Some(i) if tail.len() > i + 9 => tail.get(..i + 9).unwrap_or(tail),
        _ => tail,
    }
}

fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Milliseconds since the epoch as `2026-11-28 12:34:56.789Z` (UTC, as Lambda logs).
fn utc(ms: i64) -> String {
    use aws_smithy_types::DateTime;
    use aws_smithy_types::date_time::Format;
    let t = DateTime::from_millis(ms);
    // RFC 3339 drops a zero fraction, so whole seconds come from the SDK and millis always follow.
    match DateTime::from_secs(t.secs()).fmt(Format::DateTime) {
        Ok(text) => format!(
            "{}.{:03}Z",
            text.trim_end_matches('Z').replacen('T', " ", 1),
            t.subsec_nanos() / 1_000_000
        ),
        // Outside years 1-9999, which no log event has: the raw number, rather than nothing.
        Err(_) => format!("{ms} ms since 1970"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(utc(0), "1970-01-01 00:00:00.000Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00.000Z");
        assert_eq!(utc(1_795_888_643_592), "2026-11-28 17:57:23.592Z");
        assert_eq!(utc(-1), "1969-12-31 23:59:59.999Z");
        assert_eq!(utc(1_795_888_643_000), "2026-11-28 17:57:23.000Z");
        assert_eq!(utc(253_402_300_799_999), "9999-12-31 23:59:59.999Z");
        assert_eq!(utc(i64::MAX), format!("{} ms since 1970", i64::MAX));
    }

    #[test]
    fn shortens_stream_names() {
        assert_eq!(
            short_stream("2026/11/28/[$LATEST]f15d81c82cd962889bbb92c7ed07f08c"),
            "[$LATEST]f15d81c8"
        );
        assert_eq!(short_stream("[$LATEST]abc"), "[$LATEST]abc");
        assert_eq!(short_stream("plain"), "plain");
    }
}
