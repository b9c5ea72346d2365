//! What people see: progress and results on stderr, data (outputs, JSON) on stdout.
//!
//! One `Printer`, set up in main from the global flags (`-o`, `-q`, `-v`, `--color`,
//! `NO_COLOR`) and passed to each command, like uv's. Its lines go to one of three places:
//! the process's stderr (plain lines for pipes and CI logs, or above the spinners on a
//! terminal), a fleet's row for one lab machine (`Printer::for_row`), or, in tests, a buffer.

mod live;
mod style;

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
#[cfg(test)]
use std::sync::Mutex;

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
    pub fn verbose(&self) -> bool {
        self.verbosity >= Verbosity::Verbose
    }

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

/// A command's result as it goes to stdout: one JSON document for scripts, or text.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    Json(serde_json::Value),
    Text(String),
}

impl Rendered {
    /// The exact text stdout gets: JSON pretty-printed with a final newline.
    pub fn into_text(self) -> String {
        match self {
            Rendered::Json(value) => {
                serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
            }
            Rendered::Text(text) => text,
        }
    }
}

/// Where a printer's lines go.
#[derive(Clone)]
enum Sink {
    /// This process's stderr and stdout, with the spinners drawn on a terminal.
    Process(Arc<live::Spinners>),
    /// One lab machine of a fleet: its status lines are its row's; its results come back to
    /// the fleet as values, so nothing goes to stdout from here.
    Row(Arc<Row>),
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
    /// With `-o json`, print nothing but errors (see `text_only`).
    text_only: bool,
}

impl Printer {
    /// The process's printer: stderr and stdout.
    pub fn terminal(settings: Settings) -> Printer {
        Printer {
            settings,
            sink: Sink::Process(Arc::default()),
            text_only: false,
        }
    }

    /// A printer that keeps what it prints, for tests.
    #[cfg(test)]
    pub fn buffer(settings: Settings) -> Printer {
        Printer {
            settings,
            sink: Sink::Buffer(Arc::default()),
            text_only: false,
        }
    }

    /// What a buffer printer has printed so far (nothing for any other).
    #[cfg(test)]
    pub fn printed(&self) -> Printed {
        match &self.sink {
            Sink::Buffer(b) => b.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            Sink::Process(_) | Sink::Row(_) => Printed::default(),
        }
    }

    /// The same settings, its lines going to one lab machine's row of a fleet.
    pub fn for_row(&self, row: Arc<Row>) -> Printer {
        Printer {
            sink: Sink::Row(row),
            ..self.clone()
        }
    }

    /// This printer for what narrates a command's work for people reading text (progress,
    /// closing lines, call counts): with `-o json` the document says it all, so it prints
    /// nothing but errors.
    pub fn text_only(&self) -> Printer {
        Printer {
            text_only: true,
            ..self.clone()
        }
    }

    pub fn settings(&self) -> Settings {
        self.settings
    }

    pub fn verbosity(&self) -> Verbosity {
        self.settings.verbosity
    }

    pub fn verbose(&self) -> bool {
        self.settings.verbose()
    }

    pub fn color(&self) -> bool {
        self.settings.color
    }

    /// Whether progress may redraw lines in place (a terminal, not `-q`).
    pub fn is_live(&self) -> bool {
        self.settings.live
    }

    /// Whether this printer is to stay silent: `-o json` for a text-only one.
    fn muted(&self) -> bool {
        self.text_only && self.settings.format == Format::Json
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
        if self.verbosity() == Verbosity::Quiet || self.muted() {
            return;
        }
        let message = message.to_string();
        match &self.sink {
            Sink::Row(row) => row.status(level, verb, &message),
            _ => self.line(&format!(
                "{} {message}",
                style::verb(self.color(), level, verb)
            )),
        }
    }

    /// An error line, shown even with `-q` and `-o json`.
    pub fn error(&self, message: impl Display) {
        let message = message.to_string();
        match &self.sink {
            Sink::Row(row) => row.status(Level::Failure, "error", &message),
            _ => self.line(&format!("{} {message}", style::error_label(self.color()))),
        }
    }

    /// Work on `id` began: a spinner on a terminal (the row's message in a fleet).
    pub fn started(&self, id: &str, verb: &str) {
        if !self.is_live() || self.muted() {
            return;
        }
        match &self.sink {
            Sink::Process(spinners) => spinners.start(id, verb),
            Sink::Row(row) => row.status(Level::Progress, verb, id),
            #[cfg(test)]
            Sink::Buffer(_) => {}
        }
    }

    /// Work on `id` ended: its spinner goes.
    pub fn stopped(&self, id: &str) {
        if let Some(spinners) = self.spinners() {
            spinners.stop(id);
        }
    }

    /// A finished item: on a terminal a checklist line (`✓ Created    queue x`), elsewhere a
    /// status line.
    pub fn checked(&self, level: Level, verb: &str, text: impl Display) {
        if self.verbosity() == Verbosity::Quiet || self.muted() {
            return;
        }
        match &self.sink {
            Sink::Process(_) if self.is_live() => {
                let mark = style::mark(self.color(), level);
                self.line(&format!("{mark} {verb:<10} {text}"));
            }
            _ => self.status_as(level, verb, text),
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
            Sink::Row(_) => None,
            #[cfg(test)]
            Sink::Buffer(_) => None,
        }
    }

    /// A result on stdout; from a fleet's row nothing (the fleet shows each machine's report).
    pub fn show(&self, rendered: Rendered) {
        if self.muted() {
            return;
        }
        let text = rendered.into_text();
        match &self.sink {
            Sink::Process(_) => {
                let _ = write!(std::io::stdout().lock(), "{text}");
            }
            Sink::Row(_) => {}
            #[cfg(test)]
            Sink::Buffer(b) => b.lock().unwrap_or_else(|e| e.into_inner()).stdout += &text,
        }
    }

    /// Writes a whole line to stderr, above the spinners if they are drawing.
    fn line(&self, text: &str) {
        match &self.sink {
            Sink::Process(spinners) => {
                if !spinners.println(text) {
                    let _ = writeln!(std::io::stderr().lock(), "{text}");
                }
            }
            // A row's lines all go to the row (see `status_as`), which prints them itself.
            Sink::Row(_) => {}
            #[cfg(test)]
            Sink::Buffer(b) => {
                let mut printed = b.lock().unwrap_or_else(|e| e.into_inner());
                printed.stderr.push_str(text);
                printed.stderr.push('\n');
            }
        }
    }
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
    fn text_goes_to_stdout_and_status_lines_to_stderr() {
        let p = Printer::buffer(settings(Format::Text, Verbosity::Normal));
        p.status("Created", "queue q  3 ms");
        p.notice("Skipped", "bucket b");
        p.error("it broke");
        p.show(Rendered::Text("a  b\n".into()));
        let printed = p.printed();
        assert_eq!(printed.stdout, "a  b\n");
        assert_eq!(
            printed.stderr,
            "     Created queue q  3 ms\n     Skipped bucket b\nerror: it broke\n"
        );
    }

    #[test]
    fn json_is_one_pretty_document_and_text_only_lines_are_left_out() {
        let p = Printer::buffer(settings(Format::Json, Verbosity::Normal));
        p.text_only().status("Finished", "1 created in 0.01s");
        p.text_only().checked(Level::Progress, "Created", "queue q");
        p.text_only().show(Rendered::Text("left out\n".into()));
        p.notice("Waiting", "for the lock");
        p.text_only().error("shown anyway");
        p.show(Rendered::Json(
            serde_json::json!({"ok": true, "calls": {"reads": 1}}),
        ));
        let printed = p.printed();
        assert_eq!(
            printed.stdout,
            "{\n  \"calls\": {\n    \"reads\": 1\n  },\n  \"ok\": true\n}\n"
        );
        assert_eq!(
            printed.stderr,
            "     Waiting for the lock\nerror: shown anyway\n"
        );
    }

    #[test]
    fn quiet_keeps_errors_and_data_only() {
        let p = Printer::buffer(settings(Format::Text, Verbosity::Quiet));
        p.status("Created", "queue q");
        p.checked(Level::Failure, "Failed", "queue q: denied");
        p.error("denied");
        p.show(Rendered::Text("data\n".into()));
        assert_eq!(
            p.printed(),
            Printed {
                stdout: "data\n".into(),
                stderr: "error: denied\n".into()
            }
        );
    }

    #[test]
    fn a_fleet_row_collects_its_machines_lines_under_its_name() {
        let fleet = Printer::buffer(settings(Format::Text, Verbosity::Normal));
        let view = FleetView::new(&fleet, ["lab-01", "lab-1000"]);
        let machine = fleet.for_row(Arc::new(view.row("lab-01")));
        machine.status("Deleted", "queue q  5 ms");
        machine.checked(Level::Failure, "Failed", "queue r: denied");
        machine.error("nothing answers");
        // A machine's results come back to the fleet as values, never through its row.
        machine.show(Rendered::Text("outputs\n".into()));
        assert_eq!(
            fleet.printed(),
            Printed {
                stdout: String::new(),
                stderr: "lab-01   |      Deleted queue q  5 ms\n\
                         lab-01   |       Failed queue r: denied\n\
                         lab-01   |        error nothing answers\n"
                    .into()
            }
        );
    }

    #[test]
    fn a_row_ends_with_its_mark() {
        let fleet = Printer::buffer(settings(Format::Json, Verbosity::Normal));
        let view = FleetView::new(&fleet, ["lab-01"]);
        let row = view.row("lab-01");
        row.finish(Level::Failure, "0.1s nothing answers");
        row.finish(Level::Progress, "0.2s 9 created");
        assert_eq!(
            fleet.printed().stderr,
            "lab-01 | ✗ 0.1s nothing answers\nlab-01 | ✓ 0.2s 9 created\n"
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
