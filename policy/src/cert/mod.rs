//! The certificate object policies see as `X509Certificate2` (SPEC §4).
//!
//! Built once from DER (per connection in the gateway, per configured certificate at load) so
//! that every property a policy reads is a field access. This module holds the members the
//! expression language binds to; the full .NET rendering rules, trust stores and chain
//! verification live with the certificate-semantics work and extend this type.
//!
//! Submodules: [`name`] (distinguished names: .NET rendering, comparison), [`extensions`]
//! (`Extensions`, SAN formatting).
//!
//! It must not verify chains itself: `Verify()` asks the request context, which knows the trust
//! material of the running snapshot (see [`crate::context::RequestContext::verify_certificate`]).

use std::fmt;
use std::sync::Arc;

use crate::crypto::hash::MessageDigest;
use crate::crypto::nid::Nid;
use crate::crypto::x509::X509;

use crate::dotnet::{DateTime, NameType};

pub(crate) mod extensions;
pub(crate) mod name;
mod tbs;

pub(crate) use extensions::{oid_lookup, Extension};

pub use name::{DistinguishedName, Name, NameError};

/// Why a certificate could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("not a DER-encoded X.509 certificate: {0}")]
    /// The DER does not parse.
    Der(String),
    #[error("not a PEM certificate: {0}")]
    /// The PEM does not parse.
    Pem(String),
    #[error("certificate validity time out of range")]
    /// A validity time cannot be read.
    Time,
    #[error("certificate name: {0}")]
    /// A name or extension cannot be read.
    Name(#[from] NameError),
}

/// An X.509 certificate with its .NET-visible properties precomputed.
pub struct Certificate {
    x509: X509,
    der: Arc<[u8]>,
    thumbprint: Arc<str>,
    serial: Arc<str>,
    subject: Arc<str>,
    issuer: Arc<str>,
    subject_name: Name,
    issuer_name: Name,
    subject_dn: DistinguishedName,
    issuer_dn: DistinguishedName,
    not_before: DateTime,
    not_after: DateTime,
    /// Validity as seconds since the epoch (cheap per-request checks).
    validity_unix: (i64, i64),
    sha1: [u8; 20],
    sha256: [u8; 32],
    sig_alg: Arc<str>,
    sans_dns: Vec<String>,
    extensions: Vec<Arc<Extension>>,
    sig_oid: Arc<str>,
    version: i64,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("thumbprint", &self.thumbprint)
            .finish()
    }
}

impl Certificate {
    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Certificate, CertError> {
        let x509 = X509::from_der(der).map_err(|e| CertError::Der(first_error(&e)))?;
        Certificate::from_x509(x509)
    }

    /// PEM text, or DER; the `new X509Certificate2(byte[])` constructor accepts both.
    pub fn from_bytes(bytes: &[u8]) -> Result<Certificate, CertError> {
        if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            let x509 = X509::from_pem(bytes).map_err(|e| CertError::Pem(first_error(&e)))?;
            return Certificate::from_x509(x509);
        }
        Certificate::from_der(bytes)
    }

    /// Reads a certificate the TLS library already parsed.
    pub fn from_x509(x509: X509) -> Result<Certificate, CertError> {
        let der: Arc<[u8]> = x509
            .to_der()
            .map_err(|e| CertError::Der(first_error(&e)))?
            .into();
        let digest = crate::crypto::hash::hash(MessageDigest::sha1(), &der)
            .map_err(|e| CertError::Der(first_error(&e)))?;
        let thumbprint: Arc<str> = hex_upper(&digest).into();
        let mut sha1 = [0u8; 20];
        sha1.copy_from_slice(&digest[..20.min(digest.len())]);
        let serial = dotnet_serial(x509.serial_number());
        let nb_unix = asn1_to_unix(x509.not_before())?;
        let na_unix = asn1_to_unix(x509.not_after())?;
        let not_before = DateTime::local_from_unix(nb_unix).ok_or(CertError::Time)?;
        let not_after = DateTime::local_from_unix(na_unix).ok_or(CertError::Time)?;
        let sha256 = crate::crypto::sha::sha256(&der);
        let sig_alg = x509.signature_algorithm().object().nid();
        let sig_alg: Arc<str> = friendly_sig_alg(sig_alg).into();
        let sans_dns = extensions::san_dns(&x509);
        let tbs = tbs::read(&der)?;
        let extensions = extensions::read(&tbs.extensions, &x509)?;
        let sig_oid: Arc<str> = tbs.signature_oid.into();
        let version = tbs.version;
        let der_of = |n: &crate::crypto::x509::X509NameRef| {
            n.to_der().map_err(|e| CertError::Der(first_error(&e)))
        };
        let subject_name = Name::from_der(&der_of(x509.subject_name())?)?;
        let issuer_name = Name::from_der(&der_of(x509.issuer_name())?)?;
        Ok(Certificate {
            subject: subject_name.to_dotnet().into(),
            issuer: issuer_name.to_dotnet().into(),
            subject_dn: DistinguishedName::of_name(&subject_name),
            issuer_dn: DistinguishedName::of_name(&issuer_name),
            subject_name,
            issuer_name,
            x509,
            der,
            thumbprint,
            serial: serial.into(),
            not_before,
            not_after,
            validity_unix: (nb_unix, na_unix),
            sha1,
            sha256,
            sig_alg,
            sans_dns,
            extensions,
            sig_oid,
            version,
        })
    }

    /// The TLS library's certificate (for chain building).
    pub fn x509(&self) -> &X509 {
        &self.x509
    }
    /// `Thumbprint`: SHA-1 of the DER, upper-case hex.
    pub fn thumbprint(&self) -> &Arc<str> {
        &self.thumbprint
    }
    /// `SerialNumber`: upper-case hex, as .NET prints it.
    pub fn serial_number(&self) -> &Arc<str> {
        &self.serial
    }
    /// `Subject`, rendered as .NET does.
    pub fn subject(&self) -> &Arc<str> {
        &self.subject
    }
    /// `Issuer`, rendered as .NET does.
    pub fn issuer(&self) -> &Arc<str> {
        &self.issuer
    }
    /// `NotBefore`, local time.
    pub fn not_before(&self) -> DateTime {
        self.not_before
    }
    /// `NotAfter`, local time.
    pub fn not_after(&self) -> DateTime {
        self.not_after
    }
    /// `RawData`: the DER.
    pub fn raw_data(&self) -> &Arc<[u8]> {
        &self.der
    }
    /// X.509 version (1–3), read from the DER: TBSCertificate's `[0] EXPLICIT INTEGER`,
    /// absent for v1. (BoringSSL's binding has no accessor, so both builds read the bytes.)
    pub fn version(&self) -> i64 {
        self.version
    }
    /// `SignatureAlgorithm.FriendlyName` (e.g. `sha256ECDSA`).
    pub fn signature_algorithm_friendly_name(&self) -> &Arc<str> {
        &self.sig_alg
    }

    /// `GetNameInfo(X509NameType, forIssuer)`.
    pub fn name_info(&self, kind: NameType, for_issuer: bool) -> String {
        let name = if for_issuer {
            &self.issuer_name
        } else {
            &self.subject_name
        };
        let first = |oid: &str| name.first(oid).map(str::to_string);
        match kind {
            NameType::SimpleName => first(name::OID_CN)
                .or_else(|| first(name::OID_OU))
                .or_else(|| first(name::OID_O))
                .or_else(|| first(name::OID_EMAIL))
                .unwrap_or_default(),
            NameType::EmailName => first(name::OID_EMAIL).unwrap_or_default(),
            NameType::DnsName | NameType::DnsFromAlternativeName => {
                if !for_issuer {
                    if let Some(d) = self.sans_dns.first() {
                        return d.clone();
                    }
                }
                if kind == NameType::DnsName {
                    first(name::OID_CN).unwrap_or_default()
                } else {
                    String::new()
                }
            }
            NameType::UpnName | NameType::UrlName => String::new(),
        }
    }

    /// `ToString()` in .NET's layout.
    pub fn to_dotnet_string(&self) -> String {
        format!(
            "[Subject]\n  {}\n\n[Issuer]\n  {}\n\n[Serial Number]\n  {}\n\n[Not Before]\n  {}\n\n[Not After]\n  {}\n\n[Thumbprint]\n  {}\n",
            self.subject, self.issuer, self.serial, self.not_before, self.not_after, self.thumbprint
        )
    }
}

fn first_error(e: &crate::crypto::error::ErrorStack) -> String {
    e.errors()
        .first()
        .and_then(|e| e.reason().map(str::to_string))
        .unwrap_or_else(|| "malformed".into())
}

/// `SerialNumber` as .NET prints it: the bytes of the DER INTEGER's content in upper-case hex,
/// so a positive serial whose top bit is set keeps its leading `00`.
fn dotnet_serial(serial: &crate::crypto::asn1::Asn1IntegerRef) -> String {
    let Ok(bn) = serial.to_bn() else {
        return String::new();
    };
    let mut bytes = bn.to_vec();
    if bn.is_negative() {
        // Negative serials are malformed but exist; show the magnitude with a sign marker.
        return format!("-{}", hex_upper(&bytes));
    }
    if bytes.is_empty() || bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    hex_upper(&bytes)
}

pub(crate) fn hex_upper(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(HEX[(x >> 4) as usize] as char);
        s.push(HEX[(x & 15) as usize] as char);
    }
    s
}

fn asn1_to_unix(t: &crate::crypto::asn1::Asn1TimeRef) -> Result<i64, CertError> {
    let epoch = crate::crypto::asn1::Asn1Time::from_unix(0).map_err(|_| CertError::Time)?;
    let diff = epoch.diff(t).map_err(|_| CertError::Time)?;
    Ok(diff.days as i64 * 86_400 + diff.secs as i64)
}

fn friendly_sig_alg(nid: Nid) -> &'static str {
    match nid {
        Nid::SHA256WITHRSAENCRYPTION => "sha256RSA",
        Nid::SHA384WITHRSAENCRYPTION => "sha384RSA",
        Nid::SHA512WITHRSAENCRYPTION => "sha512RSA",
        Nid::SHA1WITHRSAENCRYPTION => "sha1RSA",
        Nid::ECDSA_WITH_SHA256 => "sha256ECDSA",
        Nid::ECDSA_WITH_SHA384 => "sha384ECDSA",
        Nid::ECDSA_WITH_SHA512 => "sha512ECDSA",
        _ => "",
    }
}

impl Certificate {
    /// The subject as a parsed distinguished name (for identity comparison).
    pub fn subject_dn(&self) -> &DistinguishedName {
        &self.subject_dn
    }

    /// The issuer as a parsed distinguished name.
    pub fn issuer_dn(&self) -> &DistinguishedName {
        &self.issuer_dn
    }

    /// The subject name as read from the DER.
    pub fn subject_name(&self) -> &Name {
        &self.subject_name
    }

    /// The issuer name as read from the DER.
    pub fn issuer_name(&self) -> &Name {
        &self.issuer_name
    }

    /// The thumbprint in binary (set lookups without hex parsing).
    pub fn sha1(&self) -> &[u8; 20] {
        &self.sha1
    }

    /// SHA-256 of the DER (verification-cache key).
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// notBefore and notAfter as system times; None if before the epoch.
    pub fn validity(&self) -> Option<(std::time::SystemTime, std::time::SystemTime)> {
        let at = |s: i64| {
            u64::try_from(s)
                .ok()
                .and_then(|s| std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(s)))
        };
        Some((
            at(self.validity_unix.0).unwrap_or(std::time::UNIX_EPOCH),
            at(self.validity_unix.1)?,
        ))
    }

    /// `Extensions`, in certificate order.
    pub fn extensions(&self) -> &[Arc<Extension>] {
        &self.extensions
    }

    /// The signature algorithm's OID, dotted.
    pub fn signature_algorithm_oid(&self) -> &Arc<str> {
        &self.sig_oid
    }

    /// The DNS names of the subject alternative name extension.
    pub fn dns_names(&self) -> &[String] {
        &self.sans_dns
    }

    /// The subject's first common name.
    pub fn common_name(&self) -> Option<&str> {
        self.subject_name.first(name::OID_CN)
    }
}
