//! Certificate extensions as `X509Certificate2.Extensions` shows them: OID, friendly name,
//! critical flag, raw value, and `Format(false)` text. The Subject Alternative Name is
//! formatted the way .NET on Windows prints it (`DNS Name=..., IP Address=..., RFC822 Name=...,
//! URL=...`); other extensions format as space-separated hex, as .NET does for types it has no
//! formatter for.
//!
//! The extension list comes from the TBSCertificate (`tbs.rs`: the openssl crate has no
//! generic extension iterator); SAN entries come from openssl's GeneralName parsing.

use std::sync::Arc;

use x509_cert::der::asn1::ObjectIdentifier;

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
    EXTENSIONS
        .iter()
        .find(|(_, dotted, _)| *dotted == oid)
        .map_or("", |(_, _, name)| name)
}

/// The extensions of a certificate, as .NET shows them.
pub(crate) fn read(
    list: &[x509_cert::ext::Extension],
    x509: &X509,
) -> Result<Vec<Arc<Extension>>, NameError> {
    let mut out = Vec::with_capacity(list.len());
    for ext in list {
        // A known extension's text comes from the table; printing OIDs was ~10 000
        // instructions of every client certificate's handshake.
        let (oid, name) = EXTENSIONS
            .iter()
            .find(|(o, _, _)| *o == ext.extn_id)
            .map_or_else(
                || (ext.extn_id.to_string(), ""),
                |(_, dotted, name)| ((*dotted).to_string(), *name),
            );
        let raw = ext.extn_value.as_bytes();
        let formatted = if oid == OID_SAN {
            format_san(x509)
        } else {
            hex_spaced(raw)
        };
        out.push(Arc::new(Extension {
            friendly_name: name.into(),
            oid: oid.into(),
            critical: ext.critical,
            raw: raw.into(),
            formatted: formatted.into(),
        }));
    }
    Ok(out)
}

/// One entry of [`EXTENSIONS`]: the OID from its dotted text, the text itself, the name.
macro_rules! extension {
    ($dotted:literal, $name:literal) => {
        (ObjectIdentifier::new_unwrap($dotted), $dotted, $name)
    };
}

/// The extensions .NET names: OID, its dotted text, friendly name.
const EXTENSIONS: &[(ObjectIdentifier, &str, &str)] = &[
    extension!("2.5.29.17", "Subject Alternative Name"),
    extension!("2.5.29.19", "Basic Constraints"),
    extension!("2.5.29.15", "Key Usage"),
    extension!("2.5.29.37", "Enhanced Key Usage"),
    extension!("2.5.29.14", "Subject Key Identifier"),
    extension!("2.5.29.35", "Authority Key Identifier"),
    extension!("2.5.29.31", "CRL Distribution Points"),
    extension!("1.3.6.1.5.5.7.1.1", "Authority Information Access"),
    extension!("2.5.29.32", "Certificate Policies"),
];

/// Lower-case hex bytes separated by spaces (`Format(false)` of an extension .NET has no
/// formatter for), written straight into one string.
fn hex_spaced(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(b.len() * 3);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push(HEX[usize::from(x >> 4)] as char);
        out.push(HEX[usize::from(x & 15)] as char);
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_spaced_lower_case_pairs() {
        assert_eq!(hex_spaced(&[]), "");
        assert_eq!(hex_spaced(&[0x0a]), "0a");
        assert_eq!(
            hex_spaced(&[0x30, 0x03, 0x01, 0xff, 0x00]),
            "30 03 01 ff 00"
        );
        let all: Vec<u8> = (0..=255).collect();
        let expected: Vec<String> = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex_spaced(&all), expected.join(" "));
    }

    #[test]
    fn known_extension_oids_print_as_their_own_text() {
        for (oid, text, name) in EXTENSIONS {
            assert_eq!(oid.to_string(), *text);
            assert_ne!(friendly_name(text), "", "{text} has no friendly name");
            assert_eq!(friendly_name(text), *name);
        }
    }
}
