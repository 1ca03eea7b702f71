//! Compile-time errors: what went wrong, where in which file, and what was expected.
//!
//! Runtime failures of a running plan are not here: they are [`crate::exec::LastError`]s.

use std::fmt;
use std::sync::Arc;

use crate::source::{Pos, Source, SubstitutionError};

/// The class of a compile error. Exhaustive so callers (and tests) can match on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The XML dialect could not be read (unclosed element, bad attribute, ...).
    Xml,
    /// A `{{name}}` reference is unknown or malformed.
    NamedValue,
    /// An element is not a known policy, or not allowed where it stands.
    UnknownPolicy,
    /// An attribute is not known for its policy.
    UnknownAttribute,
    /// A required attribute or child element is missing.
    MissingAttribute,
    /// An attribute or element value is out of range or of the wrong form.
    InvalidValue,
    /// The document structure is wrong (sections, `<base/>`, fragments).
    Structure,
    /// An expression could not be tokenised or parsed.
    ExpressionSyntax,
    /// An expression is well formed but does not type-check (unknown member, wrong types).
    ExpressionType,
}

impl ErrorKind {
    /// The kind as it appears in messages (`syntax`, `unknown-policy`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Xml => "xml",
            ErrorKind::NamedValue => "named-value",
            ErrorKind::UnknownPolicy => "unknown-policy",
            ErrorKind::UnknownAttribute => "unknown-attribute",
            ErrorKind::MissingAttribute => "missing-attribute",
            ErrorKind::InvalidValue => "invalid-value",
            ErrorKind::Structure => "structure",
            ErrorKind::ExpressionSyntax => "expression-syntax",
            ErrorKind::ExpressionType => "expression-type",
        }
    }
}

/// A compile error with its position in the policy file the operator wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// The file the error is in.
    pub file: Arc<str>,
    /// Where in it.
    pub pos: Pos,
    /// What kind of error.
    pub kind: ErrorKind,
    /// What is wrong and what was expected.
    pub message: String,
}

impl CompileError {
    /// An error at `pos` of `file`.
    pub fn new(
        file: Arc<str>,
        pos: Pos,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> CompileError {
        CompileError {
            file,
            pos,
            kind,
            message: message.into(),
        }
    }

    /// Replaces every occurrence of a secret in the message (errors may quote source text,
    /// and source text may hold substituted secret named values).
    pub fn redact(mut self, secrets: &[&str]) -> CompileError {
        for s in secrets {
            if !s.is_empty() && self.message.contains(s) {
                self.message = self.message.replace(s, "***");
            }
        }
        self
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} error: {}",
            self.file,
            self.pos,
            self.kind.as_str(),
            self.message
        )
    }
}

impl std::error::Error for CompileError {}

impl From<SubstitutionError> for CompileError {
    fn from(e: SubstitutionError) -> CompileError {
        CompileError::new(e.file, e.pos, ErrorKind::NamedValue, e.message)
    }
}

/// Locating compile errors in a source lives here, beside the error type, so that `source.rs`
/// knows nothing above it.
impl Source {
    /// A compile error at an offset of the substituted text.
    pub fn error(
        &self,
        text_offset: usize,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> CompileError {
        CompileError::new(self.name().clone(), self.pos(text_offset), kind, message)
    }
}
