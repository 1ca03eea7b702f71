//! The .NET enums that certificates and expressions share: `X509NameType`, and
//! the enums carried by name and number (`EnumType`: `StringComparison`, `MidpointRounding`,
//! ...).
//!
//! Must not: know about certificates, expressions or the request context.

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

/// The .NET enums certgate carries by name and number (their values print their names, compare
/// with `==`, cast to and from `int`, and `Enum.Parse` finds them); the members that take one
/// give it its meaning (`Math.Round(x, MidpointRounding.AwayFromZero)`, `DateTime.Kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnumType {
    StringComparison,
    DayOfWeek,
    MidpointRounding,
    DateTimeKind,
    CipherMode,
    PaddingMode,
    X509ContentType,
    AddressFamily,
    NormalizationForm,
}

impl EnumType {
    pub const ALL: [EnumType; 9] = [
        EnumType::StringComparison,
        EnumType::DayOfWeek,
        EnumType::MidpointRounding,
        EnumType::DateTimeKind,
        EnumType::CipherMode,
        EnumType::PaddingMode,
        EnumType::X509ContentType,
        EnumType::AddressFamily,
        EnumType::NormalizationForm,
    ];

    /// The enum's name and namespace, as `typeof(T).FullName` has them.
    pub fn full_name(self) -> &'static str {
        match self {
            EnumType::StringComparison => "System.StringComparison",
            EnumType::DayOfWeek => "System.DayOfWeek",
            EnumType::MidpointRounding => "System.MidpointRounding",
            EnumType::DateTimeKind => "System.DateTimeKind",
            EnumType::CipherMode => "System.Security.Cryptography.CipherMode",
            EnumType::PaddingMode => "System.Security.Cryptography.PaddingMode",
            EnumType::X509ContentType => {
                "System.Security.Cryptography.X509Certificates.X509ContentType"
            }
            EnumType::AddressFamily => "System.Net.Sockets.AddressFamily",
            EnumType::NormalizationForm => "System.Text.NormalizationForm",
        }
    }

    pub fn name(self) -> &'static str {
        let full = self.full_name();
        full.rsplit('.').next().unwrap_or(full)
    }

    /// The enum a type name designates, short or in full.
    pub fn named(name: &str) -> Option<EnumType> {
        EnumType::ALL
            .into_iter()
            .find(|t| t.name() == name || t.full_name() == name)
    }

    /// Its members and their numbers, as .NET defines them (aliases after the name that prints).
    pub fn members(self) -> &'static [(&'static str, i64)] {
        match self {
            EnumType::StringComparison => &[
                ("CurrentCulture", 0),
                ("CurrentCultureIgnoreCase", 1),
                ("InvariantCulture", 2),
                ("InvariantCultureIgnoreCase", 3),
                ("Ordinal", 4),
                ("OrdinalIgnoreCase", 5),
            ],
            EnumType::DayOfWeek => &[
                ("Sunday", 0),
                ("Monday", 1),
                ("Tuesday", 2),
                ("Wednesday", 3),
                ("Thursday", 4),
                ("Friday", 5),
                ("Saturday", 6),
            ],
            EnumType::MidpointRounding => &[
                ("ToEven", 0),
                ("AwayFromZero", 1),
                ("ToZero", 2),
                ("ToNegativeInfinity", 3),
                ("ToPositiveInfinity", 4),
            ],
            EnumType::DateTimeKind => &[("Unspecified", 0), ("Utc", 1), ("Local", 2)],
            EnumType::CipherMode => &[("CBC", 1), ("ECB", 2), ("OFB", 3), ("CFB", 4), ("CTS", 5)],
            EnumType::PaddingMode => &[
                ("None", 1),
                ("PKCS7", 2),
                ("Zeros", 3),
                ("ANSIX923", 4),
                ("ISO10126", 5),
            ],
            EnumType::X509ContentType => &[
                ("Unknown", 0),
                ("Cert", 1),
                ("SerializedCert", 2),
                ("Pfx", 3),
                ("Pkcs12", 3),
                ("SerializedStore", 4),
                ("Pkcs7", 5),
                ("Authenticode", 6),
            ],
            EnumType::AddressFamily => &[
                ("Unspecified", 0),
                ("Unix", 1),
                ("InterNetwork", 2),
                ("InterNetworkV6", 23),
                ("Unknown", -1),
            ],
            EnumType::NormalizationForm => {
                &[("FormC", 1), ("FormD", 2), ("FormKC", 5), ("FormKD", 6)]
            }
        }
    }

    /// The number of a member, by its name.
    pub fn value(self, name: &str) -> Option<i64> {
        self.members()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// What a value prints: its member's name, or its number when no member has it (as .NET).
    pub fn display(self, v: i64) -> String {
        match self.members().iter().find(|(_, n)| *n == v) {
            Some((name, _)) => (*name).to_string(),
            None => v.to_string(),
        }
    }
}
