//! `TimeZoneInfo` (and the obsolete `TimeZone.CurrentTimeZone`): `Utc`, `Local`,
//! `FindSystemTimeZoneById` (IANA or Windows ids), the `ConvertTime…` family for `DateTime` and
//! `DateTimeOffset`, and a zone's `Id`, names, offsets and daylight saving time. Checker
//! bindings and evaluator in one file; the zones are `dotnet::timezone`'s.
//!
//! Must not: know the time zone database (that is `dotnet::timezone`).

use std::sync::Arc;

use crate::dotnet::timezone::{not_found, Zone};
use crate::dotnet::{DateKind, DateTimeOffset};
use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Obj, Value};

const ZONE: Ty = Ty::Obj(ObjKind::TimeZone);

fn call(f: TzFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Tz(f), args)
}

/// `TimeZoneInfo.Utc`, `TimeZoneInfo.Local`, `TimeZone.CurrentTimeZone`.
pub(crate) fn static_member(s: Static, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match (s, name) {
        (Static::TimeZoneInfo, "Utc") => Ok((call(TzFn::Utc, vec![]), ZONE)),
        (Static::TimeZoneInfo, "Local") | (Static::TimeZone, "CurrentTimeZone") => {
            Ok((call(TzFn::Local, vec![]), ZONE))
        }
        _ => unknown_member(&Ty::Static(s), name, off),
    }
}

/// `FindSystemTimeZoneById`, `ConvertTimeFromUtc`, `ConvertTimeToUtc`, `ConvertTime`,
/// `ConvertTimeBySystemTimeZoneId`.
pub(crate) fn static_method(
    b: &mut dyn Binder,
    s: Static,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if s != Static::TimeZoneInfo {
        return unknown_member(&Ty::Static(s), m, off);
    }
    let find = |ir: Ir| call(TzFn::Find, vec![ir]);
    match m {
        "FindSystemTimeZoneById" => {
            let a = b.args(m, args, &[Ty::Str], 1, off)?;
            Ok((call(TzFn::Find, a), ZONE))
        }
        "ConvertTimeFromUtc" => {
            let a = b.args(m, args, &[Ty::DateTime, ZONE], 2, off)?;
            Ok((call(TzFn::FromUtc, a), Ty::DateTime))
        }
        "ConvertTimeToUtc" => {
            let a = b.args(m, args, &[Ty::DateTime, ZONE], 1, off)?;
            Ok((call(TzFn::ToUtc, a), Ty::DateTime))
        }
        "ConvertTime" | "ConvertTimeBySystemTimeZoneId" => {
            let by_id = m == "ConvertTimeBySystemTimeZoneId";
            let Some((first, zones)) = args.split_first() else {
                return type_err(off, format!("'{m}' takes a date and time zones"));
            };
            let (value, ty) = b.expr(first)?;
            let zone_ty = if by_id { Ty::Str } else { ZONE };
            let mut irs = vec![value];
            for z in zones {
                let ir = b.coerce(z, &zone_ty)?;
                irs.push(if by_id { find(ir) } else { ir });
            }
            match (&ty, irs.len()) {
                (Ty::DateTime, 2) => Ok((call(TzFn::Convert, irs), Ty::DateTime)),
                (Ty::DateTime, 3) => Ok((call(TzFn::ConvertFrom, irs), Ty::DateTime)),
                (Ty::DateTimeOffset, 2) => Ok((call(TzFn::ConvertOffset, irs), Ty::DateTimeOffset)),
                _ => type_err(
                    off,
                    format!("'{m}' takes a DateTime and the destination (or source and destination) zones, or a DateTimeOffset and the destination zone"),
                ),
            }
        }
        _ => unknown_member(&Ty::Static(s), m, off),
    }
}

/// A zone's properties.
pub(crate) fn member(recv: Ir, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let (f, ty) = match name {
        "Id" => (TzFn::Id, Ty::Str),
        "DisplayName" => (TzFn::DisplayName, Ty::Str),
        "StandardName" => (TzFn::Name(false), Ty::Str),
        "DaylightName" => (TzFn::Name(true), Ty::Str),
        "BaseUtcOffset" => (TzFn::BaseOffset, Ty::TimeSpan),
        "SupportsDaylightSavingTime" => (TzFn::SupportsDst, Ty::Bool),
        _ => return unknown_member(&ZONE, name, off),
    };
    Ok((call(f, vec![recv]), ty))
}

/// A zone's methods (`TimeZone`'s too: `ToLocalTime`, `ToUniversalTime`).
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let (f, ty) = match m {
        "GetUtcOffset" => (TzFn::UtcOffset, Ty::TimeSpan),
        "IsDaylightSavingTime" => (TzFn::IsDst, Ty::Bool),
        "IsInvalidTime" => (TzFn::IsInvalid, Ty::Bool),
        "ToLocalTime" => (TzFn::FromUtcOf, Ty::DateTime),
        "ToUniversalTime" => (TzFn::ToUtcOf, Ty::DateTime),
        _ => return unknown_member(&ZONE, m, off),
    };
    let [arg] = args else {
        return type_err(off, format!("'{m}' takes a date"));
    };
    let (ir, t) = b.expr(arg)?;
    let ir = match t {
        Ty::DateTime => ir,
        // A DateTimeOffset stands for its instant.
        Ty::DateTimeOffset if matches!(f, TzFn::UtcOffset | TzFn::IsDst) => ir,
        t => return type_err(arg.offset, format!("'{m}' takes a DateTime, not '{t}'")),
    };
    Ok((call(f, vec![recv, ir]), ty))
}

fn zone_arg(args: &[Value], i: usize) -> EvalResult<Zone> {
    match arg(args, i) {
        Value::Obj(o) => match &**o {
            Obj::TimeZone(z) => Ok(z.clone()),
            _ => fail(EvalErrorKind::InvalidCast, "not a TimeZoneInfo"),
        },
        Value::Null => fail(
            EvalErrorKind::Argument,
            "Value cannot be null. (Parameter 'timeZone')",
        ),
        _ => fail(EvalErrorKind::InvalidCast, "not a TimeZoneInfo"),
    }
}

fn date_arg(args: &[Value], i: usize) -> EvalResult<crate::dotnet::DateTime> {
    match arg(args, i) {
        Value::DateTime(d) => Ok(*d),
        Value::DateTimeOffset(d) => Ok(d.0),
        _ => fail(EvalErrorKind::NullReference, NULL_REF),
    }
}

pub(crate) fn eval(f: TzFn, args: &[Value]) -> EvalResult<Value> {
    let zone = |z: Zone| Value::Obj(Arc::new(Obj::TimeZone(z)));
    let argument = |m: String| EvalError::new(EvalErrorKind::Argument, m);
    Ok(match f {
        TzFn::Utc => zone(Zone::utc()),
        TzFn::Local => zone(Zone::local()),
        TzFn::Find => {
            let id = s_arg(args, 0)?;
            match Zone::find(id) {
                Some(z) => zone(z),
                None => return fail(EvalErrorKind::TimeZoneNotFound, not_found(id)),
            }
        }
        TzFn::FromUtc => {
            let d = date_arg(args, 0)?;
            if d.kind == DateKind::Local {
                return fail(
                    EvalErrorKind::Argument,
                    "The conversion could not be completed because the supplied DateTime did not have the Kind property set correctly. For example, when the Kind property is DateTimeKind.Local, the source time zone must be TimeZoneInfo.Local. (Parameter 'dateTime')",
                );
            }
            Value::DateTime(zone_arg(args, 1)?.wall_of(&d.wall))
        }
        TzFn::ToUtc => {
            let d = date_arg(args, 0)?;
            let source = match arg(args, 1) {
                Value::Null => Zone::source_of(&d),
                _ => zone_arg(args, 1)?,
            };
            Value::DateTime(Zone::utc().convert_from(&d, &source).map_err(argument)?)
        }
        TzFn::Convert => {
            let d = date_arg(args, 0)?;
            let to = zone_arg(args, 1)?;
            Value::DateTime(
                to.convert_from(&d, &Zone::source_of(&d))
                    .map_err(argument)?,
            )
        }
        TzFn::ConvertFrom => {
            let d = date_arg(args, 0)?;
            let (from, to) = (zone_arg(args, 1)?, zone_arg(args, 2)?);
            Value::DateTime(to.convert_from(&d, &from).map_err(argument)?)
        }
        TzFn::ConvertOffset => {
            let Value::DateTimeOffset(d) = arg(args, 0) else {
                return fail(EvalErrorKind::NullReference, NULL_REF);
            };
            let utc = d.utc();
            let m = zone_arg(args, 1)?.offset_of_instant(&utc);
            Value::DateTimeOffset(DateTimeOffset::at(
                utc + chrono::Duration::minutes(i64::from(m)),
                m,
            ))
        }
        TzFn::Id => Value::str(zone_arg(args, 0)?.id()),
        TzFn::DisplayName => Value::str(&zone_arg(args, 0)?.display_name()),
        TzFn::Name(daylight) => Value::str(&zone_arg(args, 0)?.name(daylight)),
        TzFn::BaseOffset => Value::TimeSpan(zone_arg(args, 0)?.base_offset()),
        TzFn::SupportsDst => Value::Bool(zone_arg(args, 0)?.supports_dst()),
        TzFn::UtcOffset => Value::TimeSpan(zone_arg(args, 0)?.utc_offset(&date_arg(args, 1)?)),
        TzFn::IsDst => Value::Bool(zone_arg(args, 0)?.is_dst(&date_arg(args, 1)?)),
        TzFn::IsInvalid => Value::Bool(zone_arg(args, 0)?.is_invalid(&date_arg(args, 1)?)),
        // `TimeZone.ToLocalTime(utc)` and `ToUniversalTime(local)` of the machine's zone.
        TzFn::FromUtcOf => {
            let z = zone_arg(args, 0)?;
            let d = date_arg(args, 1)?;
            if d.kind == DateKind::Local {
                Value::DateTime(d)
            } else {
                Value::DateTime(z.wall_of(&d.wall))
            }
        }
        TzFn::ToUtcOf => {
            let z = zone_arg(args, 0)?;
            let d = date_arg(args, 1)?;
            Value::DateTime(Zone::utc().convert_from(&d, &z).map_err(argument)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::expr::env::EvalErrorKind;
    use crate::expr::testing::{assert_refused, failure, s};

    #[test]
    fn conversions_between_zones() {
        for (expr, want) in [
            (
                r#"@(TimeZoneInfo.ConvertTimeFromUtc(new DateTime(2024, 7, 1, 12, 0, 0, DateTimeKind.Utc), TimeZoneInfo.FindSystemTimeZoneById("W. Europe Standard Time")).ToString("HH:mm"))"#,
                "14:00",
            ),
            (
                r#"@(TimeZoneInfo.ConvertTimeBySystemTimeZoneId(new DateTime(2024, 1, 1, 12, 0, 0, DateTimeKind.Utc), "Eastern Standard Time").Hour)"#,
                "7",
            ),
            (
                r#"@(TimeZoneInfo.ConvertTimeBySystemTimeZoneId(new DateTime(2024, 1, 1, 12, 0, 0), "Asia/Tokyo", "Europe/London").Hour)"#,
                "3",
            ),
            (
                r#"@(TimeZoneInfo.ConvertTimeToUtc(new DateTime(2024, 7, 1, 9, 0, 0), TimeZoneInfo.FindSystemTimeZoneById("Pacific Standard Time")).ToString("HH:mm K"))"#,
                "16:00 Z",
            ),
            (
                r#"@(TimeZoneInfo.ConvertTime(DateTimeOffset.Parse("2024-07-01T12:00:00+00:00"), TimeZoneInfo.FindSystemTimeZoneById("India Standard Time")).ToString("HH:mm zzz"))"#,
                "17:30 +05:30",
            ),
            (
                r#"@(TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin").GetUtcOffset(new DateTime(2024, 7, 1, 0, 0, 0, DateTimeKind.Utc)).TotalHours)"#,
                "2",
            ),
            (
                r#"@(TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin").IsDaylightSavingTime(new DateTime(2024, 1, 1)))"#,
                "False",
            ),
            (
                r#"@(TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin").IsInvalidTime(new DateTime(2024, 3, 31, 2, 30, 0)))"#,
                "True",
            ),
            (
                r#"@(TimeZoneInfo.FindSystemTimeZoneById("tokyo standard time").BaseUtcOffset.TotalHours + "/" + TimeZoneInfo.FindSystemTimeZoneById("Asia/Tokyo").SupportsDaylightSavingTime)"#,
                "9/False",
            ),
            (
                r#"@(TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin").Id + "|" + TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin").DisplayName)"#,
                "Europe/Berlin|(UTC+01:00) Europe/Berlin",
            ),
            (
                r#"@(TimeZoneInfo.Utc.Id + "/" + TimeZoneInfo.Utc.StandardName)"#,
                "UTC/Coordinated Universal Time",
            ),
            (
                r#"@(TimeZoneInfo.ConvertTimeFromUtc(DateTime.UtcNow, TimeZoneInfo.Utc).Kind)"#,
                "Utc",
            ),
            (
                r#"@(TimeZoneInfo.ConvertTime(DateTime.UtcNow, TimeZoneInfo.Local).Kind)"#,
                "Local",
            ),
            (
                r#"@(TimeZone.CurrentTimeZone.ToUniversalTime(TimeZone.CurrentTimeZone.ToLocalTime(new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc))).Hour)"#,
                "0",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
    }

    #[test]
    fn unknown_zones_and_wrong_kinds_fail_as_dotnet() {
        assert_eq!(
            failure(r#"@(TimeZoneInfo.FindSystemTimeZoneById("Mars/Olympus"))"#),
            Some(EvalErrorKind::TimeZoneNotFound)
        );
        assert_eq!(
            s(
                r#"@{ try { return TimeZoneInfo.FindSystemTimeZoneById("x").Id; } catch (TimeZoneNotFoundException e) { return e.Message; } }"#
            ),
            "The time zone ID 'x' was not found on the local computer."
        );
        assert_eq!(
            failure(r#"@(TimeZoneInfo.ConvertTimeFromUtc(DateTime.Now, TimeZoneInfo.Utc))"#),
            Some(EvalErrorKind::Argument)
        );
        assert_eq!(
            failure(
                r#"@(TimeZoneInfo.ConvertTime(new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc), TimeZoneInfo.FindSystemTimeZoneById("Asia/Tokyo"), TimeZoneInfo.Utc))"#
            ),
            Some(EvalErrorKind::Argument)
        );
        assert_eq!(
            failure(
                r#"@(TimeZoneInfo.ConvertTimeToUtc(new DateTime(2024, 3, 31, 2, 30, 0), TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin")))"#
            ),
            Some(EvalErrorKind::Argument)
        );
        assert_refused(
            r#"@(TimeZoneInfo.ConvertTime("x", TimeZoneInfo.Utc))"#,
            "'ConvertTime' takes a DateTime",
        );
        assert_refused(
            r#"@(TimeZoneInfo.Utc.GetAdjustmentRules())"#,
            "is not supported by certgate",
        );
    }
}
