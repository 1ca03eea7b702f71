//! The per-request state a request carries between Pingora's hooks ([`GatewayCtx`]), the
//! response a policy builds before (or instead of) the backend's, and [`SessionContext`]: the
//! policy crate's `RequestContext` over a Pingora session, which is all a running plan sees.
//!
//! Must not: decide anything; it reads and writes what the pipeline asks.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use certgate_policy::Certificate;
use certgate_policy::Cursor;
use certgate_policy::Plan;
use certgate_policy::{Deployment, HeaderWrite, RequestContext, RequestState, TraceEvent, UrlView};
use certgate_policy::{SentChain, TrustFailure};
use pingora::http::{RequestHeader, ResponseHeader};

use crate::snapshot::{BackendSpec, BackendUrl, Snapshot};

/// The response a policy builds before (or instead of) the backend's.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) status: u16,
    pub(super) reason: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Option<Vec<u8>>,
}

impl Default for Pending {
    fn default() -> Self {
        Pending {
            status: 200,
            reason: "OK".into(),
            headers: Vec::new(),
            body: None,
        }
    }
}

/// Per-request state carried between the hooks.
pub(crate) struct GatewayCtx {
    pub(super) snapshot: Option<Arc<Snapshot>>,
    pub(super) plan: Option<Arc<Plan>>,
    pub(super) api_backend: Option<crate::routing::BackendRef>,
    pub(super) params: Vec<(String, String)>,
    pub(super) certificate: Option<Arc<Certificate>>,
    pub(super) sent_chain: SentChain,
    pub(super) client_ip: IpAddr,
    pub(super) scheme: &'static str,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) path: String,
    pub(super) query: String,
    pub(super) original: Option<(String, String)>,
    /// `rewrite-uri` changed the path: it is the backend's, not below the API's prefix.
    pub(super) path_rewritten: bool,
    /// Response headers written before the backend call, for the backend's response.
    pub(super) carried_headers: Vec<(String, String)>,
    pub(super) request_id: RequestId,
    pub(super) state: RequestState,
    pub(super) pending: Pending,
    /// Where the pipeline resumes once the backend answered (or failed).
    pub(super) cursor: Option<Cursor>,
    /// A body that replaces the backend's (outbound set-body, or an error response there).
    pub(super) replace_body: Option<Vec<u8>>,
    pub(super) traces: Vec<TraceEvent>,
    /// The matched API's and operation's names (the route's own, shared); None before routing.
    pub(super) api: Option<Arc<str>>,
    pub(super) operation: Option<Arc<str>>,
    pub(super) sni: Option<Arc<str>>,
    pub(super) start: std::time::Instant,
    /// The backend chosen in `upstream_peer`, for `upstream_request_filter`.
    pub(super) upstream: Option<Upstream>,
    /// The request body, read before the plan ran (plans that read `context.Request.Body`).
    pub(super) request_body: Option<bytes::Bytes>,
}

impl GatewayCtx {
    /// The request body the policy decided, if it did: inbound `set-body`'s, or an empty one
    /// once `context.Request.Body` was read without `preserveContent` (APIM's rule).
    pub(super) fn body_override(&self) -> Option<&[u8]> {
        if let Some(b) = &self.state.request_body {
            return Some(b);
        }
        self.state
            .request_body_consumed
            .load(std::sync::atomic::Ordering::Relaxed)
            .then_some(&[][..])
    }
}

/// A request's id: a process-wide counter as 16 lower-case hex digits, kept inline so that
/// naming a request allocates nothing.
pub(super) struct RequestId([u8; 16]);

impl RequestId {
    pub(super) fn new(n: u64) -> RequestId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut b = [0u8; 16];
        for (i, d) in b.iter_mut().enumerate() {
            *d = HEX[((n >> ((15 - i) * 4)) & 0xf) as usize];
        }
        RequestId(b)
    }

    pub(super) fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or("0000000000000000")
    }
}

/// A resolved backend: its URL and, for a configured backend entity, its settings.
pub(super) struct Upstream {
    pub(super) url: Arc<BackendUrl>,
    pub(super) backend: Option<Arc<BackendSpec>>,
}

impl Default for GatewayCtx {
    fn default() -> Self {
        GatewayCtx {
            snapshot: None,
            plan: None,
            api_backend: None,
            params: Vec::new(),
            certificate: None,
            sent_chain: SentChain::default(),
            client_ip: IpAddr::from([0, 0, 0, 0]),
            scheme: "https",
            host: String::new(),
            port: 0,
            path: String::new(),
            query: String::new(),
            original: None,
            path_rewritten: false,
            carried_headers: Vec::new(),
            request_id: RequestId::new(0),
            state: RequestState::default(),
            pending: Pending::default(),
            cursor: None,
            replace_body: None,
            traces: Vec::new(),
            api: None,
            operation: None,
            sni: None,
            start: std::time::Instant::now(),
            upstream: None,
            request_body: None,
        }
    }
}

/// Where a hook's "response" is: the one a policy builds, or the backend's.
pub(super) enum ResponseTarget<'a> {
    Pending(&'a mut Pending),
    Upstream(&'a mut ResponseHeader, &'a mut Option<Vec<u8>>),
}

/// [`RequestContext`] over Pingora's request header and the per-request state: what a running
/// plan sees of the session.
pub(super) struct SessionContext<'a> {
    pub(super) req: &'a mut RequestHeader,
    pub(super) rc: &'a mut GatewayCtx,
    pub(super) deployment: &'a Deployment,
    pub(super) snapshot: &'a Snapshot,
    pub(super) resp: ResponseTarget<'a>,
}

fn joined(values: Vec<&str>) -> Option<Cow<'_, str>> {
    match values.len() {
        0 => None,
        1 => Some(Cow::Borrowed(values[0])),
        _ => Some(Cow::Owned(values.join(","))),
    }
}

impl RequestContext for SessionContext<'_> {
    fn expression_budget(&self) -> certgate_policy::ExpressionBudget {
        self.snapshot.expression_budget
    }
    fn method(&self) -> &str {
        self.req.method.as_str()
    }
    fn url(&self) -> UrlView<'_> {
        UrlView {
            scheme: self.rc.scheme,
            host: &self.rc.host,
            port: self.rc.port,
            path: &self.rc.path,
            query: &self.rc.query,
        }
    }
    fn original_url(&self) -> UrlView<'_> {
        match &self.rc.original {
            Some((p, q)) => UrlView {
                scheme: self.rc.scheme,
                host: &self.rc.host,
                port: self.rc.port,
                path: p,
                query: q,
            },
            None => self.url(),
        }
    }
    fn request_header(&self, name: &str) -> Option<Cow<'_, str>> {
        joined(
            self.req
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect(),
        )
    }
    fn request_header_values(&self, name: &str) -> Vec<String> {
        self.req
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }
    fn request_headers(&self) -> Vec<(String, String)> {
        self.req
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect()
    }
    fn write_request_header(&mut self, name: &str, value: &str, how: HeaderWrite) {
        let name = name.to_string();
        let value = value.to_string();
        let _ = match how {
            HeaderWrite::Set => self.req.insert_header(name, value),
            HeaderWrite::Append => self.req.append_header(name, value).map(|_| ()),
        };
    }
    fn remove_request_header(&mut self, name: &str) {
        self.req.remove_header(name);
    }
    fn set_method(&mut self, method: &str) {
        // The policy checked it is a token, which http accepts as a method.
        if let Ok(m) = http::Method::from_bytes(method.as_bytes()) {
            self.req.set_method(m);
        }
    }
    fn rewrite_url(&mut self, path: &str, query: &str) {
        self.set_query(query);
        self.rc.path = path.to_string();
        self.rc.path_rewritten = true;
    }
    fn set_query(&mut self, query: &str) {
        if self.rc.original.is_none() {
            self.rc.original = Some((self.rc.path.clone(), self.rc.query.clone()));
        }
        self.rc.query = query.to_string();
    }
    fn client_ip(&self) -> IpAddr {
        self.rc.client_ip
    }
    fn certificate(&self) -> Option<&Arc<Certificate>> {
        self.rc.certificate.as_ref()
    }
    fn verify_certificate(
        &self,
        cert: &Certificate,
        check_revocation: bool,
    ) -> Result<(), TrustFailure> {
        self.snapshot
            .trust
            .verify(cert, &self.rc.sent_chain, check_revocation)
            .map(|_| ())
    }
    fn certificate_issuer(&self, cert: &Certificate) -> Option<Arc<Certificate>> {
        self.snapshot
            .trust
            .verify(cert, &self.rc.sent_chain, false)
            .ok()?
            .issuer()
            .cloned()
    }
    fn deployment(&self) -> &Deployment {
        self.deployment
    }
    fn matched_parameters(&self) -> Vec<(String, String)> {
        self.rc.params.clone()
    }
    fn matched_parameter(&self, name: &str) -> Option<&str> {
        self.rc
            .params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn request_id(&self) -> &str {
        self.rc.request_id.as_str()
    }
    fn elapsed(&self) -> std::time::Duration {
        self.rc.start.elapsed()
    }
    fn request_body(&self) -> Option<&[u8]> {
        self.rc.request_body.as_deref()
    }
    fn response_status(&self) -> (u16, &str) {
        match &self.resp {
            ResponseTarget::Pending(p) => (p.status, &p.reason),
            ResponseTarget::Upstream(r, _) => {
                (r.status.as_u16(), r.status.canonical_reason().unwrap_or(""))
            }
        }
    }
    fn set_response_status(&mut self, code: u16, reason: Option<&str>) {
        let reason = reason.map_or_else(
            || certgate_policy::default_reason(code).to_string(),
            str::to_string,
        );
        match &mut self.resp {
            ResponseTarget::Pending(p) => {
                p.status = code;
                p.reason = reason;
            }
            ResponseTarget::Upstream(r, _) => {
                let _ = r.set_status(code);
                let _ = r.set_reason_phrase(Some(&reason));
            }
        }
    }
    fn response_headers(&self) -> Vec<(String, String)> {
        match &self.resp {
            ResponseTarget::Pending(p) => p.headers.clone(),
            ResponseTarget::Upstream(r, _) => r
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect(),
        }
    }
    fn response_header(&self, name: &str) -> Option<Cow<'_, str>> {
        match &self.resp {
            ResponseTarget::Pending(p) => joined(
                p.headers
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
                    .collect(),
            ),
            ResponseTarget::Upstream(r, _) => joined(
                r.headers
                    .get_all(name)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect(),
            ),
        }
    }
    fn write_response_header(&mut self, name: &str, value: &str, how: HeaderWrite) {
        match &mut self.resp {
            ResponseTarget::Pending(p) => {
                if how == HeaderWrite::Set {
                    p.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
                }
                p.headers.push((name.to_string(), value.to_string()));
            }
            ResponseTarget::Upstream(r, _) => {
                let _ = match how {
                    HeaderWrite::Set => r.insert_header(name.to_string(), value.to_string()),
                    HeaderWrite::Append => r
                        .append_header(name.to_string(), value.to_string())
                        .map(|_| ()),
                };
            }
        }
    }
    fn remove_response_header(&mut self, name: &str) {
        match &mut self.resp {
            ResponseTarget::Pending(p) => p.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name)),
            ResponseTarget::Upstream(r, _) => {
                r.remove_header(name);
            }
        }
    }
    fn response_body(&self) -> Option<&[u8]> {
        match &self.resp {
            ResponseTarget::Pending(p) => p.body.as_deref(),
            ResponseTarget::Upstream(_, replace) => replace.as_deref(),
        }
    }
    fn set_response_body(&mut self, body: Vec<u8>) {
        match &mut self.resp {
            ResponseTarget::Pending(p) => p.body = Some(body),
            ResponseTarget::Upstream(_, replace) => **replace = Some(body),
        }
    }
    fn clear_response(&mut self) {
        match &mut self.resp {
            ResponseTarget::Pending(p) => **p = Pending::default(),
            ResponseTarget::Upstream(r, replace) => {
                // The backend's head gives way to an empty 200; its body is swallowed.
                if let Ok(fresh) = ResponseHeader::build(200, None) {
                    **r = fresh;
                }
                **replace = Some(Vec::new());
            }
        }
    }
    fn state(&self) -> &RequestState {
        &self.rc.state
    }
    fn state_mut(&mut self) -> &mut RequestState {
        &mut self.rc.state
    }
    fn cache(&self) -> &dyn certgate_policy::CacheStore {
        &*self.snapshot.value_cache
    }
    fn emit_metric(&mut self, metric: certgate_policy::MetricEvent) {
        crate::metrics::emit_custom(&metric);
    }
    fn trace(&mut self, event: TraceEvent) {
        self.rc.traces.push(event);
    }
}
