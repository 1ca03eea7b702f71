//! The demo PKI: the certificate tree of seed 003 (root CA, DEV and TST intermediates, valid /
//! unregistered / expired / not-yet-valid / untrusted clients), plus a server certificate, a
//! backend client certificate and two clients with unusual names. Made with the openssl crate
//! (no shell-out), used by tests, benchmarks, `make run` and `certgate pki demo`.
//!
//! Nothing here is meant for production keys: it is a fixture generator.

use std::path::Path;

use crate::crypto::asn1::{Asn1Integer, Asn1Time};
use crate::crypto::bn::{BigNum, MsbOption};
use crate::crypto::ec::{EcGroup, EcKey};
use crate::crypto::error::ErrorStack;
use crate::crypto::hash::MessageDigest;
use crate::crypto::nid::Nid;
use crate::crypto::pkey::{PKey, Private};
use crate::crypto::rsa::Rsa;
use crate::crypto::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use crate::crypto::x509::{X509Builder, X509Name, X509NameBuilder, X509Ref, X509};

use crate::crl::{days_from_now, Crl, CrlError};
use crate::crypto_compat::append_extension;

/// Key algorithm of a generated tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA 2048 keys, SHA-256 signatures.
    Rsa2048,
    /// ECDSA P-256 keys, SHA-256 signatures.
    EcdsaP256,
}

impl KeyKind {
    /// The name used on the command line and in file names.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Rsa2048 => "rsa",
            KeyKind::EcdsaP256 => "ecdsa",
        }
    }
}

/// A certificate with its private key.
#[derive(Clone)]
pub struct Issued {
    /// The certificate.
    pub cert: X509,
    /// Its private key.
    pub key: PKey<Private>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Issued")
            .field("subject", &self.cert.subject_name())
            .finish_non_exhaustive()
    }
}

impl Issued {
    /// The certificate as PEM.
    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.to_pem().unwrap_or_default()
    }
    /// The certificate as DER.
    pub fn cert_der(&self) -> Vec<u8> {
        self.cert.to_der().unwrap_or_default()
    }
    /// The private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> Vec<u8> {
        self.key.private_key_to_pem_pkcs8().unwrap_or_default()
    }
    /// PKCS#12 with the certificate, its key and the given chain, protected by `password`.
    pub fn pfx(&self, password: &str, chain: &[&X509]) -> Result<Vec<u8>, ErrorStack> {
        let mut ca = crate::crypto::stack::Stack::new()?;
        for c in chain {
            ca.push((*c).clone())?;
        }
        crate::crypto_compat::pkcs12(password, "certgate", &self.key, &self.cert, ca)
    }
}

/// Seed 003's tree and the extras SPEC §7 asks for.
#[derive(Clone, Debug)]
pub struct DemoPki {
    /// The key type of every certificate.
    pub kind: KeyKind,
    /// The root CA (uploaded as `Root`).
    pub root: Issued,
    /// The DEV intermediate (uploaded as `CertificateAuthority`).
    pub dev_ca: Issued,
    /// The TST intermediate (not uploaded).
    pub tst_ca: Issued,
    /// A valid client certificate under DEV.
    pub valid: Issued,
    /// A valid client certificate under DEV that is not in the configured list.
    pub unregistered: Issued,
    /// An expired client certificate under DEV.
    pub expired: Issued,
    /// A client certificate under DEV that is not yet valid.
    pub not_yet_valid: Issued,
    /// Issued by the TST intermediate, which is not uploaded as trusted.
    pub untrusted: Issued,
    /// Subject with several RDNs, a multi-valued RDN and a comma inside O.
    pub multi_rdn: Issued,
    /// Several SANs: DNS, IP, email, URI.
    pub multi_san: Issued,
    /// Server certificate for `localhost` / 127.0.0.1 (and the demo host names).
    pub server: Issued,
    /// The gateway's client certificate towards backends ("Unprotected API" in seed 003).
    pub backend_client: Issued,
    /// A separate CA for the demo backend's own server certificate.
    pub backend_root: Issued,
    /// The demo backend's server certificate, under `backend_root`.
    pub backend_server: Issued,
}

/// Common name of the root CA.
pub const ROOT_CN: &str = "APIM Sample Root CA";
/// Common name of the DEV intermediate.
pub const DEV_CA_CN: &str = "APIM Sample DEV Intermediate CA";
/// Common name of the TST intermediate.
pub const TST_CA_CN: &str = "APIM Sample TST Intermediate CA";

fn new_key(kind: KeyKind) -> Result<PKey<Private>, ErrorStack> {
    match kind {
        KeyKind::Rsa2048 => PKey::from_rsa(Rsa::generate(2048)?),
        KeyKind::EcdsaP256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
            PKey::from_ec_key(EcKey::generate(&group)?)
        }
    }
}

fn name(entries: &[(&str, &str)]) -> Result<X509Name, ErrorStack> {
    let mut b = X509NameBuilder::new()?;
    for (k, v) in entries {
        b.append_entry_by_text(k, v)?;
    }
    Ok(b.build())
}

/// What kind of certificate to issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// A CA: basic constraints CA, key cert sign, CRL sign.
    Ca,
    /// A TLS client: digital signature, client auth.
    Client,
    /// A TLS server: digital signature, server auth.
    Server,
}

/// Parameters of one certificate.
pub struct Spec<'a> {
    /// The subject name.
    pub subject: X509Name,
    /// Validity relative to now, in days (negative = in the past).
    pub not_before_days: i64,
    /// End of validity relative to now, in days.
    pub not_after_days: i64,
    /// What the certificate is for.
    pub profile: Profile,
    /// DNS subject alternative names.
    pub dns: &'a [&'a str],
    /// IP subject alternative names.
    pub ips: &'a [&'a str],
    /// Email subject alternative names.
    pub emails: &'a [&'a str],
    /// URI subject alternative names.
    pub uris: &'a [&'a str],
    /// CRL distribution points (`http://` URLs).
    pub crl_urls: &'a [&'a str],
    /// OCSP responders (Authority Information Access, `http://` URLs).
    pub ocsp_urls: &'a [&'a str],
}

impl<'a> Spec<'a> {
    /// A spec valid from a day ago for a year, without SANs.
    pub fn new(subject: X509Name, profile: Profile) -> Spec<'a> {
        Spec {
            subject,
            not_before_days: -1,
            not_after_days: 365,
            profile,
            dns: &[],
            ips: &[],
            emails: &[],
            uris: &[],
            crl_urls: &[],
            ocsp_urls: &[],
        }
    }
}

/// Issues a certificate; `issuer` None means self-signed.
pub fn issue(kind: KeyKind, spec: &Spec, issuer: Option<&Issued>) -> Result<Issued, ErrorStack> {
    let key = new_key(kind)?;
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = Asn1Integer::from_bn(&serial)?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&spec.subject)?;
    b.set_issuer_name(issuer.map_or(&spec.subject, |i| i.cert.subject_name()))?;
    b.set_pubkey(&key)?;
    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let not_before = Asn1Time::from_unix(now_unix + spec.not_before_days * 86_400)?;
    let not_after = Asn1Time::from_unix(now_unix + spec.not_after_days * 86_400)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    let ctx_issuer = issuer.map(|i| &i.cert);
    match spec.profile {
        Profile::Ca => {
            append_extension(&mut b, &BasicConstraints::new().critical().ca().build()?)?;
            append_extension(
                &mut b,
                &KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .digital_signature()
                    .build()?,
            )?;
        }
        Profile::Client | Profile::Server => {
            append_extension(&mut b, &BasicConstraints::new().build()?)?;
            append_extension(
                &mut b,
                &KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .key_encipherment()
                    .build()?,
            )?;
            // Server certificates may also act as clients (the demo backend's gateway leg).
            let mut eku = ExtendedKeyUsage::new();
            if spec.profile == Profile::Server {
                eku.server_auth();
            }
            append_extension(&mut b, &eku.client_auth().build()?)?;
        }
    }
    let ski =
        SubjectKeyIdentifier::new().build(&b.x509v3_context(ctx_issuer.map(|c| &**c), None))?;
    append_extension(&mut b, &ski)?;
    if issuer.is_some() {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(ctx_issuer.map(|c| &**c), None))?;
        append_extension(&mut b, &aki)?;
    }
    if !(spec.dns.is_empty()
        && spec.ips.is_empty()
        && spec.emails.is_empty()
        && spec.uris.is_empty())
    {
        let mut san = SubjectAlternativeName::new();
        for d in spec.dns {
            san.dns(d);
        }
        for i in spec.ips {
            san.ip(i);
        }
        for e in spec.emails {
            san.email(e);
        }
        for u in spec.uris {
            san.uri(u);
        }
        let ext = san.build(&b.x509v3_context(ctx_issuer.map(|c| &**c), None))?;
        append_extension(&mut b, &ext)?;
    }
    if !spec.crl_urls.is_empty() {
        append_extension(
            &mut b,
            &crate::crypto_compat::crl_distribution_points(spec.crl_urls)?,
        )?;
    }
    if !spec.ocsp_urls.is_empty() {
        append_extension(
            &mut b,
            &crate::crypto_compat::ocsp_responders(spec.ocsp_urls)?,
        )?;
    }
    let signer = issuer.map_or(&key, |i| &i.key);
    b.sign(signer, MessageDigest::sha256())?;
    Ok(Issued {
        cert: b.build(),
        key,
    })
}

fn client(
    kind: KeyKind,
    cn: &str,
    issuer: &Issued,
    nb: i64,
    na: i64,
) -> Result<Issued, ErrorStack> {
    let mut s = Spec::new(name(&[("CN", cn)])?, Profile::Client);
    s.not_before_days = nb;
    s.not_after_days = na;
    issue(kind, &s, Some(issuer))
}

impl DemoPki {
    /// Generates the whole tree with fresh keys.
    pub fn generate(kind: KeyKind) -> Result<DemoPki, ErrorStack> {
        let ca = |cn: &str, issuer: Option<&Issued>| -> Result<Issued, ErrorStack> {
            let mut s = Spec::new(name(&[("CN", cn)])?, Profile::Ca);
            s.not_after_days = 3650;
            issue(kind, &s, issuer)
        };
        let root = ca(ROOT_CN, None)?;
        let dev_ca = ca(DEV_CA_CN, Some(&root))?;
        let tst_ca = ca(TST_CA_CN, Some(&root))?;
        let multi_rdn = {
            let n = {
                let mut b = X509NameBuilder::new()?;
                b.append_entry_by_text("C", "US")?;
                b.append_entry_by_text("ST", "WA")?;
                b.append_entry_by_text("O", "Contoso, Inc.")?;
                b.append_entry_by_text("OU", "Partner APIs")?;
                b.append_entry_by_text("CN", "Multi RDN Client")?;
                b.build()
            };
            issue(kind, &Spec::new(n, Profile::Client), Some(&dev_ca))?
        };
        let multi_san = {
            let mut s = Spec::new(name(&[("CN", "Multi SAN Client")])?, Profile::Client);
            s.dns = &["client.example.test", "alt.example.test"];
            s.ips = &["127.0.0.1", "::1"];
            s.emails = &["ops@example.test"];
            s.uris = &["spiffe://example.test/client"];
            issue(kind, &s, Some(&dev_ca))?
        };
        let server = {
            let mut s = Spec::new(name(&[("CN", "localhost")])?, Profile::Server);
            s.dns = &[
                "localhost",
                "api.certgate.test",
                "partner.certgate.test",
                "plain.certgate.test",
            ];
            s.ips = &["127.0.0.1", "::1"];
            issue(kind, &s, Some(&root))?
        };
        let backend_root = ca("certgate Demo Backend CA", None)?;
        let backend_server = {
            let mut s = Spec::new(name(&[("CN", "localhost")])?, Profile::Server);
            s.dns = &["localhost", "backend.certgate.test"];
            s.ips = &["127.0.0.1", "::1"];
            issue(kind, &s, Some(&backend_root))?
        };
        Ok(DemoPki {
            kind,
            valid: client(kind, "Valid Client", &dev_ca, -1, 365)?,
            unregistered: client(kind, "Unregistered Client", &dev_ca, -1, 365)?,
            expired: client(kind, "Expired Client", &dev_ca, -30, -1)?,
            not_yet_valid: client(kind, "Not Yet Valid Client", &dev_ca, 30, 365)?,
            untrusted: client(kind, "Untrusted Client", &tst_ca, -1, 365)?,
            backend_client: client(kind, "Unprotected API", &dev_ca, -1, 365)?,
            multi_rdn,
            multi_san,
            server,
            backend_root,
            backend_server,
            root,
            dev_ca,
            tst_ca,
        })
    }

    /// Every certificate by file stem, in a stable order.
    pub fn all(&self) -> Vec<(&'static str, &Issued)> {
        vec![
            ("root-ca", &self.root),
            ("dev-intermediate-ca", &self.dev_ca),
            ("tst-intermediate-ca", &self.tst_ca),
            ("dev-valid-client", &self.valid),
            ("dev-unregistered-client", &self.unregistered),
            ("dev-expired-client", &self.expired),
            ("dev-not-yet-valid-client", &self.not_yet_valid),
            ("tst-untrusted-client", &self.untrusted),
            ("dev-multi-rdn-client", &self.multi_rdn),
            ("dev-multi-san-client", &self.multi_san),
            ("server", &self.server),
            ("backend-client", &self.backend_client),
            ("backend-root-ca", &self.backend_root),
            ("backend-server", &self.backend_server),
        ]
    }

    /// The chain a client presents: itself and its intermediate.
    pub fn issuer_of(&self, stem: &str) -> &Issued {
        match stem {
            "tst-untrusted-client" => &self.tst_ca,
            "server" | "dev-intermediate-ca" | "tst-intermediate-ca" | "root-ca" => &self.root,
            "backend-server" | "backend-root-ca" => &self.backend_root,
            _ => &self.dev_ca,
        }
    }

    /// Writes the tree: for each certificate `NAME.pem` (certificate), `NAME.cer` (base64 DER
    /// without markers, as APIM uploads take it), `NAME.der`, `NAME.key.pem`, `NAME.chain.pem`
    /// (certificate + issuer), `NAME.pfx` protected by `pfx_password` and `NAME.thumbprint`;
    /// and for each CA `NAME.crl.pem`, an empty CRL valid for 30 days.
    pub fn write(&self, dir: &Path, pfx_password: &str) -> std::io::Result<()> {
        use base64::Engine;
        std::fs::create_dir_all(dir)?;
        let io = |e: ErrorStack| std::io::Error::other(e.to_string());
        for (stem, i) in self.all() {
            let issuer = self.issuer_of(stem);
            std::fs::write(dir.join(format!("{stem}.pem")), i.cert_pem())?;
            std::fs::write(dir.join(format!("{stem}.der")), i.cert_der())?;
            std::fs::write(
                dir.join(format!("{stem}.cer")),
                base64::engine::general_purpose::STANDARD.encode(i.cert_der()),
            )?;
            write_private(&dir.join(format!("{stem}.key.pem")), &i.key_pem())?;
            let mut chain = i.cert_pem();
            if !std::ptr::eq(issuer, i) {
                chain.extend(issuer.cert_pem());
            }
            std::fs::write(dir.join(format!("{stem}.chain.pem")), chain)?;
            write_private(
                &dir.join(format!("{stem}.pfx")),
                &i.pfx(pfx_password, &[&issuer.cert]).map_err(io)?,
            )?;
            let thumb: String = crate::crypto::hash::hash(MessageDigest::sha1(), &i.cert_der())
                .map_err(io)?
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect();
            std::fs::write(dir.join(format!("{stem}.thumbprint")), thumb)?;
        }
        for (stem, ca) in [
            ("root-ca", &self.root),
            ("dev-intermediate-ca", &self.dev_ca),
            ("tst-intermediate-ca", &self.tst_ca),
            ("backend-root-ca", &self.backend_root),
        ] {
            let pem = crl(ca, &[], -1, 30)
                .and_then(|c| c.to_pem())
                .map_err(std::io::Error::other)?;
            std::fs::write(dir.join(format!("{stem}.crl.pem")), pem)?;
        }
        Ok(())
    }
}

/// `cert`'s serial number as `openssl ca` writes it in an index file (`openssl ocsp -index`
/// answers from one): two upper-case hex digits per byte. The bindings' own hex differs
/// (BoringSSL's is lower case and unpadded).
pub fn index_serial(cert: &X509Ref) -> String {
    cert.serial_number()
        .to_bn()
        .map(|b| b.to_vec().iter().map(|b| format!("{b:02X}")).collect())
        .unwrap_or_default()
}

/// An OCSP response from `issuer` for `cert`, valid from `this_update` to `next_update`.
pub fn ocsp_response(
    cert: &X509Ref,
    issuer: &Issued,
    status: crate::OcspStatus,
    this_update: std::time::SystemTime,
    next_update: std::time::SystemTime,
) -> Result<Vec<u8>, crate::ocsp::OcspRefused> {
    crate::ocsp::issue_response(
        cert,
        &issuer.cert,
        &issuer.key,
        status,
        this_update,
        next_update,
    )
}

/// A CRL issued by `issuer`, revoking `revoked`, valid from `last_days` to `next_days` (days
/// from now; a negative `next_days` makes an expired CRL).
pub fn crl(
    issuer: &Issued,
    revoked: &[&X509],
    last_days: i64,
    next_days: i64,
) -> Result<Crl, CrlError> {
    let revoked: Vec<&X509Ref> = revoked.iter().map(|c| c.as_ref()).collect();
    Crl::issue(
        &issuer.cert,
        &issuer.key,
        &revoked,
        days_from_now(last_days),
        days_from_now(next_days),
        1,
    )
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(data)
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::Certificate;

    #[test]
    fn tree_has_seed_names_and_validity() {
        let p = DemoPki::generate(KeyKind::EcdsaP256).unwrap();
        let valid = Certificate::from_x509(p.valid.cert.clone()).unwrap();
        assert_eq!(&**valid.subject(), "CN=Valid Client");
        assert_eq!(&**valid.issuer(), "CN=APIM Sample DEV Intermediate CA");
        let expired = Certificate::from_x509(p.expired.cert.clone()).unwrap();
        assert!(expired.not_after() < crate::dotnet::DateTime::now());
        let nyv = Certificate::from_x509(p.not_yet_valid.cert.clone()).unwrap();
        assert!(nyv.not_before() > crate::dotnet::DateTime::now());
        let multi = Certificate::from_x509(p.multi_rdn.cert.clone()).unwrap();
        assert_eq!(
            &**multi.subject(),
            r#"CN=Multi RDN Client, OU=Partner APIs, O="Contoso, Inc.", S=WA, C=US"#
        );
        let pfx = p.valid.pfx("pw", &[&p.dev_ca.cert]).unwrap();
        let parsed = crate::crypto::pkcs12::Pkcs12::from_der(&pfx)
            .unwrap()
            .parse2("pw")
            .unwrap();
        assert_eq!(parsed.cert.unwrap().to_der().unwrap(), p.valid.cert_der());
    }
}
