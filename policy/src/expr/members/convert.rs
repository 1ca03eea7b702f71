//! Conversions and the small static classes: `ToString()`/`ToString(format)` on any value,
//! casts, `Convert.*`, `Encoding.UTF8`, `WebUtility`, `JsonConvert.SerializeObject`,
//! `Guid.NewGuid`, `Math`, and `Parse` on the keyword types (`int.Parse`, `bool.Parse`, ...).
//! Checker bindings and evaluator in one file.

use std::sync::Arc;

use base64::Engine;

use super::format::format_value;
use crate::expr::ast::{BinOp, Expr};
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{EnumValue, Handle, Obj, Value};

fn conv(b: &dyn Binder, f: ConvertFn, args: Vec<Ir>) -> Ir {
    b.fold(Ir::Call(Builtin::Convert(f), args))
}

/// `x.ToString()` and `x.ToString(format)`, which every value has.
pub(crate) fn to_string(
    b: &mut dyn Binder,
    recv: Ir,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    if args.is_empty() {
        return Ok((conv(b, ConvertFn::ToStringDyn, vec![recv]), Ty::Str));
    }
    let a = b.args("ToString", args, &[Ty::Str], 1, off)?;
    Ok((
        conv(b, ConvertFn::ToStringFormat, with_recv(recv, a)),
        Ty::Str,
    ))
}

/// `x.HasValue`, `x.Value` on a value type read as `Nullable<T>` (a JWT's `ExpirationTime`, a
/// variable read with `GetValueOrDefault<int?>`); `None` for other members.
pub(crate) fn nullable_member(recv: &Ir, rty: &Ty, name: &str) -> Option<(Ir, Ty)> {
    if !matches!(
        rty,
        Ty::Int | Ty::Double | Ty::Bool | Ty::Char | Ty::DateTime | Ty::TimeSpan
    ) {
        return None;
    }
    match name {
        "HasValue" => Some((
            Ir::Binary(
                BinOp::Ne,
                Box::new(recv.clone()),
                Box::new(Ir::Const(Value::Null)),
            ),
            Ty::Bool,
        )),
        "Value" => Some((
            Ir::Call(
                Builtin::Convert(ConvertFn::NullableValue),
                vec![recv.clone()],
            ),
            rty.clone(),
        )),
        _ => None,
    }
}

/// `Encoding.UTF8` (and `ASCII`, `Default`, which policies use for UTF-8 too).
pub(crate) fn static_member(s: Static, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match (s, name) {
        (Static::Encoding, e) => {
            let enc = match e {
                "UTF8" | "Default" => TextEncoding::Utf8,
                "ASCII" => TextEncoding::Ascii,
                "Unicode" => TextEncoding::Unicode,
                "BigEndianUnicode" => TextEncoding::BigEndianUnicode,
                "UTF32" => TextEncoding::Utf32,
                "Latin1" => TextEncoding::Latin1,
                _ => return unknown_member(&Ty::Static(s), name, off),
            };
            Ok((Ir::Const(Value::Null), Ty::Static(Static::Encoder(enc))))
        }
        (Static::Guid, "Empty") => Ok((Ir::Const(Value::str(GUID_EMPTY)), Ty::Str)),
        (Static::Math, "PI") => Ok((Ir::Const(Value::Double(std::f64::consts::PI)), Ty::Double)),
        (Static::Math, "E") => Ok((Ir::Const(Value::Double(std::f64::consts::E)), Ty::Double)),
        (Static::Int32, "MaxValue") => Ok((Ir::Const(Value::Int(i32::MAX.into())), Ty::Int)),
        (Static::Int32, "MinValue") => Ok((Ir::Const(Value::Int(i32::MIN.into())), Ty::Int)),
        (Static::Int64, "MaxValue") => Ok((Ir::Const(Value::Int(i64::MAX)), Ty::Int)),
        (Static::Int64, "MinValue") => Ok((Ir::Const(Value::Int(i64::MIN)), Ty::Int)),
        _ => unknown_member(&Ty::Static(s), name, off),
    }
}

/// `Convert.*`, `WebUtility.*`, `Encoding.UTF8.*`, `JsonConvert.SerializeObject`,
/// `Guid.NewGuid`, `Math.*`.
pub(crate) fn static_method(
    b: &mut dyn Binder,
    s: Static,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let (f, params, ty): (ConvertFn, &[Ty], Ty) = match (s, m) {
        (Static::Convert, "FromBase64String") => (ConvertFn::FromBase64, &[Ty::Str], Ty::Bytes),
        (Static::Convert, "ToBase64String") => (ConvertFn::ToBase64, &[Ty::Bytes], Ty::Str),
        (Static::Convert, m) if int_range(m).is_some() => {
            let r = int_range(m).unwrap_or(INT64);
            (ConvertFn::ToInteger(r), &[Ty::Object], Ty::Int)
        }
        (Static::Convert, "ToDouble") => (ConvertFn::ToDouble, &[Ty::Object], Ty::Double),
        (Static::Convert, "ToBoolean") => (ConvertFn::ToBoolean, &[Ty::Object], Ty::Bool),
        (Static::Convert, "ToString") => (ConvertFn::ToStringDyn, &[Ty::Object], Ty::Str),
        (Static::WebUtility, "UrlDecode") => (ConvertFn::UrlDecode, &[Ty::Str], Ty::Str),
        (Static::WebUtility, "UrlEncode") => (ConvertFn::UrlEncode, &[Ty::Str], Ty::Str),
        (Static::WebUtility, "HtmlEncode") => (ConvertFn::HtmlEncode, &[Ty::Str], Ty::Str),
        (Static::WebUtility, "HtmlDecode") => (ConvertFn::HtmlDecode, &[Ty::Str], Ty::Str),
        (Static::Uri, "EscapeDataString") => (ConvertFn::EscapeDataString, &[Ty::Str], Ty::Str),
        (Static::Uri, "UnescapeDataString") => (ConvertFn::UnescapeDataString, &[Ty::Str], Ty::Str),
        (Static::Encoder(e), "GetBytes") => (ConvertFn::GetBytes(e), &[Ty::Str], Ty::Bytes),
        (Static::Encoder(e), "GetString") => (ConvertFn::GetString(e), &[Ty::Bytes], Ty::Str),
        (Static::BitConverter, "ToString") => {
            (ConvertFn::BitConverterToString, &[Ty::Bytes], Ty::Str)
        }
        (Static::Convert, "ToHexString") => (ConvertFn::ToHexString, &[Ty::Bytes], Ty::Str),
        (Static::Convert, "FromHexString") => (ConvertFn::FromHexString, &[Ty::Str], Ty::Bytes),
        (Static::Guid, "NewGuid") => (ConvertFn::NewGuid, &[], Ty::Str),
        (Static::Guid, "Parse") => (ConvertFn::GuidParse, &[Ty::Str], Ty::Str),
        (Static::Guid, "TryParse") => {
            return input_and_out(
                b,
                m,
                args,
                &Ty::Str,
                &Ty::Str,
                Value::str(GUID_EMPTY),
                TEXT_AND_RESULT,
                |text| Ir::Call(Builtin::Convert(ConvertFn::GuidTryParse), vec![text]),
                off,
            )
        }
        (Static::Int32, "Parse") => (ConvertFn::ParseInt32, &[Ty::Str], Ty::Int),
        (Static::Int64, "Parse") => (ConvertFn::ParseInt64, &[Ty::Str], Ty::Int),
        (Static::Double, "Parse") => (ConvertFn::ParseDouble, &[Ty::Str], Ty::Double),
        (Static::Boolean, "Parse") => (ConvertFn::ParseBool, &[Ty::Str], Ty::Bool),
        (Static::Int32, "TryParse") => {
            return try_parse(b, ConvertFn::TryParseInt32, Ty::Int, args, off)
        }
        (Static::Int64, "TryParse") => {
            return try_parse(b, ConvertFn::TryParseInt64, Ty::Int, args, off)
        }
        (Static::Double, "TryParse") => {
            return try_parse(b, ConvertFn::TryParseDouble, Ty::Double, args, off)
        }
        (Static::Boolean, "TryParse") => {
            return try_parse(b, ConvertFn::TryParseBool, Ty::Bool, args, off)
        }
        (Static::JsonConvert, "SerializeObject") => return serialize(b, args, off),
        (Static::Math, "Max" | "Min" | "Abs") => return math(b, m, args, off),
        (Static::Math, "Floor") => (ConvertFn::Floor, &[Ty::Double], Ty::Double),
        (Static::Math, "Sign") => (ConvertFn::Sign, &[Ty::Double], Ty::Int),
        (Static::Char, "ToUpper" | "ToUpperInvariant") => {
            (ConvertFn::CharUpper, &[Ty::Char], Ty::Char)
        }
        (Static::Char, "ToLower" | "ToLowerInvariant") => {
            (ConvertFn::CharLower, &[Ty::Char], Ty::Char)
        }
        (Static::Char, class) => {
            let c = match class {
                "IsDigit" => CharClass::Digit,
                "IsLetter" => CharClass::Letter,
                "IsLetterOrDigit" => CharClass::LetterOrDigit,
                "IsWhiteSpace" => CharClass::WhiteSpace,
                "IsUpper" => CharClass::Upper,
                "IsLower" => CharClass::Lower,
                "IsPunctuation" => CharClass::Punctuation,
                "IsNumber" => CharClass::Number,
                "IsControl" => CharClass::Control,
                _ => return unknown_member(&Ty::Static(s), m, off),
            };
            (ConvertFn::CharIs(c), &[Ty::Char], Ty::Bool)
        }
        (Static::Math, "Ceiling") => (ConvertFn::Ceiling, &[Ty::Double], Ty::Double),
        (Static::Math, "Truncate") => (ConvertFn::Truncate, &[Ty::Double], Ty::Double),
        (Static::Math, "Sqrt") => (ConvertFn::Sqrt, &[Ty::Double], Ty::Double),
        (Static::Math, "Log") => (ConvertFn::Log, &[Ty::Double], Ty::Double),
        (Static::Math, "Log10") => (ConvertFn::Log10, &[Ty::Double], Ty::Double),
        (Static::Math, "Pow") => (ConvertFn::Pow, &[Ty::Double, Ty::Double], Ty::Double),
        (Static::Math, "Round") => {
            // Round(x[, digits][, mode]): to even at the midpoint unless a MidpointRounding
            // says otherwise. The IR's arguments are always x, digits, mode.
            let mode = Ty::Enum(crate::dotnet::EnumType::MidpointRounding);
            let second_is_mode = match args {
                [_, second] => b.expr(second)?.1 == mode,
                _ => false,
            };
            let params = if second_is_mode {
                vec![Ty::Double, mode]
            } else {
                vec![Ty::Double, Ty::Int, mode]
            };
            let mut a = b.args(m, args, &params, 1, off)?;
            if params.len() == 2 && a.len() == 2 {
                a.insert(1, Ir::Const(Value::Int(0)));
            }
            return Ok((conv(b, ConvertFn::Round, a), Ty::Double));
        }
        _ => return unknown_member(&Ty::Static(s), m, off),
    };
    let a = b.args(m, args, params, params.len(), off)?;
    Ok((conv(b, f, a), ty))
}

/// `int.TryParse(s, out n)` (and long, double, bool): true and `n` the value when `s` parses as
/// `Parse` would take it; false and `n` the type's default (0, false) otherwise, never a failure.
fn try_parse(
    b: &mut dyn Binder,
    f: ConvertFn,
    ty: Ty,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let default = match ty {
        Ty::Bool => Value::Bool(false),
        Ty::Double => Value::Double(0.0),
        _ => Value::Int(0),
    };
    input_and_out(
        b,
        "TryParse",
        args,
        &Ty::Str,
        &ty,
        default,
        TEXT_AND_RESULT,
        |s| Ir::Call(Builtin::Convert(f), vec![s]),
        off,
    )
}

/// The arguments of `TryParse`, for its arity error.
pub(crate) const TEXT_AND_RESULT: &str = "the text and 'out var result'";

/// `Guid.Empty`, as `Guid.ToString()` writes it.
const GUID_EMPTY: &str = "00000000-0000-0000-0000-000000000000";

fn serialize(b: &mut dyn Binder, args: &[Expr], off: usize) -> CheckResult<(Ir, Ty)> {
    let [a] = args else {
        return type_err(off, "'SerializeObject' takes 1 argument");
    };
    let (ir, ty) = b.expr(a)?;
    // LastError serialises as its fields.
    let ir = match ty {
        Ty::Handle(Handle::LastError) => Ir::Const(Value::Handle(Handle::LastError)),
        Ty::Handle(_) | Ty::Static(_) | Ty::Namespace(_) => {
            return type_err(a.offset, format!("'{ty}' cannot be serialised"))
        }
        _ => ir,
    };
    Ok((
        Ir::Call(Builtin::Convert(ConvertFn::JsonSerialize), vec![ir]),
        Ty::Str,
    ))
}

/// `int.Parse`, `long.Parse`, `double.Parse`, `bool.Parse` as .NET does them: white space
/// around the text is allowed, a null is an `ArgumentNullException`, text that is not a number
/// a `FormatException`, an `int` outside `Int32` an `OverflowException`.
fn parse(f: ConvertFn, args: &[Value]) -> EvalResult<Value> {
    let Some(s) = opt_s(args, 0) else {
        return fail(
            EvalErrorKind::Argument,
            "Value cannot be null. (Parameter 's')",
        );
    };
    let t = s.trim();
    let bad = || {
        EvalError::new(
            EvalErrorKind::Format,
            format!("The input string '{s}' was not in a correct format."),
        )
    };
    Ok(match f {
        ConvertFn::ParseBool => match t {
            _ if t.eq_ignore_ascii_case("true") => Value::Bool(true),
            _ if t.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => {
                return fail(
                    EvalErrorKind::Format,
                    format!("String '{s}' was not recognized as a valid Boolean."),
                )
            }
        },
        ConvertFn::ParseDouble => Value::Double(t.parse().map_err(|_| bad())?),
        _ => {
            let r = if f == ConvertFn::ParseInt32 {
                INT32
            } else {
                INT64
            };
            match integer_text(t, r) {
                Ok(i) => Value::Int(i),
                Err(IntText::Format) => return Err(bad()),
                Err(IntText::Overflow) => return Err(r.overflow()),
            }
        }
    })
}

/// `Math.Max/Min/Abs`: `int` unless an argument is a `double`.
fn math(b: &mut dyn Binder, m: &str, args: &[Expr], off: usize) -> CheckResult<(Ir, Ty)> {
    let f = match m {
        "Max" => ConvertFn::Max,
        "Min" => ConvertFn::Min,
        _ => ConvertFn::Abs,
    };
    let n = if m == "Abs" { 1 } else { 2 };
    let mut ty = Ty::Int;
    let mut checked = Vec::new();
    for a in args {
        let (ir, t) = b.expr(a)?;
        if !matches!(t, Ty::Int | Ty::Double) {
            return type_err(a.offset, format!("'Math.{m}' needs numbers, not '{t}'"));
        }
        if t == Ty::Double {
            ty = Ty::Double;
        }
        checked.push((ir, t, a.offset));
    }
    if checked.len() != n {
        return type_err(off, format!("'Math.{m}' takes {n} argument(s)"));
    }
    let mut irs = Vec::new();
    for (ir, t, o) in checked {
        irs.push(b.convert(ir, &t, &ty, o)?);
    }
    Ok((conv(b, f, irs), ty))
}

/// The full name `typeof(T)` gives a type (`System.String`, `Newtonsoft.Json.Linq.JObject`);
/// `None` for the generic collections, whose .NET names carry their arguments' assemblies.
pub(crate) fn type_full_name(ty: &Ty) -> Option<String> {
    Some(match ty {
        Ty::Object => "System.Object".into(),
        Ty::Int => "System.Int32".into(),
        Ty::Char => "System.Char".into(),
        Ty::Bytes => "System.Byte[]".into(),
        Ty::Enum(e) => e.full_name().into(),
        Ty::Obj(ObjKind::Json(k)) => format!("Newtonsoft.Json.Linq.{}", k.class()),
        Ty::Obj(ObjKind::Type) => "System.Type".into(),
        Ty::Obj(ObjKind::Hasher) => "System.Security.Cryptography.HashAlgorithm".into(),
        Ty::Cert => "System.Security.Cryptography.X509Certificates.X509Certificate2".into(),
        Ty::Array(e) => format!("{}[]", type_full_name(e)?),
        Ty::List(_) | Ty::Dict(..) | Ty::Set(_) | Ty::Group(..) | Ty::Pair(..) => return None,
        t => dotnet_name(t)?.into(),
    })
}

/// `Type.Name`, `FullName`, `Namespace` (of what `GetType()` gives).
pub(crate) fn type_member(recv: Ir, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let part = match name {
        "Name" => 0,
        "FullName" => 1,
        "Namespace" => 2,
        _ => return unknown_member(&Ty::Obj(ObjKind::Type), name, off),
    };
    Ok((
        Ir::Call(Builtin::Convert(ConvertFn::TypePart(part)), vec![recv]),
        Ty::Str,
    ))
}

pub(crate) fn eval(
    f: ConvertFn,
    args: &[Value],
    arg_irs: &[Ir],
    env: &mut Env,
) -> EvalResult<Value> {
    let ctx = env.ctx;
    Ok(match f {
        ConvertFn::GetType => match arg(args, 0) {
            Value::Null => return fail(EvalErrorKind::NullReference, NULL_REF),
            v => Value::str(&v.dotnet_type_full_name()),
        },
        ConvertFn::TypePart(part) => {
            let full = s_arg(args, 0)?;
            let (ns, name) = full.rsplit_once('.').unwrap_or(("", full));
            Value::str(match part {
                0 => name,
                1 => full,
                _ => ns,
            })
        }
        ConvertFn::FromBase64 => {
            let s = s_arg(args, 0)?;
            let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            match base64::engine::general_purpose::STANDARD.decode(clean.as_bytes()) {
                Ok(b) => Value::Bytes(b.into()),
                Err(_) => return fail(EvalErrorKind::Format, "The input is not a valid Base-64 string as it contains a non-base 64 character, more than two padding characters, or an illegal character among the padding characters."),
            }
        }
        ConvertFn::ToBase64 => match arg(args, 0) {
            Value::Bytes(b) => string(base64::engine::general_purpose::STANDARD.encode(b)),
            _ => {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'inArray')",
                )
            }
        },
        ConvertFn::ToChar => {
            let n = match arg(args, 0) {
                Value::Int(i) => *i,
                Value::Double(d) => *d as i64,
                _ => return fail(EvalErrorKind::NullReference, NULL_REF),
            };
            // A lone surrogate has no `char` here: U+FFFD stands for it.
            Value::Char(char::from_u32((n as u64 & 0xFFFF) as u32).unwrap_or('\u{FFFD}'))
        }
        ConvertFn::Narrow(bits, signed) => {
            let i = match arg(args, 0) {
                Value::Int(i) => *i,
                Value::Char(c) => i64::from(u32::from(*c)),
                // Truncated toward zero; NaN and out-of-range values are unspecified in C#
                // (0 here, as `as` gives for NaN).
                Value::Double(d) => *d as i64,
                Value::Null => return fail(EvalErrorKind::NullReference, NULL_REF),
                v => {
                    return fail(
                        EvalErrorKind::InvalidCast,
                        format!(
                            "Unable to cast object of type '{}' to an integer.",
                            v.type_name()
                        ),
                    )
                }
            };
            let low = (i as u64) & ((1u64 << bits) - 1);
            Value::Int(if signed && low >> (bits - 1) == 1 {
                (low as i64) - (1i64 << bits)
            } else {
                low as i64
            })
        }
        ConvertFn::ToInteger(r) => {
            let overflow = || r.overflow();
            let i = match arg(args, 0) {
                Value::Null => 0,
                Value::Int(i) => *i,
                Value::Char(c) => i64::from(u32::from(*c)),
                // .NET rounds half to even ("banker's rounding").
                Value::Double(d) => {
                    let d = d.round_ties_even();
                    if !d.is_finite() || d < r.min as f64 || d > r.max as f64 {
                        return Err(overflow());
                    }
                    d as i64
                }
                Value::Bool(b) => *b as i64,
                Value::Str(s) => match integer_text(s.trim(), r) {
                    Ok(i) => i,
                    Err(IntText::Format) => {
                        return fail(
                            EvalErrorKind::Format,
                            "Input string was not in a correct format.",
                        )
                    }
                    Err(IntText::Overflow) => return Err(overflow()),
                },
                v => {
                    return fail(
                        EvalErrorKind::InvalidCast,
                        format!(
                            "Unable to cast object of type '{}' to type 'IConvertible'.",
                            v.type_name()
                        ),
                    )
                }
            };
            if i < r.min || i > r.max {
                return Err(overflow());
            }
            Value::Int(i)
        }
        ConvertFn::ToDouble => match arg(args, 0) {
            Value::Null => Value::Double(0.0),
            v => match num(v) {
                Some(d) => Value::Double(d),
                None => match v {
                    Value::Str(s) => Value::Double(s.trim().parse().map_err(|_| {
                        EvalError::new(
                            EvalErrorKind::Format,
                            "Input string was not in a correct format.",
                        )
                    })?),
                    _ => {
                        return fail(
                            EvalErrorKind::Format,
                            "Input string was not in a correct format.",
                        )
                    }
                },
            },
        },
        ConvertFn::ToBoolean => match arg(args, 0) {
            Value::Null => Value::Bool(false),
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(i) => Value::Bool(*i != 0),
            Value::Str(s) if s.trim().eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::Str(s) if s.trim().eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => {
                return fail(
                    EvalErrorKind::Format,
                    "String was not recognized as a valid Boolean.",
                )
            }
        },
        ConvertFn::ToStringDyn => match arg(args, 0) {
            Value::Null if !arg_irs.is_empty() && matches!(arg_irs[0], Ir::Const(Value::Null)) => {
                Value::str("")
            }
            Value::Null => return fail(EvalErrorKind::NullReference, NULL_REF),
            Value::Handle(Handle::Url | Handle::OriginalUrl) => {
                Value::str(&url_of(ctx, arg(args, 0)).to_url_string())
            }
            v @ Value::Str(_) => v.clone(),
            v => string(v.to_dotnet_string()),
        },
        ConvertFn::ToStringFormat => match arg(args, 0) {
            Value::Null => return fail(EvalErrorKind::NullReference, NULL_REF),
            v => string(format_value(v, opt_s(args, 1).unwrap_or(""))?),
        },
        ConvertFn::UrlDecode => match opt_s(args, 0) {
            None => Value::Null,
            Some(s) => string(
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned(),
            ),
        },
        ConvertFn::UrlEncode => match opt_s(args, 0) {
            None => Value::Null,
            Some(s) => string(url_encode(s)),
        },
        ConvertFn::NullableValue => match arg(args, 0) {
            Value::Null => {
                return fail(
                    EvalErrorKind::NullReference,
                    "Nullable object must have a value.",
                )
            }
            v => v.clone(),
        },
        ConvertFn::HtmlEncode => match opt_s(args, 0) {
            None => Value::Null,
            Some(s) => {
                env.check_len(s.len() * 6)?;
                string(html_encode(s))
            }
        },
        // Named (`&lt;`, `&eacute;`) and numeric (`&#39;`, `&#x27;`) references; what is not
        // a reference stays as written, as .NET leaves it. The table is html-escape's (HTML5's,
        // a superset of the HTML 4 list .NET decodes).
        ConvertFn::HtmlDecode => match opt_s(args, 0) {
            None => Value::Null,
            Some(s) => string(html_escape::decode_html_entities(s).into_owned()),
        },
        ConvertFn::EscapeDataString => {
            let Some(s) = opt_s(args, 0) else {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'stringToEscape')",
                );
            };
            env.check_len(s.len() * 3)?;
            string(percent_encoding::utf8_percent_encode(s, URI_UNRESERVED).to_string())
        }
        ConvertFn::UnescapeDataString => {
            let Some(s) = opt_s(args, 0) else {
                return fail(
                    EvalErrorKind::Argument,
                    "Value cannot be null. (Parameter 'stringToUnescape')",
                );
            };
            string(unescape_data_string(s))
        }
        ConvertFn::GetBytes(e) => {
            let s = s_arg(args, 0)?;
            env.check_len(s.len().saturating_mul(4))?;
            Value::Bytes(encode(e, s).into())
        }
        ConvertFn::GetString(e) => string(decode(e, &bytes_of(args, 0, "bytes")?)),
        ConvertFn::BitConverterToString | ConvertFn::ToHexString => {
            let b = bytes_of(args, 0, "value")?;
            env.check_len(b.len().saturating_mul(3))?;
            let sep = if f == ConvertFn::BitConverterToString {
                "-"
            } else {
                ""
            };
            string(
                b.iter()
                    .map(|x| format!("{x:02X}"))
                    .collect::<Vec<_>>()
                    .join(sep),
            )
        }
        ConvertFn::FromHexString => {
            let s = s_arg(args, 0)?;
            let bad = || {
                EvalError::new(
                    EvalErrorKind::Format,
                    "The input is not a valid hex string as it contains a non-hex character or an odd number of characters.",
                )
            };
            if s.len() % 2 != 0 {
                return Err(bad());
            }
            let mut out = Vec::with_capacity(s.len() / 2);
            for pair in s.as_bytes().chunks(2) {
                let hex = std::str::from_utf8(pair).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            }
            Value::Bytes(out.into())
        }
        ConvertFn::JsonSerialize => match arg(args, 0) {
            Value::Handle(Handle::LastError) => match &ctx.state().last_error {
                Some(e) => string(e.to_json().to_string()),
                None => Value::str("null"),
            },
            v => string(v.to_json().to_string()),
        },
        ConvertFn::NewGuid => string(new_guid()),
        ConvertFn::GuidParse | ConvertFn::GuidTryParse => match opt_s(args, 0).and_then(parse_guid)
        {
            Some(g) => string(g),
            None if f == ConvertFn::GuidTryParse => Value::Null,
            None => return fail(EvalErrorKind::Format, "Unrecognized Guid format."),
        },
        ConvertFn::ParseInt32
        | ConvertFn::ParseInt64
        | ConvertFn::ParseDouble
        | ConvertFn::ParseBool => parse(f, args)?,
        ConvertFn::TryParseInt32 => parse(ConvertFn::ParseInt32, args).unwrap_or(Value::Null),
        ConvertFn::TryParseInt64 => parse(ConvertFn::ParseInt64, args).unwrap_or(Value::Null),
        ConvertFn::TryParseDouble => parse(ConvertFn::ParseDouble, args).unwrap_or(Value::Null),
        ConvertFn::TryParseBool => parse(ConvertFn::ParseBool, args).unwrap_or(Value::Null),
        ConvertFn::Max | ConvertFn::Min => {
            let (x, y) = (arg(args, 0), arg(args, 1));
            match (x, y) {
                (Value::Int(a), Value::Int(c)) => Value::Int(pick_int(f == ConvertFn::Max, *a, *c)),
                _ => {
                    let (a, c) = (num(x).unwrap_or(0.0), num(y).unwrap_or(0.0));
                    Value::Double(if f == ConvertFn::Max {
                        a.max(c)
                    } else {
                        a.min(c)
                    })
                }
            }
        }
        ConvertFn::Floor => Value::Double(num(arg(args, 0)).unwrap_or(0.0).floor()),
        ConvertFn::Ceiling => Value::Double(num(arg(args, 0)).unwrap_or(0.0).ceil()),
        ConvertFn::Truncate => Value::Double(num(arg(args, 0)).unwrap_or(0.0).trunc()),
        ConvertFn::Sqrt => Value::Double(num(arg(args, 0)).unwrap_or(0.0).sqrt()),
        ConvertFn::Log => Value::Double(num(arg(args, 0)).unwrap_or(0.0).ln()),
        ConvertFn::Log10 => Value::Double(num(arg(args, 0)).unwrap_or(0.0).log10()),
        ConvertFn::Pow => Value::Double(
            num(arg(args, 0))
                .unwrap_or(0.0)
                .powf(num(arg(args, 1)).unwrap_or(0.0)),
        ),
        ConvertFn::Round => {
            let x = num(arg(args, 0)).unwrap_or(0.0);
            let round: fn(f64) -> f64 = match args.get(2) {
                None | Some(Value::Enum(EnumValue::Named(_, 0))) => f64::round_ties_even,
                Some(Value::Enum(EnumValue::Named(_, 1))) => f64::round,
                Some(Value::Enum(EnumValue::Named(_, 2))) => f64::trunc,
                Some(Value::Enum(EnumValue::Named(_, 3))) => f64::floor,
                Some(Value::Enum(EnumValue::Named(_, 4))) => f64::ceil,
                Some(v) => {
                    return fail(
                        EvalErrorKind::Argument,
                        format!(
                            "The value '{}' is not valid for this usage of the type \
                             MidpointRounding. (Parameter 'mode')",
                            v.to_dotnet_string()
                        ),
                    )
                }
            };
            match args.get(1) {
                None => Value::Double(round(x)),
                Some(d) => {
                    let d = num(d).unwrap_or(0.0);
                    if !(0.0..=15.0).contains(&d) {
                        return fail(
                            EvalErrorKind::OutOfRange,
                            "Rounding digits must be between 0 and 15, inclusive. (Parameter 'digits')",
                        );
                    }
                    // .NET leaves values of 1e16 and more as they are (no fraction left).
                    if x.abs() >= 1e16 {
                        return Ok(Value::Double(x));
                    }
                    let p = 10f64.powi(d as i32);
                    Value::Double(round(x * p) / p)
                }
            }
        }
        ConvertFn::Sign => match num(arg(args, 0)) {
            Some(x) if x.is_nan() => {
                return fail(
                    EvalErrorKind::Other,
                    "Function does not accept floating point Not-a-Number values.",
                )
            }
            Some(x) if x > 0.0 => Value::Int(1),
            Some(x) if x < 0.0 => Value::Int(-1),
            _ => Value::Int(0),
        },
        ConvertFn::CharIs(class) => {
            let Value::Char(c) = arg(args, 0) else {
                return Ok(Value::Bool(false));
            };
            let c = *c;
            // Unicode categories as std knows them; .NET's IsDigit is Nd only, so the other
            // numeric characters (superscripts, fractions) are left to IsNumber.
            let digit = c.is_ascii_digit()
                || (!c.is_ascii()
                    && c.is_numeric()
                    && !matches!(c, '\u{b2}' | '\u{b3}' | '\u{b9}' | '\u{bc}'..='\u{be}'));
            Value::Bool(match class {
                CharClass::Digit => digit,
                CharClass::Letter => c.is_alphabetic(),
                CharClass::LetterOrDigit => c.is_alphabetic() || digit,
                CharClass::WhiteSpace => c.is_whitespace(),
                CharClass::Upper => c.is_uppercase(),
                CharClass::Lower => c.is_lowercase(),
                CharClass::Punctuation => c.is_ascii_punctuation() && !"$+<=>^`|~".contains(c),
                CharClass::Number => c.is_numeric(),
                CharClass::Control => c.is_control(),
            })
        }
        ConvertFn::CharUpper | ConvertFn::CharLower => {
            let Value::Char(c) = arg(args, 0) else {
                return Ok(arg(args, 0).clone());
            };
            let mapped: Vec<char> = if matches!(f, ConvertFn::CharUpper) {
                c.to_uppercase().collect()
            } else {
                c.to_lowercase().collect()
            };
            // A char that maps to several (ß → SS) stays itself, as .NET's one-char mapping.
            match mapped[..] {
                [one] => Value::Char(one),
                _ => Value::Char(*c),
            }
        }
        ConvertFn::Abs => match arg(args, 0) {
            Value::Int(i) => Value::Int(i.checked_abs().ok_or_else(|| {
                EvalError::new(
                    EvalErrorKind::Overflow,
                    "Negating the minimum value of a twos complement number is invalid.",
                )
            })?),
            v => Value::Double(num(v).unwrap_or(0.0).abs()),
        },
    })
}

/// Converts a value to a type; `explicit` allows numeric narrowing like a C# cast.
pub(crate) fn cast(to: CastTo, v: Value, explicit: bool) -> EvalResult<Value> {
    let bad = |v: &Value| {
        EvalError::new(
            EvalErrorKind::InvalidCast,
            format!(
                "Unable to cast object of type '{}' to type '{to:?}'.",
                v.type_name()
            ),
        )
    };
    match (to, v) {
        (_, Value::Null) => Ok(Value::Null),
        (CastTo::Any, v) => Ok(v),
        (CastTo::Str, v @ Value::Str(_)) => Ok(v),
        (CastTo::Int, v @ Value::Int(_)) => Ok(v),
        (CastTo::Int, Value::Double(d)) if explicit => Ok(Value::Int(d as i64)),
        (CastTo::Int, Value::Char(c)) => Ok(Value::Int(c as i64)),
        (CastTo::Int, Value::Enum(crate::value::EnumValue::Named(_, n))) if explicit => {
            Ok(Value::Int(n))
        }
        (CastTo::Enum(t), v @ Value::Enum(crate::value::EnumValue::Named(of, _))) if of == t => {
            Ok(v)
        }
        // `(MidpointRounding)1`: any number is a value of the enum, named or not (as .NET).
        (CastTo::Enum(t), Value::Int(n)) if explicit => {
            Ok(Value::Enum(crate::value::EnumValue::Named(t, n)))
        }
        (CastTo::Double, Value::Double(d)) => Ok(Value::Double(d)),
        (CastTo::Double, Value::Int(i)) => Ok(Value::Double(i as f64)),
        (CastTo::Double, Value::Char(c)) => Ok(Value::Double(c as u32 as f64)),
        (CastTo::Bool, v @ Value::Bool(_)) => Ok(v),
        (CastTo::DateTime, v @ Value::DateTime(_)) => Ok(v),
        (CastTo::DateTimeOffset, v @ Value::DateTimeOffset(_)) => Ok(v),
        (CastTo::TimeSpan, v @ Value::TimeSpan(_)) => Ok(v),
        (CastTo::Bytes, v @ Value::Bytes(_)) => Ok(v),
        (CastTo::Bytes, Value::Array(a)) => {
            let bytes = a.iter().map(|x| match x {
                Value::Int(i) if (0..=255).contains(i) => Ok(*i as u8),
                other => Err(bad(other)),
            });
            Ok(Value::Bytes(bytes.collect::<EvalResult<Vec<u8>>>()?.into()))
        }
        (CastTo::Cert, v @ Value::Cert(_)) => Ok(v),
        (CastTo::StrArray, v @ Value::Array(_)) => Ok(v),
        // A List<string> or HashSet<string> seen through IEnumerable<string>: its items now.
        (CastTo::StrArray, Value::Obj(o)) if matches!(&*o, Obj::Collection(_)) => match &*o {
            Obj::Collection(c) => match &*c.lock().unwrap_or_else(|e| e.into_inner()) {
                crate::value::Collection::List(l) => Ok(Value::Array(l.clone().into())),
                crate::value::Collection::Set(l) => {
                    Ok(Value::Array(l.keys().cloned().collect::<Vec<_>>().into()))
                }
                crate::value::Collection::Queue(q) => {
                    Ok(Value::Array(q.iter().cloned().collect::<Vec<_>>().into()))
                }
                crate::value::Collection::Stack(s) => Ok(Value::Array(
                    s.iter().rev().cloned().collect::<Vec<_>>().into(),
                )),
                crate::value::Collection::Dict(_) => Err(bad(&Value::Obj(o.clone()))),
            },
            _ => Err(bad(&Value::Obj(o.clone()))),
        },
        (CastTo::Obj(k), Value::Obj(o)) if is_kind(&o, k) => Ok(Value::Obj(o)),
        // Hash names and RSA paddings are carried as their names.
        (
            CastTo::Obj(ObjKind::HashName | ObjKind::SignPadding | ObjKind::EncryptPadding),
            v @ Value::Str(_),
        ) => Ok(v),
        (CastTo::Shape(shape), v) if has_shape(&v, shape) => Ok(v),
        // The two bodies are both IMessageBody, the two URLs both IUrl.
        (CastTo::Handle(want), Value::Handle(h))
            if crate::expr::ir::handle_type_name(want) == crate::expr::ir::handle_type_name(h) =>
        {
            Ok(Value::Handle(h))
        }
        (_, v) => Err(bad(&v)),
    }
}

/// Whether `v` is a collection, pair or tuple of `shape` (for casts).
fn has_shape(v: &Value, shape: Shape) -> bool {
    use crate::value::Collection as C;
    match (v, shape) {
        (Value::Pair(_), Shape::Pair) => true,
        (Value::Obj(o), _) => match (&**o, shape) {
            (Obj::Tuple(items), Shape::Tuple(n)) => items.len() == usize::from(n),
            (Obj::Enumerator(_), Shape::Enumerator) => true,
            (Obj::Collection(c), _) => matches!(
                (&*c.lock().unwrap_or_else(|e| e.into_inner()), shape),
                (C::List(_), Shape::List)
                    | (C::Dict(_), Shape::Dict)
                    | (C::Set(_), Shape::Set)
                    | (C::Queue(_), Shape::Queue)
                    | (C::Stack(_), Shape::Stack)
            ),
            _ => false,
        },
        _ => false,
    }
}

/// Whether `o` is an object of kind `k` (for casts).
fn is_kind(o: &Obj, k: ObjKind) -> bool {
    if let (Obj::Json(t), ObjKind::Json(jk)) = (o, k) {
        return super::json::fits(t, jk);
    }
    if let (Obj::Xml(x), ObjKind::Xml(xk)) = (o, k) {
        return super::xml::fits(x, xk);
    }
    matches!(
        (o, k),
        (Obj::Basic(_), ObjKind::Basic)
            | (Obj::Jwt(_), ObjKind::Jwt)
            | (Obj::Regex(_), ObjKind::Regex)
            | (Obj::Match(_), ObjKind::Match)
            | (Obj::Group(_), ObjKind::Group)
            | (Obj::Hasher(..), ObjKind::Hasher)
            | (Obj::Response(_), ObjKind::Response)
            | (Obj::Rsa(_), ObjKind::Rsa)
            | (Obj::TimeZone(_), ObjKind::TimeZone)
            | (Obj::Symmetric(_), ObjKind::Symmetric)
    )
}

fn pick_int(max: bool, a: i64, b: i64) -> i64 {
    if max {
        a.max(b)
    } else {
        a.min(b)
    }
}

/// What `WebUtility.UrlEncode` keeps as is: letters, digits and `-_.!*()`.
const URL_KEPT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'*')
    .remove(b'(')
    .remove(b')');

/// `WebUtility.UrlEncode`: spaces as `+`, the rest of what it does not keep percent-encoded in
/// upper-case hex (`+` itself becomes `%2B`, so the replacement is unambiguous).
fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, URL_KEPT)
        .to_string()
        .replace("%20", "+")
}

/// A `byte[]` argument (an array literal of numbers is one too); `ArgumentNullException` for null.
pub(crate) fn bytes_of(args: &[Value], i: usize, param: &str) -> EvalResult<Arc<[u8]>> {
    match cast(CastTo::Bytes, arg(args, i).clone(), false)? {
        Value::Bytes(b) => Ok(b),
        _ => fail(
            EvalErrorKind::Argument,
            format!("Value cannot be null. (Parameter '{param}')"),
        ),
    }
}

/// `Encoding.X.GetBytes`: what .NET's encoders give, `?` for what an encoding cannot hold.
fn encode(e: TextEncoding, s: &str) -> Vec<u8> {
    match e {
        TextEncoding::Utf8 => s.as_bytes().to_vec(),
        TextEncoding::Ascii => s
            .chars()
            .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
            .collect(),
        TextEncoding::Latin1 => s
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect(),
        TextEncoding::Unicode => s.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        TextEncoding::BigEndianUnicode => s.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        TextEncoding::Utf32 => s.chars().flat_map(|c| u32::from(c).to_le_bytes()).collect(),
    }
}

/// `Encoding.X.GetString`: invalid sequences become U+FFFD (`?` for ASCII), as .NET decodes.
fn decode(e: TextEncoding, b: &[u8]) -> String {
    match e {
        TextEncoding::Utf8 => String::from_utf8_lossy(b).into_owned(),
        TextEncoding::Ascii => b
            .iter()
            .map(|&x| if x < 0x80 { x as char } else { '?' })
            .collect(),
        TextEncoding::Latin1 => b.iter().map(|&x| x as char).collect(),
        TextEncoding::Unicode | TextEncoding::BigEndianUnicode => {
            let units = b.chunks(2).map(|p| match (p, e) {
                ([l, h], TextEncoding::Unicode) => u16::from_le_bytes([*l, *h]),
                ([h, l], _) => u16::from_be_bytes([*h, *l]),
                _ => 0xFFFD,
            });
            char::decode_utf16(units)
                .map(|c| c.unwrap_or('\u{FFFD}'))
                .collect()
        }
        TextEncoding::Utf32 => b
            .chunks(4)
            .map(|p| match p {
                [a, b2, c, d] => {
                    char::from_u32(u32::from_le_bytes([*a, *b2, *c, *d])).unwrap_or('\u{FFFD}')
                }
                _ => '\u{FFFD}',
            })
            .collect(),
    }
}

/// What `Uri.EscapeDataString` keeps: RFC 3986's unreserved characters.
const URI_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `Uri.UnescapeDataString`: `%XX` sequences that form UTF-8 are decoded; any other `%` and
/// the bytes after it stay as they were (`+` is not a space here, unlike `UrlDecode`).
fn unescape_data_string(s: &str) -> String {
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(s).collect();
    match String::from_utf8(bytes) {
        Ok(t) => t,
        // Invalid UTF-8 after decoding: .NET leaves such escapes encoded; keep the input.
        Err(_) => s.to_string(),
    }
}

/// `WebUtility.HtmlEncode`: `<`, `>`, `&`, `"`, `'` as entities, and U+00A0–U+00FF as
/// numeric references, as .NET writes them.
fn html_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\u{a0}'..='\u{ff}' => out.push_str(&format!("&#{};", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `Guid.Parse`: 32 hex digits, plain (`N`), hyphenated (`D`), in braces (`B`) or parentheses
/// (`P`); the `D` form in lower case, as `Guid.ToString()` gives it.
fn parse_guid(s: &str) -> Option<String> {
    let t = s.trim();
    let inner = t
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .or_else(|| t.strip_prefix('(').and_then(|r| r.strip_suffix(')')))
        .unwrap_or(t);
    let hex: String = match inner.len() {
        32 => inner.to_string(),
        36 => {
            let b = inner.as_bytes();
            if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
                return None;
            }
            inner.replace('-', "")
        }
        _ => return None,
    };
    if hex.len() != 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some(hyphenated(&hex.to_ascii_lowercase()))
}

/// 32 hex digits as a GUID's `D` format: 8-4-4-4-12.
fn hyphenated(h: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

const INT64: IntRange = IntRange {
    min: i64::MIN,
    max: i64::MAX,
    name: "an Int64",
};

const INT32: IntRange = IntRange {
    min: i32::MIN as i64,
    max: i32::MAX as i64,
    name: "an Int32",
};

impl IntRange {
    /// .NET's `OverflowException` for a value outside the range.
    fn overflow(self) -> EvalError {
        EvalError::new(
            EvalErrorKind::Overflow,
            format!("Value was either too large or too small for {}.", self.name),
        )
    }
}

/// Why a text is not an integer of a range.
enum IntText {
    Format,
    Overflow,
}

/// An integer written as .NET's `int.Parse` and `Convert.ToInt32(string)` read it: one optional
/// sign and decimal digits (the caller trims), within `r`.
fn integer_text(t: &str, r: IntRange) -> Result<i64, IntText> {
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IntText::Format);
    }
    match t.parse::<i64>() {
        Ok(i) if (r.min..=r.max).contains(&i) => Ok(i),
        _ => Err(IntText::Overflow),
    }
}

/// The range `Convert.ToX` converts into (`ToUInt64` stops at `long.MaxValue`: certgate's
/// integers are 64-bit signed).
fn int_range(m: &str) -> Option<IntRange> {
    let r = |min: i64, max: i64, name| IntRange { min, max, name };
    Some(match m {
        "ToByte" => r(0, 255, "an unsigned byte"),
        "ToSByte" => r(-128, 127, "a signed byte"),
        "ToInt16" => r(i16::MIN.into(), i16::MAX.into(), "an Int16"),
        "ToUInt16" => r(0, u16::MAX.into(), "a UInt16"),
        "ToInt32" => INT32,
        "ToUInt32" => r(0, u32::MAX.into(), "a UInt32"),
        "ToInt64" => INT64,
        "ToUInt64" => r(0, i64::MAX, "a UInt64"),
        _ => return None,
    })
}

fn new_guid() -> String {
    let mut b = [0u8; 16];
    if crate::crypto::rand::rand_bytes(&mut b).is_err() {
        return GUID_EMPTY.into();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    hyphenated(&crate::cert::hex_upper(&b).to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_and_math() {
        use crate::expr::testing::s;
        assert_eq!(s("@(Convert.ToInt32(\"42\"))"), "42");
        assert!(s("@(Convert.ToInt32(\"x\" + context.Request.Method))")
            .contains("not in a correct format"));
        assert_eq!(s("@(Math.Max(2, 3.5))"), "3.5");
        assert!(s("@(Math.Abs(\"x\"))").contains("needs numbers"));
        assert_eq!(s("@(Guid.NewGuid().Length)"), "36");
        assert_eq!(s("@((12).ToString(\"D4\"))"), "0012");
    }

    /// Statics on C#'s keyword types (issue 13; Microsoft's own examples use
    /// `int.Parse((string)context.Variables["maxAge"])`), with .NET's failures.
    #[test]
    fn parse_on_keyword_types() {
        use crate::expr::testing::{failure, s};
        assert_eq!(s("@(int.Parse(\" 42 \") + 1)"), "43");
        assert_eq!(s("@(Int32.Parse(\"-7\"))"), "-7");
        assert_eq!(s("@(System.Int32.Parse(\"+7\"))"), "7");
        assert_eq!(s("@(long.Parse(\"3000000000\"))"), "3000000000");
        assert_eq!(s("@(double.Parse(\"2.5\") * 2)"), "5");
        assert_eq!(s("@(bool.Parse(\" TRUE \"))"), "True");
        assert_eq!(
            s("@(int.Parse((string)context.Variables.GetValueOrDefault(\"maxAge\", \"60\")))"),
            "60"
        );
        // A constant that fails is not folded into a compile error: it fails when evaluated.
        assert_eq!(
            failure("@(int.Parse(\"3000000000\"))"),
            Some(EvalErrorKind::Overflow)
        );
        assert_eq!(
            failure("@(int.Parse(\"3000000000\" + context.Request.Url.Query.GetValueOrDefault(\"x\", \"\")))"),
            Some(EvalErrorKind::Overflow)
        );
        assert_eq!(
            failure(
                "@(int.Parse(\"4x\" + context.Request.Url.Query.GetValueOrDefault(\"x\", \"\")))"
            ),
            Some(EvalErrorKind::Format)
        );
        assert_eq!(
            failure("@(int.Parse(context.Request.Url.Query.GetValueOrDefault(\"x\")))"),
            Some(EvalErrorKind::Argument)
        );
        // One sign at most, as .NET reads it (`+-5` used to parse as -5).
        for text in ["+-5", "-+5", "--5", "+"] {
            assert_eq!(
                failure(&format!(
                    "@(int.Parse(\"{text}\" + context.Request.Url.Query.GetValueOrDefault(\"x\", \"\")))"
                )),
                Some(EvalErrorKind::Format),
                "{text}"
            );
        }
        assert_eq!(
            failure(
                "@(bool.Parse(\"yes\" + context.Request.Url.Query.GetValueOrDefault(\"x\", \"\")))"
            ),
            Some(EvalErrorKind::Format)
        );
        // A static of a type APIM allows and certgate lacks names it.
        assert!(s("@(new RNGCryptoServiceProvider())")
            .contains("'RNGCryptoServiceProvider' is not supported by certgate"));
    }

    /// The encodings of `System.Text.Encoding` as .NET's encoders write and read them (expected
    /// bytes from Python's codecs), and hex: `BitConverter.ToString`, `Convert.ToHexString`.
    #[test]
    fn encodings_and_hex() {
        use crate::expr::testing::{failure, s};
        for (expr, want) in [
            ("@(Convert.ToBase64String(Encoding.Unicode.GetBytes(\"hi\")))", "aABpAA=="),
            ("@(Convert.ToBase64String(Encoding.BigEndianUnicode.GetBytes(\"hi\")))", "AGgAaQ=="),
            ("@(Convert.ToBase64String(Encoding.UTF32.GetBytes(\"A\")))", "QQAAAA=="),
            ("@(Encoding.ASCII.GetBytes(\"é\")[0])", "63"),
            ("@(Encoding.Latin1.GetBytes(\"é\")[0])", "233"),
            ("@(Encoding.UTF8.GetString(new byte[] {104, 105}))", "hi"),
            ("@(Encoding.ASCII.GetString(new byte[] {104, 200}))", "h?"),
            ("@(Encoding.Unicode.GetString(Encoding.Unicode.GetBytes(\"héllo\")))", "h\u{e9}llo"),
            ("@(BitConverter.ToString(new byte[] {1, 171, 255}))", "01-AB-FF"),
            ("@(BitConverter.ToString(SHA256.Create().ComputeHash(new byte[0])).Replace(\"-\", \"\").Substring(0, 8))", "E3B0C442"),
            ("@(Convert.ToHexString(new byte[] {1, 171}))", "01AB"),
            ("@(Convert.FromHexString(\"01ab\")[1])", "171"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_eq!(
            failure("@(Convert.FromHexString(\"0\"))"),
            Some(EvalErrorKind::Format)
        );
        assert_eq!(
            failure("@(Convert.FromHexString(\"zz\"))"),
            Some(EvalErrorKind::Format)
        );
        assert!(s("@(Encoding.UTF7)").contains("'Encoding.UTF7' is not supported by certgate"));
    }

    /// `Math.Round` with a `MidpointRounding`, with and without digits.
    #[test]
    fn rounding_modes() {
        use crate::expr::testing::{failure, s};
        for (expr, want) in [
            ("@(Math.Round(2.5, MidpointRounding.AwayFromZero))", "3"),
            ("@(Math.Round(-2.5, MidpointRounding.AwayFromZero))", "-3"),
            ("@(Math.Round(2.5, MidpointRounding.ToEven))", "2"),
            (
                "@(Math.Round(2.567, 2, MidpointRounding.ToNegativeInfinity))",
                "2.56",
            ),
            (
                "@(Math.Round(2.561, 2, MidpointRounding.ToPositiveInfinity))",
                "2.57",
            ),
            ("@(Math.Round(-2.569, 2, MidpointRounding.ToZero))", "-2.56"),
            ("@(Math.Round(1.005, 2))", "1"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_eq!(
            failure("@(Math.Round(2.5, (MidpointRounding)7))"),
            Some(EvalErrorKind::Argument)
        );
        assert!(s("@(Math.Round(2.5, DayOfWeek.Monday))").starts_with("ERR"));
    }

    /// `Guid.Parse` takes .NET's N, D, B and P forms and gives the D form; `Guid.Empty`.
    #[test]
    fn guids() {
        use crate::expr::testing::{failure, s};
        for (expr, want) in [
            ("@(Guid.Parse(\"6F9619FF-8B86-D011-B42D-00CF4FC964FF\"))", "6f9619ff-8b86-d011-b42d-00cf4fc964ff"),
            ("@(Guid.Parse(\"{6f9619ff8b86d011b42d00cf4fc964ff}\".Replace(\"{\", \"\").Replace(\"}\", \"\")))", "6f9619ff-8b86-d011-b42d-00cf4fc964ff"),
            ("@(Guid.Parse(\"(6f9619ff-8b86-d011-b42d-00cf4fc964ff)\"))", "6f9619ff-8b86-d011-b42d-00cf4fc964ff"),
            ("@(Guid.Empty)", "00000000-0000-0000-0000-000000000000"),
            ("@(Guid.TryParse(\"nope\", out var g) || g != Guid.Empty)", "False"),
            ("@(Guid.TryParse(context.RequestId, out var g))", "True"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_eq!(
            failure("@(Guid.Parse(\"6f9619ff-8b86-d011-b42d-00cf4fc964fz\"))"),
            Some(EvalErrorKind::Format)
        );
    }

    /// `Math`'s rounding is .NET's (to even at the midpoint); URI and HTML escaping as .NET writes
    /// them, null arguments failing as .NET's do.
    #[test]
    fn math_and_escaping() {
        use crate::expr::testing::{failure, s};
        assert_eq!(s("@(Math.Round(0.5))"), "0");
        assert_eq!(s("@(Math.Round(-2.5))"), "-2");
        // .NET scales, rounds and scales back: 2.675 * 100 is 267.5 in doubles, so 2.68.
        assert_eq!(s("@(Math.Round(2.675, 2) == 2.68)"), "True");
        assert_eq!(s("@(Math.Round(1e17 + 0.0, 2) == 1e17)"), "True");
        assert_eq!(s("@(Math.Floor(-0.5))"), "-1");
        assert_eq!(s("@(Math.Pow(2, 0.5) > 1.41)"), "True");
        assert_eq!(
            failure("@(Math.Round(1.5, 16))"),
            Some(EvalErrorKind::OutOfRange)
        );
        assert_eq!(s("@(Uri.EscapeDataString(\"!*'()\"))"), "%21%2A%27%28%29");
        assert_eq!(s("@(System.Uri.UnescapeDataString(\"%zz%41\"))"), "%zzA");
        assert_eq!(
            s("@(WebUtility.HtmlEncode(\"\\u00a0\\u00ff\\u0100\"))"),
            "&#160;&#255;\u{100}"
        );
        assert_eq!(
            failure("@(Uri.EscapeDataString(context.Request.Url.Query.GetValueOrDefault(\"x\")))"),
            Some(EvalErrorKind::Argument)
        );
        assert_eq!(s("@(WebUtility.HtmlEncode(null) == null)"), "True");
        assert_eq!(
            s("@(WebUtility.HtmlDecode(\"&lt;a&gt; &amp;amp; &#39;&#x27; &eacute; &bogus; & x\"))"),
            "<a> &amp; '' é &bogus; & x"
        );
        assert_eq!(s("@(WebUtility.HtmlDecode(null) == null)"), "True");
        for (expr, want) in [
            ("@(Math.Sign(-3))", "-1"),
            ("@(Math.Sign(0.5))", "1"),
            ("@(Math.Sign(0))", "0"),
            ("@(char.IsDigit('7') && !char.IsDigit('x') && !char.IsDigit('²'))", "True"),
            ("@(char.IsNumber('²'))", "True"),
            ("@(char.IsLetter('é') && char.IsLetterOrDigit('4') && char.IsWhiteSpace(' '))", "True"),
            ("@(char.IsUpper('A') && char.IsLower('a') && char.IsPunctuation('!') && !char.IsPunctuation('+'))", "True"),
            ("@(char.ToUpper('a').ToString() + char.ToLower('Q'))", "Aq"),
            ("@(\"a1b2\".Where(c => char.IsDigit(c)).Count())", "2"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert!(
            s("@(Math.Sign(double.NaN))").contains("Not-a-Number")
                || s("@(Math.Sign(0.0/0.0))").contains("Not-a-Number")
        );
        assert!(s("@(char.IsEmoji('x'))").contains("IsEmoji"));
    }

    /// `TryParse(s, out x)`: the value and true, or the type's default and false; never a
    /// failure (issue 13, APIM's reference example uses `double.TryParse`).
    #[test]
    fn try_parse_with_out_arguments() {
        use crate::expr::testing::s;
        for (expr, want) in [
            (
                "@{ int n; return int.TryParse(\"42\", out n) ? n + 1 : -1; }",
                "43",
            ),
            (
                "@{ int n = 5; var ok = int.TryParse(\"4x\", out n); return ok + \"/\" + n; }",
                "False/0",
            ),
            (
                "@{ int.TryParse(\"3000000000\", out var n); return n; }",
                "0",
            ),
            (
                "@{ long.TryParse(\"3000000000\", out long n); return n; }",
                "3000000000",
            ),
            ("@(double.TryParse(\" 2.5 \", out var d) && d > 2)", "True"),
            (
                "@{ bool b; return bool.TryParse(\"nope\", out b) || b; }",
                "False",
            ),
            ("@{ return int.TryParse(null, out var n) ? 1 : n; }", "0"),
            // The out local is visible after the expression that declares it.
            (
                "@{ if (!int.TryParse(\"7\", out var n)) { return 0; } return n * 2; }",
                "14",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert!(s("@(int.TryParse(\"1\", out string t))").contains("writes a 'int'"));
        assert!(s("@{ int n; return int.TryParse(\"1\", out var n); }").contains("already defined"));
    }

    #[test]
    fn url_encoding() {
        assert_eq!(url_encode("a b&c/é"), "a+b%26c%2F%C3%A9");
        assert_eq!(url_encode("1+1 (x)!*~"), "1%2B1+(x)!*%7E");
    }

    #[test]
    fn integer_conversions_keep_their_type_s_range() {
        use crate::expr::testing::{assert_refused, s};
        for (expr, want) in [
            // Casts keep the low bits, as C#'s unchecked conversions do.
            ("@((byte)(context.Request.Method.Length + 253))", "0"),
            ("@((short)40000)", "-25536"),
            ("@((int)3000000000)", "-1294967296"),
            ("@((uint)(0 - context.Request.Method.Length))", "4294967293"),
            ("@((int)-2.9)", "-2"),
            ("@((long)3000000000)", "3000000000"),
            ("@((ushort)'A')", "65"),
            ("@((char)(context.Request.Method.Length + 62))", "A"),
            ("@((decimal)1.5 * 2)", "3"),
            ("@(Convert.ToByte(\"255\"))", "255"),
            ("@(Convert.ToSByte(-128))", "-128"),
            ("@(Convert.ToUInt16(' '))", "32"),
            ("@(Convert.ToInt32(-2.5))", "-2"),
            ("@(Convert.ToInt64(\"+7\"))", "7"),
            ("@(Convert.ToUInt64(true))", "1"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        for (expr, message) in [
            (
                "@(Convert.ToByte(256))",
                "too large or too small for an unsigned byte",
            ),
            (
                "@(Convert.ToSByte(\"200\"))",
                "too large or too small for a signed byte",
            ),
            (
                "@(Convert.ToInt32(3000000000))",
                "too large or too small for an Int32",
            ),
            (
                "@(Convert.ToUInt32(-1))",
                "too large or too small for a UInt32",
            ),
            (
                "@(Convert.ToInt64(\"99999999999999999999\"))",
                "too large or too small for an Int64",
            ),
            (
                "@(Convert.ToInt16(1e10))",
                "too large or too small for an Int16",
            ),
            ("@(Convert.ToInt32(\"1x\"))", "not in a correct format"),
            ("@(Convert.ToInt32(\"\"))", "not in a correct format"),
        ] {
            assert_refused(expr, message);
        }
    }
}
