//! The .NET enums that certificates and expressions share: `StringComparison` and
//! `X509NameType`.
//!
//! Must not: know about certificates, expressions or the request context.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StringComparison {
    Ordinal,
    IgnoreCase,
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
