//! [`SimpleContext`]: a self-contained request context for tests, benchmarks and the examples,
//! with every part of the request and the response as a plain field.
//!
//! Must not: be used on the gateway's request path (that is `SessionContext` over Pingora).

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use super::{Deployment, HeaderWrite, RequestContext, RequestState, TraceEvent, UrlView};
use crate::cache::{CacheStore, LocalCache};
use crate::cert::Certificate;
use crate::trust::{SentChain, TrustFailure, TrustStore};

/// A self-contained [`RequestContext`]: tests, benchmarks, and the response a plan builds on
/// its own.
#[derive(Debug)]
pub struct SimpleContext {
    /// Request method.
    pub method: String,
    /// `https` or `http`.
    pub scheme: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path (after `rewrite-uri`).
    pub path: String,
    /// Query (after `rewrite-uri`), without `?`.
    pub query: String,
    /// Path and query as the client sent them, once `rewrite-uri` changed them.
    pub original: Option<(String, String)>,
    /// Request headers, in order.
    pub request_headers: Vec<(String, String)>,
    /// The request body (`None`: the request has none).
    pub request_body: Option<Vec<u8>>,
    /// The client's address.
    pub client_ip: IpAddr,
    /// The client certificate.
    pub certificate: Option<Arc<Certificate>>,
    /// Trust material for `Verify()` and issuer identities; none means nothing verifies.
    pub trust: Option<Arc<TrustStore>>,
    /// The chain the client sent after its certificate.
    pub sent_chain: SentChain,
    /// `context.Deployment`.
    pub deployment: Arc<Deployment>,
    /// Parameters the operation's URL template matched.
    pub matched: Vec<(String, String)>,
    /// `context.RequestId`.
    pub request_id: String,
    /// Response status.
    pub status: u16,
    /// Response reason phrase.
    pub reason: String,
    /// Response headers, in order.
    pub response_headers: Vec<(String, String)>,
    /// Response body.
    pub response_body: Option<Vec<u8>>,
    /// Policy state (variables, backend choice, `LastError`).
    pub state: RequestState,
    /// `trace` events, in order.
    pub traces: Vec<TraceEvent>,
    /// `emit-metric` values, in order.
    pub metrics: Vec<super::MetricEvent>,
    /// The value cache (made on first use, 16 MiB; set one to share it between requests).
    pub cache: Option<Arc<LocalCache>>,
    own_cache: std::sync::OnceLock<LocalCache>,
}

impl Default for SimpleContext {
    fn default() -> Self {
        SimpleContext {
            method: "GET".into(),
            scheme: "https".into(),
            host: "api.example.test".into(),
            port: 443,
            path: "/".into(),
            query: String::new(),
            original: None,
            request_headers: Vec::new(),
            request_body: None,
            client_ip: IpAddr::from([127, 0, 0, 1]),
            certificate: None,
            trust: None,
            sent_chain: SentChain::default(),
            deployment: Arc::new(Deployment::default()),
            matched: Vec::new(),
            request_id: "00000000-0000-0000-0000-000000000000".into(),
            status: 200,
            reason: "OK".into(),
            response_headers: Vec::new(),
            response_body: None,
            state: RequestState::default(),
            traces: Vec::new(),
            metrics: Vec::new(),
            cache: None,
            own_cache: std::sync::OnceLock::new(),
        }
    }
}

impl SimpleContext {
    /// A request with this method and `path?query`, no headers, from 127.0.0.1.
    pub fn new(method: &str, path_and_query: &str) -> SimpleContext {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        SimpleContext {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            ..Default::default()
        }
    }

    /// The same with a value cache shared with other requests.
    pub fn with_cache(mut self, cache: Arc<LocalCache>) -> SimpleContext {
        self.cache = Some(cache);
        self
    }

    /// The same with one more request header.
    pub fn with_header(mut self, name: &str, value: &str) -> SimpleContext {
        self.request_headers.push((name.into(), value.into()));
        self
    }

    /// Every value of a response header.
    pub fn response_header_values(&self, name: &str) -> Vec<&str> {
        values_of(&self.response_headers, name)
    }

    /// Every value of a request header.
    pub fn request_header_list(&self, name: &str) -> Vec<&str> {
        values_of(&self.request_headers, name)
    }

    /// The response body as text (lossy UTF-8 is not attempted: `None` when not UTF-8 or absent).
    pub fn body_text(&self) -> Option<&str> {
        self.response_body
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// The values of header `name` (any case), in order.
fn values<'a, 'n>(
    list: &'a [(String, String)],
    name: &'n str,
) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
    list.iter()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn values_of<'a>(list: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    values(list, name).collect()
}

fn joined<'a>(list: &'a [(String, String)], name: &str) -> Option<Cow<'a, str>> {
    let mut it = values(list, name);
    let first = it.next()?;
    match it.next() {
        None => Some(Cow::Borrowed(first)),
        Some(second) => {
            let mut s = format!("{first},{second}");
            for v in it {
                s.push(',');
                s.push_str(v);
            }
            Some(Cow::Owned(s))
        }
    }
}

fn write(list: &mut Vec<(String, String)>, name: &str, value: &str, how: HeaderWrite) {
    if how == HeaderWrite::Set {
        list.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }
    list.push((name.to_string(), value.to_string()));
}

impl RequestContext for SimpleContext {
    fn method(&self) -> &str {
        &self.method
    }
    fn url(&self) -> UrlView<'_> {
        UrlView {
            scheme: &self.scheme,
            host: &self.host,
            port: self.port,
            path: &self.path,
            query: &self.query,
        }
    }
    fn original_url(&self) -> UrlView<'_> {
        match &self.original {
            Some((p, q)) => UrlView {
                scheme: &self.scheme,
                host: &self.host,
                port: self.port,
                path: p,
                query: q,
            },
            None => self.url(),
        }
    }
    fn request_header(&self, name: &str) -> Option<Cow<'_, str>> {
        joined(&self.request_headers, name)
    }
    fn request_header_values(&self, name: &str) -> Vec<String> {
        self.request_header_list(name)
            .into_iter()
            .map(str::to_string)
            .collect()
    }
    fn request_headers(&self) -> Vec<(String, String)> {
        self.request_headers.clone()
    }
    fn write_request_header(&mut self, name: &str, value: &str, how: HeaderWrite) {
        write(&mut self.request_headers, name, value, how)
    }
    fn remove_request_header(&mut self, name: &str) {
        self.request_headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }
    fn set_method(&mut self, method: &str) {
        self.method = method.to_string();
    }
    fn set_query(&mut self, query: &str) {
        let path = self.path.clone();
        self.rewrite_url(&path, query);
    }
    fn rewrite_url(&mut self, path: &str, query: &str) {
        if self.original.is_none() {
            self.original = Some((self.path.clone(), self.query.clone()));
        }
        self.path = path.to_string();
        self.query = query.to_string();
    }
    fn client_ip(&self) -> IpAddr {
        self.client_ip
    }
    fn certificate(&self) -> Option<&Arc<Certificate>> {
        self.certificate.as_ref()
    }
    fn verify_certificate(
        &self,
        cert: &Certificate,
        check_revocation: bool,
    ) -> Result<(), TrustFailure> {
        match &self.trust {
            Some(t) => t
                .verify(cert, &self.sent_chain, check_revocation)
                .map(|_| ()),
            None => Err(TrustFailure::NotTrusted(
                "no trust store is configured".into(),
            )),
        }
    }
    fn certificate_issuer(&self, cert: &Certificate) -> Option<Arc<Certificate>> {
        let verified = self
            .trust
            .as_ref()?
            .verify(cert, &self.sent_chain, false)
            .ok()?;
        verified.issuer().cloned()
    }
    fn deployment(&self) -> &Deployment {
        &self.deployment
    }
    fn response_headers(&self) -> Vec<(String, String)> {
        self.response_headers.clone()
    }
    fn response_body(&self) -> Option<&[u8]> {
        self.response_body.as_deref()
    }
    fn matched_parameters(&self) -> Vec<(String, String)> {
        self.matched.clone()
    }
    fn matched_parameter(&self, name: &str) -> Option<&str> {
        self.matched
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn request_id(&self) -> &str {
        &self.request_id
    }
    fn request_body(&self) -> Option<&[u8]> {
        self.request_body.as_deref()
    }
    fn response_status(&self) -> (u16, &str) {
        (self.status, &self.reason)
    }
    fn set_response_status(&mut self, code: u16, reason: Option<&str>) {
        self.status = code;
        self.reason = reason.map_or_else(
            || crate::last_error::default_reason(code).to_string(),
            str::to_string,
        );
    }
    fn response_header(&self, name: &str) -> Option<Cow<'_, str>> {
        joined(&self.response_headers, name)
    }
    fn write_response_header(&mut self, name: &str, value: &str, how: HeaderWrite) {
        write(&mut self.response_headers, name, value, how)
    }
    fn remove_response_header(&mut self, name: &str) {
        self.response_headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }
    fn set_response_body(&mut self, body: Vec<u8>) {
        self.response_body = Some(body);
    }
    fn clear_response(&mut self) {
        self.status = 200;
        self.reason = "OK".into();
        self.response_headers.clear();
        self.response_body = None;
    }
    fn state(&self) -> &RequestState {
        &self.state
    }
    fn state_mut(&mut self) -> &mut RequestState {
        &mut self.state
    }
    fn cache(&self) -> &dyn CacheStore {
        match &self.cache {
            Some(c) => &**c,
            None => self.own_cache.get_or_init(|| LocalCache::new(16 << 20)),
        }
    }
    fn emit_metric(&mut self, metric: super::MetricEvent) {
        self.metrics.push(metric);
    }
    fn trace(&mut self, event: TraceEvent) {
        self.traces.push(event);
    }
}
