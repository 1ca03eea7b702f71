//! Loading, section by section: CA stores and CRLs into a TrustStore, reusing the verification
//! cache across reloads.
//!
//! One `impl Loader` block per configuration section (as Pingora spreads `HttpProxy` over
//! files): it reports errors through the `Loader` and returns its part of the snapshot, which
//! `run` in `mod.rs` assembles. Must not: serve requests.

use super::*;

impl Loader {
    pub(super) fn trust(
        &mut self,
        cfg: &ConfigFile,
        opts: &LoadOptions,
    ) -> Option<Arc<TrustStore>> {
        let (mut roots, mut inter, mut crls) = (Vec::new(), Vec::new(), Vec::new());
        let (mut online, mut ocsp) = (Vec::new(), Vec::new());
        for ca in &cfg.ca_certificates {
            let Some(b) = self.read(&ca.file) else {
                continue;
            };
            let certs = self.parse_certs(&ca.file, &b);
            if ca.crl_distribution_points {
                online.extend(certs.iter().cloned());
            }
            if ca.ocsp {
                ocsp.extend(certs.iter().cloned());
            }
            match ca.store {
                Store::Root => roots.extend(certs),
                Store::CertificateAuthority => inter.extend(certs),
            }
            for crl in &ca.crls {
                let Some(b) = self.read(crl) else { continue };
                match Crl::from_pem_or_der(&b) {
                    Ok(c) => crls.push(c),
                    Err(e) => self.at(
                        crl,
                        format!("'{}' is not a CRL (PEM or DER): {e}", crl.value),
                    ),
                }
            }
        }
        let capacity = cfg
            .trust
            .as_ref()
            .and_then(|t| t.cache_capacity)
            .unwrap_or(100_000);
        let cache = opts
            .verification_cache
            .clone()
            .unwrap_or_else(|| Arc::new(VerificationCache::new(capacity)));
        match TrustStore::with_cache(roots, inter, crls, cache) {
            Ok(mut t) => {
                t.allow_sent_intermediates = cfg
                    .trust
                    .as_ref()
                    .is_some_and(|t| t.allow_client_intermediates);
                if !online.is_empty() {
                    t = t.with_online_crls(crate::proxy::crl::REGISTRY.clone(), &online);
                }
                if !ocsp.is_empty() {
                    t = t.with_ocsp(crate::proxy::ocsp::REGISTRY.clone(), &ocsp);
                }
                Some(Arc::new(t))
            }
            Err(e) => {
                self.whole(format!("cannot build the trust store: {e}"));
                None
            }
        }
    }
}
