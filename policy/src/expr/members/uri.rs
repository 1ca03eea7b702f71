//! `System.Uri` (`new Uri(text[, kind])`, `new Uri(baseUri, relative)`, its parts,
//! `GetLeftPart`, `Uri.IsWellFormedUriString`, `Uri.TryCreate`, `Uri.UriSchemeHttp(s)`),
//! `UriKind` and `UriPartial`. `Uri.EscapeDataString` and `UnescapeDataString` are conversions
//! (`members/convert.rs`). Checker bindings and evaluator in one file; the semantics are
//! [`crate::dotnet::uri`].

use std::sync::Arc;

use crate::dotnet::uri::{self, Uri};
use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Obj, Value};

fn call(f: UriFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Uri(f), args)
}

const TY: Ty = Ty::Obj(ObjKind::Uri);

/// `UriKind.X`.
pub(crate) fn kind_member(name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let v = match name {
        "RelativeOrAbsolute" => uri::KIND_RELATIVE_OR_ABSOLUTE,
        "Absolute" => uri::KIND_ABSOLUTE,
        "Relative" => uri::KIND_RELATIVE,
        _ => return unknown_member(&Ty::Static(Static::UriKind), name, off),
    };
    Ok((Ir::Const(Value::Int(v)), Ty::Int))
}

/// `UriPartial.X`.
pub(crate) fn partial_member(name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let v = match name {
        "Scheme" => 0,
        "Authority" => 1,
        "Path" => 2,
        "Query" => 3,
        _ => return unknown_member(&Ty::Static(Static::UriPartial), name, off),
    };
    Ok((Ir::Const(Value::Int(v)), Ty::Int))
}

/// `Uri.UriSchemeHttp`, `Uri.UriSchemeHttps`, `Uri.SchemeDelimiter`; `None` for the rest of
/// the class's statics (conversions).
pub(crate) fn static_member(name: &str) -> Option<(Ir, Ty)> {
    let v = match name {
        "UriSchemeHttp" => "http",
        "UriSchemeHttps" => "https",
        "SchemeDelimiter" => "://",
        _ => return None,
    };
    Some((Ir::Const(Value::str(v)), Ty::Str))
}

/// `Uri.IsWellFormedUriString(text, kind)`, `Uri.TryCreate(text, kind, out uri)`; `None` for
/// the class's other statics.
pub(crate) fn static_method(
    b: &mut dyn Binder,
    m: &str,
    args: &[Expr],
    off: usize,
) -> Option<CheckResult<(Ir, Ty)>> {
    match m {
        "IsWellFormedUriString" => Some(
            b.args(m, args, &[Ty::Str, Ty::Int], 2, off)
                .map(|a| (call(UriFn::IsWellFormed, a), Ty::Bool)),
        ),
        "TryCreate" => Some((|| {
            let [text, kind, out] = args else {
                return type_err(
                    off,
                    "'TryCreate' takes 3 arguments: the text, a UriKind and an out Uri",
                );
            };
            let text = b.coerce(text, &Ty::Str)?;
            let kind = b.coerce(kind, &Ty::Int)?;
            let out = b.out_arg(out, &TY)?;
            let tmp = b.temp(off)?;
            Ok((
                out_call(call(UriFn::TryNew, vec![text, kind]), tmp, out, Value::Null),
                Ty::Bool,
            ))
        })()),
        _ => None,
    }
}

/// `new Uri(text)`, `new Uri(text, kind)`, `new Uri(baseUri, relative)`; `None` when `name` is
/// not the class.
pub(crate) fn new(
    b: &mut dyn Binder,
    name: &str,
    args: &[Expr],
    off: usize,
) -> Option<CheckResult<(Ir, Ty)>> {
    if !matches!(name, "Uri" | "System.Uri") {
        return None;
    }
    Some((|| {
        let Some(first) = args.first() else {
            return type_err(
                off,
                "'Uri' takes the URI text (and a UriKind), or a base Uri and a relative one",
            );
        };
        let (first_ir, first_ty) = b.expr(first)?;
        if first_ty == TY {
            let rest = b.args("Uri", &args[1..], &[Ty::Str], 1, off)?;
            return Ok((call(UriFn::Join, with_recv(first_ir, rest)), TY));
        }
        let text = b.coerce(first, &Ty::Str)?;
        let kind = match args.get(1) {
            Some(k) => b.coerce(k, &Ty::Int)?,
            None => Ir::Const(Value::Int(uri::KIND_ABSOLUTE)),
        };
        if args.len() > 2 {
            return type_err(off, "'Uri' takes at most 2 arguments");
        }
        Ok((call(UriFn::New, vec![text, kind]), TY))
    })())
}

/// Properties.
pub(crate) fn member(recv: Ir, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let (f, ty) = match name {
        "AbsoluteUri" => (UriFn::AbsoluteUri, Ty::Str),
        "AbsolutePath" => (UriFn::AbsolutePath, Ty::Str),
        "Authority" => (UriFn::Authority, Ty::Str),
        "Host" | "DnsSafeHost" | "IdnHost" => (UriFn::Host, Ty::Str),
        "Port" => (UriFn::Port, Ty::Int),
        "Scheme" => (UriFn::Scheme, Ty::Str),
        "Query" => (UriFn::Query, Ty::Str),
        "Fragment" => (UriFn::Fragment, Ty::Str),
        "PathAndQuery" => (UriFn::PathAndQuery, Ty::Str),
        "Segments" => (UriFn::Segments, Ty::Array(Box::new(Ty::Str))),
        "LocalPath" => (UriFn::LocalPath, Ty::Str),
        "UserInfo" => (UriFn::UserInfo, Ty::Str),
        "OriginalString" => (UriFn::OriginalString, Ty::Str),
        "IsAbsoluteUri" => (UriFn::IsAbsolute, Ty::Bool),
        "IsDefaultPort" => (UriFn::IsDefaultPort, Ty::Bool),
        "IsLoopback" => (UriFn::IsLoopback, Ty::Bool),
        _ => return unknown_member(&TY, name, off),
    };
    Ok((call(f, vec![recv]), ty))
}

/// `GetLeftPart(part)`, `IsWellFormedOriginalString()`.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    m: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let (f, a, ty) = match m {
        "GetLeftPart" => (
            UriFn::LeftPart,
            b.args(m, args, &[Ty::Int], 1, off)?,
            Ty::Str,
        ),
        "IsWellFormedOriginalString" => (
            UriFn::WellFormedOriginal,
            b.args(m, args, &[], 0, off)?,
            Ty::Bool,
        ),
        "MakeRelativeUri" => (UriFn::MakeRelative, b.args(m, args, &[TY], 1, off)?, TY),
        _ => return unknown_member(&TY, m, off),
    };
    Ok((call(f, with_recv(recv, a)), ty))
}

const RELATIVE: &str = "This operation is not supported for a relative URI.";

fn new_uri(u: Uri) -> Value {
    Value::Obj(Arc::new(Obj::Uri(u)))
}

pub(crate) fn eval(f: UriFn, args: &[Value]) -> EvalResult<Value> {
    match f {
        UriFn::New | UriFn::TryNew => {
            let text = match arg(args, 0) {
                Value::Str(s) => s.clone(),
                _ if f == UriFn::TryNew => return Ok(Value::Null),
                _ => {
                    return fail(
                        EvalErrorKind::Argument,
                        "Value cannot be null. (Parameter 'uriString')",
                    )
                }
            };
            let kind = i_arg(args, 1)?;
            return match Uri::parse(&text, kind) {
                Some(u) => Ok(new_uri(u)),
                None if f == UriFn::TryNew => Ok(Value::Null),
                None => fail(EvalErrorKind::Format, uri::INVALID),
            };
        }
        UriFn::IsWellFormed => {
            let ok =
                opt_s(args, 0).is_some_and(|s| uri::is_well_formed(s, i_arg(args, 1).unwrap_or(0)));
            return Ok(Value::Bool(ok));
        }
        _ => {}
    }
    let Value::Obj(o) = arg(args, 0) else {
        return fail(EvalErrorKind::NullReference, NULL_REF);
    };
    let Obj::Uri(u) = &**o else {
        return fail(EvalErrorKind::InvalidCast, "not a Uri");
    };
    if f == UriFn::MakeRelative {
        let Value::Obj(other) = arg(args, 1) else {
            return fail(
                EvalErrorKind::Argument,
                "Value cannot be null. (Parameter 'uri')",
            );
        };
        let Obj::Uri(other) = &**other else {
            return fail(EvalErrorKind::InvalidCast, "not a Uri");
        };
        return match u.relative_to(other) {
            Some(r) => Ok(new_uri(r)),
            None => fail(EvalErrorKind::Other, RELATIVE),
        };
    }
    // What a relative URI has.
    match f {
        UriFn::OriginalString => return Ok(Value::str(u.original())),
        UriFn::IsAbsolute => return Ok(Value::Bool(u.absolute().is_some())),
        UriFn::WellFormedOriginal => {
            let kind = if u.absolute().is_some() {
                uri::KIND_ABSOLUTE
            } else {
                uri::KIND_RELATIVE
            };
            return Ok(Value::Bool(uri::is_well_formed(u.original(), kind)));
        }
        UriFn::Join => {
            let rel = opt_s(args, 1).unwrap_or_default();
            return match u.join(rel) {
                Some(j) => Ok(new_uri(j)),
                None if u.absolute().is_none() => fail(EvalErrorKind::Other, RELATIVE),
                None => fail(EvalErrorKind::Format, uri::INVALID),
            };
        }
        _ => {}
    }
    let Some(a) = u.absolute() else {
        return fail(EvalErrorKind::Other, RELATIVE);
    };
    let s = |t: String| Ok(Value::Str(t.into()));
    match f {
        UriFn::AbsoluteUri => s(a.as_str().to_string()),
        UriFn::AbsolutePath => s(a.path().to_string()),
        UriFn::Authority => s(Uri::authority(a)),
        UriFn::Host => s(Uri::host(a)),
        UriFn::Port => Ok(Value::Int(Uri::port(a))),
        UriFn::Scheme => s(a.scheme().to_string()),
        UriFn::Query => s(Uri::query(a)),
        UriFn::Fragment => s(Uri::fragment(a)),
        UriFn::PathAndQuery => s(Uri::path_and_query(a)),
        UriFn::Segments => Ok(Value::Array(
            Uri::segments(a)
                .into_iter()
                .map(|p| Value::Str(p.into()))
                .collect::<Vec<_>>()
                .into(),
        )),
        UriFn::LocalPath => s(Uri::unescaped(a.path())),
        UriFn::UserInfo => s(match a.password() {
            Some(p) => format!("{}:{p}", a.username()),
            None => a.username().to_string(),
        }),
        UriFn::IsDefaultPort => Ok(Value::Bool(a.port().is_none())),
        UriFn::IsLoopback => Ok(Value::Bool(match a.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        })),
        UriFn::LeftPart => s(Uri::left_part(a, i_arg(args, 1)?)),
        _ => Ok(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use crate::expr::testing::{assert_refused, s};

    /// `MakeRelativeUri`: a relative path within one origin, the other URI across origins.
    #[test]
    fn relative_uris_between_two() {
        for (expr, want) in [
            (
                r#"@(new Uri("https://h/a/b").MakeRelativeUri(new Uri("https://h/a/c")).ToString())"#,
                "c",
            ),
            (
                r#"@(new Uri("https://h/a/b/").MakeRelativeUri(new Uri("https://h/a/c")).ToString())"#,
                "../c",
            ),
            (
                r#"@(new Uri("https://h/a").MakeRelativeUri(new Uri("https://h/a")).ToString())"#,
                "",
            ),
            (
                r#"@(new Uri("https://h/a").MakeRelativeUri(new Uri("https://h/b")).IsAbsoluteUri)"#,
                "False",
            ),
            (
                r#"@(new Uri("https://h/a").MakeRelativeUri(new Uri("http://h/a")).IsAbsoluteUri)"#,
                "True",
            ),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_refused(
            r#"@(new Uri("a/b", UriKind.Relative).MakeRelativeUri(new Uri("https://h/")))"#,
            "not supported for a relative URI",
        );
    }

    #[test]
    fn uris_as_dotnet_takes_them_apart() {
        let u = "new Uri(\"https://Api.Example.com:8443/v1/a%20b?x=1&y=2#top\")";
        for (member, want) in [
            ("Host", "api.example.com"),
            ("Port", "8443"),
            ("Scheme", "https"),
            ("Authority", "api.example.com:8443"),
            ("AbsolutePath", "/v1/a%20b"),
            ("LocalPath", "/v1/a b"),
            ("Query", "?x=1&y=2"),
            ("Fragment", "#top"),
            ("PathAndQuery", "/v1/a%20b?x=1&y=2"),
            (
                "AbsoluteUri",
                "https://api.example.com:8443/v1/a%20b?x=1&y=2#top",
            ),
            (
                "ToString()",
                "https://api.example.com:8443/v1/a b?x=1&y=2#top",
            ),
            ("Segments.Length", "3"),
            ("Segments[1]", "v1/"),
            ("IsDefaultPort", "False"),
            ("IsAbsoluteUri", "True"),
            ("IsLoopback", "False"),
            (
                "GetLeftPart(UriPartial.Authority)",
                "https://api.example.com:8443",
            ),
            (
                "GetLeftPart(UriPartial.Path)",
                "https://api.example.com:8443/v1/a%20b",
            ),
        ] {
            assert_eq!(s(&format!("@({u}.{member})")), want, "{member}");
        }
        for (expr, want) in [
            ("@(new Uri(\"http://localhost/\").Port)", "80"),
            ("@(new Uri(\"http://localhost/\").IsLoopback)", "True"),
            ("@(new Uri(new Uri(\"https://x.test/a/b\"), \"../c?d=1\").AbsoluteUri)", "https://x.test/c?d=1"),
            ("@(new Uri(\"/a/b\", UriKind.Relative).OriginalString)", "/a/b"),
            ("@(new Uri(\"/a/b\", UriKind.RelativeOrAbsolute).IsAbsoluteUri)", "False"),
            ("@(Uri.IsWellFormedUriString(\"https://x.test/a?b=1\", UriKind.Absolute))", "True"),
            ("@(Uri.IsWellFormedUriString(\"https://x.test/a b\", UriKind.Absolute))", "False"),
            ("@(Uri.IsWellFormedUriString(\"/a\", UriKind.Absolute))", "False"),
            ("@{ Uri u; return Uri.TryCreate(\"https://x.test/p\", UriKind.Absolute, out u) ? u.Host : \"no\"; }", "x.test"),
            ("@{ Uri u; return Uri.TryCreate(\"not a uri\", UriKind.Absolute, out u); }", "False"),
            ("@(Uri.UriSchemeHttps + Uri.SchemeDelimiter)", "https://"),
            ("@(new Uri(\"https://x.test/a#1\") == new Uri(\"https://X.test/a#2\"))", "True"),
            ("@(new Uri(\"https://x.test/a\") != new Uri(\"https://x.test/b\"))", "True"),
            ("@(Uri.EscapeDataString(new Uri(\"https://x.test/\").Host))", "x.test"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        assert_refused("@(new Uri(\"/a/b\"))", "Invalid URI");
        assert_refused(
            "@(new Uri(\"/a/b\", UriKind.Relative).Host)",
            "relative URI",
        );
        assert_refused(
            "@(new Uri(\"https://x.test/\").MakeRelativeUri(null))",
            "Value cannot be null. (Parameter 'uri')",
        );
    }
}
