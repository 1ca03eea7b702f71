//! `System.Random`: `new Random()`, `new Random(seed)`, `Next()`, `Next(max)`,
//! `Next(min, max)`, `NextDouble()` (a seeded generator gives .NET's sequence,
//! [`crate::dotnet::Random`]). A generator is shared by whoever holds it, as in .NET.
//! `NextBytes` fills an array in place, which certgate's immutable arrays cannot express: it is
//! refused by name. Checker bindings and evaluator in one file.

use std::sync::{Arc, Mutex};

use crate::dotnet::Random;
use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Obj, Value};

fn call(f: RandomFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Random(f), args)
}

const TY: Ty = Ty::Obj(ObjKind::Random);

/// `new Random()`, `new Random(seed)`; `None` when `name` is not the class.
pub(crate) fn new(
    b: &mut dyn Binder,
    name: &str,
    args: &[Expr],
    off: usize,
) -> Option<CheckResult<(Ir, Ty)>> {
    if !matches!(name, "Random" | "System.Random") {
        return None;
    }
    Some(
        b.args("Random", args, &[Ty::Int], 0, off)
            .map(|a| (call(RandomFn::New, a), TY)),
    )
}

/// `Next`, `NextDouble`.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let (f, a, ty) = match m {
        "Next" => {
            let a = b.args(m, args, &[Ty::Int, Ty::Int], 0, off)?;
            let f = match a.len() {
                0 => RandomFn::Next,
                1 => RandomFn::NextBelow,
                _ => RandomFn::NextBetween,
            };
            (f, a, Ty::Int)
        }
        "NextDouble" => (
            RandomFn::NextDouble,
            b.args(m, args, &[], 0, off)?,
            Ty::Double,
        ),
        _ => return unknown_member(&TY, m, off),
    };
    Ok((call(f, with_recv(recv, a)), ty))
}

/// An `int` argument: .NET would not compile a wider one.
fn int32(args: &[Value], i: usize, name: &str) -> EvalResult<i32> {
    i32::try_from(i_arg(args, i)?).or_else(|_| {
        fail(
            EvalErrorKind::OutOfRange,
            format!("'{name}' must be an int (Parameter '{name}')"),
        )
    })
}

pub(crate) fn eval(f: RandomFn, args: &[Value]) -> EvalResult<Value> {
    if f == RandomFn::New {
        let r = match arg(args, 0) {
            Value::Null => {
                let mut seed = [0u8; 4];
                // Without the OS's randomness the generator still works, seeded with 0.
                let _ = crate::crypto::rand::rand_bytes(&mut seed);
                Random::from_entropy(seed)
            }
            _ => Random::with_seed(int32(args, 0, "Seed")?),
        };
        return Ok(Value::Obj(Arc::new(Obj::Random(Mutex::new(r)))));
    }
    let Value::Obj(o) = arg(args, 0) else {
        return fail(EvalErrorKind::NullReference, NULL_REF);
    };
    let Obj::Random(cell) = &**o else {
        return fail(EvalErrorKind::InvalidCast, "not a Random");
    };
    // A panic while the lock was held leaves a whole state: keep going.
    let mut r = cell.lock().unwrap_or_else(|e| e.into_inner());
    Ok(match f {
        RandomFn::New => Value::Null,
        RandomFn::Next => Value::Int(i64::from(r.next())),
        RandomFn::NextBelow => {
            let max = int32(args, 1, "maxValue")?;
            if max < 0 {
                return fail(
                    EvalErrorKind::OutOfRange,
                    "'maxValue' must be greater than or equal to zero. (Parameter 'maxValue')",
                );
            }
            Value::Int(i64::from(r.next_below(max)))
        }
        RandomFn::NextBetween => {
            let (min, max) = (int32(args, 1, "minValue")?, int32(args, 2, "maxValue")?);
            if min > max {
                return fail(
                    EvalErrorKind::OutOfRange,
                    "'minValue' cannot be greater than maxValue. (Parameter 'minValue')",
                );
            }
            Value::Int(i64::from(r.next_between(min, max)))
        }
        RandomFn::NextDouble => Value::Double(r.next_double()),
    })
}

#[cfg(test)]
mod tests {
    use crate::expr::testing::{assert_refused, s};

    #[test]
    fn random_numbers_as_dotnet_gives_them() {
        // A seeded generator: .NET's sequence.
        assert_eq!(s("@(new Random(0).Next())"), "1559595546");
        assert_eq!(
            s("@{ var r = new Random(0); r.Next(); return r.Next(); }"),
            "1755192844"
        );
        // Bounds hold.
        assert_eq!(
            s("@{ var r = new Random(); var ok = true; foreach (var i in new [] {1, 2, 3, 4, 5, 6, 7, 8}) { var n = r.Next(3, 7); ok = ok && n >= 3 && n < 7; } return ok; }"),
            "True"
        );
        assert_eq!(s("@(new Random(5).Next(0))"), "0");
        assert_eq!(s("@(new Random(5).NextDouble() < 1.0)"), "True");
        for (expr, message) in [
            ("@(new Random().Next(-1))", "'maxValue' must be greater"),
            ("@(new Random().Next(5, 1))", "'minValue' cannot be greater"),
            (
                "@(new Random().Next(4294967296))",
                "'maxValue' must be an int",
            ),
            (
                "@(new Random().NextBytes(null))",
                "not supported by certgate",
            ),
        ] {
            assert_refused(expr, message);
        }
    }
}
