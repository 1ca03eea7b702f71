//! Trust stores and chain verification (SPEC §4): `Root` anchors, `CertificateAuthority`
//! intermediates, CRL files, verified with openssl's `X509Store`/`X509StoreContext`, and a
//! bounded verification cache so that a certificate seen before costs a hash lookup.
//!
//! APIM's model: intermediates a client sends are not used to build the chain unless the store
//! allows it; only uploaded intermediates count. Failures map onto the reasons of
//! `validate-client-certificate`.
//!
//! Revocation is checked here against CRLs given to the store (files, or CRLs a fetcher
//! downloaded from distribution points): every certificate below the anchor needs a current CRL
//! from its issuer, else the status is unknown and `Verify()` fails.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::crypto::stack::Stack;
use crate::crypto::x509::store::{X509Store, X509StoreBuilder};
use crate::crypto::x509::verify::X509VerifyParam;
use crate::crypto::x509::{X509Ref, X509StoreContext, X509};
use dashmap::DashMap;

use crate::crl::Crl;
use crate::ocsp::{OcspStatus, OnlineOcsp};
use crate::revocation::OnlineCrls;

use crate::cert::Certificate;

/// Why a chain did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrustFailure {
    #[error("A certificate chain could not be built to a trusted root authority. ({0})")]
    /// No chain to a trusted root.
    NotTrusted(String),
    #[error("a certificate in the chain is not yet valid")]
    /// A certificate of the chain is not yet valid.
    NotYetValid,
    #[error("a certificate in the chain has expired")]
    /// A certificate of the chain has expired.
    Expired,
    #[error("the certificate is revoked")]
    /// A CRL lists a certificate of the chain.
    Revoked,
    #[error("the revocation status could not be determined ({0})")]
    /// No current CRL for an issuer of the chain.
    RevocationUnknown(String),
    #[error("the revocation status is not known yet ({0})")]
    /// Unknown for now: the first fetch of an online CRL or OCSP answer the chain needs has
    /// not ended. It reads as [`TrustFailure::RevocationUnknown`]; the gateway may wait a
    /// bounded time for the answer before it settles on that (`trust.revocation-wait`).
    RevocationPending(String),
    #[error("chain verification failed: {0}")]
    /// The TLS library failed otherwise.
    Other(String),
}

/// Longest chain accepted, anchor included (SPEC §9: deeper chains are refused).
pub(crate) const MAX_CHAIN_DEPTH: i32 = 10;

/// The intermediates a client sent, hashed once per connection so that per-request cache keys
/// cost nothing.
#[derive(Clone, Debug, Default)]
pub struct SentChain {
    /// The certificates after the leaf, in the order sent.
    pub certs: Vec<X509>,
    sha256: [u8; 32],
}

impl SentChain {
    /// The chain the client sent after its certificate.
    pub fn new(certs: Vec<X509>) -> SentChain {
        let mut all = Vec::new();
        for c in &certs {
            all.extend(c.to_der().unwrap_or_default());
        }
        SentChain {
            sha256: crate::crypto::sha::sha256(&all),
            certs,
        }
    }

    /// Whether the client sent no chain.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }
}

/// The result of a successful verification, as the cache keeps it: only what policies read,
/// so an entry costs a few dozen bytes however long the chain (the issuer is shared with the
/// trust store whenever it is one of its certificates).
#[derive(Clone, Debug)]
pub struct Verified {
    /// The certificate that issued the leaf.
    issuer: Option<Arc<Certificate>>,
    /// Certificates in the chain, leaf and anchor included.
    pub depth: usize,
    /// Earliest notAfter in the chain: the result holds until then.
    pub not_after: Option<SystemTime>,
    /// Earliest `nextUpdate` of the online CRLs and OCSP answers the revocation check read:
    /// past it the status is unknown, not what it was.
    online_until: Option<SystemTime>,
}

impl Verified {
    /// The certificate that issued the leaf.
    pub fn issuer(&self) -> Option<&Arc<Certificate>> {
        self.issuer.as_ref()
    }
}

type Outcome = Result<Arc<Verified>, TrustFailure>;

#[derive(Clone, Copy, PartialEq, Eq)]
struct CacheKey {
    leaf: [u8; 32],
    chain: [u8; 32],
    generation: u64,
    revocation: bool,
    /// The online CRLs' epoch (0 without them): a CRL taken since makes a new key.
    epoch: u64,
}

impl Hash for CacheKey {
    // The leaf hash is a SHA-256: its first bytes are a good hash on their own.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.leaf[..8]);
        state.write(&self.chain[..4]);
        state.write_u64(self.generation);
        state.write_u8(self.revocation as u8);
        state.write_u64(self.epoch);
    }
}

struct CacheEntry {
    outcome: Outcome,
    /// When the outcome stops holding: earliest notAfter in the chain, CRL nextUpdate, or a
    /// short time for failures (trust material may be fixed without a new generation's cache).
    until: SystemTime,
}

/// How long a failed verification is remembered.
const FAILURE_TTL: Duration = Duration::from_secs(60);
/// How long an answer that read online CRLs is kept (a CRL that runs out without a new one
/// makes the status unknown within this time).
const ONLINE_TTL: Duration = Duration::from_secs(60);

/// Chain-verification results by certificate, shared by all workers, bounded in size.
pub struct VerificationCache {
    /// Hashed with ahash, keyed at random per cache: the std SipHash of an 81-byte key was a
    /// tenth of what a policy costs per request, and a keyed hash still keeps clients (whose
    /// certificates, failures included, become keys) from choosing colliding keys.
    map: DashMap<CacheKey, CacheEntry, ahash::RandomState>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for VerificationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationCache")
            .field("len", &self.map.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl VerificationCache {
    /// A cache of at most `capacity` verifications.
    pub fn new(capacity: usize) -> VerificationCache {
        VerificationCache {
            map: DashMap::with_hasher(ahash::RandomState::new()),
            capacity: capacity.max(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Number of cached verifications.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Most verifications kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Lookups answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that verified.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    fn get(&self, key: &CacheKey, now: SystemTime) -> Option<Outcome> {
        let e = self.map.get(key)?;
        if e.until <= now {
            drop(e);
            self.map.remove(key);
            return None;
        }
        Some(e.outcome.clone())
    }

    fn insert(&self, key: CacheKey, entry: CacheEntry, now: SystemTime) {
        if self.map.len() >= self.capacity {
            self.evict(now);
        }
        self.map.insert(key, entry);
    }

    /// Drops ended entries; if that is not enough, drops entries until a quarter of the
    /// capacity is free (arbitrary ones: the map has no order, and a miss only costs one
    /// verification).
    fn evict(&self, now: SystemTime) {
        self.map.retain(|_, e| e.until > now);
        let target = self.capacity - self.capacity / 4;
        if self.map.len() > target {
            let mut excess = self.map.len() - target;
            self.map.retain(|_, _| {
                if excess > 0 {
                    excess -= 1;
                    false
                } else {
                    true
                }
            });
        }
    }
}

/// Every trust store gets a number no other store in the process has: verification-cache keys
/// include it, and the cache outlives stores (it is shared across reloads), so two stores must
/// never share a number. Process-wide on purpose (ARCHITECTURE.md: global state).
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// Roots, intermediates and CRLs of one configuration generation.
pub struct TrustStore {
    roots: Vec<X509>,
    intermediates: Vec<X509>,
    crls: Vec<Crl>,
    /// Use intermediates the client sent (off by default, as in APIM).
    pub allow_sent_intermediates: bool,
    store: X509Store,
    generation: u64,
    cache: Arc<VerificationCache>,
    /// Earliest CRL nextUpdate: cached revocation outcomes end there.
    crl_horizon: Option<SystemTime>,
    /// Roots and intermediates parsed once, by SHA-256 of their DER, so cached results share
    /// them instead of holding a parsed copy each.
    parsed: std::collections::HashMap<[u8; 32], Arc<Certificate>>,
    /// CRLs fetched from distribution points, for the certificates these CAs issued.
    online: Option<(Arc<OnlineCrls>, Vec<Vec<u8>>)>,
    /// OCSP answers, for the certificates these CAs issued.
    ocsp: Option<(Arc<OnlineOcsp>, Vec<Vec<u8>>)>,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore")
            .field("roots", &self.roots.len())
            .field("intermediates", &self.intermediates.len())
            .field("crls", &self.crls.len())
            .field("generation", &self.generation)
            .finish()
    }
}

fn other(e: crate::crypto::error::ErrorStack) -> TrustFailure {
    TrustFailure::Other(e.to_string())
}

impl TrustStore {
    /// A new trust generation with a cache of its own (100 000 entries).
    pub fn new(
        roots: Vec<X509>,
        intermediates: Vec<X509>,
        crls: Vec<Crl>,
    ) -> Result<TrustStore, crate::crypto::error::ErrorStack> {
        TrustStore::with_cache(
            roots,
            intermediates,
            crls,
            Arc::new(VerificationCache::new(100_000)),
        )
    }

    /// A new trust generation sharing `cache` with earlier ones (entries of older generations
    /// never match and age out).
    pub fn with_cache(
        roots: Vec<X509>,
        intermediates: Vec<X509>,
        crls: Vec<Crl>,
        cache: Arc<VerificationCache>,
    ) -> Result<TrustStore, crate::crypto::error::ErrorStack> {
        let mut b = X509StoreBuilder::new()?;
        for r in &roots {
            b.add_cert(r.clone())?;
        }
        // Only `Root` entries are anchors; strict DER and extension checks.
        crate::crypto_compat::set_strict(&mut b)?;
        let mut param = X509VerifyParam::new()?;
        // openssl's depth counts intermediates below the leaf... up to the anchor exclusive.
        param.set_depth(MAX_CHAIN_DEPTH - 2);
        b.set_param(&param)?;
        let crl_horizon = crls.iter().filter_map(|c| c.next_update()).min();
        let parsed = roots
            .iter()
            .chain(&intermediates)
            .filter_map(|x| Certificate::from_x509(x.clone()).ok())
            .map(|c| (*c.sha256(), Arc::new(c)))
            .collect();
        Ok(TrustStore {
            parsed,
            store: b.build(),
            roots,
            intermediates,
            crls,
            allow_sent_intermediates: false,
            generation: GENERATIONS.fetch_add(1, Ordering::Relaxed),
            cache,
            crl_horizon,
            online: None,
            ocsp: None,
        })
    }

    /// Asks OCSP responders about certificates issued by `issuers` (CA stores that opted in),
    /// as `registry` last heard; before CRLs for those certificates.
    pub fn with_ocsp(mut self, registry: Arc<OnlineOcsp>, issuers: &[X509]) -> TrustStore {
        let ders = issuers.iter().filter_map(|c| c.to_der().ok()).collect();
        self.ocsp = Some((registry, ders));
        self
    }

    /// Checks certificates issued by `issuers` (CA stores that opted in) against the CRLs at
    /// their distribution points, as `registry` last fetched them.
    pub fn with_online_crls(mut self, registry: Arc<OnlineCrls>, issuers: &[X509]) -> TrustStore {
        let ders = issuers.iter().filter_map(|c| c.to_der().ok()).collect();
        self.online = Some((registry, ders));
        self
    }

    /// Some CA store checks revocation online (distribution points or OCSP).
    pub fn checks_online(&self) -> bool {
        self.online.as_ref().is_some_and(|(_, i)| !i.is_empty())
            || self.ocsp.as_ref().is_some_and(|(_, i)| !i.is_empty())
    }

    /// The root certificates (`Root` store).
    pub fn roots(&self) -> &[X509] {
        &self.roots
    }

    /// CRLs are configured: strict hostnames then refuse revoked clients and clients whose
    /// revocation status is unknown, as nginx's `ssl_crl` does.
    pub fn has_crls(&self) -> bool {
        !self.crls.is_empty()
            || self.online.as_ref().is_some_and(|(_, i)| !i.is_empty())
            || self.ocsp.as_ref().is_some_and(|(_, i)| !i.is_empty())
    }

    /// This store's generation: part of every cache key, so a reload never reuses an answer.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The verification cache, shared across reloads.
    pub fn cache(&self) -> &Arc<VerificationCache> {
        &self.cache
    }

    /// Verifies `leaf` with the cache. The leaf's own validity period is checked on every call,
    /// hit or miss, so a cached success never outlives the certificate.
    pub fn verify(
        &self,
        leaf: &Certificate,
        sent: &SentChain,
        check_revocation: bool,
    ) -> Result<Arc<Verified>, TrustFailure> {
        let now = SystemTime::now();
        if let Some((nb, na)) = leaf.validity() {
            if now < nb {
                return Err(TrustFailure::NotYetValid);
            }
            if now > na {
                return Err(TrustFailure::Expired);
            }
        }
        let key = CacheKey {
            leaf: *leaf.sha256(),
            chain: if self.allow_sent_intermediates {
                sent.sha256
            } else {
                [0; 32]
            },
            generation: self.generation,
            revocation: check_revocation,
            epoch: if check_revocation {
                self.online.as_ref().map_or(0, |(r, _)| r.epoch())
                    + self.ocsp.as_ref().map_or(0, |(r, _)| r.epoch())
            } else {
                0
            },
        };
        if let Some(hit) = self.cache.get(&key, now) {
            self.cache.hits.fetch_add(1, Ordering::Relaxed);
            return hit;
        }
        self.cache.misses.fetch_add(1, Ordering::Relaxed);
        let outcome = self
            .verify_uncached(leaf, sent, check_revocation)
            .map(Arc::new);
        let until = match &outcome {
            Ok(v) => {
                let mut until = v.not_after.unwrap_or(now + FAILURE_TTL);
                if check_revocation {
                    if let Some(h) = self.crl_horizon {
                        until = until.min(h);
                    }
                    if self.online.is_some() || self.ocsp.is_some() {
                        // A minute at most, and never past the end of an online CRL or answer
                        // this verification read.
                        until = until.min(now + ONLINE_TTL);
                        if let Some(end) = v.online_until {
                            until = until.min(end);
                        }
                    }
                }
                until
            }
            // Not cached: the answer is moments away, and whoever waits for it must see it.
            Err(TrustFailure::RevocationPending(_)) => return outcome,
            Err(_) => now + FAILURE_TTL,
        };
        self.cache.insert(
            key,
            CacheEntry {
                outcome: outcome.clone(),
                until,
            },
            now,
        );
        outcome
    }

    /// Verifies without the cache: builds the chain with openssl and checks revocation.
    pub fn verify_uncached(
        &self,
        leaf: &Certificate,
        sent: &SentChain,
        check_revocation: bool,
    ) -> Result<Verified, TrustFailure> {
        let mut untrusted = Stack::new().map_err(other)?;
        for i in &self.intermediates {
            untrusted.push(i.clone()).map_err(other)?;
        }
        if self.allow_sent_intermediates {
            for s in &sent.certs {
                untrusted.push(s.clone()).map_err(other)?;
            }
        }
        let mut ctx = X509StoreContext::new().map_err(other)?;
        let (ok, err, chain) = ctx
            .init(&self.store, leaf.x509(), &untrusted, |c| {
                let ok = c.verify_cert()?;
                let chain: Vec<X509> = c
                    .chain()
                    .map(|s| s.iter().map(X509Ref::to_owned).collect())
                    .unwrap_or_default();
                Ok((ok, crate::crypto_compat::verify_error(c), chain))
            })
            .map_err(other)?;
        if !ok {
            return Err(map_error(err.unwrap_or((-1, "chain not verified"))));
        }
        let online_until = if check_revocation {
            self.check_revocation(&chain)?
        } else {
            None
        };
        // The leaf is parsed already; the rest is the trust store's own parsed certificates,
        // except intermediates the client sent (when allowed), parsed here.
        let mut not_after = leaf.validity().map(|(_, na)| na);
        let mut issuer = None;
        for (i, x) in chain.iter().enumerate().skip(1) {
            let shared = x
                .to_der()
                .ok()
                .and_then(|der| self.parsed.get(&crate::crypto::sha::sha256(&der)).cloned());
            let Some(c) = shared.or_else(|| Certificate::from_x509(x.clone()).ok().map(Arc::new))
            else {
                continue;
            };
            if let Some((_, na)) = c.validity() {
                not_after = Some(not_after.map_or(na, |n| n.min(na)));
            }
            if i == 1 {
                issuer = Some(c);
            }
        }
        Ok(Verified {
            issuer,
            depth: chain.len(),
            not_after,
            online_until,
        })
    }

    /// Every certificate below the anchor needs a current CRL from its issuer that does not
    /// list it; a missing or outdated CRL means the status is unknown (which fails `Verify()`).
    /// The earliest `nextUpdate` of the online CRLs and OCSP answers read, if any.
    fn check_revocation(&self, chain: &[X509]) -> Result<Option<SystemTime>, TrustFailure> {
        let now = SystemTime::now();
        let mut online_until: Option<SystemTime> = None;
        let mut read = |end: Option<SystemTime>| {
            if let Some(e) = end {
                online_until = Some(online_until.map_or(e, |u| u.min(e)));
            }
        };
        for pair in chain.windows(2) {
            let (cert, issuer) = (&pair[0], &pair[1]);
            if let Some(answer) = self.ocsp_answer(cert, issuer) {
                let answer = answer?;
                if answer.next_update.is_some_and(|n| n < now) {
                    return Err(TrustFailure::RevocationUnknown(
                        "the OCSP answer has expired".into(),
                    ));
                }
                read(answer.next_update);
                match answer.status {
                    OcspStatus::Good => continue,
                    OcspStatus::Revoked => return Err(TrustFailure::Revoked),
                    OcspStatus::Unknown => {
                        return Err(TrustFailure::RevocationUnknown(
                            "the OCSP responder does not know the certificate".into(),
                        ))
                    }
                }
            }
            if let Some(fetched) = self.online_crl(cert, issuer) {
                let crl = fetched?;
                if crl.next_update().is_some_and(|n| n < now) {
                    return Err(TrustFailure::RevocationUnknown(
                        "the CRL from the distribution point has expired".into(),
                    ));
                }
                if crl.revokes(cert) {
                    return Err(TrustFailure::Revoked);
                }
                read(crl.next_update());
                continue;
            }
            let key = issuer.public_key().map_err(other)?;
            let subject = issuer.subject_name().to_der().map_err(other)?;
            let crl = self
                .crls
                .iter()
                .find(|c| c.issuer_der() == subject.as_slice() && c.verify(&key));
            let Some(crl) = crl else {
                let who = crate::cert::Name::from_der(&subject)
                    .map(|n| n.to_dotnet())
                    .unwrap_or_default();
                return Err(TrustFailure::RevocationUnknown(format!(
                    "no CRL from {who}"
                )));
            };
            if crl.next_update().is_some_and(|n| n < now) {
                return Err(TrustFailure::RevocationUnknown(
                    "the CRL has expired".into(),
                ));
            }
            if crl.this_update() > now {
                return Err(TrustFailure::RevocationUnknown(
                    "the CRL is not yet valid".into(),
                ));
            }
            if crl.revokes(cert) {
                return Err(TrustFailure::Revoked);
            }
        }
        Ok(online_until)
    }
}

impl TrustStore {
    /// For a certificate whose issuer opted in to OCSP and which names a responder: its last
    /// answer, or unknown when none has come yet. `None`: not checked with OCSP.
    fn ocsp_answer(
        &self,
        cert: &X509,
        issuer: &X509,
    ) -> Option<Result<crate::ocsp::OcspAnswer, TrustFailure>> {
        let (registry, issuers) = self.ocsp.as_ref()?;
        if !issuers.contains(&issuer.to_der().ok()?) {
            return None;
        }
        let urls = crate::ocsp::ocsp_urls(cert);
        let url = urls.first()?;
        let entry = registry.entry_for(url, cert, issuer);
        let answer = entry.as_ref().and_then(|e| e.current());
        Some(answer.ok_or_else(|| {
            let why = format!("no OCSP answer yet from {url}");
            if entry.is_some_and(|e| e.first_pending()) {
                TrustFailure::RevocationPending(why)
            } else {
                TrustFailure::RevocationUnknown(why)
            }
        }))
    }

    /// For a certificate whose issuer opted in and which names distribution points: the CRL
    /// fetched from one of them (checked against the issuer when it was taken), or unknown when
    /// none has been fetched yet. `None`: not checked online (the configured CRLs apply).
    fn online_crl(
        &self,
        cert: &X509,
        issuer: &X509,
    ) -> Option<Result<Arc<crate::crl::Crl>, TrustFailure>> {
        let (registry, issuers) = self.online.as_ref()?;
        let der = issuer.to_der().ok()?;
        if !issuers.contains(&der) {
            return None;
        }
        let urls = crate::revocation::distribution_points(cert);
        if urls.is_empty() {
            return None;
        }
        let points: Vec<_> = urls
            .iter()
            .filter_map(|u| registry.crl_for(u, issuer))
            .collect();
        let fetched = points.iter().find_map(|c| c.current());
        Some(fetched.ok_or_else(|| {
            let why = format!("no CRL fetched yet from {}", urls.join(", "));
            if points.iter().any(|c| c.first_pending()) {
                TrustFailure::RevocationPending(why)
            } else {
                TrustFailure::RevocationUnknown(why)
            }
        }))
    }
}

fn map_error((code, text): (i32, &str)) -> TrustFailure {
    // Codes from openssl/x509_vfy.h (BoringSSL keeps the same numbers).
    match code {
        9 => TrustFailure::NotYetValid, // X509_V_ERR_CERT_NOT_YET_VALID
        10 => TrustFailure::Expired,    // X509_V_ERR_CERT_HAS_EXPIRED
        23 => TrustFailure::Revoked,    // X509_V_ERR_CERT_REVOKED
        _ => TrustFailure::NotTrusted(text.to_string()),
    }
}
