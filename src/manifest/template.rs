//! Strings with `${...}` references: `${queues.task-queue.arn}`, `${var.name}`,
//! `${aws.account_id}`, `${aws.region}`.

use std::fmt;
use std::ops::Range;

use super::diagnostic::Diagnostic;
use crate::model::{Kind, ResourceId};

/// A reference to another resource's attribute, e.g. `queues.task-queue.arn`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    pub kind: Kind,
    pub name: String,
    pub attribute: String,
}

impl Reference {
    /// The resource referred to.
    pub fn target(&self) -> ResourceId {
        ResourceId::new(self.kind, &self.name)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.kind.table(), self.name, self.attribute)
    }
}

/// A fact about the target account, known once we have talked to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountFact {
    AccountId,
    Region,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Ref(Reference),
    Account(AccountFact),
    /// In a declared check: its run's id or a value an earlier step captured.
    Check(String),
}

/// A string field after variables are substituted; resource references stay until apply time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
    /// Where the value sits in stack.toml, for errors found later (dangling references, cycles).
    pub span: Range<usize>,
}

impl Template {
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            _ => None,
        })
    }

    /// The text when it has no references at all (names, handlers, runtimes).
    pub fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                _ => return None,
            }
        }
        Some(out)
    }
}

/// One `${...}` as written, before it is checked against the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<'a> {
    Text(&'a str),
    Expr { path: &'a str, span: Range<usize> },
}

/// Splits `raw` into text and `${...}` expressions. `base` is the offset of `raw` in the file.
/// `$${` is an escaped, literal `${`.
pub fn tokenize(raw: &str, base: usize) -> Result<Vec<Token<'_>>, Diagnostic> {
    let mut tokens = Vec::new();
    let mut rest = raw;
    let mut offset = 0;
    while let Some(start) = rest.find("${") {
        if start > 0 && rest[..start].ends_with('$') {
            tokens.push(Token::Text(&rest[..start - 1]));
            tokens.push(Token::Text("${"));
            offset += start + 2;
            rest = &rest[start + 2..];
            continue;
        }
        if start > 0 {
            tokens.push(Token::Text(&rest[..start]));
        }
        let Some(len) = rest[start..].find('}') else {
            let at = base + offset + start;
            return Err(Diagnostic::new("unclosed `${` in a string", at..at + 2)
                .with_help("close the reference with `}`, or write `$${` for a literal `${`"));
        };
        let path = rest[start + 2..start + len].trim();
        let at = base + offset + start;
        tokens.push(Token::Expr {
            path,
            span: at..at + len + 1,
        });
        offset += start + len + 1;
        rest = &rest[start + len + 1..];
    }
    if !rest.is_empty() {
        tokens.push(Token::Text(rest));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_references() {
        let t = tokenize("${buckets.b.arn}/*", 10).unwrap();
        assert_eq!(
            t,
            vec![
                Token::Expr {
                    path: "buckets.b.arn",
                    span: 10..26
                },
                Token::Text("/*")
            ]
        );
    }

    #[test]
    fn escapes_and_unclosed() {
        assert_eq!(
            tokenize("a$${b}", 0).unwrap(),
            vec![Token::Text("a"), Token::Text("${"), Token::Text("b}")]
        );
        let err = tokenize("x ${var.y", 5).unwrap_err();
        assert_eq!(err.span, Some(7..9));
    }
}
