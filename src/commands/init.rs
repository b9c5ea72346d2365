//! `exstack init [DIR]`: a new lab directory with the exercise's stack.toml, its two functions
//! and the schema its first line points editors at. It never overwrites: every file is checked
//! before any is written.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use super::report::Plain;
use super::schema;
use crate::cli::InitArgs;
use crate::output::Printer;

/// The repo's own lab, built into the binary so `init` works anywhere.
const STACK_TOML: &str = include_str!("../../stack.toml");
const TASK_PROCESSOR: &str = include_str!("../../functions/task_processor.py");
const API_ENQUEUE: &str = include_str!("../../functions/api_enqueue.py");

pub fn run(args: &InitArgs, printer: &Printer) -> Result<Plain> {
    let dir = &args.dir;
    let files = lab_files();
    let existing: Vec<String> = files
        .iter()
        .map(|(path, _)| dir.join(path))
        .filter(|path| path.exists())
        .map(|path| path.display().to_string())
        .collect();
    if !existing.is_empty() {
        bail!(
            "{} already exists; nothing was written\n  = help: run `exstack init <new directory>`, or move the file(s) away first",
            existing.join(", ")
        );
    }
    for (path, contents) in &files {
        let path = dir.join(path);
        write_new(&path, contents)?;
        printer.status("Created", path.display());
    }
    printer.status("Next", next_command(dir));
    Ok(Plain::new(""))
}

/// Every file of a new lab, relative to its directory.
fn lab_files() -> Vec<(PathBuf, String)> {
    vec![
        (PathBuf::from("stack.toml"), STACK_TOML.to_owned()),
        (PathBuf::from(schema::FILE_NAME), schema::text()),
        (
            Path::new("functions").join("task_processor.py"),
            TASK_PROCESSOR.to_owned(),
        ),
        (
            Path::new("functions").join("api_enqueue.py"),
            API_ENQUEUE.to_owned(),
        ),
    ]
}

/// Writes a file that must not exist yet (`create_new`), in case one appeared since the check.
fn write_new(path: &Path, contents: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create directory {}", parent.display()))?;
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| f.write_all(contents.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))
}

fn next_command(dir: &Path) -> String {
    if dir == Path::new(".") {
        "exstack up".to_owned()
    } else {
        format!("cd {} && exstack up", dir.display())
    }
}
