//! What a finished request leaves behind: its metrics (requests, latency, client-certificate
//! validations), the `trace` events it collected and its access-log line; and the access-log
//! line of a request whose head could not be read.
//!
//! Must not: change the response (it runs after it was sent).

use std::net::IpAddr;

use pingora::protocols::http::ServerSession;
use pingora::proxy::Session;

use super::session::{GatewayCtx, RequestId};
use crate::tls::ClientIdentity;

/// The metrics, trace events and access-log line of a request that ran.
pub(super) fn request(session: &Session, rc: &mut GatewayCtx) {
    let status = session.response_written().map(|r| r.status);
    let m = &crate::metrics::METRICS;
    let elapsed = rc.start.elapsed();
    let (api, operation) = (
        rc.api.as_deref().unwrap_or(""),
        rc.operation.as_deref().unwrap_or(""),
    );
    // `StatusCode::as_str` is the code's digits without formatting (0: no response written).
    m.requests
        .with_label_values(&[api, operation, status.as_ref().map_or("0", |s| s.as_str())])
        .inc();
    m.latency
        .with_label_values(&[api])
        .observe(elapsed.as_secs_f64());
    let reason = rc
        .state
        .last_error
        .as_ref()
        .and_then(|e| e.certificate)
        .map(|f| f.reason());
    if let Some(r) = &reason {
        m.validations.with_label_values(&[r]).inc();
    } else if rc
        .plan
        .as_ref()
        .is_some_and(|p| p.validates_client_certificate())
    {
        m.validations.with_label_values(&["Valid"]).inc();
    }
    let access_log = rc.snapshot.as_ref().is_none_or(|s| s.access_log);
    if rc.traces.is_empty() && !access_log {
        return;
    }
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for t in rc.traces.drain(..) {
        m.trace_events.inc();
        let metadata = t
            .metadata
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
            .collect();
        let severity = format!("{:?}", t.severity).to_lowercase();
        crate::log::emit(&crate::log::TraceLine {
            kind: "trace",
            time: &time,
            source: &t.source,
            severity: &severity,
            message: &t.message,
            metadata,
            request_id: rc.request_id.as_str(),
        });
    }
    if !access_log {
        return;
    }
    let cert = rc.certificate.as_ref();
    crate::log::emit(&crate::log::AccessLine {
        kind: "access",
        time: &time,
        client: rc.client_ip,
        sni: rc.sni.as_deref(),
        method: session.req_header().method.as_str(),
        path: rc
            .original
            .as_ref()
            .map_or(rc.path.as_str(), |(p, _)| p.as_str()),
        status: status.map_or(0, |s| s.as_u16()),
        latency_ms: (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0,
        api,
        operation,
        certificate_thumbprint: cert.map(|c| &**c.thumbprint()),
        certificate_subject: cert.map(|c| &**c.subject()),
        validation_reason: reason,
        request_id: rc.request_id.as_str(),
    });
}

/// The access-log line of a request whose head could not be read (`reason`).
pub(super) fn refused_head(session: &ServerSession, status: u16, reason: &str, id: &RequestId) {
    let client = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    let sni = session
        .digest()
        .and_then(|d| d.ssl_digest.as_ref())
        .and_then(|s| s.extension.get::<ClientIdentity>())
        .and_then(|i| i.sni.as_deref());
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    crate::log::emit(&crate::log::AccessLine {
        kind: "access",
        time: &time,
        client,
        sni,
        method: "",
        path: "",
        status,
        latency_ms: 0.0,
        api: "",
        operation: "",
        certificate_thumbprint: None,
        certificate_subject: None,
        validation_reason: Some(reason),
        request_id: id.as_str(),
    });
}
