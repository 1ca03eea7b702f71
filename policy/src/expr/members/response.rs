//! `IResponse` as `send-request` stores it in a variable (`(IResponse)context.Variables["r"]`):
//! `StatusCode`, `StatusReason`, `Headers` (`GetValueOrDefault`, `ContainsKey`, the indexer) and
//! `Body.As<T>(preserveContent)`, which reads and consumes the body as the request's does
//! (`members/body.rs` owns `As<T>`). Checker bindings and evaluator in one file; the data is
//! `crate::outcall::SentResponse`.

use std::sync::Arc;

use crate::expr::ast::{Expr, TypeName};
use crate::expr::bind::*;
use crate::expr::env::*;
use crate::expr::ir::*;
use crate::value::Value;

fn call(f: ResponseFn, args: Vec<Ir>) -> Ir {
    Ir::Call(Builtin::Response(f), args)
}

/// Properties of `IResponse`; its headers and body are the response itself, typed as them.
pub(crate) fn member(recv: Ir, k: ObjKind, name: &str, off: usize) -> CheckResult<(Ir, Ty)> {
    match (k, name) {
        (ObjKind::Response, "StatusCode") => {
            Ok((call(ResponseFn::StatusCode, vec![recv]), Ty::Int))
        }
        (ObjKind::Response, "StatusReason") => {
            Ok((call(ResponseFn::StatusReason, vec![recv]), Ty::Str))
        }
        (ObjKind::Response, "Headers") => Ok((recv, Ty::Obj(ObjKind::ResponseHeaders))),
        (ObjKind::Response, "Body") => Ok((recv, Ty::Obj(ObjKind::ResponseBody))),
        (ObjKind::ResponseHeaders, "Count") => {
            Ok((call(ResponseFn::HeaderCount, vec![recv]), Ty::Int))
        }
        _ => unknown_member(&Ty::Obj(k), name, off),
    }
}

/// `Headers.GetValueOrDefault(name[, default])`, `Headers.ContainsKey(name)`,
/// `Body.As<T>(preserveContent)`.
pub(crate) fn method(
    b: &mut dyn Binder,
    recv: Ir,
    k: ObjKind,
    name: &str,
    type_args: &[TypeName],
    args: &[Expr],
    off: usize,
) -> CheckResult<(Ir, Ty)> {
    match (k, name) {
        (ObjKind::ResponseHeaders, "GetValueOrDefault") => {
            let a = b.args(name, args, &[Ty::Str, Ty::Str], 1, off)?;
            Ok((call(ResponseFn::HeaderGet, with_recv(recv, a)), Ty::Str))
        }
        (ObjKind::ResponseHeaders, "ContainsKey") => {
            let a = b.args(name, args, &[Ty::Str], 1, off)?;
            Ok((
                call(ResponseFn::HeaderContains, with_recv(recv, a)),
                Ty::Bool,
            ))
        }
        (ObjKind::ResponseBody, "As") => super::body::body_as(b, recv, type_args, args, off),
        (ObjKind::ResponseBody, "AsFormUrlEncodedContent") => {
            super::body::as_form(b, recv, args, off)
        }
        _ => unknown_member(&Ty::Obj(k), name, off),
    }
}

/// `Headers[name]`: the header's values (`KeyNotFoundException` when absent).
pub(crate) fn index(b: &mut dyn Binder, recv: Ir, index: &Expr) -> CheckResult<(Ir, Ty)> {
    let key = b.coerce(index, &Ty::Str)?;
    Ok((
        call(ResponseFn::HeaderIndex, vec![recv, key]),
        Ty::Array(Box::new(Ty::Str)),
    ))
}

pub(crate) fn eval(f: ResponseFn, args: &[Value]) -> EvalResult<Value> {
    let r = super::body::sent_response(arg(args, 0))?;
    Ok(match f {
        ResponseFn::StatusCode => Value::Int(i64::from(r.status)),
        ResponseFn::StatusReason => Value::Str(r.reason.clone()),
        ResponseFn::HeaderCount => {
            let mut names: Vec<String> = r
                .headers
                .iter()
                .map(|(k, _)| k.to_ascii_lowercase())
                .collect();
            names.sort();
            names.dedup();
            Value::Int(names.len() as i64)
        }
        ResponseFn::HeaderContains => {
            Value::Bool(r.header_values(s_arg(args, 1)?).next().is_some())
        }
        ResponseFn::HeaderGet => {
            let v: Vec<&str> = r.header_values(s_arg(args, 1)?).map(|v| &**v).collect();
            if v.is_empty() {
                arg(args, 2).clone()
            } else {
                Value::Str(Arc::from(v.join(",")))
            }
        }
        ResponseFn::HeaderIndex => {
            let name = s_arg(args, 1)?;
            let v: Vec<Value> = r
                .header_values(name)
                .map(|v| Value::Str(v.clone()))
                .collect();
            if v.is_empty() {
                return fail(
                    EvalErrorKind::KeyNotFound,
                    format!("The given key '{name}' was not present in the dictionary."),
                );
            }
            Value::Array(v.into())
        }
    })
}
