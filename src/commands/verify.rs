//! `exstack verify`: proves the lab works end to end.

use anyhow::{Result, bail};

use crate::Exit;
use crate::aws::Ctx;
use crate::cli::{Global, VerifyArgs};
use crate::manifest::Stack;

pub async fn run(_ctx: &Ctx, _stack: &Stack, _g: &Global, _args: VerifyArgs) -> Result<Exit> {
    bail!("exstack verify is not built yet (issue 5)")
}
