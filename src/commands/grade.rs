//! `exstack grade`: marks a lab a student built by hand. It reads same-named resources
//! whoever owns them, compares each with what the lab asks for (less what `[grade]` leaves
//! out), runs the declared checks, and adds up their points. It creates, updates, tags and
//! deletes nothing of the student's: its only writes are what the checks send, which they
//! clean up.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Exit;
use super::checklist::{self, Line};
use super::report::{self, Report};
use crate::aws::Ctx;
use crate::checks::Comparison;
use crate::cli::GradeArgs;
use crate::manifest::Stack;
use crate::output::{Level, Printer, Settings};

/// The score, and every check that made it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Graded {
    ok: bool,
    stack: String,
    score: u32,
    total: u32,
    percent: f64,
    checks: Vec<Line>,
    skipped: Vec<String>,
}

impl Graded {
    fn new(stack: &Stack, lines: Vec<Line>, skipped: Vec<String>) -> Graded {
        let score = lines.iter().map(Line::earned).sum();
        let total = lines.iter().map(|l| l.points).sum();
        Graded {
            ok: lines.iter().all(|l| l.ok),
            stack: stack.name.clone(),
            score,
            total,
            percent: percent(score, total),
            checks: lines,
            skipped,
        }
    }

    fn headline(&self) -> String {
        format!(
            "{} of {} points ({}%)",
            self.score, self.total, self.percent
        )
    }

    fn failed(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|l| !l.ok)
            .map(|l| l.name.as_str())
            .collect()
    }
}

/// One decimal, and 100 for a lab with nothing to score.
fn percent(score: u32, total: u32) -> f64 {
    if total == 0 {
        return 100.0;
    }
    (f64::from(score) * 1000.0 / f64::from(total)).round() / 10.0
}

impl Report for Graded {
    fn json(&self) -> Option<Value> {
        report::json(self)
    }

    fn text(&self, _: Settings) -> String {
        let mut text: String = self.checks.iter().map(|l| l.text(true)).collect();
        text.push_str(&format!("Score: {}\n", self.headline()));
        text
    }

    /// A lab that lost points "differs" from the lab asked for, as `status` says of drift.
    fn exit(&self) -> Exit {
        if self.ok { Exit::Success } else { Exit::Drift }
    }

    fn changes(&self) -> Option<String> {
        Some(self.headline())
    }

    fn problem(&self) -> Option<String> {
        let failed = self.failed();
        (!failed.is_empty()).then(|| format!("{}; failed: {}", self.headline(), failed.join(", ")))
    }

    fn score(&self) -> Option<f64> {
        Some(self.percent)
    }

    fn streamed(&self) -> bool {
        true
    }
}

pub async fn run(ctx: &Ctx, stack: &Stack, printer: &Printer, args: &GradeArgs) -> Result<Graded> {
    let how = Comparison::Graded(&stack.grading);
    let checked = checklist::run(ctx, stack, printer, &args.checks, how).await?;
    let graded = Graded::new(stack, checked.lines, checked.skipped);
    let people = printer.text_only();
    let level = if graded.ok {
        Level::Progress
    } else {
        Level::Warning
    };
    people.status_as(level, "Graded", graded.headline());
    Ok(graded)
}

/// Writes the files `--junit`, `--gradescope` and `--csv` ask for, from the document printed:
/// one machine's grade, or a fleet's (`targets`, each with its grade as `result`).
pub fn write_files(args: &GradeArgs, document: &Value) -> Result<()> {
    let marked = marked(document)?;
    if let Some(path) = &args.junit {
        write(path, &junit(&marked))?;
    }
    if let Some(path) = &args.gradescope {
        for (name, graded) in &marked {
            let Some(graded) = graded.as_ref().ok() else {
                continue;
            };
            let path = match (name, marked.len()) {
                (Some(name), 2..) => per_machine(path, name),
                _ => path.clone(),
            };
            let document = serde_json::to_string_pretty(&gradescope(graded))?;
            write(&path, &(document + "\n"))?;
        }
    }
    if let Some(path) = &args.csv {
        write(path, &csv(&marked))?;
    }
    Ok(())
}

/// Each machine's name (none for one machine alone) and its grade, or why it has none.
type Marked = Vec<(Option<String>, Result<Graded, String>)>;

fn marked(document: &Value) -> Result<Marked> {
    let Some(targets) = document.get("targets").and_then(Value::as_array) else {
        let graded = Graded::deserialize(document).context("reading the grade")?;
        return Ok(vec![(None, Ok(graded))]);
    };
    targets
        .iter()
        .map(|t| {
            let name = t["name"].as_str().unwrap_or_default().to_owned();
            let graded = match t.get("result").filter(|r| !r.is_null()) {
                Some(r) => Ok(Graded::deserialize(r).context("reading a machine's grade")?),
                None => Err(t["error"].as_str().unwrap_or("no grade").to_owned()),
            };
            Ok((Some(name), graded))
        })
        .collect()
}

/// `results.json` → `results-lab-01.json`: Gradescope reads one student's file at a time.
fn per_machine(path: &Path, name: &str) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let file = match path.extension() {
        Some(ext) => format!("{stem}-{name}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{name}"),
    };
    path.with_file_name(file)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// A row per machine: `target,score,total,percent,failed` (failed checks `;`-separated, or
/// why the machine could not be graded).
fn csv(marked: &Marked) -> String {
    let mut text = String::from("target,score,total,percent,failed\n");
    for (name, graded) in marked {
        let name = name.as_deref().unwrap_or_default();
        let row = match graded {
            Ok(g) => vec![
                name.to_owned(),
                g.score.to_string(),
                g.total.to_string(),
                g.percent.to_string(),
                g.failed().join(";"),
            ],
            Err(why) => vec![
                name.to_owned(),
                String::new(),
                String::new(),
                String::new(),
                format!("not graded: {why}"),
            ],
        };
        let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    text
}

/// Quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

/// Gradescope's autograder `results.json`: a test per check, with its points.
fn gradescope(g: &Graded) -> Value {
    let tests: Vec<Value> = g
        .checks
        .iter()
        .map(|l| {
            json!({
                "name": l.about,
                "score": l.earned(),
                "max_score": l.points,
                "status": if l.ok { "passed" } else { "failed" },
                "output": explanation(l),
            })
        })
        .collect();
    json!({
        "score": g.score,
        "max_score": g.total,
        "output": format!("{}: {}", g.stack, g.headline()),
        "tests": tests,
    })
}

/// What was wrong, then the hint.
fn explanation(l: &Line) -> String {
    let mut lines = l.problems.clone();
    if let (false, Some(hint)) = (l.ok, &l.hint) {
        lines.push(format!("hint: {hint}"));
    }
    lines.join("\n")
}

/// JUnit XML: a test suite per machine, a test case per check, a failure for each that lost
/// its points (and one for a machine that could not be graded).
fn junit(marked: &Marked) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (name, graded) in marked {
        match graded {
            Ok(g) => xml.push_str(&suite(name.as_deref().unwrap_or(&g.stack), g)),
            Err(why) => xml.push_str(&format!(
                "  <testsuite name=\"{}\" tests=\"1\" failures=\"1\">\n    <testcase name=\"graded\">\n      <failure message=\"{}\"/>\n    </testcase>\n  </testsuite>\n",
                escape(name.as_deref().unwrap_or_default()),
                escape(why)
            )),
        }
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn suite(name: &str, g: &Graded) -> String {
    let failures = g.checks.iter().filter(|l| !l.ok).count();
    let time: u64 = g.checks.iter().map(|l| l.ms).sum();
    let mut xml = format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n",
        escape(name),
        g.checks.len(),
        time as f64 / 1000.0
    );
    for l in &g.checks {
        let part = serde_json::to_value(l.part).unwrap_or_default();
        xml.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            part.as_str().unwrap_or_default(),
            escape(&l.about),
            l.ms as f64 / 1000.0
        ));
        if l.ok {
            xml.push_str("/>\n");
        } else {
            let first = l.problems.first().map_or("failed", String::as_str);
            xml.push_str(&format!(
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                escape(first),
                escape(&explanation(l))
            ));
        }
    }
    xml.push_str("  </testsuite>\n");
    xml
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::checklist::Part;

    fn line(name: &str, ok: bool, points: u32) -> Line {
        Line {
            name: name.into(),
            about: format!("{name} <works>"),
            part: Part::Behaviour,
            ok,
            ms: 1500,
            points,
            problems: if ok {
                vec![]
            } else {
                vec!["saw \"30\"".into()]
            },
            hint: Some("look at the queue".into()),
        }
    }

    fn graded() -> Graded {
        Graded {
            ok: false,
            stack: "lab".into(),
            score: 2,
            total: 3,
            percent: percent(2, 3),
            checks: vec![line("a", true, 2), line("b", false, 1)],
            skipped: vec![],
        }
    }

    #[test]
    fn percent_has_one_decimal() {
        assert_eq!(percent(2, 3), 66.7);
        assert_eq!(percent(0, 0), 100.0);
    }

    #[test]
    fn junit_has_a_case_per_check_and_escapes() {
        let xml = junit(&vec![(None, Ok(graded()))]);
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(
            xml.contains("name=\"a &lt;works&gt;\" time=\"1.500\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<failure message=\"saw &quot;30&quot;\">"),
            "{xml}"
        );
        assert!(xml.contains("hint: look at the queue</failure>"), "{xml}");
    }

    #[test]
    fn gradescope_has_points_per_test() {
        let doc = gradescope(&graded());
        assert_eq!(doc["score"], 2);
        assert_eq!(doc["max_score"], 3);
        assert_eq!(doc["tests"][1]["status"], "failed");
        assert_eq!(doc["tests"][1]["score"], 0);
        assert_eq!(doc["tests"][0]["max_score"], 2);
    }

    #[test]
    fn csv_has_a_row_per_machine_and_quotes() {
        let marked = vec![
            (Some("lab-01".into()), Ok(graded())),
            (Some("lab-02".into()), Err("nothing answers, at all".into())),
        ];
        assert_eq!(
            csv(&marked),
            "target,score,total,percent,failed\nlab-01,2,3,66.7,b\nlab-02,,,,\"not graded: nothing answers, at all\"\n"
        );
    }

    #[test]
    fn gradescope_files_are_per_machine() {
        let path = per_machine(Path::new("out/results.json"), "lab-01");
        assert_eq!(path, Path::new("out/results-lab-01.json"));
    }
}
