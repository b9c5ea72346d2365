//! `exstack completions <shell>` and `exstack man`: generated from the clap definitions,
//! so they always list the commands and flags this binary has.

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

use super::report::Plain;
use crate::cli::Cli;

// Both render into memory first: clap_complete panics when stdout closes early
// (`exstack completions bash | head`), and the printer does not.

pub fn completions(shell: Shell) -> Plain {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    Plain::new(String::from_utf8_lossy(&script))
}

pub fn man() -> Result<Plain> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    Ok(Plain::new(String::from_utf8_lossy(&page)))
}
