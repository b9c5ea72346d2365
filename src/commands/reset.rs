//! `exstack reset`: down, then up, under one lock: a lab machine back to a fresh exercise.

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use super::Exit;
use super::{down, up};
use crate::aws::Ctx;
use crate::cli::{Global, ResetArgs, UpArgs};
use crate::manifest::Stack;
use crate::output::{self, Format, Printer};

pub async fn run(
    ctx: &Ctx,
    stack: &Stack,
    g: &Global,
    printer: &Printer,
    args: ResetArgs,
    cancel: &CancellationToken,
) -> Result<Exit> {
    let (down, down_json) =
        output::keeping_json(down::teardown(ctx, stack, g, printer, args.down, cancel)).await;
    let (down_exit, left) = down?;
    // Creating on top of a half-finished teardown would mix old and new: stop here instead.
    let (exit, up_json) = if down_exit == Exit::Success {
        let up = up::run_from(
            ctx,
            stack,
            g,
            printer,
            UpArgs::default(),
            cancel,
            Some(left),
        );
        let (exit, json) = output::keeping_json(up).await;
        (exit?, json)
    } else {
        (down_exit, None)
    };
    if g.output == Format::Json {
        printer.json(&serde_json::json!({
            "ok": exit == Exit::Success,
            "down": down_json,
            "up": up_json,
        }));
    }
    Ok(exit)
}
