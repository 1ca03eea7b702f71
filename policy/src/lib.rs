//! certgate-policy: Azure API Management policy documents, compiled ahead of time.
//!
//! The crate reads APIM policy XML as APIM users write it, substitutes named values
//! ([`Source`], [`NamedValues`]), compiles C# policy expressions and policy elements into an
//! immutable [`Plan`] per route ([`compile_route`]), and runs that plan against an abstract
//! [`RequestContext`] in APIM's order ([`Plan::start`], [`Plan::after_backend`],
//! [`Plan::resume`], [`run_pipeline`]).
//!
//! It has no networking: the gateway crate supplies sockets, TLS and HTTP, and implements the
//! request context over them. Everything here is testable and benchable in-process.

#![warn(missing_docs)]

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

mod cache;
mod cert;
mod compile;
mod concurrency;
mod context;
mod counters;
mod crl;
mod crypto_compat;
mod document;
mod dotnet;
mod element;
mod error;
mod exec;
mod expr;
mod http;
mod last_error;
mod liquid;
mod named_values;
mod ocsp;
mod openid;
mod outcall;
mod pipeline;
pub mod pki;
mod plan;
mod policies;
mod revocation;
mod sections;
#[doc(hidden)]
pub mod snippets;
mod source;
mod thumbprints;
mod trust;
mod validation;
mod value;
mod xml;

// The public interface is:

// Compiling a route: sources with named values substituted, scope documents, the plan.
pub use compile::{compile_route, CompileOptions};
pub use document::{Fragments, ScopeDocument};
pub use error::{CompileError, ErrorKind};
pub use named_values::NamedValues;
pub use openid::{Discovered, OpenIdConfig, OpenIdRegistry, SigningKey};
pub use plan::Plan;
pub use sections::{Scope, Section};
pub use source::{Pos, Source, Spanned, SubstitutionError};

// Running a plan: the pipeline a caller drives, and what it sees of the request.
pub use cache::{CacheOp, CacheResult, CacheStats, CacheStore, CachedValue, LocalCache};
pub use concurrency::{inside as concurrency_inside, Slot};
pub use context::{
    BackendCertificate, BackendTarget, Deployment, ExpressionBudget, HeaderWrite, MetricEvent,
    RequestContext, RequestState, RouteInfo, Severity, SimpleContext, TraceEvent, UrlView,
};
pub use counters::{
    now_ms, Count, CountRequest, CountResult, CounterStore, Decision, LocalCounters, Window,
    WindowState, YEAR_ONE_MS,
};
pub use exec::{Answer, Io, SectionOutcome, StepPath};
pub use expr::{EvalError, EvalErrorKind, Template, BUDGET_EXCEEDED};
pub use http::{is_framing, FRAMING_HEADERS};
pub use last_error::{default_reason, error_body, LastError};
pub use outcall::{Outcall, SendFailure, SendResult, SentResponse, TokenRequest, TokenResult};
pub use pipeline::{
    run_pipeline, run_pipeline_sending, run_pipeline_with, BackendFailure, Cursor, Next,
    PipelineResult,
};
pub use value::Value;

// Certificates and trust, shared with the gateway's TLS layer.
pub use cert::{CertError, Certificate, DistinguishedName, Name, NameError};
pub use crl::Crl;
pub use ocsp::{ocsp_urls, OcspAnswer, OcspEntry, OcspRefused, OcspStatus, OnlineOcsp};
pub use revocation::{distribution_points, CrlRefused, OnlineCrl, OnlineCrls, Refresh};
pub use thumbprints::ThumbprintSet;
pub use trust::{SentChain, TrustFailure, TrustStore, VerificationCache};
pub use validation::ClientCertificateFailure;

/// APIM's list of the .NET types policy expressions may use, for the test that walks it.
#[doc(hidden)]
pub fn apim_allowed_types() -> &'static [&'static str] {
    dotnet::APIM_TYPES
}

/// Reads a fragment of the XML dialect, for the seed tests and benchmarks.
#[doc(hidden)]
pub use xml::parse_fragment;
