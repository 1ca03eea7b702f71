//! APIM's scopes (global → product → API → operation) and sections (inbound, backend,
//! outbound, on-error): the names every layer above uses to say where a statement or an error
//! is.
//!
//! Must not: import anything else from this crate.

use std::fmt;

/// A section of a policy document, in APIM's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Section {
    /// `inbound`: before the backend call.
    Inbound,
    /// `backend`: up to and after `forward-request`.
    Backend,
    /// `outbound`: on the response.
    Outbound,
    /// `on-error`: after a failure.
    OnError,
}

impl Section {
    /// Every section, in APIM's order.
    pub const ALL: [Section; 4] = [
        Section::Inbound,
        Section::Backend,
        Section::Outbound,
        Section::OnError,
    ];

    /// The section's element name.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Inbound => "inbound",
            Section::Backend => "backend",
            Section::Outbound => "outbound",
            Section::OnError => "on-error",
        }
    }

    pub(crate) fn from_name(n: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.as_str() == n)
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope a policy document is attached at, broadest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// All APIs.
    Global,
    /// One product's APIs.
    Product,
    /// One API.
    Api,
    /// One operation.
    Operation,
}

impl Scope {
    /// The scope's name in `context.LastError.Scope`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Product => "product",
            Scope::Api => "api",
            Scope::Operation => "operation",
        }
    }
}
