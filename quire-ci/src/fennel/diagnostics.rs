//! Compile errors: the internal diagnostic and its rendered form.
//!
//! The reader and compiler raise a [`Diag`], which holds only a byte
//! span, so building one is cheap. [`CompileError`] is made once, at the
//! boundary, where the span becomes a line, a column, the source line
//! and a caret underline.

use std::fmt;

use super::ast::Span;

/// A problem found in the source, located by byte span.
#[derive(Debug, Clone)]
pub struct Diag {
    pub span: Span,
    pub message: String,
    /// How to fix it, as one sentence.
    pub help: String,
}

impl Diag {
    pub fn new(
        span: Span,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Diag {
        Diag {
            span,
            message: message.into(),
            help: help.into(),
        }
    }
}

/// A compile error with its location in the Fennel source.
///
/// `Display` renders the whole diagnostic: a `file:line:col: message`
/// header, the source line, a caret line under the offending span and
/// a `help:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub filename: String,
    /// 1-based line of the offending span's start.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    pub message: String,
    /// How to fix the problem.
    pub help: String,
    /// The text of the offending line, without its line ending.
    pub source_line: String,
    /// Width of the caret underline in characters, at least 1.
    pub caret_width: usize,
}

impl CompileError {
    /// Locates `diag` in `source` and renders it against `filename`.
    pub fn from_diag(diag: Diag, source: &str, filename: &str) -> Self {
        let start = (diag.span.start as usize).min(source.len());
        let start = floor_char_boundary(source, start);
        let end = (diag.span.end as usize).clamp(start, source.len());
        let end = floor_char_boundary(source, end);

        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line = source[..start].matches('\n').count() + 1;
        let column = source[line_start..start].chars().count() + 1;
        let source_line = source[line_start..line_end]
            .trim_end_matches('\r')
            .to_owned();
        let span_end = end.min(line_end);
        let caret_width = source[start..span_end].chars().count().max(1);

        CompileError {
            filename: filename.to_owned(),
            line,
            column,
            message: diag.message,
            help: diag.help,
            source_line,
            caret_width,
        }
    }
}

impl CompileError {
    /// Reports a failure of the compiler itself, located at the start.
    pub(crate) fn internal(
        opts: &super::CompileOptions,
        detail: &str,
    ) -> CompileError {
        CompileError {
            filename: opts.filename.clone(),
            line: 1,
            column: 1,
            message: format!("the compiler failed: {detail}"),
            help: "report this as a bug in quire, with the file".into(),
            source_line: String::new(),
            caret_width: 1,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.filename, self.line, self.column, self.message
        )?;
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        let display_line: String = self
            .source_line
            .chars()
            .map(|c| if c == '\t' { ' ' } else { c })
            .collect();
        writeln!(f, "{number} | {display_line}")?;
        writeln!(
            f,
            "{pad} | {}{}",
            " ".repeat(self.column - 1),
            "^".repeat(self.caret_width)
        )?;
        write!(f, "help: {}", self.help)
    }
}

impl std::error::Error for CompileError {}
