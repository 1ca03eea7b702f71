//! Certificate extensions as `X509Certificate2.Extensions` shows them: OID, friendly name,
//! critical flag, raw value, and `Format(false)` text. The Subject Alternative Name is
//! formatted the way .NET on Windows prints it (`DNS Name=..., IP Address=..., RFC822 Name=...,
//! URL=...`); other extensions format as space-separated hex, as .NET does for types it has no
//! formatter for.
//!
//! The extension list comes from the TBSCertificate (`tbs.rs`: the openssl crate has no
//! generic extension iterator); SAN entries come from openssl's GeneralName parsing.

use std::sync::Arc;

use crate::crypto::x509::X509;

use super::name::NameError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    pub oid: Arc<str>,
    pub friendly_name: Arc<str>,
    pub critical: bool,
    pub raw: Arc<[u8]>,
    pub formatted: Arc<str>,
}

pub(crate) const OID_SAN: &str = "2.5.29.17";

/// The OIDs whose friendly names .NET's `Oid` knows and policies meet: name attributes,
/// extended key usages, signature and key algorithms (extensions are `friendly_name`'s).
const OID_NAMES: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "S"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("1.2.840.113549.1.9.1", "E"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("1.3.6.1.5.5.7.3.1", "Server Authentication"),
    ("1.3.6.1.5.5.7.3.2", "Client Authentication"),
    ("1.3.6.1.5.5.7.3.3", "Code Signing"),
    ("1.3.6.1.5.5.7.3.4", "Secure Email"),
    ("1.2.840.113549.1.1.1", "RSA"),
    ("1.2.840.10045.2.1", "ECC"),
    ("1.2.840.113549.1.1.11", "sha256RSA"),
    ("1.2.840.113549.1.1.12", "sha384RSA"),
    ("1.2.840.113549.1.1.13", "sha512RSA"),
    ("1.2.840.113549.1.1.5", "sha1RSA"),
    ("1.2.840.10045.4.3.2", "sha256ECDSA"),
    ("1.2.840.10045.4.3.3", "sha384ECDSA"),
    ("1.2.840.10045.4.3.4", "sha512ECDSA"),
    ("2.16.840.1.101.3.4.2.1", "sha256"),
    ("1.3.14.3.2.26", "sha1"),
];

/// `new Oid(text)`: the value and friendly name, from either (.NET accepts both); an unknown
/// name has no value.
pub(crate) fn oid_lookup(text: &str) -> (Option<&str>, &str) {
    let dotted = !text.is_empty()
        && text
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if dotted {
        let name = OID_NAMES
            .iter()
            .find(|(o, _)| *o == text)
            .map_or_else(|| friendly_name(text), |(_, n)| *n);
        return (Some(text), name);
    }
    let by_name = OID_NAMES
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(text))
        .map(|(o, n)| (*o, *n));
    match by_name {
        Some((oid, name)) => (Some(oid), name),
        None => (None, text),
    }
}

pub(crate) fn friendly_name(oid: &str) -> &'static str {
    match oid {
        "2.5.29.17" => "Subject Alternative Name",
        "2.5.29.19" => "Basic Constraints",
        "2.5.29.15" => "Key Usage",
        "2.5.29.37" => "Enhanced Key Usage",
        "2.5.29.14" => "Subject Key Identifier",
        "2.5.29.35" => "Authority Key Identifier",
        "2.5.29.31" => "CRL Distribution Points",
        "1.3.6.1.5.5.7.1.1" => "Authority Information Access",
        "2.5.29.32" => "Certificate Policies",
        _ => "",
    }
}

/// The extensions of a certificate, as .NET shows them.
pub(crate) fn read(
    list: &[x509_cert::ext::Extension],
    x509: &X509,
) -> Result<Vec<Arc<Extension>>, NameError> {
    let mut out = Vec::with_capacity(list.len());
    for ext in list {
        let oid = ext.extn_id.to_string();
        let raw = ext.extn_value.as_bytes();
        let formatted = if oid == OID_SAN {
            format_san(x509)
        } else {
            hex_spaced(raw)
        };
        out.push(Arc::new(Extension {
            friendly_name: friendly_name(&oid).into(),
            oid: oid.into(),
            critical: ext.critical,
            raw: raw.into(),
            formatted: formatted.into(),
        }));
    }
    Ok(out)
}

fn hex_spaced(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `DNS Name=a, IP Address=127.0.0.1, RFC822 Name=x@y, URL=u` in encoded order.
fn format_san(x509: &X509) -> String {
    let Some(names) = x509.subject_alt_names() else {
        return String::new();
    };
    let mut parts = Vec::new();
    for n in names.iter() {
        if let Some(d) = n.dnsname() {
            parts.push(format!("DNS Name={d}"));
        } else if let Some(ip) = n.ipaddress() {
            parts.push(format!("IP Address={}", format_ip(ip)));
        } else if let Some(e) = n.email() {
            parts.push(format!("RFC822 Name={e}"));
        } else if let Some(u) = n.uri() {
            parts.push(format!("URL={u}"));
        } else {
            parts.push("Other Name=".to_string());
        }
    }
    parts.join(", ")
}

fn format_ip(b: &[u8]) -> String {
    match b.len() {
        4 => format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]),
        // Windows prints every group of an IPv6 address in full.
        16 => b
            .chunks(2)
            .map(|c| format!("{:02X}{:02X}", c[0], c[1]))
            .collect::<Vec<_>>()
            .join(":"),
        _ => hex_spaced(b),
    }
}

/// The SAN entries by kind, for identity matching and `GetNameInfo`.
pub(crate) fn san_dns(x509: &X509) -> Vec<String> {
    x509.subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.dnsname().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
