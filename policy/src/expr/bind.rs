//! What the checker and the .NET family files share to bind a member: the error type, the
//! conversions C# allows implicitly, type names, and the [`Binder`] the families call back into
//! (argument lists, sub-expressions) without depending on the checker itself.
//!
//! Must not: know any particular member (those are `members/*`).

use super::ast::{BinOp, Expr, TypeName};
use super::ir::{Builtin, CastTo, Ir, JsonFn, JsonKind, ObjKind, Ty, XmlFn, XmlKind};
use crate::context::RouteInfo;
use crate::dotnet::EnumType;
use crate::value::{Handle, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
/// A type error in an expression: where (offset into the expression text) and why.
pub(crate) struct CheckError {
    pub offset: usize,
    pub message: String,
}

/// The result of binding or checking.
pub(super) type CheckResult<T> = Result<T, CheckError>;
type R<T> = CheckResult<T>;

pub(crate) fn type_err<T>(offset: usize, message: impl Into<String>) -> R<T> {
    Err(CheckError {
        offset,
        message: message.into(),
    })
}

/// The checker as the families see it.
pub(crate) trait Binder {
    /// The route being compiled (`context.Api.*`, `context.Operation.*` are constants).
    fn route(&self) -> &RouteInfo;
    /// Checks a sub-expression.
    fn expr(&mut self, e: &Expr) -> R<(Ir, Ty)>;
    /// Checks a sub-expression and converts it to `want`.
    fn coerce(&mut self, e: &Expr, want: &Ty) -> R<Ir>;
    /// Checks arguments against parameter types; `required` of them must be present.
    fn args(
        &mut self,
        method: &str,
        args: &[Expr],
        params: &[Ty],
        required: usize,
        off: usize,
    ) -> R<Vec<Ir>>;
    /// The local an `out` argument writes, holding values of `ty`: an existing local of that
    /// type (`out x`), or one it declares (`out var x`, `out T x`). Anything else is an error.
    fn out_arg(&mut self, e: &Expr, ty: &Ty) -> R<u16>;
    /// The type of a local in scope, by name.
    fn local_type(&self, name: &str) -> Option<Ty>;
    /// A hidden local for intermediate values (scoped like the expression's other locals).
    fn temp(&mut self, off: usize) -> R<u16>;
    /// Constant folding of a node just built (the checker's; families call it so that they
    /// need not depend on the evaluator that folding runs).
    fn fold(&self, ir: Ir) -> Ir;
    /// [`implicit`], folded.
    fn convert(&self, ir: Ir, from: &Ty, to: &Ty, off: usize) -> R<Ir> {
        implicit(ir, from, to, off).map(|ir| self.fold(ir))
    }
}

/// A member certgate does not have: "not supported by certgate" when .NET (or APIM's context
/// model) has it on an allowed type, else `'T' does not contain a definition for 'name'`.
pub(crate) fn unknown_member<T>(rty: &Ty, name: &str, off: usize) -> R<T> {
    if let Some(decl) = dotnet_name(rty).and_then(|t| crate::dotnet::apim_member(t, name)) {
        return type_err(
            off,
            format!(
                "'{rty}.{name}' is not supported by certgate (APIM allows {decl}.{name} in \
                 expressions; certgate does not implement it yet)"
            ),
        );
    }
    type_err(
        off,
        format!("'{rty}' does not contain a definition for '{name}'"),
    )
}

/// The .NET (or APIM context) type a checker type stands for, as `dotnet::apim_member` names it.
pub(crate) fn dotnet_name(ty: &Ty) -> Option<&'static str> {
    use super::ir::Static as S;
    use crate::value::Handle as H;
    Some(match ty {
        Ty::Str | Ty::Static(S::String) => "System.String",
        Ty::Int | Ty::Static(S::Int32) => "System.Int32",
        Ty::Static(S::Int64) => "System.Int64",
        Ty::Double | Ty::Static(S::Double) => "System.Double",
        Ty::Bool | Ty::Static(S::Boolean) => "System.Boolean",
        Ty::Char => "System.Char",
        Ty::DateTime | Ty::Static(S::DateTime) => "System.DateTime",
        Ty::DateTimeOffset | Ty::Static(S::DateTimeOffset) => "System.DateTimeOffset",
        Ty::TimeSpan | Ty::Static(S::TimeSpan) => "System.TimeSpan",
        Ty::Array(_) | Ty::Bytes | Ty::Static(S::Array) => "System.Array",
        Ty::Static(S::Enumerable) => "System.Linq.Enumerable",
        Ty::Static(S::Math) => "System.Math",
        Ty::Static(S::Convert) => "System.Convert",
        Ty::Static(S::Encoding | S::Encoder(_)) => "System.Text.Encoding",
        Ty::Static(S::BitConverter) => "System.BitConverter",
        Ty::Static(S::WebUtility) => "System.Net.WebUtility",
        Ty::Static(S::Guid) => "System.Guid",
        Ty::Static(S::Uri) => "System.Uri",
        Ty::Static(S::JsonConvert) => "Newtonsoft.Json.JsonConvert",
        Ty::Handle(H::Context) => "IExpressionContext",
        Ty::Obj(ObjKind::Jwt) => "Jwt",
        Ty::Obj(ObjKind::Basic) => "BasicAuthCredentials",
        Ty::Obj(ObjKind::Claims) => "System.Collections.Generic.IReadOnlyDictionary",
        Ty::Obj(ObjKind::Regex) | Ty::Static(S::Regex) => "System.Text.RegularExpressions.Regex",
        Ty::Obj(ObjKind::Match) => "System.Text.RegularExpressions.Match",
        Ty::Obj(ObjKind::Group) => "System.Text.RegularExpressions.Group",
        Ty::Obj(ObjKind::Groups) => "System.Text.RegularExpressions.GroupCollection",
        Ty::Obj(ObjKind::Json(_)) | Ty::Static(S::Json(_)) => "Newtonsoft.Json.Linq.JToken",
        Ty::Obj(ObjKind::Exception) => "System.Exception",
        Ty::Obj(ObjKind::Builder) => "System.Text.StringBuilder",
        Ty::Obj(ObjKind::Random) => "System.Random",
        Ty::Obj(ObjKind::Uri) => "System.Uri",
        Ty::Obj(ObjKind::Ip) | Ty::Static(S::IpAddress) => "System.Net.IPAddress",
        Ty::Obj(ObjKind::Form) => "System.Collections.Generic.IDictionary",
        Ty::List(_) => "System.Collections.Generic.List",
        Ty::Dict(..) => "System.Collections.Generic.Dictionary",
        Ty::Set(_) => "System.Collections.Generic.HashSet",
        Ty::Queue(_) => "System.Collections.Generic.Queue",
        Ty::Tuple(_) | Ty::Static(S::Tuple) => "System.Tuple",
        Ty::Enumerator(_) => "System.Collections.Generic.IEnumerator",
        Ty::Pair(..) | Ty::Static(S::KeyValuePair) => "System.Collections.Generic.KeyValuePair",
        Ty::Stack(_) => "System.Collections.Generic.Stack",
        Ty::Obj(ObjKind::FormList) => "System.Collections.Generic.IList",
        Ty::Obj(ObjKind::Response) => "IResponse",
        Ty::Obj(ObjKind::ResponseHeaders) => "IReadOnlyDictionary",
        Ty::Obj(ObjKind::ResponseBody) => "IMessageBody",
        Ty::Obj(ObjKind::Xml(k)) | Ty::Static(S::Xml(k)) => xml_full_name(*k),
        Ty::Static(S::XmlNodeType) => "System.Xml.XmlNodeType",
        Ty::Static(S::EnumClass) => "System.Enum",
        Ty::Obj(ObjKind::TimeZone) | Ty::Static(S::TimeZoneInfo) => "System.TimeZoneInfo",
        Ty::Static(S::TimeZone) => "System.TimeZone",
        Ty::Obj(ObjKind::StringReader) => "System.IO.StringReader",
        Ty::Obj(ObjKind::Symmetric) | Ty::Static(S::Symmetric) => {
            "System.Security.Cryptography.SymmetricAlgorithm"
        }
        Ty::Obj(ObjKind::StringWriter) => "System.IO.StringWriter",
        Ty::Obj(ObjKind::Rsa) | Ty::Static(S::Rsa) => "System.Security.Cryptography.RSA",
        Ty::Obj(ObjKind::HashName) | Ty::Static(S::HashName) => {
            "System.Security.Cryptography.HashAlgorithmName"
        }
        Ty::Obj(ObjKind::SignPadding) | Ty::Static(S::SignPadding) => {
            "System.Security.Cryptography.RSASignaturePadding"
        }
        Ty::Obj(ObjKind::EncryptPadding) | Ty::Static(S::EncryptPadding) => {
            "System.Security.Cryptography.RSAEncryptionPadding"
        }
        Ty::Obj(ObjKind::PublicKey) => "System.Security.Cryptography.X509Certificates.PublicKey",
        Ty::Static(S::RsaCertExtensions) => {
            "System.Security.Cryptography.X509Certificates.RSACertificateExtensions"
        }
        Ty::Static(S::StringComparer) | Ty::Obj(ObjKind::Comparer) => "System.StringComparer",
        Ty::Enum(e) | Ty::Static(S::Enum(e)) => e.full_name(),
        Ty::Obj(ObjKind::Hasher) | Ty::Static(S::Hash(..)) => {
            "System.Security.Cryptography.HashAlgorithm"
        }
        Ty::Handle(H::Request) => "IRequest",
        Ty::Handle(H::Response) => "IResponse",
        Ty::Handle(H::Api) => "IApi",
        Ty::Handle(H::Operation) => "IOperation",
        Ty::Handle(H::Deployment) => "IDeployment",
        Ty::Handle(H::Product) => "IProduct",
        Ty::Handle(H::Subscription) => "ISubscription",
        Ty::Handle(H::User) => "IUser",
        Ty::Handle(H::Group) => "IGroup",
        Ty::Handle(H::UserIdentity) => "IUserIdentity",
        Ty::Handle(H::KeyParameterNames) => "ISubscriptionKeyParameterNames",
        Ty::Handle(H::PrivateEndpoint) => "IPrivateEndpointConnection",
        Ty::Handle(H::VnetInfo) => "IAzureVnetInfo",
        Ty::Handle(H::RequestBody | H::ResponseBody) => "IMessageBody",
        Ty::Handle(H::Url | H::OriginalUrl) => "IUrl",
        Ty::Handle(
            H::RequestHeaders
            | H::ResponseHeaders
            | H::Query
            | H::OriginalQuery
            | H::MatchedParameters
            | H::Variables
            | H::Certificates,
        ) => "System.Collections.Generic.IReadOnlyDictionary",
        _ => return None,
    })
}

/// A method of one input and one out parameter, `M(input, out result)` (`TryParse`,
/// `TryGetValue`): the input checked as `input`, the out argument as a local of `result`, and
/// [`out_call`] over what `call` makes of the checked input. `args_are` says the two arguments
/// in the arity error ("the text and 'out var result'").
#[allow(clippy::too_many_arguments)]
pub(crate) fn input_and_out(
    b: &mut dyn Binder,
    m: &str,
    args: &[Expr],
    input: &Ty,
    result: &Ty,
    default: Value,
    args_are: &str,
    call: impl FnOnce(Ir) -> Ir,
    off: usize,
) -> R<(Ir, Ty)> {
    let [x, out] = args else {
        return type_err(off, format!("'{m}' takes 2 arguments: {args_are}"));
    };
    let x = b.coerce(x, input)?;
    let out = b.out_arg(out, result)?;
    let tmp = b.temp(off)?;
    Ok((out_call(call(x), tmp, out, default), Ty::Bool))
}

/// `TryGetValue(key, out v)` on a dictionary with keys of `key_ty` and values of `value_ty`:
/// the key goes to a hidden local, then `contains ? (v = get, true) : (v = default, false)`,
/// where `lookup(key)` makes the contains and get calls from the expression that reads it.
pub(crate) fn try_get(
    b: &mut dyn Binder,
    args: &[Expr],
    key_ty: &Ty,
    value_ty: &Ty,
    default: Value,
    lookup: impl Fn(Ir) -> (Ir, Ir),
    off: usize,
) -> R<(Ir, Ty)> {
    let [key, out] = args else {
        return type_err(
            off,
            "'TryGetValue' takes 2 arguments: the key and 'out var value'",
        );
    };
    let key = b.coerce(key, key_ty)?;
    let out = b.out_arg(out, value_ty)?;
    let k = b.temp(off)?;
    let (contains, get) = lookup(Ir::Local(k));
    let found = |value: Ir, yes: bool| {
        Ir::Seq(vec![
            Ir::Assign(out, Box::new(value)),
            Ir::Const(Value::Bool(yes)),
        ])
    };
    Ok((
        Ir::Seq(vec![
            Ir::Assign(k, Box::new(key)),
            Ir::Cond(
                Box::new(contains),
                Box::new(found(get, true)),
                Box::new(found(Ir::Const(default), false)),
            ),
        ]),
        Ty::Bool,
    ))
}

/// What a method with an out parameter becomes: `call` yields the value or null; the out local
/// gets the value or `default`; the result is whether there was a value.
pub(crate) fn out_call(call: Ir, tmp: u16, out: u16, default: Value) -> Ir {
    Ir::Seq(vec![
        Ir::Assign(tmp, Box::new(call)),
        Ir::Assign(
            out,
            Box::new(Ir::Coalesce(
                Box::new(Ir::Local(tmp)),
                Box::new(Ir::Const(default)),
            )),
        ),
        Ir::Binary(
            BinOp::Ne,
            Box::new(Ir::Local(tmp)),
            Box::new(Ir::Const(Value::Null)),
        ),
    ])
}

/// `recv` followed by the checked arguments: an instance member's argument list.
pub(crate) fn with_recv(recv: Ir, mut args: Vec<Ir>) -> Vec<Ir> {
    args.insert(0, recv);
    args
}

pub(crate) fn check_printable(ty: &Ty, off: usize) -> R<()> {
    match ty {
        Ty::Static(_) | Ty::Namespace(_) | Ty::Void => {
            type_err(off, format!("'{ty}' cannot be converted to a string"))
        }
        _ => Ok(()),
    }
}

/// Implicit conversion of `ir` from `from` to `to`, as C# allows it (unfolded: callers fold
/// through [`Binder::convert`] or the checker's own `convert`).
pub(crate) fn implicit(ir: Ir, from: &Ty, to: &Ty, off: usize) -> R<Ir> {
    if from == to {
        return Ok(ir);
    }
    match (from, to) {
        (Ty::Null, t) if t.is_reference() || matches!(t, Ty::Handle(_)) => Ok(ir),
        (_, Ty::Object) if !matches!(from, Ty::Static(_) | Ty::Namespace(_) | Ty::Void) => Ok(ir),
        (Ty::Int | Ty::Char, Ty::Double) => Ok(Ir::Cast(CastTo::Double, Box::new(ir))),
        (Ty::Char, Ty::Int) => Ok(Ir::Cast(CastTo::Int, Box::new(ir))),
        (Ty::Array(e), Ty::Bytes) if **e == Ty::Int => Ok(ir),
        // Every token class is a JToken; a string, number, boolean or null becomes a JValue.
        (Ty::Obj(ObjKind::Json(_)), Ty::Obj(ObjKind::Json(JsonKind::Token))) => Ok(ir),
        (
            Ty::Str | Ty::Int | Ty::Double | Ty::Bool | Ty::Null,
            Ty::Obj(ObjKind::Json(JsonKind::Token | JsonKind::Value)),
        ) => Ok(Ir::Call(Builtin::Json(JsonFn::FromValue), vec![ir])),
        (Ty::Null, Ty::DateTime | Ty::TimeSpan | Ty::Int | Ty::Bool | Ty::Double) => Ok(ir),
        // XLinq's class tree, and a string's implicit conversions to XName and XNamespace.
        (Ty::Obj(ObjKind::Xml(a)), Ty::Obj(ObjKind::Xml(b))) if a.is_a(*b) => Ok(ir),
        (Ty::Str, Ty::Obj(ObjKind::Xml(XmlKind::Name))) => {
            Ok(Ir::Call(Builtin::Xml(XmlFn::Name), vec![ir]))
        }
        (Ty::Str, Ty::Obj(ObjKind::Xml(XmlKind::Namespace))) => {
            Ok(Ir::Call(Builtin::Xml(XmlFn::Namespace), vec![ir]))
        }
        (Ty::Object, _) => type_err(off, format!("cannot implicitly convert 'object' to '{to}'; expected an explicit cast such as ({to})")),
        _ => type_err(off, format!("cannot implicitly convert type '{from}' to '{to}'")),
    }
}

/// The common type of two branches/returns, when there is one.
pub(super) fn unify(a: &Ty, b: &Ty) -> Option<Ty> {
    match (a, b) {
        _ if a == b => Some(a.clone()),
        (Ty::Null, t) | (t, Ty::Null) => Some(t.clone()),
        (Ty::Int, Ty::Double) | (Ty::Double, Ty::Int) => Some(Ty::Double),
        (Ty::Object, _) | (_, Ty::Object) => Some(Ty::Object),
        _ => None,
    }
}

/// The refusal of a name certgate does not know, when APIM allows the type it designates
/// (issue 13: a construct certgate lacks says so by name); `None` when APIM refuses it too.
pub(super) fn not_in_certgate(name: &str) -> Option<String> {
    crate::dotnet::apim_type(name).map(|full| {
        format!(
            "'{name}' is not supported by certgate (APIM allows {full} in expressions; \
             certgate does not implement it yet)"
        )
    })
}

/// The class a name designates (`JObject`, `Newtonsoft.Json.Linq.JArray`, ...).
pub(crate) fn json_class(name: &str) -> Option<JsonKind> {
    let short = name.strip_prefix("Newtonsoft.Json.Linq.").unwrap_or(name);
    Some(match short {
        "JToken" | "JContainer" => JsonKind::Token,
        "JObject" => JsonKind::Object,
        "JArray" => JsonKind::Array,
        "JProperty" => JsonKind::Property,
        "JValue" => JsonKind::Value,
        _ => return None,
    })
}

/// The XLinq class a name designates (`XElement`, `System.Xml.Linq.XDocument`, ...).
pub(crate) fn xml_class(name: &str) -> Option<XmlKind> {
    let short = name.strip_prefix("System.Xml.Linq.").unwrap_or(name);
    Some(match short {
        "XObject" => XmlKind::Object,
        "XNode" => XmlKind::Node,
        "XContainer" => XmlKind::Container,
        "XDocument" => XmlKind::Document,
        "XElement" => XmlKind::Element,
        "XAttribute" => XmlKind::Attribute,
        "XText" => XmlKind::Text,
        "XCData" => XmlKind::CData,
        "XComment" => XmlKind::Comment,
        "XProcessingInstruction" => XmlKind::Pi,
        "XName" => XmlKind::Name,
        "XNamespace" => XmlKind::Namespace,
        "XDeclaration" => XmlKind::Declaration,
        _ => return None,
    })
}

/// The full .NET name of an XLinq class (`dotnet::apim_member` looks members up by it).
fn xml_full_name(k: XmlKind) -> &'static str {
    match k {
        XmlKind::Object => "System.Xml.Linq.XObject",
        XmlKind::Node => "System.Xml.Linq.XNode",
        XmlKind::Container => "System.Xml.Linq.XContainer",
        XmlKind::Document => "System.Xml.Linq.XDocument",
        XmlKind::Element => "System.Xml.Linq.XElement",
        XmlKind::Attribute => "System.Xml.Linq.XAttribute",
        XmlKind::Text => "System.Xml.Linq.XText",
        XmlKind::CData => "System.Xml.Linq.XCData",
        XmlKind::Comment => "System.Xml.Linq.XComment",
        XmlKind::Pi => "System.Xml.Linq.XProcessingInstruction",
        XmlKind::Name => "System.Xml.Linq.XName",
        XmlKind::Namespace => "System.Xml.Linq.XNamespace",
        XmlKind::Declaration => "System.Xml.Linq.XDeclaration",
    }
}

/// The width and signedness of a narrow integer type a cast names: C#'s unchecked explicit
/// conversion keeps the low bits (`(byte)300` is 44). `None` for `int`, `long` and the rest.
pub(super) fn narrow_cast(t: &TypeName) -> Option<(u8, bool)> {
    if t.array || !t.args.is_empty() {
        return None;
    }
    let short = t.name.strip_prefix("System.").unwrap_or(&t.name);
    Some(match short {
        "byte" | "Byte" => (8, false),
        "sbyte" | "SByte" => (8, true),
        "short" | "Int16" => (16, true),
        "ushort" | "UInt16" => (16, false),
        "int" | "Int32" => (32, true),
        "uint" | "UInt32" => (32, false),
        _ => return None,
    })
}

pub(super) fn resolve_type(t: &TypeName, off: usize) -> R<Ty> {
    let base = match t.name.as_str() {
        "string" | "String" | "System.String" => Ty::Str,
        "int" | "Int32" | "long" | "Int64" | "short" | "System.Int32" => Ty::Int,
        // The other integer types are 64-bit integers here; a cast to one wraps to its width
        // (`narrow_cast`).
        "sbyte" | "SByte" | "ushort" | "UInt16" | "Int16" | "uint" | "UInt32" | "ulong"
        | "UInt64" | "System.Int64" | "System.Int16" | "System.UInt16" | "System.UInt32"
        | "System.UInt64" | "System.SByte" | "System.Byte" => Ty::Int,
        "byte" | "Byte" if t.array => return Ok(Ty::Bytes),
        "byte" | "Byte" => Ty::Int,
        "bool" | "Boolean" | "System.Boolean" => Ty::Bool,
        "double" | "Double" | "float" | "decimal" => Ty::Double,
        "char" | "Char" => Ty::Char,
        "object" | "Object" | "dynamic" => Ty::Object,
        "DateTime" | "System.DateTime" => Ty::DateTime,
        "DateTimeOffset" | "System.DateTimeOffset" => Ty::DateTimeOffset,
        "TimeSpan" | "System.TimeSpan" => Ty::TimeSpan,
        "X509Certificate2" | "X509Certificate" => Ty::Cert,
        "Jwt" => Ty::Obj(ObjKind::Jwt),
        "IResponse" => Ty::Obj(ObjKind::Response),
        "StringBuilder" | "System.Text.StringBuilder" => Ty::Obj(ObjKind::Builder),
        "Random" | "System.Random" => Ty::Obj(ObjKind::Random),
        "Uri" | "System.Uri" => Ty::Obj(ObjKind::Uri),
        "IPAddress" | "System.Net.IPAddress" => Ty::Obj(ObjKind::Ip),
        "List" | "System.Collections.Generic.List" if t.args.len() == 1 => {
            Ty::List(Box::new(resolve_type(&t.args[0], off)?))
        }
        // The read-only views of a sequence a policy casts to: an array of the items.
        "IEnumerable"
        | "ICollection"
        | "IList"
        | "IReadOnlyCollection"
        | "IReadOnlyList"
        | "System.Collections.Generic.IEnumerable"
        | "System.Collections.Generic.ICollection"
        | "System.Collections.Generic.IList"
        | "System.Collections.Generic.IReadOnlyCollection"
        | "System.Collections.Generic.IReadOnlyList"
            if t.args.len() == 1 =>
        {
            Ty::Array(Box::new(resolve_type(&t.args[0], off)?))
        }
        "HashSet" | "System.Collections.Generic.HashSet" if t.args.len() == 1 => {
            Ty::Set(Box::new(resolve_type(&t.args[0], off)?))
        }
        "IDictionary"
        | "IReadOnlyDictionary"
        | "System.Collections.Generic.IDictionary"
        | "System.Collections.Generic.IReadOnlyDictionary"
            if t.args.len() == 2 =>
        {
            Ty::Dict(
                Box::new(resolve_type(&t.args[0], off)?),
                Box::new(resolve_type(&t.args[1], off)?),
            )
        }
        "ISet" | "IReadOnlySet" | "System.Collections.Generic.ISet" if t.args.len() == 1 => {
            Ty::Set(Box::new(resolve_type(&t.args[0], off)?))
        }
        "KeyValuePair" | "System.Collections.Generic.KeyValuePair" if t.args.len() == 2 => {
            Ty::Pair(
                Box::new(resolve_type(&t.args[0], off)?),
                Box::new(resolve_type(&t.args[1], off)?),
            )
        }
        "Tuple" | "System.Tuple" if (1..=7).contains(&t.args.len()) => Ty::Tuple(
            t.args
                .iter()
                .map(|a| resolve_type(a, off))
                .collect::<R<Vec<_>>>()?,
        ),
        "IEnumerator" | "System.Collections.Generic.IEnumerator" if t.args.len() == 1 => {
            Ty::Enumerator(Box::new(resolve_type(&t.args[0], off)?))
        }
        "Queue" | "System.Collections.Generic.Queue" if t.args.len() == 1 => {
            Ty::Queue(Box::new(resolve_type(&t.args[0], off)?))
        }
        "Stack" | "System.Collections.Generic.Stack" if t.args.len() == 1 => {
            Ty::Stack(Box::new(resolve_type(&t.args[0], off)?))
        }
        "Dictionary" | "System.Collections.Generic.Dictionary" if t.args.len() == 2 => Ty::Dict(
            Box::new(resolve_type(&t.args[0], off)?),
            Box::new(resolve_type(&t.args[1], off)?),
        ),
        "HashAlgorithm" | "HMAC" | "KeyedHashAlgorithm" => Ty::Obj(ObjKind::Hasher),
        h if crate::dotnet::hash_class(h).is_some() => Ty::Obj(ObjKind::Hasher),
        "Regex" | "System.Text.RegularExpressions.Regex" => Ty::Obj(ObjKind::Regex),
        "Match" | "System.Text.RegularExpressions.Match" => Ty::Obj(ObjKind::Match),
        "Group" | "System.Text.RegularExpressions.Group" => Ty::Obj(ObjKind::Group),
        "BasicAuthCredentials" => Ty::Obj(ObjKind::Basic),
        "Type" | "System.Type" => Ty::Obj(ObjKind::Type),
        // APIM's context interfaces, as a value stored in a variable is cast back to one.
        "IRequest" => Ty::Handle(Handle::Request),
        "IUrl" => Ty::Handle(Handle::Url),
        "IMessageBody" => Ty::Handle(Handle::RequestBody),
        "IApi" | "IContextApi" => Ty::Handle(Handle::Api),
        "IOperation" => Ty::Handle(Handle::Operation),
        "IDeployment" => Ty::Handle(Handle::Deployment),
        "ILastError" => Ty::Handle(Handle::LastError),
        "IProduct" => Ty::Handle(Handle::Product),
        "ISubscription" => Ty::Handle(Handle::Subscription),
        "IUser" => Ty::Handle(Handle::User),
        "IGroup" => Ty::Handle(Handle::Group),
        "IUserIdentity" => Ty::Handle(Handle::UserIdentity),
        "ISubscriptionKeyParameterNames" => Ty::Handle(Handle::KeyParameterNames),
        "IPrivateEndpointConnection" => Ty::Handle(Handle::PrivateEndpoint),
        "IAzureVnetInfo" => Ty::Handle(Handle::VnetInfo),
        "Oid" | "System.Security.Cryptography.Oid" => Ty::Oid,
        "StringReader" | "System.IO.StringReader" => Ty::Obj(ObjKind::StringReader),
        "SymmetricAlgorithm" | "System.Security.Cryptography.SymmetricAlgorithm" => {
            Ty::Obj(ObjKind::Symmetric)
        }
        "StringWriter" | "System.IO.StringWriter" => Ty::Obj(ObjKind::StringWriter),
        "TimeZoneInfo" | "System.TimeZoneInfo" | "TimeZone" | "System.TimeZone" => {
            Ty::Obj(ObjKind::TimeZone)
        }
        "RSA"
        | "AsymmetricAlgorithm"
        | "System.Security.Cryptography.RSA"
        | "System.Security.Cryptography.AsymmetricAlgorithm" => Ty::Obj(ObjKind::Rsa),
        "HashAlgorithmName" | "System.Security.Cryptography.HashAlgorithmName" => {
            Ty::Obj(ObjKind::HashName)
        }
        "RSASignaturePadding" | "System.Security.Cryptography.RSASignaturePadding" => {
            Ty::Obj(ObjKind::SignPadding)
        }
        "RSAEncryptionPadding" | "System.Security.Cryptography.RSAEncryptionPadding" => {
            Ty::Obj(ObjKind::EncryptPadding)
        }
        "PublicKey" | "System.Security.Cryptography.X509Certificates.PublicKey" => {
            Ty::Obj(ObjKind::PublicKey)
        }
        "StringComparer" | "System.StringComparer" => Ty::Obj(ObjKind::Comparer),
        other => match (json_class(other), xml_class(other), EnumType::named(other)) {
            (Some(k), _, _) => Ty::Obj(ObjKind::Json(k)),
            (None, Some(k), _) => Ty::Obj(ObjKind::Xml(k)),
            (None, None, Some(e)) => Ty::Enum(e),
            (None, None, None) => {
                return type_err(
                    off,
                    not_in_certgate(other).unwrap_or_else(|| {
                        format!("the type '{other}' is not available in policy expressions")
                    }),
                )
            }
        },
    };
    Ok(if t.array {
        Ty::Array(Box::new(base))
    } else {
        base
    })
}

/// `ParseExact(text, format[, provider])` (and `TimeSpan`'s): the text and the format checked
/// as strings; the provider may be given as `null` (APIM allows no `CultureInfo`; certgate
/// reads dates in the invariant culture either way).
pub(crate) fn text_and_format(
    b: &mut dyn Binder,
    m: &str,
    args: &[Expr],
    off: usize,
) -> R<Vec<Ir>> {
    let (text, format) = match args {
        [t, f] | [t, f, _] => (t, f),
        _ => {
            return type_err(
                off,
                format!("'{m}' takes the text, the format and a format provider (null)"),
            )
        }
    };
    if let Some(p) = args.get(2) {
        let (_, t) = b.expr(p)?;
        if !matches!(t, Ty::Null | Ty::Object) {
            return type_err(
                p.offset,
                format!("a format provider of type '{t}' is not supported by certgate; pass null"),
            );
        }
    }
    Ok(vec![b.coerce(text, &Ty::Str)?, b.coerce(format, &Ty::Str)?])
}
