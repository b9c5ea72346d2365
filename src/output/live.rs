//! Lines redrawn in place on a terminal: a spinner per resource in flight, or a row per lab
//! machine in a fleet. Nothing here is used when stderr is a pipe.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::style::{self, Mark, paint_mark};
use super::{Verbosity, is_live, verbosity};
use crate::model::ResourceId;

const TICK: Duration = Duration::from_millis(100);

fn spinner(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
}

/// The resources in flight during one `up` or `down`.
struct ResourceView {
    multi: MultiProgress,
    bars: HashMap<ResourceId, ProgressBar>,
}

static VIEW: Mutex<Option<ResourceView>> = Mutex::new(None);

fn view() -> std::sync::MutexGuard<'static, Option<ResourceView>> {
    VIEW.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn started(id: &ResourceId, verb: &str) {
    let mut view = view();
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
    view.bars.insert(id.clone(), bar);
}

pub fn finished(id: &ResourceId) {
    if let Some(view) = view().as_mut()
        && let Some(bar) = view.bars.remove(id)
    {
        bar.finish_and_clear();
        view.multi.remove(&bar);
    }
}

/// Prints above the spinners; false when no view is drawing.
pub fn println(text: &str) -> bool {
    match view().as_ref() {
        Some(v) => v.multi.println(text).is_ok(),
        None => false,
    }
}

pub fn end() {
    if let Some(view) = view().take() {
        for bar in view.bars.values() {
            bar.finish_and_clear();
        }
        let _ = view.multi.clear();
    }
}

/// One row per lab machine: a spinner with its latest step while it runs, then ✓ or ✗.
pub struct FleetView {
    multi: Option<MultiProgress>,
    width: usize,
}

impl FleetView {
    /// `names` sets the column width, so rows line up.
    pub fn new<'n>(names: impl IntoIterator<Item = &'n str>) -> FleetView {
        FleetView {
            multi: is_live().then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            width: names.into_iter().map(str::len).max().unwrap_or(0),
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
            captured: Mutex::new(Captured::default()),
        }
    }
}

/// What one lab machine's command printed, kept for the summary and the JSON.
#[derive(Debug, Default, Clone)]
pub struct Captured {
    pub data: String,
    pub json: Option<serde_json::Value>,
    pub summary: Option<String>,
    pub errors: Vec<String>,
}

pub struct Row {
    name: String,
    width: usize,
    bar: Option<ProgressBar>,
    captured: Mutex<Captured>,
}

impl Row {
    fn captured(&self) -> std::sync::MutexGuard<'_, Captured> {
        self.captured
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Called when work on this machine begins (it may have waited for a free slot).
    pub fn start(&self) -> Instant {
        if let Some(bar) = &self.bar {
            bar.reset_elapsed();
            bar.set_message("connecting");
        }
        Instant::now()
    }

    pub(super) fn status(&self, verb: &str, message: &str) {
        // The row shows only the latest line; why a machine failed must outlive it.
        if matches!(verb, "error" | "Failed") {
            self.captured().errors.push(message.to_owned());
        }
        match &self.bar {
            Some(bar) => bar.set_message(format!("{} {message}", verb.trim())),
            None if verbosity() > Verbosity::Quiet || verb == "error" => {
                eprintln!(
                    "{:<width$} | {} {message}",
                    self.name,
                    style::verb(verb),
                    width = self.width
                );
            }
            None => {}
        }
    }

    /// The row's last word: ✓ or ✗, then `text`.
    pub fn finish(&self, mark: Mark, text: &str) {
        let line = format!("{} {text}", paint_mark(mark));
        match &self.bar {
            Some(bar) => {
                bar.set_style(spinner("{prefix} {wide_msg}"));
                bar.finish_with_message(line);
            }
            None if verbosity() > Verbosity::Quiet => {
                eprintln!("{:<width$} | {line}", self.name, width = self.width);
            }
            None => {}
        }
    }

    pub(super) fn data(&self, text: &str) {
        self.captured().data.push_str(text);
    }

    pub(super) fn json(&self, value: serde_json::Value) {
        self.captured().json = Some(value);
    }

    /// Several commands in one (reset is down, then up) add up: "9 deleted, 9 created".
    pub(super) fn summary(&self, text: String) {
        let mut captured = self.captured();
        captured.summary = Some(match captured.summary.take() {
            Some(before) => format!("{before}, {text}"),
            None => text,
        });
    }

    pub fn take(&self) -> Captured {
        std::mem::take(&mut *self.captured())
    }
}
