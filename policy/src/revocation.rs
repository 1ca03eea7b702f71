//! Revocation checked online: the CRLs at the distribution points (CDP) of client certificates,
//! for the CA stores that opt in. This module is the registry of those CRLs: which URLs the
//! trust store asked for (on first sight of a certificate that names them), what was last
//! fetched from each (parsed, its issuer and signature checked against the CA before it is
//! taken; the last good one kept on failure), and when each is due again. The gateway fetches.
//!
//! Must not: do I/O, or decide what a missing CRL means ([`crate::trust`] does: unknown).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};

use x509_cert::der::Decode;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::CrlDistributionPoints;

use crate::crl::Crl;
use crate::crypto::x509::{X509Ref, X509};

/// The CRL Distribution Points extension.
const CDP_OID: &str = "2.5.29.31";

/// The `http://` URLs of `cert`'s CRL distribution points (LDAP and others are not fetched).
pub fn distribution_points(cert: &X509Ref) -> Vec<String> {
    let Ok(der) = cert.to_der() else {
        return Vec::new();
    };
    let Ok(parsed) = x509_cert::Certificate::from_der(&der) else {
        return Vec::new();
    };
    let mut urls = Vec::new();
    for ext in parsed.tbs_certificate.extensions.iter().flatten() {
        if ext.extn_id.to_string() != CDP_OID {
            continue;
        }
        let Ok(points) = CrlDistributionPoints::from_der(ext.extn_value.as_bytes()) else {
            continue;
        };
        for p in points.0 {
            if let Some(DistributionPointName::FullName(names)) = p.distribution_point {
                for n in names {
                    if let GeneralName::UniformResourceIdentifier(u) = n {
                        let u = u.to_string();
                        if u.starts_with("http://") || u.starts_with("https://") {
                            urls.push(u);
                        }
                    }
                }
            }
        }
    }
    urls
}

/// Why a fetched CRL was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrlRefused {
    /// Not a CRL.
    #[error("not a CRL: {0}")]
    Malformed(String),
    /// Issued by another CA than the one whose certificate named the URL.
    #[error("the CRL's issuer is not the certificate's issuer")]
    WrongIssuer,
    /// The signature is not the CA's.
    #[error("the CRL's signature is not the issuer's")]
    BadSignature,
    /// Its `nextUpdate` has passed: a stale CRL (a server's cache) never replaces a current
    /// one.
    #[error("the CRL has run out")]
    Expired,
}

/// How often CRLs are fetched again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refresh {
    /// Longest time between fetches of one CRL (it is also fetched before its `nextUpdate`).
    pub max_age: Duration,
    /// Wait after a failed fetch before the next try.
    pub retry_after: Duration,
}

impl Default for Refresh {
    fn default() -> Self {
        Refresh {
            max_age: Duration::from_secs(3600),
            retry_after: Duration::from_secs(30),
        }
    }
}

/// One distribution point and what was last fetched from it.
pub struct OnlineCrl {
    /// The URL.
    pub url: Arc<str>,
    /// The CA the CRL must come from.
    issuer: X509,
    current: RwLock<Option<Arc<Crl>>>,
    schedule: Schedule,
}

/// When a fetched answer (a CRL, an OCSP response) is due again: never tried, `retry_after`
/// after a failure, or at the refresh time the last answer set.
#[derive(Default)]
pub(crate) struct Schedule(Mutex<Times>);

#[derive(Default)]
struct Times {
    tried: Option<Instant>,
    failed: bool,
    refresh_at: Option<SystemTime>,
}

impl Schedule {
    pub(crate) fn tried(&self, now: Instant) {
        if let Ok(mut t) = self.0.lock() {
            t.tried = Some(now);
        }
    }

    pub(crate) fn failed(&self) {
        if let Ok(mut t) = self.0.lock() {
            t.failed = true;
        }
    }

    /// An answer was taken: due again at `refresh_at` (at least a second from now).
    pub(crate) fn succeeded(&self, refresh_at: SystemTime) {
        let now = SystemTime::now();
        if let Ok(mut t) = self.0.lock() {
            t.failed = false;
            t.refresh_at = Some(refresh_at.max(now + Duration::from_secs(1)));
        }
    }

    /// No fetch has ended yet: the first answer may be moments away (a request may wait for
    /// it, `trust.revocation-wait`). After a failure the status is plainly unknown.
    pub(crate) fn first_pending(&self) -> bool {
        self.0
            .lock()
            .is_ok_and(|t| !t.failed && t.refresh_at.is_none())
    }

    pub(crate) fn due(&self, now: Instant, refresh: Refresh) -> bool {
        let Ok(t) = self.0.lock() else {
            return false;
        };
        match (t.tried, t.refresh_at) {
            (Some(at), _) if t.failed => now.saturating_duration_since(at) >= refresh.retry_after,
            (_, Some(r)) => SystemTime::now() >= r,
            (None, None) => true,
            // Under way.
            (Some(_), None) => false,
        }
    }
}

/// When an answer valid until `next_update` is fetched again: a minute before it runs out, and
/// at least every `max_age`.
pub(crate) fn refresh_time(next_update: Option<SystemTime>, refresh: Refresh) -> SystemTime {
    let mut at = SystemTime::now() + refresh.max_age;
    if let Some(next) = next_update {
        at = at.min(next.checked_sub(Duration::from_secs(60)).unwrap_or(next));
    }
    at
}

impl std::fmt::Debug for OnlineCrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineCrl")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl OnlineCrl {
    /// What was last fetched and taken; `None` before the first success.
    pub fn current(&self) -> Option<Arc<Crl>> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    /// Takes a fetched CRL (PEM or DER) when it is the issuer's, signed by it; the number of
    /// serials it revokes. A refused one leaves the last good CRL in place.
    pub fn take(&self, bytes: &[u8], refresh: Refresh) -> Result<usize, CrlRefused> {
        let crl = Crl::from_pem_or_der(bytes).map_err(|e| CrlRefused::Malformed(e.to_string()))?;
        let subject = self
            .issuer
            .subject_name()
            .to_der()
            .map_err(|e| CrlRefused::Malformed(e.to_string()))?;
        if crl.issuer_der() != subject.as_slice() {
            return Err(CrlRefused::WrongIssuer);
        }
        let key = self
            .issuer
            .public_key()
            .map_err(|e| CrlRefused::Malformed(e.to_string()))?;
        if !crl.verify(&key) {
            return Err(CrlRefused::BadSignature);
        }
        if crl.next_update().is_some_and(|n| n < SystemTime::now()) {
            return Err(CrlRefused::Expired);
        }
        let n = crl.revoked_count();
        let refresh_at = refresh_time(crl.next_update(), refresh);
        if let Ok(mut c) = self.current.write() {
            *c = Some(Arc::new(crl));
        }
        self.schedule.succeeded(refresh_at);
        Ok(n)
    }

    /// A fetch is starting now.
    pub fn tried(&self, now: Instant) {
        self.schedule.tried(now);
    }

    /// The fetch failed (or was refused): tried again after `retry_after`.
    pub fn failed(&self) {
        self.schedule.failed();
    }

    /// No fetch from it has ended yet (neither taken nor failed).
    pub fn first_pending(&self) -> bool {
        self.schedule.first_pending()
    }

    /// Whether the gateway should fetch it now: never tried, failed and the retry wait is
    /// over, or its refresh time has come.
    pub fn due(&self, now: Instant, refresh: Refresh) -> bool {
        self.schedule.due(now, refresh)
    }
}

/// What a revocation registry holds per key, shared by the CRL and OCSP registries: the
/// entries registered on first sight (bounded: a flood of certificates must not grow memory,
/// or fetches, without bound), an epoch that moves when an answer is taken (part of the
/// verification cache's key, so an answer made before is not reused), and the waker that tells
/// the gateway's fetcher a new entry is waiting.
pub(crate) struct Registry<K, V> {
    map: Mutex<HashMap<K, Arc<V>>>,
    max: usize,
    epoch: AtomicU64,
    waker: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl<K: std::hash::Hash + Eq, V> Registry<K, V> {
    pub(crate) fn new(max: usize) -> Registry<K, V> {
        Registry {
            map: Mutex::new(HashMap::new()),
            max,
            epoch: AtomicU64::new(0),
            waker: OnceLock::new(),
        }
    }

    /// The entry under `key`, made by `make` and registered on first sight (the fetcher is
    /// woken). `None` past the bound, or when `make` cannot make one.
    pub(crate) fn get_or_insert(&self, key: K, make: impl FnOnce() -> Option<V>) -> Option<Arc<V>> {
        let mut m = self.map.lock().ok()?;
        if let Some(e) = m.get(&key) {
            return Some(e.clone());
        }
        if m.len() >= self.max {
            return None;
        }
        let e = Arc::new(make()?);
        m.insert(key, e.clone());
        drop(m);
        if let Some(w) = self.waker.get() {
            w();
        }
        Some(e)
    }

    pub(crate) fn all(&self) -> Vec<Arc<V>> {
        self.map
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    pub(crate) fn set_waker(&self, waker: Box<dyn Fn() + Send + Sync>) {
        let _ = self.waker.set(waker);
    }
}

/// Every distribution point the trust store asked for, across reloads.
pub struct OnlineCrls(Registry<String, OnlineCrl>);

impl Default for OnlineCrls {
    fn default() -> Self {
        OnlineCrls(Registry::new(MAX_URLS))
    }
}

impl std::fmt::Debug for OnlineCrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineCrls")
            .field("urls", &self.all().len())
            .finish_non_exhaustive()
    }
}

/// Most distribution points remembered.
const MAX_URLS: usize = 1000;

impl OnlineCrls {
    /// The CRL at `url` from `issuer`: registered on first sight (the fetcher is woken).
    /// `None` past the registry's bound.
    pub fn crl_for(&self, url: &str, issuer: &X509Ref) -> Option<Arc<OnlineCrl>> {
        self.0.get_or_insert(url.to_string(), || {
            Some(OnlineCrl {
                url: url.into(),
                issuer: issuer.to_owned(),
                current: RwLock::new(None),
                schedule: Schedule::default(),
            })
        })
    }

    /// Every registered distribution point.
    pub fn all(&self) -> Vec<Arc<OnlineCrl>> {
        self.0.all()
    }

    /// Moves on after a CRL was taken (cached verifications made before are not reused).
    pub fn changed(&self) {
        self.0.changed();
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.0.epoch()
    }

    /// What to call when a new URL is registered (once; the gateway's fetcher).
    pub fn set_waker(&self, waker: Box<dyn Fn() + Send + Sync>) {
        self.0.set_waker(waker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::Certificate;
    use crate::pki::{crl, issue, DemoPki, KeyKind, Profile, Spec};
    use crate::trust::{SentChain, TrustFailure, TrustStore};

    #[test]
    fn certificates_are_checked_against_the_crl_at_their_distribution_point() {
        let pki = DemoPki::generate(KeyKind::EcdsaP256).unwrap();
        let url = "http://127.0.0.1:9/dev.crl";
        let subject = {
            let mut b = crate::crypto::x509::X509NameBuilder::new().unwrap();
            b.append_entry_by_text("CN", "Online Client").unwrap();
            b.build()
        };
        let urls = [url];
        let mut spec = Spec::new(subject, Profile::Client);
        spec.crl_urls = &urls;
        let client = issue(KeyKind::EcdsaP256, &spec, Some(&pki.dev_ca)).unwrap();
        assert_eq!(distribution_points(&client.cert), [url]);
        assert!(distribution_points(&pki.valid.cert).is_empty());

        let registry = Arc::new(OnlineCrls::default());
        let woken = Arc::new(AtomicU64::new(0));
        let w = woken.clone();
        registry.set_waker(Box::new(move || {
            w.fetch_add(1, Ordering::Relaxed);
        }));
        // The root's CRL is a file; the DEV CA opted in to distribution points.
        let root_crl = crl(&pki.root, &[], -1, 30).unwrap();
        let store = TrustStore::new(
            vec![pki.root.cert.clone()],
            vec![pki.dev_ca.cert.clone()],
            vec![root_crl],
        )
        .unwrap()
        .with_online_crls(registry.clone(), std::slice::from_ref(&pki.dev_ca.cert));
        assert!(store.has_crls());
        let leaf = Certificate::from_x509(client.cert.clone()).unwrap();
        let verify = || store.verify(&leaf, &SentChain::default(), true);
        // Not fetched yet: pending (unknown, not cached), and the fetcher is told.
        assert!(matches!(verify(), Err(TrustFailure::RevocationPending(m)) if m.contains(url)));
        assert_eq!(woken.load(Ordering::Relaxed), 1);
        let entry = registry.crl_for(url, &pki.dev_ca.cert).unwrap();
        assert!(entry.due(Instant::now(), Refresh::default()));
        assert!(entry.first_pending());
        // The first fetch fails: plainly unknown, with nothing more to wait for.
        entry.tried(Instant::now());
        assert!(entry.first_pending());
        entry.failed();
        assert!(!entry.first_pending());
        assert!(matches!(verify(), Err(TrustFailure::RevocationUnknown(m)) if m.contains(url)));

        // A CRL from another CA, or with another key's signature, is refused.
        let other = crl(&pki.tst_ca, &[], -1, 30).unwrap();
        assert_eq!(
            entry.take(other.to_der(), Refresh::default()),
            Err(CrlRefused::WrongIssuer)
        );
        let impostor = issue(
            KeyKind::EcdsaP256,
            &Spec::new(
                {
                    // The DEV CA's name, with another key.
                    let mut b = crate::crypto::x509::X509NameBuilder::new().unwrap();
                    b.append_entry_by_text("CN", crate::pki::DEV_CA_CN).unwrap();
                    b.build()
                },
                Profile::Ca,
            ),
            None,
        )
        .unwrap();
        let forged = crl(&impostor, &[], -1, 30).unwrap();
        assert_eq!(
            entry.take(forged.to_der(), Refresh::default()),
            Err(CrlRefused::BadSignature)
        );
        assert!(matches!(
            entry.take(b"not a crl", Refresh::default()),
            Err(CrlRefused::Malformed(_))
        ));

        // The CA's CRL, listing nobody: verified. Then one revoking the client: the cached
        // answer is not reused once the registry moves on.
        let good = crl(&pki.dev_ca, &[], -1, 30).unwrap();
        assert_eq!(entry.take(good.to_der(), Refresh::default()), Ok(0));
        registry.changed();
        assert!(verify().is_ok());
        assert!(!entry.due(Instant::now(), Refresh::default()));
        let revoking = crl(&pki.dev_ca, &[&client.cert], -1, 30).unwrap();
        assert_eq!(entry.take(revoking.to_der(), Refresh::default()), Ok(1));
        registry.changed();
        assert_eq!(verify().unwrap_err(), TrustFailure::Revoked);

        // A stale CRL (a server's cache) is refused: the current one stays.
        let expired = crl(&pki.dev_ca, &[], -3, -1).unwrap();
        assert_eq!(
            entry.take(expired.to_der(), Refresh::default()),
            Err(CrlRefused::Expired)
        );
        assert_eq!(verify().unwrap_err(), TrustFailure::Revoked);
        // The server went away and the last CRL ran out: unknown again (e2e:
        // a_fetched_crl_that_runs_out_makes_the_status_unknown).

        // A failed fetch is tried again after the retry wait.
        entry.tried(Instant::now() - Duration::from_secs(60));
        entry.failed();
        assert!(entry.due(Instant::now(), Refresh::default()));
    }
}
