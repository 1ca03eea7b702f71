//! Runtime values of compiled expressions: what a running plan computes with (`string` with
//! ordinal comparison, numbers, `byte[]`, dates from [`crate::dotnet`], certificates, arrays,
//! and handles onto the request context).
//!
//! Strings are `Arc<str>` so a constant from the plan is shared, not copied, per request.

use std::sync::Arc;

use crate::cert::Certificate;
use crate::dotnet::{DateTime, DateTimeOffset, NameType, TimeSpan};

/// Parts of the request context that expressions navigate (`context.Request.Headers`, ...).
/// They are values so that `var h = context.Request.Headers;` works like C#.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Handle {
    Context,
    Request,
    Response,
    RequestHeaders,
    ResponseHeaders,
    Url,
    OriginalUrl,
    Query,
    OriginalQuery,
    MatchedParameters,
    Variables,
    Deployment,
    Certificates,
    LastError,
    Api,
    Operation,
    /// `context.Product`, `context.Subscription`, `context.User`: always null in certgate, which
    /// has no products, subscriptions or developer accounts; typed so expressions compile.
    Product,
    Subscription,
    User,
    /// The objects reached only through those (`IGroup`, `IUserIdentity`), and the ones
    /// certgate has no such thing for (`context.Api.SubscriptionKeyParameterNames`,
    /// `context.Request.PrivateEndpointConnection`, `IAzureVnetInfo`): null as well.
    Group,
    UserIdentity,
    KeyParameterNames,
    PrivateEndpoint,
    VnetInfo,
    /// `context.Request.Body` (an `IMessageBody`).
    RequestBody,
    /// `context.Response.Body` (an `IMessageBody`).
    ResponseBody,
}

/// Values of the .NET enums policies use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnumValue {
    NameType(NameType),
    /// A value of one of the enums carried by name and number (`dotnet::EnumType`).
    Named(crate::dotnet::EnumType, i64),
}

#[derive(Clone, Debug)]
/// A value an expression computes with.
pub enum Value {
    /// `null`.
    Null,
    /// `bool`.
    Bool(bool),
    /// `int`/`long`.
    Int(i64),
    /// `double`.
    Double(f64),
    /// `char`.
    Char(char),
    /// `string`.
    Str(Arc<str>),
    /// `DateTime`.
    DateTime(DateTime),
    /// `DateTimeOffset`.
    DateTimeOffset(DateTimeOffset),
    /// `TimeSpan`.
    TimeSpan(TimeSpan),
    /// `byte[]`.
    Bytes(Arc<[u8]>),
    /// `X509Certificate2`.
    Cert(Arc<Certificate>),
    /// An `X509Extension` of a certificate.
    Ext(Arc<crate::cert::Extension>),
    /// An array (`T[]`, `IEnumerable<T>`).
    Array(Arc<[Value]>),
    /// `KeyValuePair<K,V>` from iterating a dictionary.
    Pair(Arc<(Value, Value)>),
    /// A part of `context` (`context.Request.Headers`, ...).
    Handle(Handle),
    /// A value of a .NET enum.
    Enum(EnumValue),
    /// An object of one of APIM's helper types (`BasicAuthCredentials`, `Jwt`).
    Obj(Arc<Obj>),
}

/// Objects of APIM's helper types and the .NET classes certgate implements (C#'s `==` on them is
/// reference equality: `Value::dotnet_eq`).
#[derive(Debug)]
pub enum Obj {
    /// `BasicAuthCredentials` (`AsBasic`).
    Basic(crate::dotnet::BasicCredentials),
    /// `Jwt` (`AsJwt`).
    Jwt(crate::dotnet::Jwt),
    /// `Regex` (`new Regex(..)`, and each static call's pattern).
    Regex(crate::dotnet::regex::Regex),
    /// `Match` (`Regex.Match`).
    Match(crate::dotnet::regex::Match),
    /// `Group` (`Match.Groups[..]`).
    Group(crate::dotnet::regex::Group),
    /// A hash or HMAC object (`SHA256.Create()`, `new HMACSHA256(key)`): the algorithm and, for
    /// an HMAC, the key.
    Hasher(crate::dotnet::HashAlgorithm, Option<crate::dotnet::Key>),
    /// A Newtonsoft.Json token (`JObject`, `JArray`, `JValue`, `JProperty`).
    Json(crate::dotnet::json::Token),
    /// A `StringBuilder`: shared and mutable, as in .NET.
    Builder(std::sync::Mutex<String>),
    /// A `Random`: shared and mutable, as in .NET.
    Random(std::sync::Mutex<crate::dotnet::Random>),
    /// A `Uri`.
    Uri(crate::dotnet::uri::Uri),
    /// A form body (`AsFormUrlEncodedContent()`): shared and mutable.
    Form(std::sync::Mutex<crate::dotnet::form::Form>),
    /// One name's values of a form: a view of it.
    FormList { form: Arc<Obj>, key: Arc<str> },
    /// An `IPAddress`.
    Ip(std::net::IpAddr),
    /// A `List<T>` or a `Dictionary<TKey, TValue>`: shared and mutable.
    Collection(std::sync::Mutex<Collection>),
    /// `SymmetricAlgorithm.Create("Aes")`: its settings, changed by assignment.
    Symmetric(std::sync::Mutex<crate::dotnet::symmetric::Aes>),
    /// `StringReader`: the text and how far it has been read (a byte offset).
    Reader(std::sync::Mutex<(Arc<str>, usize)>),
    /// `TimeZoneInfo`.
    TimeZone(crate::dotnet::timezone::Zone),
    /// `RSA`: a key that `Import…` replaces, or made on first use.
    Rsa(std::sync::Mutex<crate::dotnet::rsa::RsaKey>),
    /// `Tuple<T1, ..>` (`Tuple.Create`): its items, immutable.
    Tuple(Box<[Value]>),
    /// `IEnumerator<T>` (`GetEnumerator()`): the items and how many `MoveNext` has passed.
    Enumerator(std::sync::Mutex<(Arc<[Value]>, usize)>),
    /// What `send-request` received (APIM's `IResponse` in a variable).
    Response(crate::outcall::SentResponse),
    /// A System.Xml.Linq object (`members/xml.rs`).
    Xml(crate::dotnet::xml::XObject),
    /// An exception (`new Exception(..)`, or a failure caught by `catch`).
    Exception {
        type_name: &'static str,
        message: Arc<str>,
    },
}

/// What a `List<T>` or a `Dictionary<TKey, TValue>` holds (`members/generic.rs`).
#[derive(Debug)]
pub enum Collection {
    List(Vec<Value>),
    /// Pairs in the order their keys were added.
    Dict(Keyed<Value>),
    /// Distinct items, in the order they were added.
    Set(Keyed<()>),
    /// `Queue<T>`: the front first.
    Queue(std::collections::VecDeque<Value>),
    /// `Stack<T>`: the top last.
    Stack(Vec<Value>),
}

/// Entries in the order they were added, found by key in constant time: a client-sized JSON
/// array read into a `HashSet` or `Dictionary` must not cost a scan per item. Keys compare as
/// C#'s `==` does ([`Value::dotnet_eq`]); keys of the few types that compare by value but have
/// no hash here (dates, URIs, ...) are found by a scan of those alone.
#[derive(Debug, Default)]
pub struct Keyed<V> {
    entries: Vec<(Value, V)>,
    index: std::collections::HashMap<HashKey, usize>,
    /// String keys found ignoring case (`StringComparer.OrdinalIgnoreCase`); the first
    /// spelling added is the one kept.
    fold_case: bool,
}

/// A key's identity for hashing: scalars by value, reference types by address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum HashKey {
    Null,
    Bool(bool),
    Int(i64),
    Bits(u64),
    Char(char),
    Str(Arc<str>),
    Ptr(usize),
}

/// `v`'s [`HashKey`]; `None` for the types that compare by value but have no hash here (dates,
/// URIs, ...). `numbers_by_value`: an integral double is the integer it equals, as C#'s `==`
/// has it (dictionary and set keys); otherwise a double is its bits and never an integer's
/// equal, as `Equals` has it for LINQ's `Distinct` and `GroupBy` over boxed values.
pub(crate) fn hash_key(v: &Value, numbers_by_value: bool) -> Option<HashKey> {
    Some(match v {
        Value::Null => HashKey::Null,
        Value::Bool(b) => HashKey::Bool(*b),
        Value::Int(i) => HashKey::Int(*i),
        Value::Double(d) if numbers_by_value && d.fract() == 0.0 && d.abs() < 9.2e18 => {
            HashKey::Int(*d as i64)
        }
        Value::Double(d) => HashKey::Bits(d.to_bits()),
        Value::Char(c) => HashKey::Char(*c),
        Value::Str(s) => HashKey::Str(s.clone()),
        Value::Bytes(b) => HashKey::Ptr(Arc::as_ptr(b).cast::<u8>() as usize),
        Value::Cert(c) => HashKey::Ptr(Arc::as_ptr(c) as usize),
        Value::Ext(e) => HashKey::Ptr(Arc::as_ptr(e) as usize),
        Value::Array(a) => HashKey::Ptr(Arc::as_ptr(a).cast::<u8>() as usize),
        // Objects compare by reference, except those that overload `==`.
        Value::Obj(o) if !matches!(&**o, Obj::Uri(_) | Obj::Ip(_) | Obj::Xml(_)) => {
            HashKey::Ptr(Arc::as_ptr(o) as usize)
        }
        _ => return None,
    })
}

impl<V> Keyed<V> {
    pub fn new() -> Keyed<V> {
        Keyed {
            entries: Vec::new(),
            index: std::collections::HashMap::new(),
            fold_case: false,
        }
    }

    /// An empty one whose string keys are found ignoring case.
    pub fn folding_case() -> Keyed<V> {
        Keyed {
            fold_case: true,
            ..Keyed::new()
        }
    }

    pub fn folds_case(&self) -> bool {
        self.fold_case
    }

    fn hash_of(&self, k: &Value) -> Option<HashKey> {
        match k {
            Value::Str(s) if self.fold_case => {
                Some(HashKey::Str(crate::dotnet::text::fold_case(s).into()))
            }
            k => hash_key(k, true),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in the order they were added.
    pub fn entries(&self) -> &[(Value, V)] {
        &self.entries
    }

    pub fn keys(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().map(|(k, _)| k)
    }

    fn position(&self, k: &Value) -> Option<usize> {
        match self.hash_of(k) {
            Some(h) => self.index.get(&h).copied(),
            None => self.entries.iter().position(|(x, _)| x.dotnet_eq(k)),
        }
    }

    pub fn contains(&self, k: &Value) -> bool {
        self.position(k).is_some()
    }

    pub fn get(&self, k: &Value) -> Option<&V> {
        self.position(k)
            .and_then(|i| self.entries.get(i))
            .map(|(_, v)| v)
    }

    /// Adds `k` unless it is there already; whether it was added.
    pub fn add(&mut self, k: Value, v: V) -> bool {
        if self.contains(&k) {
            return false;
        }
        if let Some(h) = self.hash_of(&k) {
            self.index.insert(h, self.entries.len());
        }
        self.entries.push((k, v));
        true
    }

    /// Sets the value of `k`, adding it when it is not there.
    pub fn set(&mut self, k: Value, v: V) {
        match self.position(&k).and_then(|i| self.entries.get_mut(i)) {
            Some(slot) => slot.1 = v,
            None => {
                self.add(k, v);
            }
        }
    }

    /// Removes `k`; whether it was there. (Rare: the index is rebuilt.)
    pub fn remove(&mut self, k: &Value) -> bool {
        let Some(i) = self.position(k) else {
            return false;
        };
        self.entries.remove(i);
        self.reindex();
        true
    }

    /// Keeps the entries whose key passes `keep`, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&Value) -> bool) {
        self.entries.retain(|(k, _)| keep(k));
        self.reindex();
    }

    fn reindex(&mut self) {
        self.index.clear();
        for j in 0..self.entries.len() {
            if let Some(h) = self.entries.get(j).and_then(|(key, _)| self.hash_of(key)) {
                self.index.insert(h, j);
            }
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.index.clear();
    }
}

impl Value {
    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }

    /// Whether it is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The .NET type name, for error messages and `GetType().Name`-like needs.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Double(_) => "double",
            Value::Char(_) => "char",
            Value::Str(_) => "string",
            Value::DateTime(_) => "DateTime",
            Value::DateTimeOffset(_) => "DateTimeOffset",
            Value::TimeSpan(_) => "TimeSpan",
            Value::Bytes(_) => "byte[]",
            Value::Cert(_) => "X509Certificate2",
            Value::Ext(_) => "X509Extension",
            Value::Array(_) => "array",
            Value::Pair(_) => "KeyValuePair",
            Value::Handle(_) => "context object",
            Value::Enum(_) => "enum",
            Value::Obj(o) => match &**o {
                Obj::Basic(_) => "BasicAuthCredentials",
                Obj::Jwt(_) => "Jwt",
                Obj::Regex(_) => "Regex",
                Obj::Match(_) => "Match",
                Obj::Group(_) => "Group",
                Obj::Hasher(_, None) => "HashAlgorithm",
                Obj::Hasher(_, Some(_)) => "HMAC",
                Obj::Exception { type_name, .. } => type_name,
                Obj::Builder(_) => "StringBuilder",
                Obj::Random(_) => "Random",
                Obj::Uri(_) => "Uri",
                Obj::Ip(_) => "IPAddress",
                Obj::Form(_) => "Dictionary`2",
                Obj::FormList { .. } => "List`1",
                Obj::Tuple(items) => match items.len() {
                    1 => "Tuple`1",
                    2 => "Tuple`2",
                    3 => "Tuple`3",
                    4 => "Tuple`4",
                    5 => "Tuple`5",
                    6 => "Tuple`6",
                    _ => "Tuple`7",
                },
                Obj::Enumerator(_) => "IEnumerator`1",
                Obj::Rsa(_) => "RSA",
                Obj::TimeZone(_) => "TimeZoneInfo",
                Obj::Reader(_) => "StringReader",
                Obj::Symmetric(_) => "SymmetricAlgorithm",
                Obj::Collection(c) => match c.lock().as_deref() {
                    Ok(Collection::Dict(_)) => "Dictionary`2",
                    Ok(Collection::Set(_)) => "HashSet`1",
                    Ok(Collection::Queue(_)) => "Queue`1",
                    Ok(Collection::Stack(_)) => "Stack`1",
                    _ => "List`1",
                },
                Obj::Response(_) => "IResponse",
                Obj::Xml(x) => x.class(),
                Obj::Json(t) => match t.token_type() {
                    crate::dotnet::json::TokenType::Object => "JObject",
                    crate::dotnet::json::TokenType::Array => "JArray",
                    crate::dotnet::json::TokenType::Property => "JProperty",
                    _ => "JValue",
                },
            },
        }
    }

    /// The full name of the .NET type the value is (`GetType().FullName`): `System.String`,
    /// `System.Int32` (every integer here), `System.FormatException`,
    /// `Newtonsoft.Json.Linq.JObject`, `System.Xml.Linq.XElement`, ...
    pub fn dotnet_type_full_name(&self) -> String {
        let short = match self {
            Value::Null => return String::new(),
            Value::Bool(_) => "Boolean",
            Value::Int(_) => "Int32",
            Value::Double(_) => "Double",
            Value::Char(_) => "Char",
            Value::Str(_) => "String",
            Value::DateTime(_) => "DateTime",
            Value::DateTimeOffset(_) => "DateTimeOffset",
            Value::TimeSpan(_) => "TimeSpan",
            Value::Bytes(_) => "Byte[]",
            Value::Array(_) => "Object[]",
            Value::Cert(_) => {
                return "System.Security.Cryptography.X509Certificates.X509Certificate2".into()
            }
            Value::Ext(_) => {
                return "System.Security.Cryptography.X509Certificates.X509Extension".into()
            }
            Value::Enum(EnumValue::Named(t, _)) => return t.full_name().into(),
            Value::Obj(o) => match &**o {
                Obj::Json(_) => return format!("Newtonsoft.Json.Linq.{}", self.type_name()),
                Obj::Xml(x) => return format!("System.Xml.Linq.{}", x.class()),
                Obj::Regex(_) | Obj::Match(_) | Obj::Group(_) => {
                    return format!("System.Text.RegularExpressions.{}", self.type_name())
                }
                Obj::Builder(_) => return "System.Text.StringBuilder".into(),
                Obj::Ip(_) => return "System.Net.IPAddress".into(),
                Obj::Collection(_) | Obj::Form(_) | Obj::FormList { .. } => {
                    return format!("System.Collections.Generic.{}", self.type_name())
                }
                _ => self.type_name(),
            },
            _ => self.type_name(),
        };
        format!("System.{short}")
    }

    /// `ToString()` as .NET prints it (`True`/`False` for booleans, en-US dates).
    pub fn to_dotnet_string(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Int(i) => i.to_string(),
            Value::Double(d) => format_double(*d),
            Value::Char(c) => c.to_string(),
            Value::Str(s) => s.to_string(),
            Value::DateTime(d) => d.to_string(),
            Value::DateTimeOffset(d) => d.to_string(),
            Value::TimeSpan(t) => t.to_string(),
            Value::Bytes(_) => "System.Byte[]".into(),
            Value::Cert(c) => c.to_dotnet_string(),
            Value::Ext(_) => "System.Security.Cryptography.X509Certificates.X509Extension".into(),
            Value::Array(_) => "System.Object[]".into(),
            Value::Pair(p) => format!("[{}, {}]", p.0.to_dotnet_string(), p.1.to_dotnet_string()),
            Value::Handle(h) => format!("{h:?}"),
            Value::Enum(EnumValue::NameType(n)) => format!("{n:?}"),
            Value::Enum(EnumValue::Named(t, v)) => t.display(*v),
            // A match and a group print their value, as .NET's `Capture.ToString()`.
            Value::Obj(o) => match &**o {
                Obj::Match(m) => m.whole().value.to_string(),
                Obj::Group(g) => g.value.to_string(),
                Obj::Regex(r) => r.pattern().to_string(),
                Obj::Uri(u) => u.to_display(),
                Obj::Ip(ip) => ip.to_string(),
                Obj::Form(_) => "System.Collections.Generic.Dictionary`2[System.String,System.Collections.Generic.IList`1[System.String]]".into(),
                Obj::FormList { .. } => "System.Collections.Generic.List`1[System.String]".into(),
                Obj::Collection(_) => format!("System.Collections.Generic.{}", self.type_name()),
                Obj::TimeZone(z) => z.display_name(),
                Obj::Tuple(items) => {
                    let items: Vec<String> = items.iter().map(Value::to_dotnet_string).collect();
                    format!("({})", items.join(", "))
                }
                Obj::Exception { type_name, message } => format!("System.{type_name}: {message}"),
                Obj::Builder(m) => m.lock().map(|s| s.clone()).unwrap_or_default(),
                Obj::Xml(x) => x.to_text(),
                // Newtonsoft: a string value is its text, anything else indented JSON.
                Obj::Json(t) => match t.read(|v| v.as_str().map(str::to_string)) {
                    Some(s) if !t.is_property() => s,
                    _ => t.text(true),
                },
                _ => self.type_name().into(),
            },
        }
    }

    /// The order `OrderBy` and `List<T>.Sort()` put values in: numbers by value, strings
    /// in the culture's order (`dotnet::text`), dates and spans in time, null first; values of different kinds by kind.
    pub fn order(&self, other: &Value) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        let num = |v: &Value| match v {
            Value::Int(i) => Some(*i as f64),
            Value::Double(d) => Some(*d),
            Value::Char(c) => Some(*c as u32 as f64),
            _ => None,
        };
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Less,
            (_, Value::Null) => Ordering::Greater,
            // `Comparer<string>.Default`, as `OrderBy` and `Sort` use it: the culture's order.
            (Value::Str(x), Value::Str(y)) => crate::dotnet::text::compare(
                Some(x),
                Some(y),
                crate::dotnet::text::Comparison::Culture,
            ),
            (Value::DateTime(x), Value::DateTime(y)) => x.wall.cmp(&y.wall),
            (Value::DateTimeOffset(x), Value::DateTimeOffset(y)) => x.utc().cmp(&y.utc()),
            (Value::TimeSpan(x), Value::TimeSpan(y)) => x.cmp(y),
            (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
            (Value::Int(x), Value::Int(y)) => x.cmp(y),
            _ => match (num(self), num(other)) {
                (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
                _ => self.type_name().cmp(other.type_name()),
            },
        }
    }

    /// C# `==` on two values (the checker has made sure the comparison is meaningful).
    pub fn dotnet_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Null, _) | (_, Value::Null) => false,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Int(a), Value::Double(b)) | (Value::Double(b), Value::Int(a)) => {
                (*a as f64) == *b
            }
            (Value::Double(a), Value::Double(b)) => a == b,
            (Value::Char(a), Value::Char(b)) => a == b,
            (Value::DateTime(a), Value::DateTime(b)) => a.wall == b.wall,
            (Value::DateTimeOffset(a), Value::DateTimeOffset(b)) => a == b,
            (Value::TimeSpan(a), Value::TimeSpan(b)) => a == b,
            // Reference types: reference equality, as C# does for byte[] and certificates.
            (Value::Bytes(a), Value::Bytes(b)) => Arc::ptr_eq(a, b),
            (Value::Cert(a), Value::Cert(b)) => Arc::ptr_eq(a, b),
            (Value::Ext(a), Value::Ext(b)) => Arc::ptr_eq(a, b),
            (Value::Array(a), Value::Array(b)) => Arc::ptr_eq(a, b),
            (Value::Enum(a), Value::Enum(b)) => a == b,
            (Value::Handle(a), Value::Handle(b)) => a == b,
            // Uri overloads ==: the same URI, fragments aside.
            (Value::Obj(a), Value::Obj(b)) => match (&**a, &**b) {
                (Obj::Uri(x), Obj::Uri(y)) => x.same(y),
                (Obj::Ip(x), Obj::Ip(y)) => x == y,
                // Names and namespaces are equal by value; nodes by reference.
                (Obj::Xml(x), Obj::Xml(y)) => x.same(y),
                _ => Arc::ptr_eq(a, b),
            },
            _ => false,
        }
    }

    /// Serialises as Json.NET would for simple values.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Double(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
            Value::Char(c) => J::String(c.to_string()),
            Value::Str(s) => J::String(s.to_string()),
            Value::DateTime(d) => J::String(d.format("s").unwrap_or_default()),
            // Json.NET's ISO form with the offset.
            Value::DateTimeOffset(d) => {
                J::String(d.0.format("yyyy-MM-ddTHH:mm:ssK").unwrap_or_default())
            }
            Value::TimeSpan(t) => J::String(t.to_string()),
            Value::Bytes(b) => {
                use base64::Engine;
                J::String(base64::engine::general_purpose::STANDARD.encode(b))
            }
            Value::Array(a) => J::Array(a.iter().map(Value::to_json).collect()),
            Value::Pair(p) => serde_json::json!({"Key": p.0.to_json(), "Value": p.1.to_json()}),
            Value::Cert(c) => {
                serde_json::json!({"Thumbprint": &**c.thumbprint(), "Subject": &**c.subject()})
            }
            Value::Ext(e) => serde_json::json!({"Oid": &*e.oid, "Critical": e.critical}),
            Value::Obj(o) => match &**o {
                Obj::Basic(c) => {
                    serde_json::json!({"UserId": &*c.user_id, "Password": &*c.password})
                }
                // A property serialises as the object holding it.
                Obj::Json(t) => match t.name() {
                    Some(n) => serde_json::json!({ n.to_string(): t.value() }),
                    None => t.value(),
                },
                Obj::Exception { message, .. } => serde_json::json!({ "Message": &**message }),
                Obj::Builder(_) | Obj::Xml(_) => J::String(self.to_dotnet_string()),
                // Json.NET writes a tuple's items as Item1, Item2, ...
                Obj::Tuple(items) => J::Object(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (format!("Item{}", i + 1), v.to_json()))
                        .collect(),
                ),
                Obj::Enumerator(_) => J::Object(Default::default()),
                // Json.NET would write the public parameters; a policy has no use for them in
                // JSON, and a key's private ones must never be written by accident.
                Obj::Rsa(_) => J::Object(Default::default()),
                Obj::TimeZone(z) => serde_json::json!({ "Id": z.id() }),
                Obj::Reader(_) => J::Object(Default::default()),
                // Never a key by accident.
                Obj::Symmetric(_) => J::Object(Default::default()),
                Obj::Form(f) => f.lock().map(|f| f.to_json()).unwrap_or(J::Null),
                // Json.NET writes a list as an array, a dictionary as an object keyed by the
                // keys' text.
                Obj::Collection(c) => match &*c.lock().unwrap_or_else(|e| e.into_inner()) {
                    Collection::List(l) => J::Array(l.iter().map(Value::to_json).collect()),
                    Collection::Set(l) => J::Array(l.keys().map(Value::to_json).collect()),
                    Collection::Queue(q) => J::Array(q.iter().map(Value::to_json).collect()),
                    Collection::Stack(s) => J::Array(s.iter().rev().map(Value::to_json).collect()),
                    Collection::Dict(d) => J::Object(
                        d.entries()
                            .iter()
                            .map(|(k, v)| (k.to_dotnet_string(), v.to_json()))
                            .collect(),
                    ),
                },
                Obj::FormList { form, key } => match &**form {
                    Obj::Form(f) => f
                        .lock()
                        .ok()
                        .and_then(|f| f.values(key).map(|v| J::from(v.to_vec())))
                        .unwrap_or_else(|| J::Array(Vec::new())),
                    _ => J::Null,
                },
                Obj::Jwt(_)
                | Obj::Regex(_)
                | Obj::Match(_)
                | Obj::Group(_)
                | Obj::Hasher(..)
                | Obj::Random(_)
                | Obj::Uri(_)
                | Obj::Ip(_)
                | Obj::Response(_) => J::String(self.to_dotnet_string()),
            },
            Value::Handle(_) | Value::Enum(_) => J::String(self.to_dotnet_string()),
        }
    }
}

/// .NET's shortest round-trip double formatting ("1.5", "2", "1E+20").
fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "∞".into() } else { "-∞".into() };
    }
    if d == d.trunc() && d.abs() < 1e15 {
        return format!("{}", d as i64);
    }
    format!("{d}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_entries_are_found_by_dotnet_equality_in_constant_time() {
        let mut k: Keyed<i32> = Keyed::new();
        // 200 000 distinct keys: a scan per add would be 2e10 comparisons.
        for i in 0..200_000 {
            assert!(k.add(Value::Str(format!("k{i}").into()), i));
        }
        assert_eq!(k.len(), 200_000);
        assert_eq!(k.get(&Value::str("k199999")), Some(&199_999));
        assert!(!k.add(Value::str("k5"), 0));
        // C#'s ==: 1 and 1.0 are one key; arrays and objects by reference.
        let mut n: Keyed<()> = Keyed::new();
        assert!(n.add(Value::Int(1), ()));
        assert!(!n.add(Value::Double(1.0), ()));
        assert!(n.add(Value::Double(1.5), ()));
        let a: Arc<[Value]> = Arc::from(vec![Value::Int(1)]);
        assert!(n.add(Value::Array(a.clone()), ()));
        assert!(!n.add(Value::Array(a), ()));
        assert!(n.add(Value::Array(Arc::from(vec![Value::Int(1)])), ()));
        // Keys without a hash (dates) are found by a scan.
        let d =
            Value::DateTime(crate::dotnet::DateTime::parse_iso("2026-01-02T03:04:05Z").unwrap());
        assert!(n.add(d.clone(), ()));
        assert!(!n.add(d.clone(), ()));
        // Removing keeps the rest found, in order.
        assert!(n.remove(&Value::Int(1)));
        assert!(!n.contains(&Value::Int(1)));
        assert!(n.contains(&Value::Double(1.5)) && n.contains(&d));
        assert!(n
            .keys()
            .next()
            .is_some_and(|k| k.dotnet_eq(&Value::Double(1.5))));
        assert_eq!(n.len(), 4);
    }

    #[test]
    fn dotnet_strings() {
        assert_eq!(Value::Bool(true).to_dotnet_string(), "True");
        assert_eq!(Value::Double(2.0).to_dotnet_string(), "2");
        assert_eq!(Value::Double(1.5).to_dotnet_string(), "1.5");
        assert!(Value::Null.dotnet_eq(&Value::Null));
        assert!(!Value::str("a").dotnet_eq(&Value::Null));
    }
}
