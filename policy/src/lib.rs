//! certgate-policy: Azure API Management policy documents, compiled ahead of time.
//!
//! The crate reads APIM policy XML as APIM users write it ([`xml`]), substitutes named values
//! ([`source`], [`named_values`]), compiles C# policy expressions ([`expr`]) and policy
//! elements ([`compile`]) into an immutable [`plan::Plan`] per route, and runs that plan against
//! an abstract [`context::RequestContext`] ([`exec`]).
//!
//! It has no networking: the gateway crate supplies sockets, TLS and HTTP, and implements the
//! request context over them. Everything here is testable and benchable in-process.

#[cfg(all(feature = "openssl", feature = "boringssl"))]
compile_error!("certgate-policy: enable exactly one of the features `openssl` and `boringssl`");
#[cfg(not(any(feature = "openssl", feature = "boringssl")))]
compile_error!("certgate-policy: enable one of the features `openssl` (default) or `boringssl`");

// The TLS/crypto library this build links: rust-openssl, or its BoringSSL fork `boring`, which
// keeps the same module layout. Everything in this workspace names it through this alias, so a
// binary links exactly the library Pingora was built with.
#[cfg(all(feature = "boringssl", not(feature = "openssl")))]
pub use boring as crypto;
#[cfg(feature = "openssl")]
pub use openssl as crypto;

pub mod cert;
pub mod compile;
pub mod context;
pub mod counters;
pub mod crl;
pub mod crypto_compat;
pub mod document;
pub mod dotnet;
mod element;
pub mod error;
pub mod exec;
pub mod expr;
pub mod last_error;
pub mod named_values;
pub mod pipeline;
pub mod pki;
pub mod plan;
pub mod policies;
pub mod sections;
pub mod snippets;
pub mod source;
pub mod thumbprints;
pub mod trust;
pub mod validation;
pub mod value;
pub mod xml;

pub use compile::{compile_route, CompileOptions};
pub use context::RouteInfo;
pub use document::{Fragments, ScopeDocument};
pub use error::{CompileError, ErrorKind};
pub use exec::SectionOutcome;
pub use last_error::{default_reason, error_body, LastError};
pub use named_values::NamedValues;
pub use pipeline::{run_pipeline, BackendFailure, Cursor, Next, PipelineResult};
pub use plan::Plan;
pub use sections::{Scope, Section};
pub use validation::ClientCertificateFailure;
