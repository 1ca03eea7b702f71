//! Static types and the compiled form (IR) of expressions.
//!
//! The checker ([`super::check`]) lowers syntax to this IR once per configuration; the
//! evaluator ([`super::eval`]) walks it per request. Member access is resolved at compile
//! time into a [`Builtin`], so no name is looked up while a request runs.

use std::fmt;

use super::ast::BinOp;
use crate::value::{Handle, Value};

/// `StringComparison`, as the string members take it.
pub(crate) const COMPARISON: Ty = Ty::Enum(crate::dotnet::EnumType::StringComparison);

/// Static types of the C# subset.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// `object`: a value whose type is only known at run time (`context.Variables["x"]`).
    Object,
    /// The type of the `null` literal.
    Null,
    Void,
    Bool,
    Int,
    Double,
    Char,
    Str,
    DateTime,
    DateTimeOffset,
    TimeSpan,
    Bytes,
    Cert,
    /// `X500DistinguishedName` (`SubjectName`, `IssuerName`); carried as its string at run time.
    DistName,
    /// `Oid` (`SignatureAlgorithm`, `Extension.Oid`); carried as a pair (value, friendly name).
    Oid,
    /// `X509ExtensionCollection`; carried as an array of extensions.
    Extensions,
    /// `X509Extension`.
    Extension,
    Array(Box<Ty>),
    /// `List<T>` (`members/generic.rs`).
    List(Box<Ty>),
    /// `Dictionary<TKey, TValue>`.
    Dict(Box<Ty>, Box<Ty>),
    /// `HashSet<T>`.
    Set(Box<Ty>),
    /// `Queue<T>` and `Stack<T>` (`members/queue.rs`).
    Queue(Box<Ty>),
    Stack(Box<Ty>),
    /// `Tuple<T1, ..>` (`members/collections.rs`).
    Tuple(Vec<Ty>),
    /// `IEnumerator<T>`.
    Enumerator(Box<Ty>),
    /// `IGrouping<TKey, T>` (`GroupBy`): carried as a pair of the key and an array of items.
    Group(Box<Ty>, Box<Ty>),
    Pair(Box<Ty>, Box<Ty>),
    Handle(Handle),
    Static(Static),
    NameType,
    /// One of the enums carried by name and number (`members/enums.rs`).
    Enum(crate::dotnet::EnumType),
    /// `StringSplitOptions` (flags, carried as an int: `None` 0, `RemoveEmptyEntries` 1,
    /// `TrimEntries` 2), typed so that `Split` tells it from a count.
    SplitOptions,
    /// A namespace prefix such as `System.Net`, on the way to a static class.
    Namespace(&'static str),
    /// One of APIM's helper types (`members/auth.rs`).
    Obj(ObjKind),
}

/// APIM's helper types: what `AsBasic` and `AsJwt` return, and a token's claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjKind {
    Basic,
    Jwt,
    /// `Jwt.Claims`: carried as the token itself.
    Claims,
    Regex,
    Match,
    Group,
    /// `Match.Groups`: carried as the match itself.
    Groups,
    /// A hash or HMAC object.
    Hasher,
    /// A Newtonsoft.Json token, by the class it is known as.
    Json(JsonKind),
    Exception,
    Builder,
    /// `System.Random`.
    Random,
    /// `System.Uri`.
    Uri,
    /// `AsFormUrlEncodedContent()`: `IDictionary<string, IList<string>>`.
    Form,
    /// One name's values in such a form: `IList<string>`.
    FormList,
    /// `System.Net.IPAddress`.
    Ip,
    /// `IResponse` from `send-request`.
    Response,
    /// `IResponse.Headers`: carried as the response itself.
    ResponseHeaders,
    /// `IResponse.Body`: carried as the response itself.
    ResponseBody,
    /// A System.Xml.Linq object, by the class it is known as (`members/xml.rs`).
    Xml(XmlKind),
    /// `System.Type` from `GetType()`: carried as the type's full name.
    Type,
    /// `StringComparer.X`: carried as the `StringComparison` it compares as.
    Comparer,
    /// `RSA` (and `AsymmetricAlgorithm`) (`members/rsa.rs`).
    Rsa,
    /// `HashAlgorithmName`, `RSASignaturePadding`, `RSAEncryptionPadding`: carried as names.
    HashName,
    SignPadding,
    EncryptPadding,
    /// A certificate's `PublicKey`: carried as the certificate.
    PublicKey,
    /// `TimeZoneInfo` (`members/timezone.rs`).
    TimeZone,
    /// `SymmetricAlgorithm` (`members/symmetric.rs`).
    Symmetric,
    /// `StringReader`; `StringWriter` (carried as a `StringBuilder`) (`members/string_io.rs`).
    StringReader,
    StringWriter,
}

/// System.Xml.Linq's classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XmlKind {
    Object,
    Node,
    Container,
    Document,
    Element,
    Attribute,
    Text,
    CData,
    Comment,
    Pi,
    Name,
    Namespace,
    Declaration,
}

impl XmlKind {
    pub fn class(self) -> &'static str {
        match self {
            XmlKind::Object => "XObject",
            XmlKind::Node => "XNode",
            XmlKind::Container => "XContainer",
            XmlKind::Document => "XDocument",
            XmlKind::Element => "XElement",
            XmlKind::Attribute => "XAttribute",
            XmlKind::Text => "XText",
            XmlKind::CData => "XCData",
            XmlKind::Comment => "XComment",
            XmlKind::Pi => "XProcessingInstruction",
            XmlKind::Name => "XName",
            XmlKind::Namespace => "XNamespace",
            XmlKind::Declaration => "XDeclaration",
        }
    }

    /// Whether an object of this class is also one of `other` (C#'s implicit reference
    /// conversion along XLinq's class tree).
    pub fn is_a(self, other: XmlKind) -> bool {
        use XmlKind as K;
        self == other
            || match other {
                K::Object => !matches!(self, K::Name | K::Namespace | K::Declaration),
                K::Node => matches!(
                    self,
                    K::Container
                        | K::Document
                        | K::Element
                        | K::Text
                        | K::CData
                        | K::Comment
                        | K::Pi
                ),
                K::Container => matches!(self, K::Document | K::Element),
                K::Text => self == K::CData,
                _ => false,
            }
    }
}

/// System.Xml.Linq (`members/xml.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XmlFn {
    /// `XDocument.Parse` (true) or `XElement.Parse`.
    Parse(bool),
    /// A string as an `XName` (the implicit conversion).
    Name,
    /// `XName.Get(expanded)` or `XName.Get(local, namespace)`.
    NameGet,
    /// A string as an `XNamespace` (`XNamespace.Get`, the implicit conversion).
    Namespace,
    /// `ns + "local"`, `ns.GetName(local)`.
    NsName,
    NewElement,
    /// `new XElement(other)`.
    CopyElement,
    NewDocument,
    NewAttribute,
    /// `new XText` (0), `XCData` (1), `XComment` (2), `XProcessingInstruction` (3).
    NewLeaf(u8),
    NewDeclaration,
    Prop(XmlProp),
    /// A query on the receiver; whether a name argument follows.
    Query(XmlQuery, bool),
    /// The same query on each item of a sequence (`System.Xml.Linq.Extensions`).
    SeqQuery(XmlQuery, bool),
    /// `Remove()` on a sequence.
    SeqRemove,
    Edit(XmlEdit),
    /// `ToString([SaveOptions])`.
    ToText,
    /// An explicit conversion of an element or attribute (`(int)e`).
    Convert(CastTo),
}

/// Properties of the XLinq classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XmlProp {
    Name,
    LocalName,
    NamespaceName,
    /// `XName.Namespace`.
    NameNamespace,
    Value,
    Root,
    Declaration,
    Parent,
    Document,
    NodeType,
    HasElements,
    HasAttributes,
    IsEmpty,
    FirstNode,
    LastNode,
    NextNode,
    PreviousNode,
    FirstAttribute,
    LastAttribute,
    Version,
    Encoding,
    Standalone,
    Target,
    Data,
}

/// The axis methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XmlQuery {
    Elements,
    Element,
    Descendants,
    DescendantsAndSelf,
    Ancestors,
    AncestorsAndSelf,
    Attributes,
    Attribute,
    Nodes,
    DescendantNodes,
}

/// The methods that change a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XmlEdit {
    Add,
    AddFirst,
    AddBeforeSelf,
    AddAfterSelf,
    ReplaceWith,
    ReplaceNodes,
    ReplaceAll,
    Remove,
    RemoveNodes,
    RemoveAll,
    RemoveAttributes,
    SetValue,
    SetAttributeValue,
    SetElementValue,
}

/// Newtonsoft.Json's token classes (`members/json.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonKind {
    /// `JToken` (and `JContainer`): any token.
    Token,
    Object,
    Array,
    Property,
    Value,
}

impl JsonKind {
    pub fn class(self) -> &'static str {
        match self {
            JsonKind::Token => "JToken",
            JsonKind::Object => "JObject",
            JsonKind::Array => "JArray",
            JsonKind::Property => "JProperty",
            JsonKind::Value => "JValue",
        }
    }
}

impl Ty {
    /// Whether `null` is a valid value (reference types, and value types read through `?.`).
    pub fn is_reference(&self) -> bool {
        matches!(
            self,
            Ty::Object
                | Ty::Null
                | Ty::Str
                | Ty::Bytes
                | Ty::Cert
                | Ty::DistName
                | Ty::Oid
                | Ty::Array(_)
                | Ty::Extensions
                | Ty::Extension
                | Ty::Obj(_)
                | Ty::List(_)
                | Ty::Dict(..)
                | Ty::Set(_)
                | Ty::Queue(_)
                | Ty::Stack(_)
                | Ty::Tuple(_)
                | Ty::Enumerator(_)
                | Ty::Handle(
                    Handle::Product
                        | Handle::Subscription
                        | Handle::User
                        | Handle::Group
                        | Handle::UserIdentity
                        | Handle::KeyParameterNames
                        | Handle::PrivateEndpoint
                        | Handle::VnetInfo
                        | Handle::RequestBody
                        | Handle::ResponseBody
                )
        )
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Double | Ty::Char)
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Object => f.write_str("object"),
            Ty::Null => f.write_str("null"),
            Ty::Void => f.write_str("void"),
            Ty::Bool => f.write_str("bool"),
            Ty::Int => f.write_str("int"),
            Ty::Double => f.write_str("double"),
            Ty::Char => f.write_str("char"),
            Ty::Str => f.write_str("string"),
            Ty::DateTime => f.write_str("DateTime"),
            Ty::DateTimeOffset => f.write_str("DateTimeOffset"),
            Ty::TimeSpan => f.write_str("TimeSpan"),
            Ty::Bytes => f.write_str("byte[]"),
            Ty::Cert => f.write_str("X509Certificate2"),
            Ty::DistName => f.write_str("X500DistinguishedName"),
            Ty::Oid => f.write_str("Oid"),
            Ty::Extensions => f.write_str("X509ExtensionCollection"),
            Ty::Extension => f.write_str("X509Extension"),
            Ty::Array(t) => write!(f, "{t}[]"),
            Ty::List(t) => write!(f, "List<{t}>"),
            Ty::Dict(k, v) => write!(f, "Dictionary<{k}, {v}>"),
            Ty::Set(t) => write!(f, "HashSet<{t}>"),
            Ty::Queue(t) => write!(f, "Queue<{t}>"),
            Ty::Tuple(ts) => {
                let names: Vec<String> = ts.iter().map(|t| t.to_string()).collect();
                write!(f, "Tuple<{}>", names.join(", "))
            }
            Ty::Enumerator(t) => write!(f, "IEnumerator<{t}>"),
            Ty::Stack(t) => write!(f, "Stack<{t}>"),
            Ty::Group(k, t) => write!(f, "IGrouping<{k}, {t}>"),
            Ty::Pair(k, v) => write!(f, "KeyValuePair<{k}, {v}>"),
            Ty::Handle(h) => f.write_str(handle_type_name(*h)),
            Ty::Static(Static::Xml(k)) => f.write_str(k.class()),
            Ty::Enum(t) | Ty::Static(Static::Enum(t)) => f.write_str(t.name()),
            Ty::Static(s) => write!(f, "{s:?}"),
            Ty::NameType => f.write_str("X509NameType"),
            Ty::SplitOptions => f.write_str("StringSplitOptions"),
            Ty::Namespace(n) => f.write_str(n),
            Ty::Obj(ObjKind::Basic) => f.write_str("BasicAuthCredentials"),
            Ty::Obj(ObjKind::Jwt) => f.write_str("Jwt"),
            Ty::Obj(ObjKind::Claims) => {
                f.write_str("IReadOnlyDictionary<string, string[]> (claims)")
            }
            Ty::Obj(ObjKind::Regex) => f.write_str("Regex"),
            Ty::Obj(ObjKind::Comparer) => f.write_str("StringComparer"),
            Ty::Obj(ObjKind::Rsa) => f.write_str("RSA"),
            Ty::Obj(ObjKind::HashName) => f.write_str("HashAlgorithmName"),
            Ty::Obj(ObjKind::SignPadding) => f.write_str("RSASignaturePadding"),
            Ty::Obj(ObjKind::EncryptPadding) => f.write_str("RSAEncryptionPadding"),
            Ty::Obj(ObjKind::PublicKey) => f.write_str("PublicKey"),
            Ty::Obj(ObjKind::TimeZone) => f.write_str("TimeZoneInfo"),
            Ty::Obj(ObjKind::StringReader) => f.write_str("StringReader"),
            Ty::Obj(ObjKind::Symmetric) => f.write_str("SymmetricAlgorithm"),
            Ty::Obj(ObjKind::StringWriter) => f.write_str("StringWriter"),
            Ty::Obj(ObjKind::Match) => f.write_str("Match"),
            Ty::Obj(ObjKind::Group) => f.write_str("Group"),
            Ty::Obj(ObjKind::Groups) => f.write_str("GroupCollection"),
            Ty::Obj(ObjKind::Hasher) => f.write_str("HashAlgorithm"),
            Ty::Obj(ObjKind::Json(k)) => f.write_str(k.class()),
            Ty::Obj(ObjKind::Exception) => f.write_str("Exception"),
            Ty::Obj(ObjKind::Builder) => f.write_str("StringBuilder"),
            Ty::Obj(ObjKind::Random) => f.write_str("Random"),
            Ty::Obj(ObjKind::Uri) => f.write_str("Uri"),
            Ty::Obj(ObjKind::Form) => f.write_str("IDictionary<string, IList<string>>"),
            Ty::Obj(ObjKind::FormList) => f.write_str("IList<string>"),
            Ty::Obj(ObjKind::Ip) => f.write_str("IPAddress"),
            Ty::Obj(ObjKind::Response) => f.write_str("IResponse"),
            Ty::Obj(ObjKind::ResponseHeaders) => {
                f.write_str("IReadOnlyDictionary<string, string[]>")
            }
            Ty::Obj(ObjKind::ResponseBody) => f.write_str("IMessageBody"),
            Ty::Obj(ObjKind::Type) => f.write_str("Type"),
            Ty::Obj(ObjKind::Xml(k)) => f.write_str(k.class()),
        }
    }
}

pub(crate) fn handle_type_name(h: Handle) -> &'static str {
    match h {
        Handle::Context => "IProxyContext",
        Handle::Request => "IRequest",
        Handle::Response => "IResponse",
        Handle::RequestHeaders | Handle::ResponseHeaders => "IReadOnlyDictionary<string, string[]>",
        Handle::Url | Handle::OriginalUrl => "IUrl",
        Handle::Query | Handle::OriginalQuery => "IReadOnlyDictionary<string, string[]> (query)",
        Handle::MatchedParameters => "IReadOnlyDictionary<string, string> (matched parameters)",
        Handle::Variables => "IReadOnlyDictionary<string, object> (variables)",
        Handle::Deployment => "IDeployment",
        Handle::Certificates => "IReadOnlyDictionary<string, X509Certificate2>",
        Handle::LastError => "ILastError",
        Handle::Api => "IApi",
        Handle::Operation => "IOperation",
        Handle::Product => "IProduct",
        Handle::Subscription => "ISubscription",
        Handle::User => "IUser",
        Handle::Group => "IGroup",
        Handle::UserIdentity => "IUserIdentity",
        Handle::KeyParameterNames => "ISubscriptionKeyParameterNames",
        Handle::PrivateEndpoint => "IPrivateEndpointConnection",
        Handle::VnetInfo => "IAzureVnetInfo",
        Handle::RequestBody | Handle::ResponseBody => "IMessageBody",
    }
}

/// The text encodings of `System.Text.Encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Ascii,
    /// UTF-16, little-endian (`Encoding.Unicode`).
    Unicode,
    BigEndianUnicode,
    Utf32,
    Latin1,
}

/// Static classes reachable by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Static {
    String,
    DateTime,
    DateTimeOffset,
    TimeSpan,
    Convert,
    WebUtility,
    Encoding,
    /// An `Encoding` object (`Encoding.UTF8`, `Encoding.ASCII`, ...).
    Encoder(TextEncoding),
    BitConverter,
    JsonConvert,
    Math,
    Guid,
    Uri,
    Regex,
    RegexOptions,
    /// `SHA256`, `HMACSHA256`, ...: the algorithm and whether the class is keyed (HMAC).
    Hash(crate::dotnet::HashAlgorithm, bool),
    /// `JObject`, `JArray`, `JToken`, ... as static classes (`JObject.Parse`).
    Json(JsonKind),
    /// `JTokenType` (its values are their names) and `Formatting` (`None` 0, `Indented` 1).
    JTokenType,
    Formatting,
    X509NameType,
    UriKind,
    UriPartial,
    StringSplitOptions,
    IpAddress,
    /// `int`/`Int32`, `long`/`Int64`, `double`/`Double`, `bool`/`Boolean` as static classes
    /// (`int.Parse`).
    Int32,
    Int64,
    Double,
    Boolean,
    /// `char`/`Char` (`char.IsDigit`).
    Char,
    /// `XDocument`, `XElement`, `XName`, `XNamespace`, ... as static classes.
    Xml(XmlKind),
    /// `XmlNodeType`, `SaveOptions`, `LoadOptions` (their values are numbers).
    XmlNodeType,
    /// An enum carried by name and number, as the class of its values (`MidpointRounding.ToEven`).
    Enum(crate::dotnet::EnumType),
    /// `System.Enum` (`Enum.Parse(typeof(T), text)`).
    EnumClass,
    /// `StringComparer` (`StringComparer.OrdinalIgnoreCase`).
    StringComparer,
    /// `System.Array` (`Array.IndexOf`, `Array.Exists`, ...).
    Array,
    /// `System.Linq.Enumerable`'s generators (`Range`, `Repeat`, `Empty`).
    Enumerable,
    /// `Tuple.Create`, `KeyValuePair.Create`.
    Tuple,
    KeyValuePair,
    /// `RSA`, `HashAlgorithmName`, `RSASignaturePadding`, `RSAEncryptionPadding`,
    /// `RSACertificateExtensions` (`members/rsa.rs`).
    Rsa,
    HashName,
    SignPadding,
    EncryptPadding,
    RsaCertExtensions,
    /// `SymmetricAlgorithm` (`members/symmetric.rs`).
    Symmetric,
    /// `TimeZoneInfo` and the obsolete `TimeZone` (`members/timezone.rs`).
    TimeZoneInfo,
    TimeZone,
    SaveOptions,
    LoadOptions,
}

/// A `char.IsX` test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CharClass {
    Digit,
    Letter,
    LetterOrDigit,
    WhiteSpace,
    Upper,
    Lower,
    Punctuation,
    Number,
    Control,
}

/// The type a value is converted to at run time (casts, `GetValueOrDefault<T>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CastTo {
    Any,
    Str,
    Int,
    Double,
    Bool,
    DateTime,
    DateTimeOffset,
    TimeSpan,
    Bytes,
    Cert,
    StrArray,
    Obj(ObjKind),
    /// An enum carried by name and number: from a boxed value of it, or from a number.
    Enum(crate::dotnet::EnumType),
    /// One of APIM's context interfaces (`IProduct`, `IUrl`, `IMessageBody`, ...).
    Handle(Handle),
    /// A generic collection, a pair or a tuple, by its shape (the item types are the
    /// checker's: a value of the shape with items of other types fails where an item is used).
    Shape(Shape),
}

/// The generic shapes a cast checks at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    List,
    Dict,
    Set,
    Queue,
    Stack,
    Pair,
    /// A tuple of this many items.
    Tuple(u8),
    Enumerator,
}

impl CastTo {
    pub fn of(ty: &Ty) -> Option<CastTo> {
        Some(match ty {
            Ty::Object => CastTo::Any,
            Ty::Str => CastTo::Str,
            Ty::Int => CastTo::Int,
            Ty::Double => CastTo::Double,
            Ty::Bool => CastTo::Bool,
            Ty::DateTime => CastTo::DateTime,
            Ty::DateTimeOffset => CastTo::DateTimeOffset,
            Ty::TimeSpan => CastTo::TimeSpan,
            Ty::Bytes => CastTo::Bytes,
            Ty::Cert => CastTo::Cert,
            Ty::Array(e) if **e == Ty::Str => CastTo::StrArray,
            Ty::Enum(t) => CastTo::Enum(*t),
            Ty::Handle(h) => CastTo::Handle(*h),
            Ty::List(_) => CastTo::Shape(Shape::List),
            Ty::Dict(..) => CastTo::Shape(Shape::Dict),
            Ty::Set(_) => CastTo::Shape(Shape::Set),
            Ty::Queue(_) => CastTo::Shape(Shape::Queue),
            Ty::Stack(_) => CastTo::Shape(Shape::Stack),
            Ty::Pair(..) => CastTo::Shape(Shape::Pair),
            Ty::Tuple(ts) => CastTo::Shape(Shape::Tuple(u8::try_from(ts.len()).ok()?)),
            Ty::Enumerator(_) => CastTo::Shape(Shape::Enumerator),
            Ty::Obj(
                k @ (ObjKind::Basic
                | ObjKind::Jwt
                | ObjKind::Regex
                | ObjKind::Match
                | ObjKind::Group
                | ObjKind::Hasher
                | ObjKind::Response
                | ObjKind::Rsa
                | ObjKind::Symmetric
                | ObjKind::TimeZone
                | ObjKind::HashName
                | ObjKind::SignPadding
                | ObjKind::EncryptPadding
                | ObjKind::Json(_)
                | ObjKind::Xml(_)),
            ) => CastTo::Obj(*k),
            _ => return None,
        })
    }
}

/// Which of a URL's parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlPart {
    Scheme,
    Host,
    Port,
    Path,
    QueryString,
    Whole,
}

/// `LastError` fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorField {
    Source,
    Reason,
    Message,
    Scope,
    Section,
    Path,
    PolicyId,
}

/// Units for `DateTime.AddX`, `TimeSpan.FromX`, `TimeSpan.TotalX`: ticks per unit.
pub(crate) type TicksPerUnit = i64;

/// Everything an expression can call, resolved at compile time. The receiver (for instance
/// members) is the first argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Context(ContextFn),
    Cert(CertFn),
    Str(StrFn),
    Convert(ConvertFn),
    Date(DateFn),
    Collection(CollectionFn),
    Auth(AuthFn),
    Regex(RegexFn),
    Crypto(CryptoFn),
    Json(JsonFn),
    Exception(ExceptionFn),
    Builder(BuilderFn),
    Random(RandomFn),
    Offset(OffsetFn),
    Uri(UriFn),
    Form(FormFn),
    Generic(GenericFn),
    Ip(IpFn),
    Response(ResponseFn),
    Xml(XmlFn),
    Enum(EnumFn),
    Queue(QueueFn),
    Rsa(RsaFn),
    Tz(TzFn),
    Reader(ReaderFn),
    Sym(SymFn),
}

/// `SymmetricAlgorithm` (`members/symmetric.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymFn {
    Create,
    Get(SymProp),
    Set(SymProp),
    /// `GenerateKey()` (false), `GenerateIV()` (true).
    Generate(bool),
    /// `bytes.Encrypt(alg[, key, iv])` (false) and `Decrypt` (true).
    Run(bool),
}

/// The properties of a `SymmetricAlgorithm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymProp {
    Key,
    Iv,
    Mode,
    Padding,
    KeySize,
    BlockSize,
}

/// `StringReader` (`members/string_io.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReaderFn {
    New,
    ReadToEnd,
    ReadLine,
    Read,
    Peek,
}

/// `TimeZoneInfo` (`members/timezone.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TzFn {
    Utc,
    Local,
    Find,
    FromUtc,
    ToUtc,
    /// `ConvertTime(dateTime, to)`, `(dateTime, from, to)`, `(dateTimeOffset, to)`.
    Convert,
    ConvertFrom,
    ConvertOffset,
    Id,
    DisplayName,
    /// `StandardName` (false), `DaylightName` (true).
    Name(bool),
    BaseOffset,
    SupportsDst,
    UtcOffset,
    IsDst,
    IsInvalid,
    /// `TimeZone.ToLocalTime(utc)`, `TimeZone.ToUniversalTime(local)`.
    FromUtcOf,
    ToUtcOf,
}

/// `RSA` and its companions (`members/rsa.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaFn {
    /// `RSA.Create([bits])`: a key made on first use.
    Create,
    /// `GetRSAPublicKey` of a certificate or of its `PublicKey`.
    FromCertificate,
    /// A certificate's `PublicKey.ExportSubjectPublicKeyInfo()` and `PublicKey.Oid`.
    CertificateKeyInfo,
    KeyOid,
    /// `RSAEncryptionPadding.OaepHashAlgorithm`.
    OaepHash,
    KeySize,
    Import(crate::dotnet::rsa::DerForm),
    ImportPem,
    FromXml,
    Export(crate::dotnet::rsa::DerForm),
    ToXml,
    SignData,
    VerifyData,
    SignHash,
    VerifyHash,
    Encrypt,
    Decrypt,
}

/// `Queue<T>` and `Stack<T>` (`members/queue.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueFn {
    /// An empty one: a stack (true) or a queue.
    New(bool),
    /// One holding a sequence's items (a stack has the last on top).
    From(bool),
    /// `Enqueue`/`Push`.
    Put,
    /// `Dequeue`/`Pop`.
    Take,
    Peek,
    /// `TryDequeue`/`TryPop` and `TryPeek`: null when empty.
    TryTake,
    TryPeek,
    Count,
    Contains,
    Clear,
    /// `ToArray()` and enumeration: in the order they would be taken.
    Items,
}

/// `System.Enum`'s statics over one enum (`members/enums.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnumFn {
    /// `Enum.Parse`: the text and whether case is ignored; a `FormatException`-like failure
    /// (.NET's `ArgumentException`) when no member has that name or number.
    Parse(crate::dotnet::EnumType),
    /// The same, null when it does not parse (`Enum.TryParse`).
    TryParse(crate::dotnet::EnumType),
    /// `Enum.GetName`: the member's name, null when none has the number.
    GetName(crate::dotnet::EnumType),
    /// `Enum.IsDefined`: a value, a number or a name.
    IsDefined(crate::dotnet::EnumType),
}

/// `System.Net.IPAddress` (`members/ip.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpFn {
    Parse,
    TryParse,
    IsLoopback,
    IsMapped,
    /// `AddressFamily`.
    Family,
    Bytes,
    ToV4,
    ToV6,
}

/// `List<T>` and `Dictionary<TKey, TValue>` (`members/generic.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenericFn {
    /// `ToDictionary`: a dictionary of (key, value) pairs; a repeated or null key fails.
    DictFromPairs,
    /// An empty one: a dictionary (true) or a list.
    New(bool),
    NewSet,
    /// `JsonConvert.DeserializeObject<List<T>>` (0), `<HashSet<T>>` (1) and
    /// `<Dictionary<string, T>>` (2): the JSON text, each value converted to T (`None`: kept as
    /// a token).
    FromJson(u8, Option<CastTo>),
    ListFrom,
    SetFrom,
    /// `HashSet<T>.Add`: false when the item was there.
    SetAdd,
    UnionWith,
    Count,
    Items,
    Keys,
    Values,
    Add,
    AddPair,
    Get,
    Set,
    Contains,
    IndexOf,
    Insert,
    Remove,
    RemoveAt,
    ContainsKey,
    ContainsValue,
    RemoveKey,
    Clear,
    /// `Dictionary.TryAdd(k, v)`: false when the key was there.
    TryAdd,
    /// `List<T>.Sort()`, `Reverse()`, `AddRange(items)`: in place.
    Sort,
    Reverse,
    AddRange,
    /// `HashSet<T>` against a sequence.
    SetOp(SetOp),
}

/// `HashSet<T>`'s set algebra.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOp {
    IntersectWith,
    ExceptWith,
    SymmetricExceptWith,
    IsSubsetOf,
    IsSupersetOf,
    IsProperSubsetOf,
    IsProperSupersetOf,
    Overlaps,
    SetEquals,
}

/// A form body's dictionary and lists (`members/form.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormFn {
    Index,
    Count,
    Keys,
    ContainsKey,
    Remove,
    Encode,
    QueryString,
    Items,
    ListItems,
    ListCount,
    ListIndex,
    ListAdd,
    ListContains,
    ListIndexOf,
    ListRemove,
    ListClear,
}

/// `System.Uri` (`members/uri.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriFn {
    /// `MakeRelativeUri(other)`.
    MakeRelative,
    New,
    TryNew,
    Join,
    IsWellFormed,
    WellFormedOriginal,
    AbsoluteUri,
    AbsolutePath,
    Authority,
    Host,
    Port,
    Scheme,
    Query,
    Fragment,
    PathAndQuery,
    Segments,
    LocalPath,
    UserInfo,
    OriginalString,
    IsAbsolute,
    IsDefaultPort,
    IsLoopback,
    LeftPart,
}

/// `DateTimeOffset` (`members/datetime_offset.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetFn {
    /// `DateTimeOffset.ParseExact(text, format, provider)`.
    ParseExact,
    UtcNow,
    Now,
    FromUnixSeconds,
    FromUnixMs,
    Parse,
    TryParse,
    New,
    ToUnixSeconds,
    ToUnixMs,
    UtcDateTime,
    LocalDateTime,
    DateTime,
    Offset,
    UtcTicks,
    Add(TicksPerUnit),
    AddSpan,
    Since,
    ToUniversal,
    ToLocal,
    ToOffset,
}

/// `System.Random` (`members/random.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RandomFn {
    New,
    Next,
    NextBelow,
    NextBetween,
    NextDouble,
}

/// `IResponse` from `send-request` (`members/response.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseFn {
    StatusCode,
    StatusReason,
    HeaderGet,
    HeaderContains,
    HeaderIndex,
    HeaderCount,
}

/// `StringBuilder` (`members/builder.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuilderFn {
    /// `Length = n`.
    SetLength,
    New,
    Append,
    AppendLine,
    Insert,
    Clear,
    Length,
}

/// Exceptions (`members/exception.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionFn {
    /// `new T(message)`: the class's index in the family's table.
    New(u8),
    Message,
}

/// Newtonsoft.Json (`members/json.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonFn {
    /// `Merge(content)` (Newtonsoft's default settings).
    Merge,
    /// `JObject.Parse`, `JArray.Parse`, `JToken.Parse`, `JsonConvert.DeserializeObject`.
    Parse(JsonKind),
    /// A value as a token (`JToken.FromObject`, the implicit conversions to `JToken`).
    FromValue,
    /// `new JObject(props...)`, `new JArray(items...)`, `new JProperty(name, value)`.
    NewObject,
    NewArray,
    NewProperty,
    Index,
    SetIndex,
    /// The explicit conversions `(string)token`, `(int)token`, ... and `Value<T>()`.
    To(CastTo),
    Count,
    Type,
    Name,
    PropertyValue,
    HasValues,
    ContainsKey,
    Remove,
    Add,
    Property,
    Properties,
    /// What iterating gives: an object's `KeyValuePair`s, an array's tokens.
    Items,
    SelectToken,
    DeepClone,
    /// `ToString(Formatting)`.
    Text,
}

/// Hashes and HMACs (`members/crypto.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptoFn {
    New(crate::dotnet::HashAlgorithm),
    NewHmac(crate::dotnet::HashAlgorithm),
    HashData(crate::dotnet::HashAlgorithm),
    HmacData(crate::dotnet::HashAlgorithm),
    ComputeHash,
    Key,
    HashSize,
    /// APIM's `byte[].Encrypt(alg, key, iv)` / `Decrypt`.
    Encrypt,
    Decrypt,
}

/// `Regex` statics and instances, `Match`, `Group` (`members/regex.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegexFn {
    /// A pattern known only when the request runs (compiled then, within a smaller bound).
    New,
    IsMatch,
    Match,
    Matches,
    Replace,
    Split,
    Success,
    Value,
    Index,
    Length,
    /// `Groups[n]` / `Groups["name"]`.
    Group,
    GroupCount,
    /// `Regex.Escape(text)`, `Regex.Unescape(text)`.
    Escape,
    Unescape,
    /// `Match.Result(replacement)`.
    Result,
}

/// The registered claims `Jwt` has properties for (RFC 7519 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtClaim {
    Id,
    Issuer,
    Subject,
    ExpirationTime,
    IssuedAt,
    NotBefore,
}

impl JwtClaim {
    /// The claim's name in the token.
    pub fn name(self) -> &'static str {
        match self {
            JwtClaim::Id => "jti",
            JwtClaim::Issuer => "iss",
            JwtClaim::Subject => "sub",
            JwtClaim::ExpirationTime => "exp",
            JwtClaim::IssuedAt => "iat",
            JwtClaim::NotBefore => "nbf",
        }
    }
}

/// `AsBasic`, `AsJwt` and the members of what they return (`members/auth.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFn {
    AsBasic,
    AsJwt,
    UserId,
    Password,
    Algorithm,
    Type,
    /// `Id`, `Issuer`, `Subject`, `ExpirationTime`, `IssuedAt`, `NotBefore`: the claim named.
    Claim(JwtClaim),
    Audiences,
    ClaimsGet,
    ClaimsContains,
    ClaimsIndex,
    ClaimsCount,
}

/// `context.*`: the request, response, variables, deployment, `LastError` (bound and run in
/// `members/context.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextFn {
    RequestMethod,
    RequestIp,
    RequestCertificate,
    RequestId,
    Url(UrlPart),
    HeaderGet,
    HeaderContains,
    HeaderIndex,
    QueryGet,
    QueryContains,
    QueryIndex,
    MatchedGet,
    MatchedContains,
    MatchedIndex,
    VarGet(CastTo),
    VarContains,
    VarIndex,
    ResponseStatusCode,
    ResponseStatusReason,
    DeploymentServiceName,
    DeploymentGatewayId,
    DeploymentRegion,
    CertsContainsKey,
    CertsIndex,
    CertsCount,
    CertsAsArray,
    /// The entries of a context dictionary (headers, query, matched parameters) as an array of
    /// pairs: a name and its values (`string[]`), or a matched parameter's value.
    Entries,
    /// `Certificates.Any(c => c.Value.Thumbprint == x)` rewritten to a hash-set lookup.
    CertsHasThumbprint,
    /// The same with `x` = `context.Request.Certificate.Thumbprint`, probed in binary.
    CertsHasRequestCertificate,
    LastError(ErrorField),
    /// `context.Timestamp` (now less `context.Elapsed`) and `context.Elapsed`.
    Timestamp,
    Elapsed,
    /// A member of `context.Product`/`Subscription`/`User`, which are null.
    OfNull,
    /// `context.Request.Body`: the body, or null when the request has none.
    RequestBody,
    /// `context.Response.Body`: the body the gateway holds, or null.
    ResponseBody,
    /// `Body.As<T>(preserveContent)`: the body as a string, bytes or a JSON token (the kind),
    /// read once unless preserved (the second argument).
    BodyAs(BodyAs),
}

/// What `Body.As<T>()` reads the body as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyAs {
    Str,
    Bytes,
    Json(JsonKind),
    /// `AsFormUrlEncodedContent()`.
    Form,
    /// `As<XDocument>()` (true), `As<XElement>()` or `As<XNode>()`.
    Xml(bool),
}

/// `X509Certificate2`, its extensions, `X500DistinguishedName`, `Oid` (`members/cert.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertFn {
    /// `new Oid(valueOrName[, friendlyName])`: a pair (value, friendly name).
    NewOid,
    Thumbprint,
    Subject,
    Issuer,
    SerialNumber,
    NotBefore,
    NotAfter,
    Verify,
    VerifyNoRevocation,
    RawData,
    Version,
    SignatureAlgorithm,
    GetNameInfo,
    HasPrivateKey,
    Extensions,
    /// `Extensions["2.5.29.17"]` / `Extensions["Subject Alternative Name"]`: null when absent.
    ExtensionByName,
    ExtensionOid,
    ExtensionCritical,
    ExtensionRawData,
    ExtensionFormat,
    New,
}

/// `string` members and `String.*` statics (`members/string.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrFn {
    /// `IndexOfAny(chars)` (false) and `LastIndexOfAny(chars)` (true).
    IndexOfAny(bool),
    Length,
    Contains,
    StartsWith,
    EndsWith,
    ToUpper,
    ToLower,
    Replace,
    Trim,
    TrimStart,
    TrimEnd,
    Split,
    Substring,
    IndexOf,
    Equals,
    CharAt,
    IsNullOrEmpty,
    IsNullOrWhiteSpace,
    Join,
    Format,
    Concat,
    PadLeft,
    PadRight,
    LastIndexOf,
    Insert,
    Remove,
    ToCharArray,
    /// `String.Compare(a, b[, ignoreCase | comparison])`, `CompareOrdinal`, `a.CompareTo(b)`:
    /// the two strings and a bool or a `StringComparison` (none: the culture's).
    Compare,
    /// `Normalize([form])` (false) and `IsNormalized([form])` (true).
    Normalize(bool),
}

/// `Convert`, `Encoding.UTF8`, `WebUtility`, `JsonConvert`, `Guid`, `Math`, `ToString`
/// (`members/convert.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvertFn {
    /// `x.GetType()`: the value's .NET type, as its full name.
    GetType,
    /// `Type.Name` (0), `FullName` (1), `Namespace` (2).
    TypePart(u8),
    FromBase64,
    ToBase64,
    /// `Convert.ToByte`, `ToSByte`, `ToInt16`, `ToUInt16`, `ToInt32`, `ToUInt32`, `ToInt64`,
    /// `ToUInt64`: the target's range (checked: .NET's `OverflowException`).
    ToInteger(IntRange),
    /// `(byte)x`, `(short)x`, `(uint)x`, ...: the low `bits` of the integer (or of a double
    /// truncated toward zero), signed or not.
    Narrow(u8, bool),
    /// `(char)n`: the UTF-16 code unit `n` keeps in its low 16 bits.
    ToChar,
    ToDouble,
    ToBoolean,
    ToStringDyn,
    ToStringFormat,
    UrlDecode,
    UrlEncode,
    /// `Encoding.X.GetBytes` / `GetString`.
    GetBytes(TextEncoding),
    GetString(TextEncoding),
    /// `BitConverter.ToString(bytes)`, `Convert.ToHexString`, `Convert.FromHexString`.
    BitConverterToString,
    ToHexString,
    FromHexString,
    JsonSerialize,
    NewGuid,
    Max,
    Min,
    Abs,
    /// `Math.Floor`, `Ceiling`, `Truncate`, `Sqrt`, `Log`, `Log10`, `Pow`, `Round` (on doubles).
    Floor,
    Ceiling,
    Truncate,
    Sqrt,
    Log,
    Log10,
    Pow,
    Round,
    /// `Guid.Parse` (the `D` form) and its soft form for `TryParse` (null when it fails).
    GuidParse,
    GuidTryParse,
    /// `Nullable<T>.Value`: the value, or `InvalidOperationException` when null.
    NullableValue,
    /// `Math.Sign` (of an int or a double; NaN fails as .NET's `ArithmeticException`).
    Sign,
    /// `char.IsDigit`, `IsLetter`, ... (on a char).
    CharIs(CharClass),
    /// `char.ToUpper`, `char.ToLower` (invariant, one char).
    CharUpper,
    CharLower,
    /// `WebUtility.HtmlEncode`, `HtmlDecode`, `Uri.EscapeDataString`, `Uri.UnescapeDataString`.
    HtmlEncode,
    HtmlDecode,
    EscapeDataString,
    UnescapeDataString,
    /// `int.Parse` (range of `Int32`), `long.Parse`, `double.Parse`, `bool.Parse`.
    ParseInt32,
    ParseInt64,
    ParseDouble,
    ParseBool,
    /// The same, null where `Parse` would fail (`TryParse`).
    TryParseInt32,
    TryParseInt64,
    TryParseDouble,
    TryParseBool,
}

/// An integer type's range and .NET's name for it in overflow messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntRange {
    pub min: i64,
    pub max: i64,
    /// "an unsigned byte", "an Int32", ...
    pub name: &'static str,
}

/// `DateTime` and `TimeSpan` members and statics (`members/datetime.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateFn {
    /// `DateTime.ParseExact(text, format, provider)`.
    ParseExact,
    /// `DateTime.Kind`.
    Kind,
    /// `DateTime.SpecifyKind(d, kind)`.
    SpecifyKind,
    Now,
    UtcNow,
    Add(TicksPerUnit),
    AddSpan,
    Subtract,
    Part(DatePartKind),
    ToUniversal,
    ToLocal,
    Date,
    Ticks,
    New,
    SpanFrom(TicksPerUnit),
    SpanTotal(TicksPerUnit),
    SpanPart(SpanPartKind),
    NewTimeSpan,
    /// `DateTime.Parse`, `TimeSpan.Parse`, and `TryParse`'s soft form (true: a DateTime).
    ParseDateTime,
    ParseTimeSpan,
    TryParse(bool),
    /// `AddMonths(n)` (1) and `AddYears(n)` (12 months per unit).
    AddMonths(i64),
    DaysInMonth,
    IsLeapYear,
    TimeOfDay,
    DayOfWeek,
}

/// Arrays, `byte[]` and `KeyValuePair` (`members/collections.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CollectionFn {
    Length,
    Contains,
    Index,
    PairKey,
    PairValue,
    /// The keys (values) of an array of pairs: a dictionary's `Keys` (`Values`).
    PairKeys,
    PairValues,
    /// `new T[n]` (the default value is the second argument) and `new byte[n]`.
    NewArray,
    NewBytes,
    /// LINQ's positional operators: `Skip(n)`, `Take(n)`, `ElementAt(i)`,
    /// `ElementAtOrDefault(i)`, `Reverse()`, `Concat(other)`.
    Skip,
    Take,
    ElementAt,
    ElementAtOrDefault,
    Reverse,
    Concat,
    /// `Array.IndexOf(a, x)` (false) and `Array.LastIndexOf(a, x)` (true): -1 when not there.
    IndexOf(bool),
    /// `SequenceEqual(other)`: the same items in the same order, by each item's `Equals`.
    SequenceEqual,
    /// `Enumerable.Range(start, count)` and `Enumerable.Repeat(item, count)`.
    Range,
    Repeat,
    /// LINQ's `Union` (0), `Intersect` (1) and `Except` (2): distinct items, in first-seen
    /// order, by each item's `Equals`.
    SetOp(u8),
    /// `Tuple.Create(..)`, `new Tuple<..>(..)`.
    NewTuple,
    /// `ItemN` (0-based here).
    TupleItem(u8),
    /// `Equals` on tuples and pairs: item by item.
    ItemsEqual,
    /// `new KeyValuePair<K, V>(k, v)`, `KeyValuePair.Create(k, v)`.
    NewPair,
    /// `GetEnumerator()` (over an array of the items), `MoveNext()`, `Current`, `Reset()`.
    GetEnumerator,
    MoveNext,
    Current,
    Reset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatePartKind {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
    DayOfYear,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanPartKind {
    Days,
    Hours,
    Minutes,
    Seconds,
    Milliseconds,
    Ticks,
}

impl Builtin {
    /// Pure builtins may be evaluated at compile time when their arguments are constants.
    pub fn is_pure(self) -> bool {
        match self {
            // Reads the request, or the clock, or makes a certificate: never folded.
            Builtin::Context(_) | Builtin::Cert(_) => false,
            // Parses a credential into a new object each time (reference identity).
            Builtin::Auth(_) => false,
            // A match allocates a new object; compiling is done by the checker for constants.
            Builtin::Regex(_) => false,
            // New objects, random keys; hashing constants at load would be fine but is rare.
            Builtin::Crypto(_) => false,
            // Tokens are mutable and shared: never a constant.
            Builtin::Json(_) => false,
            Builtin::Exception(_) => false,
            // A builder is mutable and shared.
            Builtin::Builder(_) => false,
            // A generator has state, and an unseeded one is random.
            Builtin::Random(_) => false,
            // Reads the clock (UtcNow), or the machine's zone.
            Builtin::Offset(_) => false,
            // A Uri is an object (reference identity aside, cheap to make at run time).
            Builtin::Uri(_) => false,
            // A form is mutable and shared.
            Builtin::Form(_) => false,
            Builtin::Generic(_) => false,
            Builtin::Ip(_) => false,
            // Responses exist only at run time.
            Builtin::Response(_) => false,
            // Trees are mutable and shared; names could fold but are cheap.
            Builtin::Xml(_) => false,
            Builtin::Enum(_) => true,
            // Queues and stacks are mutable and shared.
            Builtin::Queue(_) => false,
            // Keys are objects; signatures are randomized (PSS) or costly.
            Builtin::Rsa(_) => false,
            // Zones are objects; conversions read the machine's zone.
            Builtin::Tz(_) => false,
            // A reader has a position.
            Builtin::Reader(_) => false,
            // Random keys, mutable settings.
            Builtin::Sym(_) => false,
            Builtin::Str(_)
            | Builtin::Collection(
                CollectionFn::Length
                | CollectionFn::Contains
                | CollectionFn::Index
                | CollectionFn::Skip
                | CollectionFn::Take
                | CollectionFn::ElementAt
                | CollectionFn::ElementAtOrDefault
                | CollectionFn::Reverse
                | CollectionFn::Concat
                | CollectionFn::IndexOf(_)
                | CollectionFn::SetOp(_)
                | CollectionFn::SequenceEqual
                | CollectionFn::TupleItem(_)
                | CollectionFn::ItemsEqual
                | CollectionFn::NewPair,
            ) => true,
            Builtin::Collection(
                CollectionFn::PairKey
                | CollectionFn::PairValue
                | CollectionFn::PairKeys
                | CollectionFn::PairValues
                | CollectionFn::NewArray
                | CollectionFn::NewBytes
                // Arrays made at run time, charged there.
                | CollectionFn::Range
                | CollectionFn::Repeat
                // A tuple is an object; an enumerator has state.
                | CollectionFn::NewTuple
                | CollectionFn::GetEnumerator
                | CollectionFn::MoveNext
                | CollectionFn::Current
                | CollectionFn::Reset,
            ) => false,
            Builtin::Convert(f) => !matches!(
                f,
                ConvertFn::ToStringFormat | ConvertFn::JsonSerialize | ConvertFn::NewGuid
            ),
            Builtin::Date(f) => matches!(
                f,
                DateFn::SpanFrom(_)
                    | DateFn::SpanTotal(_)
                    | DateFn::SpanPart(_)
                    | DateFn::NewTimeSpan
                    | DateFn::DaysInMonth
                    | DateFn::IsLeapYear
            ),
        }
    }
}

/// LINQ operators over a sequence with a lambda.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linq {
    Any,
    All,
    Where,
    Select,
    First,
    FirstOrDefault,
    Last,
    LastOrDefault,
    Count,
    Single,
    SingleOrDefault,
    /// Key selectors: a stable sort by the keys (`ThenBy` is not supported).
    OrderBy,
    OrderByDescending,
    /// Optional selectors: over the items, or what the lambda makes of them.
    Sum,
    Min,
    Max,
    Average,
    Distinct,
    /// Groups by the key the lambda gives, in the order keys first appear.
    GroupBy,
    /// `ThenBy` / `ThenByDescending` after an `OrderBy`: a stable sort by the next key,
    /// placed below the earlier keys' sorts so that they decide first.
    ThenBy,
    ThenByDescending,
    /// The items of each item's sequence, in order.
    SelectMany,
    TakeWhile,
    SkipWhile,
}

/// Compiled expression nodes.
#[derive(Clone, Debug)]
pub enum Ir {
    Const(Value),
    Local(u16),
    Not(Box<Ir>),
    Neg(Box<Ir>),
    Binary(BinOp, Box<Ir>, Box<Ir>),
    /// `a && b && ...`, flattened so long chains do not recurse.
    And(Vec<Ir>),
    /// `a || b || ...`, flattened.
    Or(Vec<Ir>),
    Coalesce(Box<Ir>, Box<Ir>),
    Cond(Box<Ir>, Box<Ir>, Box<Ir>),
    Call(Builtin, Vec<Ir>),
    /// `target?.rest`: evaluates `target`; null short-circuits to null, otherwise it is stored
    /// in `slot` and `then` (which reads the slot) gives the result.
    NullCond {
        target: Box<Ir>,
        slot: u16,
        then: Box<Ir>,
    },
    Linq {
        op: Linq,
        source: Box<Ir>,
        slot: u16,
        body: Option<Box<Ir>>,
    },
    Cast(CastTo, Box<Ir>),
    /// `x is T`
    Is(CastTo, Box<Ir>),
    /// `x as T`
    As(CastTo, Box<Ir>),
    Concat(Vec<Ir>),
    /// An interpolation hole with a format string: `{x:D2}`.
    Format(Box<Ir>, Box<str>),
    NewArray(Vec<Ir>),
    Block(Vec<IrStmt>),
    Assign(u16, Box<Ir>),
    /// Evaluates each in order; the last one's value is the result (what an `out` argument's
    /// method becomes: the call, the assignments, the returned bool).
    Seq(Vec<Ir>),
    /// LINQ's `Aggregate([seed, ](acc, x) => body)`: `acc` starts as the seed (or the first
    /// item) and becomes `body` for each item in turn.
    Fold {
        source: Box<Ir>,
        seed: Option<Box<Ir>>,
        acc: u16,
        item: u16,
        body: Box<Ir>,
    },
}

#[derive(Clone, Debug)]
pub enum IrStmt {
    Eval(Ir),
    If(Ir, Vec<IrStmt>, Vec<IrStmt>),
    Return(Ir),
    Foreach(u16, Ir, Vec<IrStmt>),
    /// `while`, `do`/`while` (not `test_first`) and `for` (its `step` after each pass): a
    /// step of the budget per pass. `cond` None: until `break` or `return`.
    Loop {
        cond: Option<Ir>,
        body: Vec<IrStmt>,
        step: Vec<IrStmt>,
        test_first: bool,
    },
    Break,
    Continue,
    /// `try { body } catch (T e) { .. } finally { .. }`.
    Try {
        body: Vec<IrStmt>,
        catches: Vec<Catch>,
        finally: Vec<IrStmt>,
    },
    /// `throw e;` / `throw;` (the caught exception's slot).
    Throw(Ir),
}

/// One `catch`: the failures it takes, where the exception goes, what runs.
#[derive(Clone, Debug)]
pub struct Catch {
    pub takes: &'static [super::env::EvalErrorKind],
    pub slot: u16,
    pub body: Vec<IrStmt>,
}

impl Ir {
    pub fn as_const(&self) -> Option<&Value> {
        match self {
            Ir::Const(v) => Some(v),
            _ => None,
        }
    }
}
