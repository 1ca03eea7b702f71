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

/// RSA-OAEP with `md` (and MGF1 with the same hash) for .NET's `OaepSHA256`-like paddings,
/// encrypting with a public key. rust-openssl has the call; `boring` has none, so its build
/// refuses, saying so.
pub(crate) fn rsa_oaep_encrypt(
    key: &crate::crypto::pkey::PKeyRef<crate::crypto::pkey::Public>,
    md: crate::crypto::hash::MessageDigest,
    data: &[u8],
) -> Result<Vec<u8>, String> {
    #[cfg(feature = "openssl")]
    {
        use crate::crypto::rsa::Padding;
        let mut e = crate::crypto::encrypt::Encrypter::new(key).map_err(oaep_failed)?;
        e.set_rsa_padding(Padding::PKCS1_OAEP)
            .map_err(oaep_failed)?;
        e.set_rsa_oaep_md(md).map_err(oaep_failed)?;
        e.set_rsa_mgf1_md(md).map_err(oaep_failed)?;
        let mut out = vec![0u8; e.encrypt_len(data).map_err(oaep_failed)?];
        let n = e.encrypt(data, &mut out).map_err(oaep_failed)?;
        out.truncate(n);
        Ok(out)
    }
    #[cfg(not(feature = "openssl"))]
    {
        let _ = (key, md, data);
        Err(OAEP_SHA2_REFUSED.into())
    }
}

/// The same, decrypting with a private key.
pub(crate) fn rsa_oaep_decrypt(
    key: &PKeyRef<Private>,
    md: crate::crypto::hash::MessageDigest,
    data: &[u8],
) -> Result<Vec<u8>, String> {
    #[cfg(feature = "openssl")]
    {
        use crate::crypto::rsa::Padding;
        let mut d = crate::crypto::encrypt::Decrypter::new(key).map_err(oaep_failed)?;
        d.set_rsa_padding(Padding::PKCS1_OAEP)
            .map_err(oaep_failed)?;
        d.set_rsa_oaep_md(md).map_err(oaep_failed)?;
        d.set_rsa_mgf1_md(md).map_err(oaep_failed)?;
        let mut out = vec![0u8; d.decrypt_len(data).map_err(oaep_failed)?];
        let n = d.decrypt(data, &mut out).map_err(oaep_failed)?;
        out.truncate(n);
        Ok(out)
    }
    #[cfg(not(feature = "openssl"))]
    {
        let _ = (key, md, data);
        Err(OAEP_SHA2_REFUSED.into())
    }
}

#[cfg(feature = "openssl")]
fn oaep_failed(_: ErrorStack) -> String {
    "The RSA operation failed (bad key, data or padding).".into()
}

#[cfg(not(feature = "openssl"))]
const OAEP_SHA2_REFUSED: &str = "RSA OAEP with a SHA-2 hash is not supported by certgate's \
    BoringSSL build; use RSAEncryptionPadding.OaepSHA1 or Pkcs1";

/// A private key as unencrypted PKCS#8 DER.
pub(crate) fn pkcs8_der(key: &PKeyRef<Private>) -> Result<Vec<u8>, ErrorStack> {
    #[cfg(feature = "openssl")]
    return key.private_key_to_pkcs8();
    #[cfg(not(feature = "openssl"))]
    return key.private_key_to_der_pkcs8();
}
