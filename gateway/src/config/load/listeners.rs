//! Loading, section by section: Listeners and hostnames, the admin address, trusted proxies and
//! expression limits.
//!
//! One `impl Loader` block per configuration section (as Pingora spreads `HttpProxy` over
//! files): it reports errors through the `Loader` and returns its part of the snapshot, which
//! `run` in `mod.rs` assembles. Must not: serve requests.

use super::*;

/// The largest request body buffered for a policy that reads it, unless configured.
const DEFAULT_MAX_REQUEST_BODY: usize = 1 << 20;
/// Default bound of the value cache: 64 MiB.
const DEFAULT_VALUE_CACHE_BYTES: u64 = 64 << 20;

impl Loader {
    pub(super) fn listeners(&mut self, list: &[schema::Listener]) -> Vec<ListenerSpec> {
        let mut out = Vec::new();
        let mut addresses: Vec<SocketAddr> = Vec::new();
        for l in list {
            let Some(address) = self.address(&l.address) else {
                continue;
            };
            if let Some(other) = addresses.iter().find(|a| same_socket(**a, address)) {
                self.at(
                    &l.address,
                    if *other == address {
                        format!("two listeners on {address}")
                    } else {
                        format!("{address} overlaps the listener on {other} (same port, one of them on every address)")
                    },
                );
            }
            addresses.push(address);
            if l.tls && l.hostnames.is_empty() {
                self.at(
                    &l.address,
                    "a TLS listener needs at least one hostname with a server certificate",
                );
            }
            if !l.tls && !l.hostnames.is_empty() {
                self.at(
                    &l.address,
                    "a plain listener has no hostnames (they configure TLS)",
                );
            }
            let mut hostnames: Vec<HostnameSpec> = Vec::new();
            let mut defaults = 0;
            for h in &l.hostnames {
                let host = h.host.value.trim().to_ascii_lowercase();
                if host.is_empty() || host.contains(['/', ' ', ':']) {
                    self.at(&h.host, format!("'{}' is not a host name", h.host.value));
                    continue;
                }
                if hostnames.iter().any(|x| x.host == host) {
                    self.at(
                        &h.host,
                        format!("hostname '{host}' appears twice on this listener"),
                    );
                    continue;
                }
                if h.default {
                    defaults += 1;
                    if defaults > 1 {
                        self.at(&h.host, "more than one default hostname on this listener");
                    }
                }
                let Some(certificate) = self.key_pair(&h.certificate, &host) else {
                    continue;
                };
                let staple = if h.ocsp_stapling {
                    let cert = certificate.cert.x509();
                    let url = certgate_policy::ocsp_urls(cert).into_iter().next();
                    let entry = match (url, certificate.chain.first()) {
                        (Some(url), Some(issuer)) => {
                            crate::proxy::ocsp::REGISTRY.entry_for(&url, cert, issuer)
                        }
                        _ => None,
                    };
                    if entry.is_none() {
                        self.at(
                            &h.host,
                            format!("ocsp-stapling for '{host}': the certificate names no OCSP responder (Authority Information Access) or its issuer is not in the chain"),
                        );
                    }
                    entry
                } else {
                    None
                };
                hostnames.push(HostnameSpec {
                    host,
                    default: h.default,
                    certificate,
                    negotiate_client_certificate: h.negotiate_client_certificate,
                    strict: h.strict,
                    staple,
                });
            }
            if defaults == 0 {
                if let Some(first) = hostnames.first_mut() {
                    first.default = true;
                }
            }
            let min_tls_version = match l.min_tls_version.as_ref().map(|v| v.value.as_str()) {
                None | Some("1.2") => MinTlsVersion::Tls12,
                Some("1.3") => MinTlsVersion::Tls13,
                Some(other) => {
                    if let Some(v) = &l.min_tls_version {
                        self.at(
                            v,
                            format!("min-tls-version '{other}': expected \"1.2\" or \"1.3\""),
                        );
                    }
                    MinTlsVersion::Tls12
                }
            };
            let read_buffer = match &l.read_buffer_bytes {
                None => DEFAULT_READ_BUFFER,
                Some(v) if (1024..=1 << 20).contains(&v.value) => v.value as usize,
                Some(v) => {
                    self.at(
                        v,
                        format!("read-buffer-bytes {}: expected 1024 to 1048576", v.value),
                    );
                    DEFAULT_READ_BUFFER
                }
            };
            let key_exchange_groups =
                l.key_exchange_groups
                    .as_ref()
                    .and_then(|g| match crate::tls::key_exchange_groups(&g.value) {
                        Ok(list) => Some(list),
                        Err(e) => {
                            self.at(g, format!("key-exchange-groups: {e}"));
                            None
                        }
                    });
            let tls13_cipher_suites = match &l.tls13_cipher_suites {
                None => crate::snapshot::Tls13Suite::default_order(),
                Some(v) => match crate::snapshot::Tls13Suite::parse_list(&v.value) {
                    Ok(list) => list,
                    Err(e) => {
                        self.at(v, format!("tls13-cipher-suites: {e}"));
                        crate::snapshot::Tls13Suite::default_order()
                    }
                },
            };
            out.push(ListenerSpec {
                address,
                read_buffer,
                key_exchange_groups,
                tls13_cipher_suites,
                tls: l.tls,
                http2: l.http2,
                min_tls_version,
                session_resumption: l.session_resumption,
                hostnames,
            });
        }
        out
    }

    /// The expression budget, the largest request body buffered for policies that read it,
    /// and the largest response body a `send-request` reads.
    pub(super) fn expression_budget(
        &mut self,
        limits: Option<&schema::ExpressionLimits>,
    ) -> (certgate_policy::ExpressionBudget, usize, usize) {
        let mut b = certgate_policy::ExpressionBudget::default();
        let mut body = DEFAULT_MAX_REQUEST_BODY;
        let mut response = DEFAULT_MAX_REQUEST_BODY;
        let Some(l) = limits else {
            return (b, body, response);
        };
        for (v, slot) in [
            (&l.max_string_bytes, &mut b.max_string),
            (&l.max_collection_items, &mut b.max_items),
            (&l.max_bytes_per_evaluation, &mut b.max_produced),
            (&l.max_request_body_bytes, &mut body),
            (&l.max_response_body_bytes, &mut response),
        ] {
            if let Some(v) = v {
                if (1..=1 << 32).contains(&v.value) {
                    *slot = v.value as usize;
                } else {
                    self.at(v, format!("{}: expected 1 to 4294967296", v.value));
                }
            }
        }
        (b, body, response)
    }

    /// The value cache: the previous generation's when its bound is unchanged.
    pub(super) fn value_cache(
        &mut self,
        settings: Option<&schema::CacheSettings>,
        previous: Option<&Arc<certgate_policy::LocalCache>>,
    ) -> Arc<certgate_policy::LocalCache> {
        let mut max = DEFAULT_VALUE_CACHE_BYTES;
        if let Some(v) = settings.and_then(|s| s.max_bytes.as_ref()) {
            if (1..=1 << 40).contains(&v.value) {
                max = v.value;
            } else {
                self.at(v, format!("{}: expected 1 to 1099511627776", v.value));
            }
        }
        match previous {
            Some(p) if p.max_bytes() == max => p.clone(),
            _ => Arc::new(certgate_policy::LocalCache::new(max)),
        }
    }

    pub(super) fn trusted_proxies(&mut self, list: &[S<String>]) -> Vec<IpNet> {
        let mut out = Vec::new();
        for p in list {
            let v = p.value.trim();
            let net = v
                .parse::<IpNet>()
                .or_else(|_| v.parse::<std::net::IpAddr>().map(IpNet::from));
            match net {
                Ok(n) => out.push(n),
                Err(_) => self.at(
                    p,
                    format!("'{v}' is not an IP address or CIDR such as 10.0.0.0/8"),
                ),
            }
        }
        out
    }
}

/// Whether two listening addresses take the same socket: the same port on the same address, or
/// on every address (`0.0.0.0`, or `[::]`, which on Linux takes IPv4's too).
///
/// Why it is an error rather than left to the kernel: Pingora keys the sockets it opens by
/// address, so the admin server on a listener's address would share that listener's socket and
/// take some of its connections (each side answering the other's clients), not fail to bind.
pub(super) fn same_socket(a: SocketAddr, b: SocketAddr) -> bool {
    let every = |x: SocketAddr, y: SocketAddr| {
        x.ip().is_unspecified() && (x.is_ipv6() || x.is_ipv4() == y.is_ipv4())
    };
    a.port() == b.port() && (a.ip() == b.ip() || every(a, b) || every(b, a))
}

#[cfg(test)]
mod tests {
    use super::same_socket;

    #[test]
    fn sockets_overlap_on_one_port_and_a_shared_or_wildcard_address() {
        let s = |a: &str| a.parse().unwrap();
        assert!(same_socket(s("127.0.0.1:1"), s("127.0.0.1:1")));
        assert!(same_socket(s("0.0.0.0:1"), s("127.0.0.1:1")));
        assert!(same_socket(s("127.0.0.1:1"), s("0.0.0.0:1")));
        assert!(same_socket(s("[::]:1"), s("127.0.0.1:1")));
        assert!(same_socket(s("[::1]:1"), s("[::]:1")));
        assert!(!same_socket(s("127.0.0.1:1"), s("127.0.0.1:2")));
        assert!(!same_socket(s("127.0.0.1:1"), s("127.0.0.2:1")));
        assert!(!same_socket(s("0.0.0.0:1"), s("[::1]:1")));
        assert!(!same_socket(s("127.0.0.1:1"), s("[::1]:1")));
    }
}
