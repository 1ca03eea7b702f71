//! The .NET enums carried by name and number (`dotnet::EnumType`: `StringComparison`,
//! `DayOfWeek`, `MidpointRounding`, `DateTimeKind`, `CipherMode`, `PaddingMode`,
//! `X509ContentType`, `AddressFamily`, `NormalizationForm`): their members as constants, and
//! `System.Enum`'s statics over them (`Parse`, `TryParse`, `GetName`, `GetNames`, `GetValues`,
//! `IsDefined`), which name the enum with `typeof(T)` or a type argument. Checker bindings and
//! evaluator in one file.
//!
//! Must not: give an enum its meaning; the members that take one do (`Math.Round`,
//! `DateTime.Kind`, `String.Equals`, ...).

use crate::dotnet::EnumType;
use crate::expr::ast::{Expr, ExprKind, TypeName};
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{EnumValue, Value};

/// The enum a type name designates, as a static class (`MidpointRounding.AwayFromZero`).
pub(crate) fn class(name: &str) -> Option<Static> {
    EnumType::named(name).map(Static::Enum)
}

fn constant(t: EnumType, n: i64) -> Ir {
    Ir::Const(Value::Enum(EnumValue::Named(t, n)))
}

/// `T.Member`: the member's value.
pub(crate) fn static_member(t: EnumType, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match t.value(name) {
        Some(n) => Ok((constant(t, n), Ty::Enum(t))),
        None => type_err(
            off,
            format!("'{}' does not contain a definition for '{name}'", t.name()),
        ),
    }
}

/// The enum named by `typeof(T)` (the first argument of `Enum.Parse(typeof(T), ..)`) or by a
/// type argument (`Enum.Parse<T>(..)`).
fn named_enum(t: &TypeName, off: usize) -> CheckResult<EnumType> {
    match resolve_type(t, off)? {
        Ty::Enum(e) => Ok(e),
        other => type_err(off, format!("'{other}' is not an enum type")),
    }
}

/// `Enum.X(typeof(T), rest..)` or `Enum.X<T>(rest..)`: the enum and the remaining arguments.
fn enum_and_args<'a>(
    b: &mut dyn Binder,
    m: &str,
    type_args: &[TypeName],
    args: &'a [Expr],
    off: usize,
) -> CheckResult<(EnumType, &'a [Expr])> {
    match (type_args, args) {
        ([t], rest) => Ok((named_enum(t, off)?, rest)),
        ([], [first, rest @ ..]) => match (&first.kind, args.last().map(|a| &a.kind)) {
            (ExprKind::TypeOf(t), _) => Ok((named_enum(t, first.offset)?, rest)),
            // `Enum.TryParse(text, out DayOfWeek d)`, or into a local declared before: the
            // enum is the out argument's type.
            (
                _,
                Some(ExprKind::Out {
                    decl: Some(Some(t)),
                    ..
                }),
            ) if m == "TryParse" => Ok((named_enum(t, off)?, args)),
            (_, Some(ExprKind::Out { name, decl: None })) if m == "TryParse" => {
                match b.local_type(name) {
                    Some(Ty::Enum(e)) => Ok((e, args)),
                    _ => type_err(off, format!("'{name}' is not a local of an enum type")),
                }
            }
            (_, _) => type_err(
                first.offset,
                format!(
                    "'Enum.{m}' with a Type that is not 'typeof(T)' is not supported by \
                     certgate; name the enum with typeof(T)"
                ),
            ),
        },
        _ => type_err(
            off,
            format!("'Enum.{m}' needs the enum: typeof(T) or Enum.{m}<T>"),
        ),
    }
}

/// `Enum.Parse`, `TryParse`, `GetName`, `GetNames`, `GetValues`, `IsDefined`.
pub(crate) fn static_method(
    b: &mut dyn Binder,
    m: &str,
    type_args: &[TypeName],
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let (t, rest) = enum_and_args(b, m, type_args, args, off)?;
    let ty = Ty::Enum(t);
    let call = |f: EnumFn, a: Vec<Ir>| Ir::Call(Builtin::Enum(f), a);
    match m {
        "Parse" => {
            let a = b.args(m, rest, &[Ty::Str, Ty::Bool], 1, off)?;
            // `Enum.Parse(typeof(T), ..)` returns object in .NET (cast to T after); the generic
            // form returns T. A T converts to object wherever one is expected.
            Ok((b.fold(call(EnumFn::Parse(t), a)), ty))
        }
        "TryParse" => {
            let (input, flag, out) = match rest {
                [input, out] => (input, None, out),
                [input, flag, out] => (input, Some(flag), out),
                _ => {
                    return type_err(
                        off,
                        "'TryParse' takes the text, optionally ignoreCase, and 'out T result'",
                    )
                }
            };
            let mut a = vec![b.coerce(input, &Ty::Str)?];
            if let Some(flag) = flag {
                a.push(b.coerce(flag, &Ty::Bool)?);
            }
            let out = b.out_arg(out, &ty)?;
            let tmp = b.temp(off)?;
            Ok((
                out_call(
                    call(EnumFn::TryParse(t), a),
                    tmp,
                    out,
                    Value::Enum(EnumValue::Named(t, 0)),
                ),
                Ty::Bool,
            ))
        }
        "GetName" => {
            let a = b.args(m, rest, &[Ty::Object], 1, off)?;
            Ok((b.fold(call(EnumFn::GetName(t), a)), Ty::Str))
        }
        "IsDefined" => {
            let a = b.args(m, rest, &[Ty::Object], 1, off)?;
            Ok((b.fold(call(EnumFn::IsDefined(t), a)), Ty::Bool))
        }
        "GetNames" | "GetValues" if rest.is_empty() => {
            // Distinct numbers in order, each under the name that prints (aliases left out).
            let mut seen = Vec::new();
            for (_, n) in t.members() {
                if !seen.contains(n) {
                    seen.push(*n);
                }
            }
            seen.sort_unstable_by_key(|n| *n as u64);
            let (items, elem): (Vec<Value>, Ty) = if m == "GetNames" {
                let names = seen.iter().map(|n| Value::str(&t.display(*n))).collect();
                (names, Ty::Str)
            } else {
                let values = seen
                    .iter()
                    .map(|n| Value::Enum(EnumValue::Named(t, *n)))
                    .collect();
                (values, ty)
            };
            Ok((
                Ir::Const(Value::Array(items.into())),
                Ty::Array(Box::new(elem)),
            ))
        }
        _ => unknown_member(&Ty::Static(Static::EnumClass), m, off),
    }
}

/// The number a text names in `t`: a member's name (case as asked), a number, or several of
/// either separated by commas (OR-ed, as .NET does for any enum).
fn parse(t: EnumType, text: &str, ignore_case: bool) -> Option<i64> {
    let mut total = 0i64;
    for part in text.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return None;
        }
        let by_name = t.members().iter().find(|(name, _)| {
            if ignore_case {
                name.eq_ignore_ascii_case(part)
            } else {
                *name == part
            }
        });
        let n = match by_name {
            Some((_, n)) => *n,
            None => part.parse::<i64>().ok()?,
        };
        total |= n;
    }
    Some(total)
}

pub(crate) fn eval(f: EnumFn, args: &[Value]) -> EvalResult<Value> {
    let ignore_case = matches!(args.get(1), Some(Value::Bool(true)));
    Ok(match f {
        EnumFn::Parse(t) | EnumFn::TryParse(t) => {
            let Value::Str(text) = arg(args, 0) else {
                if matches!(f, EnumFn::TryParse(_)) {
                    return Ok(Value::Null);
                }
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'value')",
                );
            };
            match parse(t, text, ignore_case) {
                Some(n) => Value::Enum(EnumValue::Named(t, n)),
                None if matches!(f, EnumFn::TryParse(_)) => Value::Null,
                None => {
                    return fail(
                        EvalErrorKind::Argument,
                        format!("Requested value '{text}' was not found. (Parameter 'value')"),
                    )
                }
            }
        }
        EnumFn::GetName(t) => match arg(args, 0) {
            Value::Enum(EnumValue::Named(of, n)) if *of == t => name_of(t, *n),
            Value::Int(n) => name_of(t, *n),
            Value::Null => {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'value')",
                )
            }
            v => return fail(EvalErrorKind::Argument, wrong_type(t, v)),
        },
        EnumFn::IsDefined(t) => Value::Bool(match arg(args, 0) {
            Value::Enum(EnumValue::Named(of, n)) if *of == t => {
                t.members().iter().any(|(_, m)| m == n)
            }
            Value::Int(n) => t.members().iter().any(|(_, m)| m == n),
            Value::Str(s) => t.value(s).is_some(),
            Value::Null => {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'value')",
                )
            }
            v => return fail(EvalErrorKind::Argument, wrong_type(t, v)),
        }),
    })
}

fn name_of(t: EnumType, n: i64) -> Value {
    match t.members().iter().find(|(_, m)| *m == n) {
        Some((name, _)) => Value::str(name),
        None => Value::Null,
    }
}

fn wrong_type(t: EnumType, v: &Value) -> String {
    format!(
        "Object must be the same type as the enum. The type passed in was '{}'; the enum \
         type was '{}'.",
        v.dotnet_type_full_name(),
        t.full_name()
    )
}

#[cfg(test)]
mod tests {
    use crate::expr::env::EvalErrorKind;
    use crate::expr::testing::{assert_refused, failure, s};

    #[test]
    fn members_print_their_names_and_cast_to_their_numbers() {
        for (expr, want) in [
            ("@(MidpointRounding.AwayFromZero)", "AwayFromZero"),
            ("@((int)MidpointRounding.AwayFromZero)", "1"),
            ("@((MidpointRounding)2)", "ToZero"),
            ("@((MidpointRounding)9)", "9"),
            (
                "@(StringComparison.OrdinalIgnoreCase.ToString())",
                "OrdinalIgnoreCase",
            ),
            ("@((int)StringComparison.Ordinal)", "4"),
            ("@(DateTimeKind.Utc == DateTimeKind.Utc)", "True"),
            ("@(DateTimeKind.Utc != DateTimeKind.Local)", "True"),
            ("@(System.DateTimeKind.Local)", "Local"),
            ("@(X509ContentType.Pkcs12)", "Pfx"),
            ("@(CipherMode.CBC + \"/\" + PaddingMode.PKCS7)", "CBC/PKCS7"),
            (
                "@(MidpointRounding.ToEven.GetType().FullName)",
                "System.MidpointRounding",
            ),
            ("@(default(DateTimeKind))", "Unspecified"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
    }

    #[test]
    fn enum_statics_read_names_numbers_and_lists() {
        for (expr, want) in [
            (
                r#"@(Enum.Parse(typeof(StringComparison), "Ordinal"))"#,
                "Ordinal",
            ),
            (
                r#"@((int)(StringComparison)Enum.Parse(typeof(StringComparison), "ordinal", true))"#,
                "4",
            ),
            (r#"@(Enum.Parse<DayOfWeek>("5"))"#, "Friday"),
            (
                r#"@(Enum.Parse<DayOfWeek>("Monday") == DayOfWeek.Monday)"#,
                "True",
            ),
            (
                r#"@(Enum.Parse(typeof(PaddingMode), "None, Zeros"))"#,
                "Zeros",
            ),
            (
                r#"@{ DayOfWeek d; return Enum.TryParse("Sunday", out d) + "/" + d; }"#,
                "True/Sunday",
            ),
            (
                r#"@(Enum.TryParse<DayOfWeek>("Someday", out var d) + "/" + d)"#,
                "False/Sunday",
            ),
            (
                r#"@(Enum.TryParse<DayOfWeek>("monday", true, out var d) ? d.ToString() : "-")"#,
                "Monday",
            ),
            ("@(Enum.GetName(typeof(DayOfWeek), 3))", "Wednesday"),
            ("@(Enum.GetName(typeof(DayOfWeek), 9) == null)", "True"),
            ("@(Enum.IsDefined(typeof(MidpointRounding), 4))", "True"),
            (
                r#"@(Enum.IsDefined(typeof(MidpointRounding), "Up"))"#,
                "False",
            ),
            (
                "@(string.Join(\",\", Enum.GetNames(typeof(DateTimeKind))))",
                "Unspecified,Utc,Local",
            ),
            ("@(Enum.GetValues(typeof(DayOfWeek)).Length)", "7"),
            (
                "@(typeof(string).FullName + \"/\" + typeof(DateTimeKind).Name)",
                "System.String/DateTimeKind",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
    }

    #[test]
    fn wrong_enums_names_and_types_are_errors() {
        let parse = r#"@(Enum.Parse(typeof(DayOfWeek), "Funday"))"#;
        assert_eq!(failure(parse), Some(EvalErrorKind::Argument));
        assert_refused(parse, "Requested value 'Funday' was not found");
        let mixed = "@(Enum.GetName(typeof(DayOfWeek), MidpointRounding.ToZero))";
        assert_eq!(failure(mixed), Some(EvalErrorKind::Argument));
        assert_refused(
            "@(DayOfWeek.Funday)",
            "'DayOfWeek' does not contain a definition for 'Funday'",
        );
        assert_refused(
            "@(Enum.Parse(typeof(string), \"x\"))",
            "'string' is not an enum type",
        );
        assert_refused(
            "@(Enum.Parse(\"x\".GetType(), \"x\"))",
            "with a Type that is not 'typeof(T)' is not supported by certgate",
        );
        assert_refused(
            "@((MidpointRounding)DayOfWeek.Monday)",
            "cannot convert type",
        );
    }
}
