//! Errors in stack.toml, rendered the way cargo renders manifest errors:
//! the file, line and column, the line itself, and a caret under the offending text.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One thing wrong with the file, with where it is and, when we can guess, what was meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub span: Option<Range<usize>>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, span: Range<usize>) -> Self {
        Diagnostic {
            message: message.into(),
            span: Some(span),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds "did you mean" when one of `candidates` is close to `wrong`.
    pub fn suggest<'a>(self, wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        match closest(wrong, candidates) {
            Some(best) => self.with_help(format!("did you mean `{best}`?")),
            None => self,
        }
    }

    /// Help, unless a suggestion already gave some.
    pub fn or_help(self, help: impl Into<String>) -> Self {
        if self.help.is_some() {
            self
        } else {
            self.with_help(help)
        }
    }
}

/// Every problem found in one file; `Display` renders them all.
#[derive(Debug)]
pub struct ManifestError {
    pub path: PathBuf,
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl std::error::Error for ManifestError {}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.diagnostics.len();
        for (i, d) in self.diagnostics.iter().enumerate() {
            // The first "error: " is printed by main, like every other error.
            if i > 0 {
                write!(f, "\nerror: ")?;
            }
            render(f, &self.path, &self.source, d)?;
        }
        if count > 1 {
            write!(
                f,
                "\n{count} problems in {}; nothing was sent to AWS",
                self.path.display()
            )?;
        }
        Ok(())
    }
}

fn render(f: &mut fmt::Formatter<'_>, path: &Path, source: &str, d: &Diagnostic) -> fmt::Result {
    writeln!(f, "{}", d.message)?;
    let Some(span) = &d.span else {
        write!(f, "  --> {}", path.display())?;
        return write_help(f, d, 0);
    };
    let (line_no, col, line) = locate(source, span.start);
    let gutter = line_no.to_string().len();
    writeln!(f, "  --> {}:{line_no}:{col}", path.display())?;
    writeln!(f, "{:gutter$} |", "")?;
    writeln!(f, "{line_no} | {line}")?;
    let width = caret_width(line, col, span);
    write!(
        f,
        "{:gutter$} | {}{}",
        "",
        " ".repeat(col - 1),
        "^".repeat(width)
    )?;
    write_help(f, d, gutter)
}

fn write_help(f: &mut fmt::Formatter<'_>, d: &Diagnostic, gutter: usize) -> fmt::Result {
    match &d.help {
        Some(help) => write!(f, "\n{:gutter$} = help: {help}", ""),
        None => Ok(()),
    }
}

/// 1-based line and column (in characters) of a byte offset, and the text of that line.
pub fn locate(source: &str, offset: usize) -> (usize, usize, &str) {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i);
    let line_no = source[..line_start].matches('\n').count() + 1;
    let col = source[line_start..offset].chars().count() + 1;
    (
        line_no,
        col,
        source[line_start..line_end].trim_end_matches('\r'),
    )
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Carets under the span, clipped to the end of its first line and at least one wide.
fn caret_width(line: &str, col: usize, span: &Range<usize>) -> usize {
    let remaining = line.chars().count().saturating_sub(col - 1);
    span.len().clamp(1, remaining.max(1))
}

/// The candidate nearest to `wrong` by edit distance, if it is near enough to be a typo.
pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (wrong.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(wrong, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_and_column() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(locate(src, 6), (2, 1, "bb = 2"));
        assert_eq!(locate(src, 11), (2, 6, "bb = 2"));
        assert_eq!(locate(src, 999), (3, 1, ""));
    }

    #[test]
    fn suggests_only_near_names() {
        let names = ["task-queue", "task-dlq"];
        assert_eq!(closest("task-queu", names), Some("task-queue"));
        assert_eq!(closest("tsak-dlq", names), Some("task-dlq"));
        assert_eq!(closest("bucket", names), None);
    }
}
