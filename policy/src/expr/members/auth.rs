//! APIM's credential helpers (apim-reference.md §2.4.6–7): `AsBasic`/`TryParseBasic` and
//! `AsJwt`/`TryParseJwt` on strings, `BasicAuthCredentials` (`UserId`, `Password`) and `Jwt`
//! (`Algorithm`, `Type`, `Id`, `Issuer`, `Subject`, `Audiences`, `ExpirationTime`, `IssuedAt`,
//! `NotBefore`, `Claims` with `GetValueOrDefault`, `ContainsKey`, `TryGetValue`, `Count` and the
//! indexer). Checker bindings and evaluator in one file; the parsing is `dotnet::auth`'s.

use std::sync::Arc;

use crate::dotnet::{parse_basic, parse_jwt};
use crate::expr::ast::Expr;
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::{Obj, Value};

fn auth(f: AuthFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Auth(f), args)
}

/// `s.AsBasic()`, `s.AsJwt()`, `s.TryParseBasic(out c)`, `s.TryParseJwt(out jwt)`; `None` when
/// `m` is none of them.
pub(crate) fn string_method(
    b: &mut dyn Binder,
    recv: &Ir,
    m: &str,
    args: &[Expr],
    off: usize,
) -> Option<CheckResult<(Ir, Ty)>> {
    let (f, kind) = match m {
        "AsBasic" | "TryParseBasic" => (AuthFn::AsBasic, ObjKind::Basic),
        "AsJwt" | "TryParseJwt" => (AuthFn::AsJwt, ObjKind::Jwt),
        _ => return None,
    };
    let call = auth(f, vec![recv.clone()]);
    Some(if m.starts_with("As") {
        b.args(m, args, &[], 0, off).map(|_| (call, Ty::Obj(kind)))
    } else {
        (|| {
            let [out] = args else {
                return type_err(off, format!("'{m}' takes 1 argument: 'out var result'"));
            };
            let out = b.out_arg(out, &Ty::Obj(kind))?;
            let tmp = b.temp(off)?;
            Ok((out_call(call, tmp, out, Value::Null), Ty::Bool))
        })()
    })
}

/// Properties of `BasicAuthCredentials`, `Jwt` and `Jwt.Claims`.
pub(crate) fn member(recv: Ir, k: ObjKind, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    let (f, ty) = match (k, name) {
        (ObjKind::Basic, "UserId") => (AuthFn::UserId, Ty::Str),
        (ObjKind::Basic, "Password") => (AuthFn::Password, Ty::Str),
        (ObjKind::Jwt, "Algorithm") => (AuthFn::Algorithm, Ty::Str),
        (ObjKind::Jwt, "Type") => (AuthFn::Type, Ty::Str),
        (ObjKind::Jwt, "Id") => (AuthFn::Claim(JwtClaim::Id), Ty::Str),
        (ObjKind::Jwt, "Issuer") => (AuthFn::Claim(JwtClaim::Issuer), Ty::Str),
        (ObjKind::Jwt, "Subject") => (AuthFn::Claim(JwtClaim::Subject), Ty::Str),
        (ObjKind::Jwt, "Audiences") => (AuthFn::Audiences, Ty::Array(Box::new(Ty::Str))),
        (ObjKind::Jwt, "ExpirationTime") => (AuthFn::Claim(JwtClaim::ExpirationTime), Ty::DateTime),
        (ObjKind::Jwt, "IssuedAt") => (AuthFn::Claim(JwtClaim::IssuedAt), Ty::DateTime),
        (ObjKind::Jwt, "NotBefore") => (AuthFn::Claim(JwtClaim::NotBefore), Ty::DateTime),
        // The claims are the token's: the same value, typed as the dictionary.
        (ObjKind::Jwt, "Claims") => return Ok((recv, Ty::Obj(ObjKind::Claims))),
        (ObjKind::Claims, "Count") => (AuthFn::ClaimsCount, Ty::Int),
        _ => return unknown_member(&Ty::Obj(k), name, off),
    };
    Ok((auth(f, vec![recv]), ty))
}

/// `Claims.GetValueOrDefault(name[, default])`, `Claims.ContainsKey(name)`,
/// `Claims.TryGetValue(name, out values)`.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    k: ObjKind,
    name: &str,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    match (k, name) {
        (ObjKind::Claims, "GetValueOrDefault") => {
            let a = b.args(name, args, &[Ty::Str, Ty::Str], 1, off)?;
            Ok((auth(AuthFn::ClaimsGet, with_recv(recv, a)), Ty::Str))
        }
        (ObjKind::Claims, "ContainsKey") => {
            let a = b.args(name, args, &[Ty::Str], 1, off)?;
            Ok((auth(AuthFn::ClaimsContains, with_recv(recv, a)), Ty::Bool))
        }
        (ObjKind::Claims, "TryGetValue") => {
            // The indexer's lookup without its failure: null when the claim is absent.
            input_and_out(
                b,
                name,
                args,
                &Ty::Str,
                &Ty::Array(Box::new(Ty::Str)),
                Value::Null,
                "the key and 'out var value'",
                |key| {
                    auth(
                        AuthFn::ClaimsIndex,
                        vec![recv, key, Ir::Const(Value::Bool(true))],
                    )
                },
                off,
            )
        }
        _ => unknown_member(&Ty::Obj(k), name, off),
    }
}

/// `Claims[name]`: the claim's values (`KeyNotFoundException` when absent).
pub(crate) fn index(b: &mut dyn Binder, recv: Ir, index: &Expr) -> CheckResult<(Ir, Ty)> {
    let key = b.coerce(index, &Ty::Str)?;
    Ok((
        auth(AuthFn::ClaimsIndex, vec![recv, key]),
        Ty::Array(Box::new(Ty::Str)),
    ))
}

fn strs(v: &[Arc<str>]) -> Value {
    Value::Array(v.iter().map(|s| Value::Str(s.clone())).collect())
}

fn opt_str(s: Option<Arc<str>>) -> Value {
    s.map_or(Value::Null, Value::Str)
}

pub(crate) fn eval(f: AuthFn, args: &[Value]) -> EvalResult<Value> {
    let obj = |v: &Value| match v {
        Value::Obj(o) => Ok(o.clone()),
        _ => fail(EvalErrorKind::NullReference, NULL_REF),
    };
    Ok(match f {
        AuthFn::AsBasic => match opt_s(args, 0).and_then(parse_basic) {
            Some(c) => Value::Obj(Arc::new(Obj::Basic(c))),
            None => Value::Null,
        },
        AuthFn::AsJwt => match opt_s(args, 0).and_then(parse_jwt) {
            Some(j) => Value::Obj(Arc::new(Obj::Jwt(j))),
            None => Value::Null,
        },
        AuthFn::UserId | AuthFn::Password => match &*obj(arg(args, 0))? {
            Obj::Basic(c) if f == AuthFn::UserId => Value::Str(c.user_id.clone()),
            Obj::Basic(c) => Value::Str(c.password.clone()),
            _ => return fail(EvalErrorKind::InvalidCast, "not BasicAuthCredentials"),
        },
        _ => {
            let o = obj(arg(args, 0))?;
            let Obj::Jwt(j) = &*o else {
                return fail(EvalErrorKind::InvalidCast, "not a Jwt");
            };
            match f {
                AuthFn::Algorithm => opt_str(j.algorithm()),
                AuthFn::Type => opt_str(j.token_type()),
                AuthFn::Claim(
                    c @ (JwtClaim::ExpirationTime | JwtClaim::IssuedAt | JwtClaim::NotBefore),
                ) => j.time_claim(c.name()).map_or(Value::Null, Value::DateTime),
                AuthFn::Claim(c) => opt_str(j.string_claim(c.name())),
                AuthFn::Audiences => strs(&j.audiences()),
                AuthFn::ClaimsCount => Value::Int(j.claim_count() as i64),
                AuthFn::ClaimsContains => Value::Bool(j.claim(s_arg(args, 1)?).is_some()),
                AuthFn::ClaimsGet => match j.claim(s_arg(args, 1)?) {
                    Some(v) => Value::Str(v.join(",").into()),
                    None => arg(args, 2).clone(),
                },
                AuthFn::ClaimsIndex => {
                    let name = s_arg(args, 1)?;
                    match j.claim(name) {
                        Some(v) => strs(v),
                        // TryGetValue's lookup (a third argument) answers null.
                        None if args.len() > 2 => Value::Null,
                        None => {
                            return fail(
                                EvalErrorKind::KeyNotFound,
                                format!(
                                    "The given key '{name}' was not present in the dictionary."
                                ),
                            )
                        }
                    }
                }
                AuthFn::AsBasic | AuthFn::AsJwt | AuthFn::UserId | AuthFn::Password => Value::Null,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use crate::context::{RequestContext, SimpleContext};
    use crate::expr::testing::{failure, show};
    use crate::expr::EvalErrorKind;

    fn token(payload: &str) -> String {
        let e = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!(
            "{}.{}.c2ln",
            e(r#"{"alg":"RS256","typ":"JWT"}"#),
            e(payload)
        )
    }

    /// APIM's own examples: the subject of the caller's bearer token, Basic credentials.
    #[test]
    fn credentials_from_headers() {
        let t = token(
            r#"{"sub":"bob","iss":"https://idp","jti":"1","aud":"api","exp":1700000000,"roles":["a","b"]}"#,
        );
        let ctx = SimpleContext::new("GET", "/")
            .with_header("Authorization", &format!("Bearer {t}"))
            .with_header("X-Basic", "Basic YWxpY2U6czNjcjN0");
        let auth = r#"context.Request.Headers.GetValueOrDefault("Authorization","")"#;
        for (expr, want) in [
            (format!("@({auth}.AsJwt()?.Subject)"), "bob"),
            (format!("@({auth}.AsJwt().Issuer + {auth}.AsJwt().Id)"), "https://idp1"),
            (format!("@({auth}.AsJwt().Algorithm + {auth}.AsJwt().Type)"), "RS256JWT"),
            (format!("@({auth}.AsJwt().Audiences.First())"), "api"),
            (format!("@({auth}.AsJwt().ExpirationTime.Value.Year)"), "2023"),
            (format!("@({auth}.AsJwt().ExpirationTime.Year)"), "2023"),
            (format!("@({auth}.AsJwt().NotBefore == null)"), "True"),
            (format!("@({auth}.AsJwt().Claims.GetValueOrDefault(\"roles\", \"\"))"), "a,b"),
            (format!("@({auth}.AsJwt().Claims.GetValueOrDefault(\"none\", \"-\"))"), "-"),
            (format!("@({auth}.AsJwt().Claims[\"roles\"][1])"), "b"),
            (format!("@({auth}.AsJwt().Claims.ContainsKey(\"sub\"))"), "True"),
            (format!("@({auth}.AsJwt().Claims.Count)"), "6"),
            (format!("@{{ Jwt jwt; return {auth}.TryParseJwt(out jwt) ? jwt.Subject : \"none\"; }}"), "bob"),
            (format!("@{{ {auth}.AsJwt().Claims.TryGetValue(\"roles\", out var r); return r.Length; }}"), "2"),
            ("@(\"not a token\".AsJwt() == null)".into(), "True"),
            ("@(\"x\".TryParseJwt(out var j) || j != null)".into(), "False"),
            (r#"@(context.Request.Headers.GetValueOrDefault("X-Basic","").AsBasic().UserId)"#.into(), "alice"),
            (r#"@{ BasicAuthCredentials c; return context.Request.Headers.GetValueOrDefault("X-Basic","").TryParseBasic(out c) ? c.Password : ""; }"#.into(), "s3cr3t"),
            (format!("@({auth}.AsBasic() == null)"), "True"),
        ] {
            assert_eq!(show(&expr, &ctx), want, "{expr}");
        }
        // A token kept in a variable comes back by cast.
        let mut ctx = ctx;
        let jwt = show(&format!("@({auth}.AsJwt().Subject)"), &ctx);
        assert_eq!(jwt, "bob");
        let parsed = crate::value::Value::Obj(std::sync::Arc::new(crate::value::Obj::Jwt(
            crate::dotnet::parse_jwt(&t).unwrap(),
        )));
        ctx.state_mut().set_variable(&"jwt".into(), parsed);
        assert_eq!(
            show(r#"@(((Jwt)context.Variables["jwt"]).Subject)"#, &ctx),
            "bob"
        );
        assert_eq!(
            show(
                r#"@(context.Variables.GetValueOrDefault<Jwt>("jwt").Subject)"#,
                &ctx
            ),
            "bob"
        );
        assert!(show(
            r#"@(((BasicAuthCredentials)context.Variables["jwt"]).UserId)"#,
            &ctx
        )
        .contains("Unable to cast"));
    }

    #[test]
    fn failures_are_dotnets() {
        assert_eq!(
            failure("@(\"x\".AsJwt().Subject)"),
            Some(EvalErrorKind::NullReference)
        );
        assert_eq!(
            failure(&format!("@(\"{}\".AsJwt().Claims[\"none\"])", token("{}"))),
            Some(EvalErrorKind::KeyNotFound)
        );
        assert!(crate::expr::testing::s("@(\"x\".AsJwt().Nope)")
            .contains("does not contain a definition"));
        assert!(crate::expr::testing::s("@(\"x\".TryParseJwt())").contains("'out var result'"));
    }
}
