//! Configuration: the YAML file and the files it references (SPEC §2), parsed into the one
//! internal model the runtime consumes ([`crate::snapshot::Snapshot`]).
//!
//! [`schema`] describes the file; [`load`] reads it and everything it points at, compiles the
//! policies, and reports every error it finds with file, line and column. Nothing here serves
//! requests.

pub mod load;
pub(crate) mod schema;

use std::fmt;
use std::path::PathBuf;

pub use load::{load, LoadOptions};

/// One configuration error, located where the operator can fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the error is in.
    pub file: PathBuf,
    /// 1-based; 0 when the error concerns the whole file.
    pub line: u64,
    /// 1-based; 0 with `line` 0.
    pub column: u64,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

impl std::error::Error for ConfigError {}
