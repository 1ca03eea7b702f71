//! TLS on the listener (SPEC §5): the server certificate chosen by SNI, the client certificate
//! requested per hostname, proof of possession enforced by the handshake, chain decisions left
//! to policy (or enforced in the handshake in strict mode), and the client certificate parsed
//! once per connection.
//!
//! Per handshake, Pingora pauses for [`TlsAccept::certificate_callback`]; there the current
//! snapshot's hostname entry is looked up by SNI (so a reload applies to the next handshake)
//! and its certificate, key and verify mode are set on the connection. After the handshake,
//! [`TlsAccept::handshake_complete_callback`] parses the peer certificate and the chain it sent
//! into a [`ClientIdentity`] that every request on the connection reuses.
//!
//! Sessions are bound to the hostname they were made under: [`sessions`].

use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use certgate_policy::Certificate;
use certgate_policy::{SentChain, TrustFailure, TrustStore};
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::TlsAccept;
use pingora::protocols::tls::TlsRef;
use pingora::tls::ext;
use pingora::tls::ssl::{
    NameType, Ssl, SslMode, SslOptions, SslRef, SslSessionCacheMode, SslVerifyMode, SslVersion,
};

use crate::snapshot::{HostnameSpec, ListenerSpec, MinTlsVersion, Snapshot, Tls13Suite};
use certgate_policy::crypto::ex_data::Index;
use certgate_policy::ClientCertificateFailure;

pub(crate) mod sessions;

/// What the handshake established about the client, parsed once per connection.
#[derive(Debug, Default)]
pub(crate) struct ClientIdentity {
    pub certificate: Option<Arc<Certificate>>,
    pub sent_chain: SentChain,
    /// Shared with each request on the connection (its access-log line).
    pub sni: Option<Arc<str>>,
    /// The configured hostname the connection was negotiated for (SNI, or the default one):
    /// the only hostname its requests may name.
    pub hostname: Option<String>,
    /// The client sent a certificate certgate could not read (kept out of policies).
    pub unreadable: Option<String>,
    /// The last strict check that passed on this connection, so kept-alive requests re-check
    /// at most once a second or when trust changes.
    pub strict_passed: StrictMemo,
}

/// When a connection last passed the strict check: the trust generation and the time, in
/// milliseconds since the process's first connection. 0: never.
#[derive(Debug, Default)]
pub(crate) struct StrictMemo {
    generation: std::sync::atomic::AtomicU64,
    at_ms: std::sync::atomic::AtomicU64,
}

/// How long a passed strict check stands on a connection before it is repeated (expiry and
/// CRL changes are seen within this; a reload is seen at once).
const STRICT_RECHECK_MS: u64 = 1000;

static EPOCH: std::sync::LazyLock<std::time::Instant> =
    std::sync::LazyLock::new(std::time::Instant::now);

impl StrictMemo {
    /// Whether the strict check passed under `generation` less than a second before `now`.
    pub(crate) fn fresh(&self, generation: u64, now: std::time::Instant) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let at = self.at_ms.load(Relaxed);
        at != 0
            && self.generation.load(Relaxed) == generation
            && (now.saturating_duration_since(*EPOCH).as_millis() as u64).saturating_sub(at)
                < STRICT_RECHECK_MS
    }

    pub(crate) fn record(&self, generation: u64, now: std::time::Instant) {
        use std::sync::atomic::Ordering::Relaxed;
        self.generation.store(generation, Relaxed);
        let ms = now.saturating_duration_since(*EPOCH).as_millis() as u64;
        self.at_ms.store(ms.max(1), Relaxed);
    }
}

/// Largest client certificate accepted in the handshake (DER bytes). Real client certificates
/// are 1-3 KiB; a bigger one (thousands of SANs) is refused with a `bad_certificate` alert and
/// counted, instead of failing later when its session does not fit a ticket.
pub(crate) const MAX_CLIENT_CERTIFICATE: usize = 16 * 1024;

/// The per-listener handshake callbacks.
pub(crate) struct Handshake {
    pub listener: SocketAddr,
    pub state: Arc<ArcSwap<Snapshot>>,
}

/// A certificate in the chain OpenSSL built for the client is larger than certgate accepts.
#[cfg(feature = "openssl")]
fn oversized(ctx: &pingora::tls::x509::X509StoreContextRef) -> bool {
    ctx.current_cert()
        .and_then(|c| c.to_der().ok())
        .is_some_and(|der| der.len() > MAX_CLIENT_CERTIFICATE)
}

fn handshake_failed(reason: &str) {
    crate::metrics::METRICS
        .handshake_failures
        .with_label_values(&[reason])
        .inc();
}

/// The client certificate that the strict check parsed during the handshake, handed on to the
/// connection's identity (`handshake_complete_callback`) so that a handshake parses the client's
/// certificate once: a parse is about 127 000 instructions, 4 % of a full handshake (`make
/// instructions`, BoringSSL build).
type ParsedLeaf = Arc<std::sync::OnceLock<Arc<Certificate>>>;

static PARSED_LEAF: std::sync::LazyLock<Option<Index<Ssl, ParsedLeaf>>> =
    std::sync::LazyLock::new(|| Ssl::new_ex_index().ok());

/// What the handshake's strict check needs: the trust store, where the leaf's parse is kept,
/// and whether a revocation status still being fetched for the first time passes the handshake
/// (`trust.revocation-wait` is set: each request then waits for it, bounded, and is refused
/// if it stays unknown; `proxy::revocation_wait`).
struct Strict {
    trust: Arc<TrustStore>,
    parsed: ParsedLeaf,
    pending_passes: bool,
}

fn set_verify(ssl: &mut SslRef, h: &HostnameSpec, trust: Arc<TrustStore>, pending_passes: bool) {
    if !h.strict && !h.negotiate_client_certificate {
        ssl.set_verify(SslVerifyMode::NONE);
        return;
    }
    // Strict: reject in the handshake unless the leaf verifies against the trust store (APIM's
    // chain model: uploaded intermediates only, unless allowed), is within its validity period
    // and, when CRLs are configured, is not revoked (nginx's `ssl_crl`). Negotiate: accept any
    // chain (the policy decides), keeping the proof-of-possession check; only oversized
    // certificates are refused.
    let strict = h.strict.then(|| {
        let parsed = ParsedLeaf::default();
        if let Some(index) = *PARSED_LEAF {
            ssl.set_ex_data(index, parsed.clone());
        }
        Strict {
            trust,
            parsed,
            pending_passes,
        }
    });
    let mode = if h.strict {
        SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT
    } else {
        SslVerifyMode::PEER
    };
    verify_with(ssl, mode, strict);
}

/// Client certificates parsed lately, by their encoding. API clients reconnect with the same
/// certificate many times a minute; its parse (about 60 000 instructions, ~2.5 % of a full
/// handshake) is made once and shared while it stays here. A parse is a function of the
/// encoding alone, so a hit is the parse the connection would have made; 4 096 of them at most
/// (a few KiB each), the least used leaving first.
static CLIENT_CERTIFICATES: std::sync::LazyLock<moka::sync::Cache<Box<[u8]>, Arc<Certificate>>> =
    std::sync::LazyLock::new(|| moka::sync::Cache::new(4096));

/// `x509` as a [`Certificate`], from [`CLIENT_CERTIFICATES`] when it was seen lately.
fn client_certificate(
    x509: pingora::tls::x509::X509,
) -> Result<Arc<Certificate>, certgate_policy::CertError> {
    let Ok(der) = x509.to_der() else {
        return Certificate::from_x509(x509).map(Arc::new);
    };
    let der = der.into_boxed_slice();
    if let Some(hit) = CLIENT_CERTIFICATES.get(&der) {
        return Ok(hit);
    }
    let parsed = Arc::new(Certificate::from_x509(x509)?);
    CLIENT_CERTIFICATES.insert(der, parsed.clone());
    Ok(parsed)
}

/// `x509` is the certificate `parsed` was read from (compared by encoding).
fn is_parse_of(parsed: &Certificate, x509: &pingora::tls::x509::X509Ref) -> bool {
    x509.to_der().is_ok_and(|der| *der == **parsed.raw_data())
}

/// The strict check of the client's leaf certificate in the handshake: the refusal's metric
/// label, if it is refused. The parse is kept in `parsed` for the connection.
fn leaf_refusal(strict: &Strict, leaf: pingora::tls::x509::X509) -> Option<&'static str> {
    let parsed = &strict.parsed;
    // The library may call back more than once for the leaf of one verification; the parse is
    // reused only for the same certificate (a renegotiation may bring another).
    let cert = match parsed.get().filter(|c| is_parse_of(c, &leaf)) {
        Some(c) => Ok(c.clone()),
        None => client_certificate(leaf),
    };
    match cert {
        Ok(c) => {
            let refusal = strict_check(&strict.trust, &c, strict.pending_passes)
                .err()
                .map(|f| f.handshake_label());
            let _ = parsed.set(c);
            refusal
        }
        Err(_) => Some("client_certificate_unreadable"),
    }
}

/// OpenSSL: a verify callback over OpenSSL's own chain building, which decides nothing here
/// (every depth but the leaf is accepted; the leaf gets the strict check).
#[cfg(feature = "openssl")]
fn verify_with(ssl: &mut SslRef, mode: SslVerifyMode, strict: Option<Strict>) {
    ssl.set_verify_callback(mode, move |_pre, ctx| {
        if oversized(ctx) {
            handshake_failed("client_certificate_too_large");
            return false;
        }
        let Some(strict) = &strict else {
            return true;
        };
        if ctx.error_depth() != 0 {
            return true;
        }
        let Some(leaf) = ctx.current_cert().map(|c| c.to_owned()) else {
            return false;
        };
        let refusal = leaf_refusal(strict, leaf);
        if let Some(reason) = refusal {
            handshake_failed(reason);
        }
        refusal.is_none()
    });
}

/// BoringSSL: a custom verification replaces BoringSSL's own chain building
/// (`X509_verify_cert`: about 75 000 instructions of a full handshake, 2.4 %), whose verdict the
/// strict check never used: it decides from certgate's trust store and verification cache.
/// BoringSSL still checks the client's CertificateVerify signature (proof of possession).
#[cfg(not(feature = "openssl"))]
fn verify_with(ssl: &mut SslRef, mode: SslVerifyMode, strict: Option<Strict>) {
    use pingora::tls::ssl::{SslAlert, SslVerifyError};
    ssl.set_custom_verify_callback(mode, move |ssl| {
        let leaf = ssl.peer_certificate();
        let sent = leaf.iter().map(|c| &**c).chain(
            ssl.peer_cert_chain()
                .into_iter()
                .flat_map(|chain| chain.iter()),
        );
        let too_large = sent
            .map(|c| c.to_der().map_or(usize::MAX, |d| d.len()))
            .any(|len| len > MAX_CLIENT_CERTIFICATE);
        if too_large {
            handshake_failed("client_certificate_too_large");
            return Err(SslVerifyError::Invalid(SslAlert::BAD_CERTIFICATE));
        }
        let Some(strict) = &strict else {
            return Ok(());
        };
        let Some(leaf) = leaf else {
            handshake_failed("client_certificate_missing");
            return Err(SslVerifyError::Invalid(SslAlert::CERTIFICATE_REQUIRED));
        };
        match leaf_refusal(strict, leaf) {
            None => Ok(()),
            Some(reason) => {
                handshake_failed(reason);
                Err(SslVerifyError::Invalid(match reason {
                    "client_certificate_expired" => SslAlert::CERTIFICATE_EXPIRED,
                    "client_certificate_revoked" => SslAlert::CERTIFICATE_REVOKED,
                    "client_certificate_untrusted" => SslAlert::UNKNOWN_CA,
                    _ => SslAlert::BAD_CERTIFICATE,
                }))
            }
        }
    });
}

/// BoringSSL keeps the connection's copy of what the certificate callback set (certificate,
/// chain, key: about 1 KB) for the connection's life; told to, it frees that configuration once
/// the handshake is done, which nothing after the handshake reads here (the session, the peer's
/// certificates and the server name are handshake results, not configuration). Memory per idle
/// kept-alive connection is what this saves (issue 11). OpenSSL has no such switch.
#[cfg(not(feature = "openssl"))]
fn shed_certificate_after_handshake(ssl: &mut TlsRef) {
    use pingora::tls::ssl_sys as ffi;
    // SAFETY: `SslRef` is foreign-types' opaque reference type: its address is the `SSL*`
    // itself (what `ForeignTypeRef::as_ptr` returns).
    unsafe { ffi::SSL_set_shed_handshake_config(ssl as *mut TlsRef as *mut ffi::SSL, 1) }
}

#[cfg(feature = "openssl")]
fn shed_certificate_after_handshake(_ssl: &mut TlsRef) {}

/// What a strict hostname demands of a client certificate, in the handshake and again on every
/// request (a resumed session or a reload may have changed the answer): a chain to a trusted
/// root, validity now, and no revocation when CRLs are configured. `pending_passes`: a
/// revocation status whose first fetch is under way passes (the handshake, when requests wait
/// for it: `Strict`).
pub(crate) fn strict_check(
    trust: &TrustStore,
    cert: &Certificate,
    pending_passes: bool,
) -> Result<(), ClientCertificateFailure> {
    match trust.verify(cert, &SentChain::default(), trust.has_crls()) {
        Ok(_) => Ok(()),
        Err(TrustFailure::RevocationPending(_)) if pending_passes => Ok(()),
        Err(f) => Err(ClientCertificateFailure::from(&f)),
    }
}

#[async_trait]
impl TlsAccept for Handshake {
    async fn certificate_callback(&self, ssl: &mut TlsRef) {
        crate::metrics::METRICS.handshakes_started.inc();
        let snap = self.state.load();
        let sni = ssl
            .servername(NameType::HOST_NAME)
            .map(str::to_ascii_lowercase);
        let Some(h) = snap.hostname_on(self.listener, sni.as_deref()) else {
            handshake_failed("unknown_hostname");
            return;
        };
        let Some(key) = &h.certificate.key else {
            handshake_failed("server_certificate");
            return;
        };
        // Errors leave the connection without a certificate: the handshake fails cleanly.
        if ext::ssl_use_certificate(ssl, h.certificate.cert.x509()).is_err()
            || ext::ssl_use_private_key(ssl, key).is_err()
        {
            handshake_failed("server_certificate");
            return;
        }
        for c in &h.certificate.chain {
            let _ = ext::ssl_add_chain_cert(ssl, c);
        }
        // A current, good OCSP answer is stapled (sent when the client asks for it).
        if let Some(der) = h.staple.as_ref().and_then(|e| e.staple()) {
            let _ = ssl.set_ocsp_status(&der);
        }
        // BoringSSL calls this before it looks for a session to resume, so the context set
        // here decides resumption; with OpenSSL the client-hello callback set it already.
        sessions::bind(ssl, h);
        set_verify(ssl, h, snap.trust.clone(), !snap.revocation_wait.is_zero());
        shed_certificate_after_handshake(ssl);
    }

    async fn handshake_complete_callback(
        &self,
        ssl: &TlsRef,
    ) -> Option<Arc<dyn Any + Send + Sync>> {
        let reported = || {
            ssl.servername(NameType::HOST_NAME)
                .map(str::to_ascii_lowercase)
        };
        #[cfg(feature = "openssl")]
        let sni = sessions::hello_sni(ssl).unwrap_or_else(reported);
        #[cfg(not(feature = "openssl"))]
        let sni = reported();
        let hostname = {
            let snap = self.state.load();
            snap.hostname_on(self.listener, sni.as_deref())
                .map(|h| h.host.clone())
        };
        let mut id = ClientIdentity {
            sni: sni.map(Arc::from),
            hostname,
            ..Default::default()
        };
        let peer = ssl.peer_certificate();
        let presented = if peer.is_some() { "presented" } else { "none" };
        crate::metrics::METRICS
            .handshakes
            .with_label_values(&[presented])
            .inc();
        if let Some(peer) = peer {
            // The strict check's parse of this certificate, when it ran (not on a resumed
            // session); compared by encoding, so only the same certificate is taken over.
            let parsed = (*PARSED_LEAF)
                .and_then(|index| ssl.ex_data(index))
                .and_then(|slot| slot.get().cloned())
                .filter(|c| is_parse_of(c, &peer));
            match parsed {
                Some(c) => id.certificate = Some(c),
                None => match client_certificate(peer) {
                    Ok(c) => id.certificate = Some(c),
                    Err(e) => id.unreadable = Some(e.to_string()),
                },
            }
            // On the server side the peer chain excludes the leaf.
            let chain: Vec<_> = ssl
                .peer_cert_chain()
                .map(|s| s.iter().map(|c| c.to_owned()).collect())
                .unwrap_or_default();
            id.sent_chain = SentChain::new(chain);
        }
        Some(Arc::new(id))
    }
}

/// A listener's `key-exchange-groups`, checked against the TLS library this build links (a
/// scratch context takes the list as the listener's will), joined as the library reads it.
pub(crate) fn key_exchange_groups(names: &[String]) -> Result<String, String> {
    if names.is_empty() {
        return Err("the list is empty; leave the setting out for the library's default".into());
    }
    if let Some(bad) = names.iter().find(|n| {
        n.is_empty()
            || !n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) {
        return Err(format!("'{bad}' is not a group name"));
    }
    let list = names.join(":");
    let mut scratch = pingora::tls::ssl::SslContext::builder(pingora::tls::ssl::SslMethod::tls())
        .map_err(|e| e.to_string())?;
    for name in names {
        if set_groups(&mut scratch, name).is_err() {
            return Err(format!(
                "'{name}' is not a key-exchange group this build's TLS library supports \
                 (e.g. X25519MLKEM768, X25519, P-256, P-384)"
            ));
        }
    }
    set_groups(&mut scratch, &list).map_err(|e| e.to_string())?;
    Ok(list)
}

/// Sets the TLS 1.3 suites on a context, chosen by the listener in this order.
fn set_tls13_suites(
    ctx: &mut pingora::tls::ssl::SslContextBuilder,
    suites: &[Tls13Suite],
) -> Result<(), pingora::tls::error::ErrorStack> {
    #[cfg(feature = "openssl")]
    {
        ctx.set_ciphersuites(&Tls13Suite::join(suites))?;
        // For TLS 1.3 too, OpenSSL follows the client's order unless told otherwise.
        ctx.set_options(pingora::tls::ssl::SslOptions::CIPHER_SERVER_PREFERENCE);
        Ok(())
    }
    #[cfg(not(feature = "openssl"))]
    {
        use pingora::tls::ssl_sys as ffi;
        // BoringSSL takes the TLS 1.3 list as IANA code points; without flags no two are of
        // equal preference, so the listener's order decides.
        let ids: Vec<u16> = suites
            .iter()
            .map(|s| match s {
                Tls13Suite::Aes128GcmSha256 => ffi::SSL_CIPHER_AES_128_GCM_SHA256 as u16,
                Tls13Suite::Aes256GcmSha384 => ffi::SSL_CIPHER_AES_256_GCM_SHA384 as u16,
                Tls13Suite::Chacha20Poly1305Sha256 => {
                    ffi::SSL_CIPHER_CHACHA20_POLY1305_SHA256 as u16
                }
            })
            .collect();
        // SAFETY: the context pointer is the builder's own, valid for this call; `ids` outlives
        // it and BoringSSL copies the list.
        let ok = unsafe {
            ffi::SSL_CTX_set1_tls13_ciphers(ctx.as_ptr(), ids.as_ptr(), std::ptr::null(), ids.len())
        };
        if ok == 1 {
            Ok(())
        } else {
            Err(pingora::tls::error::ErrorStack::get())
        }
    }
}

/// Sets the key-exchange groups (`a:b:c`) on a context: `SSL_CTX_set1_groups_list` in OpenSSL,
/// `SSL_CTX_set1_curves_list` (the same list under its older name) in BoringSSL.
fn set_groups(
    ctx: &mut pingora::tls::ssl::SslContextBuilder,
    list: &str,
) -> Result<(), pingora::tls::error::ErrorStack> {
    #[cfg(feature = "openssl")]
    return ctx.set_groups_list(list);
    #[cfg(not(feature = "openssl"))]
    return ctx.set_curves_list(list);
}

/// TLS settings for one listener: TLS 1.2 (unless `min-tls-version: "1.3"`) and 1.3, ALPN h2
/// when enabled, session resumption (tickets and cache) that keeps the client certificate,
/// unless switched off. Fixed for the life of the listening socket.
pub(crate) fn settings(
    listener: &ListenerSpec,
    state: Arc<ArcSwap<Snapshot>>,
) -> pingora::Result<TlsSettings> {
    let state_for_sessions = state.clone();
    let mut s = TlsSettings::with_callbacks(Box::new(Handshake {
        listener: listener.address,
        state,
    }))?;
    let tls_err = |e: pingora::tls::error::ErrorStack| {
        pingora::Error::because(pingora::ErrorType::InternalError, "TLS settings", e)
    };
    let min = match listener.min_tls_version {
        MinTlsVersion::Tls12 => SslVersion::TLS1_2,
        MinTlsVersion::Tls13 => SslVersion::TLS1_3,
    };
    s.set_min_proto_version(Some(min)).map_err(tls_err)?;
    // Required for resumption of sessions that carry a client certificate.
    s.set_session_id_context(b"certgate").map_err(tls_err)?;
    // Idle connections give their TLS record buffers back (~34 KiB each with OpenSSL), as nginx
    // does: what a gateway holding many kept-alive clients needs.
    s.set_mode(SslMode::RELEASE_BUFFERS);
    if !listener.session_resumption {
        s.set_session_cache_mode(SslSessionCacheMode::OFF);
        s.set_options(SslOptions::NO_TICKET);
    }
    if listener.session_resumption {
        sessions::configure(&mut s, listener.address, state_for_sessions)?;
    }
    if let Some(groups) = &listener.key_exchange_groups {
        set_groups(&mut s, groups).map_err(tls_err)?;
    }
    set_tls13_suites(&mut s, &listener.tls13_cipher_suites).map_err(tls_err)?;
    if listener.http2 {
        s.enable_h2();
    }
    // OpenSSL sends a stapled response only when the context has a status callback saying so;
    // BoringSSL sends the one set on the connection by itself.
    #[cfg(feature = "openssl")]
    s.set_status_callback(|ssl| Ok(ssl.ocsp_status().is_some()))
        .map_err(tls_err)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use certgate_policy::pki::{DemoPki, KeyKind};
    use certgate_policy::Certificate;

    use super::client_certificate;

    /// A client certificate seen again is the same parse; another certificate with the same
    /// subject, issuer name and serial (a second PKI of the same shape, other keys) is not
    /// taken for it.
    #[test]
    fn a_client_certificate_is_parsed_once_and_never_confused() {
        let first = DemoPki::generate(KeyKind::EcdsaP256).unwrap();
        let second = DemoPki::generate(KeyKind::EcdsaP256).unwrap();
        let (a, b) = (&first.valid.cert, &second.valid.cert);
        assert_eq!(
            a.subject_name().to_der().unwrap(),
            b.subject_name().to_der().unwrap()
        );
        let once = client_certificate(a.clone()).unwrap();
        let again = client_certificate(a.clone()).unwrap();
        assert!(Arc::ptr_eq(&once, &again));
        let other = client_certificate(b.clone()).unwrap();
        assert!(!Arc::ptr_eq(&once, &other));
        let want = Certificate::from_der(&b.to_der().unwrap()).unwrap();
        assert_eq!(other.thumbprint(), want.thumbprint());
        assert_ne!(other.thumbprint(), once.thumbprint());
    }
}
