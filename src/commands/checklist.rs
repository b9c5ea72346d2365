//! What `verify` and `grade` share: read the lab, run its configuration checks and its
//! declared checks as the command line selects them, and show each line as it finishes.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::aws::Ctx;
use crate::checks::{Comparison, Configuration, Runner, configuration};
use crate::cli::ChecksArgs;
use crate::engine::Engine;
use crate::manifest::Stack;
use crate::manifest::checks::Check;
use crate::output::{Printer, Rendered};

/// The tag `--skip-dlq` leaves out.
const DLQ_TAG: &str = "dlq";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// A resource exists with stack.toml's settings.
    Configuration,
    /// Every resource has settled (functions Active, mappings enabled).
    Ready,
    /// A `[checks.<name>]`.
    Behaviour,
}

/// One check and how it went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    /// A check's name, or a resource's address for its configuration.
    pub name: String,
    /// What it proves, in a line.
    pub about: String,
    pub part: Part,
    pub ok: bool,
    pub ms: u64,
    pub points: u32,
    pub problems: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Line {
    fn configuration(c: Configuration) -> Line {
        Line {
            ok: c.ok(),
            about: format!("{} as stack.toml declares it", c.name),
            name: c.address,
            part: Part::Configuration,
            ms: 0,
            points: c.points,
            problems: c.problems,
            hint: None,
        }
    }

    /// The points it earned: all or nothing.
    pub fn earned(&self) -> u32 {
        if self.ok { self.points } else { 0 }
    }

    /// `✓ about  (12 ms)` or, graded, `✓ about  2/2`; what was wrong under a failed one.
    pub fn text(&self, graded: bool) -> String {
        let mark = if self.ok { "✓" } else { "✗" };
        let tail = if graded {
            format!("{}/{}", self.earned(), self.points)
        } else {
            format!("({} ms)", self.ms)
        };
        let mut text = format!("{mark} {}  {tail}\n", self.about);
        for p in &self.problems {
            text.push_str(&format!("    {p}\n"));
        }
        if let (false, Some(hint)) = (self.ok, &self.hint) {
            text.push_str(&format!("    hint: {hint}\n"));
        }
        text
    }
}

/// Every line, and the checks the command line left out.
pub struct Checked {
    pub lines: Vec<Line>,
    pub skipped: Vec<String>,
}

impl Checked {
    pub fn ok(&self) -> bool {
        self.lines.iter().all(|l| l.ok)
    }
}

/// Reads the lab and runs what `args` selects, showing each line to people as it ends.
pub async fn run(
    ctx: &Ctx,
    stack: &Stack,
    printer: &Printer,
    args: &ChecksArgs,
    how: Comparison<'_>,
) -> Result<Checked> {
    let select = Selection::new(stack, args)?;
    let engine = Engine::new(ctx, stack)?;
    let observed = engine.observe().await?;
    // Nothing there at all is a setup mistake; a piece missing is a failed check below. A
    // stack of checks alone (an API the lab calls, built elsewhere) has nothing to be missing.
    if !observed.is_empty() && observed.values().all(Option::is_none) {
        bail!("nothing of the stack is there: run `exstack up` first, or build the lab");
    }
    let people = printer.text_only();
    let graded = matches!(how, Comparison::Graded(_));
    let mut lines = Vec::new();
    let mut record = |line: Line| {
        people.show(Rendered::Text(line.text(graded)));
        lines.push(line);
    };
    for c in configuration(&engine, &observed, how) {
        if select.wants(&c.address, &[]) {
            record(Line::configuration(c));
        }
    }
    let declared: Vec<&Check> = stack
        .checks
        .iter()
        .filter(|c| select.wants(&c.name, &c.tags))
        .collect();
    if declared.is_empty() {
        return Ok(Checked {
            lines,
            skipped: select.skipped(stack),
        });
    }
    record(ready(&engine, &observed).await);
    let waiting = |text: String| people.notice("Waiting", text);
    let wait = Duration::from_secs(args.timeout);
    let runner = Runner::new(ctx, engine.known_outputs(&observed), wait, &waiting)?;
    for check in declared {
        let ran = runner.run(check).await;
        record(Line {
            name: check.name.clone(),
            about: check.about.clone(),
            part: Part::Behaviour,
            ok: ran.ok,
            ms: ran.ms,
            points: check.points,
            problems: ran.problem.into_iter().collect(),
            hint: check.hint.clone(),
        });
    }
    Ok(Checked {
        lines,
        skipped: select.skipped(stack),
    })
}

/// Functions Active, mappings enabled: a check run before that would fail for no fault.
async fn ready(engine: &Engine<'_>, observed: &crate::engine::Observed) -> Line {
    let start = Instant::now();
    let settled = engine.settle_all(observed).await;
    Line {
        name: "ready".into(),
        about: "every resource is ready (functions Active, mappings settled)".into(),
        part: Part::Ready,
        ok: settled.is_ok(),
        ms: start.elapsed().as_millis() as u64,
        points: 0,
        problems: settled
            .err()
            .map(|e| format!("{e:#}"))
            .into_iter()
            .collect(),
        hint: None,
    }
}

/// `--check`, `--skip` and `--skip-dlq`, checked against what the stack declares.
struct Selection<'a> {
    args: &'a ChecksArgs,
}

impl<'a> Selection<'a> {
    fn new(stack: &Stack, args: &'a ChecksArgs) -> Result<Selection<'a>> {
        let known: Vec<String> = stack
            .resources
            .iter()
            .map(|r| r.id().address())
            .chain(stack.checks.iter().map(|c| c.name.clone()))
            .collect();
        for name in args.only.iter().chain(&args.skip) {
            if !known.contains(name) {
                let checks: Vec<&str> = stack.checks.iter().map(|c| c.name.as_str()).collect();
                bail!(
                    "no check is called `{name}`\n  = help: the stack's checks: {}; or a resource's address, such as {}",
                    if checks.is_empty() {
                        "none".to_owned()
                    } else {
                        checks.join(", ")
                    },
                    known.first().map_or("queues.<name>", String::as_str)
                );
            }
        }
        Ok(Selection { args })
    }

    fn wants(&self, name: &str, tags: &[String]) -> bool {
        let a = self.args;
        let chosen = a.only.is_empty() || a.only.iter().any(|o| o == name);
        let skipped =
            a.skip.iter().any(|s| s == name) || (a.skip_dlq && tags.iter().any(|t| t == DLQ_TAG));
        chosen && !skipped
    }

    /// The declared checks left out, for the report.
    fn skipped(&self, stack: &Stack) -> Vec<String> {
        stack
            .checks
            .iter()
            .filter(|c| !self.wants(&c.name, &c.tags))
            .map(|c| c.name.clone())
            .collect()
    }
}
