//! Certificate revocation lists (RFC 5280 §5): read from PEM/DER, signature checked against the
//! issuing CA, looked up by serial number; and issued, for the demo PKI and tests.
//!
//! The DER structures come from RustCrypto's `x509-cert`/`der` crates rather than the crypto
//! library, because BoringSSL's Rust binding (`boring`) has no CRL type and the same code must run
//! on both TLS backends. Signatures are checked and made with the crypto library. This module
//! decides nothing about trust: [`crate::trust`] decides which CRL applies and what a missing
//! or outdated one means.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use x509_cert::der::asn1::{Any, BitString, ObjectIdentifier};
use x509_cert::der::{pem, Decode, Encode, Sequence};
use x509_cert::ext::Extensions;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::time::Time;
use x509_cert::Version;

use crate::crypto::hash::MessageDigest;
use crate::crypto::pkey::{HasPublic, Id, PKeyRef, Private};
use crate::crypto::sign::{Signer, Verifier};
use crate::crypto::x509::X509Ref;

/// Why a CRL could not be read or issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrlError {
    #[error("not a CRL: {0}")]
    Malformed(String),
    #[error("CRL time out of range")]
    Time,
    #[error("cannot sign a CRL with this key type")]
    UnsupportedKey,
    #[error("crypto library: {0}")]
    Crypto(String),
}

/// The outer CertificateList with the TBS part kept as raw DER: the signature covers those
/// exact bytes, so they are never re-encoded.
#[derive(Sequence)]
struct RawCertificateList {
    tbs_cert_list: Any,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
}

const PEM_LABEL: &str = "X509 CRL";

/// TBSCertList. `x509-cert`'s own type requires the version field, which v1 CRLs (as written by
/// `openssl ca -gencrl` without extensions) omit.
#[derive(Sequence)]
struct TbsCertList {
    version: Option<Version>,
    signature: AlgorithmIdentifierOwned,
    issuer: Name,
    this_update: Time,
    next_update: Option<Time>,
    revoked_certificates: Option<Vec<x509_cert::crl::RevokedCert>>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    crl_extensions: Option<Extensions>,
}

/// A parsed CRL. Immutable; lookups are a binary search over the revoked serials.
#[derive(Clone)]
pub struct Crl {
    der: Vec<u8>,
    tbs: Vec<u8>,
    issuer_der: Vec<u8>,
    this_update: SystemTime,
    next_update: Option<SystemTime>,
    /// Serial magnitudes (leading zero bytes removed), sorted.
    revoked: Vec<Vec<u8>>,
    signature_algorithm: ObjectIdentifier,
    signature: Vec<u8>,
}

impl std::fmt::Debug for Crl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crl")
            .field("revoked", &self.revoked.len())
            .field("this_update", &self.this_update)
            .field("next_update", &self.next_update)
            .finish()
    }
}

fn magnitude(serial: &[u8]) -> Vec<u8> {
    let start = serial.iter().position(|b| *b != 0).unwrap_or(serial.len());
    serial[start..].to_vec()
}

fn malformed(e: impl std::fmt::Display) -> CrlError {
    CrlError::Malformed(e.to_string())
}

fn crypto(e: crate::crypto::error::ErrorStack) -> CrlError {
    CrlError::Crypto(e.to_string())
}

// Signature algorithms a CA signs CRLs with; anything else fails verification (never passes).
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
const RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const RSA_SHA512: &str = "1.2.840.113549.1.1.13";
const ED25519: &str = "1.3.101.112";

fn digest_for(oid: &ObjectIdentifier) -> Option<Option<MessageDigest>> {
    Some(match oid.to_string().as_str() {
        ECDSA_SHA256 | RSA_SHA256 => Some(MessageDigest::sha256()),
        ECDSA_SHA384 | RSA_SHA384 => Some(MessageDigest::sha384()),
        ECDSA_SHA512 | RSA_SHA512 => Some(MessageDigest::sha512()),
        ED25519 => None,
        _ => return None,
    })
}

/// True when `signature` over `tbs` was made by `key` with `algorithm`, one we accept (CRLs
/// and OCSP responses are signed alike).
pub(crate) fn verify_signed<T: HasPublic>(
    algorithm: &ObjectIdentifier,
    tbs: &[u8],
    signature: &[u8],
    key: &PKeyRef<T>,
) -> bool {
    let checked = match digest_for(algorithm) {
        None => return false,
        Some(Some(digest)) => Verifier::new(digest, key).and_then(|mut v| {
            v.update(tbs)?;
            v.verify(signature)
        }),
        // Ed25519 signs the message itself, in one shot.
        Some(None) => {
            Verifier::new_without_digest(key).and_then(|mut v| v.verify_oneshot(signature, tbs))
        }
    };
    checked.unwrap_or(false)
}

impl Crl {
    /// Reads a DER CRL.
    pub fn from_der(der: &[u8]) -> Result<Crl, CrlError> {
        let raw = RawCertificateList::from_der(der).map_err(malformed)?;
        let tbs_bytes = raw.tbs_cert_list.to_der().map_err(malformed)?;
        let tbs = TbsCertList::from_der(&tbs_bytes).map_err(malformed)?;
        if tbs.signature.oid != raw.signature_algorithm.oid {
            return Err(CrlError::Malformed(
                "inner and outer signature algorithms differ".into(),
            ));
        }
        let mut revoked: Vec<Vec<u8>> = tbs
            .revoked_certificates
            .iter()
            .flatten()
            .map(|r| magnitude(r.serial_number.as_bytes()))
            .collect();
        revoked.sort_unstable();
        Ok(Crl {
            der: der.to_vec(),
            issuer_der: tbs.issuer.to_der().map_err(malformed)?,
            this_update: tbs.this_update.to_system_time(),
            next_update: tbs.next_update.map(|t| t.to_system_time()),
            revoked,
            signature_algorithm: raw.signature_algorithm.oid,
            signature: raw.signature.raw_bytes().to_vec(),
            tbs: tbs_bytes,
        })
    }

    /// The first `X509 CRL` block of a PEM file.
    pub fn from_pem(pem: &[u8]) -> Result<Crl, CrlError> {
        const BEGIN: &str = "-----BEGIN X509 CRL-----";
        const END: &str = "-----END X509 CRL-----";
        let text = std::str::from_utf8(pem).map_err(malformed)?;
        // Like openssl's PEM reader: text around the block (comments, other blocks) is skipped.
        let block = text
            .find(BEGIN)
            .and_then(|a| text[a..].find(END).map(|b| &text[a..a + b + END.len()]))
            .ok_or_else(|| CrlError::Malformed(format!("no '{BEGIN}' block")))?;
        // The block starts with BEGIN X509 CRL, so its label is PEM_LABEL.
        let (_, der) = pem::decode_vec(block.as_bytes()).map_err(malformed)?;
        Crl::from_der(&der)
    }

    /// PEM or DER, whichever `bytes` is.
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Crl, CrlError> {
        if bytes.trim_ascii_start().starts_with(b"-----") {
            Crl::from_pem(bytes)
        } else {
            Crl::from_der(bytes)
        }
    }

    /// The DER.
    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM form.
    pub fn to_pem(&self) -> Result<String, CrlError> {
        pem::encode_string(PEM_LABEL, pem::LineEnding::LF, &self.der).map_err(malformed)
    }

    /// DER of the issuer Name, to match against a CA certificate's subject.
    pub fn issuer_der(&self) -> &[u8] {
        &self.issuer_der
    }

    /// `thisUpdate`.
    pub fn this_update(&self) -> SystemTime {
        self.this_update
    }

    /// `nextUpdate`, when the CRL has one.
    pub fn next_update(&self) -> Option<SystemTime> {
        self.next_update
    }

    /// True when the signature was made by `key` with an algorithm we accept.
    pub fn verify<T: HasPublic>(&self, key: &PKeyRef<T>) -> bool {
        verify_signed(&self.signature_algorithm, &self.tbs, &self.signature, key)
    }

    /// True when `cert`'s serial number is listed.
    pub fn revokes(&self, cert: &X509Ref) -> bool {
        let Ok(serial) = cert.serial_number().to_bn().map(|b| b.to_vec()) else {
            return false;
        };
        self.revoked.binary_search(&magnitude(&serial)).is_ok()
    }

    /// Number of revoked serial numbers listed.
    pub fn revoked_count(&self) -> usize {
        self.revoked.len()
    }

    /// Issues a v2 CRL from `issuer` (certificate and key) listing `revoked`, valid from
    /// `this_update` to `next_update`, with a CRL number.
    pub fn issue(
        issuer: &X509Ref,
        key: &PKeyRef<Private>,
        revoked: &[&X509Ref],
        this_update: SystemTime,
        next_update: SystemTime,
        number: u32,
    ) -> Result<Crl, CrlError> {
        let algorithm = signature_algorithm(key)?;
        let time = |t: SystemTime| Time::try_from(t).map_err(|_| CrlError::Time);
        let this = time(this_update)?;
        let entries = revoked
            .iter()
            .map(|c| {
                let serial = c.serial_number().to_bn().map_err(crypto)?.to_vec();
                // A DER INTEGER is signed: a set top bit needs a leading zero byte.
                let mut bytes = serial;
                if bytes.first().is_some_and(|b| b & 0x80 != 0) {
                    bytes.insert(0, 0);
                }
                Ok(x509_cert::crl::RevokedCert {
                    serial_number: SerialNumber::new(&bytes).map_err(malformed)?,
                    revocation_date: this,
                    crl_entry_extensions: None,
                })
            })
            .collect::<Result<Vec<_>, CrlError>>()?;
        let crl_number = x509_cert::ext::Extension {
            extn_id: ObjectIdentifier::new_unwrap("2.5.29.20"),
            critical: false,
            extn_value: x509_cert::der::asn1::OctetString::new(
                x509_cert::der::asn1::Uint::new(&number.to_be_bytes())
                    .and_then(|n| n.to_der())
                    .map_err(malformed)?,
            )
            .map_err(malformed)?,
        };
        let tbs = TbsCertList {
            version: Some(Version::V2),
            signature: algorithm.clone(),
            issuer: Name::from_der(&issuer.subject_name().to_der().map_err(crypto)?)
                .map_err(malformed)?,
            this_update: this,
            next_update: Some(time(next_update)?),
            revoked_certificates: (!entries.is_empty()).then_some(entries),
            crl_extensions: Some(vec![crl_number]),
        };
        let tbs_der = tbs.to_der().map_err(malformed)?;
        let signature = sign(key, &tbs_der)?;
        let raw = RawCertificateList {
            tbs_cert_list: Any::from_der(&tbs_der).map_err(malformed)?,
            signature_algorithm: algorithm,
            signature: BitString::from_bytes(&signature).map_err(malformed)?,
        };
        Crl::from_der(&raw.to_der().map_err(malformed)?)
    }
}

/// The signature algorithm `key` signs with (SHA-256, or Ed25519's own), as X.509 names it.
pub(crate) fn signature_algorithm(
    key: &PKeyRef<Private>,
) -> Result<AlgorithmIdentifierOwned, CrlError> {
    let (oid, params) = match key.id() {
        Id::EC => (ECDSA_SHA256, None),
        // sha256WithRSAEncryption carries an explicit NULL parameter (RFC 4055 §5).
        Id::RSA => (RSA_SHA256, Some(Any::null())),
        Id::ED25519 => (ED25519, None),
        _ => return Err(CrlError::UnsupportedKey),
    };
    Ok(AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new(oid).map_err(malformed)?,
        parameters: params,
    })
}

/// `key`'s signature over `tbs` (DER), with [`signature_algorithm`]'s algorithm.
pub(crate) fn sign(key: &PKeyRef<Private>, tbs: &[u8]) -> Result<Vec<u8>, CrlError> {
    Ok(match key.id() {
        Id::ED25519 => {
            let mut s = Signer::new_without_digest(key).map_err(crypto)?;
            s.sign_oneshot_to_vec(tbs).map_err(crypto)?
        }
        _ => {
            let mut s = Signer::new(MessageDigest::sha256(), key).map_err(crypto)?;
            s.update(tbs).map_err(crypto)?;
            s.sign_to_vec().map_err(crypto)?
        }
    })
}

/// `days` days from now (negative: in the past), for issuing test and demo CRLs.
pub(crate) fn days_from_now(days: i64) -> SystemTime {
    let now = SystemTime::now();
    let d = Duration::from_secs(days.unsigned_abs() * 86_400);
    if days >= 0 {
        now + d
    } else {
        now.checked_sub(d).unwrap_or(UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::DemoPki;

    #[test]
    fn issued_crl_round_trips_and_verifies_only_with_its_issuer() {
        let p = DemoPki::generate(crate::pki::KeyKind::EcdsaP256).expect("pki");
        let crl = Crl::issue(
            &p.dev_ca.cert,
            &p.dev_ca.key,
            &[&p.valid.cert],
            days_from_now(-1),
            days_from_now(7),
            1,
        )
        .expect("issue");
        let again = Crl::from_pem(crl.to_pem().expect("pem").as_bytes()).expect("parse");
        assert_eq!(again.to_der(), crl.to_der());
        assert!(again.revokes(&p.valid.cert));
        assert!(!again.revokes(&p.unregistered.cert));
        assert_eq!(again.revoked_count(), 1);
        let dev_key = p.dev_ca.cert.public_key().expect("key");
        let root_key = p.root.cert.public_key().expect("key");
        assert!(again.verify(&dev_key));
        assert!(!again.verify(&root_key));
        assert!(again.next_update().is_some_and(|n| n > SystemTime::now()));
    }

    #[test]
    fn a_flipped_signature_byte_fails_verification() {
        let p = DemoPki::generate(crate::pki::KeyKind::EcdsaP256).expect("pki");
        let crl = Crl::issue(
            &p.root.cert,
            &p.root.key,
            &[],
            days_from_now(-1),
            days_from_now(7),
            1,
        )
        .expect("issue");
        let mut der = crl.to_der().to_vec();
        let last = der.len() - 3;
        der[last] ^= 0x01;
        let tampered = Crl::from_der(&der).expect("still DER");
        assert!(!tampered.verify(&p.root.cert.public_key().expect("key")));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for bytes in [
            &b""[..],
            b"\x30\x03\x02\x01\x01",
            b"-----BEGIN X509 CRL-----\n!!\n",
        ] {
            assert!(Crl::from_pem_or_der(bytes).is_err());
        }
    }
}
