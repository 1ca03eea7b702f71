//! APIM's published list of the .NET types policy expressions may use ("API Management policy
//! expressions", the allowed-types table; `../shared/design/apim-reference.md` §2.3), plus the
//! context interfaces Microsoft's policy toolkit allows. Data only: the expression checker asks
//! it whether a type certgate does not implement is one APIM allows (refused as "not supported
//! by certgate") or one APIM refuses as well.
//!
//! Must not: import anything from this crate.

/// Full names of the types APIM allows in expressions (generic arity dropped).
pub(crate) const APIM_TYPES: &[&str] = &[
    "Newtonsoft.Json.Formatting",
    "Newtonsoft.Json.JsonConvert",
    "Newtonsoft.Json.Linq.Extensions",
    "Newtonsoft.Json.Linq.JArray",
    "Newtonsoft.Json.Linq.JConstructor",
    "Newtonsoft.Json.Linq.JContainer",
    "Newtonsoft.Json.Linq.JObject",
    "Newtonsoft.Json.Linq.JProperty",
    "Newtonsoft.Json.Linq.JRaw",
    "Newtonsoft.Json.Linq.JToken",
    "Newtonsoft.Json.Linq.JTokenType",
    "Newtonsoft.Json.Linq.JValue",
    "System.Array",
    "System.BitConverter",
    "System.Boolean",
    "System.Byte",
    "System.Char",
    "System.Collections.Generic.Dictionary",
    "System.Collections.Generic.HashSet",
    "System.Collections.Generic.ICollection",
    "System.Collections.Generic.IDictionary",
    "System.Collections.Generic.IEnumerable",
    "System.Collections.Generic.IEnumerator",
    "System.Collections.Generic.IList",
    "System.Collections.Generic.IReadOnlyCollection",
    "System.Collections.Generic.IReadOnlyDictionary",
    "System.Collections.Generic.ISet",
    "System.Collections.Generic.KeyValuePair",
    "System.Collections.Generic.List",
    "System.Collections.Generic.Queue",
    "System.Collections.Generic.Stack",
    "System.Convert",
    "System.DateTime",
    "System.DateTimeKind",
    "System.DateTimeOffset",
    "System.Decimal",
    "System.Double",
    "System.Enum",
    "System.Exception",
    "System.Guid",
    "System.Int16",
    "System.Int32",
    "System.Int64",
    "System.IO.StringReader",
    "System.IO.StringWriter",
    "System.Linq.Enumerable",
    "System.Math",
    "System.MidpointRounding",
    "System.Net.IPAddress",
    "System.Net.WebUtility",
    "System.Nullable",
    "System.Random",
    "System.SByte",
    "System.Security.Cryptography.AsymmetricAlgorithm",
    "System.Security.Cryptography.CipherMode",
    "System.Security.Cryptography.HashAlgorithm",
    "System.Security.Cryptography.HashAlgorithmName",
    "System.Security.Cryptography.HMAC",
    "System.Security.Cryptography.HMACMD5",
    "System.Security.Cryptography.HMACSHA1",
    "System.Security.Cryptography.HMACSHA256",
    "System.Security.Cryptography.HMACSHA384",
    "System.Security.Cryptography.HMACSHA512",
    "System.Security.Cryptography.KeyedHashAlgorithm",
    "System.Security.Cryptography.MD5",
    "System.Security.Cryptography.Oid",
    "System.Security.Cryptography.PaddingMode",
    "System.Security.Cryptography.RNGCryptoServiceProvider",
    "System.Security.Cryptography.RSA",
    "System.Security.Cryptography.RSAEncryptionPadding",
    "System.Security.Cryptography.RSASignaturePadding",
    "System.Security.Cryptography.SHA1",
    "System.Security.Cryptography.SHA1Managed",
    "System.Security.Cryptography.SHA256",
    "System.Security.Cryptography.SHA256Managed",
    "System.Security.Cryptography.SHA384",
    "System.Security.Cryptography.SHA384Managed",
    "System.Security.Cryptography.SHA512",
    "System.Security.Cryptography.SHA512Managed",
    "System.Security.Cryptography.SymmetricAlgorithm",
    "System.Security.Cryptography.X509Certificates.PublicKey",
    "System.Security.Cryptography.X509Certificates.RSACertificateExtensions",
    "System.Security.Cryptography.X509Certificates.X500DistinguishedName",
    "System.Security.Cryptography.X509Certificates.X509Certificate",
    "System.Security.Cryptography.X509Certificates.X509Certificate2",
    "System.Security.Cryptography.X509Certificates.X509ContentType",
    "System.Security.Cryptography.X509Certificates.X509NameType",
    "System.Single",
    "System.String",
    "System.StringComparer",
    "System.StringComparison",
    "System.StringSplitOptions",
    "System.Text.Encoding",
    "System.Text.RegularExpressions.Capture",
    "System.Text.RegularExpressions.CaptureCollection",
    "System.Text.RegularExpressions.Group",
    "System.Text.RegularExpressions.GroupCollection",
    "System.Text.RegularExpressions.Match",
    "System.Text.RegularExpressions.Regex",
    "System.Text.RegularExpressions.RegexOptions",
    "System.Text.StringBuilder",
    "System.TimeSpan",
    "System.TimeZone",
    "System.TimeZoneInfo.AdjustmentRule",
    "System.TimeZoneInfo.TransitionTime",
    "System.TimeZoneInfo",
    "System.Tuple",
    "System.UInt16",
    "System.UInt32",
    "System.UInt64",
    "System.Uri",
    "System.UriPartial",
    "System.Xml.Linq.Extensions",
    "System.Xml.Linq.XAttribute",
    "System.Xml.Linq.XCData",
    "System.Xml.Linq.XComment",
    "System.Xml.Linq.XContainer",
    "System.Xml.Linq.XDeclaration",
    "System.Xml.Linq.XDocument",
    "System.Xml.Linq.XDocumentType",
    "System.Xml.Linq.XElement",
    "System.Xml.Linq.XName",
    "System.Xml.Linq.XNamespace",
    "System.Xml.Linq.XNode",
    "System.Xml.Linq.XNodeDocumentOrderComparer",
    "System.Xml.Linq.XNodeEqualityComparer",
    "System.Xml.Linq.XObject",
    "System.Xml.Linq.XProcessingInstruction",
    "System.Xml.Linq.XText",
    "System.Xml.XmlNodeType",
    // The policy toolkit's context interfaces (expressions name them in casts and generics).
    "IExpressionContext",
    "IRequest",
    "IResponse",
    "IMessageBody",
    "IUrl",
    "IApi",
    "IContextApi",
    "IDeployment",
    "IGroup",
    "ILastError",
    "IOperation",
    "IPrivateEndpointConnection",
    "IProduct",
    "ISubscription",
    "ISubscriptionKeyParameterNames",
    "IUser",
    "IUserIdentity",
    "IAzureVnetInfo",
    // What APIM's helpers return (`AsJwt`, `AsBasic`).
    "Jwt",
    "BasicAuthCredentials",
];

/// C#'s keyword aliases of allowed types.
const KEYWORDS: &[(&str, &str)] = &[
    ("sbyte", "System.SByte"),
    ("short", "System.Int16"),
    ("ushort", "System.UInt16"),
    ("uint", "System.UInt32"),
    ("ulong", "System.UInt64"),
    ("decimal", "System.Decimal"),
];

/// The full name of the APIM-allowed type `name` designates, written in full (`System.Uri`)
/// or, as `using` directives let expressions write it, by its last name (`Uri`, `JObject`).
pub(crate) fn apim_type(name: &str) -> Option<&'static str> {
    if let Some((_, full)) = KEYWORDS.iter().find(|(k, _)| *k == name) {
        return Some(full);
    }
    APIM_TYPES.iter().copied().find(|full| {
        *full == name
            || full
                .strip_suffix(name)
                .is_some_and(|prefix| prefix.ends_with('.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_full_names() {
        assert_eq!(apim_type("JObject"), Some("Newtonsoft.Json.Linq.JObject"));
        assert_eq!(apim_type("System.Uri"), Some("System.Uri"));
        assert_eq!(apim_type("Uri"), Some("System.Uri"));
        assert_eq!(apim_type("ulong"), Some("System.UInt64"));
        assert_eq!(apim_type("IResponse"), Some("IResponse"));
        // Only whole names: "Object" is not the tail of "JObject".
        assert_eq!(apim_type("Object"), None);
        assert_eq!(apim_type("Process"), None);
        assert_eq!(apim_type("System.IO.File"), None);
    }
}
