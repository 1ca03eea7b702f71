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
//! Sessions are bound to the hostname they were made under (issue: a session must never carry
//! a client certificate across hostnames): each hostname's client-certificate rule has its own
//! session-id context, set before the library looks for a session to resume. OpenSSL checks
//! that context for TLS 1.2 sessions (IDs and tickets) but not for TLS 1.3 tickets, so a ticket
//! callback refuses a TLS 1.3 ticket made under another context (a full handshake follows).
//! BoringSSL checks the context for both versions.

use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use certgate_policy::cert::Certificate;
use certgate_policy::trust::{SentChain, TrustFailure, TrustStore};
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::TlsAccept;
use pingora::protocols::tls::TlsRef;
use pingora::tls::ext;
use pingora::tls::ssl::{
    NameType, SslMode, SslOptions, SslRef, SslSessionCacheMode, SslVerifyMode, SslVersion,
};

use crate::snapshot::{HostnameSpec, ListenerSpec, MinTlsVersion, Snapshot};

/// What the handshake established about the client, parsed once per connection.
#[derive(Debug, Default)]
pub struct ClientIdentity {
    pub certificate: Option<Arc<Certificate>>,
    pub sent_chain: SentChain,
    pub sni: Option<String>,
    /// The configured hostname the connection was negotiated for (SNI, or the default one):
    /// the only hostname its requests may name.
    pub hostname: Option<String>,
    /// The session was resumed rather than negotiated in full.
    pub resumed: bool,
    /// The client sent a certificate certgate could not read (kept out of policies).
    pub unreadable: Option<String>,
}

/// Largest client certificate accepted in the handshake (DER bytes). Real client certificates
/// are 1-3 KiB; a bigger one (thousands of SANs) is refused with a `bad_certificate` alert and
/// counted, instead of failing later when its session does not fit a ticket.
pub const MAX_CLIENT_CERTIFICATE: usize = 16 * 1024;

/// The session-id context of a hostname's client-certificate rule: 32 bytes (the most a
/// context may have) hashed from the name and the rule, so a session made under one hostname,
/// or under an earlier, weaker rule for the same one, is never resumed under another.
pub fn session_context(h: &HostnameSpec) -> [u8; 32] {
    let text = format!(
        "certgate session\0{}\0{}\0{}",
        h.host, h.negotiate_client_certificate, h.strict
    );
    certgate_policy::crypto::sha::sha256(text.as_bytes())
}

/// The per-listener handshake callbacks.
pub struct Handshake {
    pub listener: SocketAddr,
    pub state: Arc<ArcSwap<Snapshot>>,
}

impl Handshake {
    fn hostname<'s>(&self, snap: &'s Snapshot, sni: Option<&str>) -> Option<&'s HostnameSpec> {
        snap.listeners
            .iter()
            .find(|l| l.address == self.listener)?
            .hostname(sni)
    }
}

/// Accepts any chain (the policy decides) but keeps OpenSSL's proof-of-possession check; only
/// oversized certificates are refused here.
fn accept_any(_preverify: bool, ctx: &mut pingora::tls::x509::X509StoreContextRef) -> bool {
    if oversized(ctx) {
        handshake_failed("client_certificate_too_large");
        return false;
    }
    true
}

fn oversized(ctx: &pingora::tls::x509::X509StoreContextRef) -> bool {
    ctx.current_cert()
        .and_then(|c| c.to_der().ok())
        .is_some_and(|der| der.len() > MAX_CLIENT_CERTIFICATE)
}

/// The metric reason for a client certificate a strict hostname refuses.
fn strict_refusal(f: &TrustFailure) -> &'static str {
    match f {
        TrustFailure::Expired => "client_certificate_expired",
        TrustFailure::NotYetValid => "client_certificate_not_yet_valid",
        TrustFailure::Revoked => "client_certificate_revoked",
        TrustFailure::RevocationUnknown(_) => "client_certificate_revocation_unknown",
        TrustFailure::NotTrusted(_) | TrustFailure::Other(_) => "client_certificate_untrusted",
    }
}

fn handshake_failed(reason: &str) {
    crate::metrics::METRICS
        .handshake_failures
        .with_label_values(&[reason])
        .inc();
}

fn set_verify(ssl: &mut SslRef, h: &HostnameSpec, trust: Arc<TrustStore>) {
    if h.strict {
        // Reject in the handshake unless the leaf verifies against the trust store (APIM's
        // chain model: uploaded intermediates only, unless allowed), is within its validity
        // period and, when CRLs are configured, is not revoked (nginx's `ssl_crl`).
        ssl.set_verify_callback(
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            move |_pre, ctx| {
                if oversized(ctx) {
                    handshake_failed("client_certificate_too_large");
                    return false;
                }
                if ctx.error_depth() != 0 {
                    return true;
                }
                let Some(leaf) = ctx.current_cert().map(|c| c.to_owned()) else {
                    return false;
                };
                let refusal = match Certificate::from_x509(leaf) {
                    Ok(c) => strict_check(&trust, &c).err(),
                    Err(_) => Some("client_certificate_unreadable"),
                };
                if let Some(reason) = refusal {
                    handshake_failed(reason);
                }
                refusal.is_none()
            },
        );
    } else if h.negotiate_client_certificate {
        ssl.set_verify_callback(SslVerifyMode::PEER, accept_any);
    } else {
        ssl.set_verify(SslVerifyMode::NONE);
    }
}

/// What a strict hostname demands of a client certificate, in the handshake and again on every
/// request (a resumed session or a reload may have changed the answer): a chain to a trusted
/// root, validity now, and no revocation when CRLs are configured. The metric reason otherwise.
pub fn strict_check(trust: &TrustStore, cert: &Certificate) -> Result<(), &'static str> {
    trust
        .verify(cert, &SentChain::default(), trust.has_crls())
        .map(|_| ())
        .map_err(|f| strict_refusal(&f))
}

/// Sets the connection's session-id context (see the module docs).
fn set_session_context(ssl: &mut SslRef, context: &[u8; 32]) {
    #[cfg(feature = "openssl")]
    extern "C" {
        fn SSL_set_session_id_context(
            ssl: *mut pingora::tls::ssl_sys::SSL,
            sid_ctx: *const u8,
            sid_ctx_len: std::ffi::c_uint,
        ) -> std::ffi::c_int;
    }
    #[cfg(not(feature = "openssl"))]
    use pingora::tls::ssl_sys::SSL_set_session_id_context;
    // SAFETY: `SslRef` is foreign-types' opaque reference type: its address is the `SSL*`
    // itself (what `ForeignTypeRef::as_ptr` returns). The context is 32 bytes
    // (SSL_MAX_SID_CTX_LENGTH) and copied by the library.
    unsafe {
        SSL_set_session_id_context(
            ssl as *mut SslRef as *mut pingora::tls::ssl_sys::SSL,
            context.as_ptr(),
            context.len() as _,
        );
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
        let Some(h) = self.hostname(&snap, sni.as_deref()) else {
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
        // BoringSSL calls this before it looks for a session to resume, so the context set
        // here decides resumption; with OpenSSL the client-hello callback set it already.
        set_session_context(ssl, &session_context(h));
        set_verify(ssl, h, snap.trust.clone());
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
        let sni = openssl_sessions::hello_sni(ssl).unwrap_or_else(reported);
        #[cfg(not(feature = "openssl"))]
        let sni = reported();
        let hostname = {
            let snap = self.state.load();
            self.hostname(&snap, sni.as_deref()).map(|h| h.host.clone())
        };
        let mut id = ClientIdentity {
            sni,
            hostname,
            resumed: ssl.session_reused(),
            ..Default::default()
        };
        let peer = ssl.peer_certificate();
        let presented = if peer.is_some() { "presented" } else { "none" };
        crate::metrics::METRICS
            .handshakes
            .with_label_values(&[presented])
            .inc();
        if let Some(peer) = peer {
            match Certificate::from_x509(peer) {
                Ok(c) => id.certificate = Some(Arc::new(c)),
                Err(e) => id.unreadable = Some(e.to_string()),
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

/// TLS settings for one listener: TLS 1.2 (unless `min-tls-version: "1.3"`) and 1.3, ALPN h2
/// when enabled, session resumption (tickets and cache) that keeps the client certificate,
/// unless switched off. Fixed for the life of the listening socket.
pub fn settings(
    listener: &ListenerSpec,
    state: Arc<ArcSwap<Snapshot>>,
) -> pingora::Result<TlsSettings> {
    #[cfg(feature = "openssl")]
    let state_for_hello = state.clone();
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
    #[cfg(feature = "openssl")]
    openssl_sessions::bind_to_hostnames(&mut s, listener.address, state_for_hello)?;
    if listener.http2 {
        s.enable_h2();
    }
    Ok(s)
}

/// OpenSSL only: the session-id context set from the ClientHello (before OpenSSL looks for a
/// session; Pingora's certificate callback runs after that, and not at all on resumption), and
/// a ticket callback that refuses TLS 1.3 tickets made under another context, which OpenSSL
/// itself does not check (ssl/statem/extensions_srvr.c, tls_parse_ctos_psk).
#[cfg(feature = "openssl")]
mod openssl_sessions {
    use std::ffi::{c_int, c_uchar, c_uint, c_void};
    use std::net::SocketAddr;
    use std::sync::{Arc, LazyLock};

    use arc_swap::ArcSwap;
    use certgate_policy::crypto::ex_data::Index;
    use pingora::listeners::tls::TlsSettings;
    use pingora::tls::ssl::{ClientHelloResponse, Ssl, SslAlert, SslRef};
    use pingora::tls::ssl_sys as ffi;

    use crate::snapshot::Snapshot;

    // Not declared by openssl-sys; present in every OpenSSL since 1.1.1.
    type DecryptTicket = unsafe extern "C" fn(
        *mut ffi::SSL,
        *mut ffi::SSL_SESSION,
        *const c_uchar,
        usize,
        c_int,
        *mut c_void,
    ) -> c_int;
    extern "C" {
        fn SSL_CTX_set_session_ticket_cb(
            ctx: *mut ffi::SSL_CTX,
            gen_cb: Option<unsafe extern "C" fn(*mut ffi::SSL, *mut c_void) -> c_int>,
            dec_cb: Option<DecryptTicket>,
            arg: *mut c_void,
        ) -> c_int;
        fn SSL_SESSION_get0_id_context(
            s: *const ffi::SSL_SESSION,
            sid_ctx_length: *mut c_uint,
        ) -> *const c_uchar;
    }
    const TICKET_SUCCESS: c_int = 5;
    const TICKET_SUCCESS_RENEW: c_int = 6;
    const TICKET_RETURN_IGNORE_RENEW: c_int = 2;
    const TICKET_RETURN_USE: c_int = 3;
    const TICKET_RETURN_USE_RENEW: c_int = 4;

    /// The context chosen from the ClientHello, for the ticket callback.
    static CONTEXT: LazyLock<Option<Index<Ssl, [u8; 32]>>> =
        LazyLock::new(|| Ssl::new_ex_index().ok());
    /// The SNI name of the ClientHello: OpenSSL does not report it after a resumed TLS 1.2
    /// handshake, and the hostname a connection may serve must come from it.
    static SNI: LazyLock<Option<Index<Ssl, Option<String>>>> =
        LazyLock::new(|| Ssl::new_ex_index().ok());

    /// The SNI name the ClientHello carried (`Some(None)`: none), when the callback saw it.
    pub(super) fn hello_sni(ssl: &SslRef) -> Option<Option<String>> {
        (*SNI).and_then(|i| ssl.ex_data(i).cloned())
    }

    /// The server_name from a ClientHello's SNI extension body (RFC 6066 §3).
    pub(super) fn sni_from_extension(ext: &[u8]) -> Option<String> {
        let list = ext.get(2..)?;
        let declared = u16::from_be_bytes([*ext.first()?, *ext.get(1)?]) as usize;
        let list = list.get(..declared)?;
        let mut i = 0;
        while i + 3 <= list.len() {
            let kind = list[i];
            let len = u16::from_be_bytes([list[i + 1], list[i + 2]]) as usize;
            let name = list.get(i + 3..i + 3 + len)?;
            if kind == 0 {
                return std::str::from_utf8(name).ok().map(str::to_ascii_lowercase);
            }
            i += 3 + len;
        }
        None
    }

    fn client_hello_sni(ssl: &mut SslRef) -> Option<String> {
        let mut out: *const c_uchar = std::ptr::null();
        let mut len: usize = 0;
        // SAFETY: valid during the client-hello callback; `out` points into the ClientHello,
        // which outlives this call, and is copied out before returning.
        let ext = unsafe {
            let ssl = ssl as *mut SslRef as *mut ffi::SSL;
            if ffi::SSL_client_hello_get0_ext(ssl, 0, &mut out, &mut len) != 1 || out.is_null() {
                return None;
            }
            std::slice::from_raw_parts(out, len)
        };
        sni_from_extension(ext)
    }

    unsafe extern "C" fn decrypt_ticket(
        ssl: *mut ffi::SSL,
        session: *mut ffi::SSL_SESSION,
        _key_name: *const c_uchar,
        _key_name_len: usize,
        status: c_int,
        _arg: *mut c_void,
    ) -> c_int {
        if status != TICKET_SUCCESS && status != TICKET_SUCCESS_RENEW {
            return TICKET_RETURN_IGNORE_RENEW;
        }
        let Some(index) = *CONTEXT else {
            return TICKET_RETURN_IGNORE_RENEW;
        };
        // SAFETY: called by OpenSSL with a live SSL and the decrypted session; the ex data at
        // `index` is the boxed [u8; 32] stored by the client-hello callback (or absent).
        let same = unsafe {
            let expected = ffi::SSL_get_ex_data(ssl, index.as_raw()) as *const [u8; 32];
            let mut len: c_uint = 0;
            let got = SSL_SESSION_get0_id_context(session, &mut len);
            !expected.is_null()
                && !got.is_null()
                && len == 32
                && std::slice::from_raw_parts(got, 32) == (&*expected).as_slice()
        };
        match (same, status) {
            (true, TICKET_SUCCESS) => TICKET_RETURN_USE,
            (true, _) => TICKET_RETURN_USE_RENEW,
            // Made under another hostname's rule: a full handshake, and a ticket of its own.
            (false, _) => TICKET_RETURN_IGNORE_RENEW,
        }
    }

    pub(super) fn bind_to_hostnames(
        s: &mut TlsSettings,
        listener: SocketAddr,
        state: Arc<ArcSwap<Snapshot>>,
    ) -> pingora::Result<()> {
        s.set_client_hello_callback(move |ssl: &mut SslRef, _alert: &mut SslAlert| {
            let snap = state.load();
            let sni = client_hello_sni(ssl);
            let host = snap
                .listeners
                .iter()
                .find(|l| l.address == listener)
                .and_then(|l| l.hostname(sni.as_deref()));
            if let Some(index) = *SNI {
                ssl.set_ex_data(index, sni.clone());
            }
            if let Some(h) = host {
                let context = super::session_context(h);
                super::set_session_context(ssl, &context);
                if let Some(index) = *CONTEXT {
                    ssl.set_ex_data(index, context);
                }
            }
            Ok(ClientHelloResponse::SUCCESS)
        });
        // SAFETY: a live SSL_CTX owned by the builder; the callback is a plain function.
        let ok = unsafe {
            let ctx = &mut **s as &mut pingora::tls::ssl::SslContextBuilder;
            SSL_CTX_set_session_ticket_cb(
                ctx.as_ptr(),
                None,
                Some(decrypt_ticket),
                std::ptr::null_mut(),
            )
        };
        if ok != 1 {
            return Err(pingora::Error::explain(
                pingora::ErrorType::InternalError,
                "TLS settings: session ticket callback",
            ));
        }
        Ok(())
    }
}
