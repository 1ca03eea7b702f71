//! `IMessageBody.As<T>(preserveContent)`: the request's body (`context.Request.Body`) and a
//! `send-request` response's (`((IResponse)r).Body`), read as `string`, `byte[]`, `JObject`,
//! `JArray`, `JToken`, `XDocument`, `XElement` or `XNode`. Reading without `preserveContent: true` consumes a body, as APIM
//! says: a second read fails. Checker binding and evaluator in one file.

use crate::expr::ast::{Expr, ExprKind, TypeName};
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::outcall::SentResponse;
use crate::value::{Obj, Value};

/// `Body.As<T>()`, `Body.As<T>(true)`, `Body.As<T>(preserveContent: true)`: T is `string`,
/// `byte[]`, `JObject`, `JArray`, `JToken`, `XDocument`, `XElement` or `XNode`.
pub(crate) fn body_as(
    b: &mut dyn Binder,
    recv: Ir,
    type_args: &[TypeName],
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let [t] = type_args else {
        return type_err(
            off,
            "'As' takes the type to read the body as, such as As<string>()",
        );
    };
    let ty = resolve_type(t, off)?;
    let kind = match &ty {
        Ty::Str => BodyAs::Str,
        Ty::Bytes => BodyAs::Bytes,
        Ty::Obj(ObjKind::Json(k @ (JsonKind::Object | JsonKind::Array | JsonKind::Token))) => {
            BodyAs::Json(*k)
        }
        Ty::Obj(ObjKind::Xml(XmlKind::Document)) => BodyAs::Xml(true),
        Ty::Obj(ObjKind::Xml(XmlKind::Element | XmlKind::Node)) => BodyAs::Xml(false),
        t => return type_err(off, format!("the body cannot be read as '{t}'; expected string, byte[], JObject, JArray, JToken, XDocument, XElement or XNode")),
    };
    let preserve = preserve_content(b, "As", args, off)?;
    Ok((
        Ir::Call(
            Builtin::Context(ContextFn::BodyAs(kind)),
            vec![recv, preserve],
        ),
        ty,
    ))
}

/// `Body.AsFormUrlEncodedContent([preserveContent])`: `members/form.rs`'s dictionary.
pub(crate) fn as_form(
    b: &mut dyn Binder,
    recv: Ir,
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    let preserve = preserve_content(b, "AsFormUrlEncodedContent", args, off)?;
    Ok((
        Ir::Call(
            Builtin::Context(ContextFn::BodyAs(BodyAs::Form)),
            vec![recv, preserve],
        ),
        super::form::FORM,
    ))
}

/// The optional `preserveContent` argument, positional or named.
fn preserve_content(b: &mut dyn Binder, m: &str, args: &[Expr], off: usize) -> CheckResult<Ir> {
    Ok(match args {
        [] => Ir::Const(Value::Bool(false)),
        [a] => match &a.kind {
            ExprKind::Named { name, value } if name == "preserveContent" => {
                b.coerce(value, &Ty::Bool)?
            }
            ExprKind::Named { name, .. } => {
                return type_err(
                    a.offset,
                    format!("'{m}' has no parameter named '{name}'; expected preserveContent"),
                )
            }
            _ => b.coerce(a, &Ty::Bool)?,
        },
        _ => return type_err(off, format!("'{m}' takes at most preserveContent")),
    })
}

/// The response a receiver holds: null (a variable `ignore-error` left null) is a
/// `NullReferenceException`, as in .NET.
pub(crate) fn sent_response(v: &Value) -> EvalResult<&SentResponse> {
    match v {
        Value::Obj(o) => match &**o {
            Obj::Response(r) => Ok(r),
            _ => fail(EvalErrorKind::InvalidCast, "not an IResponse"),
        },
        _ => fail(EvalErrorKind::NullReference, NULL_REF),
    }
}

/// `As<T>(preserve)` on the body its receiver stands for: a sent response's, or the request's.
pub(crate) fn eval(kind: BodyAs, args: &[Value], env: &mut Env) -> EvalResult<Value> {
    let preserve = matches!(arg(args, 1), Value::Bool(true));
    if let Value::Handle(crate::value::Handle::ResponseBody) = arg(args, 0) {
        // The response's body as the gateway holds it; certgate does not consume it (the
        // client gets it unless a policy sets another).
        let Some(body) = env.ctx.response_body() else {
            return fail(EvalErrorKind::NullReference, NULL_REF);
        };
        return body_value(kind, body, env);
    }
    if let Value::Obj(_) = arg(args, 0) {
        let Some(body) = sent_response(arg(args, 0))?.read_body(preserve) else {
            return fail(
                EvalErrorKind::Other,
                "The response body was already read; read it with preserveContent: true to read it again.",
            );
        };
        return body_value(kind, body, env);
    }
    let ctx = env.ctx;
    let Some(body) = ctx.request_body() else {
        return fail(EvalErrorKind::NullReference, NULL_REF);
    };
    let consumed = &ctx.state().request_body_consumed;
    if consumed.load(std::sync::atomic::Ordering::Relaxed) {
        return fail(
            EvalErrorKind::Other,
            "The request body was already read; read it with preserveContent: true to read it again.",
        );
    }
    if !preserve {
        consumed.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    body_value(kind, body, env)
}

/// A message body read as `As<T>()` reads it.
fn body_value(kind: BodyAs, body: &[u8], env: &mut Env) -> EvalResult<Value> {
    Ok(match kind {
        BodyAs::Bytes => Value::Bytes(body.into()),
        BodyAs::Str => Value::Str(String::from_utf8_lossy(body).into()),
        BodyAs::Form => return super::form::from_body(body, env),
        BodyAs::Xml(document) => {
            let text = String::from_utf8_lossy(body);
            return super::xml::parse(&text, document, false, env);
        }
        BodyAs::Json(k) => {
            env.charge_bytes(body.len())?;
            let text = String::from_utf8_lossy(body);
            return super::json::eval(JsonFn::Parse(k), &[Value::Str(text.into())], env);
        }
    })
}
