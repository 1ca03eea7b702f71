//! The .NET enums that certificates and expressions share: `StringComparison`,
//! `X509NameType` and `DayOfWeek`.
//!
//! Must not: know about certificates, expressions or the request context.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StringComparison {
    Ordinal,
    IgnoreCase,
}

/// `DayOfWeek`: Sunday is 0, as in .NET.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DayOfWeek(pub u8);

impl DayOfWeek {
    pub const NAMES: [&'static str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];

    /// `DayOfWeek.Name`.
    pub fn named(name: &str) -> Option<DayOfWeek> {
        let i = DayOfWeek::NAMES.iter().position(|n| *n == name)?;
        Some(DayOfWeek(i as u8))
    }

    pub fn name(self) -> &'static str {
        DayOfWeek::NAMES
            .get(usize::from(self.0))
            .copied()
            .unwrap_or("")
    }
}

/// `X509NameType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
// The variants are .NET's `X509NameType` names, postfix and all.
#[allow(clippy::enum_variant_names)]
pub enum NameType {
    SimpleName,
    EmailName,
    UpnName,
    DnsName,
    DnsFromAlternativeName,
    UrlName,
}
