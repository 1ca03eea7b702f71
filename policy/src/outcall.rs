//! Requests a policy sends itself (`send-request`, `send-one-way-request`): what the caller must
//! send ([`Outcall`]), what came back ([`SentResponse`], APIM's `IResponse`) and why nothing did
//! ([`SendFailure`]); and the access tokens `authentication-managed-identity` asks the gateway
//! for ([`TokenRequest`]), which the gateway obtains as Azure workloads do and caches.
//!
//! The plan never sends anything: a `send-request` suspends its section with an [`Outcall`]
//! (`crate::pipeline`'s [`crate::Next::Send`]); the gateway sends it with its backend
//! connectors and hands the result back.
//!
//! Must not: do I/O or know about HTTP libraries.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A request a policy sends.
#[derive(Clone, Debug)]
pub struct Outcall {
    /// `set-method` (GET by default; `mode="copy"`: the request's).
    pub method: String,
    /// `set-url`: an absolute `http://` or `https://` URL.
    pub url: String,
    /// Headers in order; names as the policy wrote them.
    pub headers: Vec<(String, String)>,
    /// `set-body` (`mode="copy"`: the request's body, when the gateway buffered it).
    pub body: Vec<u8>,
    /// No status line and headers within it: `Timeout`.
    pub timeout: Duration,
    /// `authentication-certificate` inside the policy: the client certificate to present.
    pub certificate: Option<BackendCertificate>,
    /// `authentication-managed-identity` inside the policy: the token the gateway obtains and
    /// sends as `Authorization: Bearer`.
    pub identity: Option<TokenRequest>,
}

/// A response `send-request` received: APIM's `IResponse`, stored in its
/// `response-variable-name`.
#[derive(Debug)]
pub struct SentResponse {
    /// `StatusCode`.
    pub status: u16,
    /// `StatusReason`.
    pub reason: Arc<str>,
    /// `Headers`, in the order received.
    pub headers: Vec<(Arc<str>, Arc<str>)>,
    /// `Body`, whole (the gateway bounds its size).
    pub body: Arc<[u8]>,
    /// `Body.As<T>()` without `preserveContent` consumes the body, as for the request's.
    consumed: AtomicBool,
}

impl SentResponse {
    /// A response as received.
    pub fn new(
        status: u16,
        reason: &str,
        headers: Vec<(Arc<str>, Arc<str>)>,
        body: Arc<[u8]>,
    ) -> SentResponse {
        SentResponse {
            status,
            reason: reason.into(),
            headers,
            body,
            consumed: AtomicBool::new(false),
        }
    }

    /// The values of a header, case-insensitively, in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Arc<str>> {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Reads the body: `None` when it was already read without `preserve`.
    pub(crate) fn read_body(&self, preserve: bool) -> Option<&[u8]> {
        if self.consumed.load(Ordering::Relaxed) {
            return None;
        }
        if !preserve {
            self.consumed.store(true, Ordering::Relaxed);
        }
        Some(&self.body)
    }
}

/// Why a sent request got no response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendFailure {
    /// No connection, TLS failed, or the connection broke (`BackendConnectionFailure`).
    Connect(String),
    /// No status line and headers within the timeout (`Timeout`).
    Timeout(String),
    /// The URL or a header is not one certgate can send (`InvalidRequest`).
    Invalid(String),
    /// The response body is over the configured bound (`ResponseTooLarge`).
    TooLarge(String),
    /// No token for `authentication-managed-identity` inside the policy
    /// (`ManagedIdentityTokenFailure`).
    Token(String),
}

impl SendFailure {
    /// `context.LastError.Reason` for it.
    pub fn reason(&self) -> &'static str {
        match self {
            SendFailure::Connect(_) => "BackendConnectionFailure",
            SendFailure::Timeout(_) => "Timeout",
            SendFailure::Invalid(_) => "InvalidRequest",
            SendFailure::TooLarge(_) => "ResponseTooLarge",
            SendFailure::Token(_) => "ManagedIdentityTokenFailure",
        }
    }

    /// `context.LastError.Message` for it.
    pub fn message(&self) -> &str {
        match self {
            SendFailure::Connect(m)
            | SendFailure::Timeout(m)
            | SendFailure::Invalid(m)
            | SendFailure::TooLarge(m)
            | SendFailure::Token(m) => m,
        }
    }
}

/// What a sent request came to, handed back to the plan.
pub type SendResult = Result<SentResponse, SendFailure>;

/// The client certificate the gateway presents to the backend (`authentication-certificate`),
/// or with a request a policy sends.
#[derive(Clone, Debug)]
pub enum BackendCertificate {
    /// `certificate-id`: a configured certificate.
    Id(Arc<str>),
    /// `thumbprint`: the configured certificate with this thumbprint.
    Thumbprint(Arc<str>),
    /// PFX bytes with an optional password. Never logged.
    Pfx {
        /// The PFX bytes.
        body: Arc<[u8]>,
        /// Its password, if any.
        password: Option<Arc<str>>,
    },
}

/// An access token `authentication-managed-identity` needs: for `resource`, as the gateway's
/// identity (or the user-assigned one `client_id` names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// The target resource's App ID URI (`https://vault.azure.net`).
    pub resource: String,
    /// A user-assigned identity's client id.
    pub client_id: Option<String>,
}

/// A token, or why there is none (never the token service's full answer: it may carry secrets).
pub type TokenResult = Result<Arc<str>, String>;
