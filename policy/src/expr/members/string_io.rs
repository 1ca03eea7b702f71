//! `System.IO.StringReader` and `StringWriter`: a reader over a string (`ReadLine`,
//! `ReadToEnd`, `Read`, `Peek`) and a writer into one (`Write`, `WriteLine`, `ToString`,
//! `GetStringBuilder`). A writer is a `StringBuilder` underneath (`builder.rs`), charged the
//! same way. Checker bindings and evaluator in one file.
//!
//! Must not: grow a string itself (the builder does).

use std::sync::{Arc, Mutex};

use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Obj, Value};

const READER: Ty = Ty::Obj(ObjKind::StringReader);
const WRITER: Ty = Ty::Obj(ObjKind::StringWriter);

fn call(f: ReaderFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Reader(f), args)
}

/// `new StringReader(text)`, `new StringWriter()`; `None` for other classes.
pub(crate) fn new(
    b: &mut dyn Binder,
    name: &str,
    args: &[Expr],
    off: usize,
) -> Option<CheckResult<(Ir, Ty)>> {
    let short = name.strip_prefix("System.IO.").unwrap_or(name);
    match short {
        "StringReader" => Some(
            b.args("StringReader", args, &[Ty::Str], 1, off)
                .map(|a| (call(ReaderFn::New, a), READER)),
        ),
        "StringWriter" => Some(
            b.args("StringWriter", args, &[], 0, off)
                .map(|_| (Ir::Call(Builtin::Builder(BuilderFn::New), vec![]), WRITER)),
        ),
        _ => None,
    }
}

/// The methods of both.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    k: ObjKind,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    match (k, m) {
        (_, "Dispose" | "Close" | "Flush") => {
            b.args(m, args, &[], 0, off)?;
            Ok((Ir::Const(Value::Null), Ty::Void))
        }
        (ObjKind::StringReader, _) => {
            let (f, ty) = match m {
                "ReadToEnd" => (ReaderFn::ReadToEnd, Ty::Str),
                "ReadLine" => (ReaderFn::ReadLine, Ty::Str),
                "Read" => (ReaderFn::Read, Ty::Int),
                "Peek" => (ReaderFn::Peek, Ty::Int),
                _ => return unknown_member(&READER, m, off),
            };
            b.args(m, args, &[], 0, off)?;
            Ok((call(f, vec![recv]), ty))
        }
        (ObjKind::StringWriter, "Write" | "WriteLine") => {
            let a = with_recv(
                recv,
                super::builder::appended(b, m, args, m == "Write", off)?,
            );
            let f = if m == "Write" {
                BuilderFn::Append
            } else {
                BuilderFn::AppendLine
            };
            // The builder's call returns the builder; a writer's returns nothing.
            Ok((
                Ir::Seq(vec![
                    Ir::Call(Builtin::Builder(f), a),
                    Ir::Const(Value::Null),
                ]),
                Ty::Void,
            ))
        }
        (ObjKind::StringWriter, "GetStringBuilder") => {
            b.args(m, args, &[], 0, off)?;
            Ok((recv, Ty::Obj(ObjKind::Builder)))
        }
        _ => unknown_member(&Ty::Obj(k), m, off),
    }
}

pub(crate) fn eval(f: ReaderFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    if f == ReaderFn::New {
        let Some(text) = opt_s(args, 0) else {
            return fail(
                EvalErrorKind::Argument,
                "Value cannot be null. (Parameter 's')",
            );
        };
        return Ok(Value::Obj(Arc::new(Obj::Reader(Mutex::new((
            Arc::from(text),
            0,
        ))))));
    }
    let Value::Obj(o) = arg(args, 0) else {
        return fail(EvalErrorKind::NullReference, NULL_REF);
    };
    let Obj::Reader(cell) = &**o else {
        return fail(EvalErrorKind::InvalidCast, "not a StringReader");
    };
    let mut state = cell.lock().unwrap_or_else(|e| e.into_inner());
    let (text, at) = &mut *state;
    let rest = text.get(*at..).unwrap_or("");
    env.step()?;
    Ok(match f {
        ReaderFn::ReadToEnd => {
            let out = Value::str(rest);
            *at = text.len();
            out
        }
        // A line ends at \n, \r or \r\n, which are not part of it; none left is null.
        ReaderFn::ReadLine => {
            if rest.is_empty() {
                return Ok(Value::Null);
            }
            let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
            let line = Value::str(&rest[..end]);
            let skip = if rest[end..].starts_with("\r\n") {
                2
            } else {
                usize::from(end < rest.len())
            };
            *at += end + skip;
            line
        }
        // A UTF-16 unit as .NET reads it; past the end, -1. (A character outside the BMP
        // reads as its two units in .NET; here as its code point: such text is rare in what
        // policies read a character at a time.)
        ReaderFn::Read | ReaderFn::Peek => match rest.chars().next() {
            Some(c) => {
                if f == ReaderFn::Read {
                    *at += c.len_utf8();
                }
                Value::Int(i64::from(u32::from(c)))
            }
            None => Value::Int(-1),
        },
        ReaderFn::New => Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use crate::expr::testing::{assert_refused, s};

    #[test]
    fn readers_and_writers_over_strings() {
        for (expr, want) in [
            (r#"@(new StringReader("x").ReadToEnd())"#, "x"),
            (
                r#"@{ var r = new StringReader("a\r\nb\nc\r"); return r.ReadLine() + "|" + r.ReadLine() + "|" + r.ReadLine() + "|" + (r.ReadLine() == null); }"#,
                "a|b|c|True",
            ),
            (
                r#"@{ var r = new StringReader("ab"); var p = r.Peek(); var a = r.Read(); return p + "/" + a + "/" + (char)r.Read() + "/" + r.Read() + "/" + r.ReadToEnd().Length; }"#,
                "97/97/b/-1/0",
            ),
            (
                r#"@{ var w = new StringWriter(); w.Write("a"); w.Write(1); w.WriteLine(); w.WriteLine("b"); return w.ToString(); }"#,
                "a1\nb\n",
            ),
            (
                r#"@{ var w = new System.IO.StringWriter(); w.Write("x"); w.GetStringBuilder().Append("y"); w.Flush(); return w.ToString(); }"#,
                "xy",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_refused(r#"@(new StringReader(null))"#, "Value cannot be null");
        assert_refused(
            r#"@(new StringWriter().ReadLine())"#,
            "does not contain a definition for 'ReadLine'",
        );
    }
}
