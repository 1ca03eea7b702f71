//! `string` members (`Length`, `Contains`, `Split`, `Substring`, ...), `String.*` statics
//! (`IsNullOrEmpty`, `Join`, `Format`, ...) and `StringComparison`, with .NET's semantics
//! (UTF-16 lengths and indices, ordinal comparison). Checker bindings and evaluator in one
//! file.

use std::borrow::Cow;

use super::format::dotnet_format;
use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::Value;

fn str_call(b: &dyn Binder, f: StrFn, args: Vec<Ir>) -> Ir {
    b.fold(Ir::Call(Builtin::Str(f), args))
}

/// `s.Length`.
pub(crate) fn member(recv: Ir, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match name {
        "Length" => Ok((Ir::Call(Builtin::Str(StrFn::Length), vec![recv]), Ty::Int)),
        _ => unknown_member(&Ty::Str, name, off),
    }
}

/// `String.Empty`.
pub(crate) fn static_member(s: Static, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match (s, name) {
        (Static::String, "Empty") => Ok((Ir::Const(Value::str("")), Ty::Str)),
        _ => unknown_member(&Ty::Static(s), name, off),
    }
}

/// `StringComparer.Ordinal`, `OrdinalIgnoreCase`, `InvariantCulture[IgnoreCase]`,
/// `CurrentCulture[IgnoreCase]`: carried as the `StringComparison` of the same name.
pub(crate) fn comparer(name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let how = crate::dotnet::EnumType::StringComparison;
    match how.value(name) {
        Some(n) => Ok((
            Ir::Const(Value::Enum(crate::value::EnumValue::Named(how, n))),
            Ty::Obj(ObjKind::Comparer),
        )),
        None => unknown_member(&Ty::Static(Static::StringComparer), name, off),
    }
}

/// `comparer.Compare(a, b)` and `comparer.Equals(a, b)`.
pub(crate) fn comparer_method(
    b: &mut dyn Binder,
    recv: Ir,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if !matches!(m, "Compare" | "Equals") {
        return unknown_member(&Ty::Obj(ObjKind::Comparer), m, off);
    }
    let mut a = b.args(m, args, &[Ty::Str, Ty::Str], 2, off)?;
    a.push(recv);
    let compared = str_call(b, StrFn::Compare, a);
    if m == "Compare" {
        return Ok((compared, Ty::Int));
    }
    Ok((
        Ir::Binary(
            crate::expr::ast::BinOp::Eq,
            Box::new(compared),
            Box::new(Ir::Const(Value::Int(0))),
        ),
        Ty::Bool,
    ))
}

/// `s[i]`: a `char`, as C# indexes UTF-16 code units.
pub(crate) fn index(b: &mut dyn Binder, recv: Ir, index: &Expr) -> CheckResult<(Ir, Ty)> {
    let k = b.coerce(index, &Ty::Int)?;
    Ok((str_call(b, StrFn::CharAt, vec![recv, k]), Ty::Char))
}

/// Instance methods of `string`.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if let Some(r) = super::auth::string_method(b, &recv, m, args, off) {
        return r;
    }
    let s = Ty::Str;
    let (f, params, required, ty): (StrFn, Vec<Ty>, usize, Ty) = match m {
        "Contains" => (StrFn::Contains, vec![s.clone(), COMPARISON], 1, Ty::Bool),
        "StartsWith" => (StrFn::StartsWith, vec![s.clone(), COMPARISON], 1, Ty::Bool),
        "EndsWith" => (StrFn::EndsWith, vec![s.clone(), COMPARISON], 1, Ty::Bool),
        "Equals" => (StrFn::Equals, vec![s.clone(), COMPARISON], 1, Ty::Bool),
        "CompareTo" => (StrFn::Compare, vec![s.clone()], 1, Ty::Int),
        "Normalize" | "IsNormalized" => (
            StrFn::Normalize(m == "IsNormalized"),
            vec![Ty::Enum(crate::dotnet::EnumType::NormalizationForm)],
            0,
            if m == "Normalize" {
                s.clone()
            } else {
                Ty::Bool
            },
        ),
        "ToUpper" | "ToUpperInvariant" => (StrFn::ToUpper, vec![], 0, s.clone()),
        "ToLower" | "ToLowerInvariant" => (StrFn::ToLower, vec![], 0, s.clone()),
        "Replace" => (StrFn::Replace, vec![s.clone(), s.clone()], 2, s.clone()),
        "Trim" | "TrimStart" | "TrimEnd" => {
            // Trim(), Trim(char), Trim(params char[]): the characters to remove (none given:
            // white space).
            let f = match m {
                "Trim" => StrFn::Trim,
                "TrimStart" => StrFn::TrimStart,
                _ => StrFn::TrimEnd,
            };
            let mut irs = vec![recv];
            for a in args {
                let (ir, ty) = b.expr(a)?;
                match ty {
                    Ty::Char => irs.push(ir),
                    Ty::Array(e) if *e == Ty::Char => irs.push(ir),
                    t => {
                        return type_err(
                            a.offset,
                            format!("'{m}' takes the characters to remove, not '{t}'"),
                        )
                    }
                }
            }
            return Ok((str_call(b, f, irs), s));
        }
        "LastIndexOf" => (StrFn::LastIndexOf, vec![s.clone()], 1, Ty::Int),
        "Insert" => (StrFn::Insert, vec![Ty::Int, s.clone()], 2, s.clone()),
        "Remove" => (StrFn::Remove, vec![Ty::Int, Ty::Int], 1, s.clone()),
        "ToCharArray" => (StrFn::ToCharArray, vec![], 0, Ty::Array(Box::new(Ty::Char))),
        "Substring" => (StrFn::Substring, vec![Ty::Int, Ty::Int], 1, s.clone()),
        "IndexOf" => (StrFn::IndexOf, vec![s.clone()], 1, Ty::Int),
        "IndexOfAny" | "LastIndexOfAny" => (
            StrFn::IndexOfAny(m == "LastIndexOfAny"),
            vec![Ty::Array(Box::new(Ty::Char))],
            1,
            Ty::Int,
        ),
        "PadLeft" => (StrFn::PadLeft, vec![Ty::Int, Ty::Char], 1, s.clone()),
        "PadRight" => (StrFn::PadRight, vec![Ty::Int, Ty::Char], 1, s.clone()),
        "Split" => {
            // Split(char), Split(string), Split(params char[]) — separators as strings.
            let mut irs = vec![recv];
            if args.is_empty() {
                return type_err(off, "'Split' needs at least one separator");
            }
            for a in args {
                let (ir, ty) = b.expr(a)?;
                match ty {
                    Ty::Char | Ty::Str => {
                        irs.push(Ir::Call(Builtin::Convert(ConvertFn::ToStringDyn), vec![ir]))
                    }
                    Ty::Array(e) if matches!(*e, Ty::Char | Ty::Str) => irs.push(ir),
                    Ty::Enum(crate::dotnet::EnumType::StringComparison) => {}
                    // Options travel as a negative marker so that they are not separators.
                    Ty::SplitOptions => irs.push(Ir::Neg(Box::new(ir))),
                    Ty::Int => {
                        return type_err(
                            a.offset,
                            "'Split' with a count is not supported by certgate (APIM allows String.Split(separator, count) in expressions; certgate does not implement it yet)",
                        )
                    }
                    t => {
                        return type_err(
                            a.offset,
                            format!("'Split' separators must be char or string, not '{t}'"),
                        )
                    }
                }
            }
            return Ok((str_call(b, StrFn::Split, irs), Ty::Array(Box::new(Ty::Str))));
        }
        _ => return unknown_member(&Ty::Str, m, off),
    };
    let mut a = if matches!(
        m,
        "IndexOf" | "LastIndexOf" | "Contains" | "StartsWith" | "EndsWith"
    ) {
        // These also accept a char.
        let mut v = Vec::new();
        for (i, arg) in args.iter().enumerate() {
            let (ir, ty) = b.expr(arg)?;
            let Some(want) = params.get(i) else {
                return type_err(off, format!("too many arguments for '{m}'"));
            };
            let ir = if ty == Ty::Char && *want == Ty::Str {
                Ir::Call(Builtin::Convert(ConvertFn::ToStringDyn), vec![ir])
            } else {
                b.convert(ir, &ty, want, arg.offset)?
            };
            v.push(ir);
        }
        if v.len() < required {
            return type_err(off, format!("'{m}' takes at least {required} argument(s)"));
        }
        v
    } else {
        b.args(m, args, &params, required, off)?
    };
    a.insert(0, recv);
    Ok((str_call(b, f, a), ty))
}

/// `StringSplitOptions.X`.
pub(crate) fn split_options(name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let v = match name {
        "None" => 0,
        "RemoveEmptyEntries" => 1,
        "TrimEntries" => 2,
        _ => return unknown_member(&Ty::Static(Static::StringSplitOptions), name, off),
    };
    Ok((Ir::Const(Value::Int(v)), Ty::SplitOptions))
}

/// `new string(c, count)`: `count` copies of a character (a pad of the empty string).
pub(crate) fn new(b: &mut dyn Binder, args: &[Expr], off: usize) -> CheckResult<(Ir, Ty)> {
    let [c, n] = args else {
        return type_err(
            off,
            "'string' is created from a character and a count, such as new string('-', 3)",
        );
    };
    let c = b.coerce(c, &Ty::Char)?;
    let n = b.coerce(n, &Ty::Int)?;
    Ok((
        Ir::Call(
            Builtin::Str(StrFn::PadLeft),
            vec![Ir::Const(Value::str("")), n, c],
        ),
        Ty::Str,
    ))
}

/// `String.IsNullOrEmpty`, `String.Equals`, `String.Join`, `String.Format`, `String.Concat`.
pub(crate) fn static_method(
    b: &mut dyn Binder,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    match m {
        "IsNullOrEmpty" | "IsNullOrWhiteSpace" => {
            let f = if m == "IsNullOrEmpty" {
                StrFn::IsNullOrEmpty
            } else {
                StrFn::IsNullOrWhiteSpace
            };
            let a = b.args(m, args, &[Ty::Str], 1, off)?;
            Ok((str_call(b, f, a), Ty::Bool))
        }
        "Equals" => {
            let a = b.args(m, args, &[Ty::Str, Ty::Str, COMPARISON], 2, off)?;
            Ok((str_call(b, StrFn::Equals, a), Ty::Bool))
        }
        "Compare" | "CompareOrdinal" => {
            let mut a = match args {
                [x, y] => vec![b.coerce(x, &Ty::Str)?, b.coerce(y, &Ty::Str)?],
                [x, y, how] => {
                    let (how, t) = b.expr(how)?;
                    if t != Ty::Bool && t != COMPARISON || m == "CompareOrdinal" {
                        return type_err(
                            args[2].offset,
                            format!("'{m}' takes two strings and ignoreCase or a StringComparison, not '{t}'"),
                        );
                    }
                    vec![b.coerce(x, &Ty::Str)?, b.coerce(y, &Ty::Str)?, how]
                }
                _ => {
                    return type_err(
                        off,
                        format!("'{m}' with other than two strings (and how to compare) is not supported by certgate"),
                    )
                }
            };
            if m == "CompareOrdinal" {
                a.push(Ir::Const(Value::Enum(crate::value::EnumValue::Named(
                    crate::dotnet::EnumType::StringComparison,
                    4,
                ))));
            }
            Ok((str_call(b, StrFn::Compare, a), Ty::Int))
        }
        "Join" => {
            let Some((sep, rest)) = args.split_first() else {
                return type_err(off, "'Join' needs a separator and values");
            };
            let mut irs = vec![b.coerce(sep, &Ty::Str)?];
            for a in rest {
                let (ir, ty) = b.expr(a)?;
                // A collection (a form's list, a List, a Queue, ...) joins as its values.
                let (ir, ty) = match super::collection_items(ir.clone(), &ty) {
                    Some((elem, items)) => (items, Ty::Array(Box::new(elem))),
                    None => (ir, ty),
                };
                check_printable(&ty, a.offset)?;
                irs.push(ir);
            }
            Ok((str_call(b, StrFn::Join, irs), Ty::Str))
        }
        "Format" | "Concat" => {
            let mut irs = Vec::new();
            for a in args {
                let (ir, ty) = b.expr(a)?;
                // `String.Concat(list)`: the collection's items, as an array.
                let (ir, ty) = match (m, args.len(), super::collection_items(ir.clone(), &ty)) {
                    ("Concat", 1, Some((elem, items))) => (items, Ty::Array(Box::new(elem))),
                    _ => (ir, ty),
                };
                check_printable(&ty, a.offset)?;
                irs.push(ir);
            }
            if m == "Format" && irs.is_empty() {
                return type_err(off, "'Format' needs a format string");
            }
            let f = if m == "Format" {
                StrFn::Format
            } else {
                StrFn::Concat
            };
            Ok((str_call(b, f, irs), Ty::Str))
        }
        _ => unknown_member(&Ty::Static(Static::String), m, off),
    }
}

/// `s` with UTF-16 units `start..end` replaced by `text` (no `end`: to the string's end, as
/// `Remove(start)`); `None` when the range is not within the string. .NET indexes strings in
/// UTF-16 units (`Insert`, `Remove`, `StringBuilder.Insert`).
pub(crate) fn splice_utf16(s: &str, start: i64, end: Option<i64>, text: &str) -> Option<String> {
    let units: Vec<u16> = s.encode_utf16().collect();
    let end = end.unwrap_or(units.len() as i64);
    if start < 0 || end < start || end > units.len() as i64 {
        return None;
    }
    let (start, end) = (start as usize, end as usize);
    let mut out = String::from_utf16_lossy(&units[..start]);
    out.push_str(text);
    out.push_str(&String::from_utf16_lossy(&units[end..]));
    Some(out)
}

pub(crate) fn eval(f: StrFn, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    use crate::dotnet::text::{self, Comparison, Form};
    let lower = |s: &str| s.to_lowercase();
    Ok(match f {
        StrFn::Compare => {
            let how = match args.get(2) {
                None | Some(Value::Bool(false)) => Comparison::Culture,
                Some(Value::Bool(true)) => Comparison::CultureIgnoreCase,
                Some(Value::Enum(crate::value::EnumValue::Named(_, n))) => {
                    match Comparison::of(*n) {
                        Some(c) => c,
                        None => return fail(
                            EvalErrorKind::Argument,
                            format!("The string comparison type passed in is currently not supported. (Parameter 'comparisonType'): {n}"),
                        ),
                    }
                }
                Some(_) => Comparison::Culture,
            };
            Value::Int(match text::compare(opt_s(args, 0), opt_s(args, 1), how) {
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
                std::cmp::Ordering::Greater => 1,
            })
        }
        StrFn::Normalize(test) => {
            let s = s_arg(args, 0)?;
            let form = match args.get(1) {
                None => Some(Form::C),
                Some(Value::Enum(crate::value::EnumValue::Named(_, n))) => Form::of(*n),
                Some(_) => None,
            };
            let Some(form) = form else {
                return fail(
                    EvalErrorKind::Argument,
                    "Invalid normalization form. (Parameter 'normalizationForm')",
                );
            };
            if test {
                Value::Bool(text::is_normalized(s, form))
            } else {
                env.charge(Value::str(&text::normalize(s, form)))?
            }
        }
        StrFn::Length => Value::Int(s_arg(args, 0)?.encode_utf16().count() as i64),
        StrFn::Contains | StrFn::StartsWith | StrFn::EndsWith | StrFn::Equals => {
            let (s, needle) = if f == StrFn::Equals
                && !matches!(arg(args, 0), Value::Str(_))
                && args.len() >= 2
            {
                // static String.Equals(null, x)
                (opt_s(args, 0), opt_s(args, 1))
            } else {
                (Some(s_arg(args, 0)?), opt_s(args, 1))
            };
            let ic = ignore_case(args, 2);
            if f == StrFn::Equals {
                return Ok(Value::Bool(match (s, needle) {
                    (Some(a), Some(n)) => {
                        let how = if ic {
                            Comparison::OrdinalIgnoreCase
                        } else {
                            Comparison::Ordinal
                        };
                        text::equals(a, n, how)
                    }
                    (None, None) => true,
                    _ => false,
                }));
            }
            let (Some(s), Some(n)) = (s, needle) else {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'value')",
                );
            };
            let (s, n): (Cow<str>, Cow<str>) = if ic {
                (lower(s).into(), lower(n).into())
            } else {
                (s.into(), n.into())
            };
            Value::Bool(match f {
                StrFn::Contains => s.contains(&*n),
                StrFn::StartsWith => s.starts_with(&*n),
                _ => s.ends_with(&*n),
            })
        }
        StrFn::ToUpper => string(s_arg(args, 0)?.to_uppercase()),
        StrFn::ToLower => string(s_arg(args, 0)?.to_lowercase()),
        StrFn::Replace => {
            let s = s_arg(args, 0)?;
            let from = s_arg(args, 1)?;
            if from.is_empty() {
                return fail(
                    EvalErrorKind::Argument,
                    "String cannot be of zero length. (Parameter 'oldValue')",
                );
            }
            let to = opt_s(args, 2).unwrap_or("");
            if to.len() > from.len() {
                let grows = s
                    .matches(from)
                    .count()
                    .saturating_mul(to.len() - from.len());
                env.check_len(s.len().saturating_add(grows))?;
            }
            string(s.replace(from, to))
        }
        StrFn::Trim | StrFn::TrimStart | StrFn::TrimEnd => {
            let s = s_arg(args, 0)?;
            let mut set = Vec::new();
            for a in &args[1..] {
                match a {
                    Value::Char(c) => set.push(*c),
                    Value::Array(cs) => set.extend(cs.iter().filter_map(|c| match c {
                        Value::Char(c) => Some(*c),
                        _ => None,
                    })),
                    _ => {}
                }
            }
            // .NET's Trim(null or empty char[]) trims white space, like Trim().
            let strip = |c: char| {
                if set.is_empty() {
                    c.is_whitespace()
                } else {
                    set.contains(&c)
                }
            };
            string(match f {
                StrFn::Trim => s.trim_matches(strip),
                StrFn::TrimStart => s.trim_start_matches(strip),
                _ => s.trim_end_matches(strip),
            })
        }
        StrFn::Insert | StrFn::Remove => {
            let s = s_arg(args, 0)?;
            let at = i_arg(args, 1)?;
            let (end, text) = if f == StrFn::Insert {
                (Some(at), s_arg(args, 2)?)
            } else if args.len() > 2 {
                (Some(at.saturating_add(i_arg(args, 2)?)), "")
            } else {
                (None, "")
            };
            env.check_len(s.len() + text.len())?;
            match splice_utf16(s, at, end, text) {
                Some(out) => string(out.as_str()),
                None => {
                    return fail(
                        EvalErrorKind::OutOfRange,
                        "Index and count must refer to a location within the string.",
                    )
                }
            }
        }
        StrFn::ToCharArray => {
            let s = s_arg(args, 0)?;
            env.check_len(s.len() * 16)?;
            Value::Array(s.chars().map(Value::Char).collect())
        }
        StrFn::Split => {
            let s = s_arg(args, 0)?;
            let mut seps: Vec<String> = Vec::new();
            let mut options = 0;
            for a in &args[1..] {
                match a {
                    Value::Str(x) => seps.push(x.to_string()),
                    Value::Array(xs) => seps.extend(xs.iter().map(Value::to_dotnet_string)),
                    // StringSplitOptions, negated by the checker (0 stays 0: None).
                    Value::Int(o) => options = -o,
                    _ => {}
                }
            }
            if options != 0 {
                let parts = split_any(s, &seps).into_iter().map(|p| {
                    if options & 2 != 0 {
                        p.trim()
                    } else {
                        p
                    }
                });
                return Ok(Value::Array(
                    parts
                        .filter(|p| options & 1 == 0 || !p.is_empty())
                        .map(Value::str)
                        .collect::<Vec<_>>()
                        .into(),
                ));
            }
            if args.len() == 1 {
                // Used for LINQ over a string's characters.
                return Ok(Value::Array(
                    s.chars().map(Value::Char).collect::<Vec<_>>().into(),
                ));
            }
            Value::Array(
                split_any(s, &seps)
                    .into_iter()
                    .map(Value::str)
                    .collect::<Vec<_>>()
                    .into(),
            )
        }
        StrFn::Substring => {
            let s = s_arg(args, 0)?;
            let units: Vec<u16> = s.encode_utf16().collect();
            let start = i_arg(args, 1)?;
            let len = if args.len() > 2 {
                i_arg(args, 2)?
            } else {
                units.len() as i64 - start
            };
            if start < 0 || len < 0 || start + len > units.len() as i64 {
                return fail(
                    EvalErrorKind::OutOfRange,
                    "Index and length must refer to a location within the string.",
                );
            }
            string(String::from_utf16_lossy(
                &units[start as usize..(start + len) as usize],
            ))
        }
        StrFn::IndexOfAny(last) => {
            let s = s_arg(args, 0)?;
            let Value::Array(chars) = arg(args, 1) else {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'anyOf')",
                );
            };
            let any: Vec<char> = chars
                .iter()
                .filter_map(|c| match c {
                    Value::Char(c) => Some(*c),
                    _ => None,
                })
                .collect();
            let hit = |c: char| any.contains(&c);
            let at = if last { s.rfind(hit) } else { s.find(hit) };
            // .NET counts UTF-16 units.
            Value::Int(at.map_or(-1, |i| s[..i].encode_utf16().count() as i64))
        }
        StrFn::IndexOf | StrFn::LastIndexOf => {
            let s = s_arg(args, 0)?;
            let n = s_arg(args, 1)?;
            let at = if f == StrFn::IndexOf {
                s.find(n)
            } else {
                s.rfind(n)
            };
            // .NET counts UTF-16 units.
            Value::Int(at.map_or(-1, |i| s[..i].encode_utf16().count() as i64))
        }
        StrFn::CharAt => {
            let s = s_arg(args, 0)?;
            let i = i_arg(args, 1)?;
            let units: Vec<u16> = s.encode_utf16().collect();
            match usize::try_from(i).ok().and_then(|i| units.get(i)) {
                Some(&u) => Value::Char(char::from_u32(u as u32).unwrap_or('\u{FFFD}')),
                None => {
                    return fail(
                        EvalErrorKind::OutOfRange,
                        "Index was outside the bounds of the array.",
                    )
                }
            }
        }
        StrFn::PadLeft | StrFn::PadRight => {
            let s = s_arg(args, 0)?;
            let width = i_arg(args, 1)?;
            if width < 0 {
                return fail(
                    EvalErrorKind::OutOfRange,
                    "Non-negative number required. (Parameter 'totalWidth')",
                );
            }
            // Refused before it is built when it would pass the string budget.
            env.check_len(usize::try_from(width).unwrap_or(usize::MAX))?;
            let width = width as usize;
            let c = match arg(args, 2) {
                Value::Char(c) => *c,
                _ => ' ',
            };
            let n = s.encode_utf16().count();
            let pad: String = std::iter::repeat_n(c, width.saturating_sub(n)).collect();
            string(if f == StrFn::PadLeft {
                pad + s
            } else {
                s.to_string() + &pad
            })
        }
        StrFn::IsNullOrEmpty => Value::Bool(opt_s(args, 0).is_none_or(str::is_empty)),
        StrFn::IsNullOrWhiteSpace => {
            Value::Bool(opt_s(args, 0).is_none_or(|s| s.trim().is_empty()))
        }
        StrFn::Join => {
            let sep = s_arg(args, 0)?;
            let items: Vec<String> = match &args[1..] {
                [Value::Array(a)] => a.iter().map(Value::to_dotnet_string).collect(),
                rest => rest.iter().map(Value::to_dotnet_string).collect(),
            };
            let total = items.iter().map(|i| i.len() + sep.len()).sum::<usize>();
            env.check_len(total)?;
            string(items.join(sep))
        }
        // `String.Concat(sequence)` is its items', as .NET's `Concat(IEnumerable<T>)`.
        StrFn::Concat => match args {
            [Value::Array(items)] => {
                let text: String = items.iter().map(Value::to_dotnet_string).collect();
                env.check_len(text.len())?;
                string(text)
            }
            _ => string(args.iter().map(Value::to_dotnet_string).collect::<String>()),
        },
        StrFn::Format => string(dotnet_format(s_arg(args, 0)?, &args[1..])?),
    })
}

fn split_any<'a>(s: &'a str, seps: &[String]) -> Vec<&'a str> {
    let seps: Vec<&str> = seps
        .iter()
        .map(String::as_str)
        .filter(|x| !x.is_empty())
        .collect();
    if seps.is_empty() {
        return s.split(char::is_whitespace).collect();
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        if let Some(sep) = seps.iter().find(|sep| s[i..].starts_with(**sep)) {
            out.push(&s[start..i]);
            i += sep.len();
            start = i;
        } else {
            i += s[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_semantics_and_statics() {
        use crate::expr::testing::s;
        assert_eq!(s("@(\"h\\u00e9llo\".Length)"), "5");
        assert_eq!(s("@(\"abc\".Substring(1, 1))"), "b");
        assert!(s("@(\"abc\".Substring(2, 5))").contains("within the string"));
        assert_eq!(s("@(String.IsNullOrEmpty(null))"), "True");
        assert_eq!(s("@(String.Format(\"{0:D2}\", 7))"), "07");
        assert!(s("@(\"a\".Replace(\"\", \"b\"))").contains("zero length"));
    }

    /// `String.Compare` under each comparison, `CompareOrdinal`, `CompareTo`, `StringComparer`,
    /// and `Normalize`/`IsNormalized`.
    #[test]
    fn comparisons_and_normalization() {
        use crate::expr::testing::{assert_refused, failure, s};
        for (expr, want) in [
            (r#"@(String.Compare("a", "B"))"#, "-1"),
            (r#"@(String.Compare("a", "B", StringComparison.Ordinal))"#, "1"),
            (r#"@(String.CompareOrdinal("a", "B"))"#, "1"),
            (r#"@(String.Compare("abc", "ABC", true))"#, "0"),
            (r#"@(String.Compare("abc", "ABC", false))"#, "-1"),
            (r#"@(String.Compare("abc", "ABD", StringComparison.OrdinalIgnoreCase))"#, "-1"),
            (r#"@(String.Compare(null, "a"))"#, "-1"),
            (r#"@("b".CompareTo("a"))"#, "1"),
            (r#"@("b".CompareTo(null))"#, "1"),
            (r#"@(StringComparer.OrdinalIgnoreCase.Equals("Ab", "aB"))"#, "True"),
            (r#"@(StringComparer.Ordinal.Equals("Ab", "aB"))"#, "False"),
            (r#"@(StringComparer.Ordinal.Compare("a", "b"))"#, "-1"),
            (r#"@(new [] {"b", "a", "C"}.OrderBy(x => x).First())"#, "a"),
            ("@(\"e\\u0301\".Normalize() == \"\\u00e9\")", "True"),
            ("@(\"\\u00e9\".Normalize(NormalizationForm.FormD).Length)", "2"),
            ("@(\"\\u00e9\".IsNormalized() + \"/\" + \"\\u00e9\".IsNormalized(NormalizationForm.FormD))", "True/False"),
            ("@(\"\\ufb01\".Normalize(NormalizationForm.FormKC))", "fi"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_eq!(
            failure(r#"@(String.Compare("a", "b", (StringComparison)9))"#),
            Some(crate::expr::env::EvalErrorKind::Argument)
        );
        assert_eq!(
            failure(r#"@("x".Normalize((NormalizationForm)3))"#),
            Some(crate::expr::env::EvalErrorKind::Argument)
        );
        assert_refused(
            r#"@(String.Compare("a", "b", 1))"#,
            "takes two strings and ignoreCase or a StringComparison",
        );
        assert_refused(
            r#"@(String.CompareOrdinal("a", "b", true))"#,
            "takes two strings",
        );
        assert_refused(
            r#"@(String.Compare("a", 0, "b", 0, 1))"#,
            "is not supported by certgate",
        );
        assert_refused(
            r#"@(StringComparer.Ordinal.GetHashCode("a"))"#,
            "GetHashCode",
        );
    }

    /// Trimming given characters, and editing by UTF-16 index with .NET's range failures.
    #[test]
    fn trim_chars_insert_remove() {
        use crate::expr::testing::{failure, s};
        assert_eq!(s("@(\"-+x+-\".Trim('-', '+'))"), "x");
        assert_eq!(s("@(\"xx--\".TrimEnd(new [] {'-'}))"), "xx");
        assert_eq!(s("@(\"\\u00e9\\u00e9a\".Remove(1, 1))"), "\u{e9}a");
        assert_eq!(s("@(\"ab\".Insert(2, \"c\"))"), "abc");
        assert_eq!(s("@(\"a😀b\".LastIndexOf(\"b\"))"), "3");
        assert_eq!(s("@(\"abc\".ToCharArray().Last())"), "c");
        for expr in [
            "@(\"ab\".Insert(3, \"c\"))",
            "@(\"ab\".Remove(-1))",
            "@(\"ab\".Remove(1, 2))",
        ] {
            assert_eq!(failure(expr), Some(EvalErrorKind::OutOfRange), "{expr}");
        }
        assert!(s("@(\"x\".Trim(\"x\"))").contains("characters to remove"));
    }

    #[test]
    fn split() {
        assert_eq!(
            split_any("a,b;;c", &[",".into(), ";".into()]),
            vec!["a", "b", "", "c"]
        );
    }

    #[test]
    fn split_options_remove_and_trim_entries_as_dotnet_does() {
        use crate::expr::testing::{assert_refused, s};
        for (expr, want) in [
            ("@(\"a,,b\".Split(new [] {','}, StringSplitOptions.RemoveEmptyEntries).Length)", "2"),
            ("@(\"a,,b\".Split(',', StringSplitOptions.None).Length)", "3"),
            ("@(\"héllo, world\".IndexOfAny(new [] {',', 'o'}))", "4"),
            ("@(\"hello, world\".LastIndexOfAny(new [] {',', 'o'}))", "8"),
            ("@(\"abc\".IndexOfAny(new [] {'x'}))", "-1"),
            ("@(String.Join(\"|\", \" a , ,b \".Split(',', StringSplitOptions.TrimEntries)))", "a||b"),
            ("@(String.Join(\"|\", \" a , ,b \".Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))", "a|b"),
            ("@(String.Join(\"|\", \"a; b;;c\".Split(new [] {\"; \", \";\"}, StringSplitOptions.RemoveEmptyEntries)))", "a|b|c"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_refused(
            "@(\"a,b,c\".Split(',', 2))",
            "with a count is not supported by certgate",
        );
    }
}
