//! `DateTimeOffset`: an instant with its offset from UTC (`UtcNow`, `Now`, `UnixEpoch`,
//! `FromUnixTimeSeconds`/`Milliseconds`, `Parse`, `TryParse`, `new DateTimeOffset(dateTime[,
//! offset])`; `ToUnixTimeSeconds`/`Milliseconds`, `UtcDateTime`, `LocalDateTime`,
//! `DateTime`, `Offset`, the parts, `UtcTicks`, `AddX`, `Add`, `Subtract`, `ToUniversalTime`,
//! `ToLocalTime`, `ToOffset`), as APIM policies compute token lifetimes with it. Comparison and
//! `-` are by instant (the evaluator's operators). Checker bindings and evaluator in one file;
//! the value is [`crate::dotnet::DateTimeOffset`].

use crate::dotnet::{DateKind, DateTime, DateTimeOffset, TimeSpan};
use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::Value;

fn call(f: OffsetFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Offset(f), args)
}

const TY: Ty = Ty::DateTimeOffset;

/// `DateTimeOffset.UtcNow`, `Now`, `UnixEpoch`.
pub(crate) fn static_member(name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match name {
        "UtcNow" => Ok((call(OffsetFn::UtcNow, vec![]), TY)),
        "Now" => Ok((call(OffsetFn::Now, vec![]), TY)),
        "UnixEpoch" => Ok((
            call(OffsetFn::FromUnixMs, vec![Ir::Const(Value::Int(0))]),
            TY,
        )),
        _ => unknown_member(&Ty::Static(Static::DateTimeOffset), name, off),
    }
}

/// `DateTimeOffset.FromUnixTimeSeconds(s)`, `FromUnixTimeMilliseconds(ms)`, `Parse(text)`,
/// `TryParse(text, out d)`.
pub(crate) fn static_method(
    b: &mut dyn Binder,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    match m {
        "FromUnixTimeSeconds" | "FromUnixTimeMilliseconds" => {
            let a = b.args(m, args, &[Ty::Int], 1, off)?;
            let f = if m == "FromUnixTimeSeconds" {
                OffsetFn::FromUnixSeconds
            } else {
                OffsetFn::FromUnixMs
            };
            Ok((call(f, a), TY))
        }
        "Parse" => {
            let a = b.args(m, args, &[Ty::Str], 1, off)?;
            Ok((call(OffsetFn::Parse, a), TY))
        }
        "ParseExact" => {
            let a = text_and_format(b, m, args, off)?;
            Ok((call(OffsetFn::ParseExact, a), TY))
        }
        "TryParse" => input_and_out(
            b,
            m,
            args,
            &Ty::Str,
            &TY,
            DateTime::min_value().map_or(Value::Null, |d| {
                Value::DateTimeOffset(DateTimeOffset::from_utc(d.wall))
            }),
            super::convert::TEXT_AND_RESULT,
            |text| call(OffsetFn::TryParse, vec![text]),
            off,
        ),
        _ => unknown_member(&Ty::Static(Static::DateTimeOffset), m, off),
    }
}

/// `new DateTimeOffset(dateTime)`, `new DateTimeOffset(dateTime, offset)`.
pub(crate) fn new(b: &mut dyn Binder, args: &[Expr], off: usize) -> CheckResult<(Ir, Ty)> {
    let a = b.args(
        "DateTimeOffset",
        args,
        &[Ty::DateTime, Ty::TimeSpan],
        1,
        off,
    )?;
    Ok((call(OffsetFn::New, a), TY))
}

/// Properties.
pub(crate) fn member(recv: Ir, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let (f, ty) = match name {
        "UtcDateTime" => (OffsetFn::UtcDateTime, Ty::DateTime),
        "LocalDateTime" => (OffsetFn::LocalDateTime, Ty::DateTime),
        "DateTime" => (OffsetFn::DateTime, Ty::DateTime),
        "Offset" => (OffsetFn::Offset, Ty::TimeSpan),
        "UtcTicks" => (OffsetFn::UtcTicks, Ty::Int),
        "Year" | "Month" | "Day" | "Hour" | "Minute" | "Second" | "Millisecond" | "DayOfYear"
        | "Ticks" | "Date" | "TimeOfDay" | "DayOfWeek" => {
            // The parts of the wall time: DateTime's members on `.DateTime`.
            let wall = call(OffsetFn::DateTime, vec![recv]);
            return super::datetime::member(wall, &Ty::DateTime, name, off);
        }
        _ => return unknown_member(&TY, name, off),
    };
    Ok((call(f, vec![recv]), ty))
}

/// Methods.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if let Some(u) = super::datetime::add_unit(m) {
        let a = b.args(m, args, &[Ty::Double], 1, off)?;
        return Ok((call(OffsetFn::Add(u), with_recv(recv, a)), TY));
    }
    let (f, a, ty) = match m {
        "ToUnixTimeSeconds" => (OffsetFn::ToUnixSeconds, vec![], Ty::Int),
        "ToUnixTimeMilliseconds" => (OffsetFn::ToUnixMs, vec![], Ty::Int),
        "ToUniversalTime" => (OffsetFn::ToUniversal, vec![], TY),
        "ToLocalTime" => (OffsetFn::ToLocal, vec![], TY),
        "Add" => (
            OffsetFn::AddSpan,
            b.args(m, args, &[Ty::TimeSpan], 1, off)?,
            TY,
        ),
        "ToOffset" => (
            OffsetFn::ToOffset,
            b.args(m, args, &[Ty::TimeSpan], 1, off)?,
            TY,
        ),
        "Subtract" => {
            let (ir, ty) = match args {
                [a] => b.expr(a)?,
                _ => return type_err(off, "'Subtract' takes 1 argument"),
            };
            match ty {
                Ty::DateTimeOffset => (OffsetFn::Since, vec![ir], Ty::TimeSpan),
                Ty::TimeSpan => (OffsetFn::AddSpan, vec![Ir::Neg(Box::new(ir))], TY),
                t => {
                    return type_err(
                        args[0].offset,
                        format!("cannot subtract '{t}' from a DateTimeOffset"),
                    )
                }
            }
        }
        _ => return unknown_member(&TY, m, off),
    };
    if matches!(
        f,
        OffsetFn::ToUnixSeconds | OffsetFn::ToUnixMs | OffsetFn::ToUniversal | OffsetFn::ToLocal
    ) && !args.is_empty()
    {
        return type_err(off, format!("'{m}' takes no arguments"));
    }
    Ok((call(f, with_recv(recv, a)), ty))
}

fn out_of_range() -> EvalError {
    EvalError::new(
        EvalErrorKind::OutOfRange,
        "The UTC time represented when the offset is applied must be between year 0 and 10,000. (Parameter 'offset')",
    )
}

/// A `TimeSpan` offset in whole minutes, within ±14 hours, as .NET requires.
fn offset_minutes(t: TimeSpan) -> EvalResult<i32> {
    let minutes = t.0 / (60 * 10_000_000);
    if t.0 % (60 * 10_000_000) != 0 {
        return fail(
            EvalErrorKind::Argument,
            "Offset must be specified in whole minutes. (Parameter 'offset')",
        );
    }
    if minutes.abs() > 14 * 60 {
        return fail(
            EvalErrorKind::OutOfRange,
            "Offset must be within plus or minus 14 hours. (Parameter 'offset')",
        );
    }
    Ok(minutes as i32)
}

pub(crate) fn eval(f: OffsetFn, args: &[Value]) -> EvalResult<Value> {
    let dto = |v: DateTimeOffset| Ok(Value::DateTimeOffset(v));
    match f {
        OffsetFn::UtcNow => return dto(DateTimeOffset::utc_now()),
        OffsetFn::Now => return dto(DateTimeOffset::now()),
        OffsetFn::FromUnixSeconds | OffsetFn::FromUnixMs => {
            let n = i_arg(args, 0)?;
            let ms = if f == OffsetFn::FromUnixSeconds {
                n.checked_mul(1000)
            } else {
                Some(n)
            };
            return match ms.and_then(DateTimeOffset::from_unix_ms) {
                Some(d) => dto(d),
                None => fail(
                    EvalErrorKind::OutOfRange,
                    "Valid values are between -62135596800 and 253402300799, inclusive. (Parameter 'seconds')",
                ),
            };
        }
        OffsetFn::ParseExact => {
            let (Some(text), Some(format)) = (opt_s(args, 0), opt_s(args, 1)) else {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'input')",
                );
            };
            return match DateTimeOffset::parse_exact(text, format) {
                Some(d) => dto(d),
                None => fail(
                    EvalErrorKind::Format,
                    format!("String '{text}' was not recognized as a valid DateTime."),
                ),
            };
        }
        OffsetFn::Parse | OffsetFn::TryParse => {
            let parsed = opt_s(args, 0).and_then(DateTimeOffset::parse_dotnet);
            return match (parsed, f) {
                (Some(d), _) => dto(d),
                (None, OffsetFn::TryParse) => Ok(Value::Null),
                (None, _) => match opt_s(args, 0) {
                    None => fail(
                        EvalErrorKind::Argument,
                        "Value cannot be null. (Parameter 'input')",
                    ),
                    Some(text) => fail(
                        EvalErrorKind::Format,
                        format!("String '{text}' was not recognized as a valid DateTime."),
                    ),
                },
            };
        }
        OffsetFn::New => {
            let Value::DateTime(d) = arg(args, 0) else {
                return fail(EvalErrorKind::NullReference, NULL_REF);
            };
            return match arg(args, 1) {
                Value::TimeSpan(t) => {
                    let m = offset_minutes(*t)?;
                    if d.kind == DateKind::Utc && m != 0 {
                        return fail(
                            EvalErrorKind::Argument,
                            "The UTC Offset for Utc DateTime instances must be 0. (Parameter 'offset')",
                        );
                    }
                    dto(DateTimeOffset::at(d.wall, m))
                }
                _ => dto(DateTimeOffset::from_date_time(*d)),
            };
        }
        _ => {}
    }
    let Value::DateTimeOffset(d) = arg(args, 0) else {
        return fail(EvalErrorKind::NullReference, NULL_REF);
    };
    let d = *d;
    let date_time = |wall, kind| Ok(Value::DateTime(DateTime { wall, kind }));
    match f {
        OffsetFn::ToUnixSeconds => Ok(Value::Int(d.to_unix_ms().div_euclid(1000))),
        OffsetFn::ToUnixMs => Ok(Value::Int(d.to_unix_ms())),
        OffsetFn::UtcDateTime => date_time(d.utc(), DateKind::Utc),
        OffsetFn::LocalDateTime => Ok(Value::DateTime(d.0.to_local())),
        OffsetFn::DateTime => date_time(d.0.wall, DateKind::Unspecified),
        OffsetFn::Offset => Ok(Value::TimeSpan(TimeSpan(
            i64::from(d.offset_minutes()) * 600_000_000,
        ))),
        OffsetFn::UtcTicks => {
            let epoch = chrono::NaiveDate::from_ymd_opt(1, 1, 1)
                .map(|e| e.and_time(chrono::NaiveTime::MIN));
            let us = epoch
                .and_then(|e| (d.utc() - e).num_microseconds())
                .unwrap_or(0);
            Ok(Value::Int(us.saturating_mul(10)))
        }
        OffsetFn::Add(unit) => {
            let n = num(arg(args, 1)).unwrap_or(0.0) * unit as f64;
            if !n.is_finite() || n.abs() > 3.0e18 {
                return Err(out_of_range());
            }
            d.0.checked_add(TimeSpan(n as i64))
                .map(|w| Value::DateTimeOffset(DateTimeOffset(w)))
                .ok_or_else(out_of_range)
        }
        OffsetFn::AddSpan => {
            let Value::TimeSpan(t) = arg(args, 1) else {
                return fail(EvalErrorKind::NullReference, NULL_REF);
            };
            d.0.checked_add(*t)
                .map(|w| Value::DateTimeOffset(DateTimeOffset(w)))
                .ok_or_else(out_of_range)
        }
        OffsetFn::Since => {
            let Value::DateTimeOffset(other) = arg(args, 1) else {
                return fail(EvalErrorKind::NullReference, NULL_REF);
            };
            Ok(Value::TimeSpan(since(d, *other)))
        }
        OffsetFn::ToUniversal => dto(DateTimeOffset::from_utc(d.utc())),
        OffsetFn::ToLocal => dto(DateTimeOffset::from_date_time(d.0.to_local())),
        OffsetFn::ToOffset => {
            let Value::TimeSpan(t) = arg(args, 1) else {
                return fail(EvalErrorKind::NullReference, NULL_REF);
            };
            let m = offset_minutes(*t)?;
            d.to_offset(m)
                .map(Value::DateTimeOffset)
                .ok_or_else(out_of_range)
        }
        _ => Ok(Value::Null),
    }
}

/// `a - b`: the time between the two instants.
pub(crate) fn since(a: DateTimeOffset, b: DateTimeOffset) -> TimeSpan {
    let utc = |d: DateTimeOffset| DateTime {
        wall: d.utc(),
        kind: DateKind::Utc,
    };
    utc(a).since(utc(b))
}

#[cfg(test)]
mod tests {
    use crate::expr::testing::{assert_refused, s};

    /// `DateTime.ParseExact` and `DateTimeOffset.ParseExact` with .NET's format language; the
    /// offset a text gives is kept by a `DateTimeOffset` and converted to local time by a
    /// `DateTime`.
    #[test]
    fn parse_exact() {
        for (expr, want) in [
            (
                r#"@(DateTime.ParseExact("20240506", "yyyyMMdd", null).ToString("yyyy-MM-dd"))"#,
                "2024-05-06",
            ),
            (
                r#"@(DateTime.ParseExact("6 May 2024 2:03 PM", "d MMM yyyy h:mm tt", null).Hour)"#,
                "14",
            ),
            (
                r#"@(DateTime.ParseExact("2024-05-06T10:00:00", "s", null).Kind)"#,
                "Unspecified",
            ),
            (
                r#"@(DateTime.ParseExact("2024-05-06T10:00:00Z", "yyyy-MM-ddTHH:mm:ssK", null).Kind)"#,
                "Local",
            ),
            (
                r#"@(DateTime.ParseExact("2024-05-06T10:00:00Z", "yyyy-MM-ddTHH:mm:ssK", null).ToUniversalTime().Hour)"#,
                "10",
            ),
            (
                r#"@(DateTimeOffset.ParseExact("2024-05-06T10:00:00-05:00", "yyyy-MM-ddTHH:mm:sszzz", null).Offset.TotalHours)"#,
                "-5",
            ),
            (
                r#"@(DateTimeOffset.ParseExact("Mon, 06 May 2024 10:00:00 GMT", "r", null).Hour)"#,
                "10",
            ),
            (
                r#"@(DateTime.ParseExact("10:30", "HH:mm", null).Date == DateTime.Today)"#,
                "True",
            ),
            (
                r#"@(new DateTime(2024, 5, 6, 7, 8, 9).ToString("%h"))"#,
                "7",
            ),
            (
                r#"@(new DateTimeOffset(new DateTime(2024, 5, 6, 7, 8, 9), TimeSpan.FromHours(2)).ToString("u"))"#,
                "2024-05-06 05:08:09Z",
            ),
            (
                r#"@(new DateTimeOffset(new DateTime(2024, 5, 6, 7, 8, 9), TimeSpan.FromHours(2)).ToString("yyyy-MM-ddTHH:mm:sszzz"))"#,
                "2024-05-06T07:08:09+02:00",
            ),
            (
                r#"@(string.Format("{0:yyyy/MM/dd}", new DateTime(2024, 5, 6)))"#,
                "2024/05/06",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        for (expr, msg) in [
            (
                r#"@(DateTime.ParseExact("2024-05", "yyyy-MM-dd", null))"#,
                "String '2024-05' was not recognized as a valid DateTime.",
            ),
            (
                r#"@(DateTime.ParseExact("Tue 6 May 2024", "ddd d MMM yyyy", null))"#,
                "not recognized",
            ),
            (
                r#"@(DateTime.ParseExact("2024", "Q", null))"#,
                "not recognized",
            ),
            (
                r#"@(DateTime.ParseExact(null, "yyyy", null))"#,
                "Value cannot be null",
            ),
            (
                r#"@(new DateTime(2024, 5, 6).ToString("Q"))"#,
                "Input string was not in a correct format.",
            ),
            (
                r#"@(DateTime.ParseExact("2024", "yyyy", "en-US"))"#,
                "a format provider of type 'string' is not supported by certgate",
            ),
            (
                r#"@(DateTime.ParseExact("2024"))"#,
                "'ParseExact' takes the text, the format",
            ),
        ] {
            assert_refused(expr, msg);
        }
    }

    #[test]
    fn instants_with_offsets_as_dotnet_computes_them() {
        for (expr, want) in [
            // Token lifetimes, as APIM policies compute them.
            ("@(DateTimeOffset.FromUnixTimeSeconds(1700000000).ToUnixTimeSeconds())", "1700000000"),
            ("@(DateTimeOffset.FromUnixTimeMilliseconds(1700000000123).ToUnixTimeMilliseconds())", "1700000000123"),
            ("@(DateTimeOffset.FromUnixTimeSeconds(1700000000).AddMinutes(5).ToUnixTimeSeconds())", "1700000300"),
            ("@(DateTimeOffset.FromUnixTimeSeconds(-1).ToUnixTimeSeconds())", "-1"),
            ("@(DateTimeOffset.FromUnixTimeMilliseconds(-1).ToUnixTimeSeconds())", "-1"),
            ("@(DateTimeOffset.UtcNow.ToUnixTimeSeconds() > 1700000000)", "True"),
            ("@(DateTimeOffset.UnixEpoch.ToString())", "1/1/1970 12:00:00 AM +00:00"),
            ("@(DateTimeOffset.FromUnixTimeSeconds(1700000000).ToString(\"o\"))", "2023-11-14T22:13:20.0000000+00:00"),
            // Offsets: parts are the wall time's; comparison and subtraction the instant's.
            ("@(DateTimeOffset.Parse(\"2024-05-06T10:00:00+02:00\").Hour)", "10"),
            ("@(DateTimeOffset.Parse(\"2024-05-06T10:00:00+02:00\").UtcDateTime.Hour)", "8"),
            ("@(DateTimeOffset.Parse(\"2024-05-06T10:00:00+02:00\").Offset.TotalHours)", "2"),
            ("@(DateTimeOffset.Parse(\"2024-05-06T10:00:00+02:00\").ToString())", "5/6/2024 10:00:00 AM +02:00"),
            ("@(DateTimeOffset.Parse(\"2024-05-06T10:00:00+02:00\") == DateTimeOffset.Parse(\"2024-05-06T08:00:00Z\"))", "True"),
            ("@(DateTimeOffset.Parse(\"2024-05-06T10:00:00+02:00\") < DateTimeOffset.Parse(\"2024-05-06T08:30:00Z\"))", "True"),
            ("@((DateTimeOffset.Parse(\"2024-05-06T10:00:00+02:00\") - DateTimeOffset.Parse(\"2024-05-06T07:00:00Z\")).TotalMinutes)", "60"),
            ("@(DateTimeOffset.Parse(\"2024-05-06T10:00:00+02:00\").ToOffset(TimeSpan.FromHours(-5)).ToString(\"yyyy-MM-dd HH:mm zzz\"))", "2024-05-06 03:00 -05:00"),
            ("@(DateTimeOffset.Parse(\"2024-05-06T10:00:00+02:00\").ToUniversalTime().ToString(\"HH:mm K\"))", "08:00 +00:00"),
            ("@(DateTimeOffset.Parse(\"2024-05-06T10:00:00+02:00\").Add(TimeSpan.FromDays(1)).Day)", "7"),
            ("@(DateTimeOffset.Parse(\"2024-05-06T10:00:00+02:00\").Subtract(TimeSpan.FromHours(1)).Hour)", "9"),
            ("@(new DateTimeOffset(new DateTime(2024, 5, 6, 10, 0, 0), TimeSpan.FromHours(1)).ToUnixTimeSeconds())", "1714986000"),
            ("@(new DateTimeOffset(DateTime.UtcNow).Offset.Ticks)", "0"),
            ("@{ DateTimeOffset d; return DateTimeOffset.TryParse(\"nope\", out d); }", "False"),
            ("@{ DateTimeOffset d; DateTimeOffset.TryParse(\"2024-05-06T10:00:00Z\", out d); return d.Year; }", "2024"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        for (expr, message) in [
            ("@(DateTimeOffset.Parse(\"nope\"))", "was not recognized"),
            (
                "@(DateTimeOffset.FromUnixTimeSeconds(999999999999))",
                "Valid values are between",
            ),
            (
                "@(new DateTimeOffset(DateTime.UtcNow, TimeSpan.FromHours(1)))",
                "must be 0",
            ),
            (
                "@(DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(15)))",
                "within plus or minus 14 hours",
            ),
            (
                "@(DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromSeconds(30)))",
                "whole minutes",
            ),
            (
                "@(DateTimeOffset.UtcNow.EqualsExact(DateTimeOffset.UtcNow))",
                "not supported by certgate",
            ),
        ] {
            assert_refused(expr, message);
        }
    }
}
