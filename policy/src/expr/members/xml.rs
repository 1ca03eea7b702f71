//! System.Xml.Linq: `XDocument` and `XElement` (`Parse`, construction with content, `Root`,
//! `Elements`, `Element`, `Descendants`, `Ancestors`, `Attributes`, `Attribute`, `Nodes`,
//! `Value`, the editing methods `Add`, `Remove`, `SetAttributeValue`, `SetElementValue`, ...),
//! `XAttribute`, `XText`/`XCData`/`XComment`/`XProcessingInstruction`, `XName` (a string
//! converts to one implicitly, `{namespace}local` included), `XNamespace` (`ns + "local"`),
//! `XDeclaration`, the explicit conversions of an element or attribute (`(string)e`,
//! `(int)e`, ...), the extension methods on sequences of them (`Extensions.Elements`, ...),
//! `XmlNodeType`, `SaveOptions` and `LoadOptions`. Checker bindings and evaluator in one file;
//! the tree and its writer are [`crate::dotnet::xml`].

use std::sync::Arc;

use crate::dotnet::xml::{self, Content, Declaration, Kind, LeafKind, Name, XObject, XRef};
use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Obj, Value};

fn call(f: XmlFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Xml(f), args)
}

const fn ty(k: XmlKind) -> Ty {
    Ty::Obj(ObjKind::Xml(k))
}

fn seq(k: XmlKind) -> Ty {
    Ty::Array(Box::new(ty(k)))
}

/// The XLinq class (or enum) a name designates, as a static class.
pub(crate) fn class(name: &str) -> Option<Static> {
    let short = name.strip_prefix("System.Xml.Linq.").unwrap_or(name);
    Some(match short {
        "XmlNodeType" | "System.Xml.XmlNodeType" => Static::XmlNodeType,
        "SaveOptions" => Static::SaveOptions,
        "LoadOptions" => Static::LoadOptions,
        _ => Static::Xml(xml_class(short)?),
    })
}

/// Whether the value `o` is of class `k` (for casts, `is` and `as`).
pub(crate) fn fits(o: &XObject, k: XmlKind) -> bool {
    xml_class(o.class()).is_some_and(|actual| actual.is_a(k))
}

/// `XmlNodeType.X`, `SaveOptions.X`, `LoadOptions.X` (as their numbers), `XNamespace.None`,
/// `.Xml`, `.Xmlns`.
pub(crate) fn static_member(s: Static, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let n = match (s, name) {
        (Static::Xml(XmlKind::Namespace), "None" | "Xml" | "Xmlns") => {
            let uri = match name {
                "Xml" => xml::XML,
                "Xmlns" => xml::XMLNS,
                _ => "",
            };
            return Ok((
                call(XmlFn::Namespace, vec![Ir::Const(Value::str(uri))]),
                ty(XmlKind::Namespace),
            ));
        }
        (Static::XmlNodeType, _) => match node_type_number(name) {
            Some(n) => n,
            None => return unknown_member(&Ty::Static(s), name, off),
        },
        (Static::SaveOptions, "None") | (Static::LoadOptions, "None") => 0,
        (Static::SaveOptions, "DisableFormatting")
        | (Static::LoadOptions, "PreserveWhitespace") => 1,
        (Static::SaveOptions, "OmitDuplicateNamespaces") | (Static::LoadOptions, "SetBaseUri") => 2,
        (Static::LoadOptions, "SetLineInfo") => 4,
        _ => return unknown_member(&Ty::Static(s), name, off),
    };
    Ok((Ir::Const(Value::Int(n)), Ty::Int))
}

fn node_type_number(name: &str) -> Option<i64> {
    Some(match name {
        "None" => 0,
        "Element" => 1,
        "Attribute" => 2,
        "Text" => 3,
        "CDATA" => 4,
        "EntityReference" => 5,
        "Entity" => 6,
        "ProcessingInstruction" => 7,
        "Comment" => 8,
        "Document" => 9,
        "DocumentType" => 10,
        "DocumentFragment" => 11,
        "Notation" => 12,
        "Whitespace" => 13,
        "SignificantWhitespace" => 14,
        "EndElement" => 15,
        "EndEntity" => 16,
        "XmlDeclaration" => 17,
        _ => return None,
    })
}

/// `XDocument.Parse(text[, options])`, `XElement.Parse(..)`, `XName.Get(..)`,
/// `XNamespace.Get(uri)`.
pub(crate) fn static_method(
    b: &mut dyn Binder,
    k: XmlKind,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    match (k, m) {
        (XmlKind::Document | XmlKind::Element, "Parse") => {
            let a = b.args(m, args, &[Ty::Str, Ty::Int], 1, off)?;
            Ok((call(XmlFn::Parse(k == XmlKind::Document), a), ty(k)))
        }
        (XmlKind::Name, "Get") => {
            let a = b.args(m, args, &[Ty::Str, Ty::Str], 1, off)?;
            Ok((call(XmlFn::NameGet, a), ty(XmlKind::Name)))
        }
        (XmlKind::Namespace, "Get") => {
            let a = b.args(m, args, &[Ty::Str], 1, off)?;
            Ok((call(XmlFn::Namespace, a), ty(XmlKind::Namespace)))
        }
        _ => unknown_member(&Ty::Static(Static::Xml(k)), m, off),
    }
}

/// Every argument of a `params object[] content` list, checked (any value may be content).
fn content(b: &mut dyn Binder, args: &[Expr]) -> CheckResult<Vec<Ir>> {
    args.iter()
        .map(|a| {
            let (ir, t) = b.expr(a)?;
            check_printable(&t, a.offset)?;
            Ok(ir)
        })
        .collect()
}

/// `new XElement(name, content...)`, `new XElement(other)`, `new XDocument(content...)`,
/// `new XAttribute(name, value)`, `new XText(v)`, `new XCData(v)`, `new XComment(v)`,
/// `new XProcessingInstruction(target, data)`, `new XDeclaration(version, encoding,
/// standalone)`; `None` when `name` is not one of them.
pub(crate) fn new(
    b: &mut dyn Binder,
    name: &str,
    args: &[Expr],
    off: usize,
) -> Option<CheckResult<(Ir, Ty)>> {
    let k = xml_class(name)?;
    Some((|| {
        let (f, a) = match k {
            XmlKind::Element => {
                let Some(first) = args.first() else {
                    return type_err(
                        off,
                        "'XElement' takes a name (and content), or an XElement to copy",
                    );
                };
                let (ir, t) = b.expr(first)?;
                if t == ty(XmlKind::Element) {
                    if args.len() > 1 {
                        return type_err(off, "'XElement' copies one element");
                    }
                    (XmlFn::CopyElement, vec![ir])
                } else {
                    let name = b.convert(ir, &t, &ty(XmlKind::Name), first.offset)?;
                    let mut a = vec![name];
                    a.extend(content(b, &args[1..])?);
                    (XmlFn::NewElement, a)
                }
            }
            XmlKind::Document => (XmlFn::NewDocument, content(b, args)?),
            XmlKind::Attribute => {
                let [n, v] = args else {
                    return type_err(off, "'XAttribute' takes a name and a value");
                };
                let n = b.coerce(n, &ty(XmlKind::Name))?;
                let (v, t) = b.expr(v)?;
                check_printable(&t, off)?;
                (XmlFn::NewAttribute, vec![n, v])
            }
            XmlKind::Text | XmlKind::CData | XmlKind::Comment => {
                let leaf = match k {
                    XmlKind::Text => 0,
                    XmlKind::CData => 1,
                    _ => 2,
                };
                (
                    XmlFn::NewLeaf(leaf),
                    b.args(name, args, &[Ty::Str], 1, off)?,
                )
            }
            XmlKind::Pi => (
                XmlFn::NewLeaf(3),
                b.args(name, args, &[Ty::Str, Ty::Str], 2, off)?,
            ),
            XmlKind::Declaration => (
                XmlFn::NewDeclaration,
                b.args(name, args, &[Ty::Str, Ty::Str, Ty::Str], 3, off)?,
            ),
            _ => return type_err(off, format!("'{}' cannot be created with 'new'", k.class())),
        };
        Ok((call(f, a), ty(k)))
    })())
}

/// Properties.
pub(crate) fn member(recv: Ir, k: XmlKind, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    use XmlKind as K;
    let node = k.is_a(K::Node) || k == K::Attribute;
    let (p, t) = match (name, k) {
        ("Name", K::Element | K::Attribute) => (XmlProp::Name, ty(K::Name)),
        ("LocalName", K::Name) => (XmlProp::LocalName, Ty::Str),
        ("NamespaceName", K::Name | K::Namespace) => (XmlProp::NamespaceName, Ty::Str),
        ("Namespace", K::Name) => (XmlProp::NameNamespace, ty(K::Namespace)),
        ("Value", K::Element | K::Attribute | K::Text | K::CData | K::Comment) => {
            (XmlProp::Value, Ty::Str)
        }
        ("Root", K::Document) => (XmlProp::Root, ty(K::Element)),
        ("Declaration", K::Document) => (XmlProp::Declaration, ty(K::Declaration)),
        ("Parent", _) if node => (XmlProp::Parent, ty(K::Element)),
        ("Document", _) if node => (XmlProp::Document, ty(K::Document)),
        ("NodeType", _) if node || k == K::Document || k == K::Container => {
            (XmlProp::NodeType, Ty::Int)
        }
        ("HasElements", K::Element) => (XmlProp::HasElements, Ty::Bool),
        ("HasAttributes", K::Element) => (XmlProp::HasAttributes, Ty::Bool),
        ("IsEmpty", K::Element) => (XmlProp::IsEmpty, Ty::Bool),
        ("FirstNode", _) if k.is_a(K::Container) => (XmlProp::FirstNode, ty(K::Node)),
        ("LastNode", _) if k.is_a(K::Container) => (XmlProp::LastNode, ty(K::Node)),
        ("NextNode", _) if k.is_a(K::Node) => (XmlProp::NextNode, ty(K::Node)),
        ("PreviousNode", _) if k.is_a(K::Node) => (XmlProp::PreviousNode, ty(K::Node)),
        ("FirstAttribute", K::Element) => (XmlProp::FirstAttribute, ty(K::Attribute)),
        ("LastAttribute", K::Element) => (XmlProp::LastAttribute, ty(K::Attribute)),
        ("Version", K::Declaration) => (XmlProp::Version, Ty::Str),
        ("Encoding", K::Declaration) => (XmlProp::Encoding, Ty::Str),
        ("Standalone", K::Declaration) => (XmlProp::Standalone, Ty::Str),
        ("Target", K::Pi) => (XmlProp::Target, Ty::Str),
        ("Data", K::Pi) => (XmlProp::Data, Ty::Str),
        _ => return unknown_member(&ty(k), name, off),
    };
    Ok((call(XmlFn::Prop(p), vec![recv]), t))
}

/// The query a method name asks for, and whether it takes a name.
fn query(m: &str) -> Option<(XmlQuery, bool)> {
    use XmlQuery as Q;
    Some(match m {
        "Elements" => (Q::Elements, true),
        "Element" => (Q::Element, true),
        "Descendants" => (Q::Descendants, true),
        "DescendantsAndSelf" => (Q::DescendantsAndSelf, true),
        "Ancestors" => (Q::Ancestors, true),
        "AncestorsAndSelf" => (Q::AncestorsAndSelf, true),
        "Attributes" => (Q::Attributes, true),
        "Attribute" => (Q::Attribute, true),
        "Nodes" => (Q::Nodes, false),
        "DescendantNodes" => (Q::DescendantNodes, false),
        _ => return None,
    })
}

fn query_type(q: XmlQuery) -> Ty {
    use XmlQuery as Q;
    match q {
        Q::Element => ty(XmlKind::Element),
        Q::Attribute => ty(XmlKind::Attribute),
        Q::Attributes => seq(XmlKind::Attribute),
        Q::Nodes | Q::DescendantNodes => seq(XmlKind::Node),
        _ => seq(XmlKind::Element),
    }
}

/// Whether an object of class `k` has the query `q`.
fn has_query(k: XmlKind, q: XmlQuery) -> bool {
    use XmlQuery as Q;
    match q {
        Q::Elements | Q::Element | Q::Descendants | Q::Nodes | Q::DescendantNodes => {
            k.is_a(XmlKind::Container)
        }
        Q::DescendantsAndSelf | Q::AncestorsAndSelf | Q::Attributes | Q::Attribute => {
            k == XmlKind::Element
        }
        Q::Ancestors => k.is_a(XmlKind::Node),
    }
}

/// The name argument of a query: required for `Element` and `Attribute`, optional for the
/// rest, none for `Nodes`.
fn query_args(
    b: &mut dyn Binder,
    m: &str,
    q: XmlQuery,
    named: bool,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Vec<Ir>, bool)> {
    let required = usize::from(matches!(q, XmlQuery::Element | XmlQuery::Attribute));
    let params: &[Ty] = if named { &[ty(XmlKind::Name)] } else { &[] };
    let a = b.args(m, args, params, required, off)?;
    let has = !a.is_empty();
    Ok((a, has))
}

/// Methods of the XLinq classes (`ToString` with options included).
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    k: XmlKind,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    use XmlKind as K;
    if let Some((q, named)) = query(m).filter(|(q, _)| has_query(k, *q)) {
        let (a, has_name) = query_args(b, m, q, named, args, off)?;
        return Ok((
            call(XmlFn::Query(q, has_name), with_recv(recv, a)),
            query_type(q),
        ));
    }
    let container = k.is_a(K::Container);
    let node = k.is_a(K::Node);
    let (e, a) = match m {
        "ToString" if node || k == K::Document => {
            let a = b.args(m, args, &[Ty::Int], 1, off)?;
            return Ok((call(XmlFn::ToText, with_recv(recv, a)), Ty::Str));
        }
        "GetName" if k == K::Namespace => {
            let a = b.args(m, args, &[Ty::Str], 1, off)?;
            return Ok((call(XmlFn::NsName, with_recv(recv, a)), ty(K::Name)));
        }
        "Add" if container => (XmlEdit::Add, content(b, args)?),
        "AddFirst" if container => (XmlEdit::AddFirst, content(b, args)?),
        "ReplaceNodes" if container => (XmlEdit::ReplaceNodes, content(b, args)?),
        "ReplaceAll" if k == K::Element => (XmlEdit::ReplaceAll, content(b, args)?),
        "AddBeforeSelf" if node => (XmlEdit::AddBeforeSelf, content(b, args)?),
        "AddAfterSelf" if node => (XmlEdit::AddAfterSelf, content(b, args)?),
        "ReplaceWith" if node => (XmlEdit::ReplaceWith, content(b, args)?),
        "Remove" if node || k == K::Attribute => (XmlEdit::Remove, b.args(m, args, &[], 0, off)?),
        "RemoveNodes" if container => (XmlEdit::RemoveNodes, b.args(m, args, &[], 0, off)?),
        "RemoveAll" if k == K::Element => (XmlEdit::RemoveAll, b.args(m, args, &[], 0, off)?),
        "RemoveAttributes" if k == K::Element => {
            (XmlEdit::RemoveAttributes, b.args(m, args, &[], 0, off)?)
        }
        "SetValue"
            if matches!(
                k,
                K::Element | K::Attribute | K::Text | K::CData | K::Comment
            ) =>
        {
            let [v] = args else {
                return type_err(off, "'SetValue' takes the value");
            };
            (XmlEdit::SetValue, content(b, std::slice::from_ref(v))?)
        }
        "SetAttributeValue" | "SetElementValue" if k == K::Element => {
            let [n, v] = args else {
                return type_err(
                    off,
                    format!("'{m}' takes a name and a value (null removes)"),
                );
            };
            let n = b.coerce(n, &ty(K::Name))?;
            let mut a = vec![n];
            a.extend(content(b, std::slice::from_ref(v))?);
            let e = if m == "SetAttributeValue" {
                XmlEdit::SetAttributeValue
            } else {
                XmlEdit::SetElementValue
            };
            (e, a)
        }
        _ => return unknown_member(&ty(k), m, off),
    };
    Ok((call(XmlFn::Edit(e), with_recv(recv, a)), Ty::Void))
}

/// The extension methods of `System.Xml.Linq.Extensions` on a sequence of elements,
/// containers, nodes or attributes (`doc.Descendants("a").Elements("b")`, `.Remove()`);
/// `None` for other sequences and methods.
pub(crate) fn seq_method(
    b: &mut dyn Binder,
    recv: Ir,
    rty: &Ty,
    m: &str,
    args: &[Expr],
    off: usize,
) -> Option<CheckResult<(Ir, Ty)>> {
    let Ty::Array(e) = rty else { return None };
    let Ty::Obj(ObjKind::Xml(k)) = **e else {
        return None;
    };
    if m == "Remove" && (k.is_a(XmlKind::Node) || k == XmlKind::Attribute) {
        return Some(
            b.args(m, args, &[], 0, off)
                .map(|_| (call(XmlFn::SeqRemove, vec![recv]), Ty::Void)),
        );
    }
    let (q, named) = query(m)?;
    let applies = match q {
        XmlQuery::Elements
        | XmlQuery::Descendants
        | XmlQuery::Nodes
        | XmlQuery::DescendantNodes => k.is_a(XmlKind::Container),
        XmlQuery::Attributes | XmlQuery::DescendantsAndSelf | XmlQuery::AncestorsAndSelf => {
            k == XmlKind::Element
        }
        XmlQuery::Ancestors => k.is_a(XmlKind::Node),
        XmlQuery::Element | XmlQuery::Attribute => false,
    };
    if !applies {
        return None;
    }
    Some(query_args(b, m, q, named, args, off).map(|(a, has)| {
        (
            call(XmlFn::SeqQuery(q, has), with_recv(recv, a)),
            query_type(q),
        )
    }))
}

/// `(string)e`, `(int)e`, `(bool)a`, ...: an element's or attribute's value converted as
/// XmlConvert reads it; `None` for other casts.
pub(crate) fn conversion(ir: Ir, from: &Ty, to: &Ty) -> Option<Ir> {
    if !matches!(
        from,
        Ty::Obj(ObjKind::Xml(XmlKind::Element | XmlKind::Attribute))
    ) {
        return None;
    }
    let c = match to {
        Ty::Str => CastTo::Str,
        Ty::Int => CastTo::Int,
        Ty::Double => CastTo::Double,
        Ty::Bool => CastTo::Bool,
        Ty::DateTime => CastTo::DateTime,
        Ty::TimeSpan => CastTo::TimeSpan,
        _ => return None,
    };
    Some(call(XmlFn::Convert(c), vec![ir]))
}

// ---- evaluation ----

fn obj(o: XObject) -> Value {
    Value::Obj(Arc::new(Obj::Xml(o)))
}

fn node_value(r: XRef) -> Value {
    obj(XObject::Ref(r))
}

fn xml_of(v: &Value) -> EvalResult<&XObject> {
    match v {
        Value::Obj(o) => match &**o {
            Obj::Xml(x) => Ok(x),
            _ => fail(EvalErrorKind::InvalidCast, "not an XML object"),
        },
        _ => fail(EvalErrorKind::NullReference, NULL_REF),
    }
}

fn ref_of(v: &Value) -> EvalResult<&XRef> {
    match xml_of(v)? {
        XObject::Ref(r) => Ok(r),
        x => fail(
            EvalErrorKind::InvalidCast,
            format!("'{}' is not an XObject", x.class()),
        ),
    }
}

fn name_of(v: &Value) -> EvalResult<Option<Name>> {
    match v {
        Value::Null => Ok(None),
        v => match xml_of(v)? {
            XObject::Name(n) => Ok(Some(n.clone())),
            _ => fail(EvalErrorKind::InvalidCast, "not an XName"),
        },
    }
}

fn required_name(v: &Value) -> EvalResult<Name> {
    name_of(v)?.map_or_else(
        || {
            fail(
                EvalErrorKind::Argument,
                "Value cannot be null. (Parameter 'name')",
            )
        },
        Ok,
    )
}

fn refused<T>(why: String) -> EvalResult<T> {
    fail(EvalErrorKind::Other, why)
}

/// A value as XLinq writes it in content: `true`/`false`, ISO dates, the rest's text.
fn text_of(v: &Value) -> String {
    match v {
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::DateTime(d) => d.format("o").unwrap_or_default(),
        v => v.to_dotnet_string(),
    }
}

/// A value argument (`SetValue(v)`, `new XAttribute(name, v)`) as its text, charged; .NET
/// refuses null.
fn value_text(v: &Value, env: &mut Env) -> EvalResult<String> {
    if v.is_null() {
        return fail(
            EvalErrorKind::Argument,
            "Value cannot be null. (Parameter 'value')",
        );
    }
    let t = text_of(v);
    env.charge_bytes(t.len())?;
    Ok(t)
}

/// `params object[] content` flattened: nodes, attributes, strings; sequences spread out;
/// nulls skipped; a document stands for its nodes. Text is charged against the budget.
fn contents(args: &[Value], env: &mut Env) -> EvalResult<Vec<Content>> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = args.iter().rev().collect();
    while let Some(v) = stack.pop() {
        env.step()?;
        match v {
            Value::Null => {}
            Value::Array(a) => stack.extend(a.iter().rev()),
            Value::Obj(o) if matches!(&**o, Obj::Xml(XObject::Ref(_))) => {
                if let Obj::Xml(XObject::Ref(r)) = &**o {
                    if r.kind() == Kind::Document {
                        out.extend(r.nodes().into_iter().map(Content::Ref));
                    } else {
                        out.push(Content::Ref(r.clone()));
                    }
                }
            }
            v => {
                let t = text_of(v);
                env.charge_bytes(t.len())?;
                out.push(Content::Text(t));
            }
        }
    }
    Ok(out)
}

/// An array of XLinq values, charged as a collection.
fn array(items: Vec<XRef>, env: &mut Env) -> EvalResult<Value> {
    env.charge(Value::Array(
        items.into_iter().map(node_value).collect::<Vec<_>>().into(),
    ))
}

/// A query on one node (`Elements(name)`, `Descendants()`, ...).
fn run_query(r: &XRef, q: XmlQuery, name: Option<&Name>, env: &mut Env) -> EvalResult<Value> {
    let limit = env.max_items();
    let too_many = || over_budget::<Value>(format!("a query over more than {limit} nodes"));
    let one = |r: Option<XRef>| r.map_or(Value::Null, node_value);
    match q {
        XmlQuery::Elements => array(r.elements(name), env),
        XmlQuery::Element => Ok(one(name.and_then(|n| r.element(n)))),
        XmlQuery::Descendants | XmlQuery::DescendantsAndSelf => {
            match r.descendants(name, q == XmlQuery::DescendantsAndSelf, limit) {
                Ok(v) => array(v, env),
                Err(()) => too_many(),
            }
        }
        XmlQuery::Ancestors | XmlQuery::AncestorsAndSelf => {
            array(r.ancestors(name, q == XmlQuery::AncestorsAndSelf), env)
        }
        XmlQuery::Attributes => array(r.attributes(name), env),
        XmlQuery::Attribute => Ok(one(name.and_then(|n| r.attribute(n)))),
        XmlQuery::Nodes => array(r.nodes(), env),
        XmlQuery::DescendantNodes => match r.descendant_nodes(limit) {
            Ok(v) => array(v, env),
            Err(()) => too_many(),
        },
    }
}

fn prop(p: XmlProp, x: &XObject) -> EvalResult<Value> {
    let one = |r: Option<XRef>| r.map_or(Value::Null, node_value);
    let opt = |t: &Option<String>| t.as_deref().map_or(Value::Null, Value::str);
    Ok(match (p, x) {
        (XmlProp::LocalName, XObject::Name(n)) => Value::Str(n.local.clone()),
        (XmlProp::NamespaceName, XObject::Name(n)) => Value::Str(n.ns.clone()),
        (XmlProp::NamespaceName, XObject::Namespace(ns)) => Value::Str(ns.clone()),
        (XmlProp::NameNamespace, XObject::Name(n)) => obj(XObject::Namespace(n.ns.clone())),
        (XmlProp::Version, XObject::Declaration(d)) => opt(&d.version),
        (XmlProp::Encoding, XObject::Declaration(d)) => opt(&d.encoding),
        (XmlProp::Standalone, XObject::Declaration(d)) => opt(&d.standalone),
        (p, XObject::Ref(r)) => match p {
            XmlProp::Name => r.name().map_or(Value::Null, |n| obj(XObject::Name(n))),
            XmlProp::Value | XmlProp::Data => Value::str(&r.value()),
            XmlProp::Target => Value::str(&r.target()),
            XmlProp::Root => one(r.root()),
            XmlProp::Declaration => r
                .declaration()
                .map_or(Value::Null, |d| obj(XObject::Declaration(d))),
            XmlProp::Parent => one(r.parent()),
            XmlProp::Document => one(r.document()),
            XmlProp::NodeType => Value::Int(match r.kind() {
                Kind::Document => 9,
                Kind::Element => 1,
                Kind::Attribute => 2,
                Kind::Leaf(LeafKind::Text) => 3,
                Kind::Leaf(LeafKind::CData) => 4,
                Kind::Leaf(LeafKind::Pi) => 7,
                Kind::Leaf(LeafKind::Comment) => 8,
            }),
            XmlProp::HasElements => Value::Bool(r.has_elements()),
            XmlProp::HasAttributes => Value::Bool(r.has_attributes()),
            XmlProp::IsEmpty => Value::Bool(r.is_empty()),
            XmlProp::FirstNode => one(r.nodes().first().cloned()),
            XmlProp::LastNode => one(r.nodes().last().cloned()),
            XmlProp::NextNode => one(r.sibling(true)),
            XmlProp::PreviousNode => one(r.sibling(false)),
            XmlProp::FirstAttribute => one(r.attributes(None).first().cloned()),
            XmlProp::LastAttribute => one(r.attributes(None).last().cloned()),
            p => {
                return fail(
                    EvalErrorKind::InvalidCast,
                    format!("'{}' has no property {p:?}", x.class()),
                )
            }
        },
        (p, x) => {
            return fail(
                EvalErrorKind::InvalidCast,
                format!("'{}' has no property {p:?}", x.class()),
            )
        }
    })
}

fn edit(e: XmlEdit, args: &[Value], env: &mut Env) -> EvalResult<()> {
    let r = ref_of(arg(args, 0))?;
    let rest = args.get(1..).unwrap_or(&[]);
    let done = |res: Result<(), xml::Refused>| res.or_else(refused);
    match e {
        XmlEdit::Add | XmlEdit::AddFirst => {
            let content = contents(rest, env)?;
            done(r.add(content, e == XmlEdit::AddFirst))
        }
        XmlEdit::ReplaceNodes | XmlEdit::ReplaceAll => {
            let content = contents(rest, env)?;
            done(r.replace_nodes(content, e == XmlEdit::ReplaceAll))
        }
        XmlEdit::AddBeforeSelf | XmlEdit::AddAfterSelf | XmlEdit::ReplaceWith => {
            let content = contents(rest, env)?;
            done(r.add_beside(
                content,
                e == XmlEdit::AddAfterSelf,
                e == XmlEdit::ReplaceWith,
            ))
        }
        XmlEdit::Remove => done(r.remove()),
        XmlEdit::RemoveNodes => {
            r.remove_nodes();
            Ok(())
        }
        XmlEdit::RemoveAll => {
            r.remove_nodes();
            r.remove_attributes();
            Ok(())
        }
        XmlEdit::RemoveAttributes => {
            r.remove_attributes();
            Ok(())
        }
        XmlEdit::SetValue => {
            r.set_value(&value_text(arg(rest, 0), env)?);
            Ok(())
        }
        XmlEdit::SetAttributeValue | XmlEdit::SetElementValue => {
            let name = required_name(arg(rest, 0))?;
            let v = arg(rest, 1);
            let t = (!v.is_null()).then(|| text_of(v));
            env.charge_bytes(t.as_ref().map_or(0, String::len))?;
            if e == XmlEdit::SetAttributeValue {
                r.set_attribute(&name, t.as_deref());
                Ok(())
            } else {
                done(r.set_element(&name, t.as_deref()))
            }
        }
    }
}

/// An element's or attribute's value as XmlConvert converts it (`(int)e`); null stays null
/// for `string`, and is an `ArgumentNullException` for value types.
fn convert(to: CastTo, v: &Value) -> EvalResult<Value> {
    let text = match v {
        Value::Null if to == CastTo::Str => return Ok(Value::Null),
        Value::Null => {
            return fail(
                EvalErrorKind::Argument,
                "Value cannot be null. (Parameter 'element')",
            )
        }
        v => ref_of(v)?.value(),
    };
    let t = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    let bad = |what: &str| {
        fail(
            EvalErrorKind::Format,
            format!("The string '{text}' is not a valid {what} value."),
        )
    };
    Ok(match to {
        CastTo::Str => Value::str(&text),
        CastTo::Int => match t.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => return bad("Int64"),
        },
        CastTo::Double => match t {
            "INF" => Value::Double(f64::INFINITY),
            "-INF" => Value::Double(f64::NEG_INFINITY),
            "NaN" => Value::Double(f64::NAN),
            _ => match t.parse::<f64>() {
                Ok(d) if t.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) => {
                    Value::Double(d)
                }
                _ => return bad("Double"),
            },
        },
        CastTo::Bool => match t {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return bad("Boolean"),
        },
        CastTo::DateTime => match crate::dotnet::DateTime::parse_iso(t) {
            Some(d) => Value::DateTime(d),
            None => return bad("DateTime"),
        },
        CastTo::TimeSpan => match crate::dotnet::TimeSpan::parse_dotnet(t) {
            Some(s) => Value::TimeSpan(s),
            None => return bad("TimeSpan"),
        },
        _ => return fail(EvalErrorKind::InvalidCast, "Invalid cast."),
    })
}

/// A document text parsed (`XDocument.Parse`, `As<XDocument>()`; `keep_space`:
/// `LoadOptions.PreserveWhitespace`), charged against the budget.
pub(crate) fn parse(
    text: &str,
    document: bool,
    keep_space: bool,
    env: &mut Env,
) -> EvalResult<Value> {
    // The tree holds about its text again, in node records.
    env.charge_bytes(text.len().saturating_mul(2))?;
    match xml::parse(text, document, keep_space) {
        Ok(r) => Ok(node_value(r)),
        Err(e) => fail(EvalErrorKind::Format, e),
    }
}

fn name_value(r: Result<Name, String>) -> EvalResult<Value> {
    r.map(|n| obj(XObject::Name(n)))
        .or_else(|e| fail(EvalErrorKind::Argument, e))
}

pub(crate) fn eval(f: XmlFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    match f {
        XmlFn::Parse(document) => {
            let text = s_arg(args, 0)?;
            let keep_space = int(arg(args, 1)).is_some_and(|o| o & 1 == 1);
            parse(text, document, keep_space, env)
        }
        XmlFn::Name => match arg(args, 0) {
            Value::Str(s) => name_value(Name::parse(s)),
            v => Ok(v.clone()),
        },
        XmlFn::NameGet => {
            let first = s_arg(args, 0)?;
            name_value(match opt_s(args, 1) {
                Some(ns) => Name::new(first, ns),
                None => Name::parse(first),
            })
        }
        XmlFn::Namespace => match arg(args, 0) {
            Value::Str(s) => Ok(obj(XObject::Namespace(s.clone()))),
            v => Ok(v.clone()),
        },
        XmlFn::NsName => {
            let ns = match xml_of(arg(args, 0))? {
                XObject::Namespace(ns) => ns.clone(),
                _ => return fail(EvalErrorKind::InvalidCast, "not an XNamespace"),
            };
            name_value(Name::new(s_arg(args, 1)?, &ns))
        }
        XmlFn::NewElement => {
            let name = required_name(arg(args, 0))?;
            env.charge_bytes(64)?;
            let e = XRef::new_element(name);
            let content = contents(args.get(1..).unwrap_or(&[]), env)?;
            e.add(content, false).or_else(refused)?;
            Ok(node_value(e))
        }
        XmlFn::CopyElement => {
            let r = ref_of(arg(args, 0))?;
            env.charge_bytes(r.to_text(false).len())?;
            Ok(node_value(r.deep_copy()))
        }
        XmlFn::NewDocument => {
            let mut rest = args;
            let mut declaration = None;
            if let Some(Value::Obj(o)) = args.first() {
                if let Obj::Xml(XObject::Declaration(d)) = &**o {
                    declaration = Some(d.clone());
                    rest = &args[1..];
                }
            }
            let d = XRef::new_document(declaration);
            let content = contents(rest, env)?;
            d.add(content, false).or_else(refused)?;
            Ok(node_value(d))
        }
        XmlFn::NewAttribute => {
            let name = required_name(arg(args, 0))?;
            let t = value_text(arg(args, 1), env)?;
            Ok(node_value(XRef::new_attr(name, &t)))
        }
        XmlFn::NewLeaf(k) => {
            let (kind, target, value) = match k {
                0 => (LeafKind::Text, "", s_arg(args, 0)?),
                1 => (LeafKind::CData, "", s_arg(args, 0)?),
                2 => (LeafKind::Comment, "", s_arg(args, 0)?),
                _ => (LeafKind::Pi, s_arg(args, 0)?, s_arg(args, 1)?),
            };
            env.charge_bytes(value.len() + target.len())?;
            Ok(node_value(XRef::new_leaf(kind, target, value)))
        }
        XmlFn::NewDeclaration => {
            let get = |i| opt_s(args, i).map(str::to_string);
            Ok(obj(XObject::Declaration(Declaration {
                version: get(0),
                encoding: get(1),
                standalone: get(2),
            })))
        }
        XmlFn::Prop(p) => prop(p, xml_of(arg(args, 0))?),
        XmlFn::Query(q, has_name) => {
            let r = ref_of(arg(args, 0))?;
            let name = if has_name {
                name_of(arg(args, 1))?
            } else {
                None
            };
            // A null name finds nothing, as in .NET.
            if has_name && name.is_none() {
                return match q {
                    XmlQuery::Element | XmlQuery::Attribute => Ok(Value::Null),
                    _ => array(Vec::new(), env),
                };
            }
            run_query(r, q, name.as_ref(), env)
        }
        XmlFn::SeqQuery(q, has_name) => {
            let name = if has_name {
                name_of(arg(args, 1))?
            } else {
                None
            };
            let Value::Array(items) = arg(args, 0) else {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'source')",
                );
            };
            let mut out: Vec<Value> = Vec::new();
            if has_name && name.is_none() {
                return env.charge(Value::Array(out.into()));
            }
            for v in items.iter() {
                env.step()?;
                if v.is_null() {
                    continue;
                }
                if let Value::Array(a) = run_query(ref_of(v)?, q, name.as_ref(), env)? {
                    out.extend(a.iter().cloned());
                }
                if out.len() > env.max_items() {
                    return over_budget(format!(
                        "a query over more than {} nodes",
                        env.max_items()
                    ));
                }
            }
            env.charge(Value::Array(out.into()))
        }
        XmlFn::SeqRemove => {
            if let Value::Array(items) = arg(args, 0) {
                for v in items.iter() {
                    env.step()?;
                    if !v.is_null() {
                        // A node already detached is skipped, as .NET's Remove() does.
                        let _ = ref_of(v)?.remove();
                    }
                }
            }
            Ok(Value::Null)
        }
        XmlFn::Edit(e) => edit(e, args, env).map(|()| Value::Null),
        XmlFn::ToText => {
            let x = xml_of(arg(args, 0))?;
            let indent = int(arg(args, 1)).is_none_or(|o| o & 1 == 0);
            let t = match x {
                XObject::Ref(r) => r.to_text(indent),
                x => x.to_text(),
            };
            env.check_len(t.len())?;
            Ok(Value::str(&t))
        }
        XmlFn::Convert(to) => convert(to, arg(args, 0)),
    }
}

#[cfg(test)]
mod tests {
    use crate::expr::testing::{assert_refused, s};

    /// `e` as a policy writes it: `@(e)`, or `@{ ... }` for a block.
    fn x(e: &str) -> String {
        if e.starts_with('{') {
            s(&format!("@{e}"))
        } else {
            s(&format!("@({e})"))
        }
    }

    #[test]
    fn documents_parse_and_query_as_in_dotnet() {
        let doc = r#"XDocument.Parse("<order id=\"7\"><item sku=\"a\">2</item><item sku=\"b\">3</item></order>")"#;
        assert_eq!(x(&format!("{doc}.Root.Name.LocalName")), "order");
        assert_eq!(x(&format!("(string){doc}.Root.Attribute(\"id\")")), "7");
        assert_eq!(
            x(&format!("{doc}.Descendants(\"item\").Count().ToString()")),
            "2"
        );
        assert_eq!(
            x(&format!(
                "{doc}.Root.Elements(\"item\").Select(e => (int)e).Sum().ToString()"
            )),
            "5"
        );
        assert_eq!(
            x(&format!(
                "{doc}.Root.Elements().First(e => e.Attribute(\"sku\").Value == \"b\").Value"
            )),
            "3"
        );
        assert_eq!(
            x(&format!(
                "{doc}.Root.Element(\"missing\")?.Value ?? \"none\""
            )),
            "none"
        );
        assert_eq!(
            x(&format!("{doc}.ToString(SaveOptions.DisableFormatting)")),
            "<order id=\"7\"><item sku=\"a\">2</item><item sku=\"b\">3</item></order>"
        );
        assert_eq!(
            x(&format!("{doc}.Root.ToString()")),
            "<order id=\"7\">\n  <item sku=\"a\">2</item>\n  <item sku=\"b\">3</item>\n</order>"
        );
    }

    #[test]
    fn namespaces_and_names() {
        let soap = r#"XElement.Parse("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><GetQuote xmlns=\"urn:q\"><Symbol>MSFT</Symbol></GetQuote></s:Body></s:Envelope>")"#;
        assert_eq!(
            x(&format!(
                "{{ XNamespace q = \"urn:q\"; return {soap}.Descendants(q + \"Symbol\").Single().Value; }}"
            )),
            "MSFT"
        );
        assert_eq!(
            x(&format!(
                "{soap}.Descendants(\"{{urn:q}}Symbol\").First().Value"
            )),
            "MSFT"
        );
        assert_eq!(
            x(&format!("{soap}.Name.NamespaceName")),
            "http://schemas.xmlsoap.org/soap/envelope/"
        );
        assert_eq!(x("XName.Get(\"a\", \"urn:x\").ToString()"), "{urn:x}a");
        assert_eq!(x("XNamespace.Get(\"urn:x\").GetName(\"b\").LocalName"), "b");
        assert_eq!(x("(XNamespace.None + \"a\").ToString()"), "a");
        assert_eq!(
            x("new XElement(\"a\").Name == \"a\" ? \"same\" : \"different\""),
            "same"
        );
    }

    #[test]
    fn trees_are_built_and_edited() {
        assert_eq!(
            x(
                r#"new XElement("a", new XAttribute("k", 1), new XElement("b", "x & y"), new XElement("c")).ToString()"#
            ),
            "<a k=\"1\">\n  <b>x &amp; y</b>\n  <c />\n</a>"
        );
        assert_eq!(
            x(
                r#"{ var e = XElement.Parse("<a><b/></a>"); e.Add(new XElement("c", true)); e.SetAttributeValue("v", 2); e.Element("b").Remove(); e.SetElementValue("d", "t"); return e.ToString(SaveOptions.DisableFormatting); }"#
            ),
            "<a v=\"2\"><c>true</c><d>t</d></a>"
        );
        assert_eq!(
            x(
                r#"{ var doc = new XDocument(new XDeclaration("1.0", "utf-8", null), new XElement("r")); return doc.Declaration.ToString() + doc.ToString(); }"#
            ),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><r />"
        );
        assert_eq!(
            x(
                r#"{ var e = XElement.Parse("<a><b>1</b><b>2</b></a>"); e.Elements("b").Remove(); return e.ToString(); }"#
            ),
            "<a />"
        );
        assert_eq!(
            x(
                r#"{ var e = XElement.Parse("<a><b><c>1</c></b><b><c>2</c></b></a>"); return string.Join(",", e.Elements("b").Elements("c").Select(c => c.Value)); }"#
            ),
            "1,2"
        );
        assert_eq!(
            x(r#"new XElement("a", new XCData("<x>"), new XComment("note")).ToString()"#),
            "<a><![CDATA[<x>]]><!--note--></a>"
        );
    }

    #[test]
    fn conversions_and_node_types() {
        assert_eq!(
            x(r#"((bool)XElement.Parse("<a> true </a>")).ToString()"#),
            "True"
        );
        assert_eq!(
            x(r#"((double)XElement.Parse("<a>1.5</a>")).ToString()"#),
            "1.5"
        );
        assert_eq!(
            x(r#"(XElement.Parse("<a/>").NodeType == XmlNodeType.Element).ToString()"#),
            "True"
        );
        assert_eq!(
            x(r#"(int)XElement.Parse("<a>x</a>")"#),
            "ERR The string 'x' is not a valid Int64 value."
        );
        assert_eq!(
            x(r#"(int)XElement.Parse("<a/>").Attribute("n")"#),
            "ERR Value cannot be null. (Parameter 'element')"
        );
        assert_eq!(
            x(r#"(string)XElement.Parse("<a/>").Attribute("n") ?? "absent""#),
            "absent"
        );
    }

    #[test]
    fn bodies_read_as_xml() {
        use crate::context::SimpleContext;
        use crate::expr::testing::show;
        let mut ctx = SimpleContext::new("POST", "/soap");
        ctx.request_body = Some(
            br#"<?xml version="1.0"?><s:Envelope xmlns:s="urn:s"><s:Body><Quote><Symbol>MSFT</Symbol></Quote></s:Body></s:Envelope>"#
                .to_vec(),
        );
        assert_eq!(
            show(
                r#"@(context.Request.Body.As<XDocument>(preserveContent: true).Descendants("Symbol").First().Value)"#,
                &ctx
            ),
            "MSFT"
        );
        assert_eq!(
            show(
                r#"@(context.Request.Body.As<XElement>(true).Name.LocalName)"#,
                &ctx
            ),
            "Envelope"
        );
        // Read without preserveContent, the body is consumed: a second read fails.
        assert!(show(
            r#"@{ var a = context.Request.Body.As<XDocument>(); return context.Request.Body.As<XDocument>().ToString(); }"#,
            &ctx
        )
        .starts_with("ERR The request body was already read"));
        ctx.request_body = Some(b"{\"not\":\"xml\"}".to_vec());
        assert!(show(r#"@(context.Request.Body.As<XDocument>().Root)"#, &ctx).starts_with("ERR "));
    }

    #[test]
    fn hostile_trees_stop_at_the_budget() {
        use crate::expr::testing::failure;
        use crate::expr::EvalErrorKind;
        // 200 000 elements: a query over them passes the item budget (100 000).
        assert_eq!(
            failure(
                r#"@(XElement.Parse("<a>" + new string(' ', 200000).Replace(" ", "<b/>") + "</a>").Descendants().Count())"#
            ),
            Some(EvalErrorKind::MemoryBudget)
        );
        // Nesting deeper than 128 elements is refused before parsing.
        assert_eq!(
            failure(r#"@(XElement.Parse(new string(' ', 300).Replace(" ", "<a>")))"#),
            Some(EvalErrorKind::Format)
        );
        // A tree copied into itself doubles until the budget stops it.
        assert_eq!(
            failure(
                r#"@{ var e = new XElement("a", new string('x', 100000)); foreach (var i in new int[64]) { e.Add(new XElement(e)); } return e.ToString(); }"#
            ),
            Some(EvalErrorKind::MemoryBudget)
        );
        // An element inside itself is refused, as .NET refuses it.
        for e in [
            r#"{ var a = new XElement("a"); var b = new XElement("b"); a.Add(b); b.Add(a); return "added"; }"#,
            r#"{ var a = new XElement("a"); a.Add(a); return "added"; }"#,
        ] {
            assert_eq!(
                x(e),
                "ERR This operation would create an incorrectly structured document."
            );
        }
        // One that has a parent is copied instead, so it may go anywhere.
        assert_eq!(
            x(
                r#"{ var a = new XElement("a"); var b = new XElement("b"); a.Add(b); b.Add(b); return a.ToString(SaveOptions.DisableFormatting); }"#
            ),
            "<a><b><b /></b></a>"
        );
    }

    #[test]
    fn errors_are_dotnet_exceptions() {
        // A method that returns nothing is not a value (C# refuses it too).
        assert_refused(
            r#"@(new XElement("a").Add("x"))"#,
            "the expression returns no value",
        );
        assert!(x(r#"XDocument.Parse("<a>")"#).starts_with("ERR "));
        assert_eq!(
            x(r#"new XElement("a b")"#),
            "ERR The ' ' character, hexadecimal value 0x20, cannot be included in a name."
        );
        assert_eq!(
            x(r#"{ new XElement("a").Remove(); return "removed"; }"#),
            "ERR The parent is missing."
        );
        assert_eq!(
            x(r#"new XElement("a", new XAttribute("k", 1), new XAttribute("k", 2))"#),
            "ERR Duplicate attribute."
        );
        // APIM leaves out XDocument.Load; members certgate lacks are named as such.
        assert_refused(
            r#"@(XDocument.Load("x"))"#,
            "'XDocument' does not contain a definition for 'Load'",
        );
        assert_refused(
            r#"@(XElement.Parse("<a/>").ElementsAfterSelf())"#,
            "'XElement.ElementsAfterSelf' is not supported by certgate (APIM allows System.Xml.Linq.XNode.ElementsAfterSelf",
        );
    }
}
