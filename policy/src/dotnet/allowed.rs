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

/// The members of allowed types certgate implements in part, as .NET (or APIM's context model)
/// has them, with APIM's allow-list where it has one (`DateTime`): a member in this list that
/// certgate lacks is refused as "not supported by certgate"; a name in none of them (a typo) as
/// one the type does not contain. LINQ's operators apply to every sequence.
#[rustfmt::skip]
const MEMBERS: &[(&str, &[&str])] = &[
    ("System.String", &[
        "Chars", "Clone", "Compare", "CompareOrdinal", "CompareTo", "Concat", "Contains", "Copy",
        "CopyTo", "Create", "Empty", "EndsWith", "EnumerateRunes", "Equals", "Format",
        "GetEnumerator", "GetHashCode", "GetPinnableReference", "GetTypeCode", "IndexOf",
        "IndexOfAny", "Insert", "Intern", "IsInterned", "IsNormalized", "IsNullOrEmpty",
        "IsNullOrWhiteSpace", "Join", "LastIndexOf", "LastIndexOfAny", "Length", "Normalize",
        "PadLeft", "PadRight", "Remove", "Replace", "ReplaceLineEndings", "Split", "StartsWith",
        "Substring", "ToCharArray", "ToLower", "ToLowerInvariant", "ToString", "ToUpper",
        "ToUpperInvariant", "Trim", "TrimEnd", "TrimStart", "TryCopyTo",
    ]),
    ("System.Int32", &[
        "CompareTo", "Equals", "GetHashCode", "GetTypeCode", "MaxValue", "MinValue", "Parse",
        "ToString", "TryFormat", "TryParse", "Abs", "Clamp", "Max", "Min", "Sign", "IsNegative",
        "IsPositive", "IsEvenInteger", "IsOddInteger", "IsPow2",
    ]),
    ("System.Int64", &[
        "CompareTo", "Equals", "GetHashCode", "GetTypeCode", "MaxValue", "MinValue", "Parse",
        "ToString", "TryFormat", "TryParse",
    ]),
    ("System.Double", &[
        "CompareTo", "Epsilon", "Equals", "GetHashCode", "GetTypeCode", "IsFinite", "IsInfinity",
        "IsNaN", "IsNegative", "IsNegativeInfinity", "IsPositiveInfinity", "MaxValue", "MinValue",
        "NaN", "NegativeInfinity", "Parse", "PositiveInfinity", "ToString", "TryFormat",
        "TryParse",
    ]),
    ("System.Boolean", &[
        "CompareTo", "Equals", "FalseString", "GetHashCode", "GetTypeCode", "Parse", "ToString",
        "TrueString", "TryFormat", "TryParse",
    ]),
    ("System.Char", &[
        "CompareTo", "ConvertFromUtf32", "ConvertToUtf32", "Equals", "GetNumericValue",
        "GetUnicodeCategory", "IsAscii", "IsControl", "IsDigit", "IsHighSurrogate", "IsLetter",
        "IsLetterOrDigit", "IsLower", "IsLowSurrogate", "IsNumber", "IsPunctuation",
        "IsSeparator", "IsSurrogate", "IsSurrogatePair", "IsSymbol", "IsUpper", "IsWhiteSpace",
        "MaxValue", "MinValue", "Parse", "ToLower", "ToLowerInvariant", "ToString", "ToUpper",
        "ToUpperInvariant", "TryParse",
    ]),
    ("System.Math", &[
        "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atan2", "Atanh", "BigMul",
        "BitDecrement", "BitIncrement", "Cbrt", "Ceiling", "Clamp", "CopySign", "Cos", "Cosh",
        "DivRem", "E", "Exp", "Floor", "FusedMultiplyAdd", "IEEERemainder", "ILogB", "Log",
        "Log10", "Log2", "Max", "MaxMagnitude", "Min", "MinMagnitude", "PI", "Pow",
        "ReciprocalEstimate", "ReciprocalSqrtEstimate", "Round", "ScaleB", "Sign", "Sin",
        "SinCos", "Sinh", "Sqrt", "Tan", "Tanh", "Tau", "Truncate",
    ]),
    ("System.Convert", &[
        "ChangeType", "DBNull", "FromBase64CharArray", "FromBase64String", "FromHexString",
        "GetTypeCode", "IsDBNull", "ToBase64CharArray", "ToBase64String", "ToBoolean", "ToByte",
        "ToChar", "ToDateTime", "ToDecimal", "ToDouble", "ToHexString", "ToHexStringLower",
        "ToInt16", "ToInt32", "ToInt64", "ToSByte", "ToSingle", "ToString", "ToUInt16",
        "ToUInt32", "ToUInt64", "TryFromBase64Chars", "TryFromBase64String", "TryToBase64Chars",
    ]),
    ("System.Text.Encoding", &[
        "ASCII", "BigEndianUnicode", "Convert", "Default", "GetEncoding", "Latin1", "Unicode",
        "UTF32", "UTF7", "UTF8", "GetByteCount", "GetBytes", "GetCharCount", "GetChars",
        "GetString", "WebName", "EncodingName", "CodePage",
    ]),
    ("System.BitConverter", &[
        "DoubleToInt64Bits", "GetBytes", "Int64BitsToDouble", "IsLittleEndian", "ToBoolean",
        "ToChar", "ToDouble", "ToInt16", "ToInt32", "ToInt64", "ToSingle", "ToString", "ToUInt16",
        "ToUInt32", "ToUInt64",
    ]),
    ("System.Net.WebUtility", &[
        "HtmlDecode", "HtmlEncode", "UrlDecode", "UrlDecodeToBytes", "UrlEncode",
        "UrlEncodeToBytes",
    ]),
    ("System.Guid", &[
        "CompareTo", "Empty", "Equals", "NewGuid", "Parse", "ParseExact", "ToByteArray",
        "ToString", "TryParse", "TryParseExact", "CreateVersion7",
    ]),
    ("Newtonsoft.Json.JsonConvert", &[
        "SerializeObject", "DeserializeObject",
    ]),
    // System.Xml.Linq: each class with its own members; `apim_member` adds the base classes'.
    ("System.Xml.Linq.XObject", &[
        "AddAnnotation", "Annotation", "Annotations", "BaseUri", "Changed", "Changing",
        "Document", "NodeType", "Parent", "RemoveAnnotations",
    ]),
    ("System.Xml.Linq.XNode", &[
        "AddAfterSelf", "AddBeforeSelf", "Ancestors", "CompareDocumentOrder", "CreateReader",
        "DeepEquals", "DocumentOrderComparer", "ElementsAfterSelf", "ElementsBeforeSelf",
        "EqualityComparer", "IsAfter", "IsBefore", "NextNode", "NodesAfterSelf",
        "NodesBeforeSelf", "PreviousNode", "ReadFrom", "Remove", "ReplaceWith", "ToString",
        "WriteTo",
    ]),
    ("System.Xml.Linq.XContainer", &[
        "Add", "AddFirst", "CreateWriter", "DescendantNodes", "Descendants", "Element",
        "Elements", "FirstNode", "LastNode", "Nodes", "RemoveNodes", "ReplaceNodes",
    ]),
    ("System.Xml.Linq.XElement", &[
        "AncestorsAndSelf", "Attribute", "Attributes", "DescendantNodesAndSelf",
        "DescendantsAndSelf", "EmptySequence", "FirstAttribute", "GetDefaultNamespace",
        "GetNamespaceOfPrefix", "GetPrefixOfNamespace", "HasAttributes", "HasElements",
        "IsEmpty", "LastAttribute", "Load", "Name", "Parse", "RemoveAll", "RemoveAttributes",
        "ReplaceAll", "ReplaceAttributes", "Save", "SetAttributeValue", "SetElementValue",
        "SetValue", "Value",
    ]),
    // `Load` is the one member APIM leaves out.
    ("System.Xml.Linq.XDocument", &["Declaration", "DocumentType", "Parse", "Root", "Save"]),
    ("System.Xml.Linq.XAttribute", &[
        "EmptySequence", "IsNamespaceDeclaration", "Name", "NextAttribute", "PreviousAttribute",
        "Remove", "SetValue", "ToString", "Value",
    ]),
    ("System.Xml.Linq.XText", &["Value"]),
    ("System.Xml.Linq.XCData", &["Value"]),
    ("System.Xml.Linq.XComment", &["Value"]),
    ("System.Xml.Linq.XProcessingInstruction", &["Data", "Target"]),
    ("System.Xml.Linq.XName", &["Get", "LocalName", "Namespace", "NamespaceName", "ToString"]),
    ("System.Xml.Linq.XNamespace", &[
        "Get", "GetName", "NamespaceName", "None", "ToString", "Xml", "Xmlns",
    ]),
    ("System.Xml.Linq.XDeclaration", &["Encoding", "Standalone", "ToString", "Version"]),
    ("System.Uri", &[
        "AbsolutePath", "AbsoluteUri", "Authority", "CheckHostName", "CheckSchemeName", "Compare",
        "DnsSafeHost", "EscapeDataString", "EscapeUriString", "Fragment", "GetComponents",
        "GetLeftPart", "HexEscape", "HexUnescape", "Host", "HostNameType", "IdnHost",
        "IsAbsoluteUri", "IsBaseOf", "IsDefaultPort", "IsFile", "IsHexDigit", "IsLoopback",
        "IsUnc", "IsWellFormedOriginalString", "IsWellFormedUriString", "LocalPath",
        "MakeRelativeUri", "OriginalString", "PathAndQuery", "Port", "Query", "Scheme",
        "Segments", "ToString", "TryCreate", "UnescapeDataString", "UriSchemeHttp",
        "UriSchemeHttps", "UserEscaped", "UserInfo",
    ]),
    // APIM's own allow-list for DateTime.
    ("System.DateTime", &[
        "Add", "AddDays", "AddHours", "AddMilliseconds", "AddMinutes", "AddMonths", "AddSeconds",
        "AddTicks", "AddYears", "Date", "Day", "DayOfWeek", "DayOfYear", "DaysInMonth", "Hour",
        "IsDaylightSavingTime", "IsLeapYear", "MaxValue", "Millisecond", "Minute", "MinValue",
        "Month", "Now", "Parse", "Second", "Subtract", "Ticks", "TimeOfDay", "Today", "ToString",
        "UtcNow", "Year",
    ]),
    ("System.TimeSpan", &[
        "Add", "Compare", "CompareTo", "Days", "Divide", "Duration", "Equals", "FromDays",
        "FromHours", "FromMicroseconds", "FromMilliseconds", "FromMinutes", "FromSeconds",
        "FromTicks", "Hours", "MaxValue", "Microseconds", "Milliseconds", "Minutes", "MinValue",
        "Multiply", "Nanoseconds", "Negate", "Parse", "ParseExact", "Seconds", "Subtract",
        "Ticks", "TicksPerDay", "TicksPerHour", "TicksPerMillisecond", "TicksPerMinute",
        "TicksPerSecond", "ToString", "TotalDays", "TotalHours", "TotalMilliseconds",
        "TotalMinutes", "TotalSeconds", "TryParse", "TryParseExact", "Zero",
    ]),
    ("System.Array", &[
        "AsReadOnly", "BinarySearch", "Clear", "Clone", "ConstrainedCopy", "ConvertAll", "Copy",
        "CopyTo", "Empty", "Exists", "Fill", "Find", "FindAll", "FindIndex", "FindLast",
        "FindLastIndex", "ForEach", "GetLength", "GetValue", "IndexOf", "LastIndexOf", "Length",
        "LongLength", "Rank", "Resize", "Reverse", "SetValue", "Sort", "TrueForAll",
    ]),
    ("System.Linq.Enumerable", &[
        "Aggregate", "All", "Any", "Append", "AsEnumerable", "Average", "Cast", "Chunk", "Concat",
        "Contains", "Count", "DefaultIfEmpty", "Distinct", "DistinctBy", "ElementAt",
        "ElementAtOrDefault", "Except", "ExceptBy", "First", "FirstOrDefault", "GroupBy",
        "GroupJoin", "Intersect", "IntersectBy", "Join", "Last", "LastOrDefault", "LongCount",
        "Max", "MaxBy", "Min", "MinBy", "OfType", "Order", "OrderBy", "OrderByDescending",
        "OrderDescending", "Prepend", "Range", "Repeat", "Reverse", "Select", "SelectMany",
        "SequenceEqual", "Single", "SingleOrDefault", "Skip", "SkipLast", "SkipWhile", "Sum",
        "Take", "TakeLast", "TakeWhile", "ThenBy", "ThenByDescending", "ToArray", "ToDictionary",
        "ToHashSet", "ToList", "ToLookup", "Union", "UnionBy", "Where", "Zip",
    ]),
    ("System.Collections.Generic.IReadOnlyDictionary", &[
        "ContainsKey", "Count", "GetEnumerator", "Keys", "TryGetValue", "Values",
        "GetValueOrDefault",
    ]),
    // APIM's context model (apim-reference.md §2.4), and its extension methods on strings and
    // byte arrays (§2.4.6–2.4.8).
    ("IExpressionContext", &[
        "Api", "Backend", "Deployment", "Elapsed", "GraphQL", "LastError", "Operation", "Product",
        "Request", "RequestId", "Response", "Subscription", "Timestamp", "Trace", "Tracing",
        "User", "Variables", "Workspace",
    ]),
    ("IRequest", &[
        "Body", "Certificate", "Headers", "IpAddress", "MatchedParameters", "Method",
        "OriginalUrl", "PrivateEndpointConnection", "Url",
    ]),
    ("IResponse", &[
        "Body", "Headers", "StatusCode", "StatusReason",
    ]),
    ("IMessageBody", &[
        "As", "AsFormUrlEncodedContent",
    ]),
    ("IApi", &[
        "Id", "IsCurrentRevision", "Name", "Path", "Protocols", "Revision", "ServiceUrl",
        "SubscriptionKeyParameterNames", "Version",
    ]),
    ("IOperation", &[
        "Id", "Method", "Name", "UrlTemplate",
    ]),
    ("IDeployment", &[
        "Certificates", "Gateway", "GatewayId", "Region", "ServiceId", "ServiceName",
        "SustainabilityInfo",
    ]),
    ("IProduct", &[
        "ApprovalRequired", "Groups", "Id", "Name", "State", "SubscriptionsLimit",
        "SubscriptionRequired", "Apis", "SubscriptionLimit",
    ]),
    ("ISubscription", &[
        "CreatedDate", "EndDate", "Id", "Key", "Name", "PrimaryKey", "SecondaryKey", "StartDate",
        "CreatedTime",
    ]),
    ("IUser", &[
        "Email", "FirstName", "Groups", "Id", "Identities", "LastName", "Note", "RegistrationDate",
    ]),
    ("IUrl", &[
        "Host", "Path", "Port", "Query", "QueryString", "Scheme",
    ]),
    ("System.Nullable", &[
        "GetValueOrDefault", "HasValue", "Value",
    ]),
    // APIM's allow-lists for System.Text.RegularExpressions (a match and a group also have what
    // `Group` and `Capture` give them).
    ("System.Text.RegularExpressions.Regex", &[
        "CacheSize", "Count", "EnumerateMatches", "Escape", "GetGroupNames", "GetGroupNumbers",
        "GroupNameFromNumber", "GroupNumberFromName", "InfiniteMatchTimeout", "IsMatch", "Match",
        "Matches", "MatchTimeout", "Options", "Replace", "RightToLeft", "Split", "ToString",
        "Unescape",
    ]),
    ("System.Text.RegularExpressions.Match", &[
        "Empty", "Groups", "Result", "Captures", "Success", "Index", "Length", "Value",
    ]),
    ("System.Text.RegularExpressions.Group", &[
        "Captures", "Success", "Index", "Length", "Value",
    ]),
    ("System.Text.RegularExpressions.GroupCollection", &[
        "Count", "Item",
    ]),
    // What the hash and HMAC classes have (HashAlgorithm, KeyedHashAlgorithm, HMAC, SHA256...).
    ("System.Security.Cryptography.HashAlgorithm", &[
        "CanReuseTransform", "CanTransformMultipleBlocks", "Clear", "ComputeHash",
        "ComputeHashAsync", "Create", "Dispose", "Hash", "HashData", "HashDataAsync", "HashSize",
        "InputBlockSize", "Key", "OutputBlockSize", "TransformBlock", "TransformFinalBlock",
        "TryComputeHash", "TryHashData",
    ]),
    // What Newtonsoft's tokens have (JToken, JContainer, JObject, JArray, JValue, JProperty).
    ("Newtonsoft.Json.Linq.JToken", &[
        "AddAfterSelf", "AddAnnotation", "AddBeforeSelf", "Ancestors", "AncestorsAndSelf",
        "Annotation", "Annotations", "AfterSelf", "BeforeSelf", "Children", "CreateReader",
        "DeepClone", "DeepEquals", "EqualityComparer", "First", "FromObject", "HasValues", "Last",
        "Load", "Next", "Parent", "Parse", "Path", "Previous", "ReadFrom", "Remove",
        "RemoveAnnotations", "Replace", "Root", "SelectToken", "SelectTokens", "ToObject",
        "ToString", "Type", "Value", "Values", "WriteTo", "Add", "AddFirst", "Count",
        "CreateWriter", "Descendants", "DescendantsAndSelf", "Merge", "RemoveAll", "ReplaceAll",
        "ContainsKey", "GetValue", "Properties", "Property", "PropertyValues", "TryGetValue",
        "Name", "Insert", "IndexOf", "RemoveAt", "Clear", "Contains", "CopyTo", "Item",
    ]),
    ("System.IO.StringReader", &[
        "Close", "Dispose", "Peek", "Read", "ReadAsync", "ReadBlock", "ReadLine",
        "ReadLineAsync", "ReadToEnd", "ReadToEndAsync",
    ]),
    ("System.IO.StringWriter", &[
        "Close", "Dispose", "Encoding", "Flush", "FormatProvider", "GetStringBuilder",
        "NewLine", "ToString", "Write", "WriteAsync", "WriteLine", "WriteLineAsync",
    ]),
    ("System.TimeZoneInfo", &[
        "BaseUtcOffset", "ClearCachedData", "ConvertTime", "ConvertTimeBySystemTimeZoneId",
        "ConvertTimeFromUtc", "ConvertTimeToUtc", "CreateCustomTimeZone", "DaylightName",
        "DisplayName", "Equals", "FindSystemTimeZoneById", "FromSerializedString",
        "GetAdjustmentRules", "GetAmbiguousTimeOffsets", "GetHashCode", "GetSystemTimeZones",
        "GetUtcOffset", "HasIanaId", "HasSameRules", "Id", "IsAmbiguousTime",
        "IsDaylightSavingTime", "IsInvalidTime", "Local", "StandardName",
        "SupportsDaylightSavingTime", "ToSerializedString", "ToString",
        "TryConvertIanaIdToWindowsId", "TryConvertWindowsIdToIanaId",
        "TryFindSystemTimeZoneById", "Utc",
    ]),
    ("System.TimeZone", &[
        "CurrentTimeZone", "DaylightName", "GetDaylightChanges", "GetUtcOffset",
        "IsDaylightSavingTime", "StandardName", "ToLocalTime", "ToUniversalTime",
    ]),
    ("System.Security.Cryptography.RSA", &[
        "Clear", "Create", "Decrypt", "Dispose", "Encrypt", "ExportEncryptedPkcs8PrivateKey",
        "ExportParameters", "ExportPkcs8PrivateKey", "ExportRSAPrivateKey",
        "ExportRSAPrivateKeyPem", "ExportRSAPublicKey", "ExportRSAPublicKeyPem",
        "ExportSubjectPublicKeyInfo", "FromXmlString", "GetMaxOutputSize",
        "ImportEncryptedPkcs8PrivateKey", "ImportFromEncryptedPem", "ImportFromPem",
        "ImportParameters", "ImportPkcs8PrivateKey", "ImportRSAPrivateKey", "ImportRSAPublicKey",
        "ImportSubjectPublicKeyInfo", "KeyExchangeAlgorithm", "KeySize", "LegalKeySizes",
        "SignatureAlgorithm", "SignData", "SignHash", "ToXmlString", "TryDecrypt", "TryEncrypt",
        "TrySignData", "TrySignHash", "VerifyData", "VerifyHash",
    ]),
    ("System.Text.StringBuilder", &[
        "Append", "AppendFormat", "AppendJoin", "AppendLine", "Capacity", "Chars", "Clear",
        "CopyTo", "EnsureCapacity", "Equals", "GetChunks", "Insert", "Length", "MaxCapacity",
        "Remove", "Replace", "ToString",
    ]),
    ("System.DateTimeOffset", &[
        "Add", "AddDays", "AddHours", "AddMilliseconds", "AddMinutes", "AddMonths", "AddSeconds",
        "AddTicks", "AddYears", "Compare", "CompareTo", "Date", "DateTime", "Day", "DayOfWeek",
        "DayOfYear", "Equals", "EqualsExact", "FromFileTime", "FromUnixTimeMilliseconds",
        "FromUnixTimeSeconds", "GetHashCode", "Hour", "LocalDateTime", "MaxValue", "Millisecond",
        "MinValue", "Minute", "Month", "Now", "Offset", "Parse", "ParseExact", "Second",
        "Subtract", "Ticks", "TimeOfDay", "ToFileTime", "ToLocalTime", "ToOffset", "ToString",
        "ToUniversalTime", "ToUnixTimeMilliseconds", "ToUnixTimeSeconds", "TryParse",
        "TryParseExact", "UnixEpoch", "UtcDateTime", "UtcNow", "UtcTicks", "Year",
    ]),
    ("System.Net.IPAddress", &[
        "Address", "AddressFamily", "Any", "Broadcast", "Equals", "GetAddressBytes",
        "GetHashCode", "HostToNetworkOrder", "IPv6Any", "IPv6Loopback", "IPv6None",
        "IsIPv4MappedToIPv6", "IsIPv6LinkLocal", "IsIPv6Multicast", "IsIPv6SiteLocal",
        "IsIPv6Teredo", "IsIPv6UniqueLocal", "IsLoopback", "Loopback", "MapToIPv4", "MapToIPv6",
        "NetworkToHostOrder", "None", "Parse", "ScopeId", "ToString", "TryFormat", "TryParse",
        "TryWriteBytes",
    ]),
    ("System.Collections.Generic.List", &[
        "Add", "AddRange", "AsReadOnly", "BinarySearch", "Capacity", "Clear", "Contains",
        "ConvertAll", "CopyTo", "Count", "EnsureCapacity", "Exists", "Find", "FindAll",
        "FindIndex", "FindLast", "FindLastIndex", "ForEach", "GetEnumerator", "GetRange",
        "IndexOf", "Insert", "InsertRange", "Item", "LastIndexOf", "Remove", "RemoveAll",
        "RemoveAt", "RemoveRange", "Reverse", "Slice", "Sort", "ToArray", "TrimExcess",
        "TrueForAll",
    ]),
    ("System.Collections.Generic.HashSet", &[
        "Add", "Clear", "Comparer", "Contains", "CopyTo", "Count", "EnsureCapacity",
        "ExceptWith", "GetEnumerator", "IntersectWith", "IsProperSubsetOf", "IsProperSupersetOf",
        "IsSubsetOf", "IsSupersetOf", "Overlaps", "Remove", "RemoveWhere", "SetEquals",
        "SymmetricExceptWith", "TrimExcess", "TryGetValue", "UnionWith",
    ]),
    ("System.Collections.Generic.Dictionary", &[
        "Add", "Clear", "Comparer", "ContainsKey", "ContainsValue", "Count", "EnsureCapacity",
        "GetEnumerator", "Item", "Keys", "Remove", "TrimExcess", "TryAdd", "TryGetValue",
        "Values",
    ]),
    ("System.Random", &[
        "Equals", "GetHashCode", "GetItems", "Next", "NextBytes", "NextDouble", "NextInt64",
        "NextSingle", "Shared", "Shuffle", "ToString",
    ]),
    ("System.Exception", &[
        "Data", "GetBaseException", "GetType", "HelpLink", "HResult", "InnerException", "Message",
        "Source", "StackTrace", "TargetSite", "ToString",
    ]),
    ("Jwt", &[
        "Algorithm", "Audiences", "Claims", "ExpirationTime", "Id", "Issuer", "IssuedAt",
        "NotBefore", "Subject", "Type",
    ]),
    ("BasicAuthCredentials", &[
        "UserId", "Password",
    ]),
    ("StringExtensions", &[
        "AsBasic", "AsJwt", "TryParseBasic", "TryParseJwt",
    ]),
    ("ByteArrayExtensions", &[
        "Decrypt", "Encrypt",
    ]),
];

/// The full name of the type that declares `member` of `ty` (a full name from [`MEMBERS`]),
/// when .NET or APIM's context model has it: the sequences' LINQ operators, and APIM's
/// extension methods on `string` and `byte[]`, count as members of what they extend.
pub(crate) fn apim_member(ty: &str, member: &str) -> Option<&'static str> {
    let has = |t: &str| {
        MEMBERS
            .iter()
            .find(|(n, _)| *n == t)
            .and_then(|(n, ms)| ms.contains(&member).then_some(*n))
    };
    let sequence = matches!(
        ty,
        "System.Array" | "System.String" | "System.Collections.Generic.IReadOnlyDictionary"
    );
    let value_type = matches!(
        ty,
        "System.Int32"
            | "System.Int64"
            | "System.Double"
            | "System.Boolean"
            | "System.Char"
            | "System.DateTime"
            | "System.DateTimeOffset"
            | "System.TimeSpan"
    );
    has(ty)
        .or_else(|| sequence.then(|| has("System.Linq.Enumerable")).flatten())
        .or_else(|| value_type.then(|| has("System.Nullable")).flatten())
        .or_else(|| {
            (ty == "System.String")
                .then(|| has("StringExtensions"))
                .flatten()
        })
        .or_else(|| {
            (ty == "System.Array")
                .then(|| has("ByteArrayExtensions"))
                .flatten()
        })
        .or_else(|| xlinq_bases(ty).iter().find_map(|b| has(b)))
}

/// The base classes of an XLinq class, nearest first (their members are its members too).
fn xlinq_bases(ty: &str) -> &'static [&'static str] {
    const NODE: &[&str] = &["System.Xml.Linq.XNode", "System.Xml.Linq.XObject"];
    const CONTAINER: &[&str] = &[
        "System.Xml.Linq.XContainer",
        "System.Xml.Linq.XNode",
        "System.Xml.Linq.XObject",
    ];
    match ty {
        "System.Xml.Linq.XElement" | "System.Xml.Linq.XDocument" => CONTAINER,
        "System.Xml.Linq.XContainer" => &CONTAINER[1..],
        "System.Xml.Linq.XText"
        | "System.Xml.Linq.XCData"
        | "System.Xml.Linq.XComment"
        | "System.Xml.Linq.XProcessingInstruction" => NODE,
        "System.Xml.Linq.XNode" | "System.Xml.Linq.XAttribute" => &NODE[1..],
        _ => &[],
    }
}

/// C#'s keyword aliases of allowed types.
const KEYWORDS: &[(&str, &str)] = &[
    ("char", "System.Char"),
    ("float", "System.Single"),
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

    #[test]
    fn members_of_partly_implemented_types() {
        assert_eq!(apim_member("System.Math", "Round"), Some("System.Math"));
        assert_eq!(
            apim_member("System.Array", "OrderBy"),
            Some("System.Linq.Enumerable")
        );
        assert_eq!(
            apim_member("System.String", "AsJwt"),
            Some("StringExtensions")
        );
        // APIM's DateTime list leaves out what .NET has beyond it.
        assert_eq!(apim_member("System.DateTime", "ToFileTime"), None);
        assert_eq!(apim_member("System.String", "Lenght"), None);
    }
}
