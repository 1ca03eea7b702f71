//! Distinguished names as .NET shows and compares them (SPEC §4).
//!
//! Rendering: `X500DistinguishedName.Name` / `X509Certificate2.Subject` — RDNs in reverse of
//! the encoded order, `", "` between RDNs, `" + "` inside a multi-valued RDN, .NET's attribute
//! labels (`CN`, `OU`, `O`, `L`, `S`, `C`, `E`, ... and `OID.x.y.z` for the rest), and values
//! quoted with `"` when they contain `, + = " ; < > #`, a line break, or leading/trailing
//! spaces (embedded quotes doubled).
//!
//! The `Name` structure is read with the `der` crate rather than through openssl, whose API
//! flattens multi-valued RDNs and converts string types silently (both matter for an exact
//! rendering); `x509-cert`'s own `Name` sorts the attributes of an RDN, and .NET renders them in
//! encoded order, so the RDN sets are walked here. Values with NUL bytes are refused: they would
//! let `CN=evil\0.good.example` render as something it is not.

use std::fmt;

use der::asn1::AnyRef;
use der::{Decode, Reader, SliceReader, Tag, Tagged};
use x509_cert::attr::AttributeTypeAndValue;

/// Why a name could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("malformed DER: {0}")]
    /// The DER does not parse.
    Der(#[from] der::Error),
    #[error("{0}")]
    /// The structure is larger than any real certificate's.
    Limit(&'static str),
    #[error("invalid structure: {0}")]
    /// Well-formed DER, but not a valid name (an empty RDN).
    Structure(&'static str),
    #[error("attribute {0} contains a NUL byte")]
    /// An attribute value contains a NUL byte.
    Nul(String),
    #[error("attribute {0} is not valid text in its declared string type")]
    /// An attribute value is not valid text in its string type.
    Encoding(String),
}

/// One attribute of an RDN: its OID (dotted) and its value as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ava {
    pub oid: String,
    pub value: String,
    /// The value was not a string type and is shown as `#` and hex: never quoted.
    pub hex: bool,
}

/// A Name as encoded: RDNs in encoded order, each with one or more attributes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Name {
    /// The RDNs, in DER order, each a set of attribute values.
    pub rdns: Vec<Vec<Ava>>,
}

/// Names with more RDNs than this are refused (real ones have fewer than 20).
const MAX_RDNS: usize = 64;

impl Name {
    /// Parses a DER-encoded `Name` (SEQUENCE OF SET OF AttributeTypeAndValue).
    pub fn from_der(der: &[u8]) -> Result<Name, NameError> {
        let sets = Vec::<AnyRef<'_>>::from_der(der)?;
        if sets.len() > MAX_RDNS {
            return Err(NameError::Limit("more than 64 RDNs in a name"));
        }
        let mut rdns = Vec::with_capacity(sets.len());
        for set in sets {
            set.tag().assert_eq(Tag::Set)?;
            let mut r = SliceReader::new(set.value())?;
            let mut avas = Vec::new();
            while !r.is_finished() {
                let atv = AttributeTypeAndValue::decode(&mut r)?;
                let oid = atv.oid.to_string();
                let tag = u8::from(atv.value.tag());
                let value = decode_string(tag, atv.value.value(), &oid)?;
                let hex = !matches!(tag, 0x0c | 0x13 | 0x16 | 0x12 | 0x1a | 0x14 | 0x1e | 0x1c);
                avas.push(Ava { oid, value, hex });
            }
            if avas.is_empty() {
                return Err(NameError::Structure("an empty RDN"));
            }
            rdns.push(avas);
        }
        Ok(Name { rdns })
    }

    /// The .NET rendering (`X500DistinguishedName.Name`).
    pub fn to_dotnet(&self) -> String {
        let mut out = String::new();
        for (i, rdn) in self.rdns.iter().rev().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            for (j, ava) in rdn.iter().enumerate() {
                if j > 0 {
                    out.push_str(" + ");
                }
                out.push_str(&dotnet_label(&ava.oid));
                out.push('=');
                if ava.hex {
                    out.push_str(&ava.value);
                } else {
                    out.push_str(&quote_value(&ava.value));
                }
            }
        }
        out
    }

    /// The first value of an attribute, in encoded order.
    pub fn first(&self, oid: &str) -> Option<&str> {
        self.rdns
            .iter()
            .flatten()
            .find(|a| a.oid == oid)
            .map(|a| a.value.as_str())
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_dotnet())
    }
}

pub(crate) const OID_CN: &str = "2.5.4.3";
pub(crate) const OID_OU: &str = "2.5.4.11";
pub(crate) const OID_O: &str = "2.5.4.10";
pub(crate) const OID_EMAIL: &str = "1.2.840.113549.1.9.1";

/// .NET's label for an attribute OID; `OID.x.y.z` when it has none.
pub(crate) fn dotnet_label(oid: &str) -> String {
    let l = match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "S",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "T",
        "2.5.4.13" => "Description",
        "2.5.4.17" => "PostalCode",
        "2.5.4.42" => "G",
        "2.5.4.43" => "I",
        "1.2.840.113549.1.9.1" => "E",
        "0.9.2342.19200300.100.1.25" => "DC",
        _ => return format!("OID.{oid}"),
    };
    l.to_string()
}

/// Quotes a value the way .NET (CryptoAPI's CertNameToStr) does.
pub(crate) fn quote_value(v: &str) -> String {
    let needs = v.is_empty()
        || v.starts_with([' ', '\t'])
        || v.ends_with([' ', '\t'])
        || v.contains([',', '+', '=', '"', '\n', '\r', '<', '>', '#', ';']);
    if needs {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

fn decode_string(tag: u8, b: &[u8], oid: &str) -> Result<String, NameError> {
    let label = || dotnet_label(oid);
    let s = match tag {
        0x0c => std::str::from_utf8(b)
            .map_err(|_| NameError::Encoding(label()))?
            .to_string(),
        // Printable, IA5, Numeric, Visible: ASCII; Teletex: treated as Latin-1, as .NET does.
        0x13 | 0x16 | 0x12 | 0x1a | 0x14 => b.iter().map(|&c| c as char).collect(),
        0x1e => {
            if !b.len().is_multiple_of(2) {
                return Err(NameError::Encoding(label()));
            }
            let units: Vec<u16> = b
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).map_err(|_| NameError::Encoding(label()))?
        }
        0x1c => {
            if !b.len().is_multiple_of(4) {
                return Err(NameError::Encoding(label()));
            }
            b.chunks_exact(4)
                .map(|c| {
                    char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                        .ok_or_else(|| NameError::Encoding(label()))
                })
                .collect::<Result<String, _>>()?
        }
        // Other types (e.g. a BIT STRING x500UniqueIdentifier): '#' and the hex of the value.
        _ => {
            let mut s = String::from("#");
            for x in b {
                s.push_str(&format!("{x:02X}"));
            }
            s
        }
    };
    if s.contains('\0') {
        return Err(NameError::Nul(label()));
    }
    Ok(s)
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
    /// Parses a distinguished name as policies write it (`CN=x, O=y`).
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

    /// The comparison form of a parsed certificate name.
    pub fn of_name(name: &Name) -> DistinguishedName {
        let mut attrs: Vec<(String, String)> = name
            .rdns
            .iter()
            .flatten()
            .map(|a| {
                (
                    normalise_label(&dotnet_label(&a.oid)),
                    a.value.to_lowercase(),
                )
            })
            .collect();
        attrs.sort();
        DistinguishedName { attrs }
    }

    /// The first common name.
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

#[cfg(test)]
mod match_tests {
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
