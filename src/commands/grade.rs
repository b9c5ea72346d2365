//! `exstack grade`: marks a lab a student built by hand. It reads same-named resources
//! whoever owns them, compares each with what the lab asks for (less what `[grade]` leaves
//! out), runs the declared checks, and adds up their points. It creates, updates, tags and
//! deletes nothing of the student's: its only writes are what the checks send, which they
//! clean up.

use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;
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
#[derive(Debug, Serialize)]
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
    if let Some(path) = &args.junit {
        write(path, &junit(&graded))?;
    }
    if let Some(path) = &args.gradescope {
        let document = serde_json::to_string_pretty(&gradescope(&graded))?;
        write(path, &(document + "\n"))?;
    }
    Ok(graded)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
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

/// JUnit XML: a test case per check, a failure for each that lost its points.
fn junit(g: &Graded) -> String {
    let failures = g.checks.iter().filter(|l| !l.ok).count();
    let time: u64 = g.checks.iter().map(|l| l.ms).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n",
        escape(&g.stack),
        g.checks.len(),
        time as f64 / 1000.0
    ));
    for l in &g.checks {
        let part = serde_json::to_value(l.part).unwrap_or_default();
        xml.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            part.as_str().unwrap_or_default(),
            escape(&l.about),
            l.ms as f64 / 1000.0
        ));
        if l.ok {
            xml.push_str("/>\n");
        } else {
            let first = l.problems.first().map_or("failed", String::as_str);
            xml.push_str(&format!(
                ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>\n",
                escape(first),
                escape(&explanation(l))
            ));
        }
    }
    xml.push_str("</testsuite>\n");
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
        let xml = junit(&graded());
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
}
