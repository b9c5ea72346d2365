//! `exstack completions <shell>` and `exstack man`: generated from the clap definitions,
//! so they always list the commands and flags this binary has.

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

use super::Exit;
use crate::cli::Cli;
use crate::output::Printer;

// Both render into memory first: clap_complete panics when stdout closes early
// (`exstack completions bash | head`), and the printer does not.

pub fn completions(shell: Shell, printer: &Printer) -> Result<Exit> {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    printer.data(String::from_utf8_lossy(&script));
    Ok(Exit::Success)
}

pub fn man(printer: &Printer) -> Result<Exit> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    printer.data(String::from_utf8_lossy(&page));
    Ok(Exit::Success)
}
