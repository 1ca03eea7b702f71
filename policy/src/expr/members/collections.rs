//! Arrays, `byte[]` and `KeyValuePair` (what iterating a dictionary gives): `Length`,
//! `Contains`, indexing, `Key`/`Value`, `ToArray`/`ToList`. Checker bindings and evaluator in
//! one file; LINQ over them is the checker's and evaluator's own driver.

use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::Value;

fn coll(f: CollectionFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Collection(f), args)
}

/// `a.Length`, `pair.Key`, `pair.Value`.
pub(crate) fn member(recv: Ir, rty: &Ty, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match (rty, name) {
        // `Count` is what a list or a `MatchCollection` has; certgate's sequences stand for them.
        (Ty::Array(_) | Ty::Bytes, "Length" | "Count") => {
            Ok((coll(CollectionFn::Length, vec![recv]), Ty::Int))
        }
        (Ty::Pair(k, _), "Key") => Ok((coll(CollectionFn::PairKey, vec![recv]), (**k).clone())),
        (Ty::Pair(_, v), "Value") => Ok((coll(CollectionFn::PairValue, vec![recv]), (**v).clone())),
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
        (Ty::Array(_), "ToArray" | "ToList") => Ok((recv, rty.clone())),
        _ => unknown_member(rty, name, off),
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

pub(crate) fn eval(f: CollectionFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    Ok(match f {
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
    use crate::expr::testing::s;
    use crate::expr::EvalErrorKind;

    #[test]
    fn arrays_and_bytes() {
        assert_eq!(s("@(new [] {1, 2, 3}.Length)"), "3");
        assert_eq!(s("@(new [] {\"a\", \"b\"}.Contains(\"b\"))"), "True");
        assert_eq!(s("@(new byte[] {7, 8}[1])"), "8");
        assert!(s("@(new [] {1}[5])").contains("outside the bounds"));
        // LINQ's operators are APIM's; the ones certgate lacks are refused by name, a name .NET
        // does not have as missing.
        assert!(s("@(new [] {1}.Sum())").contains("'int[].Sum' is not supported by certgate"));
        assert!(s("@(new [] {1}.Summ())").contains("does not contain a definition"));
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
}
