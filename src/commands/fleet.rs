//! Many lab machines in one command: `--endpoint-url` repeated and/or `--targets FILE`.
//! Each machine runs the same command as it would alone, concurrently up to `--jobs`; one
//! failing or unreachable machine never stops the others. A row per machine while it runs,
//! then a table: machine, result, time, changes.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::report::{self, Report, json};
use super::{Exit, on_target};
use crate::aws::{DEFAULT_ENDPOINT, DEFAULT_REGION, Target};
use crate::cli::{Command, Global};
use crate::manifest::Stack;
use crate::output::{FleetView, Level, Printer, Rendered, Row, Settings};
use crate::runfiles::canonical_endpoint;

/// A lab machine: where to act, and what to call it.
#[derive(Debug, Clone)]
pub struct Machine {
    pub name: String,
    pub target: Target,
}

/// Every machine the flags name, in the order given; LocalStack's default when none.
/// Real AWS only by name (`--aws`, or `allow_aws` in the stack with no endpoint given).
pub fn machines(g: &Global, stack: &Stack) -> Result<Vec<Machine>> {
    let region = g
        .region
        .clone()
        .or_else(|| stack.region.clone())
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    let mut listed: Vec<(Option<String>, String)> = g
        .endpoint_url
        .iter()
        .map(|e| Ok((None, checked_url(e)?)))
        .collect::<Result<_>>()?;
    if let Some(file) = &g.targets {
        listed.extend(read_targets(file)?);
    }
    // AWS_ENDPOINT_URL stands in for one --endpoint-url, not for a classroom's list.
    let from_env = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|e| !e.is_empty() && listed.is_empty() && g.targets.is_none());
    let named = !listed.is_empty() || g.targets.is_some() || from_env.is_some();
    // Several real-AWS targets (say, one account in several regions) are as explicit as one:
    // `--aws` and every target written `aws` or `aws:<region>`. Never mixed with emulators.
    let aws_listed = listed
        .iter()
        .filter(|(_, e)| aws_region_of(e).is_some())
        .count();
    if aws_listed > 0 && (!g.aws || aws_listed < listed.len() || from_env.is_some()) {
        bail!(
            "targets written `aws` act on real AWS: pass --aws, and list no emulator endpoints beside them"
        );
    }
    if aws_listed > 0 {
        return distinct(listed.into_iter().map(|(name, e)| {
            let region = aws_region_of(&e)
                .flatten()
                .unwrap_or_else(|| region.clone());
            Machine {
                name: name.unwrap_or_else(|| format!("aws:{region}")),
                target: Target {
                    endpoint: None,
                    region,
                },
            }
        }));
    }
    if g.aws || (stack.allow_aws && !named) {
        if named {
            bail!(
                "--aws targets real AWS and cannot be combined with --endpoint-url, --targets or AWS_ENDPOINT_URL (to list several AWS regions, write them `aws:<region>`)"
            );
        }
        return Ok(vec![Machine {
            name: "aws".into(),
            target: Target {
                endpoint: None,
                region,
            },
        }]);
    }
    if !named {
        listed.push((None, DEFAULT_ENDPOINT.to_owned()));
    }
    listed.extend(from_env.map(|e| (None, e)));
    if listed.is_empty() {
        bail!("the targets file lists no lab machines; add one `[name] URL` per line");
    }
    distinct(listed.into_iter().map(|(name, endpoint)| Machine {
        name: name.unwrap_or_else(|| short_name(&endpoint)),
        target: Target {
            endpoint: Some(endpoint),
            region: region.clone(),
        },
    }))
}

/// The machines, refusing one listed twice: `localhost` and `127.0.0.1` are one LocalStack,
/// and resetting it twice would be a surprise.
fn distinct(machines: impl Iterator<Item = Machine>) -> Result<Vec<Machine>> {
    let key = |m: &Machine| {
        let place = m.target.endpoint.as_deref().map(canonical_endpoint);
        (place, m.target.region.clone())
    };
    let mut out: Vec<Machine> = Vec::new();
    for m in machines {
        if let Some(first) = out.iter().find(|o| key(o) == key(&m)) {
            bail!(
                "{} is listed twice (also as {}); each lab machine once, please",
                m.target.describe(),
                first.name
            );
        }
        out.push(m);
    }
    Ok(out)
}

/// `aws` → `Some(None)`, `aws:eu-west-1` → `Some(Some("eu-west-1"))`, a URL → `None`.
fn aws_region_of(target: &str) -> Option<Option<String>> {
    match target.split_once(':') {
        None if target == "aws" => Some(None),
        Some(("aws", region)) if !region.starts_with("//") => Some(Some(region.to_owned())),
        _ => None,
    }
}

/// `http://lab-07:4566` → `lab-07:4566`: enough to tell rows apart.
fn short_name(endpoint: &str) -> String {
    // A text that does not parse fails on its own row later; shown as given until then.
    crate::endpoint::Endpoint::parse(endpoint)
        .map_or_else(|_| endpoint.trim().to_owned(), |e| e.short_name())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsToml {
    target: Vec<TargetEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetEntry {
    name: Option<String>,
    endpoint: String,
}

fn read_targets(file: &Path) -> Result<Vec<(Option<String>, String)>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the targets file {}", file.display()))?;
    parse_targets(&text).with_context(|| format!("in the targets file {}", file.display()))
}

/// Either TOML (`[[target]]` with `endpoint` and an optional `name`) or one machine per line:
/// `URL` or `NAME URL`, with `#` comments.
fn parse_targets(text: &str) -> Result<Vec<(Option<String>, String)>> {
    if text.contains("[[target]]") {
        let parsed: TargetsToml = toml::from_str(text).context("not a valid [[target]] list")?;
        return parsed
            .target
            .into_iter()
            .map(|t| Ok((t.name, checked_url(&t.endpoint)?)))
            .collect();
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        let fields: Vec<&str> = line.split_whitespace().collect();
        let entry = match fields.as_slice() {
            [] => continue,
            [url] => (None, checked_url(url)),
            [name, url] => (Some((*name).to_owned()), checked_url(url)),
            _ => bail!("line {}: expected `URL` or `NAME URL`, got `{line}`", n + 1),
        };
        out.push((entry.0, entry.1.with_context(|| format!("line {}", n + 1))?));
    }
    Ok(out)
}

fn checked_url(url: &str) -> Result<String> {
    if aws_region_of(url).is_some() {
        return Ok(url.to_owned());
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url.trim_end_matches('/').to_owned())
    } else {
        bail!(
            "`{url}` is not an endpoint URL; write it like http://lab-07:4566 (or aws:<region> for real AWS, with --aws)"
        )
    }
}

/// Every machine's result, in the order given: the table (and each machine's report) for
/// people, `{ok, targets}` for scripts.
#[derive(Debug, Serialize)]
pub struct Fleet {
    ok: bool,
    targets: Vec<MachineResult>,
    #[serde(skip)]
    exit: Exit,
    /// Whether each machine's own report follows the table.
    #[serde(skip)]
    sections: bool,
}

impl Report for Fleet {
    fn json(&self) -> Option<serde_json::Value> {
        json(self)
    }

    fn text(&self, _: Settings) -> String {
        self.table()
    }

    fn exit(&self) -> Exit {
        self.exit
    }
}

/// One machine's result, for the table and the JSON.
#[derive(Debug, Serialize)]
struct MachineResult {
    name: String,
    endpoint: String,
    ok: bool,
    exit: i32,
    #[serde(skip)]
    status: Exit,
    elapsed_ms: u64,
    changes: Option<String>,
    error: Option<String>,
    /// `grade`'s percentage: the table lists the lowest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    /// The command's own JSON document, as it prints for one machine.
    result: Option<serde_json::Value>,
    /// What the command printed as text when it prints no JSON (`logs`, `outputs --format env`).
    #[serde(skip_serializing_if = "String::is_empty")]
    output: String,
}

impl MachineResult {
    /// What the machine's report says (or why the command could not run there).
    fn new(
        machine: Machine,
        report: Result<Box<dyn Report>>,
        elapsed: Duration,
        settings: Settings,
    ) -> MachineResult {
        let (exit, error, changes, shown, score, document) = match report {
            Ok(report) => {
                let exit = report.exit();
                let error = report.problem().filter(|_| exit != Exit::Success);
                let shown = report::rendered(report.as_ref(), settings);
                let document = report.json();
                (
                    exit,
                    error,
                    report.changes(),
                    Some(shown),
                    report.score(),
                    document,
                )
            }
            Err(e) => (
                Exit::Failure,
                Some(format!("{e:#}")),
                None,
                None,
                None,
                None,
            ),
        };
        // The document is kept when people read text too: `grade --csv` is written from it.
        let (result, output) = match shown {
            Some(Rendered::Json(document)) => (Some(document), String::new()),
            Some(Rendered::Text(text)) => (document, text),
            None => (None, String::new()),
        };
        MachineResult {
            name: machine.name,
            endpoint: machine.target.describe(),
            ok: exit == Exit::Success,
            exit: i32::from(exit.code()),
            status: exit,
            elapsed_ms: elapsed.as_millis() as u64,
            changes,
            error,
            score,
            result,
            output,
        }
    }

    /// A line for the table: the error if there was one, else what changed.
    fn detail(&self) -> String {
        match (&self.error, &self.changes) {
            (Some(e), _) => e.lines().next().unwrap_or_default().to_owned(),
            (None, Some(c)) => c.clone(),
            (None, None) => result_word(self.status).to_owned(),
        }
    }
}

pub async fn run(
    command: &Command,
    g: &Global,
    printer: &Printer,
    stack: &Stack,
    machines: Vec<Machine>,
    cancel: &CancellationToken,
) -> Result<Fleet> {
    if let Some(why) = command.one_machine_only() {
        bail!(why);
    }
    let view = FleetView::new(printer, machines.iter().map(|m| m.name.as_str()));
    let rows: Vec<(Machine, Arc<Row>)> = machines
        .into_iter()
        .map(|m| {
            let row = Arc::new(view.row(&m.name));
            (m, row)
        })
        .collect();
    // Unordered, so a slow machine never keeps a free slot from the next one; the results
    // are put back in the order given.
    let mut results: Vec<(usize, MachineResult)> = stream::iter(rows.into_iter().enumerate())
        .map(|(i, (machine, row))| async move {
            (
                i,
                one_machine(command, g, printer, stack, machine, row, cancel).await,
            )
        })
        .buffer_unordered(usize::from(g.jobs))
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    let mut targets: Vec<MachineResult> = results.into_iter().map(|(_, r)| r).collect();
    worst_first(&mut targets);
    let exit = worst(&targets, cancel);
    Ok(Fleet {
        ok: exit == Exit::Success,
        targets,
        exit,
        sections: command.reports_per_machine(),
    })
}

async fn one_machine(
    command: &Command,
    g: &Global,
    printer: &Printer,
    stack: &Stack,
    machine: Machine,
    row: Arc<Row>,
    cancel: &CancellationToken,
) -> MachineResult {
    let started = row.start();
    let target = machine.target.clone();
    let on_row = printer.for_row(row.clone());
    let report = on_target(command, g, &on_row, stack, target, cancel).await;
    if let Ok(report) = &report {
        report.closing(&on_row);
    }
    let elapsed = started.elapsed();
    let result = MachineResult::new(machine, report, elapsed, printer.settings());
    let level = if result.ok {
        Level::Progress
    } else {
        Level::Failure
    };
    row.finish(level, &format!("{}  {}", seconds(elapsed), result.detail()));
    result
}

fn result_word(exit: Exit) -> &'static str {
    match exit {
        Exit::Success => "ok",
        Exit::Failure => "failed",
        Exit::Drift => "differs",
        Exit::Interrupted => "interrupted",
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// Scored results (`grade`) lowest first, a machine that could not be scored first of all,
/// so the students who need help head the table; the others stay in the order given.
fn worst_first(results: &mut [MachineResult]) {
    if results.iter().any(|r| r.score.is_some()) {
        results.sort_by(|a, b| {
            let (a, b) = (a.score.unwrap_or(-1.0), b.score.unwrap_or(-1.0));
            a.total_cmp(&b)
        });
    }
}

/// Interrupted beats failed beats differs beats success.
fn worst(results: &[MachineResult], cancel: &CancellationToken) -> Exit {
    if cancel.is_cancelled() {
        return Exit::Interrupted;
    }
    let any = |exit: Exit| results.iter().any(|r| r.status == exit);
    if any(Exit::Failure) {
        Exit::Failure
    } else if any(Exit::Drift) {
        Exit::Drift
    } else {
        Exit::Success
    }
}

impl Fleet {
    /// The table; then, for commands whose output is a report (status, verify, plan,
    /// outputs, logs, graph), each machine's report under its name.
    fn table(&self) -> String {
        let results = &self.targets;
        let wn = results
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(0)
            .max(6);
        let we = "interrupted".len();
        let mut table = format!(
            "{:<wn$}  {:<we$}  {:>6}  CHANGES\n",
            "TARGET", "RESULT", "TIME"
        );
        for r in results {
            table.push_str(&format!(
                "{:<wn$}  {:<we$}  {:>6}  {}\n",
                r.name,
                result_word(r.status),
                seconds(Duration::from_millis(r.elapsed_ms)),
                r.detail(),
            ));
        }
        let failed = results.iter().filter(|r| !r.ok).count();
        table.push_str(&format!(
            "{} of {} lab machines ok\n",
            results.len() - failed,
            results.len()
        ));
        if self.sections {
            for r in results {
                // A command asked for JSON of its own (`outputs --format json`) prints no text.
                let shown = match &r.result {
                    Some(json) if r.output.is_empty() => {
                        serde_json::to_string_pretty(json).unwrap_or_default() + "\n"
                    }
                    _ => r.output.clone(),
                };
                if !shown.is_empty() {
                    table.push_str(&format!("\n== {} ({})\n{shown}", r.name, r.endpoint));
                }
            }
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_and_without_names_and_comments() {
        let parsed = parse_targets(
            "# classroom 2\nlab-01 http://10.0.0.1:4566\n\nhttp://10.0.0.2:4566/  # no name\n",
        )
        .unwrap();
        assert_eq!(
            parsed,
            vec![
                (Some("lab-01".into()), "http://10.0.0.1:4566".into()),
                (None, "http://10.0.0.2:4566".into()),
            ]
        );
    }

    #[test]
    fn toml_list() {
        let parsed = parse_targets(
            "[[target]]\nname = \"a\"\nendpoint = \"http://a:4566\"\n[[target]]\nendpoint = \"http://b:4566\"\n",
        )
        .unwrap();
        assert_eq!(
            parsed,
            vec![
                (Some("a".into()), "http://a:4566".into()),
                (None, "http://b:4566".into()),
            ]
        );
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = parse_targets("http://a:4566\nlab-02 10.0.0.2:4566\n").unwrap_err();
        let text = format!("{e:#}");
        assert!(text.contains("line 2"), "{text}");
        assert!(text.contains("http://lab-07:4566"), "{text}");
        let e = parse_targets("a b c\n").unwrap_err();
        assert!(format!("{e:#}").contains("NAME URL"));
    }

    #[test]
    fn aws_targets_name_their_region() {
        assert_eq!(aws_region_of("aws"), Some(None));
        assert_eq!(
            aws_region_of("aws:eu-west-1"),
            Some(Some("eu-west-1".into()))
        );
        assert_eq!(aws_region_of("http://aws:4566"), None);
        let parsed = parse_targets("eu aws:eu-west-1\naws:us-east-1\n").unwrap();
        assert_eq!(parsed[0], (Some("eu".into()), "aws:eu-west-1".into()));
    }

    #[test]
    fn with_aws_each_aws_target_is_a_region_of_real_aws() {
        use clap::Parser;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("regions.txt");
        std::fs::write(&file, "eu aws:eu-west-1\naws\n").unwrap();
        let cli = crate::cli::Cli::parse_from([
            "exstack",
            "--aws",
            "--region",
            "us-west-2",
            "--targets",
            file.to_str().unwrap(),
            "status",
        ]);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let source = std::fs::read_to_string(root.join("stack.toml")).unwrap();
        let kinds = crate::resources::declarations();
        let stack = crate::manifest::parse(&root.join("stack.toml"), &source, &[], &kinds).unwrap();
        let found = machines(&cli.global, &stack).unwrap();
        let got: Vec<(&str, Option<&str>, &str)> = found
            .iter()
            .map(|m| {
                let t = &m.target;
                (m.name.as_str(), t.endpoint.as_deref(), t.region.as_str())
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("eu", None, "eu-west-1"),
                ("aws:us-west-2", None, "us-west-2")
            ]
        );
    }

    #[test]
    fn each_machines_line_comes_from_its_report_or_its_error() {
        let machine = |name: &str| Machine {
            name: name.into(),
            target: Target {
                endpoint: Some(format!("http://{name}:4566")),
                region: "us-east-1".into(),
            },
        };
        let settings = Settings {
            format: crate::output::Format::Text,
            verbosity: crate::output::Verbosity::Normal,
            color: false,
            live: false,
        };
        let second = Duration::from_secs(1);
        let differs = report::Plain {
            text: "queue q  differs\n".into(),
            exit: Exit::Drift,
        };
        let targets = vec![
            MachineResult::new(machine("lab-01"), Ok(Box::new(differs)), second, settings),
            MachineResult::new(
                machine("lab-02"),
                Err(anyhow::anyhow!(
                    "nothing answers at http://lab-02:4566\nmore"
                )),
                second,
                settings,
            ),
        ];
        let fleet = Fleet {
            ok: false,
            exit: Exit::Failure,
            sections: true,
            targets,
        };
        assert_eq!(
            fleet.table(),
            "TARGET  RESULT         TIME  CHANGES
lab-01  differs        1.0s  differs
lab-02  failed         1.0s  nothing answers at http://lab-02:4566
0 of 2 lab machines ok

== lab-01 (http://lab-01:4566 (us-east-1))
queue q  differs
"
        );
        let json = fleet.json().unwrap();
        assert_eq!(json["targets"][0]["output"], "queue q  differs\n");
        assert_eq!(
            json["targets"][1]["error"],
            "nothing answers at http://lab-02:4566\nmore"
        );
        assert_eq!(json["targets"][1]["result"], serde_json::Value::Null);
    }

    #[test]
    fn short_names_drop_the_scheme() {
        assert_eq!(short_name("http://127.0.0.1:4601/"), "127.0.0.1:4601");
    }
}
