//! Arrays, `byte[]`, `KeyValuePair` (what iterating a dictionary gives), `Tuple` and
//! `IEnumerator<T>`: `Length`, `Contains`, indexing, `Key`/`Value`, `Item1`.., `MoveNext`/
//! `Current`, `ToArray`/`ToList`, and `System.Array`'s statics that read an array (`IndexOf`,
//! `Exists`, `Find`, `ConvertAll`, `Empty`, ...). Checker bindings and evaluator in one file;
//! LINQ over them is the checker's and evaluator's own driver.
//!
//! Arrays are values here: the statics that change one in place (`Sort`, `Reverse`, `Fill`,
//! `Resize`, ...) are refused by name.

use crate::expr::ast::{Expr, ExprKind, TypeName};
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use std::sync::{Arc, Mutex};

use crate::value::{Obj, Value};

fn coll(f: CollectionFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Collection(f), args)
}

/// `a.Length`, `pair.Key`, `pair.Value`.
pub(crate) fn member(recv: Ir, rty: &Ty, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match (rty, name) {
        // `Count` is what a list or a `MatchCollection` has; certgate's sequences stand for them.
        (Ty::Array(_) | Ty::Bytes, "Length" | "Count" | "LongLength") => {
            Ok((coll(CollectionFn::Length, vec![recv]), Ty::Int))
        }
        (Ty::Array(_) | Ty::Bytes, "Rank") => Ok((Ir::Const(Value::Int(1)), Ty::Int)),
        (Ty::Pair(k, _) | Ty::Group(k, _), "Key") => {
            Ok((coll(CollectionFn::PairKey, vec![recv]), (**k).clone()))
        }
        (Ty::Pair(_, v), "Value") => Ok((coll(CollectionFn::PairValue, vec![recv]), (**v).clone())),
        (Ty::Tuple(items), item) => {
            let n = item
                .strip_prefix("Item")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| (1..=items.len()).contains(n));
            match n {
                Some(n) => Ok((
                    coll(CollectionFn::TupleItem((n - 1) as u8), vec![recv]),
                    items[n - 1].clone(),
                )),
                None => unknown_member(rty, name, off),
            }
        }
        (Ty::Enumerator(e), "Current") => {
            Ok((coll(CollectionFn::Current, vec![recv]), (**e).clone()))
        }
        _ => unknown_member(rty, name, off),
    }
}

/// `a.Contains(x)`, `a.ToArray()`, `a.ToList()`.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    rty: &Ty,
    name: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if matches!(name, "Encrypt" | "Decrypt") && matches!(rty, Ty::Bytes | Ty::Array(_)) {
        return super::crypto::symmetric(b, recv, name, args, off);
    }
    match (rty, name) {
        (Ty::Array(_) | Ty::Bytes, "Contains") => {
            let elem = match rty {
                Ty::Array(e) => (**e).clone(),
                _ => Ty::Int,
            };
            let a = b.args(name, args, &[elem], 1, off)?;
            Ok((
                b.fold(coll(CollectionFn::Contains, with_recv(recv, a))),
                Ty::Bool,
            ))
        }
        (Ty::Array(_), "ToArray") => Ok((recv, rty.clone())),
        (Ty::Pair(..) | Ty::Tuple(_), "Equals") => {
            let a = b.args(name, args, std::slice::from_ref(rty), 1, off)?;
            Ok((coll(CollectionFn::ItemsEqual, with_recv(recv, a)), Ty::Bool))
        }
        (Ty::Enumerator(_), "MoveNext" | "Reset" | "Dispose") => {
            b.args(name, args, &[], 0, off)?;
            let (f, ty) = match name {
                "MoveNext" => (CollectionFn::MoveNext, Ty::Bool),
                "Reset" => (CollectionFn::Reset, Ty::Void),
                // Nothing to release.
                _ => return Ok((Ir::Const(Value::Null), Ty::Void)),
            };
            Ok((coll(f, vec![recv]), ty))
        }
        (Ty::Array(_) | Ty::Bytes, "GetValue") => {
            let elem = match rty {
                Ty::Array(e) => (**e).clone(),
                _ => Ty::Int,
            };
            let a = b.args(name, args, &[Ty::Int], 1, off)?;
            Ok((b.fold(coll(CollectionFn::Index, with_recv(recv, a))), elem))
        }
        (Ty::Array(_) | Ty::Bytes, "GetLength" | "GetLowerBound" | "GetUpperBound") => {
            // One dimension: 0 is the only one there is.
            let [dim] = args else {
                return type_err(off, format!("'{name}' takes the dimension"));
            };
            if !matches!(dim.kind, ExprKind::Lit(crate::expr::ast::Lit::Int(0))) {
                return type_err(
                    dim.offset,
                    format!("'{name}' of an array of one dimension takes 0"),
                );
            }
            let length = coll(CollectionFn::Length, vec![recv]);
            Ok(match name {
                "GetLength" => (length, Ty::Int),
                "GetLowerBound" => (Ir::Const(Value::Int(0)), Ty::Int),
                _ => (
                    Ir::Binary(
                        crate::expr::ast::BinOp::Sub,
                        Box::new(length),
                        Box::new(Ir::Const(Value::Int(1))),
                    ),
                    Ty::Int,
                ),
            })
        }
        // A new list of the items, which the policy may then change.
        (Ty::Array(e), "ToList") => Ok((
            Ir::Call(Builtin::Generic(GenericFn::ListFrom), vec![recv]),
            Ty::List(e.clone()),
        )),
        _ => unknown_member(rty, name, off),
    }
}

/// `Array.X(a, ..)`: `IndexOf`/`LastIndexOf`, `Empty<T>()`, and those taking a predicate or a
/// converter, which are the LINQ call they equal (`Array.Exists(a, p)` is `a.Any(p)`,
/// `Array.FindAll(a, p)` is `a.Where(p).ToArray()`).
pub(crate) fn static_method(
    b: &mut dyn Binder,
    m: &str,
    type_args: &[TypeName],
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let linq = match m {
        "Exists" => Some(("Any", false)),
        "TrueForAll" => Some(("All", false)),
        "Find" => Some(("FirstOrDefault", false)),
        "FindLast" => Some(("LastOrDefault", false)),
        "FindAll" => Some(("Where", true)),
        "ConvertAll" => Some(("Select", true)),
        _ => None,
    };
    if let Some((name, to_array)) = linq {
        let [array, f] = args else {
            return type_err(off, format!("'Array.{m}' takes the array and a function"));
        };
        let call = |target: Expr, name: &str, args: Vec<Expr>| Expr {
            kind: ExprKind::Call {
                target: Box::new(target),
                name: name.into(),
                type_args: Vec::new(),
                args,
                null_cond: false,
            },
            offset: off,
        };
        let mut e = call(array.clone(), name, vec![f.clone()]);
        if to_array {
            e = call(e, "ToArray", Vec::new());
        }
        return b.expr(&e);
    }
    match m {
        "IndexOf" | "LastIndexOf" => {
            let [array, item] = args else {
                return type_err(
                    off,
                    format!("'Array.{m}' with other than the array and the item is not supported by certgate"),
                );
            };
            let (a, ty) = b.expr(array)?;
            let elem = match &ty {
                Ty::Array(e) => (**e).clone(),
                Ty::Bytes => Ty::Int,
                t => {
                    return type_err(
                        array.offset,
                        format!("'Array.{m}' needs an array, not '{t}'"),
                    )
                }
            };
            let x = b.coerce(item, &elem)?;
            let f = CollectionFn::IndexOf(m == "LastIndexOf");
            Ok((b.fold(coll(f, vec![a, x])), Ty::Int))
        }
        "Empty" => {
            let ([t], []) = (type_args, args) else {
                return type_err(off, "'Array.Empty' takes a type argument and no arguments");
            };
            let elem = resolve_type(t, off)?;
            let empty: std::sync::Arc<[Value]> = Vec::new().into();
            Ok((Ir::Const(Value::Array(empty)), Ty::Array(Box::new(elem))))
        }
        _ => unknown_member(&Ty::Static(Static::Array), m, off),
    }
}

/// `new Tuple<T1, ..>(..)` and `new KeyValuePair<K, V>(k, v)`: the arguments checked against
/// the type's arguments.
pub(crate) fn new(
    b: &mut dyn Binder,
    ty: &TypeName,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let rty = resolve_type(ty, off)?;
    let (params, f) = match &rty {
        Ty::Tuple(items) => (items.clone(), CollectionFn::NewTuple),
        Ty::Pair(k, v) => (vec![(**k).clone(), (**v).clone()], CollectionFn::NewPair),
        t => return type_err(off, format!("cannot create '{t}' here")),
    };
    let a = b.args(&ty.name, args, &params, params.len(), off)?;
    Ok((coll(f, a), rty))
}

/// `Tuple.Create(a, b, ..)` and `KeyValuePair.Create(k, v)`: typed by their arguments.
pub(crate) fn create(
    b: &mut dyn Binder,
    s: Static,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if m != "Create" {
        return unknown_member(&Ty::Static(s), m, off);
    }
    let pair = s == Static::KeyValuePair;
    let arity_ok = if pair {
        args.len() == 2
    } else {
        (1..=7).contains(&args.len())
    };
    if !arity_ok {
        let takes = if pair {
            "a key and a value"
        } else {
            "1 to 7 items"
        };
        return type_err(off, format!("'{s:?}.Create' takes {takes}"));
    }
    let mut irs = Vec::with_capacity(args.len());
    let mut tys = Vec::with_capacity(args.len());
    for a in args {
        let (ir, t) = b.expr(a)?;
        if matches!(t, Ty::Null | Ty::Void) {
            return type_err(
                a.offset,
                format!("the type of this item cannot be inferred from '{t}'"),
            );
        }
        irs.push(ir);
        tys.push(t);
    }
    if pair {
        let v = tys.pop().unwrap_or(Ty::Object);
        let k = tys.pop().unwrap_or(Ty::Object);
        return Ok((
            coll(CollectionFn::NewPair, irs),
            Ty::Pair(Box::new(k), Box::new(v)),
        ));
    }
    Ok((coll(CollectionFn::NewTuple, irs), Ty::Tuple(tys)))
}

/// `Enumerable.Range(start, count)`, `Enumerable.Repeat(item, count)`, `Enumerable.Empty<T>()`.
pub(crate) fn enumerable(
    b: &mut dyn Binder,
    m: &str,
    type_args: &[TypeName],
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    match m {
        "Range" => {
            let a = b.args(m, args, &[Ty::Int, Ty::Int], 2, off)?;
            Ok((coll(CollectionFn::Range, a), Ty::Array(Box::new(Ty::Int))))
        }
        "Repeat" => {
            let [item, count] = args else {
                return type_err(off, "'Repeat' takes the item and the count");
            };
            let (item, ty) = b.expr(item)?;
            let count = b.coerce(count, &Ty::Int)?;
            Ok((
                coll(CollectionFn::Repeat, vec![item, count]),
                Ty::Array(Box::new(ty)),
            ))
        }
        "Empty" => static_method(b, "Empty", type_args, args, off),
        _ => unknown_member(&Ty::Static(Static::Enumerable), m, off),
    }
}

/// `a[i]`: the element type (`int` for `byte[]`).
pub(crate) fn index(b: &mut dyn Binder, recv: Ir, rty: &Ty, index: &Expr) -> CheckResult<(Ir, Ty)> {
    let ty = match rty {
        Ty::Array(e) => (**e).clone(),
        _ => Ty::Int,
    };
    let k = b.coerce(index, &Ty::Int)?;
    Ok((b.fold(coll(CollectionFn::Index, vec![recv, k])), ty))
}

/// LINQ's positional operators over a sequence's items: `Skip(n)`, `Take(n)`, `ElementAt(i)`,
/// `ElementAtOrDefault(i)`, `Reverse()`, `Concat(other)`.
pub(crate) fn positional(
    b: &mut dyn Binder,
    f: CollectionFn,
    source: Ir,
    elem: Ty,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let seq = Ty::Array(Box::new(elem.clone()));
    let (params, ty): (&[Ty], Ty) = match f {
        CollectionFn::Skip | CollectionFn::Take => (&[Ty::Int], seq.clone()),
        CollectionFn::ElementAt | CollectionFn::ElementAtOrDefault => (&[Ty::Int], elem),
        CollectionFn::Reverse => (&[], seq.clone()),
        _ => (std::slice::from_ref(&seq), seq.clone()),
    };
    let name = format!("{f:?}");
    let a = b.args(&name, args, params, params.len(), off)?;
    Ok((coll(f, with_recv(source, a)), ty))
}

/// The items of a sequence value (an array, or a `byte[]` as numbers).
fn items(v: &Value) -> EvalResult<Vec<Value>> {
    match v {
        Value::Array(a) => Ok(a.to_vec()),
        Value::Bytes(b) => Ok(b.iter().map(|&x| Value::Int(x.into())).collect()),
        _ => fail(EvalErrorKind::NullReference, NULL_REF),
    }
}

pub(crate) fn eval(f: CollectionFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    Ok(match f {
        CollectionFn::Skip | CollectionFn::Take => {
            let all = items(arg(args, 0))?;
            let n = usize::try_from(i_arg(args, 1)?.max(0))
                .unwrap_or(usize::MAX)
                .min(all.len());
            let part = if f == CollectionFn::Skip {
                &all[n..]
            } else {
                &all[..n]
            };
            Value::Array(part.into())
        }
        CollectionFn::ElementAt | CollectionFn::ElementAtOrDefault => {
            let all = items(arg(args, 0))?;
            match usize::try_from(i_arg(args, 1)?).ok().and_then(|i| all.get(i)) {
                Some(v) => v.clone(),
                None if f == CollectionFn::ElementAtOrDefault => Value::Null,
                None => {
                    return fail(
                        EvalErrorKind::OutOfRange,
                        "Index was out of range. Must be non-negative and less than the size of the collection. (Parameter 'index')",
                    )
                }
            }
        }
        CollectionFn::Reverse => {
            let mut all = items(arg(args, 0))?;
            all.reverse();
            Value::Array(all.into())
        }
        CollectionFn::SequenceEqual => {
            let (a, b) = (items(arg(args, 0))?, items(arg(args, 1))?);
            env.step()?;
            Value::Bool(a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.dotnet_eq(y)))
        }
        CollectionFn::Range | CollectionFn::Repeat => {
            let count = i_arg(args, 1)?;
            let Ok(n) = usize::try_from(count) else {
                return fail(
                    EvalErrorKind::OutOfRange,
                    "Specified argument was out of the range of valid values. (Parameter 'count')",
                );
            };
            if n > env.max_items() {
                return over_budget(format!(
                    "a collection of {n} items (at most {})",
                    env.max_items()
                ));
            }
            if f == CollectionFn::Range {
                let start = i_arg(args, 0)?;
                if start
                    .checked_add(count)
                    .is_none_or(|end| end - 1 > i64::from(i32::MAX))
                {
                    return fail(
                        EvalErrorKind::OutOfRange,
                        "Specified argument was out of the range of valid values. (Parameter 'count')",
                    );
                }
                Value::Array((start..start + count).map(Value::Int).collect())
            } else {
                Value::Array(vec![arg(args, 0).clone(); n].into())
            }
        }
        CollectionFn::SetOp(which) => {
            use crate::value::{hash_key, HashKey};
            let (mine, theirs) = (items(arg(args, 0))?, items(arg(args, 1))?);
            // Keys hashed as `Distinct` hashes them; other values compared by C#'s `==`.
            let key = |v: &Value| hash_key(v, false);
            let mut other: std::collections::HashSet<HashKey> = std::collections::HashSet::new();
            let mut other_rest = Vec::new();
            for v in &theirs {
                env.step()?;
                match key(v) {
                    Some(k) => {
                        other.insert(k);
                    }
                    None => other_rest.push(v.clone()),
                }
            }
            let in_other = |v: &Value| match key(v) {
                Some(k) => other.contains(&k),
                None => other_rest.iter().any(|o| o.dotnet_eq(v)),
            };
            let mut seen = std::collections::HashSet::new();
            let mut seen_rest: Vec<Value> = Vec::new();
            let mut out = Vec::new();
            let candidates = if which == 0 {
                mine.iter().chain(theirs.iter()).collect::<Vec<_>>()
            } else {
                mine.iter().collect()
            };
            for v in candidates {
                env.step()?;
                let keep = match which {
                    1 => in_other(v),
                    2 => !in_other(v),
                    _ => true,
                };
                let fresh = match key(v) {
                    Some(k) => seen.insert(k),
                    None if seen_rest.iter().any(|o| o.dotnet_eq(v)) => false,
                    None => {
                        seen_rest.push(v.clone());
                        true
                    }
                };
                if keep && fresh {
                    out.push(v.clone());
                }
            }
            Value::Array(out.into())
        }
        CollectionFn::Concat => {
            let mut all = items(arg(args, 0))?;
            let more = items(arg(args, 1))?;
            if all.len() + more.len() > env.max_items() {
                return over_budget(format!(
                    "a collection of {} items (at most {})",
                    all.len() + more.len(),
                    env.max_items()
                ));
            }
            all.extend(more);
            Value::Array(all.into())
        }
        CollectionFn::NewArray | CollectionFn::NewBytes => {
            let n = i_arg(args, 0)?;
            let Ok(n) = usize::try_from(n) else {
                return fail(
                    EvalErrorKind::Overflow,
                    "Arithmetic operation resulted in an overflow.",
                );
            };
            // Bounded before it is allocated: the budget would refuse it anyway.
            if f == CollectionFn::NewBytes {
                env.check_len(n)?;
                Value::Bytes(vec![0u8; n].into())
            } else {
                if n > env.max_items() {
                    return over_budget(format!(
                        "a collection of {n} items (at most {})",
                        env.max_items()
                    ));
                }
                Value::Array(vec![arg(args, 1).clone(); n].into())
            }
        }
        CollectionFn::PairKey | CollectionFn::PairValue => match arg(args, 0) {
            Value::Pair(p) => {
                if f == CollectionFn::PairKey {
                    p.0.clone()
                } else {
                    p.1.clone()
                }
            }
            _ => return fail(EvalErrorKind::NullReference, NULL_REF),
        },
        CollectionFn::PairKeys | CollectionFn::PairValues => match arg(args, 0) {
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|p| match p {
                        Value::Pair(p) if f == CollectionFn::PairKeys => p.0.clone(),
                        Value::Pair(p) => p.1.clone(),
                        _ => Value::Null,
                    })
                    .collect::<Vec<_>>()
                    .into(),
            ),
            _ => return fail(EvalErrorKind::NullReference, NULL_REF),
        },
        CollectionFn::Length => match arg(args, 0) {
            Value::Array(a) => Value::Int(a.len() as i64),
            Value::Bytes(b) => Value::Int(b.len() as i64),
            _ => return fail(EvalErrorKind::NullReference, NULL_REF),
        },
        CollectionFn::Contains => {
            let needle = arg(args, 1);
            Value::Bool(match arg(args, 0) {
                Value::Array(a) => a.iter().any(|x| x.dotnet_eq(needle)),
                Value::Bytes(b) => int(needle).is_some_and(|n| b.iter().any(|&x| x as i64 == n)),
                _ => return fail(EvalErrorKind::NullReference, NULL_REF),
            })
        }
        CollectionFn::NewTuple => Value::Obj(Arc::new(Obj::Tuple(args.to_vec().into()))),
        CollectionFn::NewPair => {
            Value::Pair(Arc::new((arg(args, 0).clone(), arg(args, 1).clone())))
        }
        CollectionFn::TupleItem(i) => match arg(args, 0) {
            Value::Obj(o) => match &**o {
                Obj::Tuple(items) => items.get(usize::from(i)).cloned().unwrap_or(Value::Null),
                _ => return fail(EvalErrorKind::InvalidCast, "not a Tuple"),
            },
            _ => return fail(EvalErrorKind::NullReference, NULL_REF),
        },
        // Item by item with each item's Equals (strings, numbers by value; objects by reference).
        CollectionFn::ItemsEqual => {
            let items = |v: &Value| -> Option<Vec<Value>> {
                match v {
                    Value::Pair(p) => Some(vec![p.0.clone(), p.1.clone()]),
                    Value::Obj(o) => match &**o {
                        Obj::Tuple(items) => Some(items.to_vec()),
                        _ => None,
                    },
                    _ => None,
                }
            };
            let Some(mine) = items(arg(args, 0)) else {
                return fail(EvalErrorKind::NullReference, NULL_REF);
            };
            Value::Bool(items(arg(args, 1)).is_some_and(|theirs| {
                mine.len() == theirs.len() && mine.iter().zip(&theirs).all(|(a, b)| a.dotnet_eq(b))
            }))
        }
        CollectionFn::GetEnumerator => match arg(args, 0) {
            Value::Array(a) => Value::Obj(Arc::new(Obj::Enumerator(Mutex::new((a.clone(), 0))))),
            Value::Bytes(b) => {
                let items: Vec<Value> = b.iter().map(|x| Value::Int(i64::from(*x))).collect();
                Value::Obj(Arc::new(Obj::Enumerator(Mutex::new((items.into(), 0)))))
            }
            _ => return fail(EvalErrorKind::NullReference, NULL_REF),
        },
        CollectionFn::MoveNext | CollectionFn::Current | CollectionFn::Reset => {
            let Value::Obj(o) = arg(args, 0) else {
                return fail(EvalErrorKind::NullReference, NULL_REF);
            };
            let Obj::Enumerator(cell) = &**o else {
                return fail(EvalErrorKind::InvalidCast, "not an IEnumerator");
            };
            let mut state = cell.lock().unwrap_or_else(|e| e.into_inner());
            let (items, passed) = &mut *state;
            match f {
                CollectionFn::MoveNext => {
                    // Past the end it stays past the end.
                    *passed = (*passed + 1).min(items.len() + 1);
                    Value::Bool(*passed <= items.len())
                }
                CollectionFn::Reset => {
                    *passed = 0;
                    Value::Null
                }
                // Before the first MoveNext or after the last, .NET's generic enumerators give
                // the default value.
                _ => passed
                    .checked_sub(1)
                    .and_then(|i| items.get(i))
                    .cloned()
                    .unwrap_or(Value::Null),
            }
        }
        CollectionFn::IndexOf(last) => {
            let needle = arg(args, 1);
            let found = match arg(args, 0) {
                Value::Array(a) if last => a.iter().rposition(|x| x.dotnet_eq(needle)),
                Value::Array(a) => a.iter().position(|x| x.dotnet_eq(needle)),
                Value::Bytes(b) => {
                    let n = int(needle);
                    let is = |x: &u8| Some(i64::from(*x)) == n;
                    if last {
                        b.iter().rposition(is)
                    } else {
                        b.iter().position(is)
                    }
                }
                _ => {
                    return fail(
                        EvalErrorKind::Argument,
                        "Value cannot be null. (Parameter 'array')",
                    )
                }
            };
            Value::Int(found.map_or(-1, |i| i as i64))
        }
        CollectionFn::Index => {
            let i = i_arg(args, 1)?;
            let r = match arg(args, 0) {
                Value::Array(a) => usize::try_from(i).ok().and_then(|i| a.get(i).cloned()),
                Value::Bytes(b) => usize::try_from(i)
                    .ok()
                    .and_then(|i| b.get(i).map(|&x| Value::Int(x as i64))),
                _ => return fail(EvalErrorKind::NullReference, NULL_REF),
            };
            match r {
                Some(v) => v,
                None => {
                    return fail(
                        EvalErrorKind::OutOfRange,
                        "Index was outside the bounds of the array.",
                    )
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::expr::testing::{assert_refused, failure, s};
    use crate::expr::EvalErrorKind;

    /// Tuples and pairs made and read; `Equals` item by item, `==` by reference (as C#'s
    /// `Tuple` has it); enumerators step through a sequence.
    #[test]
    fn tuples_pairs_and_enumerators() {
        for (expr, want) in [
            (r#"@(Tuple.Create(1, "a").Item2)"#, "a"),
            (r#"@(Tuple.Create(1, "a", 2.5))"#, "(1, a, 2.5)"),
            (r#"@(new Tuple<int, string>(1, "a").Item1 + 1)"#, "2"),
            (
                r#"@(Tuple.Create(1, "a").Equals(Tuple.Create(1, "a")))"#,
                "True",
            ),
            (
                r#"@(Tuple.Create(1, "a") == Tuple.Create(1, "a"))"#,
                "False",
            ),
            (r#"@(Tuple.Create(1, 2).GetType().Name)"#, "Tuple`2"),
            (
                r#"@(JsonConvert.SerializeObject(Tuple.Create(1, "a")))"#,
                r#"{"Item1":1,"Item2":"a"}"#,
            ),
            (r#"@(new KeyValuePair<string, int>("k", 3).Value)"#, "3"),
            (r#"@(KeyValuePair.Create("k", 3).Key)"#, "k"),
            (
                r#"@{ var e = new [] {1, 2}.GetEnumerator(); var a = e.MoveNext() + "" + e.Current; e.MoveNext(); var b = e.Current; var c = e.MoveNext(); e.Reset(); return a + b + c + e.MoveNext() + e.Current; }"#,
                "True12FalseTrue1",
            ),
            (
                r#"@{ var e = new List<string> { "x" }.GetEnumerator(); return e.Current == null && e.MoveNext() && e.Current == "x"; }"#,
                "True",
            ),
            (
                r#"@(((Tuple<int, string>)(object)Tuple.Create(1, "a")).Item2)"#,
                "a",
            ),
            (
                r#"@(((KeyValuePair<string, int>)(object)KeyValuePair.Create("k", 1)).Key)"#,
                "k",
            ),
            (
                r#"@(((IDictionary<string, int>)(object)new Dictionary<string, int> { { "a", 1 } })["a"])"#,
                "1",
            ),
            (
                r#"@(((ISet<int>)(object)new HashSet<int> { 1 }).Contains(1))"#,
                "True",
            ),
            (
                r#"@(((Queue<int>)(object)new Queue<int>(new [] {5})).Peek())"#,
                "5",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_eq!(
            failure(r#"@((Tuple<int, int, int>)(object)Tuple.Create(1, 2))"#),
            Some(EvalErrorKind::InvalidCast)
        );
        assert_eq!(
            failure(r#"@((IDictionary<string, int>)(object)new List<int>())"#),
            Some(EvalErrorKind::InvalidCast)
        );
        assert_refused(
            r#"@(Tuple.Create(1, 2).Item3)"#,
            "does not contain a definition for 'Item3'",
        );
        assert_refused(
            r#"@(new Tuple<int, string>("a", 1))"#,
            "cannot implicitly convert",
        );
        assert_refused(r#"@(Tuple.Create())"#, "takes 1 to 7 items");
        assert_refused(r#"@(KeyValuePair.Create(null, 1))"#, "cannot be inferred");
    }

    /// `System.Array`'s statics that read an array, and the members of one dimension.
    #[test]
    fn array_statics() {
        for (expr, want) in [
            ("@(Array.IndexOf(new [] {1, 2, 1}, 1))", "0"),
            ("@(Array.LastIndexOf(new [] {1, 2, 1}, 1))", "2"),
            ("@(Array.IndexOf(new [] {\"a\", \"b\"}, \"c\"))", "-1"),
            ("@(Array.IndexOf(new byte[] {7, 9}, 9))", "1"),
            ("@(Array.Exists(new [] {1, 2}, x => x > 1))", "True"),
            ("@(Array.TrueForAll(new [] {1, 2}, x => x > 1))", "False"),
            ("@(Array.Find(new [] {1, 2, 3}, x => x > 1))", "2"),
            ("@(Array.FindLast(new [] {1, 2, 3}, x => x > 1))", "3"),
            (
                "@(string.Join(\",\", Array.FindAll(new [] {1, 2, 3}, x => x != 2)))",
                "1,3",
            ),
            (
                "@(Array.ConvertAll(new [] {\"1\", \"22\"}, x => x.Length)[1])",
                "2",
            ),
            ("@(Array.Empty<string>().Length)", "0"),
            ("@(new [] {4, 5}.GetValue(1))", "5"),
            (
                "@(new [] {4, 5}.GetLength(0) + new [] {4, 5}.GetUpperBound(0) + new [] {4}.Rank)",
                "4",
            ),
            ("@(new [] {4, 5}.LongLength)", "2"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_eq!(
            failure("@(Array.IndexOf((int[])null, 1))"),
            Some(EvalErrorKind::Argument)
        );
        assert_refused(
            "@(Array.IndexOf(new [] {1}, 1, 0))",
            "is not supported by certgate",
        );
        assert_refused(
            "@(Array.Sort(new [] {2, 1}))",
            "'Array.Sort' is not supported by certgate",
        );
        assert_refused(
            "@(Array.Exists(new [] {1}))",
            "takes the array and a function",
        );
        assert_refused("@(new [] {1}.GetLength(1))", "takes 0");
    }

    #[test]
    fn arrays_and_bytes() {
        assert_eq!(s("@(new [] {1, 2, 3}.Length)"), "3");
        assert_eq!(s("@(new [] {\"a\", \"b\"}.Contains(\"b\"))"), "True");
        assert_eq!(s("@(new byte[] {7, 8}[1])"), "8");
        assert!(s("@(new [] {1}[5])").contains("outside the bounds"));
        // LINQ's operators are APIM's; the ones certgate lacks are refused by name, a name .NET
        // does not have as missing.
        assert!(s("@(new [] {1}.ToLookup(x => x))")
            .contains("'int[].ToLookup' is not supported by certgate"));
        assert!(s("@(new [] {1}.Summ())").contains("does not contain a definition"));
    }

    /// LINQ beyond the basics, as .NET computes it: stable ordering, sums that overflow as C#'s
    /// checked ones, Single's two failures, positional operators.
    #[test]
    fn linq_operators() {
        use crate::expr::testing::failure;
        for (expr, want) in [
            ("@(new [] {3, 1, 2}.OrderBy(x => x).First())", "1"),
            ("@(new [] {3, 1, 2}.OrderByDescending(x => x).First())", "3"),
            (
                "@(new [] {\"bb\", \"a\", \"cc\", \"d\"}.OrderBy(s => s.Length).Last())",
                "cc",
            ),
            ("@(new [] {1, 2, 3}.Sum())", "6"),
            ("@(new [] {1, 2, 3}.Sum(x => x * 1.5))", "9"),
            ("@(new [] {1, 2, 3}.Average())", "2"),
            ("@(new [] {2, 1, 3}.Min())", "1"),
            ("@(new [] {\"a\", \"c\", \"b\"}.Max())", "c"),
            ("@(new [] {1, 2}.Single(x => x > 1))", "2"),
            ("@(new [] {1, 1, 2, 1}.Distinct().Count())", "2"),
            ("@(new [] {1, 2, 3}.Skip(1).Take(1).First())", "2"),
            ("@(new [] {1, 2, 3}.ElementAt(2))", "3"),
            ("@(new [] {1, 2, 3}.ElementAtOrDefault(9) == null)", "True"),
            ("@(new [] {1, 2, 3}.Reverse().First())", "3"),
            ("@(new [] {1}.Concat(new [] {2}).Last())", "2"),
            ("@(new [] {1, 2, 3}.Take(-1).Count())", "0"),
            (
                "@((int)JArray.Parse(\"[3, 1]\").OrderBy(x => (int)x).First())",
                "1",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        // Lambdas with block bodies.
        assert_eq!(
            s("@(new [] {1, 2, 3}.Where(x => { var y = x * 2; return y > 2; }).Count())"),
            "2"
        );
        assert_eq!(s("@(new [] {1, 2}.Select(x => { if (x > 1) { return \"big\"; } return \"small\"; }).First())"), "small");
        assert!(s("@(new [] {1}.Any(x => { var y = x; }))")
            .contains("not all code paths of the lambda"));
        assert_eq!(
            failure("@(new [] {1, 2}.Single())"),
            Some(EvalErrorKind::Other)
        );
        assert_eq!(
            failure("@(new string[0].Single())"),
            Some(EvalErrorKind::OutOfRange)
        );
        assert_eq!(
            failure("@(new [] {9223372036854775807, 1}.Sum())"),
            Some(EvalErrorKind::Overflow)
        );
        assert_eq!(
            failure("@(new int[0].Average())"),
            Some(EvalErrorKind::Other)
        );
        assert_eq!(
            failure("@(new [] {1}.ElementAt(1))"),
            Some(EvalErrorKind::OutOfRange)
        );
        assert!(s("@(new [] {\"a\"}.Sum())").contains("needs numbers"));
        assert!(s("@(new [] {1}.Distinct(null))").contains("takes no argument"));
        assert!(s("@(new [] {1}.Zip(null))").contains("'int[].Zip' is not supported by certgate"));
    }

    /// `new T[n]`: default values, the size bounded before anything is allocated.
    #[test]
    fn sized_arrays() {
        use crate::expr::testing::failure;
        assert_eq!(s("@(new byte[16].Length)"), "16");
        assert_eq!(s("@(Convert.ToBase64String(new byte[3]))"), "AAAA");
        assert_eq!(s("@(new string[2][1] == null)"), "True");
        assert_eq!(s("@(new int[2 + 1].Last())"), "0");
        assert_eq!(s("@(new bool[1][0])"), "False");
        assert_eq!(failure("@(new byte[-1])"), Some(EvalErrorKind::Overflow));
        assert_eq!(
            failure("@(new byte[10000000000])"),
            Some(EvalErrorKind::MemoryBudget)
        );
        assert_eq!(
            failure("@(new string[10000000000])"),
            Some(EvalErrorKind::MemoryBudget)
        );
        assert!(s("@(new byte[\"x\"])").contains("cannot implicitly convert"));
    }

    #[test]
    fn group_by_groups_in_the_order_keys_first_appear() {
        use crate::expr::testing::s;
        for (expr, want) in [
            ("@(new [] {\"apple\", \"avocado\", \"banana\"}.GroupBy(x => x[0]).Count())", "2"),
            ("@(new [] {\"apple\", \"avocado\", \"banana\"}.GroupBy(x => x[0]).First().Key)", "a"),
            ("@(new [] {\"apple\", \"avocado\", \"banana\"}.GroupBy(x => x[0]).First().Count())", "2"),
            ("@(String.Join(\";\", new [] {3, 1, 4, 1, 5}.GroupBy(x => x % 2).Select(g => g.Key + \":\" + g.Sum())))", "1:10;0:4"),
            ("@{ var s = \"\"; foreach (var g in new [] {\"a\", \"b\", \"a\"}.GroupBy(x => x)) { foreach (var x in g) { s += x; } s += \"|\"; } return s; }", "aa|b|"),
            ("@(new [] {\"a\", \"b\", \"a\"}.GroupBy(x => x).OrderByDescending(g => g.Count()).First().Key)", "a"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
    }

    #[test]
    fn aggregate_folds_as_linq_does() {
        use crate::expr::testing::{assert_refused, s};
        for (expr, want) in [
            ("@(new [] {1, 2, 3}.Aggregate((a, b) => a + b))", "6"),
            (
                "@(new [] {\"a\", \"b\"}.Aggregate(\">\", (acc, x) => acc + x))",
                ">ab",
            ),
            ("@(new [] {2, 3}.Aggregate(1.5, (acc, x) => acc * x))", "9"),
            (
                "@(new List<string> { \"x\" }.Aggregate(0, (n, x) => n + x.Length))",
                "1",
            ),
            ("@(new int[0].Aggregate(7, (a, b) => a + b))", "7"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_refused(
            "@(new int[0].Aggregate((a, b) => a + b))",
            "Sequence contains no elements",
        );
        assert_refused("@(new [] {1}.Aggregate(x => x))", "takes two parameters");
        assert_refused(
            "@(new [] {1}.Aggregate(0, (a, b) => a + b, r => r))",
            "result selector is not supported by certgate",
        );
        assert_refused("@(new [] {1}.Aggregate(\"\", (a, b) => b))", "cannot");
    }
}
