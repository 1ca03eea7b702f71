//! `System.Text.StringBuilder`: `new StringBuilder([text])`, `Append(value)` and
//! `AppendLine([value])` (chaining: they return the builder), `Insert(index, text)`,
//! `Clear()`, `Length`, `ToString()`. A builder is shared by whoever holds it, as in .NET; what
//! it holds counts against the expression's string budget as it grows. Checker bindings and
//! evaluator in one file.

use std::sync::{Arc, Mutex};

use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Obj, Value};

fn call(f: BuilderFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Builder(f), args)
}

const TY: Ty = Ty::Obj(ObjKind::Builder);

/// `new StringBuilder()`, `new StringBuilder(text)`; `None` when `name` is not the class.
pub(crate) fn new(
    b: &mut dyn Binder,
    name: &str,
    args: &[Expr],
    off: usize,
) -> Option<CheckResult<(Ir, Ty)>> {
    if !matches!(name, "StringBuilder" | "System.Text.StringBuilder") {
        return None;
    }
    Some(
        b.args("StringBuilder", args, &[Ty::Str], 0, off)
            .map(|a| (call(BuilderFn::New, a), TY)),
    )
}

/// `Append`, `AppendLine`, `AppendFormat`, `Insert`, `Clear`.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let (f, a) = match m {
        "Append" | "AppendLine" => {
            let f = if m == "Append" {
                BuilderFn::Append
            } else {
                BuilderFn::AppendLine
            };
            (f, appended(b, m, args, m == "Append", off)?)
        }
        "Insert" => (
            BuilderFn::Insert,
            b.args(m, args, &[Ty::Int, Ty::Str], 2, off)?,
        ),
        "Clear" => (BuilderFn::Clear, b.args(m, args, &[], 0, off)?),
        // What String.Format makes of the same arguments, appended.
        "AppendFormat" => {
            let (text, _) = super::string::static_method(b, "Format", args, off)?;
            (BuilderFn::Append, vec![text])
        }
        _ => return unknown_member(&TY, m, off),
    };
    Ok((call(f, with_recv(recv, a)), TY))
}

/// `builder.Length = n`: cut to `n` UTF-16 units, or lengthened with `'\0'`, as .NET does.
pub(crate) fn set_member(
    b: &mut dyn Binder,
    recv: Ir,
    name: &str,
    value: &Expr,
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if name != "Length" {
        return type_err(off, format!("'StringBuilder.{name}' cannot be assigned"));
    }
    let n = b.coerce(value, &Ty::Int)?;
    Ok((call(BuilderFn::SetLength, vec![recv, n]), Ty::Int))
}

/// What `Append(x)` or `AppendLine([x])` (and a `StringWriter`'s `Write`, `WriteLine`) add:
/// one printable value, which `required` says may not be left out.
pub(crate) fn appended(
    b: &mut dyn Binder,
    m: &str,
    args: &[Expr],
    required: bool,
    off: usize,
) -> CheckResult<Vec<Ir>> {
    if args.len() > 1 || args.len() < usize::from(required) {
        return type_err(off, format!("'{m}' takes one value"));
    }
    let mut a = Vec::new();
    for e in args {
        let (ir, ty) = b.expr(e)?;
        check_printable(&ty, e.offset)?;
        a.push(ir);
    }
    Ok(a)
}

/// `Length`.
pub(crate) fn member(recv: Ir, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match name {
        "Length" => Ok((call(BuilderFn::Length, vec![recv]), Ty::Int)),
        _ => unknown_member(&TY, name, off),
    }
}

pub(crate) fn eval(f: BuilderFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    if f == BuilderFn::New {
        let text = opt_s(args, 0).unwrap_or_default().to_string();
        return Ok(Value::Obj(Arc::new(Obj::Builder(Mutex::new(text)))));
    }
    let Value::Obj(o) = arg(args, 0) else {
        return fail(EvalErrorKind::NullReference, NULL_REF);
    };
    let Obj::Builder(cell) = &**o else {
        return fail(EvalErrorKind::InvalidCast, "not a StringBuilder");
    };
    // A panic while the lock was held leaves a whole String: keep going.
    let mut s = cell.lock().unwrap_or_else(|e| e.into_inner());
    match f {
        BuilderFn::Append | BuilderFn::AppendLine => {
            let add = args.get(1).map(Value::to_dotnet_string).unwrap_or_default();
            let nl = if f == BuilderFn::AppendLine { 1 } else { 0 };
            env.check_len(s.len() + add.len() + nl)?;
            env.charge_bytes(add.len() + nl)?;
            s.push_str(&add);
            if nl == 1 {
                // Environment.NewLine on the Linux gateways APIM's self-hosted one runs on.
                s.push('\n');
            }
        }
        BuilderFn::Insert => {
            let at = i_arg(args, 1)?;
            let text = opt_s(args, 2).unwrap_or_default();
            env.check_len(s.len() + text.len())?;
            let Some(out) = super::string::splice_utf16(&s, at, Some(at), text) else {
                return fail(
                    EvalErrorKind::OutOfRange,
                    "Index was out of range. Must be non-negative and less than or equal to the size of the collection. (Parameter 'index')",
                );
            };
            env.charge_bytes(text.len())?;
            *s = out;
        }
        BuilderFn::Clear => s.clear(),
        BuilderFn::SetLength => {
            let n = i_arg(args, 1)?;
            let Ok(n) = usize::try_from(n) else {
                return fail(
                    EvalErrorKind::OutOfRange,
                    "Length cannot be less than zero. (Parameter 'value')",
                );
            };
            let units: Vec<u16> = s.encode_utf16().collect();
            if n <= units.len() {
                *s = String::from_utf16_lossy(&units[..n]);
            } else {
                env.check_len(s.len() + (n - units.len()))?;
                env.charge_bytes(n - units.len())?;
                s.extend(std::iter::repeat_n('\0', n - units.len()));
            }
            return Ok(Value::Int(n as i64));
        }
        BuilderFn::Length => return Ok(Value::Int(s.encode_utf16().count() as i64)),
        BuilderFn::New => {}
    }
    drop(s);
    Ok(arg(args, 0).clone())
}

#[cfg(test)]
mod tests {
    use crate::expr::testing::{failure, s};
    use crate::expr::EvalErrorKind;

    #[test]
    fn builders() {
        for (expr, want) in [
            (
                r#"@(new StringBuilder().Append("a").Append(1).Append(true).ToString())"#,
                "a1True",
            ),
            (
                r#"@{ var b = new StringBuilder("x"); b.AppendLine("y"); b.Append('z'); return b.ToString(); }"#,
                "xy\nz",
            ),
            (
                r#"@{ var b = new System.Text.StringBuilder("ac"); b.Insert(1, "b"); return b.ToString() + b.Length; }"#,
                "abc3",
            ),
            (
                r#"@{ var b = new StringBuilder("abc"); b.Clear(); return b.Length; }"#,
                "0",
            ),
            (
                r#"@{ var b = new StringBuilder(); var c = b; c.Append("shared"); return b.ToString(); }"#,
                "shared",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_eq!(
            failure(r#"@(new StringBuilder("a").Insert(5, "x"))"#),
            Some(EvalErrorKind::OutOfRange)
        );
        assert_eq!(
            s(r#"@(new StringBuilder("a").AppendFormat("-{0:D3}-{1}", 7, "b").ToString())"#),
            "a-007-b"
        );
        // Length set: cut, or lengthened with NULs; the trailing-comma idiom.
        assert_eq!(
            s(
                r#"@{ var b = new StringBuilder(); foreach (var x in new [] {"a", "b"}) { b.Append(x).Append(","); } b.Length = b.Length - 1; return b.ToString(); }"#
            ),
            "a,b"
        );
        assert_eq!(
            s(
                r#"@{ var b = new StringBuilder("x"); b.Length = 3; return b.ToString().Length + "/" + (int)b.ToString()[2]; }"#
            ),
            "3/0"
        );
        assert_eq!(
            failure(r#"@{ var b = new StringBuilder("x"); b.Length = -1; return 1; }"#),
            Some(EvalErrorKind::OutOfRange)
        );
        assert!(s(r#"@(new StringBuilder().EnsureCapacity(8))"#)
            .contains("'StringBuilder.EnsureCapacity' is not supported by certgate"));
        // Growth is charged: doubling a builder runs into the budget.
        assert_eq!(
            failure(
                r#"@{ var b = new StringBuilder("0123456789012345678901234567890123456789"); foreach (var i in new int[64]) { b.Append(b.ToString()); } return b.Length; }"#
            ),
            Some(EvalErrorKind::MemoryBudget)
        );
    }
}
