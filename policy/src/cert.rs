//! The certificate object policies see as `X509Certificate2` (SPEC §4).
//!
//! Built once from DER (per connection in the gateway, per configured certificate at load) so
//! that every property a policy reads is a field access. This module holds the members the
//! expression language binds to; the full .NET rendering rules, trust stores and chain
//! verification live with the certificate-semantics work and extend this type.
//!
//! It must not verify chains itself: `Verify()` asks the request context, which knows the trust
//! material of the running snapshot (see [`crate::context::RequestContext::verify_certificate`]).

use std::fmt;
use std::sync::Arc;

use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::x509::{X509NameRef, X509};

use crate::expr::value::{DateTime, NameType};

/// Why a certificate could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("not a DER-encoded X.509 certificate: {0}")]
    Der(String),
    #[error("not a PEM certificate: {0}")]
    Pem(String),
    #[error("certificate validity time out of range")]
    Time,
}

/// An X.509 certificate with its .NET-visible properties precomputed.
pub struct Certificate {
    x509: X509,
    der: Arc<[u8]>,
    thumbprint: Arc<str>,
    serial: Arc<str>,
    subject: Arc<str>,
    issuer: Arc<str>,
    not_before: DateTime,
    not_after: DateTime,
    sig_alg: Arc<str>,
    sans_dns: Vec<String>,
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

    pub fn from_x509(x509: X509) -> Result<Certificate, CertError> {
        let der: Arc<[u8]> = x509
            .to_der()
            .map_err(|e| CertError::Der(first_error(&e)))?
            .into();
        let digest = openssl::hash::hash(MessageDigest::sha1(), &der)
            .map_err(|e| CertError::Der(first_error(&e)))?;
        let thumbprint: Arc<str> = hex_upper(&digest).into();
        let serial = x509
            .serial_number()
            .to_bn()
            .ok()
            .and_then(|bn| bn.to_hex_str().ok().map(|s| s.to_string()))
            .unwrap_or_default();
        // .NET prints the serial's bytes as encoded: an even number of hex digits.
        let serial = if serial.len() % 2 == 1 {
            format!("0{serial}")
        } else {
            serial
        };
        let not_before = asn1_to_local(x509.not_before())?;
        let not_after = asn1_to_local(x509.not_after())?;
        let sig_alg = x509.signature_algorithm().object().nid();
        let sig_alg: Arc<str> = friendly_sig_alg(sig_alg).into();
        let sans_dns = x509
            .subject_alt_names()
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| n.dnsname().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Certificate {
            subject: render_dn(x509.subject_name()).into(),
            issuer: render_dn(x509.issuer_name()).into(),
            x509,
            der,
            thumbprint,
            serial: serial.to_uppercase().into(),
            not_before,
            not_after,
            sig_alg,
            sans_dns,
        })
    }

    pub fn x509(&self) -> &X509 {
        &self.x509
    }
    pub fn thumbprint(&self) -> &Arc<str> {
        &self.thumbprint
    }
    pub fn serial_number(&self) -> &Arc<str> {
        &self.serial
    }
    pub fn subject(&self) -> &Arc<str> {
        &self.subject
    }
    pub fn issuer(&self) -> &Arc<str> {
        &self.issuer
    }
    pub fn not_before(&self) -> DateTime {
        self.not_before
    }
    pub fn not_after(&self) -> DateTime {
        self.not_after
    }
    pub fn raw_data(&self) -> &Arc<[u8]> {
        &self.der
    }
    pub fn version(&self) -> i64 {
        self.x509.version() as i64 + 1
    }
    pub fn signature_algorithm_friendly_name(&self) -> &Arc<str> {
        &self.sig_alg
    }

    /// `GetNameInfo(X509NameType, forIssuer)`.
    pub fn name_info(&self, kind: NameType, for_issuer: bool) -> String {
        let name = if for_issuer {
            self.x509.issuer_name()
        } else {
            self.x509.subject_name()
        };
        let first = |nid: Nid| {
            name.entries_by_nid(nid)
                .next()
                .and_then(|e| e.data().to_string().ok())
        };
        match kind {
            NameType::SimpleName => first(Nid::COMMONNAME)
                .or_else(|| first(Nid::ORGANIZATIONALUNITNAME))
                .or_else(|| first(Nid::ORGANIZATIONNAME))
                .or_else(|| first(Nid::PKCS9_EMAILADDRESS))
                .unwrap_or_default(),
            NameType::EmailName => first(Nid::PKCS9_EMAILADDRESS).unwrap_or_default(),
            NameType::DnsName | NameType::DnsFromAlternativeName => {
                if !for_issuer {
                    if let Some(d) = self.sans_dns.first() {
                        return d.clone();
                    }
                }
                if kind == NameType::DnsName {
                    first(Nid::COMMONNAME).unwrap_or_default()
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

fn first_error(e: &openssl::error::ErrorStack) -> String {
    e.errors()
        .first()
        .and_then(|e| e.reason().map(str::to_string))
        .unwrap_or_else(|| "malformed".into())
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

fn asn1_to_local(t: &openssl::asn1::Asn1TimeRef) -> Result<DateTime, CertError> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).map_err(|_| CertError::Time)?;
    let diff = epoch.diff(t).map_err(|_| CertError::Time)?;
    let secs = diff.days as i64 * 86_400 + diff.secs as i64;
    DateTime::local_from_unix(secs).ok_or(CertError::Time)
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

/// .NET X500DistinguishedName rendering (reverse RDN order, `", "` separators, .NET labels,
/// quoting of special characters). Multi-valued RDNs are refined with the certificate work.
pub fn render_dn(name: &X509NameRef) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in name.entries() {
        let nid = e.object().nid();
        let label = match nid {
            Nid::COMMONNAME => "CN".to_string(),
            Nid::ORGANIZATIONNAME => "O".into(),
            Nid::ORGANIZATIONALUNITNAME => "OU".into(),
            Nid::LOCALITYNAME => "L".into(),
            Nid::STATEORPROVINCENAME => "S".into(),
            Nid::COUNTRYNAME => "C".into(),
            Nid::PKCS9_EMAILADDRESS => "E".into(),
            Nid::STREETADDRESS => "STREET".into(),
            Nid::DOMAINCOMPONENT => "DC".into(),
            Nid::SERIALNUMBER => "SERIALNUMBER".into(),
            Nid::TITLE => "T".into(),
            Nid::GIVENNAME => "G".into(),
            Nid::SURNAME => "SN".into(),
            Nid::INITIALS => "I".into(),
            _ => format!("OID.{}", e.object()),
        };
        let value = e.data().to_string().unwrap_or_default();
        parts.push(format!("{label}={}", quote_dn_value(&value)));
    }
    parts.reverse();
    parts.join(", ")
}

fn quote_dn_value(v: &str) -> String {
    let needs = v.is_empty()
        || v.starts_with(' ')
        || v.ends_with(' ')
        || v.contains([',', '+', '=', '"', '\n', '\r', '<', '>', '#', ';']);
    if needs && !v.is_empty() {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

/// A distinguished name parsed for comparison (`subject`/`issuer-subject` identities):
/// attribute labels normalised through their aliases (`ST`→`S`, `emailAddress`→`E`, OIDs →
/// labels), values compared case-insensitively, RDN order ignored (either order matches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistinguishedName {
    /// Sorted (label, lower-cased value) pairs; multi-valued RDNs are flattened.
    attrs: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid distinguished name: {0}")]
pub struct DnError(pub String);

impl DistinguishedName {
    pub fn parse(s: &str) -> Result<DistinguishedName, DnError> {
        let mut attrs = Vec::new();
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        let n = chars.len();
        let skip_ws = |i: &mut usize| {
            while *i < n && chars[*i].is_whitespace() {
                *i += 1;
            }
        };
        skip_ws(&mut i);
        if i == n {
            return Ok(DistinguishedName { attrs });
        }
        loop {
            skip_ws(&mut i);
            let start = i;
            while i < n && chars[i] != '=' && !matches!(chars[i], ',' | ';' | '+') {
                i += 1;
            }
            if i >= n || chars[i] != '=' {
                return Err(DnError(format!(
                    "expected '=' after attribute '{}'",
                    chars[start..i].iter().collect::<String>().trim()
                )));
            }
            let label: String = chars[start..i]
                .iter()
                .collect::<String>()
                .trim()
                .to_string();
            if label.is_empty() {
                return Err(DnError("empty attribute name".into()));
            }
            i += 1;
            skip_ws(&mut i);
            let mut value = String::new();
            if i < n && chars[i] == '"' {
                i += 1;
                loop {
                    if i >= n {
                        return Err(DnError("quoted value is never closed".into()));
                    }
                    if chars[i] == '"' {
                        if i + 1 < n && chars[i + 1] == '"' {
                            value.push('"');
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    value.push(chars[i]);
                    i += 1;
                }
                skip_ws(&mut i);
            } else {
                while i < n && !matches!(chars[i], ',' | ';' | '+') {
                    if chars[i] == '\\' && i + 1 < n {
                        i += 1;
                    }
                    value.push(chars[i]);
                    i += 1;
                }
                value = value.trim().to_string();
            }
            attrs.push((normalise_label(&label), value.to_lowercase()));
            if i >= n {
                break;
            }
            if !matches!(chars[i], ',' | ';' | '+') {
                return Err(DnError(format!("unexpected '{}' after a value", chars[i])));
            }
            i += 1;
        }
        attrs.sort();
        Ok(DistinguishedName { attrs })
    }

    /// The DN of a certificate name, via its .NET rendering.
    pub fn of_name(name: &X509NameRef) -> DistinguishedName {
        DistinguishedName::parse(&render_dn(name))
            .unwrap_or(DistinguishedName { attrs: Vec::new() })
    }

    pub fn common_name(&self) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(l, _)| l == "CN")
            .map(|(_, v)| v.as_str())
    }
}

fn normalise_label(label: &str) -> String {
    let up = label.to_ascii_uppercase();
    let up = up.strip_prefix("OID.").unwrap_or(&up).to_string();
    match up.as_str() {
        "ST" | "2.5.4.8" => "S".into(),
        "EMAILADDRESS" | "EMAIL" | "1.2.840.113549.1.9.1" => "E".into(),
        "2.5.4.3" | "COMMONNAME" => "CN".into(),
        "2.5.4.10" => "O".into(),
        "2.5.4.11" => "OU".into(),
        "2.5.4.7" => "L".into(),
        "2.5.4.6" => "C".into(),
        "STREET" | "2.5.4.9" => "STREET".into(),
        "0.9.2342.19200300.100.1.25" => "DC".into(),
        "TITLE" | "2.5.4.12" => "T".into(),
        "GIVENNAME" | "2.5.4.42" => "G".into(),
        "SURNAME" | "2.5.4.4" => "SN".into(),
        _ => up,
    }
}

impl Certificate {
    pub fn subject_dn(&self) -> DistinguishedName {
        DistinguishedName::of_name(self.x509.subject_name())
    }

    pub fn issuer_dn(&self) -> DistinguishedName {
        DistinguishedName::of_name(self.x509.issuer_name())
    }

    pub fn dns_names(&self) -> &[String] {
        &self.sans_dns
    }

    pub fn common_name(&self) -> Option<String> {
        self.x509
            .subject_name()
            .entries_by_nid(Nid::COMMONNAME)
            .next()
            .and_then(|e| e.data().to_string().ok())
    }
}

#[cfg(test)]
mod dn_tests {
    use super::*;

    #[test]
    fn order_aliases_quotes_case() {
        let a = DistinguishedName::parse(r#"CN=Valid Client, O="Contoso, Inc.", ST=WA"#).unwrap();
        let b = DistinguishedName::parse(r#"S=wa;o="contoso, inc." , cn=valid client"#).unwrap();
        assert_eq!(a, b);
        let c = DistinguishedName::parse("CN=Valid Client").unwrap();
        assert_ne!(a, c);
        assert_eq!(
            DistinguishedName::parse(r"CN=a\,b").unwrap(),
            DistinguishedName::parse(r#"CN="a,b""#).unwrap()
        );
        assert!(DistinguishedName::parse("CN").is_err());
        assert!(DistinguishedName::parse(r#"CN="open"#).is_err());
    }
}
