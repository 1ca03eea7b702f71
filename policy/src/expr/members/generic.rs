//! `System.Collections.Generic`'s `List<T>`, `HashSet<T>` and `Dictionary<TKey, TValue>` as policies build
//! them: `new List<string>()`, `new List<int> { 1, 2 }`, `new Dictionary<string, string> {
//! { "a", "b" }, ["c"] = "d" }`; `Add`, `Count`, indexers that read and write, `Contains`,
//! `IndexOf`, `Insert`, `Remove`, `RemoveAt`, `Clear`, `ToArray`; `ContainsKey`,
//! `ContainsValue`, `TryGetValue(key, out v)`, `Keys`, `Values`; `foreach`, LINQ,
//! `String.Join`, `JsonConvert.SerializeObject`. Both are shared and mutable, as in .NET; what
//! they hold counts against the expression's memory budget as it grows. A dictionary keeps its
//! keys in the order they were added (as .NET's does while nothing is removed). Checker
//! bindings and evaluator in one file.

use std::sync::{Arc, Mutex};

use crate::expr::ast::{Expr, Init, TypeName};
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Keyed, Obj, Value};

fn call(f: GenericFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Generic(f), args)
}

/// `new List<T>(..)`, `new Dictionary<K, V>(..)` with their initializers; `None` when `ty` is
/// neither.
pub(crate) fn new(
    b: &mut dyn Binder,
    ty: &TypeName,
    args: &[Expr],
    init: &[Init],
    off: usize,
) -> Option<CheckResult<(Ir, Ty)>> {
    let short = ty
        .name
        .strip_prefix("System.Collections.Generic.")
        .unwrap_or(&ty.name);
    if !matches!(short, "List" | "Dictionary" | "HashSet") {
        return None;
    }
    Some((|| {
        let rty = match (short, ty.args.as_slice()) {
            ("List", [t]) => Ty::List(Box::new(resolve_type(t, off)?)),
            ("HashSet", [t]) => Ty::Set(Box::new(resolve_type(t, off)?)),
            ("Dictionary", [k, v]) => {
                Ty::Dict(Box::new(resolve_type(k, off)?), Box::new(resolve_type(v, off)?))
            }
            _ => {
                return type_err(
                    off,
                    format!("'{short}' needs its type arguments, as in List<string> or Dictionary<string, string>"),
                )
            }
        };
        let empty = match rty {
            Ty::Set(_) => GenericFn::NewSet,
            Ty::Dict(..) => GenericFn::New(true),
            _ => GenericFn::New(false),
        };
        // `new Dictionary<string, T>(StringComparer.OrdinalIgnoreCase)`, also after a capacity
        // or, for a set, after its items: the comparer goes last to the run-time call.
        let comparer_ty = Ty::Obj(ObjKind::Comparer);
        let (args, comparer) = match args {
            [rest @ .., last] if !matches!(rty, Ty::List(_)) && b.expr(last)?.1 == comparer_ty => {
                let keys = match &rty {
                    Ty::Dict(k, _) | Ty::Set(k) => (**k).clone(),
                    _ => Ty::Object,
                };
                if keys != Ty::Str {
                    return type_err(
                        last.offset,
                        format!("a StringComparer compares string keys, not '{keys}'"),
                    );
                }
                (rest, Some(b.expr(last)?.0))
            }
            _ => (args, None),
        };
        let with_comparer = |mut a: Vec<Ir>| {
            a.extend(comparer.clone());
            a
        };
        let made = match (&rty, args) {
            (_, []) => call(empty, with_comparer(vec![])),
            // A capacity changes nothing here.
            (_, [a]) if b.expr(a).map(|(_, t)| t == Ty::Int).unwrap_or(false) => {
                call(empty, with_comparer(vec![]))
            }
            (Ty::List(elem) | Ty::Set(elem), [a]) => {
                let (ir, t) = b.expr(a)?;
                let from = if matches!(rty, Ty::Set(_)) {
                    GenericFn::SetFrom
                } else {
                    GenericFn::ListFrom
                };
                match sequence(ir, &t) {
                    Some((e, items)) if e == **elem || **elem == Ty::Object => {
                        call(from, with_comparer(vec![items]))
                    }
                    _ => {
                        return type_err(
                            a.offset,
                            format!("a List<{elem}> is made from a capacity or a sequence of {elem}, not '{t}'"),
                        )
                    }
                }
            }
            _ => {
                return type_err(
                    off,
                    format!(
                    "'{short}' takes no arguments here, or a capacity, its items or a StringComparer"
                ),
                )
            }
        };
        if init.is_empty() {
            return Ok((made, rty));
        }
        // `tmp = new ..; tmp.Add(..); ..; tmp`.
        let tmp = b.temp(off)?;
        let mut seq = vec![Ir::Assign(tmp, Box::new(made))];
        for entry in init {
            let (ir, _) = match entry {
                Init::Item(e) => method(
                    b,
                    Ir::Local(tmp),
                    &rty,
                    "Add",
                    std::slice::from_ref(e),
                    e.offset,
                )?,
                Init::Pair(k, v) => method(
                    b,
                    Ir::Local(tmp),
                    &rty,
                    "Add",
                    &[k.clone(), v.clone()],
                    k.offset,
                )?,
                Init::Index(k, v) => set_index(b, Ir::Local(tmp), &rty, k, v)?,
            };
            seq.push(ir);
        }
        seq.push(Ir::Local(tmp));
        Ok((Ir::Seq(seq), rty))
    })())
}

/// `JsonConvert.DeserializeObject<List<T>>(text)` (and `HashSet<T>`, `Dictionary<string, T>`)
/// for T a string, a number, a bool or a token (`object`, `JToken`); `None` when `t` is none of
/// these collections.
pub(crate) fn from_json(
    b: &mut dyn Binder,
    t: &TypeName,
    args: &[Expr],
    off: usize,
) -> Option<CheckResult<(Ir, Ty)>> {
    let short = t
        .name
        .strip_prefix("System.Collections.Generic.")
        .unwrap_or(&t.name);
    let (kind, value_arg) = match (short, t.args.as_slice()) {
        ("List", [v]) => (0, v),
        ("HashSet", [v]) => (1, v),
        ("Dictionary", [k, v]) if matches!(k.name.as_str(), "string" | "String") => (2, v),
        _ => return None,
    };
    Some((|| {
        let text = b.args("DeserializeObject", args, &[Ty::Str], 1, off)?;
        let elem = resolve_type(value_arg, off)?;
        let to = match &elem {
            Ty::Str => Some(CastTo::Str),
            Ty::Int => Some(CastTo::Int),
            Ty::Double => Some(CastTo::Double),
            Ty::Bool => Some(CastTo::Bool),
            Ty::Object | Ty::Obj(ObjKind::Json(_)) => None,
            other => {
                return type_err(
                    off,
                    format!("'DeserializeObject' into a collection of '{other}' is not supported by certgate"),
                )
            }
        };
        let elem = if to.is_none() {
            Ty::Obj(ObjKind::Json(JsonKind::Token))
        } else {
            elem
        };
        let rty = match kind {
            0 => Ty::List(Box::new(elem)),
            1 => Ty::Set(Box::new(elem)),
            _ => Ty::Dict(Box::new(Ty::Str), Box::new(elem)),
        };
        Ok((call(GenericFn::FromJson(kind, to), text), rty))
    })())
}

/// What iterating a list or a dictionary gives (a snapshot): the element type and the items.
pub(crate) fn items(recv: Ir, rty: &Ty) -> Option<(Ty, Ir)> {
    match rty {
        Ty::List(e) | Ty::Set(e) => Some(((**e).clone(), call(GenericFn::Items, vec![recv]))),
        Ty::Dict(k, v) => Some((
            Ty::Pair(k.clone(), v.clone()),
            call(GenericFn::Items, vec![recv]),
        )),
        _ => None,
    }
}

/// What a constructor argument iterates: arrays, and lists and dictionaries.
fn sequence(ir: Ir, t: &Ty) -> Option<(Ty, Ir)> {
    match t {
        Ty::Array(e) => Some(((**e).clone(), ir)),
        t => items(ir, t),
    }
}

/// `Count`, `Keys`, `Values`.
pub(crate) fn member(recv: Ir, rty: &Ty, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let (f, ty) = match (rty, name) {
        (_, "Count") => (GenericFn::Count, Ty::Int),
        (Ty::Dict(k, _), "Keys") => (GenericFn::Keys, Ty::Array(k.clone())),
        (Ty::Dict(_, v), "Values") => (GenericFn::Values, Ty::Array(v.clone())),
        _ => return unknown_member(rty, name, off),
    };
    Ok((call(f, vec![recv]), ty))
}

/// `list[i]`, `dict[key]`.
pub(crate) fn index(b: &mut dyn Binder, recv: Ir, rty: &Ty, index: &Expr) -> CheckResult<(Ir, Ty)> {
    let (key_ty, value_ty) = key_value(rty);
    let key = b.coerce(index, &key_ty)?;
    Ok((call(GenericFn::Get, vec![recv, key]), value_ty))
}

/// `list[i] = v`, `dict[key] = v`: the value, as an assignment gives.
pub(crate) fn set_index(
    b: &mut dyn Binder,
    recv: Ir,
    rty: &Ty,
    index: &Expr,
    value: &Expr,
) -> CheckResult<(Ir, Ty)> {
    let (key_ty, value_ty) = key_value(rty);
    let key = b.coerce(index, &key_ty)?;
    let v = b.coerce(value, &value_ty)?;
    Ok((call(GenericFn::Set, vec![recv, key, v]), value_ty))
}

fn key_value(rty: &Ty) -> (Ty, Ty) {
    match rty {
        Ty::List(e) | Ty::Set(e) => (Ty::Int, (**e).clone()),
        Ty::Dict(k, v) => ((**k).clone(), (**v).clone()),
        _ => (Ty::Object, Ty::Object),
    }
}

/// Methods.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    rty: &Ty,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let (k, v) = key_value(rty);
    let list = matches!(rty, Ty::List(_));
    if let Ty::Set(_) = rty {
        let (f, params, ty): (GenericFn, Vec<Ty>, Ty) = match m {
            "Add" => (GenericFn::SetAdd, vec![v], Ty::Bool),
            "Contains" => (GenericFn::Contains, vec![v], Ty::Bool),
            "Remove" => (GenericFn::Remove, vec![v], Ty::Bool),
            "Clear" => (GenericFn::Clear, vec![], Ty::Void),
            _ => {
                let (f, ty) = match m {
                    "UnionWith" => (GenericFn::UnionWith, Ty::Void),
                    "IntersectWith" => (GenericFn::SetOp(SetOp::IntersectWith), Ty::Void),
                    "ExceptWith" => (GenericFn::SetOp(SetOp::ExceptWith), Ty::Void),
                    "SymmetricExceptWith" => {
                        (GenericFn::SetOp(SetOp::SymmetricExceptWith), Ty::Void)
                    }
                    "IsSubsetOf" => (GenericFn::SetOp(SetOp::IsSubsetOf), Ty::Bool),
                    "IsSupersetOf" => (GenericFn::SetOp(SetOp::IsSupersetOf), Ty::Bool),
                    "IsProperSubsetOf" => (GenericFn::SetOp(SetOp::IsProperSubsetOf), Ty::Bool),
                    "IsProperSupersetOf" => (GenericFn::SetOp(SetOp::IsProperSupersetOf), Ty::Bool),
                    "Overlaps" => (GenericFn::SetOp(SetOp::Overlaps), Ty::Bool),
                    "SetEquals" => (GenericFn::SetOp(SetOp::SetEquals), Ty::Bool),
                    _ => return unknown_member(rty, m, off),
                };
                let items = sequence_arg(b, m, args, off)?;
                return Ok((call(f, vec![recv, items]), ty));
            }
        };
        let a = b.args(m, args, &params, params.len(), off)?;
        return Ok((call(f, with_recv(recv, a)), ty));
    }
    if !list && m == "TryGetValue" {
        let default = match v {
            Ty::Int => Value::Int(0),
            Ty::Double => Value::Double(0.0),
            Ty::Bool => Value::Bool(false),
            _ => Value::Null,
        };
        let lookup = |key: Ir| {
            let of = |f: GenericFn| call(f, vec![recv.clone(), key.clone()]);
            (of(GenericFn::ContainsKey), of(GenericFn::Get))
        };
        return try_get(b, args, &k, &v, default, lookup, off);
    }
    let (f, params, ty): (GenericFn, Vec<Ty>, Ty) = match (list, m) {
        (true, "Add") => (GenericFn::Add, vec![v], Ty::Void),
        (true, "Contains") => (GenericFn::Contains, vec![v], Ty::Bool),
        (true, "IndexOf") => (GenericFn::IndexOf, vec![v], Ty::Int),
        (true, "Insert") => (GenericFn::Insert, vec![Ty::Int, v], Ty::Void),
        (true, "Remove") => (GenericFn::Remove, vec![v], Ty::Bool),
        (true, "RemoveAt") => (GenericFn::RemoveAt, vec![Ty::Int], Ty::Void),
        (true, "ToArray") => (GenericFn::Items, vec![], Ty::Array(Box::new(v))),
        (true, "Sort") => (GenericFn::Sort, vec![], Ty::Void),
        (true, "Reverse") => (GenericFn::Reverse, vec![], Ty::Void),
        (true, "AddRange") => {
            let items = sequence_arg(b, m, args, off)?;
            return Ok((call(GenericFn::AddRange, vec![recv, items]), Ty::Void));
        }
        (false, "TryAdd") => (GenericFn::TryAdd, vec![k, v], Ty::Bool),
        (true, "ToList") => {
            b.args(m, args, &[], 0, off)?;
            let items = call(GenericFn::Items, vec![recv]);
            return Ok((call(GenericFn::ListFrom, vec![items]), rty.clone()));
        }
        (false, "Add") => (GenericFn::AddPair, vec![k, v], Ty::Void),
        (false, "ContainsKey") => (GenericFn::ContainsKey, vec![k], Ty::Bool),
        (false, "ContainsValue") => (GenericFn::ContainsValue, vec![v], Ty::Bool),
        (false, "Remove") => (GenericFn::RemoveKey, vec![k], Ty::Bool),
        (_, "Clear") => (GenericFn::Clear, vec![], Ty::Void),
        _ => return unknown_member(rty, m, off),
    };
    let a = b.args(m, args, &params, params.len(), off)?;
    Ok((call(f, with_recv(recv, a)), ty))
}

/// The one argument of a method that takes a sequence (`UnionWith`, `AddRange`, ...): its
/// items as an array.
fn sequence_arg(b: &mut dyn Binder, m: &str, args: &[Expr], off: usize) -> CheckResult<Ir> {
    let [a] = args else {
        return type_err(off, format!("'{m}' takes a sequence"));
    };
    let (ir, t) = b.expr(a)?;
    match sequence(ir, &t) {
        Some((_, items)) => Ok(items),
        None => type_err(a.offset, format!("'{m}' takes a sequence, not '{t}'")),
    }
}

/// A value's weight against the memory budget (also a queue's or stack's items').
pub(crate) fn weight(v: &Value) -> usize {
    16 + match v {
        Value::Str(s) => s.len(),
        _ => 0,
    }
}

fn out_of_range() -> EvalError {
    EvalError::new(
        EvalErrorKind::OutOfRange,
        "Index was out of range. Must be non-negative and less than the size of the collection. (Parameter 'index')",
    )
}

/// The index of a new dictionary or set: a StringComparer given to the constructor (the last
/// argument) is carried as its StringComparison, and the ignore-case ones (1, 3, 5) find
/// string keys ignoring case.
fn keyed<V>(args: &[Value]) -> Keyed<V> {
    match args.last() {
        Some(Value::Enum(crate::value::EnumValue::Named(_, 1 | 3 | 5))) => Keyed::folding_case(),
        _ => Keyed::new(),
    }
}

pub(crate) fn eval(f: GenericFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    use crate::value::Collection as C;
    let made = |c: C| Ok(Value::Obj(Arc::new(Obj::Collection(Mutex::new(c)))));
    match f {
        GenericFn::New(true) => return made(C::Dict(keyed(args))),
        GenericFn::New(false) => return made(C::List(Vec::new())),
        GenericFn::NewSet => return made(C::Set(keyed(args))),
        GenericFn::FromJson(kind, to) => {
            use crate::dotnet::json::{Token, TokenType};
            let Some(text) = opt_s(args, 0) else {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'value')",
                );
            };
            env.step()?;
            env.charge_bytes(text.len())?;
            let want = if kind == 2 {
                TokenType::Object
            } else {
                TokenType::Array
            };
            let doc = Token::parse(text, Some(want)).map_err(super::json::err)?;
            let value = |t: Token| match to {
                Some(c) => super::json::convert(&t, c),
                None => Ok(super::json::token(t)),
            };
            let children = doc.children();
            return match kind {
                // A repeated name: the last value, as Newtonsoft's `dictionary[key] = value`.
                2 => {
                    let mut pairs = Keyed::new();
                    for p in children {
                        let name = p.name().map(Value::Str).unwrap_or(Value::Null);
                        pairs.set(name, value(p.property_value())?);
                    }
                    made(C::Dict(pairs))
                }
                1 => {
                    let mut set = Keyed::new();
                    for c in children {
                        set.add(value(c)?, ());
                    }
                    made(C::Set(set))
                }
                _ => {
                    let items = children
                        .into_iter()
                        .map(value)
                        .collect::<EvalResult<Vec<_>>>()?;
                    made(C::List(items))
                }
            };
        }
        GenericFn::DictFromPairs => {
            let mut dict = Keyed::new();
            if let Value::Array(a) = arg(args, 0) {
                for p in a.iter() {
                    let Value::Pair(p) = p else { continue };
                    let (k, v) = (&p.0, &p.1);
                    if k.is_null() {
                        return fail(
                            EvalErrorKind::Argument,
                            "Value cannot be null. (Parameter 'key')",
                        );
                    }
                    if dict.contains(k) {
                        return fail(
                            EvalErrorKind::Argument,
                            format!(
                                "An item with the same key has already been added. Key: {}",
                                k.to_dotnet_string()
                            ),
                        );
                    }
                    env.charge_bytes(weight(k) + weight(v))?;
                    dict.add(k.clone(), v.clone());
                }
            }
            return made(C::Dict(dict));
        }
        GenericFn::SetFrom => {
            let mut set = keyed(args);
            if let Value::Array(a) = arg(args, 0) {
                for v in a.iter() {
                    set.add(v.clone(), ());
                }
            }
            env.charge_bytes(set.keys().map(weight).sum())?;
            return made(C::Set(set));
        }
        GenericFn::ListFrom => {
            let items: Vec<Value> = match arg(args, 0) {
                Value::Array(a) => a.to_vec(),
                _ => {
                    return fail(
                        EvalErrorKind::Argument,
                        "Value cannot be null. (Parameter 'collection')",
                    )
                }
            };
            env.charge_bytes(items.iter().map(weight).sum())?;
            return made(C::List(items));
        }
        _ => {}
    }
    let Value::Obj(o) = arg(args, 0) else {
        return fail(EvalErrorKind::NullReference, NULL_REF);
    };
    let Obj::Collection(cell) = &**o else {
        return fail(EvalErrorKind::InvalidCast, "not a List or a Dictionary");
    };
    // A panic while the lock was held leaves a whole collection: keep going.
    let mut c = cell.lock().unwrap_or_else(|e| e.into_inner());
    let x = arg(args, 1).clone();
    let key_str = |k: &Value| k.to_dotnet_string();
    Ok(match (&mut *c, f) {
        (C::List(l), GenericFn::Count) => Value::Int(l.len() as i64),
        (C::Set(l), GenericFn::Count) => Value::Int(l.len() as i64),
        (C::Set(l), GenericFn::SetAdd) => {
            let w = weight(&x);
            let added = l.add(x, ());
            if added {
                env.charge_bytes(w)?;
            }
            Value::Bool(added)
        }
        (C::Set(l), GenericFn::UnionWith) => {
            if let Value::Array(a) = &x {
                for v in a.iter() {
                    if l.add(v.clone(), ()) {
                        env.charge_bytes(weight(v))?;
                    }
                }
            }
            Value::Null
        }
        (C::Dict(d), GenericFn::Count) => Value::Int(d.len() as i64),
        (C::List(l), GenericFn::Items) => Value::Array(l.clone().into()),
        (C::Set(l), GenericFn::Items) => Value::Array(l.keys().cloned().collect::<Vec<_>>().into()),
        (C::Dict(d), GenericFn::Items) => Value::Array(
            d.entries()
                .iter()
                .map(|(k, v)| Value::Pair(Arc::new((k.clone(), v.clone()))))
                .collect::<Vec<_>>()
                .into(),
        ),
        (C::Dict(d), GenericFn::Keys) => Value::Array(d.keys().cloned().collect::<Vec<_>>().into()),
        (C::Dict(d), GenericFn::Values) => Value::Array(
            d.entries()
                .iter()
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
                .into(),
        ),
        (C::List(l), GenericFn::Add) => {
            env.charge_bytes(weight(&x))?;
            l.push(x);
            Value::Null
        }
        (C::Dict(d), GenericFn::AddPair) => {
            let v = arg(args, 2).clone();
            if x.is_null() {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'key')",
                );
            }
            if d.contains(&x) {
                return fail(
                    EvalErrorKind::Argument,
                    format!(
                        "An item with the same key has already been added. Key: {}",
                        key_str(&x)
                    ),
                );
            }
            env.charge_bytes(weight(&x) + weight(&v))?;
            d.add(x, v);
            Value::Null
        }
        (C::Dict(d), GenericFn::Get) => match d.get(&x) {
            Some(v) => v.clone(),
            None => {
                return fail(
                    EvalErrorKind::KeyNotFound,
                    format!(
                        "The given key '{}' was not present in the dictionary.",
                        key_str(&x)
                    ),
                )
            }
        },
        (C::List(l), GenericFn::Get) => {
            let i = usize::try_from(i_arg(args, 1)?).map_err(|_| out_of_range())?;
            l.get(i).cloned().ok_or_else(out_of_range)?
        }
        (C::Dict(d), GenericFn::Set) => {
            let v = arg(args, 2).clone();
            if x.is_null() {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'key')",
                );
            }
            env.charge_bytes(weight(&v))?;
            d.set(x, v.clone());
            v
        }
        (C::List(l), GenericFn::Set) => {
            let v = arg(args, 2).clone();
            env.charge_bytes(weight(&v))?;
            let i = usize::try_from(i_arg(args, 1)?).map_err(|_| out_of_range())?;
            let slot = l.get_mut(i).ok_or_else(out_of_range)?;
            *slot = v.clone();
            v
        }
        (C::List(l), GenericFn::Contains) => Value::Bool(l.iter().any(|v| v.dotnet_eq(&x))),
        (C::Set(l), GenericFn::Contains) => Value::Bool(l.contains(&x)),
        (C::List(l), GenericFn::IndexOf) => Value::Int(
            l.iter()
                .position(|v| v.dotnet_eq(&x))
                .map_or(-1, |i| i as i64),
        ),
        (C::List(l), GenericFn::Insert) => {
            let i = usize::try_from(i_arg(args, 1)?).map_err(|_| out_of_range())?;
            let v = arg(args, 2).clone();
            if i > l.len() {
                return Err(out_of_range());
            }
            env.charge_bytes(weight(&v))?;
            l.insert(i, v);
            Value::Null
        }
        (C::Set(l), GenericFn::Remove) => Value::Bool(l.remove(&x)),
        (C::List(l), GenericFn::Remove) => match l.iter().position(|v| v.dotnet_eq(&x)) {
            Some(i) => {
                l.remove(i);
                Value::Bool(true)
            }
            None => Value::Bool(false),
        },
        (C::List(l), GenericFn::RemoveAt) => {
            let i = usize::try_from(i_arg(args, 1)?).map_err(|_| out_of_range())?;
            if i >= l.len() {
                return Err(out_of_range());
            }
            l.remove(i);
            Value::Null
        }
        (C::Dict(d), GenericFn::ContainsKey) => Value::Bool(d.contains(&x)),
        (C::Dict(d), GenericFn::ContainsValue) => {
            Value::Bool(d.entries().iter().any(|(_, v)| v.dotnet_eq(&x)))
        }
        (C::Dict(d), GenericFn::RemoveKey) => Value::Bool(d.remove(&x)),
        (C::List(l), GenericFn::Clear) => {
            l.clear();
            Value::Null
        }
        (C::Set(l), GenericFn::Clear) => {
            l.clear();
            Value::Null
        }
        (C::Dict(d), GenericFn::TryAdd) => {
            let v = arg(args, 2).clone();
            if x.is_null() {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'key')",
                );
            }
            let w = weight(&x) + weight(&v);
            let added = d.add(x, v);
            if added {
                env.charge_bytes(w)?;
            }
            Value::Bool(added)
        }
        (C::List(l), GenericFn::Sort) => {
            l.sort_by(|a, b| a.order(b));
            Value::Null
        }
        (C::List(l), GenericFn::Reverse) => {
            l.reverse();
            Value::Null
        }
        (C::List(l), GenericFn::AddRange) => {
            let Value::Array(a) = &x else {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'collection')",
                );
            };
            if l.len() + a.len() > env.max_items() {
                return over_budget(format!(
                    "a collection of {} items (at most {})",
                    l.len() + a.len(),
                    env.max_items()
                ));
            }
            env.charge_bytes(a.iter().map(weight).sum())?;
            l.extend(a.iter().cloned());
            Value::Null
        }
        (C::Set(l), GenericFn::SetOp(op)) => {
            let Value::Array(a) = &x else {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'other')",
                );
            };
            set_op(l, op, a)
        }
        (C::Dict(d), GenericFn::Clear) => {
            d.clear();
            Value::Null
        }
        // The checker binds each function to its kind of collection.
        _ => return fail(EvalErrorKind::InvalidCast, "not this kind of collection"),
    })
}

/// `HashSet<T>`'s set algebra against `other`'s items, in time linear in both.
fn set_op(set: &mut Keyed<()>, op: SetOp, other: &[Value]) -> Value {
    let mut theirs: Keyed<()> = Keyed::new();
    for v in other {
        theirs.add(v.clone(), ());
    }
    let common = set.keys().filter(|k| theirs.contains(k)).count();
    let (mine, their) = (set.len(), theirs.len());
    match op {
        SetOp::IntersectWith => {
            set.retain(|k| theirs.contains(k));
            Value::Null
        }
        SetOp::ExceptWith => {
            set.retain(|k| !theirs.contains(k));
            Value::Null
        }
        SetOp::SymmetricExceptWith => {
            let only_theirs: Vec<Value> = theirs
                .keys()
                .filter(|k| !set.contains(k))
                .cloned()
                .collect();
            set.retain(|k| !theirs.contains(k));
            for k in only_theirs {
                set.add(k, ());
            }
            Value::Null
        }
        SetOp::IsSubsetOf => Value::Bool(common == mine),
        SetOp::IsSupersetOf => Value::Bool(common == their),
        SetOp::IsProperSubsetOf => Value::Bool(common == mine && their > mine),
        SetOp::IsProperSupersetOf => Value::Bool(common == their && mine > their),
        SetOp::Overlaps => Value::Bool(common > 0),
        SetOp::SetEquals => Value::Bool(common == mine && common == their),
    }
}

#[cfg(test)]
mod tests {
    use crate::expr::testing::{assert_refused, s};

    #[test]
    fn client_sized_sets_and_dictionaries_are_read_in_linear_time() {
        use crate::context::SimpleContext;
        use crate::expr::testing::show;
        // 99 999 distinct strings and a repeated one (the item budget: 100 000), in a request body.
        let items: Vec<String> = (0..99_999).map(|i| format!("\"v{i}\"")).collect();
        let mut ctx = SimpleContext::new("POST", "/");
        ctx.request_body = Some(format!("[{},\"v0\"]", items.join(",")).into_bytes());
        assert_eq!(
            show(
                r#"@(JsonConvert.DeserializeObject<HashSet<string>>(context.Request.Body.As<string>(true)).Count)"#,
                &ctx
            ),
            "99999"
        );
        assert_eq!(
            show(
                r#"@{ var s = new HashSet<string>(); s.UnionWith(JsonConvert.DeserializeObject<List<string>>(context.Request.Body.As<string>(true))); return s.Contains("v99998") + "/" + s.Count; }"#,
                &ctx
            ),
            "True/99999"
        );
        // Tokens are distinct by reference: Distinct and GroupBy hash them by address.
        let objects: Vec<String> = (0..99_999).map(|i| format!("{{\"i\":{i}}}")).collect();
        ctx.request_body = Some(format!("[{}]", objects.join(",")).into_bytes());
        assert_eq!(
            show(
                r#"@{ var a = JArray.Parse(context.Request.Body.As<string>(true)); return a.Distinct().Count() + "/" + a.GroupBy(t => t).Count(); }"#,
                &ctx
            ),
            "99999/99999"
        );
        // Equals, not ==: a boxed 1 and 1.0 stay two, as in .NET.
        assert_eq!(
            crate::expr::testing::s("@(new object[] { 1, 1.0, 1 }.Distinct().Count())"),
            "2"
        );
        let pairs: Vec<String> = (0..99_999).map(|i| format!("\"k{i}\":{i}")).collect();
        // A repeated name keeps the last value, as Newtonsoft's dictionary[key] = value.
        ctx.request_body = Some(format!("{{{},\"k7\":-7}}", pairs.join(",")).into_bytes());
        assert_eq!(
            show(
                r#"@{ var d = JsonConvert.DeserializeObject<Dictionary<string, int>>(context.Request.Body.As<string>(true)); return d["k7"] + "/" + d.Count + "/" + d.ContainsKey("k99998"); }"#,
                &ctx
            ),
            "-7/99999/True"
        );
    }

    #[test]
    fn lists_and_dictionaries_as_policies_build_them() {
        for (expr, want) in [
            ("@(new List<string>().Count)", "0"),
            ("@(new List<string> { \"a\", \"b\" }.Count)", "2"),
            ("@{ var l = new List<string>(); l.Add(\"x\"); l.Add(\"y\"); l.Insert(0, \"w\"); return String.Join(\",\", l); }", "w,x,y"),
            ("@{ var l = new List<int> { 3, 1, 2 }; l.Remove(1); l.RemoveAt(0); return l[0]; }", "2"),
            ("@{ var l = new List<int> { 3, 1, 2 }; l[1] = 9; return l.Sum(); }", "14"),
            ("@(new List<int> { 3, 1, 2 }.OrderBy(x => x).First())", "1"),
            ("@(new List<string> { \"a\" }.Contains(\"a\") && new List<string> { \"a\" }.IndexOf(\"b\") == -1)", "True"),
            ("@(new List<string>(new [] {\"p\", \"q\"}).ToArray().Length)", "2"),
            ("@(new List<string>(10).Count)", "0"),
            ("@(new HashSet<string> { \"a\", \"b\", \"a\" }.Count)", "2"),
            ("@{ var h = new HashSet<string>(); var first = h.Add(\"x\"); var again = h.Add(\"x\"); return first + \"/\" + again + \"/\" + h.Count; }", "True/False/1"),
            ("@{ var h = new HashSet<int>(new [] {1, 2, 2}); h.UnionWith(new [] {2, 3}); h.Remove(1); return String.Join(\",\", h); }", "2,3"),
            ("@(new HashSet<string> { \"a\" }.Contains(\"a\"))", "True"),
            ("@(JsonConvert.SerializeObject(new HashSet<int> { 2, 1, 2 }))", "[2,1]"),
            ("@(JsonConvert.DeserializeObject<Dictionary<string, string>>(\"{\\\"a\\\":\\\"1\\\",\\\"b\\\":2}\")[\"b\"])", "2"),
            ("@(JsonConvert.DeserializeObject<List<int>>(\"[3,4]\").Sum())", "7"),
            ("@(JsonConvert.DeserializeObject<HashSet<string>>(\"[\\\"x\\\",\\\"x\\\"]\").Count)", "1"),
            ("@((string)JsonConvert.DeserializeObject<Dictionary<string, JToken>>(\"{\\\"o\\\":{\\\"k\\\":\\\"v\\\"}}\")[\"o\"][\"k\"])", "v"),
            ("@{ var l = new [] {1, 2, 3}.Where(x => x > 1).ToList(); l.Add(7); return l.Sum(); }", "12"),
            ("@{ var a = new List<int> { 1 }; var b = a.ToList(); b.Add(2); return a.Count + \"/\" + b.Count; }", "1/2"),
            ("@{ var n = 0; foreach (var x in new List<int> { 1, 2, 3 }) { n += x; } return n; }", "6"),
            ("@(JsonConvert.SerializeObject(new List<string> { \"a\", \"b\" }))", "[\"a\",\"b\"]"),
            ("@{ List<string> l = new List<string>(); l.Add(\"z\"); l.Clear(); return l.Count; }", "0"),
            // Dictionaries.
            ("@(new Dictionary<string, string> { { \"a\", \"1\" }, [\"b\"] = \"2\" }[\"b\"])", "2"),
            ("@{ var d = new Dictionary<string, int>(); d[\"x\"] = 1; d[\"x\"] = 5; d.Add(\"y\", 2); return d[\"x\"] + d.Count; }", "7"),
            ("@{ var d = new Dictionary<string, string> { { \"k\", \"v\" } }; string v; return d.TryGetValue(\"k\", out v) ? v : \"none\"; }", "v"),
            ("@{ var d = new Dictionary<string, int> { { \"k\", 1 } }; int v; var found = d.TryGetValue(\"q\", out v); return found + \"/\" + v; }", "False/0"),
            ("@(String.Join(\",\", new Dictionary<string, string> { { \"b\", \"1\" }, { \"a\", \"2\" } }.Keys))", "b,a"),
            ("@(new Dictionary<string, string> { { \"b\", \"1\" } }.ContainsKey(\"b\"))", "True"),
            ("@(new Dictionary<string, string> { { \"b\", \"1\" } }.ContainsValue(\"2\"))", "False"),
            ("@{ var d = new Dictionary<string, string> { { \"a\", \"1\" } }; d.Remove(\"a\"); return d.Count; }", "0"),
            ("@(new Dictionary<string, int> { { \"a\", 1 }, { \"b\", 2 } }.Sum(kv => kv.Value))", "3"),
            ("@{ var s = \"\"; foreach (var kv in new Dictionary<string, string> { { \"a\", \"1\" } }) { s += kv.Key + \"=\" + kv.Value; } return s; }", "a=1"),
            ("@(JsonConvert.SerializeObject(new Dictionary<string, object> { { \"n\", 1 }, { \"s\", \"x\" } }))", "{\"n\":1,\"s\":\"x\"}"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        for (expr, message) in [
            (
                "@(new Dictionary<string, string> { { \"a\", \"1\" }, { \"a\", \"2\" } }.Count)",
                "An item with the same key has already been added. Key: a",
            ),
            (
                "@(new Dictionary<string, string>()[\"nope\"])",
                "The given key 'nope' was not present in the dictionary.",
            ),
            ("@(new List<string>()[0])", "Index was out of range"),
            ("@(new List<string> { 1 })", "cannot"),
            (
                "@(new List<string>().GetRange(0, 1))",
                "'List<string>.GetRange' is not supported by certgate",
            ),
            (
                "@(new Queue<string> { \"a\" })",
                "initializer is supported by certgate for List",
            ),
            (
                "@(new HashSet<string>().RemoveWhere(null))",
                "not supported by certgate",
            ),
            (
                "@(new List<string>().ForEach(null))",
                "not supported by certgate",
            ),
        ] {
            assert_refused(expr, message);
        }
    }

    /// A dictionary or set made with an ignore-case `StringComparer` finds string keys ignoring
    /// case and keeps the first spelling; the ordinal ones do not.
    #[test]
    fn string_comparers_given_to_dictionaries_and_sets() {
        for (expr, want) in [
            (
                r#"@{ var d = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { { "Content-Type", "a" } }; d["content-type"] = "b"; return d.Count + "/" + d["CONTENT-TYPE"] + "/" + string.Join(",", d.Keys); }"#,
                "1/b/Content-Type",
            ),
            (
                r#"@{ var d = new Dictionary<string, int>(16, StringComparer.InvariantCultureIgnoreCase); d.Add("A", 1); return d.ContainsKey("a") + "/" + d.TryAdd("a", 2); }"#,
                "True/False",
            ),
            (
                r#"@{ var d = new Dictionary<string, int>(StringComparer.Ordinal); d.Add("A", 1); return d.ContainsKey("a").ToString(); }"#,
                "False",
            ),
            (
                r#"@(new HashSet<string>(new [] {"a", "A", "b"}, StringComparer.OrdinalIgnoreCase).Count)"#,
                "2",
            ),
            (
                r#"@{ var h = new HashSet<string>(StringComparer.OrdinalIgnoreCase); h.Add("X"); return h.Contains("x") + "/" + h.Remove("x") + "/" + h.Count; }"#,
                "True/True/0",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_refused(
            "@(new Dictionary<int, string>(StringComparer.Ordinal))",
            "a StringComparer compares string keys, not 'int'",
        );
        assert_refused(
            "@(new List<string>(StringComparer.Ordinal))",
            "List<string> is made from",
        );
    }

    #[test]
    fn a_collection_that_grows_past_the_memory_budget_is_stopped() {
        // Doubling a string into a list: the budget ends it, not the gateway's memory.
        let got = s("@{ var l = new List<string>(); var x = \"xxxxxxxxxxxxxxxx\"; foreach (var i in new [] {1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24}) { x = x + x; l.Add(x); } return l.Count; }");
        assert!(got.starts_with("ERR") && got.contains("budget"), "{got}");
    }
}
