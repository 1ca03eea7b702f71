//! The parts of a certificate that OpenSSL's bindings do not give portably (BoringSSL's fork
//! lacks some accessors): the X.509 version, the signature algorithm's OID and the extensions
//! in encoded order. Read with the `der` and `x509-cert` crates, walking the TBSCertificate
//! element by element, so that nothing this module does not need (names, keys) is decoded.
//!
//! Must not: render anything (.NET's rendering is `extensions.rs` and `name.rs`).

use der::asn1::AnyRef;
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};
use x509_cert::ext::Extension;
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::name::NameError;

/// Certificates with more extensions than this are refused (real ones have about ten).
const MAX_EXTENSIONS: usize = 64;

/// What [`read`] takes from a certificate.
pub(crate) struct Tbs {
    /// 1, 2 or 3.
    pub(crate) version: i64,
    /// The signature algorithm, dotted.
    pub(crate) signature_oid: String,
    /// The extensions, in encoded order.
    pub(crate) extensions: Vec<Extension>,
}

fn constructed(number: TagNumber) -> Tag {
    Tag::ContextSpecific {
        constructed: true,
        number,
    }
}

/// Reads the version, signature algorithm and extensions of a certificate's DER.
pub(crate) fn read(der: &[u8]) -> Result<Tbs, NameError> {
    let cert = AnyRef::from_der(der)?;
    cert.tag().assert_eq(Tag::Sequence)?;
    let mut r = SliceReader::new(cert.value())?;
    let tbs: AnyRef<'_> = r.decode()?;
    tbs.tag().assert_eq(Tag::Sequence)?;
    let signature = AlgorithmIdentifierOwned::decode(&mut r)?;
    let mut t = SliceReader::new(tbs.value())?;
    let mut version = 1;
    let mut extensions = Vec::new();
    while !t.is_finished() {
        let item: AnyRef<'_> = t.decode()?;
        if item.tag() == constructed(TagNumber::N0) {
            // [0] EXPLICIT Version: v1(0), v2(1), v3(2).
            version = i64::from(u8::from_der(item.value())?) + 1;
        } else if item.tag() == constructed(TagNumber::N3) {
            extensions = Vec::<Extension>::from_der(item.value())?;
        }
    }
    if extensions.len() > MAX_EXTENSIONS {
        return Err(NameError::Limit("more than 64 extensions"));
    }
    Ok(Tbs {
        version,
        signature_oid: signature.oid.to_string(),
        extensions,
    })
}
