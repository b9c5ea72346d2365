//! Colour, only when the shell decided it is wanted (a terminal, `--color`, `NO_COLOR`).

use super::color;

const GREEN: &str = "1;32";
const YELLOW: &str = "1;33";
const RED: &str = "1;31";

/// `text` in an SGR colour when colour is on.
pub fn paint(text: &str, sgr: &str) -> String {
    if color() {
        format!("\x1b[{sgr}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// A status verb, right-aligned to 12 like cargo's: green for progress, yellow for what was
/// left alone or waited on, red for failure.
pub fn verb(verb: &str) -> String {
    let sgr = match verb {
        "Failed" | "Incomplete" | "error" => RED,
        "Skipped" | "Left alone" | "Waiting" | "Note" | "Missing" | "Interrupted" => YELLOW,
        _ => GREEN,
    };
    paint(&format!("{verb:>12}"), sgr)
}

pub fn error_label() -> String {
    paint("error:", RED)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Passed,
    Failed,
    Skipped,
}

/// ✓, ✗ or –, coloured.
pub fn paint_mark(mark: Mark) -> String {
    match mark {
        Mark::Passed => paint("✓", GREEN),
        Mark::Failed => paint("✗", RED),
        Mark::Skipped => paint("–", YELLOW),
    }
}
