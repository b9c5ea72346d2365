//! What people see: progress and results on stderr, data (outputs, JSON) on stdout.
//!
//! One `Printer`, set up in main from the global flags (`-o`, `-q`, `-v`, `--color`,
//! `NO_COLOR`) and passed to each command, like uv's. A line goes to one of three places:
//! plain lines on stderr (pipes, CI logs), above the spinners when stderr is a terminal, or,
//! in a fleet, the row of the lab machine being worked on.

mod live;
mod style;

use std::fmt::Display;
use std::io::{IsTerminal, Write};
#[cfg(test)]
use std::sync::Mutex;
use std::sync::{Arc, OnceLock};

pub use live::{FleetView, Row};
pub use style::Level;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `-q`: errors and data only.
    Quiet,
    Normal,
    /// `-v`: unchanged resources, timings, call counts.
    Verbose,
    /// `-vv`: also the SDK's HTTP-level tracing.
    Trace,
}

/// `--color`: whether status lines are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// `-o`: what a command prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// How everything is printed, decided once from the flags and the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub format: Format,
    pub verbosity: Verbosity,
    /// Colour on stderr.
    pub color: bool,
    /// stderr is a terminal that can redraw lines: spinners instead of a line per event.
    pub live: bool,
}

impl Settings {
    pub fn detect(format: Format, verbosity: Verbosity, color: ColorChoice) -> Settings {
        let stderr_tty = std::io::stderr().is_terminal();
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        // https://no-color.org: any non-empty NO_COLOR turns colour off unless asked for by flag.
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stderr_tty && !dumb && !no_color,
        };
        Settings {
            format,
            verbosity,
            color,
            // `-vv` writes trace lines straight to stderr, which would tear through spinners.
            live: stderr_tty
                && !dumb
                && matches!(verbosity, Verbosity::Normal | Verbosity::Verbose),
        }
    }
}

/// Where a printer's lines go.
#[derive(Clone)]
enum Sink {
    /// This process's stderr and stdout, with the spinners drawn on a terminal.
    Process(Arc<live::Spinners>),
    /// Memory, for tests (cargo's `Shell::from_write`).
    #[cfg(test)]
    Buffer(Arc<Mutex<Printed>>),
}

/// What a buffer printer was given.
#[cfg(test)]
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Printed {
    pub stdout: String,
    pub stderr: String,
}

/// Prints status lines on stderr and results on stdout, as the settings say.
#[derive(Clone)]
pub struct Printer {
    settings: Settings,
    sink: Sink,
}

impl Printer {
    /// The process's printer: stderr and stdout.
    pub fn terminal(settings: Settings) -> Printer {
        Printer {
            settings,
            sink: Sink::Process(Arc::default()),
        }
    }

    /// A printer that keeps what it prints, for tests.
    #[cfg(test)]
    pub fn buffer(settings: Settings) -> Printer {
        Printer {
            settings,
            sink: Sink::Buffer(Arc::default()),
        }
    }

    /// What a buffer printer has printed so far (nothing for any other).
    #[cfg(test)]
    pub fn printed(&self) -> Printed {
        match &self.sink {
            Sink::Buffer(b) => b.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            Sink::Process(_) => Printed::default(),
        }
    }

    pub fn verbosity(&self) -> Verbosity {
        self.settings.verbosity
    }

    pub fn verbose(&self) -> bool {
        self.verbosity() >= Verbosity::Verbose
    }

    pub fn color(&self) -> bool {
        self.settings.color
    }

    /// Whether progress may redraw lines in place (a terminal, not `-q`).
    pub fn is_live(&self) -> bool {
        self.settings.live
    }

    /// A cargo-style green line: a right-aligned verb, then what it applies to.
    pub fn status(&self, verb: &str, message: impl Display) {
        self.status_as(Level::Progress, verb, message);
    }

    /// A yellow status line: something skipped, left alone, missing or waited for.
    pub fn notice(&self, verb: &str, message: impl Display) {
        self.status_as(Level::Warning, verb, message);
    }

    pub fn status_as(&self, level: Level, verb: &str, message: impl Display) {
        if self.verbosity() == Verbosity::Quiet {
            return;
        }
        let message = message.to_string();
        if with_row(|row| row.status(level, verb, &message)) {
            return;
        }
        self.line(&format!(
            "{} {message}",
            style::verb(self.color(), level, verb)
        ));
    }

    /// An error line, shown even with `-q`.
    pub fn error(&self, message: impl Display) {
        let message = message.to_string();
        if with_row(|row| row.error(&message)) {
            return;
        }
        self.line(&format!("{} {message}", style::error_label(self.color())));
    }

    /// Work on `id` began: a spinner on a terminal (the row's message in a fleet).
    pub fn started(&self, id: &str, verb: &str) {
        if !self.is_live() {
            return;
        }
        if !with_row(|row| row.status(Level::Progress, verb, id))
            && let Some(spinners) = self.spinners()
        {
            spinners.start(id, verb);
        }
    }

    /// Work on `id` ended: its spinner goes.
    pub fn stopped(&self, id: &str) {
        if let Some(spinners) = self.spinners() {
            spinners.stop(id);
        }
    }

    /// A finished item: on a terminal a checklist line (`✓ Created    queue x`), elsewhere a
    /// status line. A failed one is why a fleet's machine failed.
    pub fn checked(&self, level: Level, verb: &str, text: impl Display) {
        if level == Level::Failure {
            with_row(|row| row.failed(&text.to_string()));
        }
        if self.is_live() && !in_fleet_row() {
            let mark = style::mark(self.color(), level);
            if self.verbosity() > Verbosity::Quiet {
                self.line(&format!("{mark} {verb:<10} {text}"));
            }
        } else {
            self.status_as(level, verb, text);
        }
    }

    /// Ends the spinners, if any are drawing, leaving only the finished lines.
    pub fn end_live(&self) {
        if let Some(spinners) = self.spinners() {
            spinners.end();
        }
    }

    /// The spinners, when this printer draws on the process's terminal.
    fn spinners(&self) -> Option<&live::Spinners> {
        match &self.sink {
            Sink::Process(spinners) => Some(spinners),
            #[cfg(test)]
            Sink::Buffer(_) => None,
        }
    }

    /// What a command changed, in a few words ("9 created"), for a fleet's summary table.
    pub fn summary(&self, text: impl Display) {
        with_row(|row| row.summary(text.to_string()));
    }

    /// Data for scripts and people alike.
    pub fn data(&self, text: impl Display) {
        let text = text.to_string();
        if with_row(|row| row.data(&text)) {
            return;
        }
        match &self.sink {
            Sink::Process(_) => {
                let _ = write!(std::io::stdout().lock(), "{text}");
            }
            #[cfg(test)]
            Sink::Buffer(b) => b.lock().unwrap_or_else(|e| e.into_inner()).stdout += &text,
        }
    }

    pub fn json(&self, value: &serde_json::Value) {
        if JSON
            .try_with(|kept| *kept.borrow_mut() = Some(value.clone()))
            .is_ok()
            || with_row(|row| row.json(value.clone()))
        {
            return;
        }
        self.data(format_args!(
            "{}\n",
            serde_json::to_string_pretty(value).unwrap_or_default()
        ));
    }

    /// Writes a whole line to stderr, above the spinners if they are drawing.
    fn line(&self, text: &str) {
        match &self.sink {
            Sink::Process(spinners) => {
                if !spinners.println(text) {
                    let _ = writeln!(std::io::stderr().lock(), "{text}");
                }
            }
            #[cfg(test)]
            Sink::Buffer(b) => {
                let mut printed = b.lock().unwrap_or_else(|e| e.into_inner());
                printed.stderr.push_str(text);
                printed.stderr.push('\n');
            }
        }
    }
}

/// The process's printer, for the two lower layers that still print (the pacer, the lock).
static PROCESS: OnceLock<Printer> = OnceLock::new();

/// Makes `printer` the one `status` prints with.
pub fn set_process_printer(printer: &Printer) {
    let _ = PROCESS.set(printer.clone());
}

/// A status line from code that is given no printer.
pub fn status(verb: &str, message: impl Display) {
    if let Some(printer) = PROCESS.get() {
        printer.status(verb, message);
    }
}

/// A yellow status line from code that is given no printer.
pub fn notice(verb: &str, message: impl Display) {
    if let Some(printer) = PROCESS.get() {
        printer.notice(verb, message);
    }
}

tokio::task_local! {
    /// Set while a fleet works on one lab machine: its lines go to that machine's row.
    static ROW: Arc<Row>;
}

/// Runs `work` with its output going to `row`.
pub async fn on_row<F: Future>(row: Arc<Row>, work: F) -> F::Output {
    ROW.scope(row, work).await
}

fn with_row(f: impl FnOnce(&Row)) -> bool {
    ROW.try_with(|row| f(row)).is_ok()
}

/// Whether this is one machine of a fleet (its lines go to its row).
fn in_fleet_row() -> bool {
    with_row(|_| ())
}

tokio::task_local! {
    /// Set while one command runs inside another (reset runs down, then up): its JSON is kept
    /// for the outer command's single document instead of printed.
    static JSON: std::cell::RefCell<Option<serde_json::Value>>;
}

/// Runs `work`, keeping the JSON document it prints.
pub async fn keeping_json<F: Future>(work: F) -> (F::Output, Option<serde_json::Value>) {
    JSON.scope(std::cell::RefCell::new(None), async {
        let out = work.await;
        (out, JSON.with(|kept| kept.borrow_mut().take()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(format: Format, verbosity: Verbosity) -> Settings {
        Settings {
            format,
            verbosity,
            color: false,
            live: false,
        }
    }

    #[test]
    fn data_goes_to_stdout_and_status_lines_to_stderr() {
        let p = Printer::buffer(settings(Format::Text, Verbosity::Normal));
        p.status("Created", "queue q  3 ms");
        p.notice("Skipped", "bucket b");
        p.error("it broke");
        p.data("a  b\n");
        let printed = p.printed();
        assert_eq!(printed.stdout, "a  b\n");
        assert_eq!(
            printed.stderr,
            "     Created queue q  3 ms\n     Skipped bucket b\nerror: it broke\n"
        );
    }

    #[test]
    fn json_is_one_pretty_document() {
        let p = Printer::buffer(settings(Format::Json, Verbosity::Normal));
        p.json(&serde_json::json!({"ok": true, "calls": {"reads": 1}}));
        assert_eq!(
            p.printed().stdout,
            "{\n  \"calls\": {\n    \"reads\": 1\n  },\n  \"ok\": true\n}\n"
        );
    }

    #[test]
    fn quiet_keeps_errors_and_data_only() {
        let p = Printer::buffer(settings(Format::Text, Verbosity::Quiet));
        p.status("Created", "queue q");
        p.checked(Level::Failure, "Failed", "queue q: denied");
        p.error("denied");
        p.data("data\n");
        assert_eq!(
            p.printed(),
            Printed {
                stdout: "data\n".into(),
                stderr: "error: denied\n".into()
            }
        );
    }

    #[test]
    fn without_a_terminal_a_checked_item_is_a_status_line() {
        let p = Printer::buffer(settings(Format::Text, Verbosity::Normal));
        p.started("queue q", "Creating");
        p.checked(Level::Warning, "Left alone", "queue q: not ours");
        assert_eq!(p.printed().stderr, "  Left alone queue q: not ours\n");
    }
}
