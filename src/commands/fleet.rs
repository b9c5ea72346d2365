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

/// A lab machine as the flags or the targets file list it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    name: Option<String>,
    /// A URL, or `aws` / `aws:<region>` for real AWS.
    endpoint: String,
    /// The emulator account to act in, if one is named.
    account: Option<String>,
}

impl Listed {
    fn at(endpoint: String) -> Listed {
        Listed {
            name: None,
            endpoint,
            account: None,
        }
    }
}

/// Every machine the flags name, in the order given; LocalStack's default when none.
/// Real AWS only by name (`--aws`, or `allow_aws` in the stack with no endpoint given).
pub fn machines(g: &Global, stack: &Stack) -> Result<Vec<Machine>> {
    let region = g
        .region
        .clone()
        .or_else(|| stack.region.clone())
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    let mut listed: Vec<Listed> = g
        .endpoint_url
        .iter()
        .map(|e| Ok(Listed::at(checked_url(e)?)))
        .collect::<Result<_>>()?;
    if let Some(file) = &g.targets {
        listed.extend(read_targets(file)?);
    }
    // AWS_ENDPOINT_URL stands in for one --endpoint-url, not for a classroom's list.
    let from_env = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|e| !e.is_empty() && listed.is_empty() && g.targets.is_none());
    let named = !listed.is_empty() || g.targets.is_some() || from_env.is_some();
    let accounts = match &g.accounts_from {
        Some(range) => range.0.clone(),
        None => g.accounts.clone(),
    };
    // Several real-AWS targets (say, one account in several regions) are as explicit as one:
    // `--aws` and every target written `aws` or `aws:<region>`. Never mixed with emulators.
    let aws_listed = listed
        .iter()
        .filter(|l| aws_region_of(&l.endpoint).is_some())
        .count();
    if aws_listed > 0 && (!g.aws || aws_listed < listed.len() || from_env.is_some()) {
        bail!(
            "targets written `aws` act on real AWS: pass --aws, and list no emulator endpoints beside them"
        );
    }
    let on_aws = aws_listed > 0 || g.aws || (stack.allow_aws && !named);
    if on_aws && (!accounts.is_empty() || listed.iter().any(|l| l.account.is_some())) {
        bail!(
            "accounts are an emulator's: on real AWS the credentials decide the account; drop --accounts, --accounts-from and account= for --aws"
        );
    }
    if aws_listed > 0 {
        return distinct(listed.into_iter().map(|l| {
            let region = aws_region_of(&l.endpoint)
                .flatten()
                .unwrap_or_else(|| region.clone());
            Machine {
                name: l.name.unwrap_or_else(|| format!("aws:{region}")),
                target: Target {
                    endpoint: None,
                    region,
                    account: None,
                },
            }
        }));
    }
    if on_aws {
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
                account: None,
            },
        }]);
    }
    if !named {
        listed.push(Listed::at(DEFAULT_ENDPOINT.to_owned()));
    }
    listed.extend(from_env.map(Listed::at));
    if listed.is_empty() {
        bail!("the targets file lists no lab machines; add one `[name] URL` per line");
    }
    let listed = with_accounts(listed, &accounts);
    // An access key id of 12 digits is the emulators' way to name an account (never a real
    // key: those start with letters), so it is honoured as one.
    let from_key = std::env::var("AWS_ACCESS_KEY_ID")
        .ok()
        .filter(|k| crate::aws::is_account_id(k));
    distinct(listed.into_iter().map(|l| Machine {
        name: l.name.unwrap_or_else(|| short_name(&l.endpoint)),
        target: Target {
            endpoint: Some(l.endpoint),
            region: region.clone(),
            account: l.account.or_else(|| from_key.clone()),
        },
    }))
}

/// Each listed emulator without an account of its own becomes one machine per account, named
/// by the account (after the machine's name when there are several emulators).
fn with_accounts(listed: Vec<Listed>, accounts: &[String]) -> Vec<Listed> {
    if accounts.is_empty() {
        return listed;
    }
    let one_place = listed.len() == 1;
    let mut out = Vec::new();
    for l in listed {
        if l.account.is_some() {
            out.push(l);
            continue;
        }
        let place = l.name.clone().unwrap_or_else(|| short_name(&l.endpoint));
        out.extend(accounts.iter().map(|a| Listed {
            name: Some(if one_place {
                a.clone()
            } else {
                format!("{place}/{a}")
            }),
            endpoint: l.endpoint.clone(),
            account: Some(a.clone()),
        }));
    }
    out
}

/// The machines, refusing one listed twice: `localhost` and `127.0.0.1` are one LocalStack,
/// and resetting it twice would be a surprise. One emulator in two accounts is two machines.
fn distinct(machines: impl Iterator<Item = Machine>) -> Result<Vec<Machine>> {
    let key = |m: &Machine| {
        let place = m.target.endpoint.as_deref().map(canonical_endpoint);
        (place, m.target.region.clone(), m.target.account.clone())
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
    account: Option<String>,
}

fn read_targets(file: &Path) -> Result<Vec<Listed>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the targets file {}", file.display()))?;
    parse_targets(&text).with_context(|| format!("in the targets file {}", file.display()))
}

/// Either TOML (`[[target]]` with `endpoint`, an optional `name` and `account`) or one machine
/// per line: `[NAME] URL [account=ID]`, with `#` comments.
fn parse_targets(text: &str) -> Result<Vec<Listed>> {
    if text.contains("[[target]]") {
        let parsed: TargetsToml = toml::from_str(text).context("not a valid [[target]] list")?;
        return parsed
            .target
            .into_iter()
            .enumerate()
            .map(|(n, t)| {
                let account = t.account.map(|a| checked_account(&a)).transpose();
                let entry = Listed {
                    name: t.name,
                    endpoint: checked_url(&t.endpoint)?,
                    account: account.with_context(|| format!("target {}", n + 1))?,
                };
                Ok(entry)
            })
            .collect();
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        out.push(parse_line(line).with_context(|| format!("line {}", n + 1))?);
    }
    Ok(out)
}

/// `URL`, `NAME URL`, either followed by `account=ID`.
fn parse_line(line: &str) -> Result<Listed> {
    let mut fields: Vec<&str> = line.split_whitespace().collect();
    let account = match fields.last().and_then(|f| f.strip_prefix("account=")) {
        Some(id) => {
            let id = checked_account(id)?;
            fields.pop();
            Some(id)
        }
        None => None,
    };
    let (name, url) = match fields.as_slice() {
        [url] => (None, *url),
        [name, url] => (Some((*name).to_owned()), *url),
        _ => {
            bail!("expected `URL` or `NAME URL`, optionally followed by `account=ID`; got `{line}`")
        }
    };
    Ok(Listed {
        name,
        endpoint: checked_url(url)?,
        account,
    })
}

fn checked_account(id: &str) -> Result<String> {
    if crate::aws::is_account_id(id) {
        Ok(id.to_owned())
    } else {
        bail!("`{id}` is not an account id; write 12 digits, like account=111111111111")
    }
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
                listed(Some("lab-01"), "http://10.0.0.1:4566", None),
                listed(None, "http://10.0.0.2:4566", None),
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
                listed(Some("a"), "http://a:4566", None),
                listed(None, "http://b:4566", None),
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

    fn listed(name: Option<&str>, endpoint: &str, account: Option<&str>) -> Listed {
        Listed {
            name: name.map(str::to_owned),
            endpoint: endpoint.into(),
            account: account.map(str::to_owned),
        }
    }

    #[test]
    fn a_target_can_name_its_account() {
        let parsed = parse_targets(
            "alice http://host:4566 account=111111111111\nhttp://host:4566 account=222222222222\n",
        )
        .unwrap();
        assert_eq!(
            parsed,
            vec![
                listed(Some("alice"), "http://host:4566", Some("111111111111")),
                listed(None, "http://host:4566", Some("222222222222")),
            ]
        );
        let toml = "[[target]]\nname = \"bob\"\nendpoint = \"http://host:4566\"\naccount = \"333333333333\"\n";
        assert_eq!(
            parse_targets(toml).unwrap(),
            vec![listed(
                Some("bob"),
                "http://host:4566",
                Some("333333333333")
            )]
        );
        let e = parse_targets("alice http://host:4566 account=1111\n").unwrap_err();
        let text = format!("{e:#}");
        assert!(
            text.contains("line 1") && text.contains("12 digits"),
            "{text}"
        );
    }

    /// A machine as (name, endpoint, account).
    type Seen = (String, Option<String>, Option<String>);

    /// The machines `exstack <args> status` would act on.
    fn machines_of(args: &[&str]) -> Result<Vec<Seen>> {
        use clap::Parser;
        let mut all = vec!["exstack"];
        all.extend(args);
        all.push("status");
        let cli = crate::cli::Cli::try_parse_from(all).map_err(|e| anyhow::anyhow!("{e}"))?;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let source = std::fs::read_to_string(root.join("stack.toml")).unwrap();
        let kinds = crate::resources::declarations();
        let stack = crate::manifest::parse(&root.join("stack.toml"), &source, &[], &kinds).unwrap();
        Ok(machines(&cli.global, &stack)?
            .into_iter()
            .map(|m| (m.name, m.target.endpoint, m.target.account))
            .collect())
    }

    #[test]
    fn accounts_expand_each_emulator_into_a_lab_per_account() {
        let one = "http://host:4566";
        let got = machines_of(&[
            "--endpoint-url",
            one,
            "--accounts",
            "111111111111,222222222222",
        ])
        .unwrap();
        let want =
            |name: &str, a: &str| (name.to_owned(), Some(one.to_owned()), Some(a.to_owned()));
        assert_eq!(
            got,
            vec![
                want("111111111111", "111111111111"),
                want("222222222222", "222222222222")
            ]
        );

        let got = machines_of(&["--accounts-from", "100000000001..100000000003"]).unwrap();
        let names: Vec<&str> = got.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(names, ["100000000001", "100000000002", "100000000003"]);
        assert!(got.iter().all(|m| m.1.as_deref() == Some(DEFAULT_ENDPOINT)));

        let two = machines_of(&[
            "--endpoint-url",
            "http://a:4566",
            "--endpoint-url",
            "http://b:4566",
            "--accounts",
            "111111111111",
        ])
        .unwrap();
        let names: Vec<&str> = two.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(names, ["a:4566/111111111111", "b:4566/111111111111"]);
    }

    #[test]
    fn bad_accounts_are_refused_with_what_to_write() {
        let e = machines_of(&["--accounts", "12345"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("12 digits"), "{e}");
        let e = machines_of(&["--accounts-from", "100000000009..100000000001"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("FIRST..LAST"), "{e}");
        let e = machines_of(&["--accounts-from", "100000000001..100000009999"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most 1000"), "{e}");
        let e = machines_of(&["--aws", "--accounts", "111111111111"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("credentials decide"), "{e}");
        let e = machines_of(&["--accounts", "111111111111,111111111111"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("listed twice"), "{e}");
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
        assert_eq!(parsed[0], listed(Some("eu"), "aws:eu-west-1", None));
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
                account: None,
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
