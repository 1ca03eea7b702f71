//! Loading, section by section: Named values, certificates, keys and PFX files, and their
//! passwords: the material other sections refer to by id.
//!
//! One `impl Loader` block per configuration section (as Pingora spreads `HttpProxy` over
//! files): it reports errors through the `Loader` and returns its part of the snapshot, which
//! `run` in `mod.rs` assembles. Must not: serve requests.

use super::*;

impl Loader {
    pub(super) fn named_values(&mut self, list: &[schema::NamedValue]) {
        let mut seen = HashSet::new();
        for nv in list {
            let name = &nv.name.value;
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            {
                self.at(
                    &nv.name,
                    format!(
                        "named value name '{name}' may only hold letters, digits, '.', '-' and '_'"
                    ),
                );
                continue;
            }
            if !seen.insert(name.clone()) {
                self.at(&nv.name, format!("named value '{name}' is defined twice"));
                continue;
            }
            let value = match (&nv.value, &nv.env, &nv.file) {
                (Some(v), None, None) => Some(v.value.clone()),
                (None, Some(e), None) => match std::env::var(&e.value) {
                    Ok(v) => Some(v),
                    Err(_) => {
                        self.at(
                            e,
                            format!(
                                "environment variable '{}' (named value '{name}') is not set",
                                e.value
                            ),
                        );
                        None
                    }
                },
                (None, None, Some(f)) => self
                    .read_text(f)
                    .map(|t| t.trim_end_matches(['\n', '\r']).to_string()),
                _ => {
                    self.at(
                        &nv.name,
                        format!("named value '{name}' needs exactly one of value, env and file"),
                    );
                    None
                }
            };
            if let Some(v) = value {
                self.named.insert(name.clone(), v, nv.secret);
            }
        }
    }

    /// A password: literal, or `{{name}}` of a named value.
    pub(super) fn password(&mut self, p: &Option<S<String>>) -> Option<String> {
        let p = p.as_ref()?;
        let t = p.value.trim();
        if let Some(name) = t.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) {
            let name = name.trim();
            return match self.named.get(name) {
                Some(v) => Some(v.to_string()),
                None => {
                    self.at(p, format!("unknown named value '{name}'"));
                    None
                }
            };
        }
        Some(p.value.clone())
    }

    /// Certificates from PEM (one or more), DER, or `.cer` base64 without markers.
    pub(super) fn parse_certs(&mut self, at: &S<String>, bytes: &[u8]) -> Vec<X509> {
        let text = std::str::from_utf8(bytes).ok();
        let r = if text.is_some_and(|t| t.contains("-----BEGIN")) {
            X509::stack_from_pem(bytes).map_err(|e| e.to_string())
        } else if let Ok(c) = X509::from_der(bytes) {
            Ok(vec![c])
        } else if let Some(t) = text {
            use base64::Engine;
            let clean: String = t.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(clean.as_bytes())
                .map_err(|_| "not PEM, DER or base64 DER".to_string())
                .and_then(|der| {
                    X509::from_der(&der)
                        .map(|c| vec![c])
                        .map_err(|e| e.to_string())
                })
        } else {
            Err("not PEM, DER or base64 DER".to_string())
        };
        match r {
            Ok(v) if !v.is_empty() => v,
            Ok(_) => {
                self.at(at, format!("'{}' holds no certificate", at.value));
                Vec::new()
            }
            Err(e) => {
                self.at(at, format!("'{}' is not a certificate: {e}", at.value));
                Vec::new()
            }
        }
    }

    pub(super) fn material(
        &mut self,
        leaf_chain: Vec<X509>,
        key: Option<PKey<certgate_policy::crypto::pkey::Private>>,
        at: &S<String>,
    ) -> Option<CertMaterial> {
        let mut it = leaf_chain.into_iter();
        let leaf = it.next()?;
        if let Some(k) = &key {
            let matches = leaf.public_key().ok().is_some_and(|p| p.public_eq(k));
            if !matches {
                self.at(at, "the private key does not belong to the certificate");
                return None;
            }
        }
        match Certificate::from_x509(leaf) {
            Ok(c) => Some(CertMaterial::new(Arc::new(c), it.collect(), key)),
            Err(e) => {
                self.at(at, format!("'{}': {e}", at.value));
                None
            }
        }
    }

    pub(super) fn key_pair(&mut self, kp: &KeyPair, what: &str) -> Option<CertMaterial> {
        match (&kp.pem, &kp.key, &kp.pfx) {
            (Some(pem), Some(key), None) => {
                let certs = self.read(pem).map(|b| self.parse_certs(pem, &b))?;
                let kb = self.read(key)?;
                let k = match PKey::private_key_from_pem(&kb) {
                    Ok(k) => k,
                    Err(_) => {
                        self.at(key, format!("'{}' is not a PEM private key (encrypted keys: use pfx + password)", key.value));
                        return None;
                    }
                };
                self.material(certs, Some(k), pem)
            }
            (None, None, Some(pfx)) => self.pfx(pfx, &kp.password),
            _ => {
                self.whole(format!(
                    "{what}: a certificate needs pem + key, or pfx (+ password)"
                ));
                None
            }
        }
    }

    pub(super) fn pfx(
        &mut self,
        pfx: &S<String>,
        password: &Option<S<String>>,
    ) -> Option<CertMaterial> {
        let b = self.read(pfx)?;
        let pw = self.password(password).unwrap_or_default();
        let parsed = Pkcs12::from_der(&b).and_then(|p| p.parse2(&pw));
        match parsed {
            Ok(p) => {
                let Some(cert) = p.cert else {
                    self.at(pfx, format!("'{}' holds no certificate", pfx.value));
                    return None;
                };
                let mut chain = vec![cert];
                if let Some(ca) = p.ca {
                    chain.extend(ca);
                }
                self.material(chain, p.pkey, pfx)
            }
            Err(_) => {
                self.at(
                    pfx,
                    format!(
                        "cannot open '{}': wrong password or not a PFX file",
                        pfx.value
                    ),
                );
                None
            }
        }
    }

    pub(super) fn certificates(
        &mut self,
        list: &[schema::CertificateEntry],
    ) -> HashMap<String, CertMaterial> {
        let mut out = HashMap::new();
        for c in list {
            if out.contains_key(&c.id.value) {
                self.at(
                    &c.id,
                    format!("certificate id '{}' is defined twice", c.id.value),
                );
                continue;
            }
            let m = match (&c.file, &c.pem, &c.key, &c.pfx) {
                (Some(f), None, None, None) => self
                    .read(f)
                    .map(|b| self.parse_certs(f, &b))
                    .and_then(|v| self.material(v, None, f)),
                (None, Some(pem), Some(key), None) => self.key_pair(
                    &KeyPair {
                        pem: Some(pem.clone()),
                        key: Some(key.clone()),
                        pfx: None,
                        password: None,
                    },
                    &c.id.value,
                ),
                (None, None, None, Some(pfx)) => self.pfx(pfx, &c.password),
                _ => {
                    self.at(&c.id, format!("certificate '{}' needs exactly one of: file; pem + key; pfx (+ password)", c.id.value));
                    None
                }
            };
            if let Some(m) = m {
                out.insert(c.id.value.clone(), m);
            }
        }
        out
    }
}
