//! The proxy: Pingora's hooks running each route's compiled plan (SPEC §1, §3).
//!
//! - `request_filter`: take the snapshot the request will use to its end, read the client
//!   identity from the connection, route, run `inbound` and then `backend` up to
//!   `forward-request`; a policy that answers (return-response, an error) ends here.
//! - `upstream_peer`: the backend chosen by `set-backend-service` or the API, with its
//!   client certificate (backend credentials or `authentication-certificate`) and timeouts.
//! - `upstream_request_filter`: the rewritten URL, the backend's host and headers.
//! - `response_filter` / `response_body_filter`: `outbound`, and bodies it replaces.
//! - `fail_to_proxy`: backend failures become `BackendConnectionFailure` / `Timeout` and run
//!   `on-error`.
//! - In any of them, a `send-request` suspends the pipeline: the hook sends its request
//!   (`outcall`) and hands the result back; `send-one-way-request`s go out in the background.
//!
//! Requests never re-parse anything: plans, certificates and trust are in the snapshot.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;

use certgate_policy::Next;
use certgate_policy::PipelineResult;
use certgate_policy::Plan;
use certgate_policy::Section;
use certgate_policy::SentChain;
use certgate_policy::{ClientCertificateFailure, LastError};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::protocols::http::HttpTask;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;

mod access_log;
mod calls;
pub(crate) mod crl;
mod identity;
pub(crate) mod ocsp;
pub(crate) mod openid;
mod outcall;
pub(crate) mod revocation_wait;
mod session;
mod upstream;

use crate::boundary;
use crate::snapshot::{ClientCertRule, Snapshot};
use crate::tls::ClientIdentity;
use session::{GatewayCtx, Pending, RequestId, ResponseTarget, SessionContext};

/// The gateway service.
pub(crate) struct Gateway {
    pub state: Arc<ArcSwap<Snapshot>>,
    /// Forwarded-certificate header values already decoded (SPEC §8).
    pub forwarded: crate::forwarded::DecodeCache,
    /// The next request id (process-wide: owned by the one proxy service).
    request_ids: std::sync::atomic::AtomicU64,
}

impl Gateway {
    pub(crate) fn new(state: Arc<ArcSwap<Snapshot>>) -> Gateway {
        Gateway {
            state,
            forwarded: crate::forwarded::DecodeCache::new(4096),
            request_ids: std::sync::atomic::AtomicU64::new(1),
        }
    }

    fn next_request_id(&self) -> RequestId {
        RequestId::new(
            self.request_ids
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        )
    }
}

/// Headers that frame one HTTP/1.1 hop, never forwarded as they came (RFC 9110 §7.6.1): the
/// policy crate's list, shared with the policies that copy or store messages.
use certgate_policy::FRAMING_HEADERS as FRAMING;

/// Largest request head (headers + URL) proxied.
const MAX_REQUEST_HEAD: usize = 64 * 1024;

pub(super) fn http_error(status: u16, msg: &str) -> Box<Error> {
    Error::explain(ErrorType::HTTPStatus(status), msg.to_string())
}

impl Gateway {
    /// Runs `f` over the request with the pending response as the response: the pipeline
    /// before the backend answered, or after it failed.
    fn pending<R>(
        session: &mut Session,
        rc: &mut GatewayCtx,
        snap: &Snapshot,
        f: impl FnOnce(&mut SessionContext) -> R,
    ) -> R {
        let mut pending = std::mem::take(&mut rc.pending);
        let r = f(&mut SessionContext {
            req: session.req_header_mut(),
            rc,
            deployment: &snap.deployment,
            snapshot: snap,
            resp: ResponseTarget::Pending(&mut pending),
        });
        rc.pending = pending;
        r
    }

    /// Sends the requests the pipeline asks for (`send-request`), with the pending response as
    /// the response, until it asks for something else; then sends what `send-one-way-request`
    /// queued in the background.
    async fn sends(
        session: &mut Session,
        rc: &mut GatewayCtx,
        snap: &Arc<Snapshot>,
        plan: &Plan,
        mut next: Next,
    ) -> Next {
        let next = loop {
            match calls::perform(snap, next).await {
                Ok((cursor, answer)) => {
                    next = Self::pending(session, rc, snap, |c| plan.resume(cursor, answer, c));
                }
                Err(other) => break other,
            }
        };
        Self::one_way(rc, snap);
        next
    }

    /// The backend call of a route whose policy needs the backend's whole body (a Liquid
    /// `set-body` or `find-and-replace` after the backend call): the gateway sends the request
    /// itself (the same peer, TLS and request head as Pingora's proxying), receives the whole
    /// response (at most `max-response-body-bytes`), runs the rest of the pipeline over it and
    /// answers the client. Not streamed, so only for those routes.
    async fn whole_backend_call(
        session: &mut Session,
        rc: &mut GatewayCtx,
        snap: &Arc<Snapshot>,
        plan: &Plan,
        cursor: certgate_policy::Cursor,
    ) -> Result<()> {
        let mut cursor = cursor;
        // Response headers inbound wrote, for whichever answer goes out.
        let mut carried: Option<Vec<(String, String)>> = None;
        loop {
            if carried.is_some() {
                // `retry` around `forward-request`: a fresh call, nothing of the last answer.
                rc.pending = Pending::default();
            }
            let result = Self::exchange_whole(session, rc, snap).await;
            let extra = carried
                .get_or_insert_with(|| std::mem::take(&mut rc.carried_headers))
                .clone();
            let next = match result {
                Ok(r) => {
                    let mut headers: Vec<(String, String)> = r
                        .headers
                        .into_iter()
                        .filter(|(k, _)| !FRAMING.iter().any(|f| k.eq_ignore_ascii_case(f)))
                        .collect();
                    headers.extend(extra);
                    rc.pending = Pending {
                        status: r.status,
                        reason: r.reason,
                        headers,
                        body: Some(r.body),
                    };
                    Self::pending(session, rc, snap, |c| plan.after_backend(cursor, Ok(()), c))
                }
                Err(err) => {
                    crate::metrics::METRICS
                        .backend_errors
                        .with_label_values(&[&*err.reason])
                        .inc();
                    rc.pending = Pending::default();
                    Self::pending(session, rc, snap, |c| {
                        plan.after_backend(cursor, Err(err), c)
                    })
                }
            };
            match Box::pin(Self::sends(session, rc, snap, plan, next)).await {
                Next::CallBackend {
                    timeout,
                    cursor: again,
                } => {
                    if timeout.is_some() {
                        rc.state.forward_timeout = timeout;
                    }
                    cursor = again;
                }
                _ => return Self::respond(session, rc).await,
            }
        }
    }

    /// Sends the request to the backend and receives the whole response.
    async fn exchange_whole(
        session: &mut Session,
        rc: &mut GatewayCtx,
        snap: &Arc<Snapshot>,
    ) -> std::result::Result<outcall::Received, LastError> {
        let peer = upstream::peer(rc)
            .await
            .map_err(|e| LastError::backend_connection_failure(&e.to_string()))?;
        let mut req = session.req_header().clone();
        // What HTTP forbids a proxy to forward (Pingora strips it on its own path).
        let listed: Vec<String> = req
            .headers
            .get_all(http::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
            .collect();
        for h in FRAMING
            .iter()
            .copied()
            .chain(listed.iter().map(String::as_str))
        {
            req.remove_header(h);
        }
        prepare_upstream(rc, &mut req).map_err(|e| {
            LastError::backend_connection_failure(&format!("the backend request: {e}"))
        })?;
        // prepare_upstream framed it (Content-Length) as Pingora's path sends it.
        let body: &[u8] = match rc.body_override() {
            Some(b) => b,
            None => rc.request_body.as_deref().unwrap_or_default(),
        };
        // forward-request's timeout (else the backend's read timeout) bounds the whole call.
        let limit = rc
            .state
            .forward_timeout
            .or(peer.options.read_timeout)
            .unwrap_or(Duration::from_secs(300));
        let name = peer._address.to_string();
        let exchange = outcall::exchange_with(&peer, &name, req, body, snap.max_send_response);
        tokio::time::timeout(limit, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(certgate_policy::SendFailure::Timeout(format!(
                    "the backend did not answer within {} ms",
                    limit.as_millis()
                )))
            })
            .map_err(|f| match f {
                certgate_policy::SendFailure::Timeout(m) => LastError::timeout(&m),
                certgate_policy::SendFailure::TooLarge(m) => LastError::gateway(
                    "forward-request",
                    "ResponseTooLarge",
                    &m,
                    Section::Backend,
                    502,
                ),
                other => LastError::backend_connection_failure(other.message()),
            })
    }

    /// The calls the pipeline asks for after the backend answered, with its response as the
    /// response, until it asks for none.
    async fn upstream_calls(
        session: &mut Session,
        rc: &mut GatewayCtx,
        snap: &Arc<Snapshot>,
        plan: &Plan,
        upstream: &mut ResponseHeader,
        replace: &mut Option<Vec<u8>>,
        mut next: Next,
    ) {
        while let Ok((cursor, answer)) = calls::perform(snap, next).await {
            next = plan.resume(
                cursor,
                answer,
                &mut upstream_context(session, rc, snap, upstream, replace),
            );
        }
    }

    /// Sends the requests `send-one-way-request` queued, without waiting for them.
    fn one_way(rc: &mut GatewayCtx, snap: &Arc<Snapshot>) {
        if !rc.state.one_way.is_empty() {
            calls::send_in_background(snap, std::mem::take(&mut rc.state.one_way));
        }
    }

    /// Sends the pending response to the client.
    async fn respond(session: &mut Session, rc: &mut GatewayCtx) -> Result<()> {
        let p = std::mem::take(&mut rc.pending);
        let mut h = ResponseHeader::build(p.status, Some(p.headers.len() + 1))?;
        let _ = h.set_reason_phrase(Some(&p.reason));
        for (k, v) in &p.headers {
            let _ = h.append_header(k.clone(), v.clone());
        }
        let body = p.body.unwrap_or_default();
        h.insert_header("Content-Length", body.len().to_string())?;
        // Head and body as one batch: one write, one TLS record (third_party patch 0004).
        let tasks = if body.is_empty() {
            vec![HttpTask::Header(Box::new(h), true)]
        } else {
            vec![
                HttpTask::Header(Box::new(h), false),
                HttpTask::Body(Some(Bytes::from(body)), true),
            ]
        };
        session.write_response_tasks(tasks).await?;
        Ok(())
    }

    /// Answers with the default error response for `err`, without a plan (e.g. no route).
    async fn respond_error(
        session: &mut Session,
        rc: &mut GatewayCtx,
        err: LastError,
    ) -> Result<()> {
        rc.pending = Pending {
            status: err.status,
            reason: certgate_policy::default_reason(err.status).to_string(),
            ..Default::default()
        };
        rc.pending
            .headers
            .push(("Content-Type".into(), "application/json".into()));
        rc.pending.body = Some(certgate_policy::error_body(
            err.status,
            &err.response_message,
        ));
        rc.state.last_error = Some(err);
        Self::respond(session, rc).await
    }

    /// Answers a request refused at the boundary: counted by reason, logged like any other
    /// answer, and the connection is not reused (the client is hostile or confused).
    async fn refuse(
        session: &mut Session,
        rc: &mut GatewayCtx,
        r: boundary::Refusal,
    ) -> Result<bool> {
        crate::metrics::METRICS
            .refusals
            .with_label_values(&[r.reason])
            .inc();
        session.set_keepalive(None);
        let e = LastError::gateway("gateway", r.reason, r.message, Section::Inbound, r.status)
            .with_response_message(r.message);
        Self::respond_error(session, rc, e).await?;
        Ok(true)
    }

    /// Reads the whole request body before the plan runs, for a plan that reads
    /// `context.Request.Body`: kept (up to `limit` bytes) in Pingora's retry buffer, from which
    /// the proxy then sends it to the backend (third_party patch 0015). A body over the limit
    /// is refused 413 before it is read when its length says so, else once it passes the limit.
    async fn buffer_request_body(
        session: &mut Session,
        rc: &mut GatewayCtx,
        limit: usize,
    ) -> Result<Result<(), boundary::Refusal>> {
        if session.as_mut().is_body_empty() {
            return Ok(Ok(()));
        }
        let declared = session
            .req_header()
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Ok(Err(boundary::BODY_TOO_LARGE));
        }
        session.as_mut().enable_retry_buffering_up_to(limit);
        let mut read = 0usize;
        while let Some(chunk) = session.read_request_body().await? {
            read = read.saturating_add(chunk.len());
            if read > limit {
                return Ok(Err(boundary::BODY_TOO_LARGE));
            }
        }
        rc.request_body = Some(session.as_ref().get_retry_buffer().unwrap_or_default());
        Ok(Ok(()))
    }

    /// Host and SNI are one identity; strict hostnames hold on every request; a hostname that
    /// asks for client certificates is reachable over plain HTTP only through a trusted proxy
    /// (README, "Authentication boundary").
    fn admit(session: &Session, rc: &GatewayCtx, snap: &Snapshot) -> Result<(), boundary::Refusal> {
        let id = session
            .digest()
            .and_then(|d| d.ssl_digest.as_ref())
            .and_then(|s| s.extension.get::<ClientIdentity>());
        let rule = if rc.scheme == "https" {
            let conn = id.and_then(|i| i.hostname.as_deref()).unwrap_or("");
            // The common case, Host exactly the negotiated name (with or without a port),
            // needs no normalising.
            let exact = rc
                .host
                .strip_prefix(conn)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'));
            if !exact {
                let host = boundary::host_name(&rc.host);
                if conn != host && snap.host_rules.contains_key(host.as_ref()) {
                    return Err(boundary::MISDIRECTED);
                }
            }
            if id.is_some_and(|i| i.unreadable.is_some()) {
                return Err(boundary::UNREADABLE_CERTIFICATE);
            }
            snap.host_rules.get(conn).copied()
        } else {
            let rule = snap
                .host_rules
                .get(boundary::host_name(&rc.host).as_ref())
                .copied();
            if rule > Some(ClientCertRule::NotRequested)
                && !crate::forwarded::is_trusted(rc.client_ip, &snap.trusted_proxies)
            {
                return Err(boundary::NEEDS_TLS);
            }
            rule
        };
        if rule == Some(ClientCertRule::Strict) {
            let Some(cert) = &rc.certificate else {
                return Err(boundary::strict_refusal(ClientCertificateFailure::NotFound));
            };
            // The handshake (or an earlier request on this connection, under the same trust)
            // checked it less than a second ago: kept-alive requests skip the cache lookup.
            let generation = snap.trust.generation();
            let memo = id
                .filter(|_| rc.scheme == "https")
                .map(|i| &i.strict_passed);
            if memo.is_some_and(|m| m.fresh(generation, rc.start)) {
                return Ok(());
            }
            crate::tls::strict_check(&snap.trust, cert, false).map_err(boundary::strict_refusal)?;
            if let Some(m) = memo {
                m.record(generation, rc.start);
            }
        }
        Ok(())
    }

    /// The forwarded-certificate header (SPEC §8, README "Forwarded certificates"): from a
    /// trusted proxy the configured header is read and stays visible to policies as sent; every
    /// other spelling of it, and of the headers certgate forwards to backends, is removed before
    /// any policy runs. `Some(true)`: answered (a 400 for a header that cannot be read).
    async fn forwarded_certificate(
        &self,
        session: &mut Session,
        rc: &mut GatewayCtx,
        snap: &Arc<Snapshot>,
    ) -> Result<Option<bool>> {
        let configured = snap.forwarded_certificate.as_ref();
        let trusted = configured.is_some()
            && crate::forwarded::is_trusted(rc.client_ip, &snap.trusted_proxies);
        // Names to drop: a lookup per request is a walk over the few header names.
        let mut drop: Vec<http::HeaderName> = Vec::new();
        for name in session.req_header().headers.keys() {
            let n = name.as_str();
            let honoured = trusted && configured.is_some_and(|f| f.header == *name);
            if honoured {
                continue;
            }
            let forged = configured.is_some_and(|f| boundary::same_header(n, f.header.as_str()))
                || crate::forwarded::FORWARD_HEADERS
                    .iter()
                    .any(|h| boundary::same_header(n, h.as_str()));
            if forged && !drop.contains(name) {
                drop.push(name.clone());
            }
        }
        if !drop.is_empty() {
            crate::metrics::METRICS
                .forwarded
                .with_label_values(&["stripped"])
                .inc();
            for name in &drop {
                session.req_header_mut().remove_header(name);
            }
        }
        let Some(f) = configured.filter(|_| trusted) else {
            return Ok(None);
        };
        let mut values = session.req_header().headers.get_all(&f.header).iter();
        let Some(first) = values.next() else {
            return Ok(None);
        };
        let decoded = if values.next().is_some() {
            // Two certificates for one request: which one the proxy meant is unknowable.
            Err(crate::forwarded::ForwardedError::Malformed(
                "repeated".into(),
            ))
        } else {
            self.forwarded.decode(first.as_bytes(), f.encoding)
        };
        match decoded {
            Ok(c) => {
                crate::metrics::METRICS
                    .forwarded
                    .with_label_values(&["accepted"])
                    .inc();
                rc.certificate = Some(c);
                rc.sent_chain = SentChain::default();
                Ok(None)
            }
            Err(_) => {
                crate::metrics::METRICS
                    .forwarded
                    .with_label_values(&["rejected"])
                    .inc();
                rc.snapshot = Some(snap.clone());
                let e = LastError::gateway(
                    "forwarded-certificate",
                    "InvalidForwardedCertificate",
                    "The forwarded client certificate header cannot be read.",
                    Section::Inbound,
                    400,
                )
                .with_response_message("Invalid forwarded client certificate");
                Self::respond_error(session, rc, e).await?;
                Ok(Some(true))
            }
        }
    }

    fn identify(session: &Session, rc: &mut GatewayCtx) {
        if let Some(id) = session
            .digest()
            .and_then(|d| d.ssl_digest.as_ref())
            .and_then(|s| s.extension.get::<ClientIdentity>())
        {
            rc.certificate = id.certificate.clone();
            rc.sni = id.sni.clone();
            rc.sent_chain = id.sent_chain.clone();
            rc.scheme = "https";
        } else {
            rc.scheme = if session
                .digest()
                .and_then(|d| d.ssl_digest.as_ref())
                .is_some()
            {
                "https"
            } else {
                "http"
            };
        }
        if let Some(addr) = session.client_addr().and_then(|a| a.as_inet()) {
            rc.client_ip = addr.ip();
        }
        rc.port = session
            .server_addr()
            .and_then(|a| a.as_inet())
            .map_or(0, |a| a.port());
    }
}

// No `#[async_trait]`: the vendored Pingora's hooks return plain futures (third_party patch
// 0008), and `async fn` implements them without a box per call.
impl ProxyHttp for Gateway {
    type CTX = GatewayCtx;

    fn new_ctx(&self) -> GatewayCtx {
        GatewayCtx::default()
    }

    /// No downstream modules: Pingora's default adds a response-compression module that is
    /// disabled yet still costs an allocation and three boxed calls per request. certgate
    /// does not compress (APIM does not, without a policy).
    fn init_downstream_modules(&self, _modules: &mut pingora::modules::http::HttpModules) {}

    /// A request head Pingora could not read (third_party patch 0002): malformed or over 1 MiB
    /// (400), not complete within `request-head-timeout` (408), or cut off mid-head. Counted and
    /// logged like any other answer; no other hook runs for it.
    fn request_head_error(
        &self,
        session: &pingora::protocols::http::ServerSession,
        _error: &Error,
        status: Option<u16>,
    ) {
        let reason = match status {
            Some(400) => "MalformedRequestHead",
            Some(408) => "RequestHeadTimeout",
            _ => "RequestHeadIncomplete",
        };
        let m = &crate::metrics::METRICS;
        m.refusals.with_label_values(&[reason]).inc();
        let Some(status) = status else {
            return;
        };
        m.requests
            .with_label_values(&["", "", &status.to_string()])
            .inc();
        if self.state.load().access_log {
            access_log::refused_head(session, status, reason, &self.next_request_id());
        }
    }

    async fn request_filter(&self, session: &mut Session, rc: &mut GatewayCtx) -> Result<bool> {
        let snap = self.state.load_full();
        rc.request_id = self.next_request_id();
        Self::identify(session, rc);
        // An idle kept-alive connection is closed after `keepalive-timeout` (Pingora waits
        // forever by default); `Connection: close` stays as the client asked.
        if session.get_keepalive().is_some() {
            session.set_keepalive(Some(snap.keepalive_timeout));
        }
        // HTTP/1.1 pipelining (RFC 9112 9.3.2): Pingora otherwise closes the connection after
        // the first answer when the next request arrives early (answers stay in order either
        // way; Pingora carries the flag over to the connection's next requests).
        session.as_downstream_mut().set_pipelining_enabled(true);
        if let Err(r) = boundary::check_framing(session.req_header()) {
            rc.snapshot = Some(snap);
            return Self::refuse(session, rc, r).await;
        }
        {
            let req = session.req_header();
            rc.host = req
                .headers
                .get("host")
                .and_then(|h| h.to_str().ok())
                .or_else(|| req.uri.authority().map(|a| a.as_str()))
                .unwrap_or("")
                .to_string();
            match boundary::normalize_path(req.uri.path()) {
                Ok(p) => rc.path = p.into_owned(),
                Err(r) => {
                    rc.path = req.uri.path().to_string();
                    rc.snapshot = Some(snap);
                    return Self::refuse(session, rc, r).await;
                }
            }
            rc.query = req.uri.query().unwrap_or("").to_string();
        }
        // Bounded request heads: a defined 431 instead of whatever a backend does with them.
        let head_bytes: usize = session
            .req_header()
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum::<usize>()
            + rc.path.len()
            + rc.query.len();
        if head_bytes > MAX_REQUEST_HEAD {
            rc.snapshot = Some(snap);
            let e = LastError::gateway(
                "gateway",
                "RequestHeaderTooLarge",
                "The request headers are too large.",
                Section::Inbound,
                431,
            )
            .with_response_message("Request header fields too large");
            Self::respond_error(session, rc, e).await?;
            return Ok(true);
        }
        if let Some(answered) = self.forwarded_certificate(session, rc, &snap).await? {
            return Ok(answered);
        }
        // A client seen for the first time may need a first CRL or OCSP answer: wait for it
        // (bounded) before the strict check or a policy reads the status.
        if let Some(cert) = &rc.certificate {
            if snap.trust.checks_online() && !snap.revocation_wait.is_zero() {
                revocation_wait::settle(&snap.trust, cert, &rc.sent_chain, snap.revocation_wait)
                    .await;
            }
        }
        if let Err(r) = Self::admit(session, rc, &snap) {
            rc.snapshot = Some(snap);
            return Self::refuse(session, rc, r).await;
        }
        let method = session.req_header().method.clone();
        // A CORS preflight is answered by the cors policy of the route it asks about (APIM:
        // unless that route defines OPTIONS itself).
        let preflight = (method == http::Method::OPTIONS)
            .then(|| {
                let h = &session.req_header().headers;
                h.get("origin")?;
                h.get("access-control-request-method")?.to_str().ok()
            })
            .flatten()
            .map(str::to_string);
        let found = snap.router.route(&rc.host, method.as_str(), &rc.path);
        let found = match (&found, &preflight) {
            (Err(_), Some(asked)) => snap.router.route(&rc.host, asked, &rc.path),
            _ => found,
        };
        let route = found.map(|m| {
            rc.api = Some(m.api.name.clone());
            rc.operation = m.operation.map(|o| o.name.clone());
            (m.plan.clone(), m.params, m.api.backend.clone())
        });
        rc.snapshot = Some(snap.clone());
        let (plan, params, backend) = match route {
            Ok(r) => r,
            Err(_) => {
                Self::respond_error(session, rc, LastError::operation_not_found()).await?;
                return Ok(true);
            }
        };
        rc.plan = Some(plan.clone());
        rc.params = params;
        rc.api_backend = backend;
        if preflight.is_some()
            && &*plan.route.operation_method != "OPTIONS"
            && Self::pending(session, rc, &snap, |c| plan.preflight(c)).is_some()
        {
            Self::respond(session, rc).await?;
            return Ok(true);
        }
        // Boxed: the body read's state lives on the heap only for the routes that read bodies,
        // not in every request's future (inline, `request_filter` stopped being inlined and
        // cost 840 instructions of its own per kept-alive GET in callgrind).
        // A route whose policy reads the request body, or calls the backend whole (it reads
        // the backend's body), holds the client's body first.
        if plan.reads_request_body || plan.reads_response_body {
            let read = Box::pin(Self::buffer_request_body(
                session,
                rc,
                snap.max_request_body,
            ));
            if let Err(r) = read.await? {
                return Self::refuse(session, rc, r).await;
            }
        }
        let next = Self::pending(session, rc, &snap, |c| plan.start(c));
        let next = match next {
            Next::Send { .. }
            | Next::Token { .. }
            | Next::Sleep { .. }
            | Next::SendAll { .. }
            | Next::Count { .. }
            | Next::Cache { .. } => Box::pin(Self::sends(session, rc, &snap, &plan, next)).await,
            next => {
                Self::one_way(rc, &snap);
                next
            }
        };
        match next {
            Next::CallBackend { timeout, cursor } => {
                if timeout.is_some() {
                    rc.state.forward_timeout = timeout;
                }
                if plan.reads_response_body {
                    Box::pin(Self::whole_backend_call(session, rc, &snap, &plan, cursor)).await?;
                    return Ok(true);
                }
                rc.cursor = Some(cursor);
                Ok(false)
            }
            Next::Finish(_)
            | Next::Send { .. }
            | Next::Token { .. }
            | Next::Sleep { .. }
            | Next::SendAll { .. }
            | Next::Count { .. }
            | Next::Cache { .. } => {
                Self::respond(session, rc).await?;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        rc: &mut GatewayCtx,
    ) -> Result<Box<HttpPeer>> {
        upstream::peer(rc).await
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream: &mut RequestHeader,
        rc: &mut GatewayCtx,
    ) -> Result<()> {
        prepare_upstream(rc, upstream)
    }

    /// The client's body streams to the backend, unless the policy decided it (inbound
    /// `set-body`, or none once it was read without `preserveContent`): then the client's
    /// chunks are dropped and the decided body goes out at the end.
    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        rc: &mut GatewayCtx,
    ) -> Result<()> {
        if let Some(b) = rc.body_override() {
            *body = Some(if end_of_stream {
                Bytes::copy_from_slice(b)
            } else {
                // Empty, not None: None would end the upstream body early.
                Bytes::new()
            });
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        upstream: &mut ResponseHeader,
        rc: &mut GatewayCtx,
    ) -> Result<()> {
        let (Some(snap), Some(plan)) = (rc.snapshot.clone(), rc.plan.clone()) else {
            return Ok(());
        };
        let mut replace = rc.replace_body.take();
        for (k, v) in std::mem::take(&mut rc.carried_headers) {
            // A name or value HTTP forbids is not sent (the pending response drops them too).
            let _ = upstream.insert_header(k, v);
        }
        // Whatever the pipeline ends with, the response is this one as it left it.
        let next = match rc.cursor.take() {
            Some(cursor) => plan.after_backend(
                cursor,
                Ok(()),
                &mut upstream_context(session, rc, &snap, upstream, &mut replace),
            ),
            None => Next::Finish(PipelineResult::Proxied),
        };
        // After the backend: sends and retry waits in backend, outbound and on-error (tokens
        // are inbound only). Boxed: their state stays out of every proxied request's future.
        if matches!(
            next,
            Next::Send { .. } | Next::Sleep { .. } | Next::SendAll { .. } | Next::Cache { .. }
        ) {
            Box::pin(Self::upstream_calls(
                session,
                rc,
                &snap,
                &plan,
                upstream,
                &mut replace,
                next,
            ))
            .await;
        }
        Self::one_way(rc, &snap);
        if let Some(b) = &replace {
            upstream.remove_header("Transfer-Encoding");
            upstream.insert_header("Content-Length", b.len().to_string())?;
        }
        rc.replace_body = replace;
        Ok(())
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        rc: &mut GatewayCtx,
    ) -> Result<Option<Duration>> {
        if let Some(replacement) = &rc.replace_body {
            // Swallow the backend's body; emit ours at the end.
            *body = if end_of_stream {
                Some(Bytes::from(replacement.clone()))
            } else {
                None
            };
        }
        Ok(None)
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, rc: &mut GatewayCtx) {
        access_log::request(session, rc);
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        rc: &mut GatewayCtx,
    ) -> FailToProxy {
        let err = match e.etype() {
            ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout => {
                LastError::timeout(&format!("backend timed out: {e}"))
            }
            ErrorType::HTTPStatus(code) => LastError::gateway(
                "gateway",
                "InternalError",
                &e.to_string(),
                Section::Backend,
                *code,
            ),
            // The client went away before its answer (nginx's 499): its connection closed, or
            // its HTTP/2 stream was reset or broke. Nothing can be sent, but the request is
            // counted and logged, and the backend connection is dropped with it.
            ErrorType::ConnectionClosed | ErrorType::H2Error
                if e.esource() == &ErrorSource::Downstream =>
            {
                crate::metrics::METRICS
                    .refusals
                    .with_label_values(&["ClientClosedRequest"])
                    .inc();
                LastError::gateway(
                    "gateway",
                    "ClientClosedRequest",
                    "The client closed the connection before the answer.",
                    Section::Backend,
                    499,
                )
            }
            // The client's side broke: a body whose framing cannot be read (malformed chunks,
            // shorter than its Content-Length). The backend connection is dropped with it.
            _ if e.esource() == &ErrorSource::Downstream => {
                crate::metrics::METRICS
                    .refusals
                    .with_label_values(&["InvalidRequestBody"])
                    .inc();
                LastError::gateway(
                    "gateway",
                    "InvalidRequestBody",
                    "The request body cannot be read.",
                    Section::Backend,
                    400,
                )
                .with_response_message("The request body cannot be read.")
            }
            _ if e.esource() == &ErrorSource::Upstream => LastError::backend_connection_failure(
                &format!("backend connection failed: {}", e.etype().as_str()),
            ),
            _ => LastError::gateway(
                "gateway",
                "InternalError",
                "Internal server error",
                Section::Backend,
                500,
            ),
        };
        let code = err.status;
        // A client that broke its own request is a refusal (counted above), not a backend error.
        if e.esource() != &ErrorSource::Downstream {
            crate::metrics::METRICS
                .backend_errors
                .with_label_values(&[&*err.reason])
                .inc();
        }
        rc.pending = Pending::default();
        let driving = (rc.plan.clone(), rc.snapshot.clone(), rc.cursor.take());
        if let (Some(plan), Some(snap), Some(cursor)) = driving {
            let next = Self::pending(session, rc, &snap, |c| {
                plan.after_backend(cursor, Err(err), c)
            });
            // on-error may send requests of its own.
            Box::pin(Self::sends(session, rc, &snap, &plan, next)).await;
        } else {
            // No pipeline to hand the failure to (none ran, or the backend's response is
            // already on its way): the bare error status.
            rc.state.last_error = Some(err);
            rc.pending = Pending {
                status: code,
                ..Default::default()
            };
        }
        let status = rc.pending.status;
        let _ = Self::respond(session, rc).await;
        FailToProxy {
            error_code: status,
            can_reuse_downstream: false,
        }
    }
}

/// The request the backend gets: the URL below the backend's base, its Host, the framing of
/// a body the policy decided, the verified client certificate when configured, and the
/// backend's credential headers (Pingora's upstream hook, and the buffered backend call).
fn prepare_upstream(rc: &GatewayCtx, upstream: &mut RequestHeader) -> Result<()> {
    let snap = rc
        .snapshot
        .clone()
        .ok_or_else(|| http_error(500, "no snapshot"))?;
    let up = rc
        .upstream
        .as_ref()
        .ok_or_else(|| http_error(500, "no upstream chosen"))?;
    // The path below the API prefix goes to the backend's base path (APIM's model).
    let api_prefix_len = rc.plan.as_ref().map_or(0, |p| p.route.api_path.len());
    let rest = if rc.path_rewritten {
        rc.path.as_str()
    } else {
        rc.path.get(api_prefix_len..).unwrap_or("")
    };
    // The client's path was normalised before routing; a path a policy rewrote is
    // normalised here, so nothing leaves the backend's base path.
    let rest = boundary::normalize_path(rest).map_err(|r| http_error(r.status, r.message))?;
    let rest = rest.as_ref();
    let base = up.url.base_path.as_str();
    // The common case (API at "/", backend without a base path, URL not rewritten) keeps
    // the client's request target as it is: nothing to build or re-parse.
    let unchanged = base.is_empty()
        && !rest.is_empty()
        && upstream.uri.authority().is_none()
        && upstream.uri.path() == rest
        && upstream.uri.query().unwrap_or("") == rc.query;
    if !unchanged {
        let mut target = String::with_capacity(base.len() + rest.len() + rc.query.len() + 2);
        target.push_str(base);
        target.push_str(rest);
        if target.is_empty() {
            target.push('/');
        }
        if !rc.query.is_empty() {
            target.push('?');
            target.push_str(&rc.query);
        }
        upstream.set_uri(
            target
                .parse()
                .map_err(|_| http_error(500, "rewritten URL is not valid"))?,
        );
    }
    // A typed name and a shared value: no name to parse, no value to copy.
    upstream.insert_header(http::header::HOST, up.url.host_header.clone())?;
    // A body the policy decided (request_body_filter sends it), or the client's when it was
    // buffered whole, is framed by its length.
    let known = rc
        .body_override()
        .map(<[u8]>::len)
        .or(rc.request_body.as_ref().map(bytes::Bytes::len));
    if let Some(n) = known {
        upstream.remove_header(&http::header::TRANSFER_ENCODING);
        upstream.insert_header(http::header::CONTENT_LENGTH, n.to_string())?;
    }
    if let (Some(format), Some(cert)) = (snap.forward_client_certificate, &rc.certificate) {
        // Only a certificate that verifies is vouched for to the backend.
        if snap.trust.verify(cert, &rc.sent_chain, false).is_ok() {
            let (name, value) = crate::forwarded::encode(cert, format);
            upstream.insert_header(name, value)?;
        }
    }
    // A credential header replaces the one the request carries (APIM: `Host` is how a
    // backend called by IP gets its name); further values of the same name are added.
    let headers = up.backend.as_ref().map_or(&[][..], |b| &b.headers[..]);
    for (i, (k, v)) in headers.iter().enumerate() {
        if headers[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(k)) {
            upstream.append_header(k.clone(), v.as_str())?;
        } else {
            upstream.insert_header(k.clone(), v.as_str())?;
        }
    }
    Ok(())
}

/// The request with the backend's response as the response: the pipeline after the backend
/// answered.
fn upstream_context<'a>(
    session: &'a mut Session,
    rc: &'a mut GatewayCtx,
    snap: &'a Snapshot,
    upstream: &'a mut ResponseHeader,
    replace: &'a mut Option<Vec<u8>>,
) -> SessionContext<'a> {
    SessionContext {
        req: session.req_header_mut(),
        rc,
        deployment: &snap.deployment,
        snapshot: snap,
        resp: ResponseTarget::Upstream(upstream, replace),
    }
}

#[cfg(test)]
mod tests {
    use super::RequestId;

    #[test]
    fn request_ids_are_sixteen_hex_digits() {
        assert_eq!(RequestId::new(0).as_str(), "0000000000000000");
        assert_eq!(RequestId::new(0xab_cdef).as_str(), "0000000000abcdef");
        assert_eq!(RequestId::new(u64::MAX).as_str(), "ffffffffffffffff");
        assert_eq!(
            RequestId::new(0x0123_4567_89ab_cdef).as_str(),
            format!("{:016x}", 0x0123_4567_89ab_cdef_u64)
        );
    }
}
