//! `exstack completions <shell>` and `exstack man`: generated from the clap definitions,
//! so they always list the commands and flags this binary has.

use anyhow::{Context as _, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::Exit;
use crate::cli::Cli;

pub fn completions(shell: Shell) -> Result<Exit> {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    clap_complete::generate(shell, &mut command, name, &mut std::io::stdout());
    Ok(Exit::Success)
}

pub fn man() -> Result<Exit> {
    clap_mangen::Man::new(Cli::command())
        .render(&mut std::io::stdout())
        .context("cannot write the manual page to stdout")?;
    Ok(Exit::Success)
}
