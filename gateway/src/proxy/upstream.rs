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
    let cert_id: Option<&str> = match chosen {
        Some(BackendCertificate::Id(id)) => Some(id),
        Some(BackendCertificate::Thumbprint(t)) => snap
            .certificates
            .iter()
            .find(|(_, m)| m.cert.thumbprint().eq_ignore_ascii_case(t))
            .map(|(id, _)| id.as_str()),
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
        None => spec.and_then(|s| s.client_certificate.as_deref()),
    };
    let Some(id) = cert_id else {
        return Ok(None);
    };
    let m = snap
        .certificates
        .get(id)
        .ok_or_else(|| http_error(500, "unknown client certificate"))?;
    Ok(m.client.clone())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use certgate_policy::crypto::asn1::{Asn1Integer, Asn1Time};
    use certgate_policy::crypto::bn::BigNum;
    use certgate_policy::crypto::ec::{EcGroup, EcKey};
    use certgate_policy::crypto::hash::MessageDigest;
    use certgate_policy::crypto::nid::Nid;
    use certgate_policy::crypto::pkey::{PKey, Private};
    use certgate_policy::crypto::x509::{X509Builder, X509NameBuilder, X509};
    use pingora::upstreams::peer::{HttpPeer, Peer};
    use pingora::utils::tls::CertKey;

    /// A self-signed certificate named `cn` with serial number 1.
    fn serial_one(cn: &str) -> (X509, PKey<Private>) {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", cn).unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let one = Asn1Integer::from_bn(&BigNum::from_u32(1).unwrap()).unwrap();
        b.set_serial_number(&one).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (b.build(), key)
    }

    /// Pooled backend connections are told apart by the client certificate they were
    /// authenticated with (third_party patch 0030): two certificates with the same serial
    /// number (common in private PKIs) must not share them.
    #[test]
    fn pooled_connections_are_per_client_certificate_even_with_one_serial() {
        let (a, key_a) = serial_one("client A");
        let (b, key_b) = serial_one("client B");
        let hash = |cert: &X509, key: &PKey<Private>| {
            let mut peer = HttpPeer::new("127.0.0.1:9443", true, "backend.test".into());
            peer.client_cert_key = Some(Arc::new(CertKey::new(vec![cert.clone()], key.clone())));
            peer.reuse_hash()
        };
        assert_ne!(hash(&a, &key_a), hash(&b, &key_b));
        assert_eq!(hash(&a, &key_a), hash(&a, &key_a));
        let plain = HttpPeer::new("127.0.0.1:9443", true, "backend.test".into()).reuse_hash();
        assert_ne!(plain, hash(&a, &key_a));
    }
}
