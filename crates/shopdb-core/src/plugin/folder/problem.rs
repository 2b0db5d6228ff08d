//! A problem of a folder plugin with its file, line and key, and the collector of problems
//! the checks share.

use std::ops::Range;

/// One problem of a folder plugin, where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// `model.toml` or `manifest.json`.
    pub file: String,
    /// From 1; 0 when the problem is not at one place of the file.
    pub line: usize,
    /// The key the problem is at (`table.cameras.field.fps.max`).
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.key, self.message
        )
    }
}

/// Problems joined into one line, as quarantine reasons show them.
pub fn describe(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The line (from 1) of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

pub(super) struct Checker<'a> {
    pub(super) text: &'a str,
    pub(super) problems: Vec<Problem>,
}

impl Checker<'_> {
    pub(super) fn at(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            file: "model.toml".into(),
            line: line_of(self.text, span.start),
            key: key.into(),
            message: message.into(),
        });
    }
}
