//! The few calls where rust-openssl and its BoringSSL fork `boring` differ, behind one
//! signature each, so the rest of the crate is written once against [`crate::crypto`].
//! Nothing else belongs here: if both libraries spell a call the same way, call it directly.

use crate::crypto::error::ErrorStack;
use crate::crypto::pkey::{PKeyRef, Private};
use crate::crypto::stack::Stack;
use crate::crypto::x509::store::X509StoreBuilderRef;
use crate::crypto::x509::verify::X509VerifyFlags;
use crate::crypto::x509::{X509Builder, X509Extension, X509StoreContextRef, X509};

/// Adds an extension to a certificate being built.
pub(crate) fn append_extension(b: &mut X509Builder, ext: &X509Extension) -> Result<(), ErrorStack> {
    #[cfg(feature = "openssl")]
    return b.append_extension2(ext);
    #[cfg(not(feature = "openssl"))]
    return b.append_extension(ext);
}

/// A CRL Distribution Points extension naming `urls` (the demo PKI and tests). The two bindings
/// spell the constructor alike; rust-openssl marks it deprecated in favour of DER builders it
/// has none of for this extension.
pub(crate) fn crl_distribution_points(urls: &[&str]) -> Result<X509Extension, ErrorStack> {
    let value = urls
        .iter()
        .map(|u| format!("URI:{u}"))
        .collect::<Vec<_>>()
        .join(",");
    #[allow(deprecated)]
    X509Extension::new_nid(
        None,
        None,
        crate::crypto::nid::Nid::CRL_DISTRIBUTION_POINTS,
        &value,
    )
}

/// An Authority Information Access extension naming OCSP responders (the demo PKI and tests).
pub(crate) fn ocsp_responders(urls: &[&str]) -> Result<X509Extension, ErrorStack> {
    let value = urls
        .iter()
        .map(|u| format!("OCSP;URI:{u}"))
        .collect::<Vec<_>>()
        .join(",");
    #[allow(deprecated)]
    X509Extension::new_nid(None, None, crate::crypto::nid::Nid::INFO_ACCESS, &value)
}

/// Strict DER and extension checks for every chain the store verifies.
pub(crate) fn set_strict(b: &mut X509StoreBuilderRef) -> Result<(), ErrorStack> {
    #[cfg(feature = "openssl")]
    return b.set_flags(X509VerifyFlags::X509_STRICT);
    #[cfg(not(feature = "openssl"))]
    {
        b.set_flags(X509VerifyFlags::X509_STRICT);
        Ok(())
    }
}

/// The verification error of a finished `verify_cert`: its `X509_V_ERR_*` code and text,
/// or `None` when the chain verified.
pub(crate) fn verify_error(c: &X509StoreContextRef) -> Option<(i32, &'static str)> {
    #[cfg(feature = "openssl")]
    {
        let e = c.error();
        (e.as_raw() != 0).then(|| (e.as_raw(), e.error_string()))
    }
    #[cfg(not(feature = "openssl"))]
    {
        c.verify_result()
            .err()
            .map(|e| (e.as_raw(), e.error_string()))
    }
}

/// A PKCS#12 (PFX) file with `cert`, its `key` and the `ca` chain, under `password`.
pub(crate) fn pkcs12(
    password: &str,
    friendly_name: &str,
    key: &PKeyRef<Private>,
    cert: &X509,
    ca: Stack<X509>,
) -> Result<Vec<u8>, ErrorStack> {
    let mut b = crate::crypto::pkcs12::Pkcs12::builder();
    #[cfg(feature = "openssl")]
    {
        b.name(friendly_name).pkey(key).cert(cert).ca(ca);
        b.build2(password)?.to_der()
    }
    #[cfg(not(feature = "openssl"))]
    {
        b.ca(ca);
        b.build(password, friendly_name, key, cert)?.to_der()
    }
}
