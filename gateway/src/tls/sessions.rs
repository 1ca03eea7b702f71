//! TLS sessions bound to the hostname they were made under (README "Authentication boundary"):
//! a session must never carry a client certificate from one hostname's rule to another's.
//!
//! - Each hostname's client-certificate rule has its own session-id context
//!   ([`session_context`]), set on the connection before the library looks for a session to
//!   resume: from the ClientHello with OpenSSL (Pingora's certificate callback runs after the
//!   session lookup there, and not at all on resumption), in the certificate callback with
//!   BoringSSL (which runs it first). Both libraries refuse a TLS 1.2 session ID or ticket made
//!   under another context (a full handshake follows).
//! - Each context has its own ticket keys ([`TicketKeys`]), derived from a process-wide random
//!   secret, the context and a 12-hour epoch (rotation: tickets of the previous epoch are still
//!   accepted and renewed). A ticket from another hostname does not decrypt.
//! - OpenSSL does not compare the context for TLS 1.3 tickets (ssl/statem/extensions_srvr.c,
//!   `tls_parse_ctos_psk`), so a ticket-decrypt callback does, after decryption: the keys and
//!   the check each suffice; both are kept because the check also covers the server-side
//!   session cache.
//!
//! This is the FFI corner of the gateway: rust-openssl wraps neither the ticket callbacks nor
//! the per-connection context setter.

use std::sync::LazyLock;

use certgate_policy::crypto::ex_data::Index;
use pingora::tls::ssl::{Ssl, SslRef};
use pingora::tls::ssl_sys as ffi;

use crate::snapshot::HostnameSpec;

/// The session-id context of a hostname's client-certificate rule: 32 bytes (the most a
/// context may have) hashed from the name and the rule, so a session made under one hostname,
/// or under an earlier, weaker rule for the same one, is never resumed under another.
pub(crate) fn session_context(h: &HostnameSpec) -> [u8; 32] {
    let text = format!(
        "certgate session\0{}\0{}\0{}",
        h.host, h.negotiate_client_certificate, h.strict
    );
    certgate_policy::crypto::sha::sha256(text.as_bytes())
}

/// The context chosen for a connection, for the ticket callbacks.
static CONTEXT: LazyLock<Option<Index<Ssl, [u8; 32]>>> = LazyLock::new(|| Ssl::new_ex_index().ok());

/// Binds a connection to the hostname `h` its handshake is for.
pub(super) fn bind(ssl: &mut SslRef, h: &HostnameSpec) {
    let context = session_context(h);
    #[cfg(feature = "openssl")]
    extern "C" {
        // Not declared by openssl-sys.
        fn SSL_set_session_id_context(
            ssl: *mut ffi::SSL,
            sid_ctx: *const u8,
            sid_ctx_len: std::ffi::c_uint,
        ) -> std::ffi::c_int;
    }
    #[cfg(not(feature = "openssl"))]
    use ffi::SSL_set_session_id_context;
    // SAFETY: `SslRef` is foreign-types' opaque reference type: its address is the `SSL*`
    // itself (what `ForeignTypeRef::as_ptr` returns). The context is 32 bytes
    // (SSL_MAX_SID_CTX_LENGTH) and copied by the library.
    unsafe {
        SSL_set_session_id_context(
            ssl as *mut SslRef as *mut ffi::SSL,
            context.as_ptr(),
            context.len() as _,
        );
    }
    if let Some(index) = *CONTEXT {
        ssl.set_ex_data(index, context);
    }
}

fn bound_context(ssl: &SslRef) -> Option<[u8; 32]> {
    (*CONTEXT).and_then(|i| ssl.ex_data(i).copied())
}

/// How long one generation of ticket keys issues tickets; the previous generation's tickets
/// are still accepted (and renewed) for as long again.
const EPOCH_SECONDS: u64 = 12 * 3600;

/// Process-wide random secret the ticket keys derive from: tickets do not survive a restart
/// (as with the libraries' own random keys). None if the random generator failed: no tickets.
static SECRET: LazyLock<Option<[u8; 32]>> = LazyLock::new(|| {
    let mut s = [0u8; 32];
    certgate_policy::crypto::rand::rand_bytes(&mut s)
        .ok()
        .map(|_| s)
});

/// The ticket keys of one session-id context for one epoch.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) struct TicketKeys {
    /// Sent in the clear with each ticket: which keys to decrypt it with.
    pub name: [u8; 16],
    pub aes: [u8; 32],
    pub hmac: [u8; 32],
}

impl TicketKeys {
    pub(crate) fn derive(secret: &[u8; 32], context: &[u8; 32], epoch: u64) -> TicketKeys {
        let part = |label: &[u8]| {
            let mut input = Vec::with_capacity(label.len() + 72);
            input.extend_from_slice(label);
            input.extend_from_slice(secret);
            input.extend_from_slice(context);
            input.extend_from_slice(&epoch.to_be_bytes());
            certgate_policy::crypto::sha::sha256(&input)
        };
        let mut name = [0u8; 16];
        name.copy_from_slice(&part(b"certgate ticket name")[..16]);
        TicketKeys {
            name,
            aes: part(b"certgate ticket aes-256-cbc"),
            hmac: part(b"certgate ticket hmac-sha256"),
        }
    }
}

/// How many derived key sets a thread keeps: a few hostnames' current (and previous) epochs.
const RECENT_KEYS: usize = 4;

/// A derived key set with what it was derived from: secret, context, epoch.
type Derived = ([u8; 32], [u8; 32], u64, TicketKeys);

thread_local! {
    /// The key sets this thread derived last, with what they were derived from, replaced in
    /// turn. Deriving takes three SHA-256s; a connection needs its keys once per ticket it
    /// issues or opens (three times for a resumption), so without this a resumed connection
    /// spent ~2 % of its instructions here (`make instructions --handshakes resumed`).
    static RECENT: std::cell::RefCell<(usize, [Option<Derived>; RECENT_KEYS])> =
        const { std::cell::RefCell::new((0, [None; RECENT_KEYS])) };
}

/// [`TicketKeys::derive`], from this thread's recent key sets when they hold it.
fn derived(secret: &[u8; 32], context: &[u8; 32], epoch: u64) -> TicketKeys {
    let found = RECENT.with_borrow(|(_, recent)| {
        recent.iter().flatten().find_map(|(s, c, e, keys)| {
            (s == secret && c == context && *e == epoch).then_some(*keys)
        })
    });
    found.unwrap_or_else(|| {
        let keys = TicketKeys::derive(secret, context, epoch);
        RECENT.with_borrow_mut(|(next, recent)| {
            recent[*next] = Some((*secret, *context, epoch, keys));
            *next = (*next + 1) % RECENT_KEYS;
        });
        keys
    })
}

fn epoch_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / EPOCH_SECONDS)
}

/// What the ticket-key callback does with a connection bound to `context`.
pub(crate) enum TicketKeyUse {
    /// Encrypt a new ticket with these keys.
    Issue(TicketKeys),
    /// Decrypt with these keys; `renew`: they are the previous epoch's.
    Accept { keys: TicketKeys, renew: bool },
    /// Unknown name (another hostname's, or expired): a full handshake.
    Refuse,
}

/// The keys for issuing (`name` None) or for decrypting a ticket named `name`.
pub(crate) fn ticket_keys(
    secret: &[u8; 32],
    context: &[u8; 32],
    now: u64,
    name: Option<&[u8]>,
) -> TicketKeyUse {
    let Some(name) = name else {
        return TicketKeyUse::Issue(derived(secret, context, now));
    };
    for (epoch, renew) in [(now, false), (now.wrapping_sub(1), true)] {
        let keys = derived(secret, context, epoch);
        if keys.name[..] == *name {
            return TicketKeyUse::Accept { keys, renew };
        }
    }
    TicketKeyUse::Refuse
}

/// The keys for a connection, or Refuse when it is not bound or there is no secret.
fn keys_for(ssl: &SslRef, name: Option<&[u8]>) -> TicketKeyUse {
    match (&*SECRET, bound_context(ssl)) {
        (Some(secret), Some(context)) => ticket_keys(secret, &context, epoch_now(), name),
        _ => TicketKeyUse::Refuse,
    }
}

/// Installs the per-hostname ticket keys (and, with OpenSSL, the ClientHello binding and the
/// TLS 1.3 context check) on a listener's TLS settings.
pub(super) fn configure(
    s: &mut pingora::listeners::tls::TlsSettings,
    listener: std::net::SocketAddr,
    state: std::sync::Arc<arc_swap::ArcSwap<crate::snapshot::Snapshot>>,
) -> pingora::Result<()> {
    #[cfg(feature = "openssl")]
    return openssl::configure(s, listener, state);
    #[cfg(not(feature = "openssl"))]
    {
        let _ = (listener, state);
        boring::configure(s);
        Ok(())
    }
}

#[cfg(feature = "openssl")]
pub(super) use openssl::hello_sni;

#[cfg(feature = "openssl")]
mod openssl {
    use std::ffi::{c_char, c_int, c_uchar, c_uint, c_void};
    use std::net::SocketAddr;
    use std::sync::{Arc, LazyLock};

    use arc_swap::ArcSwap;
    use certgate_policy::crypto::ex_data::Index;
    use pingora::listeners::tls::TlsSettings;
    use pingora::tls::ssl::{ClientHelloResponse, Ssl, SslAlert, SslRef};
    use pingora::tls::ssl_sys as ffi;

    use super::{keys_for, TicketKeyUse, CONTEXT};
    use crate::snapshot::Snapshot;

    // Not declared by openssl-sys; present in OpenSSL 3.
    type DecryptTicket = unsafe extern "C" fn(
        *mut ffi::SSL,
        *mut ffi::SSL_SESSION,
        *const c_uchar,
        usize,
        c_int,
        *mut c_void,
    ) -> c_int;
    type TicketKey = unsafe extern "C" fn(
        *mut ffi::SSL,
        *mut c_uchar,
        *mut c_uchar,
        *mut ffi::EVP_CIPHER_CTX,
        *mut ffi::EVP_MAC_CTX,
        c_int,
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
        fn SSL_CTX_set_tlsext_ticket_key_evp_cb(
            ctx: *mut ffi::SSL_CTX,
            cb: Option<TicketKey>,
        ) -> c_int;
        fn OSSL_PARAM_construct_utf8_string(
            key: *const c_char,
            buf: *mut c_char,
            bsize: usize,
        ) -> ffi::OSSL_PARAM;
    }
    const TICKET_SUCCESS: c_int = 5;
    const TICKET_SUCCESS_RENEW: c_int = 6;
    const TICKET_RETURN_IGNORE_RENEW: c_int = 2;
    const TICKET_RETURN_USE: c_int = 3;
    const TICKET_RETURN_USE_RENEW: c_int = 4;

    /// The SNI name of the ClientHello: OpenSSL does not report it after a resumed TLS 1.2
    /// handshake, and the hostname a connection may serve must come from it.
    static SNI: LazyLock<Option<Index<Ssl, Option<String>>>> =
        LazyLock::new(|| Ssl::new_ex_index().ok());

    /// The SNI name the ClientHello carried (`Some(None)`: none), when the callback saw it.
    pub(crate) fn hello_sni(ssl: &SslRef) -> Option<Option<String>> {
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

    /// After decryption: a ticket is used only under the context it was made in.
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
        // `index` is the boxed [u8; 32] stored by `bind` (or absent).
        let same = unsafe {
            let expected = ffi::SSL_get_ex_data(ssl, index.as_raw()) as *const [u8; 32];
            let mut len: c_uint = 0;
            let got = SSL_SESSION_get0_id_context(session, &mut len);
            !expected.is_null()
                && !got.is_null()
                && len == 32
                && std::slice::from_raw_parts(got, 32) == (&*expected).as_slice()
        };
        // SAFETY: a live SSL, as above.
        let tls13 = unsafe { ffi::SSL_version(ssl) } >= ffi::TLS1_3_VERSION;
        match (same, status) {
            // TLS 1.2 tickets may be offered again: renewed only when their keys are old.
            (true, TICKET_SUCCESS) if !tls13 => TICKET_RETURN_USE,
            // A TLS 1.3 ticket is used once (RFC 8446 C.4): without a new one the client's
            // next connection was a full handshake. OpenSSL's own keys renew every TLS 1.3
            // ticket the same way; a callback has to ask for it.
            (true, _) => TICKET_RETURN_USE_RENEW,
            // Made under another hostname's rule: a full handshake, and a ticket of its own.
            (false, _) => TICKET_RETURN_IGNORE_RENEW,
        }
    }

    /// Sets the HMAC-SHA256 key of a ticket's MAC.
    ///
    /// # Safety
    /// `mac` is the live EVP_MAC_CTX OpenSSL passed to the ticket-key callback.
    unsafe fn set_mac(mac: *mut ffi::EVP_MAC_CTX, key: &[u8; 32]) -> bool {
        let mut key = *key;
        let mut digest = *b"SHA256\0";
        unsafe {
            let params = [
                ffi::OSSL_PARAM_construct_octet_string(
                    c"key".as_ptr(),
                    key.as_mut_ptr() as *mut c_void,
                    key.len(),
                ),
                OSSL_PARAM_construct_utf8_string(
                    c"digest".as_ptr(),
                    digest.as_mut_ptr() as *mut c_char,
                    0,
                ),
                ffi::OSSL_PARAM_construct_end(),
            ];
            ffi::EVP_MAC_CTX_set_params(mac, params.as_ptr()) == 1
        }
    }

    /// OpenSSL's ticket-key callback (`SSL_CTX_set_tlsext_ticket_key_evp_cb`): 1 = keys set
    /// (2 = and renew the ticket), 0 = no ticket / not ours, -1 = error.
    unsafe extern "C" fn ticket_key(
        ssl: *mut ffi::SSL,
        key_name: *mut c_uchar,
        iv: *mut c_uchar,
        cipher: *mut ffi::EVP_CIPHER_CTX,
        mac: *mut ffi::EVP_MAC_CTX,
        encrypt: c_int,
    ) -> c_int {
        // SAFETY: OpenSSL passes a live SSL (see `bind` for the cast), a 16-byte key name
        // (TLSEXT_KEYNAME_LENGTH) and a 16-byte IV (EVP_MAX_IV_LENGTH), live cipher and MAC
        // contexts; all are used only during this call.
        unsafe {
            let ssl_ref = &*(ssl as *const SslRef);
            let name = std::slice::from_raw_parts_mut(key_name, 16);
            let iv = std::slice::from_raw_parts_mut(iv, 16);
            let wanted = (encrypt != 1).then_some(&name[..]);
            match keys_for(ssl_ref, wanted) {
                TicketKeyUse::Issue(k) => {
                    if ffi::RAND_bytes(iv.as_mut_ptr(), 16) != 1 {
                        return -1;
                    }
                    name.copy_from_slice(&k.name);
                    let ok = ffi::EVP_EncryptInit_ex(
                        cipher,
                        ffi::EVP_aes_256_cbc(),
                        std::ptr::null_mut(),
                        k.aes.as_ptr(),
                        iv.as_ptr(),
                    ) == 1
                        && set_mac(mac, &k.hmac);
                    if ok {
                        1
                    } else {
                        -1
                    }
                }
                TicketKeyUse::Accept { keys, renew } => {
                    let ok = ffi::EVP_DecryptInit_ex(
                        cipher,
                        ffi::EVP_aes_256_cbc(),
                        std::ptr::null_mut(),
                        keys.aes.as_ptr(),
                        iv.as_ptr(),
                    ) == 1
                        && set_mac(mac, &keys.hmac);
                    match (ok, renew) {
                        (false, _) => -1,
                        (true, false) => 1,
                        (true, true) => 2,
                    }
                }
                TicketKeyUse::Refuse => 0,
            }
        }
    }

    pub(super) fn configure(
        s: &mut TlsSettings,
        listener: SocketAddr,
        state: Arc<ArcSwap<Snapshot>>,
    ) -> pingora::Result<()> {
        s.set_client_hello_callback(move |ssl: &mut SslRef, _alert: &mut SslAlert| {
            let snap = state.load();
            let sni = client_hello_sni(ssl);
            let host = snap.hostname_on(listener, sni.as_deref());
            if let Some(index) = *SNI {
                ssl.set_ex_data(index, sni.clone());
            }
            if let Some(h) = host {
                super::bind(ssl, h);
            }
            Ok(ClientHelloResponse::SUCCESS)
        });
        // SAFETY: a live SSL_CTX owned by the builder; the callbacks are plain functions.
        let ok = unsafe {
            let ctx = (&mut **s as &mut pingora::tls::ssl::SslContextBuilder).as_ptr();
            SSL_CTX_set_session_ticket_cb(ctx, None, Some(decrypt_ticket), std::ptr::null_mut())
                == 1
                && SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, Some(ticket_key)) == 1
        };
        if !ok {
            return Err(pingora::Error::explain(
                pingora::ErrorType::InternalError,
                "TLS settings: session ticket callbacks",
            ));
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn sni_extension() {
            // list length 14; host_name (0), length 11, "api.example"
            let mut ext = vec![0, 14, 0, 0, 11];
            ext.extend_from_slice(b"API.example");
            assert_eq!(
                super::sni_from_extension(&ext).as_deref(),
                Some("api.example")
            );
            assert_eq!(super::sni_from_extension(&[0, 40, 0, 0, 11]), None);
            assert_eq!(super::sni_from_extension(&[]), None);
        }
    }
}

#[cfg(not(feature = "openssl"))]
mod boring {
    use pingora::listeners::tls::TlsSettings;
    use pingora::tls::ssl::TicketKeyCallbackResult;

    use super::{ffi, keys_for, TicketKeyUse};

    /// An ex_data slot marking a connection that was given a ticket (a non-null marker, no
    /// destructor); negative if BoringSSL had none to give.
    static ISSUED: std::sync::LazyLock<std::ffi::c_int> = std::sync::LazyLock::new(|| {
        // SAFETY: no argument pointers, no callbacks: the slot holds a marker, never freed.
        unsafe {
            ffi::SSL_get_ex_new_index(0, std::ptr::null_mut(), std::ptr::null_mut(), None, None)
        }
    });

    /// Whether to issue another ticket on `ssl`: OpenSSL's rule (ssl/statem/statem_srvr.c),
    /// which nginx and HAProxy follow: after a resumption one new ticket, after a full
    /// handshake as many as configured (BoringSSL's 2). BoringSSL issues its number either way;
    /// a resumed client used one ticket and gets one back, so its supply holds, and a resumed
    /// handshake costs one ticket's sealing (~5 % of it) less.
    fn another_ticket(ssl: &pingora::tls::ssl::SslRef) -> bool {
        let slot = *ISSUED;
        if !ssl.session_reused() || slot < 0 {
            return true;
        }
        let ssl = ssl as *const pingora::tls::ssl::SslRef as *mut ffi::SSL;
        // SAFETY: `SslRef` is foreign-types' opaque reference to the `SSL` (interior
        // mutability); the slot was allocated for SSL objects and holds only a marker.
        unsafe {
            if !ffi::SSL_get_ex_data(ssl, slot).is_null() {
                return false;
            }
            ffi::SSL_set_ex_data(ssl, slot, std::ptr::NonNull::dangling().as_ptr());
        }
        true
    }

    pub(super) fn configure(s: &mut TlsSettings) {
        let callback = |ssl: &pingora::tls::ssl::SslRef,
                        name: &mut [u8; 16],
                        iv: &mut [u8; 16],
                        cipher: &mut certgate_policy::crypto::symm::CipherCtxRef,
                        mac: &mut certgate_policy::crypto::hmac::HmacCtxRef,
                        encrypt: bool| {
            let aes = certgate_policy::crypto::symm::Cipher::aes_256_cbc();
            let sha256 = certgate_policy::crypto::hash::MessageDigest::sha256();
            match keys_for(ssl, (!encrypt).then_some(&name[..])) {
                TicketKeyUse::Issue(_) if !another_ticket(ssl) => TicketKeyCallbackResult::Noop,
                TicketKeyUse::Issue(k) => {
                    if certgate_policy::crypto::rand::rand_bytes(iv).is_err() {
                        return TicketKeyCallbackResult::Error;
                    }
                    name.copy_from_slice(&k.name);
                    match cipher
                        .init_encrypt(&aes, &k.aes, iv)
                        .and_then(|_| mac.init(&k.hmac, &sha256))
                    {
                        Ok(()) => TicketKeyCallbackResult::Success,
                        Err(_) => TicketKeyCallbackResult::Error,
                    }
                }
                TicketKeyUse::Accept { keys, renew } => {
                    match cipher
                        .init_decrypt(&aes, &keys.aes, iv)
                        .and_then(|_| mac.init(&keys.hmac, &sha256))
                    {
                        Ok(()) if renew => TicketKeyCallbackResult::DecryptSuccessRenew,
                        Ok(()) => TicketKeyCallbackResult::Success,
                        Err(_) => TicketKeyCallbackResult::Error,
                    }
                }
                TicketKeyUse::Refuse => TicketKeyCallbackResult::Noop,
            }
        };
        // SAFETY: the callback sets the key name, IV, cipher and HMAC contexts as BoringSSL's
        // SSL_CTX_set_tlsext_ticket_key_cb requires (16-byte name and IV, AES-256-CBC,
        // HMAC-SHA256).
        unsafe { s.set_ticket_key_callback(callback) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_keys_are_per_context_and_rotate() {
        let secret = [7u8; 32];
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let issue = |ctx: &[u8; 32], epoch| match ticket_keys(&secret, ctx, epoch, None) {
            TicketKeyUse::Issue(k) => k,
            _ => unreachable!("no name: issue"),
        };
        let ka = issue(&a, 100);
        assert_ne!(ka, issue(&b, 100), "two hostnames share keys");
        assert_ne!(ka, issue(&a, 101), "keys do not rotate");
        assert_ne!(ka.aes, ka.hmac);
        // Accepted under its own context, this epoch and the next (renewed); refused elsewhere.
        assert!(matches!(
            ticket_keys(&secret, &a, 100, Some(&ka.name)),
            TicketKeyUse::Accept { renew: false, .. }
        ));
        assert!(matches!(
            ticket_keys(&secret, &a, 101, Some(&ka.name)),
            TicketKeyUse::Accept { renew: true, .. }
        ));
        assert!(matches!(
            ticket_keys(&secret, &a, 102, Some(&ka.name)),
            TicketKeyUse::Refuse
        ));
        assert!(matches!(
            ticket_keys(&secret, &b, 100, Some(&ka.name)),
            TicketKeyUse::Refuse
        ));
        // Derived keys come from the thread's recent ones only when all three inputs match
        // (more contexts than it keeps, each asked twice).
        for round in 0..2 {
            for n in 0..(RECENT_KEYS as u8 + 2) {
                let ctx = [n; 32];
                for epoch in [100, 101] {
                    assert_eq!(
                        derived(&secret, &ctx, epoch),
                        TicketKeys::derive(&secret, &ctx, epoch),
                        "round {round}"
                    );
                    assert_eq!(
                        derived(&[9u8; 32], &ctx, epoch),
                        TicketKeys::derive(&[9u8; 32], &ctx, epoch)
                    );
                }
            }
        }
        // Another process (secret) cannot read them either.
        assert!(matches!(
            ticket_keys(&[8u8; 32], &a, 100, Some(&ka.name)),
            TicketKeyUse::Refuse
        ));
    }
}
