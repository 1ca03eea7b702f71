//! Loading, section by section: Backends into BackendSpec: URLs, TLS towards them, credentials,
//! timeouts.
//!
//! One `impl Loader` block per configuration section (as Pingora spreads `HttpProxy` over
//! files): it reports errors through the `Loader` and returns its part of the snapshot, which
//! `run` in `mod.rs` assembles. Must not: serve requests.

use super::*;

impl Loader {
    pub(super) fn backends(
        &mut self,
        list: &[schema::Backend],
        certs: &HashMap<String, CertMaterial>,
    ) -> HashMap<String, Arc<BackendSpec>> {
        let mut out = HashMap::new();
        for b in list {
            if out.contains_key(&b.id.value) {
                self.at(
                    &b.id,
                    format!("backend id '{}' is defined twice", b.id.value),
                );
                continue;
            }
            let url = match BackendUrl::parse(&b.url.value) {
                Ok(u) => u,
                Err(e) => {
                    self.at(&b.url, e);
                    continue;
                }
            };
            let mut client_certificate = None;
            let mut headers = Vec::new();
            if let Some(c) = &b.credentials {
                for id in &c.certificate_ids {
                    match certs.get(&id.value) {
                        None => self.at(id, format!("unknown certificate id '{}'", id.value)),
                        Some(m) if m.key.is_none() => self.at(id, format!("certificate '{}' has no private key; a client certificate needs pem + key or pfx", id.value)),
                        Some(_) => {
                            client_certificate.get_or_insert_with(|| id.value.clone());
                        }
                    }
                }
                for (name, values) in &c.header {
                    if !valid_header_name(name) {
                        self.whole(format!(
                            "backend '{}': '{name}' is not a valid header name",
                            b.id.value
                        ));
                    }
                    for v in values {
                        headers.push((name.clone(), v.clone()));
                    }
                }
            }
            let (validate_chain, validate_name, mut cas, sni) = match &b.tls {
                Some(t) => (
                    t.validate_certificate_chain,
                    t.validate_certificate_name,
                    Vec::new(),
                    t.sni.clone(),
                ),
                None => (true, true, Vec::new(), None),
            };
            if let Some(t) = &b.tls {
                for f in &t.ca_certificates {
                    if let Some(bytes) = self.read(f) {
                        cas.extend(self.parse_certs(f, &bytes));
                    }
                }
            }
            let (connect, read) = match &b.timeouts {
                Some(t) => (
                    self.duration(&t.connect, Duration::from_secs(5)),
                    self.duration(&t.read, Duration::from_secs(60)),
                ),
                None => (Duration::from_secs(5), Duration::from_secs(60)),
            };
            out.insert(
                b.id.value.clone(),
                Arc::new(BackendSpec {
                    id: b.id.value.clone(),
                    url: Arc::new(url),
                    client_certificate,
                    headers,
                    validate_chain,
                    validate_name,
                    ca_certificates: (!cas.is_empty()).then(|| Arc::new(cas.into_boxed_slice())),
                    sni,
                    connect_timeout: connect,
                    read_timeout: read,
                }),
            );
        }
        out
    }
}
