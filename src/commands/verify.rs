//! `exstack verify`: proves the lab works, from what its stack.toml declares: every resource
//! exists with its settings, then each `[checks.<name>]` passes. It cleans up only what its
//! checks made.

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use super::Exit;
use super::checklist::{self, Line};
use super::report::{Report, json};
use crate::aws::Ctx;
use crate::checks::Comparison;
use crate::cli::VerifyArgs;
use crate::manifest::Stack;
use crate::output::{Level, Printer, Settings};

/// Every check and how it went.
#[derive(Debug, Serialize)]
pub struct Verified {
    ok: bool,
    checks: Vec<Line>,
    /// Declared checks the command line left out.
    skipped: Vec<String>,
}

impl Verified {
    fn tally(&self) -> String {
        let passed = self.checks.iter().filter(|s| s.ok).count();
        format!("{passed} of {} checks passed", self.checks.len())
    }
}

impl Report for Verified {
    fn json(&self) -> Option<Value> {
        json(self)
    }

    fn text(&self, _: Settings) -> String {
        let mut text: String = self.checks.iter().map(|l| l.text(false)).collect();
        for name in &self.skipped {
            text.push_str(&format!("- {name}: skipped\n"));
        }
        text
    }

    fn exit(&self) -> Exit {
        if self.ok { Exit::Success } else { Exit::Drift }
    }

    fn changes(&self) -> Option<String> {
        Some(self.tally())
    }

    /// People see each check as soon as it is done.
    fn streamed(&self) -> bool {
        true
    }
}

pub async fn run(
    ctx: &Ctx,
    stack: &Stack,
    printer: &Printer,
    args: &VerifyArgs,
) -> Result<Verified> {
    let checked = checklist::run(ctx, stack, printer, &args.checks, Comparison::Everything).await?;
    let people = printer.text_only();
    for name in &checked.skipped {
        people.show(crate::output::Rendered::Text(format!(
            "- {name}: skipped\n"
        )));
    }
    let verified = Verified {
        ok: checked.ok(),
        checks: checked.lines,
        skipped: checked.skipped,
    };
    if verified.ok {
        people.status("Verified", verified.tally());
    } else {
        people.status_as(Level::Failure, "Failed", verified.tally());
    }
    Ok(verified)
}
