//! What a finished request leaves behind: its metrics (requests, latency, client-certificate
//! validations), the `trace` events it collected and its access-log line; and the access-log
//! line of a request whose head could not be read.
//!
//! Must not: change the response (it runs after it was sent).

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::Arc;

use prometheus::{Histogram, IntCounter};

use pingora::protocols::http::ServerSession;
use pingora::proxy::Session;

use super::session::{GatewayCtx, RequestId};
use crate::tls::ClientIdentity;

/// A request counter and latency histogram (`certgate_requests_total`,
/// `certgate_request_duration_seconds`) for one API, operation and status.
struct Handles {
    api: Option<Arc<str>>,
    operation: Option<Arc<str>>,
    status: u16,
    requests: IntCounter,
    latency: Histogram,
}

/// How many combinations each thread keeps.
const HANDLES_KEPT: usize = 8;

thread_local! {
    /// The handles of the last combinations this thread counted, most recent first.
    /// `with_label_values` hashes the labels and takes a read lock, twice per request (~330
    /// instructions); a hit here compares two addresses and a number. The entries hold the
    /// names' `Arc`s, so an address cannot be reused by another name while it is compared.
    static HANDLES: RefCell<Vec<Handles>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with the request's counter and histogram.
fn with_handles(
    rc: &GatewayCtx,
    status: Option<http::StatusCode>,
    f: impl FnOnce(&IntCounter, &Histogram),
) {
    let code = status.map_or(0, |s| s.as_u16());
    let same = |a: &Option<Arc<str>>, b: &Option<Arc<str>>| match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    };
    HANDLES.with(|cell| {
        let Ok(mut kept) = cell.try_borrow_mut() else {
            // Not reached (nothing in `f` counts a request); counted all the same.
            let (requests, latency) = handles(rc, status);
            return f(&requests, &latency);
        };
        let found = kept.iter().position(|h| {
            h.status == code && same(&h.api, &rc.api) && same(&h.operation, &rc.operation)
        });
        let i = match found {
            Some(i) => i,
            None => {
                if kept.len() == HANDLES_KEPT {
                    kept.pop();
                }
                let (requests, latency) = handles(rc, status);
                kept.push(Handles {
                    api: rc.api.clone(),
                    operation: rc.operation.clone(),
                    status: code,
                    requests,
                    latency,
                });
                kept.len() - 1
            }
        };
        // Most recent first: a thread serving a few routes finds them in the first entries.
        if i != 0 {
            kept[..=i].rotate_right(1);
        }
        f(&kept[0].requests, &kept[0].latency);
    });
}

/// The counter and histogram of a request's API, operation and status, from the registry.
fn handles(rc: &GatewayCtx, status: Option<http::StatusCode>) -> (IntCounter, Histogram) {
    let m = &crate::metrics::METRICS;
    let api = rc.api.as_deref().unwrap_or("");
    let operation = rc.operation.as_deref().unwrap_or("");
    // `StatusCode::as_str` is the code's digits without formatting (0: no response written).
    let digits = status.as_ref().map_or("0", |s| s.as_str());
    (
        m.requests.with_label_values(&[api, operation, digits]),
        m.latency.with_label_values(&[api]),
    )
}

/// The metrics, trace events and access-log line of a request that ran.
pub(super) fn request(session: &Session, rc: &mut GatewayCtx) {
    let status = session.response_written().map(|r| r.status);
    let m = &crate::metrics::METRICS;
    let elapsed = rc.start.elapsed();
    let (api, operation) = (
        rc.api.as_deref().unwrap_or(""),
        rc.operation.as_deref().unwrap_or(""),
    );
    with_handles(rc, status, |requests, latency| {
        requests.inc();
        latency.observe(elapsed.as_secs_f64());
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every request is counted in its own series, whichever handles the thread keeps: more
    /// combinations than it keeps, in turn, and names that are equal but not the same
    /// allocation (a reload builds new ones).
    #[test]
    fn kept_handles_count_each_request_in_its_own_series() {
        let m = &crate::metrics::METRICS;
        let apis: Vec<Arc<str>> = (0..3).map(|i| Arc::from(format!("kept-api-{i}"))).collect();
        let ops: Vec<Arc<str>> = (0..2).map(|i| Arc::from(format!("kept-op-{i}"))).collect();
        let statuses = [
            None,
            Some(http::StatusCode::OK),
            Some(http::StatusCode::BAD_GATEWAY),
        ];
        let count = |api: &Arc<str>, op: &Arc<str>, status: Option<http::StatusCode>| {
            // A fresh allocation of the same names every other time, as after a reload.
            let mut rc = GatewayCtx {
                api: Some(Arc::from(&**api)),
                operation: Some(op.clone()),
                ..GatewayCtx::default()
            };
            with_handles(&rc, status, |r, l| {
                r.inc();
                l.observe(0.001);
            });
            rc.api = Some(api.clone());
            with_handles(&rc, status, |r, l| {
                r.inc();
                l.observe(0.001);
            });
        };
        for _ in 0..3 {
            for api in &apis {
                for op in &ops {
                    for &status in &statuses {
                        count(api, op, status);
                    }
                }
            }
        }
        // Without an operation or an API (a request refused before routing).
        let rc = GatewayCtx::default();
        for _ in 0..4 {
            with_handles(&rc, None, |r, _| r.inc());
        }
        for api in &apis {
            for op in &ops {
                for status in statuses {
                    let digits = status.as_ref().map_or("0", |s| s.as_str());
                    let got = m.requests.with_label_values(&[api, op, digits]).get();
                    assert_eq!(got, 6, "{api} {op} {digits}");
                }
            }
            let observed = m.latency.with_label_values(&[api]).get_sample_count();
            assert_eq!(observed, 36, "{api}");
        }
        assert!(m.requests.with_label_values(&["", "", "0"]).get() >= 4);
    }
}
