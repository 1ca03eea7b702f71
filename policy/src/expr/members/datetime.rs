//! `DateTime` (`Now`, `UtcNow`, `AddX`, `Subtract`, parts, `ToUniversalTime`) and `TimeSpan`
//! (`FromX`, `TotalX`, parts, constructors), in .NET ticks. Checker bindings and evaluator in
//! one file.

use crate::dotnet::{DateKind, DateTime, EnumType, TimeSpan};
use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{EnumValue, Value};

const TICKS_PER_DAY: TicksPerUnit = 864_000_000_000;
const TICKS_PER_HOUR: TicksPerUnit = 36_000_000_000;
const TICKS_PER_MINUTE: TicksPerUnit = 600_000_000;
const TICKS_PER_SECOND: TicksPerUnit = 10_000_000;
const TICKS_PER_MS: TicksPerUnit = 10_000;

fn date(f: DateFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Date(f), args)
}

/// Properties of `DateTime` and `TimeSpan` values.
pub(crate) fn member(recv: Ir, rty: &Ty, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let call = |f: DateFn, ty: Ty| Ok((date(f, vec![recv.clone()]), ty));
    match (rty, name) {
        (Ty::DateTime, part) => {
            let k = match part {
                "Year" => DatePartKind::Year,
                "Month" => DatePartKind::Month,
                "Day" => DatePartKind::Day,
                "Hour" => DatePartKind::Hour,
                "Minute" => DatePartKind::Minute,
                "Second" => DatePartKind::Second,
                "Millisecond" => DatePartKind::Millisecond,
                "DayOfYear" => DatePartKind::DayOfYear,
                "Date" => return call(DateFn::Date, Ty::DateTime),
                "Ticks" => return call(DateFn::Ticks, Ty::Int),
                "TimeOfDay" => return call(DateFn::TimeOfDay, Ty::TimeSpan),
                "DayOfWeek" => return call(DateFn::DayOfWeek, Ty::Enum(EnumType::DayOfWeek)),
                "Kind" => return call(DateFn::Kind, Ty::Enum(EnumType::DateTimeKind)),
                _ => return unknown_member(rty, name, off),
            };
            call(DateFn::Part(k), Ty::Int)
        }
        (Ty::TimeSpan, m) => {
            let f = match m {
                "TotalDays" => DateFn::SpanTotal(TICKS_PER_DAY),
                "TotalHours" => DateFn::SpanTotal(TICKS_PER_HOUR),
                "TotalMinutes" => DateFn::SpanTotal(TICKS_PER_MINUTE),
                "TotalSeconds" => DateFn::SpanTotal(TICKS_PER_SECOND),
                "TotalMilliseconds" => DateFn::SpanTotal(TICKS_PER_MS),
                "Days" => DateFn::SpanPart(SpanPartKind::Days),
                "Hours" => DateFn::SpanPart(SpanPartKind::Hours),
                "Minutes" => DateFn::SpanPart(SpanPartKind::Minutes),
                "Seconds" => DateFn::SpanPart(SpanPartKind::Seconds),
                "Milliseconds" => DateFn::SpanPart(SpanPartKind::Milliseconds),
                "Ticks" => DateFn::SpanPart(SpanPartKind::Ticks),
                _ => return unknown_member(rty, name, off),
            };
            let ty = if matches!(f, DateFn::SpanTotal(_)) {
                Ty::Double
            } else {
                Ty::Int
            };
            call(f, ty)
        }
        _ => unknown_member(rty, name, off),
    }
}

/// `DateTime.Now`, `DateTime.UtcNow`, `DateTime.Today`, `TimeSpan.Zero`.
pub(crate) fn static_member(s: Static, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match (s, name) {
        (Static::DateTime, "Now") => Ok((date(DateFn::Now, vec![]), Ty::DateTime)),
        (Static::DateTime, "UtcNow") => Ok((date(DateFn::UtcNow, vec![]), Ty::DateTime)),
        (Static::DateTime, "Today") => Ok((
            date(DateFn::Date, vec![date(DateFn::Now, vec![])]),
            Ty::DateTime,
        )),
        (Static::TimeSpan, "Zero") => Ok((Ir::Const(Value::TimeSpan(TimeSpan(0))), Ty::TimeSpan)),
        (Static::DateTime, "MinValue" | "MaxValue") => {
            let v = if name == "MinValue" {
                DateTime::min_value()
            } else {
                DateTime::max_value()
            };
            match v {
                Some(d) => Ok((Ir::Const(Value::DateTime(d)), Ty::DateTime)),
                None => unknown_member(&Ty::Static(s), name, off),
            }
        }
        _ => unknown_member(&Ty::Static(s), name, off),
    }
}

/// Methods of `DateTime` values.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if let Some(u) = add_unit(m) {
        let a = b.args(m, args, &[Ty::Double], 1, off)?;
        return Ok((date(DateFn::Add(u), with_recv(recv, a)), Ty::DateTime));
    }
    match m {
        "Add" => {
            let a = b.args(m, args, &[Ty::TimeSpan], 1, off)?;
            Ok((date(DateFn::AddSpan, with_recv(recv, a)), Ty::DateTime))
        }
        "Subtract" => {
            let (ir, ty) = match args {
                [a] => b.expr(a)?,
                _ => return type_err(off, "'Subtract' takes 1 argument"),
            };
            match ty {
                Ty::DateTime => Ok((date(DateFn::Subtract, vec![recv, ir]), Ty::TimeSpan)),
                Ty::TimeSpan => Ok((
                    date(DateFn::AddSpan, vec![recv, Ir::Neg(Box::new(ir))]),
                    Ty::DateTime,
                )),
                t => type_err(
                    args[0].offset,
                    format!("cannot subtract '{t}' from a DateTime"),
                ),
            }
        }
        "AddMonths" | "AddYears" => {
            let a = b.args(m, args, &[Ty::Int], 1, off)?;
            let per = if m == "AddYears" { 12 } else { 1 };
            Ok((
                date(DateFn::AddMonths(per), with_recv(recv, a)),
                Ty::DateTime,
            ))
        }
        "ToUniversalTime" => Ok((date(DateFn::ToUniversal, vec![recv]), Ty::DateTime)),
        "ToLocalTime" => Ok((date(DateFn::ToLocal, vec![recv]), Ty::DateTime)),
        _ => unknown_member(&Ty::DateTime, m, off),
    }
}

/// The ticks per unit of `AddDays`, `AddHours`, ... (`DateTime` and `DateTimeOffset`).
pub(crate) fn add_unit(m: &str) -> Option<TicksPerUnit> {
    Some(match m {
        "AddDays" => TICKS_PER_DAY,
        "AddHours" => TICKS_PER_HOUR,
        "AddMinutes" => TICKS_PER_MINUTE,
        "AddSeconds" => TICKS_PER_SECOND,
        "AddMilliseconds" => TICKS_PER_MS,
        "AddTicks" => 1,
        _ => return None,
    })
}

/// `TimeSpan.FromX(..)`; `DateTime.Parse` is refused with a reason.
pub(crate) fn static_method(
    b: &mut dyn Binder,
    s: Static,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let unit = match (s, m) {
        (Static::TimeSpan, "FromDays") => TICKS_PER_DAY,
        (Static::TimeSpan, "FromHours") => TICKS_PER_HOUR,
        (Static::TimeSpan, "FromMinutes") => TICKS_PER_MINUTE,
        (Static::TimeSpan, "FromSeconds") => TICKS_PER_SECOND,
        (Static::TimeSpan, "FromMilliseconds") => TICKS_PER_MS,
        (Static::TimeSpan, "FromTicks") => 1,
        (Static::DateTime | Static::TimeSpan, "Parse") => {
            let a = b.args(m, args, &[Ty::Str], 1, off)?;
            let (f, ty) = parse_fn(s);
            return Ok((date(f, a), ty));
        }
        (Static::DateTime | Static::TimeSpan, "TryParse") => {
            let (f, ty) = parse_fn(s);
            let default = match ty {
                Ty::DateTime => DateTime::min_value().map_or(Value::Null, Value::DateTime),
                _ => Value::TimeSpan(TimeSpan(0)),
            };
            // The parse fails softly inside TryParse: a null, not an exception.
            let soft = DateFn::TryParse(f == DateFn::ParseDateTime);
            return input_and_out(
                b,
                m,
                args,
                &Ty::Str,
                &ty,
                default,
                super::convert::TEXT_AND_RESULT,
                |text| date(soft, vec![text]),
                off,
            );
        }
        (Static::DateTime, "ParseExact") => {
            let a = text_and_format(b, m, args, off)?;
            return Ok((date(DateFn::ParseExact, a), Ty::DateTime));
        }
        (Static::DateTime, "DaysInMonth") => {
            let a = b.args(m, args, &[Ty::Int, Ty::Int], 2, off)?;
            return Ok((b.fold(date(DateFn::DaysInMonth, a)), Ty::Int));
        }
        (Static::DateTime, "SpecifyKind") => {
            let kind = Ty::Enum(EnumType::DateTimeKind);
            let a = b.args(m, args, &[Ty::DateTime, kind], 2, off)?;
            return Ok((b.fold(date(DateFn::SpecifyKind, a)), Ty::DateTime));
        }
        (Static::DateTime, "IsLeapYear") => {
            let a = b.args(m, args, &[Ty::Int], 1, off)?;
            return Ok((b.fold(date(DateFn::IsLeapYear, a)), Ty::Bool));
        }
        _ => return unknown_member(&Ty::Static(s), m, off),
    };
    let a = b.args(m, args, &[Ty::Double], 1, off)?;
    Ok((b.fold(date(DateFn::SpanFrom(unit), a)), Ty::TimeSpan))
}

/// The parse function and type of `DateTime.Parse` or `TimeSpan.Parse`.
fn parse_fn(s: Static) -> (DateFn, Ty) {
    if s == Static::DateTime {
        (DateFn::ParseDateTime, Ty::DateTime)
    } else {
        (DateFn::ParseTimeSpan, Ty::TimeSpan)
    }
}

/// `new TimeSpan(h, m, s)` / `new TimeSpan(d, h, m, s)` and `new DateTime(y, m, d[, h, m, s])`.
pub(crate) fn new(
    b: &mut dyn Binder,
    type_name: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if type_name == "TimeSpan" {
        let a = b.args(
            "TimeSpan",
            args,
            &[Ty::Int, Ty::Int, Ty::Int, Ty::Int],
            3,
            off,
        )?;
        return Ok((b.fold(date(DateFn::NewTimeSpan, a)), Ty::TimeSpan));
    }
    // (y, m, d[, h, min, s[, ms]][, kind]): the IR's arguments are always the seven numbers
    // and the kind.
    let kind = Ty::Enum(EnumType::DateTimeKind);
    let with_kind = match args {
        [_, _, _, _, _, _, .., last] => b.expr(last)?.1 == kind,
        _ => false,
    };
    let numbers = args.len() - usize::from(with_kind);
    if !matches!(numbers, 3 | 6 | 7) {
        return type_err(
            off,
            "'DateTime' takes (year, month, day), (year, month, day, hour, minute, second) \
             or (.., millisecond), each optionally followed by a DateTimeKind",
        );
    }
    let mut params = vec![Ty::Int; numbers];
    if with_kind {
        params.push(kind);
    }
    let given = b.args("DateTime", args, &params, params.len(), off)?;
    let mut a: Vec<Ir> = given.iter().take(numbers).cloned().collect();
    a.resize(7, Ir::Const(Value::Int(0)));
    a.push(match given.get(numbers) {
        Some(k) => k.clone(),
        None => Ir::Const(Value::Enum(EnumValue::Named(EnumType::DateTimeKind, 0))),
    });
    Ok((date(DateFn::New, a), Ty::DateTime))
}

/// The `DateKind` a `DateTimeKind` value stands for.
fn date_kind(v: &Value) -> EvalResult<DateKind> {
    match v {
        Value::Enum(EnumValue::Named(_, 1)) => Ok(DateKind::Utc),
        Value::Enum(EnumValue::Named(_, 2)) => Ok(DateKind::Local),
        Value::Enum(EnumValue::Named(_, 0)) | Value::Null => Ok(DateKind::Unspecified),
        v => fail(
            EvalErrorKind::Argument,
            format!(
                "Invalid DateTimeKind value '{}'. (Parameter 'kind')",
                v.to_dotnet_string()
            ),
        ),
    }
}

pub(crate) fn eval(f: DateFn, args: &[Value]) -> EvalResult<Value> {
    Ok(match f {
        DateFn::Kind => match arg(args, 0) {
            Value::DateTime(d) => Value::Enum(EnumValue::Named(
                EnumType::DateTimeKind,
                match d.kind {
                    DateKind::Utc => 1,
                    DateKind::Local => 2,
                    DateKind::Unspecified | DateKind::Offset(_) => 0,
                },
            )),
            _ => return fail(EvalErrorKind::NullReference, NULL_REF),
        },
        DateFn::SpecifyKind => match arg(args, 0) {
            Value::DateTime(d) => Value::DateTime(DateTime {
                wall: d.wall,
                kind: date_kind(arg(args, 1))?,
            }),
            _ => return fail(EvalErrorKind::NullReference, NULL_REF),
        },
        DateFn::Now => Value::DateTime(DateTime::now()),
        DateFn::UtcNow => Value::DateTime(DateTime::utc_now()),
        DateFn::Add(unit) => {
            let Value::DateTime(d) = arg(args, 0) else {
                return fail(EvalErrorKind::NullReference, NULL_REF);
            };
            let n = num(arg(args, 1)).unwrap_or(0.0);
            let ticks = n * unit as f64;
            if !ticks.is_finite() || ticks.abs() > 3.0e18 {
                return fail(EvalErrorKind::OutOfRange, "Value to add was out of range.");
            }
            Value::DateTime(d.checked_add(TimeSpan(ticks as i64)).ok_or_else(|| {
                EvalError::new(EvalErrorKind::OutOfRange, "Value to add was out of range.")
            })?)
        }
        DateFn::AddSpan => match (arg(args, 0), arg(args, 1)) {
            (Value::DateTime(d), Value::TimeSpan(t)) => {
                Value::DateTime(d.checked_add(*t).ok_or_else(|| {
                    EvalError::new(EvalErrorKind::OutOfRange, "Value to add was out of range.")
                })?)
            }
            _ => return fail(EvalErrorKind::NullReference, NULL_REF),
        },
        DateFn::Subtract => match (arg(args, 0), arg(args, 1)) {
            (Value::DateTime(a), Value::DateTime(b)) => Value::TimeSpan(a.since(*b)),
            _ => return fail(EvalErrorKind::NullReference, NULL_REF),
        },
        DateFn::Part(k) => {
            let Value::DateTime(d) = arg(args, 0) else {
                return fail(EvalErrorKind::NullReference, NULL_REF);
            };
            Value::Int(d.part(&format!("{k:?}")))
        }
        DateFn::ToUniversal | DateFn::ToLocal | DateFn::Date | DateFn::Ticks => {
            let Value::DateTime(d) = arg(args, 0) else {
                return fail(EvalErrorKind::NullReference, NULL_REF);
            };
            match f {
                DateFn::ToUniversal => Value::DateTime(d.to_universal()),
                DateFn::ToLocal => Value::DateTime(d.to_local()),
                DateFn::Date => Value::DateTime(DateTime {
                    wall: d.wall.date().and_time(chrono::NaiveTime::MIN),
                    kind: d.kind,
                }),
                _ => {
                    // Ticks since 0001-01-01.
                    let epoch = chrono::NaiveDate::from_ymd_opt(1, 1, 1)
                        .map(|e| e.and_time(chrono::NaiveTime::MIN));
                    let us = epoch
                        .and_then(|e| (d.wall - e).num_microseconds())
                        .unwrap_or(0);
                    Value::Int(us.saturating_mul(10))
                }
            }
        }
        DateFn::ParseExact => {
            let (Some(text), Some(format)) = (opt_s(args, 0), opt_s(args, 1)) else {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 's')",
                );
            };
            match DateTime::parse_exact(text, format) {
                Some(d) => Value::DateTime(d),
                None => {
                    return fail(
                        EvalErrorKind::Format,
                        format!("String '{text}' was not recognized as a valid DateTime."),
                    )
                }
            }
        }
        DateFn::ParseDateTime | DateFn::ParseTimeSpan | DateFn::TryParse(_) => {
            let Some(text) = opt_s(args, 0) else {
                return match f {
                    DateFn::TryParse(_) => Ok(Value::Null),
                    _ => fail(
                        EvalErrorKind::Argument,
                        "Value cannot be null. (Parameter 's')",
                    ),
                };
            };
            let dt = matches!(f, DateFn::ParseDateTime | DateFn::TryParse(true));
            let parsed = if dt {
                DateTime::parse_dotnet(text).map(Value::DateTime)
            } else {
                TimeSpan::parse_dotnet(text).map(Value::TimeSpan)
            };
            match (parsed, f) {
                (Some(v), _) => v,
                (None, DateFn::TryParse(_)) => Value::Null,
                (None, _) => {
                    return fail(
                        EvalErrorKind::Format,
                        format!(
                            "String '{text}' was not recognized as a valid {}.",
                            if dt { "DateTime" } else { "TimeSpan" }
                        ),
                    )
                }
            }
        }
        DateFn::AddMonths(per) => {
            let Value::DateTime(d) = arg(args, 0) else {
                return fail(
                    EvalErrorKind::NullReference,
                    "Object reference not set to an instance of an object.",
                );
            };
            let n = int(arg(args, 1)).unwrap_or(0).saturating_mul(per);
            let out_of_range = || {
                EvalError::new(
                    EvalErrorKind::OutOfRange,
                    "The added or subtracted value results in an un-representable DateTime.",
                )
            };
            let months =
                chrono::Months::new(u32::try_from(n.unsigned_abs()).map_err(|_| out_of_range())?);
            // chrono, like .NET, keeps the day unless the month is shorter (Jan 31 + 1 → Feb 29).
            let date = if n >= 0 {
                d.wall.date().checked_add_months(months)
            } else {
                d.wall.date().checked_sub_months(months)
            }
            .filter(|x| (1..=9999).contains(&chrono::Datelike::year(x)))
            .ok_or_else(out_of_range)?;
            Value::DateTime(DateTime {
                wall: date.and_time(d.wall.time()),
                kind: d.kind,
            })
        }
        DateFn::DaysInMonth | DateFn::IsLeapYear => {
            let y = int(arg(args, 0)).unwrap_or(0);
            if !(1..=9999).contains(&y) {
                return fail(
                    EvalErrorKind::OutOfRange,
                    "Year must be between 1 and 9999. (Parameter 'year')",
                );
            }
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            if f == DateFn::IsLeapYear {
                Value::Bool(leap)
            } else {
                let days = match int(arg(args, 1)).unwrap_or(0) {
                    1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                    4 | 6 | 9 | 11 => 30,
                    2 if leap => 29,
                    2 => 28,
                    _ => {
                        return fail(
                            EvalErrorKind::OutOfRange,
                            "Month must be between one and twelve. (Parameter 'month')",
                        )
                    }
                };
                Value::Int(days)
            }
        }
        DateFn::DayOfWeek => {
            let Value::DateTime(d) = arg(args, 0) else {
                return fail(EvalErrorKind::NullReference, NULL_REF);
            };
            use chrono::Datelike;
            let n = d.wall.weekday().num_days_from_sunday();
            Value::Enum(EnumValue::Named(EnumType::DayOfWeek, n.into()))
        }
        DateFn::TimeOfDay => {
            let Value::DateTime(d) = arg(args, 0) else {
                return fail(
                    EvalErrorKind::NullReference,
                    "Object reference not set to an instance of an object.",
                );
            };
            let since = d.wall - d.wall.date().and_hms_opt(0, 0, 0).unwrap_or(d.wall);
            Value::TimeSpan(TimeSpan(
                since.num_microseconds().unwrap_or(0).saturating_mul(10),
            ))
        }
        DateFn::New => {
            let p = |i: usize| int(arg(args, i)).unwrap_or(0);
            let date = chrono::NaiveDate::from_ymd_opt(p(0) as i32, p(1) as u32, p(2) as u32);
            let dt = date.and_then(|d| {
                let ms = u32::try_from(p(6)).ok().filter(|ms| *ms < 1000)?;
                d.and_hms_milli_opt(p(3) as u32, p(4) as u32, p(5) as u32, ms)
            });
            match dt {
                Some(wall) => Value::DateTime(DateTime {
                    wall,
                    kind: date_kind(arg(args, 7))?,
                }),
                None => {
                    return fail(
                        EvalErrorKind::OutOfRange,
                        "Year, Month, and Day parameters describe an un-representable DateTime.",
                    )
                }
            }
        }
        DateFn::SpanFrom(unit) => {
            let n = num(arg(args, 0)).unwrap_or(0.0) * unit as f64;
            if !n.is_finite() || n.abs() > 9.2e18 {
                return fail(
                    EvalErrorKind::Overflow,
                    "TimeSpan overflowed because the duration is too long.",
                );
            }
            Value::TimeSpan(TimeSpan(n as i64))
        }
        DateFn::SpanTotal(unit) => match arg(args, 0) {
            Value::TimeSpan(t) => Value::Double(t.0 as f64 / unit as f64),
            _ => return fail(EvalErrorKind::NullReference, NULL_REF),
        },
        DateFn::SpanPart(k) => match arg(args, 0) {
            Value::TimeSpan(t) => {
                let secs = t.0 / 10_000_000;
                Value::Int(match k {
                    SpanPartKind::Days => secs / 86_400,
                    SpanPartKind::Hours => secs / 3600 % 24,
                    SpanPartKind::Minutes => secs / 60 % 60,
                    SpanPartKind::Seconds => secs % 60,
                    SpanPartKind::Milliseconds => t.0 / 10_000 % 1000,
                    SpanPartKind::Ticks => t.0,
                })
            }
            _ => return fail(EvalErrorKind::NullReference, NULL_REF),
        },
        DateFn::NewTimeSpan => {
            let p: Vec<i64> = (0..args.len())
                .map(|i| int(arg(args, i)).unwrap_or(0))
                .collect();
            let (d, h, m, s) = if p.len() == 4 {
                (p[0], p[1], p[2], p[3])
            } else {
                (0, p[0], p[1], p[2])
            };
            let secs = d
                .saturating_mul(86_400)
                .saturating_add(h.saturating_mul(3600))
                .saturating_add(m.saturating_mul(60))
                .saturating_add(s);
            Value::TimeSpan(TimeSpan(secs.saturating_mul(10_000_000)))
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::expr::testing::{assert_refused, s};

    /// `DateTime.Kind`, `SpecifyKind` and the constructors with milliseconds and a kind.
    #[test]
    fn kinds() {
        for (expr, want) in [
            ("@(new DateTime(2024, 1, 2).Kind)", "Unspecified"),
            ("@(DateTime.UtcNow.Kind)", "Utc"),
            ("@(DateTime.Now.Kind)", "Local"),
            (
                "@(new DateTime(2024, 1, 2, 3, 4, 5, 678).Millisecond)",
                "678",
            ),
            (
                "@(new DateTime(2024, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc).Kind)",
                "Utc",
            ),
            (
                "@(new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc).ToUniversalTime().Hour)",
                "3",
            ),
            (
                "@(DateTime.SpecifyKind(DateTime.UtcNow, DateTimeKind.Unspecified).Kind)",
                "Unspecified",
            ),
            (
                "@(DateTimeOffset.Parse(\"2024-05-06T10:00:00+02:00\").DateTime.Kind)",
                "Unspecified",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_refused(
            "@(new DateTime(2024, 1))",
            "'DateTime' takes (year, month, day)",
        );
        assert_refused(
            "@(new DateTime(2024, 1, 2, 3, 4, 5, 6, 7))",
            "'DateTime' takes",
        );
        assert_refused(
            "@(new DateTime(2024, 1, 2, 3, 4, 5, 1000))",
            "un-representable DateTime",
        );
        assert_refused(
            "@(DateTime.SpecifyKind(DateTime.UtcNow, (DateTimeKind)5))",
            "Invalid DateTimeKind value '5'",
        );
    }

    #[test]
    fn dates_and_spans_in_ticks() {
        assert_eq!(s("@(TimeSpan.FromMinutes(90).TotalHours)"), "1.5");
        assert_eq!(s("@(new TimeSpan(1, 2, 3, 4).Minutes)"), "3");
        assert_eq!(s("@(new DateTime(2024, 2, 29).AddDays(1).Month)"), "3");
        assert_eq!(
            s("@(new DateTime(2024, 1, 2).Subtract(new DateTime(2024, 1, 1)).TotalHours)"),
            "24"
        );
        assert!(s("@(new DateTime(2023, 2, 29))").contains("un-representable"));
        assert!(s("@(DateTime.Parse(\"x\"))").contains("was not recognized as a valid DateTime"));
        // Outside APIM's DateTime list: APIM refuses it too.
        assert!(s("@(DateTime.Now.ToFileTime())").contains("does not contain a definition"));
    }

    /// `DateTime.Parse`/`TryParse` and `TimeSpan.Parse`/`TryParse` for the forms APIs send.
    #[test]
    fn parsing_dates_and_spans() {
        use crate::expr::testing::failure;
        use crate::expr::EvalErrorKind;
        for (expr, want) in [
            ("@(DateTime.Parse(\"2024-02-29T10:11:12Z\").ToUniversalTime().ToString(\"yyyy-MM-ddTHH:mm:ss\"))", "2024-02-29T10:11:12"),
            ("@(DateTime.Parse(\"2024-02-29T10:11:12+02:00\").ToUniversalTime().Hour)", "8"),
            ("@(DateTime.Parse(\"Thu, 29 Feb 2024 10:11:12 GMT\").ToUniversalTime().Minute)", "11"),
            ("@(DateTime.Parse(\"2024-02-29\").Day)", "29"),
            ("@(DateTime.Parse(\"2/29/2024 1:02:03 PM\").Hour)", "13"),
            ("@(DateTime.TryParse(\"nope\", out var d) || d.Year != 1)", "False"),
            ("@{ DateTime d; return DateTime.TryParse(\"2024-01-02T03:04:05\", out d) ? d.Second : -1; }", "5"),
            ("@(TimeSpan.Parse(\"01:30:00\").TotalMinutes)", "90"),
            ("@(TimeSpan.Parse(\"1.02:00:00.5\").TotalHours)", "26.000138888888888"),
            ("@(TimeSpan.Parse(\"-00:00:10\").TotalSeconds)", "-10"),
            ("@(TimeSpan.Parse(\"3\").TotalHours)", "72"),
            ("@(TimeSpan.TryParse(\"25:00\", out var t))", "False"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_eq!(
            failure("@(DateTime.Parse(\"yesterday\"))"),
            Some(EvalErrorKind::Format)
        );
        assert_eq!(
            failure("@(TimeSpan.Parse(\"1:2:3:4\"))"),
            Some(EvalErrorKind::Format)
        );
        assert_eq!(
            failure("@(DateTime.Parse(context.Request.Url.Query.GetValueOrDefault(\"x\")))"),
            Some(EvalErrorKind::Argument)
        );
    }

    /// Calendar arithmetic as .NET does it: a day past the end of the month is clamped, the
    /// range is years 1–9999.
    #[test]
    fn months_years_and_calendar() {
        for (expr, want) in [
            ("@(new DateTime(2024, 1, 31).AddMonths(1).ToString(\"yyyy-MM-dd\"))", "2024-02-29"),
            ("@(new DateTime(2023, 1, 31).AddMonths(13).ToString(\"yyyy-MM-dd\"))", "2024-02-29"),
            ("@(new DateTime(2024, 2, 29, 10, 30, 0).AddYears(-4).ToString(\"yyyy-MM-dd HH:mm\"))", "2020-02-29 10:30"),
            ("@(new DateTime(2024, 2, 29).AddYears(1).Day)", "28"),
            // The round-trip form: seven fraction digits (this once panicked in chrono).
            ("@(DateTime.Parse(\"2024-02-29T10:30:00Z\").ToUniversalTime().ToString(\"o\"))", "2024-02-29T10:30:00.0000000Z"),
            ("@(new DateTime(2024, 2, 29, 10, 30, 0).ToString(\"O\"))", "2024-02-29T10:30:00.0000000"),
            ("@(DateTime.Parse(\"2024-02-29T10:30:00Z\").ToUniversalTime().ToString(\"HH:mm K\"))", "10:30 Z"),
            ("@(new DateTime(2024, 2, 29, 10, 30, 0).ToString(\"HH:mm|K|\"))", "10:30||"),
            ("@(DateTime.DaysInMonth(2023, 2))", "28"),
            ("@(DateTime.DaysInMonth(2000, 2))", "29"),
            ("@(DateTime.IsLeapYear(2100))", "False"),
            ("@(DateTime.MinValue.Ticks)", "0"),
            ("@(new DateTime(2024, 1, 1, 23, 59, 59).TimeOfDay.TotalSeconds)", "86399"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert!(s("@(new DateTime(9999, 12, 1).AddMonths(1))").contains("un-representable"));
        assert!(s("@(new DateTime(1, 1, 1).AddYears(-1))").contains("un-representable"));
        assert!(s("@(DateTime.Now.AddYears(2147483647))").contains("un-representable"));
        assert!(s("@(DateTime.DaysInMonth(2024, 13))").contains("between one and twelve"));
        assert!(s("@(DateTime.IsLeapYear(0))").contains("between 1 and 9999"));
    }

    #[test]
    fn days_of_the_week_as_dotnet_names_them() {
        for (expr, want) in [
            ("@(new DateTime(2024, 5, 6).DayOfWeek)", "Monday"),
            ("@(new DateTime(2024, 5, 5).DayOfWeek.ToString())", "Sunday"),
            ("@(new DateTime(2024, 5, 11).DayOfWeek == DayOfWeek.Saturday)", "True"),
            ("@(new DateTime(2024, 5, 11).DayOfWeek != DayOfWeek.Saturday)", "False"),
            ("@((int)new DateTime(2024, 5, 10).DayOfWeek)", "5"),
            ("@(DateTimeOffset.Parse(\"2024-05-06T23:30:00-02:00\").DayOfWeek)", "Monday"),
            ("@(DateTime.UtcNow.DayOfWeek == DayOfWeek.Sunday || DateTime.UtcNow.DayOfWeek != DayOfWeek.Sunday)", "True"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_refused(
            "@(DayOfWeek.Funday)",
            "does not contain a definition for 'Funday'",
        );
    }
}
