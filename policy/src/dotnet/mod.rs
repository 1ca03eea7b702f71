//! .NET scalar semantics shared by the certificate model and the expression language, at the
//! bottom of the crate so both can import them: `DateTime`, `TimeSpan`, `StringComparison`,
//! `X509NameType`.
//!
//! Must not: import anything else from this crate.

mod datetime;
mod enums;

pub(crate) use datetime::{DateKind, DateTime, TimeSpan};
pub(crate) use enums::{NameType, StringComparison};
