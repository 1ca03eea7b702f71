//! .NET's `RSA` on the TLS library's RSA: keys imported (PEM, PKCS#1, PKCS#8, SubjectPublicKeyInfo
//! DER, .NET's `<RSAKeyValue>` XML) or made on first use as `RSA.Create(bits)` does, exported the
//! same ways, and the operations with .NET's names for hashes (`HashAlgorithmName`) and paddings
//! (`RSASignaturePadding.Pkcs1`/`Pss`, `RSAEncryptionPadding.Pkcs1`/`OaepSHA1`/`OaepSHA256`...).
//!
//! PSS signatures use a salt as long as the hash, as .NET does. OAEP with a SHA-2 hash needs the
//! OpenSSL build (`crate::crypto_compat::rsa_oaep_encrypt`): BoringSSL's binding has no call for it,
//! and its build says so in the error.
//!
//! Must not: know about expressions; import anything of this crate but the TLS library and
//! its compatibility calls.

use crate::crypto::bn::BigNum;
use crate::crypto::hash::MessageDigest;
use crate::crypto::pkey::{PKey, Private, Public};
use crate::crypto::rsa::{Padding, Rsa};
use crate::crypto::sign::{RsaPssSaltlen, Signer, Verifier};

/// An RSA object's key: not made yet (`RSA.Create(bits)` makes it on first use, so a policy
/// that imports one pays for no generation), or a private or public key.
pub enum RsaKey {
    Pending(u32),
    Private(Rsa<Private>),
    Public(Rsa<Public>),
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        match self {
            RsaKey::Pending(bits) => write!(f, "RSA({bits} bits, not made)"),
            RsaKey::Private(k) => write!(f, "RSA({} bits, private)", k.size() * 8),
            RsaKey::Public(k) => write!(f, "RSA({} bits, public)", k.size() * 8),
        }
    }
}

/// A .NET `CryptographicException` message.
pub(crate) type Failure = String;

/// The key sizes `RSA.Create(bits)` takes: .NET's legal sizes, up to the size certgate makes on
/// a request's path (a 4096-bit key takes about a second to make).
pub(crate) fn valid_size(bits: i64) -> bool {
    (512..=4096).contains(&bits) && bits % 8 == 0
}

/// The digest a `HashAlgorithmName` names.
pub(crate) fn digest(name: &str) -> Result<MessageDigest, Failure> {
    Ok(match name {
        "MD5" => MessageDigest::md5(),
        "SHA1" => MessageDigest::sha1(),
        "SHA256" => MessageDigest::sha256(),
        "SHA384" => MessageDigest::sha384(),
        "SHA512" => MessageDigest::sha512(),
        other => return Err(format!("'{other}' is not a known hash algorithm.")),
    })
}

/// The DER `DigestInfo` prefix PKCS#1 v1.5 puts before a hash (RFC 8017 §9.2, note 1).
fn digest_info(name: &str) -> Result<&'static [u8], Failure> {
    Ok(match name {
        "MD5" => &[
            0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05,
            0x05, 0x00, 0x04, 0x10,
        ],
        "SHA1" => &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ],
        "SHA256" => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        "SHA384" => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        "SHA512" => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
        other => return Err(format!("'{other}' is not a known hash algorithm.")),
    })
}

fn lib(_: impl std::fmt::Display) -> Failure {
    // The library's reason says nothing a caller needs; .NET's messages are as short.
    "The RSA operation failed (bad key, data or padding).".into()
}

fn b64(s: &str) -> Result<Vec<u8>, Failure> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|_| "The key XML holds text that is not Base64.".to_string())
}

impl RsaKey {
    /// The key, made now if it was pending.
    fn ready(&mut self) -> Result<&RsaKey, Failure> {
        if let RsaKey::Pending(bits) = *self {
            *self = RsaKey::Private(Rsa::generate(bits).map_err(lib)?);
        }
        Ok(self)
    }

    pub(crate) fn key_size(&self) -> i64 {
        match self {
            RsaKey::Pending(bits) => i64::from(*bits),
            RsaKey::Private(k) => i64::from(k.size()) * 8,
            RsaKey::Public(k) => i64::from(k.size()) * 8,
        }
    }

    fn private(&mut self) -> Result<&Rsa<Private>, Failure> {
        match self.ready()? {
            RsaKey::Private(k) => Ok(k),
            _ => Err("The key does not hold a private key.".into()),
        }
    }

    /// The public half, whatever the key holds (a private key's, rebuilt from its modulus and
    /// exponent).
    fn public(&mut self) -> Result<Rsa<Public>, Failure> {
        match self.ready()? {
            RsaKey::Private(k) => Rsa::from_public_components(
                k.n().to_owned().map_err(lib)?,
                k.e().to_owned().map_err(lib)?,
            )
            .map_err(lib),
            // The library's handle shared, not the key copied.
            RsaKey::Public(k) => Ok(k.clone()),
            RsaKey::Pending(_) => Err(lib("pending")),
        }
    }

    /// `ImportFromPem`: PKCS#1 or PKCS#8 private keys, SubjectPublicKeyInfo or PKCS#1 public
    /// keys, by the PEM label.
    pub(crate) fn import_pem(pem: &str) -> Result<RsaKey, Failure> {
        let text = pem.as_bytes();
        let bad = |_| "No supported key is found in the PEM text.".to_string();
        if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
            return Rsa::private_key_from_pem(text)
                .map(RsaKey::Private)
                .map_err(bad);
        }
        if pem.contains("-----BEGIN PRIVATE KEY-----") {
            let k = PKey::private_key_from_pem(text).map_err(bad)?;
            return k.rsa().map(RsaKey::Private).map_err(bad);
        }
        if pem.contains("-----BEGIN RSA PUBLIC KEY-----") {
            return Rsa::public_key_from_pem_pkcs1(text)
                .map(RsaKey::Public)
                .map_err(bad);
        }
        if pem.contains("-----BEGIN PUBLIC KEY-----") {
            return Rsa::public_key_from_pem(text)
                .map(RsaKey::Public)
                .map_err(bad);
        }
        Err("No supported key is found in the PEM text.".into())
    }

    /// `ImportRSAPrivateKey` (PKCS#1), `ImportPkcs8PrivateKey`, `ImportRSAPublicKey` (PKCS#1),
    /// `ImportSubjectPublicKeyInfo`, from DER.
    pub(crate) fn import_der(der: &[u8], form: DerForm) -> Result<RsaKey, Failure> {
        let bad = |_| "ASN1 corrupted data.".to_string();
        match form {
            DerForm::Pkcs1Private => Rsa::private_key_from_der(der)
                .map(RsaKey::Private)
                .map_err(bad),
            DerForm::Pkcs8Private => {
                let k = PKey::private_key_from_der(der).map_err(bad)?;
                k.rsa().map(RsaKey::Private).map_err(bad)
            }
            DerForm::Pkcs1Public => Rsa::public_key_from_der_pkcs1(der)
                .map(RsaKey::Public)
                .map_err(bad),
            DerForm::SubjectPublicKeyInfo => Rsa::public_key_from_der(der)
                .map(RsaKey::Public)
                .map_err(bad),
        }
    }

    /// The same forms, written.
    pub(crate) fn export_der(&mut self, form: DerForm) -> Result<Vec<u8>, Failure> {
        match form {
            DerForm::Pkcs1Private => self.private()?.private_key_to_der().map_err(lib),
            DerForm::Pkcs8Private => {
                let k = PKey::from_rsa(self.private()?.clone()).map_err(lib)?;
                crate::crypto_compat::pkcs8_der(&k).map_err(lib)
            }
            DerForm::Pkcs1Public => self.public()?.public_key_to_der_pkcs1().map_err(lib),
            DerForm::SubjectPublicKeyInfo => self.public()?.public_key_to_der().map_err(lib),
        }
    }

    /// `FromXmlString`: .NET's `<RSAKeyValue>` (`Modulus`, `Exponent`, and for a private key
    /// `P`, `Q`, `DP`, `DQ`, `InverseQ`, `D`, each Base64).
    pub(crate) fn from_xml(xml: &str) -> Result<RsaKey, Failure> {
        let doc = roxmltree::Document::parse(xml)
            .map_err(|_| "The key XML is not well-formed.".to_string())?;
        let root = doc.root_element();
        if root.tag_name().name() != "RSAKeyValue" {
            return Err("The key XML is not an RSAKeyValue.".into());
        }
        let part = |name: &str| -> Result<Option<BigNum>, Failure> {
            match root.children().find(|c| c.tag_name().name() == name) {
                Some(n) => {
                    let bytes = b64(n.text().unwrap_or(""))?;
                    Ok(Some(BigNum::from_slice(&bytes).map_err(lib)?))
                }
                None => Ok(None),
            }
        };
        let need =
            |v: Option<BigNum>, name: &str| v.ok_or_else(|| format!("The key XML has no {name}."));
        let n = need(part("Modulus")?, "Modulus")?;
        let e = need(part("Exponent")?, "Exponent")?;
        let Some(d) = part("D")? else {
            return Rsa::from_public_components(n, e)
                .map(RsaKey::Public)
                .map_err(lib);
        };
        let key = Rsa::from_private_components(
            n,
            e,
            d,
            need(part("P")?, "P")?,
            need(part("Q")?, "Q")?,
            need(part("DP")?, "DP")?,
            need(part("DQ")?, "DQ")?,
            need(part("InverseQ")?, "InverseQ")?,
        )
        .map_err(lib)?;
        Ok(RsaKey::Private(key))
    }

    /// `ToXmlString(includePrivateParameters)`.
    pub(crate) fn write_xml(&mut self, private: bool) -> Result<String, Failure> {
        use base64::Engine;
        let e64 = |b: &crate::crypto::bn::BigNumRef| {
            base64::engine::general_purpose::STANDARD.encode(b.to_vec())
        };
        let mut out = String::from("<RSAKeyValue>");
        let mut put = |name: &str, v: String| {
            out.push_str(&format!("<{name}>{v}</{name}>"));
        };
        if private {
            let k = self.private()?;
            put("Modulus", e64(k.n()));
            put("Exponent", e64(k.e()));
            let crt = [k.p(), k.q(), k.dmp1(), k.dmq1(), k.iqmp()];
            for (name, v) in ["P", "Q", "DP", "DQ", "InverseQ"].into_iter().zip(crt) {
                put(name, v.map(e64).unwrap_or_default());
            }
            put("D", e64(k.d()));
        } else {
            let k = self.public()?;
            put("Modulus", e64(k.n()));
            put("Exponent", e64(k.e()));
        }
        out.push_str("</RSAKeyValue>");
        Ok(out)
    }

    /// `SignData(data, hash, padding)`.
    pub(crate) fn sign_data(
        &mut self,
        data: &[u8],
        hash: &str,
        pss: bool,
    ) -> Result<Vec<u8>, Failure> {
        let md = digest(hash)?;
        let key = PKey::from_rsa(self.private()?.clone()).map_err(lib)?;
        let mut s = Signer::new(md, &key).map_err(lib)?;
        if pss {
            s.set_rsa_padding(Padding::PKCS1_PSS).map_err(lib)?;
            s.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
                .map_err(lib)?;
        }
        s.update(data).map_err(lib)?;
        s.sign_to_vec().map_err(lib)
    }

    /// `VerifyData(data, signature, hash, padding)`: false for a wrong signature.
    pub(crate) fn verify_data(
        &mut self,
        data: &[u8],
        signature: &[u8],
        hash: &str,
        pss: bool,
    ) -> Result<bool, Failure> {
        let md = digest(hash)?;
        let key = PKey::from_rsa(self.public()?).map_err(lib)?;
        let mut v = Verifier::new(md, &key).map_err(lib)?;
        if pss {
            v.set_rsa_padding(Padding::PKCS1_PSS).map_err(lib)?;
            v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
                .map_err(lib)?;
        }
        v.update(data).map_err(lib)?;
        // A malformed signature is a wrong one.
        Ok(v.verify(signature).unwrap_or(false))
    }

    /// `SignHash(hash, name, Pkcs1)`: PKCS#1 v1.5 over a hash computed elsewhere.
    pub(crate) fn sign_hash(&mut self, hash: &[u8], name: &str) -> Result<Vec<u8>, Failure> {
        let md = digest(name)?;
        if hash.len() != md.size() {
            return Err("The hash is not the length of the hash algorithm's.".into());
        }
        let mut input = digest_info(name)?.to_vec();
        input.extend_from_slice(hash);
        let k = self.private()?;
        let mut out = vec![0u8; k.size() as usize];
        let n = k
            .private_encrypt(&input, &mut out, Padding::PKCS1)
            .map_err(lib)?;
        out.truncate(n);
        Ok(out)
    }

    /// `VerifyHash(hash, signature, name, Pkcs1)`.
    pub(crate) fn verify_hash(
        &mut self,
        hash: &[u8],
        signature: &[u8],
        name: &str,
    ) -> Result<bool, Failure> {
        let mut want = digest_info(name)?.to_vec();
        want.extend_from_slice(hash);
        let k = self.public()?;
        let mut out = vec![0u8; k.size() as usize];
        Ok(
            match k.public_decrypt(signature, &mut out, Padding::PKCS1) {
                Ok(n) => out.get(..n) == Some(&want[..]),
                Err(_) => false,
            },
        )
    }

    /// `Encrypt(data, padding)` with the public key.
    pub(crate) fn encrypt(&mut self, data: &[u8], padding: &str) -> Result<Vec<u8>, Failure> {
        let k = self.public()?;
        let Some(p) = raw_padding(padding) else {
            let key = PKey::from_rsa(k).map_err(lib)?;
            return crate::crypto_compat::rsa_oaep_encrypt(&key, oaep_digest(padding)?, data);
        };
        let mut out = vec![0u8; k.size() as usize];
        let n = k.public_encrypt(data, &mut out, p).map_err(lib)?;
        out.truncate(n);
        Ok(out)
    }

    /// `Decrypt(data, padding)` with the private key.
    pub(crate) fn decrypt(&mut self, data: &[u8], padding: &str) -> Result<Vec<u8>, Failure> {
        let k = self.private()?;
        let Some(p) = raw_padding(padding) else {
            let key = PKey::from_rsa(k.clone()).map_err(lib)?;
            return crate::crypto_compat::rsa_oaep_decrypt(&key, oaep_digest(padding)?, data);
        };
        let mut out = vec![0u8; k.size() as usize];
        let n = k.private_decrypt(data, &mut out, p).map_err(lib)?;
        out.truncate(n);
        Ok(out)
    }
}

/// The paddings both TLS libraries run directly: PKCS#1 v1.5 and OAEP with SHA-1.
fn raw_padding(padding: &str) -> Option<Padding> {
    match padding {
        "Pkcs1" => Some(Padding::PKCS1),
        "OaepSHA1" => Some(Padding::PKCS1_OAEP),
        _ => None,
    }
}

/// The hash of an `OaepSHA256`-like padding name.
fn oaep_digest(padding: &str) -> Result<MessageDigest, Failure> {
    match padding.strip_prefix("Oaep") {
        Some(hash) => digest(hash),
        None => Err(format!(
            "'{padding}' is not a known RSA encryption padding."
        )),
    }
}

/// The DER forms of `Import…`/`Export…`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DerForm {
    Pkcs1Private,
    Pkcs8Private,
    Pkcs1Public,
    SubjectPublicKeyInfo,
}

/// An RSA key from a certificate's public key (`GetRSAPublicKey`); `None` for another kind.
pub(crate) fn from_certificate(der: &[u8]) -> Option<RsaKey> {
    let cert = crate::crypto::x509::X509::from_der(der).ok()?;
    let key: PKey<Public> = cert.public_key().ok()?;
    key.rsa().ok().map(RsaKey::Public)
}

/// A certificate's public key as `PublicKey` shows it: the algorithm's OID and friendly name,
/// and the SubjectPublicKeyInfo DER.
pub(crate) struct KeyInfo {
    pub oid: &'static str,
    pub name: &'static str,
    pub der: Vec<u8>,
}

pub(crate) fn certificate_key_info(der: &[u8]) -> Option<KeyInfo> {
    use crate::crypto::pkey::Id;
    let cert = crate::crypto::x509::X509::from_der(der).ok()?;
    let key: PKey<Public> = cert.public_key().ok()?;
    let (oid, name) = match key.id() {
        Id::RSA => ("1.2.840.113549.1.1.1", "RSA"),
        Id::EC => ("1.2.840.10045.2.1", "ECC"),
        Id::ED25519 => ("1.3.101.112", "Ed25519"),
        _ => ("", ""),
    };
    Some(KeyInfo {
        oid,
        name,
        der: key.public_key_to_der().ok()?,
    })
}
