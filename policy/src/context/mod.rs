//! What a running plan sees of a request, and the per-request state it builds.
//!
//! [`RequestContext`] is the seam between this crate and the gateway: the gateway implements it
//! over Pingora's request and response headers (no copying per request); tests and benches use
//! [`SimpleContext`]. [`RequestState`] is the part of a request that belongs to policy
//! execution itself (variables, the backend choice, the last error, the response a policy
//! builds before any backend answered), so every implementation shares it.
//!
//! Nothing here does I/O.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::cert::Certificate;
use crate::last_error::LastError;
use crate::thumbprints::ThumbprintSet;
use crate::trust::TrustFailure;
use crate::value::Value;

mod simple;

pub use crate::outcall::BackendCertificate;
pub use simple::SimpleContext;

/// The deployment's certificate entities (`context.Deployment.Certificates`) and identity.
/// Immutable per configuration snapshot; shared by every request.
#[derive(Debug, Default)]
pub struct Deployment {
    certificates: BTreeMap<String, Arc<Certificate>>,
    thumbprints: ThumbprintSet,
    /// `context.Deployment.ServiceName`.
    pub service_name: Arc<str>,
    /// `context.Deployment.GatewayId`.
    pub gateway_id: Arc<str>,
    /// `context.Deployment.Region`.
    pub region: Arc<str>,
}

impl Deployment {
    /// A deployment without certificates.
    pub fn new(service_name: &str, gateway_id: &str, region: &str) -> Deployment {
        Deployment {
            service_name: service_name.into(),
            gateway_id: gateway_id.into(),
            region: region.into(),
            ..Default::default()
        }
    }

    /// Adds a certificate under its configured id (`context.Deployment.Certificates[id]`).
    pub fn add_certificate(&mut self, id: impl Into<String>, cert: Arc<Certificate>) {
        self.thumbprints.insert_hex(cert.thumbprint());
        self.certificates.insert(id.into(), cert);
    }

    /// The configured certificates by id.
    pub fn certificates(&self) -> &BTreeMap<String, Arc<Certificate>> {
        &self.certificates
    }

    /// Hash-set lookup behind `Certificates.Any(c => c.Value.Thumbprint == x)`. The C#
    /// comparison is ordinal against `Thumbprint`'s upper-case hex, so only that form matches.
    pub fn has_thumbprint(&self, thumbprint: &str) -> bool {
        thumbprint.len() == 40
            && thumbprint
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
            && self.thumbprints.contains_hex(thumbprint)
    }

    /// The thumbprint index alone (sizes, memory).
    pub fn thumbprints(&self) -> &ThumbprintSet {
        &self.thumbprints
    }

    /// The configured certificate with this thumbprint (hex, any case).
    pub fn certificate_by_thumbprint(&self, thumbprint: &str) -> Option<&Arc<Certificate>> {
        self.certificates
            .values()
            .find(|c| c.thumbprint().eq_ignore_ascii_case(thumbprint))
    }
}

/// The URL parts expressions can read (`context.Request.Url`).
#[derive(Clone, Copy, Debug)]
pub struct UrlView<'a> {
    /// `https` or `http`.
    pub scheme: &'a str,
    /// The host the client asked for.
    pub host: &'a str,
    /// The port the client connected to.
    pub port: u16,
    /// The path (percent-escapes kept).
    pub path: &'a str,
    /// Without the leading `?`; empty when there is none.
    pub query: &'a str,
}

impl UrlView<'_> {
    /// First value of a query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_values(name).into_iter().next()
    }

    /// Every parameter, percent-decoded, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (decode_component(k), decode_component(v))
            })
            .collect()
    }

    /// Every value of a query parameter, in order.
    pub fn query_values(&self, name: &str) -> Vec<String> {
        self.query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (decode_component(k) == name).then(|| decode_component(v))
            })
            .collect()
    }

    /// The URL as text (`scheme://host[:port]/path?query`).
    pub fn to_url_string(&self) -> String {
        let default_port = matches!((self.scheme, self.port), ("https", 443) | ("http", 80));
        let mut s = format!("{}://{}", self.scheme, self.host);
        if !default_port && self.port != 0 {
            s.push_str(&format!(":{}", self.port));
        }
        s.push_str(self.path);
        if !self.query.is_empty() {
            s.push('?');
            s.push_str(self.query);
        }
        s
    }
}

fn decode_component(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

/// Where the request goes after inbound (`set-backend-service`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendTarget {
    /// A configured backend entity by id.
    BackendId(Arc<str>),
    /// A base URL; the operation path is appended to it.
    BaseUrl(Arc<str>),
}

/// A trace event from the `trace` policy, handed to the gateway's sink.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceEvent {
    /// `trace` `source`.
    pub source: Arc<str>,
    /// `trace` `severity`.
    pub severity: Severity,
    /// The evaluated message.
    pub message: String,
    /// The evaluated metadata, in document order.
    pub metadata: Vec<(Arc<str>, String)>,
}

/// A value `emit-metric` emits, handed to the gateway's metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricEvent {
    /// `namespace` (default "API Management").
    pub namespace: Arc<str>,
    /// `name`.
    pub name: Arc<str>,
    /// `value` (default 1).
    pub value: f64,
    /// The dimensions, in document order: (name, value).
    pub dimensions: Vec<(Arc<str>, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// `trace` severities.
pub enum Severity {
    /// `verbose` (the default).
    Verbose,
    /// `information`.
    Information,
    /// `error`.
    Error,
}

/// Per-request policy state, owned by the request.
#[derive(Debug, Default)]
pub struct RequestState {
    /// `context.Variables`: few per request, so a vector beats a hash map.
    variables: Vec<(Arc<str>, Value)>,
    /// The backend `set-backend-service` chose.
    pub backend: Option<BackendTarget>,
    /// The client certificate `authentication-certificate` chose.
    pub backend_certificate: Option<BackendCertificate>,
    /// `context.LastError`: the failure on-error handles (or one `ignore-error` kept).
    pub last_error: Option<LastError>,
    /// `forward-request timeout`, when set.
    pub forward_timeout: Option<std::time::Duration>,
    /// The request body was read without `preserveContent: true`: APIM forwards no body then
    /// (unless `set-body` gave one), and a second read fails. Set while an expression runs,
    /// hence atomic (expressions see the state read-only).
    pub request_body_consumed: std::sync::atomic::AtomicBool,
    /// The `send-request`s a suspended `wait` sent, in the order of its requests: each one's
    /// path inside the wait's block (through the `choose` branches taken).
    pub wait_sends: Vec<Vec<u32>>,
    /// The body inbound `set-body` gave the request, sent to the backend instead.
    pub request_body: Option<Vec<u8>>,
    /// Requests `send-one-way-request` queued: the caller sends them in the background and
    /// does not wait.
    pub one_way: Vec<crate::outcall::Outcall>,
    /// `cache-lookup` missed: where `cache-store` stores the response, and how downstream
    /// caches may keep it.
    pub response_cache: Option<(Arc<str>, crate::cache::Downstream, bool)>,
    /// The `limit-concurrency` slots the request holds, innermost last (given back when it
    /// leaves each, or when the state is dropped).
    pub slots: Vec<crate::concurrency::Slot>,
}

impl RequestState {
    /// `context.Variables[name]`.
    pub fn variable(&self, name: &str) -> Option<&Value> {
        self.variables
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v)
    }

    /// Sets `context.Variables[name]`.
    pub fn set_variable(&mut self, name: &Arc<str>, value: Value) {
        match self.variables.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.variables.push((name.clone(), value)),
        }
    }

    /// Every variable, for logs and tests.
    pub fn variables(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.variables.iter().map(|(k, v)| (&**k, v))
    }
}

/// How `set-header` changes a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderWrite {
    /// Replace all values with this one.
    Set,
    /// Add a value after the existing ones.
    Append,
}

/// The memory budget of one expression evaluation (README "Expression limits"): no string
/// longer than `max_string` bytes, no collection of more than `max_items` items, and no more
/// than `max_produced` bytes of strings produced in all. Hostile input (or a policy doubling a
/// string) ends in an expression error through `on-error`, not in gigabytes of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpressionBudget {
    /// Longest string one expression may produce, in bytes.
    pub max_string: usize,
    /// Most items in one collection.
    pub max_items: usize,
    /// Most bytes of strings one evaluation may produce in all.
    pub max_produced: usize,
}

impl Default for ExpressionBudget {
    fn default() -> Self {
        ExpressionBudget {
            max_string: 4 << 20,
            max_items: 100_000,
            max_produced: 32 << 20,
        }
    }
}

/// What is known about the route at compile time (`context.Api.*`, `context.Operation.*`).
#[derive(Clone, Debug, Default)]
pub struct RouteInfo {
    /// `context.Api.Name`.
    pub api_name: Arc<str>,
    /// `context.Api.Id`.
    pub api_id: Arc<str>,
    /// `context.Api.Path`.
    pub api_path: Arc<str>,
    /// `context.Operation.Name`.
    pub operation_name: Arc<str>,
    /// `context.Operation.Id`.
    pub operation_id: Arc<str>,
    /// `context.Operation.Method`.
    pub operation_method: Arc<str>,
    /// `context.Operation.UrlTemplate`.
    pub operation_url_template: Arc<str>,
    /// Set while the route compiles when an expression reads `context.Request.Body` (callers
    /// leave it default; compilation starts each route with a fresh one and reports it as
    /// [`crate::Plan::reads_request_body`]).
    pub reads_request_body: Arc<std::sync::atomic::AtomicBool>,
    /// As `reads_request_body`, for a policy that reads or rewrites the backend's body after
    /// it answered ([`crate::Plan::reads_response_body`]).
    pub reads_response_body: Arc<std::sync::atomic::AtomicBool>,
}

/// The request as a plan sees it, implemented by the gateway over its own request objects.
///
/// Header names are case-insensitive everywhere. "Response" means the response under
/// construction: built by `return-response`/`set-status` before a backend answered, or the
/// backend's response in the outbound section.
pub trait RequestContext {
    /// The memory budget each expression evaluation of this request gets.
    fn expression_budget(&self) -> ExpressionBudget {
        ExpressionBudget::default()
    }
    /// `context.Request.Method`.
    fn method(&self) -> &str;
    /// `context.Request.Url` (after `rewrite-uri`).
    fn url(&self) -> UrlView<'_>;
    /// The URL as the client sent it, before `rewrite-uri`.
    fn original_url(&self) -> UrlView<'_> {
        self.url()
    }
    /// All values of a request header joined with `,` (APIM's `GetValueOrDefault`).
    fn request_header(&self, name: &str) -> Option<Cow<'_, str>>;
    /// Every value of a request header, one per field line.
    fn request_header_values(&self, name: &str) -> Vec<String>;
    /// Every request header in order, for `send-request mode="copy"`.
    fn request_headers(&self) -> Vec<(String, String)>;
    /// Sets or appends a request header (towards the backend).
    fn write_request_header(&mut self, name: &str, value: &str, how: HeaderWrite);
    /// Removes a request header.
    fn remove_request_header(&mut self, name: &str);
    /// `rewrite-uri`: the new path and query (without scheme and host).
    fn rewrite_url(&mut self, path: &str, query: &str);
    /// Changes only the query of the URL sent to the backend (`set-query-parameter`).
    fn set_query(&mut self, query: &str);
    /// Changes the method of the request sent to the backend (`set-method`; a token).
    fn set_method(&mut self, method: &str);
    /// `context.Request.IpAddress` (of the TCP peer, or of the client behind a trusted proxy).
    fn client_ip(&self) -> IpAddr;
    /// The client certificate of the connection (or of a trusted forwarded header).
    fn certificate(&self) -> Option<&Arc<Certificate>>;
    /// Chain verification against the snapshot's trust stores (`Verify()`/`VerifyNoRevocation()`).
    /// Why it failed, typed, so `validate-client-certificate` can tell a revoked certificate
    /// from one whose revocation status is unknown.
    fn verify_certificate(
        &self,
        cert: &Certificate,
        check_revocation: bool,
    ) -> Result<(), TrustFailure>;
    /// The certificate that issued `cert` in its verified chain (identity checks on
    /// `issuer-thumbprint`/`issuer-certificate-id`). None when the chain does not verify.
    fn certificate_issuer(&self, cert: &Certificate) -> Option<Arc<Certificate>> {
        let _ = cert;
        None
    }
    /// `context.Deployment`.
    fn deployment(&self) -> &Deployment;
    /// A parameter matched by the operation's URL template.
    fn matched_parameter(&self, name: &str) -> Option<&str>;
    /// Every parameter the URL template matched, for Liquid templates.
    fn matched_parameters(&self) -> Vec<(String, String)>;
    /// `context.RequestId`.
    fn request_id(&self) -> &str;
    /// The request body, when the gateway buffered it (plans that read it; `None` for a
    /// request without a body).
    fn request_body(&self) -> Option<&[u8]> {
        None
    }
    /// The body of the response under construction, when the gateway holds it whole (the
    /// backend's, for a plan that [`crate::Plan::reads_response_body`]; one a policy set).
    fn response_body(&self) -> Option<&[u8]> {
        None
    }
    /// `context.Elapsed`: the time since the request was received (and so `context.Timestamp`).
    fn elapsed(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    /// The response's status code and reason phrase.
    fn response_status(&self) -> (u16, &str);
    /// Sets the status; `None` takes the standard reason phrase.
    fn set_response_status(&mut self, code: u16, reason: Option<&str>);
    /// All values of a response header joined with `,`.
    fn response_header(&self, name: &str) -> Option<Cow<'_, str>>;
    /// Every response header in order (`cache-store`).
    fn response_headers(&self) -> Vec<(String, String)>;
    /// Sets or appends a response header.
    fn write_response_header(&mut self, name: &str, value: &str, how: HeaderWrite);
    /// Removes a response header.
    fn remove_response_header(&mut self, name: &str);
    /// Replaces the response body.
    fn set_response_body(&mut self, body: Vec<u8>);
    /// Replaces the response under construction with APIM's empty `200 OK` (no headers, no
    /// body): `return-response`, and an error answer after the backend answered.
    fn clear_response(&mut self);

    /// What policies left for later steps and for the gateway.
    fn state(&self) -> &RequestState;
    /// [`RequestContext::state`], to change.
    fn state_mut(&mut self) -> &mut RequestState;
    /// Records a `trace` event.
    fn trace(&mut self, event: TraceEvent);
    /// Hands an `emit-metric` value to the gateway's metrics.
    fn emit_metric(&mut self, metric: MetricEvent);
    /// The value cache of `cache-store-value` and `cache-lookup-value`.
    fn cache(&self) -> &dyn crate::cache::CacheStore;
}
