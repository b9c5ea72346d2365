//! `exstack reset`: down, then up, under one lock: a lab machine back to a fresh exercise.

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::down::Down;
use super::report::{Report, json};
use super::up::Up;
use super::{Exit, down, up};
use crate::aws::Ctx;
use crate::cli::{ResetArgs, UpArgs};
use crate::manifest::Stack;
use crate::output::{Printer, Settings};

/// What `down` did, then what `up` did; no `up` when `down` did not finish.
#[derive(Serialize)]
pub struct Reset {
    ok: bool,
    down: Down,
    up: Option<Up>,
}

impl Report for Reset {
    fn json(&self) -> Option<Value> {
        json(self)
    }

    /// What `up` shows, if it ran.
    fn text(&self, settings: Settings) -> String {
        self.up
            .as_ref()
            .map(|up| up.text(settings))
            .unwrap_or_default()
    }

    fn exit(&self) -> Exit {
        self.up.as_ref().map_or(self.down.exit(), Report::exit)
    }

    /// Both parts: "11 deleted, 11 created".
    fn changes(&self) -> Option<String> {
        let parts: Vec<String> = [self.down.changes(), self.up.as_ref().and_then(Up::changes)]
            .into_iter()
            .flatten()
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    fn problem(&self) -> Option<String> {
        self.down
            .problem()
            .or_else(|| self.up.as_ref().and_then(Up::problem))
    }
}

pub async fn run(
    ctx: &Ctx,
    stack: &Stack,
    printer: &Printer,
    args: ResetArgs,
    cancel: &CancellationToken,
) -> Result<Reset> {
    let mut down = down::run(ctx, stack, printer, args.down, cancel).await?;
    // Creating on top of a half-finished teardown would mix old and new: stop here instead.
    let up = if down.exit() == Exit::Success {
        let left = std::mem::take(&mut down.left);
        Some(up::run_from(ctx, stack, printer, UpArgs::default(), cancel, Some(left)).await?)
    } else {
        None
    };
    let exit = up.as_ref().map_or(down.exit(), Report::exit);
    Ok(Reset {
        ok: exit == Exit::Success,
        down,
        up,
    })
}
