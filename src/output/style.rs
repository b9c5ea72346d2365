//! Colour, by what a line means (chosen by whoever prints it), in anstyle's styles; painted
//! only when the printer decided colour is wanted (a terminal, `--color`, `NO_COLOR`).

use anstyle::{AnsiColor, Style};

const GREEN: Style = AnsiColor::Green.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
const RED: Style = AnsiColor::Red.on_default().bold();

/// What a status line says, which decides its colour and, in a terminal's checklist, its mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Work done or going on: green, ✓.
    Progress,
    /// Left alone, skipped, waited on or missing: worth a look, yellow, –.
    Warning,
    /// Failed or left unfinished: red, ✗.
    Failure,
}

impl Level {
    fn style(self) -> Style {
        match self {
            Level::Progress => GREEN,
            Level::Warning => YELLOW,
            Level::Failure => RED,
        }
    }

    fn mark(self) -> &'static str {
        match self {
            Level::Progress => "✓",
            Level::Warning => "–",
            Level::Failure => "✗",
        }
    }
}

/// `text` in `style` when `color` is on.
fn paint(color: bool, style: Style, text: &str) -> String {
    if color {
        format!("{style}{text}{style:#}")
    } else {
        text.to_owned()
    }
}

/// A status verb, right-aligned to 12 like cargo's, in its level's colour.
pub fn verb(color: bool, level: Level, verb: &str) -> String {
    paint(color, level.style(), &format!("{verb:>12}"))
}

pub fn error_label(color: bool) -> String {
    paint(color, RED, "error:")
}

/// ✓, – or ✗, coloured.
pub fn mark(color: bool, level: Level) -> String {
    paint(color, level.style(), level.mark())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_right_aligned_and_coloured_only_when_asked() {
        assert_eq!(verb(false, Level::Progress, "Created"), "     Created");
        assert_eq!(
            verb(true, Level::Failure, "Failed"),
            "\x1b[1m\x1b[31m      Failed\x1b[0m"
        );
        assert_eq!(mark(false, Level::Warning), "–");
        assert_eq!(mark(true, Level::Progress), "\x1b[1m\x1b[32m✓\x1b[0m");
    }
}
