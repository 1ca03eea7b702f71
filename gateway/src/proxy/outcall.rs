//! Sends the requests policies send (`send-request`, `send-one-way-request`) with Pingora's own
//! HTTP connector: pooled connections, and TLS exactly as for backend calls. A URL whose
//! scheme, host and port are a configured backend's gets that backend's TLS settings (trust
//! anchors, name checks, SNI, client certificate, connect timeout); any other URL is verified
//! against the system's trust anchors. `authentication-certificate` inside the policy chooses
//! the client certificate.
//!
//! Bounded: the policy's `timeout` covers the whole exchange (APIM's covers the status line
//! and headers; certgate also bounds the body by it), and a response body over
//! `max-response-body-bytes` fails with `ResponseTooLarge`.
//!
//! Must not: run policy. It sends one request and says what came back.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::Bytes;
use certgate_policy::{Outcall, SendFailure, SendResult, SentResponse};
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::prelude::*;
use pingora::upstreams::peer::HttpPeer;

use super::upstream;
use crate::snapshot::{BackendSpec, BackendUrl, Snapshot};

/// One connector (and connection pool) for all policy requests of the process.
static CONNECTOR: LazyLock<Connector> = LazyLock::new(|| Connector::new(None));

/// How long a pooled connection to a policy's destination may stay idle.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// Sends `call` and counts the result under `policy`.
pub(super) async fn send(snap: &Snapshot, call: &Outcall, policy: &str) -> SendResult {
    let exchange = exchange(snap, call, snap.max_send_response);
    let result = match tokio::time::timeout(call.timeout, exchange).await {
        Ok(r) => r,
        Err(_) => Err(SendFailure::Timeout(format!(
            "No response from {} within {} s.",
            origin_of(&call.url),
            call.timeout.as_secs()
        ))),
    };
    let label = match &result {
        Ok(_) => "ok",
        Err(e) => e.reason(),
    };
    crate::metrics::METRICS
        .sent_requests
        .with_label_values(&[policy, label])
        .inc();
    result
}

/// `scheme://host[:port]` of a URL, for messages (never its user information, path or query,
/// which may carry secrets).
fn origin_of(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    let authority = &url[after_scheme..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{}{host}", &url[..after_scheme])
}

/// A `GET` of `url` by the gateway itself (a CRL): at most `max` body bytes within
/// `timeout`; the body of a 200, else why not.
pub(super) async fn get(
    snap: &Snapshot,
    url: &str,
    timeout: std::time::Duration,
    max: usize,
) -> Result<Vec<u8>, String> {
    fetch(snap, "GET", url, Vec::new(), Vec::new(), timeout, max).await
}

/// A request the gateway makes for itself (a CRL, an OCSP query): at most `max` body bytes
/// within `timeout`; the body of a 200, else why not.
pub(super) async fn fetch(
    snap: &Snapshot,
    method: &str,
    url: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: std::time::Duration,
    max: usize,
) -> Result<Vec<u8>, String> {
    let call = Outcall {
        method: method.into(),
        url: url.to_string(),
        headers,
        body,
        timeout,
        certificate: None,
        identity: None,
    };
    let r = match tokio::time::timeout(timeout, exchange(snap, &call, max)).await {
        Ok(r) => r.map_err(|e| format!("{}: {}", origin_of(url), e.message()))?,
        Err(_) => return Err(format!("{}: no answer within {timeout:?}", origin_of(url))),
    };
    if r.status != 200 {
        return Err(format!("{} answered {}", origin_of(url), r.status));
    }
    Ok(r.body.to_vec())
}

async fn exchange(snap: &Snapshot, call: &Outcall, max: usize) -> SendResult {
    let uri: http::Uri = call.url.parse().map_err(|_| {
        SendFailure::Invalid(format!("'{}' is not a valid URL.", origin_of(&call.url)))
    })?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(SendFailure::Invalid("The URL is not absolute.".into()));
    };
    if authority.as_str().contains('@') {
        return Err(SendFailure::Invalid(
            "A URL with user information is not sent; use an Authorization header.".into(),
        ));
    }
    let target =
        BackendUrl::parse(&format!("{scheme}://{authority}")).map_err(SendFailure::Invalid)?;
    let spec = backend_for(snap, &target);
    let sni = spec
        .and_then(|s| s.sni.clone())
        .unwrap_or_else(|| target.host.clone());
    let addr = upstream::resolve(&target, spec).await.map_err(|e| {
        SendFailure::Connect(format!("{}: {}", target.authority, e.etype().as_str()))
    })?;
    let mut peer = HttpPeer::new(addr, target.https, sni);
    if let Some(s) = spec {
        upstream::apply_backend(&mut peer, s);
    }
    peer.options.read_timeout = Some(call.timeout);
    peer.client_cert_key = upstream::client_certificate(snap, call.certificate.as_ref(), spec)
        .map_err(|e| SendFailure::Connect(e.to_string()))?;

    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = RequestHeader::build(
        call.method.as_bytes(),
        path.as_bytes(),
        Some(call.headers.len() + 2),
    )
    .map_err(|_| {
        SendFailure::Invalid(format!("'{}' is not a valid method or path.", call.method))
    })?;
    let invalid = |k: &str| SendFailure::Invalid(format!("The header '{k}' is not valid."));
    req.insert_header(http::header::HOST, target.host_header.clone())
        .map_err(|_| invalid("Host"))?;
    for (k, v) in &call.headers {
        req.append_header(k.clone(), v.as_str())
            .map_err(|_| invalid(k))?;
    }
    let sends_body =
        !call.body.is_empty() || matches!(call.method.as_str(), "POST" | "PUT" | "PATCH");
    if sends_body {
        req.insert_header("Content-Length", call.body.len().to_string())
            .map_err(|_| invalid("Content-Length"))?;
    }

    let r = exchange_with(&peer, &target.authority, req, &call.body, max).await?;
    let headers = r
        .headers
        .into_iter()
        .map(|(k, v)| (Arc::from(k), Arc::from(v)))
        .collect();
    Ok(SentResponse::new(
        r.status,
        &r.reason,
        headers,
        r.body.into(),
    ))
}

/// A response received whole.
pub(super) struct Received {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Sends `req` (and `body`) to `peer` and reads the response whole, at most `max` body bytes
/// (a policy's request, or the backend call of a route whose policy needs the backend's whole
/// body); `name` is the peer in messages.
pub(super) async fn exchange_with(
    peer: &HttpPeer,
    name: &str,
    req: RequestHeader,
    body: &[u8],
    max: usize,
) -> Result<Received, SendFailure> {
    let failed = |e: Box<Error>| match e.etype() {
        ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout => {
            SendFailure::Timeout(format!("{name}: {}", e.etype().as_str()))
        }
        _ => SendFailure::Connect(format!("{name}: {}", e.etype().as_str())),
    };
    let (mut session, _) = CONNECTOR.get_http_session(peer).await.map_err(failed)?;
    session
        .write_request_header(Box::new(req))
        .await
        .map_err(failed)?;
    if !body.is_empty() {
        session
            .write_request_body(Bytes::copy_from_slice(body), true)
            .await
            .map_err(failed)?;
    }
    session.finish_request_body().await.map_err(failed)?;
    session.read_response_header().await.map_err(failed)?;
    let Some(head) = session.response_header() else {
        return Err(SendFailure::Connect(format!("{name}: no response")));
    };
    let status = head.status.as_u16();
    let reason = head
        .get_reason_phrase()
        .or(head.status.canonical_reason())
        .unwrap_or("")
        .to_string();
    let headers = head
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut out: Vec<u8> = Vec::new();
    while let Some(chunk) = session.read_response_body().await.map_err(failed)? {
        if out.len() + chunk.len() > max {
            return Err(SendFailure::TooLarge(format!(
                "The response from {name} is larger than {max} bytes (max-response-body-bytes)."
            )));
        }
        out.extend_from_slice(&chunk);
    }
    CONNECTOR
        .release_http_session(session, peer, Some(POOL_IDLE))
        .await;
    Ok(Received {
        status,
        reason,
        headers,
        body: out,
    })
}

/// The configured backend with the URL's scheme, host and port (the first by id when several
/// share it).
fn backend_for<'s>(snap: &'s Snapshot, url: &BackendUrl) -> Option<&'s BackendSpec> {
    snap.backends
        .values()
        .filter(|b| {
            b.url.https == url.https
                && b.url.port == url.port
                && b.url.host.eq_ignore_ascii_case(&url.host)
        })
        .min_by(|a, b| a.id.cmp(&b.id))
        .map(|b| &**b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_name_only_the_origin() {
        assert_eq!(
            super::origin_of("https://idp.example:8443/token?secret=1"),
            "https://idp.example:8443"
        );
        assert_eq!(super::origin_of("http://h"), "http://h");
        assert_eq!(super::origin_of("http://h?x"), "http://h");
        assert_eq!(super::origin_of("http://user:secret@h:1/p"), "http://h:1");
    }
}
