//! Exceptions as policy expressions use them: `throw new Exception("...")` (and the .NET types
//! certgate's failures stand for: `ArgumentException`, `FormatException`, ...), `catch (T e)`
//! by those types, `e.Message`, `throw;`. What a failure is called in .NET and which failures a
//! `catch` takes. Checker bindings and evaluator in one file; the statements themselves are the
//! checker's and evaluator's.
//!
//! A failure of the expression's own budget (steps, memory) is not an exception: no `catch`
//! takes it, so a policy cannot catch its way past the bound.

use std::sync::Arc;

use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Obj, Value};

/// The exception types: their names (short), and the failure kinds a `catch` of them takes.
const CLASSES: &[(&str, &[EvalErrorKind])] = &[
    (
        "Exception",
        &[
            EvalErrorKind::NullReference,
            EvalErrorKind::InvalidCast,
            EvalErrorKind::Format,
            EvalErrorKind::OutOfRange,
            EvalErrorKind::KeyNotFound,
            EvalErrorKind::Overflow,
            EvalErrorKind::DivideByZero,
            EvalErrorKind::Argument,
            EvalErrorKind::RegexTimeout,
            EvalErrorKind::TimeZoneNotFound,
            EvalErrorKind::Other,
        ],
    ),
    ("InvalidOperationException", &[EvalErrorKind::Other]),
    (
        "ArgumentException",
        &[EvalErrorKind::Argument, EvalErrorKind::OutOfRange],
    ),
    ("ArgumentNullException", &[EvalErrorKind::Argument]),
    ("ArgumentOutOfRangeException", &[EvalErrorKind::OutOfRange]),
    ("IndexOutOfRangeException", &[EvalErrorKind::OutOfRange]),
    ("FormatException", &[EvalErrorKind::Format]),
    ("NullReferenceException", &[EvalErrorKind::NullReference]),
    ("InvalidCastException", &[EvalErrorKind::InvalidCast]),
    ("KeyNotFoundException", &[EvalErrorKind::KeyNotFound]),
    ("OverflowException", &[EvalErrorKind::Overflow]),
    ("DivideByZeroException", &[EvalErrorKind::DivideByZero]),
    ("RegexMatchTimeoutException", &[EvalErrorKind::RegexTimeout]),
    (
        "TimeZoneNotFoundException",
        &[EvalErrorKind::TimeZoneNotFound],
    ),
    // Newtonsoft's reader failures are certgate's format failures.
    ("JsonReaderException", &[EvalErrorKind::Format]),
    ("JsonException", &[EvalErrorKind::Format]),
];

/// The index of an exception class by name (short or `System.`/`Newtonsoft.Json.` prefixed).
pub(crate) fn class(name: &str) -> Option<u8> {
    let short = name.rsplit('.').next().unwrap_or(name);
    CLASSES
        .iter()
        .position(|(n, _)| *n == short)
        .and_then(|i| u8::try_from(i).ok())
}

/// What a `catch` of class `c` takes.
pub(crate) fn catches(c: u8) -> &'static [EvalErrorKind] {
    CLASSES.get(c as usize).map_or(&[], |(_, k)| k)
}

/// The failure a `throw` of class `c` raises.
fn kind_of(c: u8) -> EvalErrorKind {
    match CLASSES.get(c as usize).map(|(n, _)| *n) {
        Some("Exception" | "InvalidOperationException") | None => EvalErrorKind::Other,
        Some(_) => catches(c).first().copied().unwrap_or(EvalErrorKind::Other),
    }
}

/// The .NET name of a failure kind (an exception caught from certgate's own failures).
fn name_of(kind: EvalErrorKind) -> &'static str {
    match kind {
        EvalErrorKind::NullReference => "NullReferenceException",
        EvalErrorKind::InvalidCast => "InvalidCastException",
        EvalErrorKind::Format => "FormatException",
        EvalErrorKind::OutOfRange => "ArgumentOutOfRangeException",
        EvalErrorKind::KeyNotFound => "KeyNotFoundException",
        EvalErrorKind::Overflow => "OverflowException",
        EvalErrorKind::DivideByZero => "DivideByZeroException",
        EvalErrorKind::Argument => "ArgumentException",
        EvalErrorKind::RegexTimeout => "RegexMatchTimeoutException",
        EvalErrorKind::TimeZoneNotFound => "TimeZoneNotFoundException",
        _ => "InvalidOperationException",
    }
}

/// Whether a `catch` may take this failure at all (not a budget's).
pub(crate) fn catchable(kind: EvalErrorKind) -> bool {
    !matches!(kind, EvalErrorKind::StepLimit | EvalErrorKind::MemoryBudget)
}

/// The exception a caught failure is, for `catch (Exception e)`.
pub(crate) fn value_of(e: &EvalError) -> Value {
    Value::Obj(Arc::new(Obj::Exception {
        type_name: name_of(e.kind),
        message: e.message.as_str().into(),
    }))
}

/// The failure a thrown exception value raises.
pub(crate) fn error_of(v: &Value) -> EvalError {
    match v {
        Value::Obj(o) => match &**o {
            Obj::Exception { type_name, message } => {
                let kind = class(type_name).map_or(EvalErrorKind::Other, kind_of);
                EvalError::new(kind, message.to_string())
            }
            _ => EvalError::new(EvalErrorKind::InvalidCast, "only exceptions can be thrown"),
        },
        _ => EvalError::new(EvalErrorKind::NullReference, NULL_REF),
    }
}

/// `new Exception(message)` and the other classes; `None` when `name` is not one.
pub(crate) fn new(
    b: &mut dyn Binder,
    name: &str,
    args: &[Expr],
    off: usize,
) -> Option<CheckResult<(Ir, Ty)>> {
    let c = class(name)?;
    Some(
        b.args(name, args, &[Ty::Str, Ty::Object], 0, off)
            .map(|mut a| {
                a.truncate(1);
                (
                    Ir::Call(Builtin::Exception(ExceptionFn::New(c)), a),
                    Ty::Obj(ObjKind::Exception),
                )
            }),
    )
}

/// `e.Message`.
pub(crate) fn member(recv: Ir, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match name {
        "Message" => Ok((
            Ir::Call(Builtin::Exception(ExceptionFn::Message), vec![recv]),
            Ty::Str,
        )),
        // certgate has no .NET stack to show: null, as for an exception not thrown.
        "StackTrace" => Ok((Ir::Const(Value::Null), Ty::Str)),
        _ => unknown_member(&Ty::Obj(ObjKind::Exception), name, off),
    }
}

pub(crate) fn eval(f: ExceptionFn, args: &[Value]) -> EvalResult<Value> {
    Ok(match f {
        ExceptionFn::New(c) => {
            let name = CLASSES.get(c as usize).map_or("Exception", |(n, _)| *n);
            let message = match opt_s(args, 0) {
                Some(m) => m.into(),
                None => format!("Exception of type 'System.{name}' was thrown.").into(),
            };
            Value::Obj(Arc::new(Obj::Exception {
                type_name: name,
                message,
            }))
        }
        ExceptionFn::Message => match arg(args, 0) {
            Value::Obj(o) => match &**o {
                Obj::Exception { message, .. } => Value::Str(message.clone()),
                _ => return fail(EvalErrorKind::InvalidCast, "not an exception"),
            },
            _ => return fail(EvalErrorKind::NullReference, NULL_REF),
        },
    })
}

#[cfg(test)]
mod tests {
    use crate::expr::testing::{failure, s};
    use crate::expr::EvalErrorKind;

    #[test]
    fn try_catch_finally_throw() {
        for (expr, want) in [
            (
                r#"@{ try { return int.Parse("x").ToString(); } catch (FormatException e) { return "bad: " + e.Message; } }"#,
                "bad: The input string 'x' was not in a correct format.",
            ),
            (
                r#"@{ try { return (string)context.Variables["none"]; } catch (Exception) { return "caught"; } }"#,
                "caught",
            ),
            (
                r#"@{ try { return (string)context.Variables["none"]; } catch (FormatException) { return "format"; } catch (System.Collections.Generic.KeyNotFoundException e) { return e.Message; } }"#,
                "The given key 'none' was not present in the dictionary.",
            ),
            (
                r#"@{ var s = "a"; try { s += "b"; } finally { s += "c"; } return s; }"#,
                "abc",
            ),
            (
                r#"@{ var s = "a"; try { throw new InvalidOperationException("x"); } catch { s += "!"; } finally { s += "f"; } return s; }"#,
                "a!f",
            ),
            (
                r#"@{ try { throw new ArgumentException("arg"); } catch (ArgumentException e) { return e.Message; } }"#,
                "arg",
            ),
            (
                r#"@{ try { throw new Exception(); } catch (Exception e) { return e.Message; } }"#,
                "Exception of type 'System.Exception' was thrown.",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        // Uncaught: the failure goes on, typed.
        assert_eq!(
            failure(
                r#"@{ try { return (string)context.Variables["none"]; } catch (FormatException) { return "x"; } }"#
            ),
            Some(EvalErrorKind::KeyNotFound)
        );
        assert_eq!(
            failure(r#"@{ throw new Exception("boom"); }"#),
            Some(EvalErrorKind::Other)
        );
        assert!(s(r#"@{ throw new Exception("boom"); }"#).contains("boom"));
        assert_eq!(
            failure(r#"@{ try { throw new FormatException("f"); } catch (Exception) { throw; } }"#),
            Some(EvalErrorKind::Format)
        );
        assert_eq!(
            failure(
                r#"@{ try { return "a"; } finally { throw new ArgumentNullException("n"); } }"#
            ),
            Some(EvalErrorKind::Argument)
        );
        // The budget is not an exception: no catch takes it.
        assert_eq!(
            failure(
                r#"@{ try { var a = new string[10000000000]; return "x"; } catch (Exception) { return "caught"; } }"#
            ),
            Some(EvalErrorKind::MemoryBudget)
        );
        for (expr, msg) in [
            (
                r#"@{ try { return "a"; } catch (Exception e) when (true) { return "b"; } }"#,
                "exception filters",
            ),
            (
                r#"@{ try { return "a"; } catch (IOException) { return "b"; } }"#,
                "catching 'IOException' is not supported by certgate",
            ),
            (r#"@{ throw "x"; }"#, "only exceptions can be thrown"),
            (r#"@{ throw; }"#, "only inside a catch"),
            (
                r#"@{ try { return "a"; } }"#,
                "expected 'catch' or 'finally'",
            ),
            (
                r#"@(new Exception("x").HResult)"#,
                "'Exception.HResult' is not supported by certgate",
            ),
            (
                r#"@{ string s = null; return s.GetType().Name; }"#,
                "Object reference not set to an instance of an object.",
            ),
            (
                r#"@(new Exception("x").GetType().Assembly)"#,
                "'Type' does not contain a definition for 'Assembly'",
            ),
        ] {
            assert!(s(expr).contains(msg), "{expr}: {}", s(expr));
        }
    }
}
