//! Client certificates that arrive in a header from a TLS-terminating proxy (SPEC §8), and
//! the verified certificate forwarded on to backends.
//!
//! The header is honoured only when the connection comes from a configured trusted proxy;
//! from anyone else it is removed before any policy runs, so a client can never authenticate
//! by writing the header itself. Garbage from a trusted proxy is a 400, not a missing
//! certificate: the proxy is misconfigured and the operator should hear about it.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use certgate_policy::Certificate;
use ipnet::IpNet;

/// How a trusted proxy encodes the certificate in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertEncoding {
    /// URL-encoded PEM (Application Gateway, nginx `$ssl_client_escaped_cert`).
    UrlPem,
    /// Base64 of the DER.
    Base64Der,
    /// RFC 9440 `Client-Cert`: `:base64-DER:`.
    Rfc9440,
}

/// How the gateway passes the verified client certificate on to backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardFormat {
    /// RFC 9440 `Client-Cert`.
    Rfc9440,
    /// Envoy's `X-Forwarded-Client-Cert`.
    Xfcc,
}

/// Largest header value accepted (a certificate chain in PEM is a few KiB).
pub(crate) const MAX_HEADER: usize = 16 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ForwardedError {
    TooLarge,
    Malformed(String),
}

pub(crate) fn is_trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    proxies.iter().any(|n| n.contains(&ip))
}

/// Decoded forwarded certificates by header value. A proxy sends the same few certificates
/// again and again, and decoding one (percent/base64, DER, the .NET renderings) costs ~100 µs
/// where a lookup costs a hash of the value. Only successful decodes are kept; bounded, and
/// cleared when full (a miss only costs one decode).
pub(crate) struct DecodeCache {
    /// Keyed ahash: a value is a few KiB of PEM, which SipHash reads slowly, and a client
    /// cannot choose colliding values against a random key.
    map: dashmap::DashMap<Box<[u8]>, Arc<Certificate>, ahash::RandomState>,
    capacity: usize,
}

impl DecodeCache {
    pub(crate) fn new(capacity: usize) -> DecodeCache {
        DecodeCache {
            map: dashmap::DashMap::with_hasher(ahash::RandomState::new()),
            capacity: capacity.max(1),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// [`decode`], remembered. The key includes the encoding, so one value read two ways
    /// never shares an entry.
    pub(crate) fn decode(
        &self,
        value: &[u8],
        encoding: CertEncoding,
    ) -> Result<Arc<Certificate>, ForwardedError> {
        if value.len() > MAX_HEADER {
            return Err(ForwardedError::TooLarge);
        }
        let mut key = Vec::with_capacity(value.len() + 1);
        key.push(encoding as u8);
        key.extend_from_slice(value);
        if let Some(hit) = self.map.get(key.as_slice()) {
            return Ok(hit.clone());
        }
        let cert = Arc::new(decode(value, encoding)?);
        if self.map.len() >= self.capacity {
            self.map.clear();
        }
        self.map.insert(key.into_boxed_slice(), cert.clone());
        Ok(cert)
    }
}

/// Decodes a forwarded certificate header value.
pub(crate) fn decode(value: &[u8], encoding: CertEncoding) -> Result<Certificate, ForwardedError> {
    if value.len() > MAX_HEADER {
        return Err(ForwardedError::TooLarge);
    }
    let bad = |m: &str| ForwardedError::Malformed(m.to_string());
    let text = std::str::from_utf8(value)
        .map_err(|_| bad("not ASCII"))?
        .trim();
    let b64 = |s: &str| {
        let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(clean.as_bytes())
            .map_err(|_| bad("not base64"))
    };
    let cert = match encoding {
        CertEncoding::UrlPem => {
            let pem = percent_encoding::percent_decode_str(text).collect::<Vec<u8>>();
            Certificate::from_bytes(&pem)
        }
        CertEncoding::Base64Der => Certificate::from_der(&b64(text)?),
        CertEncoding::Rfc9440 => {
            let inner = text
                .strip_prefix(':')
                .and_then(|t| t.strip_suffix(':'))
                .ok_or_else(|| bad("RFC 9440 Client-Cert must be :base64:"))?;
            Certificate::from_der(&b64(inner)?)
        }
    };
    cert.map_err(|e| ForwardedError::Malformed(e.to_string()))
}

/// The header name and value that forward `cert` to a backend.
pub(crate) fn encode(cert: &Arc<Certificate>, format: ForwardFormat) -> (&'static str, String) {
    match format {
        ForwardFormat::Rfc9440 => (
            "Client-Cert",
            format!(
                ":{}:",
                base64::engine::general_purpose::STANDARD.encode(&**cert.raw_data())
            ),
        ),
        ForwardFormat::Xfcc => {
            let pem = cert.x509().to_pem().unwrap_or_default();
            let escaped = percent_encoding::utf8_percent_encode(
                &String::from_utf8_lossy(&pem),
                percent_encoding::NON_ALPHANUMERIC,
            )
            .to_string();
            let hash: String = cert.sha256().iter().map(|b| format!("{b:02x}")).collect();
            let subject = cert.subject().replace('\\', "\\\\").replace('"', "\\\"");
            (
                "X-Forwarded-Client-Cert",
                format!("Hash={hash};Cert=\"{escaped}\";Subject=\"{subject}\""),
            )
        }
    }
}

/// Both headers are always removed from what clients send, whichever format is configured.
/// (Typed names: a lookup by `&str` re-validates and lower-cases the name on every request.)
pub(crate) const FORWARD_HEADERS: [http::HeaderName; 3] = [
    http::HeaderName::from_static("client-cert"),
    http::HeaderName::from_static("client-cert-chain"),
    http::HeaderName::from_static("x-forwarded-client-cert"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use certgate_policy::pki::{DemoPki, KeyKind};

    #[test]
    fn cache_returns_the_same_certificate_and_stays_bounded() {
        let p = certgate_policy::pki::DemoPki::generate(certgate_policy::pki::KeyKind::EcdsaP256)
            .unwrap();
        let cache = DecodeCache::new(2);
        let value = |c: &certgate_policy::pki::Issued| {
            percent_encoding::percent_encode(&c.cert_pem(), percent_encoding::NON_ALPHANUMERIC)
                .to_string()
        };
        let (a, b, c) = (value(&p.valid), value(&p.expired), value(&p.unregistered));
        let first = cache.decode(a.as_bytes(), CertEncoding::UrlPem).unwrap();
        let again = cache.decode(a.as_bytes(), CertEncoding::UrlPem).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(&**first.subject(), "CN=Valid Client");
        // The same bytes read as another encoding are not a hit (and here not a certificate).
        assert!(cache.decode(a.as_bytes(), CertEncoding::Base64Der).is_err());
        cache.decode(b.as_bytes(), CertEncoding::UrlPem).unwrap();
        cache.decode(c.as_bytes(), CertEncoding::UrlPem).unwrap();
        assert!(cache.len() <= 2);
        assert!(cache.decode(b"garbage", CertEncoding::UrlPem).is_err());
    }

    #[test]
    fn encodings_round_trip_and_garbage_is_refused() {
        let p = DemoPki::generate(KeyKind::EcdsaP256).unwrap();
        let pem = p.valid.cert_pem();
        let der = p.valid.cert_der();
        let url =
            percent_encoding::percent_encode(&pem, percent_encoding::NON_ALPHANUMERIC).to_string();
        let want = Certificate::from_der(&der).unwrap();
        for (v, enc) in [
            (url.clone(), CertEncoding::UrlPem),
            (
                base64::engine::general_purpose::STANDARD.encode(&der),
                CertEncoding::Base64Der,
            ),
            (
                format!(
                    ":{}:",
                    base64::engine::general_purpose::STANDARD.encode(&der)
                ),
                CertEncoding::Rfc9440,
            ),
        ] {
            assert_eq!(
                decode(v.as_bytes(), enc).unwrap().thumbprint(),
                want.thumbprint()
            );
        }
        assert!(matches!(
            decode(b"%%%garbage", CertEncoding::UrlPem),
            Err(ForwardedError::Malformed(_))
        ));
        assert!(matches!(
            decode(b"not base64!", CertEncoding::Base64Der),
            Err(ForwardedError::Malformed(_))
        ));
        assert!(matches!(
            decode(b"AAAA", CertEncoding::Rfc9440),
            Err(ForwardedError::Malformed(_))
        ));
        assert!(matches!(
            decode(&vec![b'A'; MAX_HEADER + 1], CertEncoding::Base64Der),
            Err(ForwardedError::TooLarge)
        ));
        let (name, value) = encode(&Arc::new(want), ForwardFormat::Rfc9440);
        assert_eq!(name, "Client-Cert");
        assert_eq!(
            decode(value.as_bytes(), CertEncoding::Rfc9440)
                .unwrap()
                .subject()
                .as_ref(),
            "CN=Valid Client"
        );
        assert!(is_trusted(
            "::ffff:10.1.2.3".parse().unwrap(),
            &["10.0.0.0/8".parse().unwrap()]
        ));
        assert!(!is_trusted(
            "11.1.2.3".parse().unwrap(),
            &["10.0.0.0/8".parse().unwrap()]
        ));
    }
}
