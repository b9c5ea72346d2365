//! Lines redrawn in place on a terminal: a spinner per resource in flight, or a row per lab
//! machine in a fleet. Nothing here is drawn when stderr is a pipe.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::style::{self, Level};
use super::{Printer, Verbosity};

const TICK: Duration = Duration::from_millis(100);

fn spinner(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
}

/// The resources in flight during one `up` or `down`, each by its id.
struct ResourceView {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
}

/// The spinners a terminal printer draws under its lines; none until the first starts.
#[derive(Default)]
pub(super) struct Spinners(Mutex<Option<ResourceView>>);

impl Spinners {
    fn view(&self) -> std::sync::MutexGuard<'_, Option<ResourceView>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn start(&self, id: &str, verb: &str) {
        let mut view = self.view();
        let view = view.get_or_insert_with(|| ResourceView {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: HashMap::new(),
        });
        let bar = view.multi.add(
            ProgressBar::new_spinner()
                .with_style(spinner("{spinner} {msg} {elapsed}"))
                .with_message(format!("{verb:<10} {id}")),
        );
        bar.enable_steady_tick(TICK);
        view.bars.insert(id.to_owned(), bar);
    }

    pub(super) fn stop(&self, id: &str) {
        if let Some(view) = self.view().as_mut()
            && let Some(bar) = view.bars.remove(id)
        {
            bar.finish_and_clear();
            view.multi.remove(&bar);
        }
    }

    /// Prints above the spinners; false when none are drawing.
    pub(super) fn println(&self, text: &str) -> bool {
        match self.view().as_ref() {
            Some(v) => v.multi.println(text).is_ok(),
            None => false,
        }
    }

    pub(super) fn end(&self) {
        if let Some(view) = self.view().take() {
            for bar in view.bars.values() {
                bar.finish_and_clear();
            }
            let _ = view.multi.clear();
        }
    }
}

/// One row per lab machine: a spinner with its latest step while it runs, then ✓ or ✗.
pub struct FleetView {
    multi: Option<MultiProgress>,
    width: usize,
    /// Where rows print their lines when nothing is redrawn (a pipe, a CI log).
    printer: Printer,
}

impl FleetView {
    /// `names` sets the column width, so rows line up.
    pub fn new<'n>(printer: &Printer, names: impl IntoIterator<Item = &'n str>) -> FleetView {
        FleetView {
            multi: printer
                .is_live()
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            width: names.into_iter().map(str::len).max().unwrap_or(0),
            printer: printer.clone(),
        }
    }

    pub fn row(&self, name: &str) -> Row {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(
                ProgressBar::new_spinner()
                    .with_style(spinner("{prefix} {spinner} {wide_msg}"))
                    .with_prefix(format!("{name:<width$}", width = self.width))
                    .with_message("waiting"),
            );
            bar.enable_steady_tick(TICK);
            bar
        });
        Row {
            name: name.to_owned(),
            width: self.width,
            bar,
            fleet: self.printer.clone(),
        }
    }
}

/// A lab machine's line in a fleet: its latest status line while it runs, then its mark.
pub struct Row {
    name: String,
    width: usize,
    bar: Option<ProgressBar>,
    fleet: Printer,
}

impl Row {
    /// Called when work on this machine begins (it may have waited for a free slot).
    pub fn start(&self) -> Instant {
        if let Some(bar) = &self.bar {
            bar.reset_elapsed();
            bar.set_message("connecting");
        }
        Instant::now()
    }

    /// The machine's latest line: the row's message, or a line naming the machine.
    pub(super) fn status(&self, level: Level, verb: &str, message: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(format!("{} {message}", verb.trim())),
            None => {
                let verb = style::verb(self.fleet.color(), level, verb);
                self.fleet
                    .line(&self.prefixed(&format!("{verb} {message}")));
            }
        }
    }

    /// The row's last word: ✓ or ✗, then `text`.
    pub fn finish(&self, level: Level, text: &str) {
        let line = format!("{} {text}", style::mark(self.fleet.color(), level));
        match &self.bar {
            Some(bar) => {
                bar.set_style(spinner("{prefix} {wide_msg}"));
                bar.finish_with_message(line);
            }
            None if self.fleet.verbosity() > Verbosity::Quiet => {
                self.fleet.line(&self.prefixed(&line));
            }
            None => {}
        }
    }

    fn prefixed(&self, text: &str) -> String {
        format!("{:<width$} | {text}", self.name, width = self.width)
    }
}
