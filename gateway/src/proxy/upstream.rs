//! Where a request goes: the backend `set-backend-service` or the API names, resolved (host
//! names off the runtime's threads, within the backend's connect timeout), with its TLS
//! settings, timeouts and the gateway's client certificate (`authentication-certificate`, else
//! the backend's credentials).
//!
//! Must not: run policy; it reads what the pipeline left in the request state.

use std::sync::Arc;
use std::time::Duration;

use certgate_policy::{BackendCertificate, BackendTarget};
use pingora::prelude::*;
use pingora::upstreams::peer::HttpPeer;
use pingora::utils::tls::CertKey;

use super::http_error;
use super::session::{GatewayCtx, Pending, Upstream};
use crate::snapshot::{BackendSpec, BackendUrl, Snapshot};
use std::net::SocketAddr;

/// The peer for this request's backend call.
pub(super) async fn peer(rc: &mut GatewayCtx) -> Result<Box<HttpPeer>> {
    let snap = rc
        .snapshot
        .clone()
        .ok_or_else(|| http_error(500, "no snapshot"))?;
    // set-backend-service wins over the API's default backend.
    let backend_id = match (&rc.state.backend, &rc.api_backend) {
        (Some(BackendTarget::BackendId(id)), _) => Some(&**id),
        (None, Some(crate::routing::BackendRef::Id(id))) => Some(&**id),
        _ => None,
    };
    let backend: Option<Arc<BackendSpec>> = backend_id
        .map(|id| {
            snap.backends
                .get(id)
                .cloned()
                .ok_or_else(|| http_error(500, "unknown backend id"))
        })
        .transpose()?;
    let parse = |u: &str| {
        BackendUrl::parse(u)
            .map(Arc::new)
            .map_err(|e| http_error(500, &e))
    };
    let url = match (&backend, &rc.state.backend, &rc.api_backend) {
        (Some(s), _, _) => s.url.clone(),
        (None, Some(BackendTarget::BaseUrl(u)), _) => parse(u)?,
        (None, None, Some(crate::routing::BackendRef::Url(u))) => parse(u)?,
        _ => return Err(http_error(500, "the API has no backend")),
    };
    let spec = backend.as_deref();
    let sni = spec
        .and_then(|s| s.sni.clone())
        .unwrap_or_else(|| url.host.clone());
    let mut peer = HttpPeer::new(resolve(&url, spec).await?, url.https, sni);
    if let Some(s) = spec {
        apply_backend(&mut peer, s);
    }
    if let Some(t) = rc.state.forward_timeout {
        peer.options.read_timeout = Some(t.max(Duration::from_millis(1)));
    }
    peer.client_cert_key = client_certificate(&snap, rc.state.backend_certificate.as_ref(), spec)?;
    // Response headers inbound wrote (rate-limit's remaining calls) go out on the backend's
    // response; nothing else of the pending response does.
    rc.carried_headers = std::mem::take(&mut rc.pending.headers);
    rc.pending = Pending::default();
    rc.upstream = Some(Upstream { url, backend });
    Ok(Box::new(peer))
}

/// The socket address of a URL's host. IP literals were parsed at load time; a host name is
/// resolved off the runtime's threads (std's resolver blocks) on every call, so DNS changes
/// are followed. A slow resolver gets no more than the backend's connect timeout.
pub(super) async fn resolve(url: &BackendUrl, spec: Option<&BackendSpec>) -> Result<SocketAddr> {
    if let Some(a) = url.ip {
        return Ok(a);
    }
    let within = spec.map_or(Duration::from_secs(5), |s| s.connect_timeout);
    tokio::time::timeout(
        within,
        tokio::net::lookup_host((url.host.as_str(), url.port)),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .and_then(|mut a| a.next())
    .ok_or_else(|| {
        Error::explain(
            ErrorType::ConnectNoRoute,
            format!("backend host {} does not resolve", url.host),
        )
        .into_up()
    })
}

/// A configured backend's TLS settings and timeouts on a peer.
pub(super) fn apply_backend(peer: &mut HttpPeer, s: &BackendSpec) {
    peer.options.connection_timeout = Some(s.connect_timeout);
    peer.options.read_timeout = Some(s.read_timeout);
    peer.options.verify_cert = s.validate_chain;
    peer.options.verify_hostname = s.validate_name;
    peer.options.ca = s.ca_certificates.clone();
}

/// The client certificate to present: the one a policy chose (`authentication-certificate`),
/// else the backend's credentials.
pub(super) fn client_certificate(
    snap: &Snapshot,
    chosen: Option<&BackendCertificate>,
    spec: Option<&BackendSpec>,
) -> Result<Option<Arc<CertKey>>> {
    let cert_id: Option<String> = match chosen {
        Some(BackendCertificate::Id(id)) => Some(id.to_string()),
        Some(BackendCertificate::Thumbprint(t)) => snap
            .certificates
            .iter()
            .find(|(_, m)| m.cert.thumbprint().eq_ignore_ascii_case(t))
            .map(|(id, _)| id.clone()),
        Some(BackendCertificate::Pfx { body, password }) => {
            let p = certgate_policy::crypto::pkcs12::Pkcs12::from_der(body)
                .and_then(|p| p.parse2(password.as_deref().unwrap_or("")))
                .map_err(|_| {
                    http_error(
                        500,
                        "authentication-certificate body is not a PFX or the password is wrong",
                    )
                })?;
            if let (Some(c), Some(k)) = (p.cert, p.pkey) {
                let mut chain = vec![c];
                chain.extend(
                    p.ca.map(|s| s.into_iter().collect::<Vec<_>>())
                        .unwrap_or_default(),
                );
                return Ok(Some(Arc::new(CertKey::new(chain, k))));
            }
            None
        }
        None => spec.and_then(|s| s.client_certificate.clone()),
    };
    let Some(id) = cert_id else {
        return Ok(None);
    };
    let m = snap
        .certificates
        .get(&id)
        .ok_or_else(|| http_error(500, "unknown client certificate"))?;
    Ok(m.key.as_ref().map(|k| {
        let mut chain = vec![m.cert.x509().clone()];
        chain.extend(m.chain.iter().cloned());
        Arc::new(CertKey::new(chain, k.clone()))
    }))
}
