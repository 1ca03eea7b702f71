//! Constant folding: evaluates the parts of an expression that need no request at compile
//! time, with the same evaluator the request path uses (so a folded constant cannot differ from
//! what the request would have computed). The checker calls it; it calls the evaluator.
//!
//! Must not: be called per request.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use super::env::Env;
use super::eval::eval;
use super::ir::Ir;
use crate::cert::Certificate;
use crate::context::{Deployment, HeaderWrite, RequestContext, RequestState, TraceEvent, UrlView};
use crate::value::Value;

/// A context with nothing in it, for compile-time folding of pure expressions.
#[derive(Default)]
struct FoldContext {
    state: RequestState,
    deployment: Deployment,
}

impl RequestContext for FoldContext {
    fn method(&self) -> &str {
        ""
    }
    fn url(&self) -> UrlView<'_> {
        UrlView {
            scheme: "",
            host: "",
            port: 0,
            path: "",
            query: "",
        }
    }
    fn request_header(&self, _: &str) -> Option<Cow<'_, str>> {
        None
    }
    fn request_header_values(&self, _: &str) -> Vec<String> {
        Vec::new()
    }
    fn request_headers(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn write_request_header(&mut self, _: &str, _: &str, _: HeaderWrite) {}
    fn remove_request_header(&mut self, _: &str) {}
    fn rewrite_url(&mut self, _: &str, _: &str) {}
    fn set_query(&mut self, _: &str) {}
    fn response_headers(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn set_method(&mut self, _: &str) {}
    fn client_ip(&self) -> IpAddr {
        IpAddr::from([0, 0, 0, 0])
    }
    fn certificate(&self) -> Option<&Arc<Certificate>> {
        None
    }
    fn verify_certificate(
        &self,
        _: &Certificate,
        _: bool,
    ) -> Result<(), crate::trust::TrustFailure> {
        Err(crate::trust::TrustFailure::Other("no request".into()))
    }
    fn deployment(&self) -> &Deployment {
        &self.deployment
    }
    fn matched_parameters(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn matched_parameter(&self, _: &str) -> Option<&str> {
        None
    }
    fn request_id(&self) -> &str {
        ""
    }
    fn response_status(&self) -> (u16, &str) {
        (0, "")
    }
    fn set_response_status(&mut self, _: u16, _: Option<&str>) {}
    fn response_header(&self, _: &str) -> Option<Cow<'_, str>> {
        None
    }
    fn write_response_header(&mut self, _: &str, _: &str, _: HeaderWrite) {}
    fn remove_response_header(&mut self, _: &str) {}
    fn set_response_body(&mut self, _: Vec<u8>) {}
    fn clear_response(&mut self) {}
    fn state(&self) -> &RequestState {
        &self.state
    }
    fn state_mut(&mut self) -> &mut RequestState {
        &mut self.state
    }
    fn trace(&mut self, _: TraceEvent) {}
    fn emit_metric(&mut self, _: crate::context::MetricEvent) {}
    fn cache(&self) -> &dyn crate::cache::CacheStore {
        // Folding evaluates expressions only; no policy runs here.
        static NONE: std::sync::LazyLock<crate::cache::LocalCache> =
            std::sync::LazyLock::new(|| crate::cache::LocalCache::new(0));
        &*NONE
    }
}

/// Evaluates a context-free node at compile time; None when it would fail.
fn eval_const(ir: &Ir, ctx: &mut FoldContext) -> Option<Value> {
    let mut env = Env::new(ctx, 0);
    eval(ir, &mut env).ok()
}

/// `ir` as a constant when every operand is one and evaluating it cannot fail.
fn try_const(ir: Ir, all_const: bool) -> Ir {
    if !all_const {
        return ir;
    }
    match eval_const(&ir, &mut FoldContext::default()) {
        Some(v) => Ir::Const(v),
        None => ir,
    }
}

/// Constant folding: evaluates a node whose inputs are constants, and short-circuits `&&`,
/// `||`, `?:` and `??` on a constant side. A fold that would fail at run time is left as is, so
/// the failure still happens per request (as `ExpressionValueEvaluationFailure`).
pub(super) fn fold(ir: Ir) -> Ir {
    match ir {
        Ir::And(items) => fold_chain(items, false),
        Ir::Or(items) => fold_chain(items, true),
        Ir::Cond(c, x, y) => match c.as_const() {
            Some(Value::Bool(true)) => *x,
            Some(Value::Bool(false)) => *y,
            _ => Ir::Cond(c, x, y),
        },
        Ir::Coalesce(a, b) => match a.as_const() {
            Some(Value::Null) => *b,
            Some(_) => *a,
            None => Ir::Coalesce(a, b),
        },
        Ir::Concat(parts) => {
            // Merge adjacent constants; fold completely when all are constant.
            let mut out: Vec<Ir> = Vec::with_capacity(parts.len());
            for p in parts {
                if let (Some(Ir::Const(Value::Str(prev))), Ir::Const(v)) = (out.last(), &p) {
                    let s = format!("{prev}{}", v.to_dotnet_string());
                    out.pop();
                    out.push(Ir::Const(Value::str(&s)));
                } else if let Ir::Const(v) = &p {
                    if !matches!(v, Value::Str(_)) {
                        out.push(Ir::Const(Value::str(&v.to_dotnet_string())));
                    } else {
                        out.push(p);
                    }
                } else {
                    out.push(p);
                }
            }
            match out.as_slice() {
                [Ir::Const(Value::Str(_))] => out.pop().unwrap_or(Ir::Const(Value::str(""))),
                [] => Ir::Const(Value::str("")),
                _ => Ir::Concat(out),
            }
        }
        ir @ (Ir::Not(_) | Ir::Neg(_) | Ir::Binary(..) | Ir::Cast(..) | Ir::NewArray(_)) => {
            let all_const = match &ir {
                Ir::Not(a) | Ir::Neg(a) | Ir::Cast(_, a) => a.as_const().is_some(),
                Ir::Binary(_, a, b) => a.as_const().is_some() && b.as_const().is_some(),
                Ir::NewArray(items) => items.iter().all(|i| i.as_const().is_some()),
                _ => false,
            };
            try_const(ir, all_const)
        }
        Ir::Call(b, args) if b.is_pure() => {
            let all_const = args.iter().all(|a| a.as_const().is_some());
            try_const(Ir::Call(b, args), all_const)
        }
        other => other,
    }
}

/// Folds an `&&` (`absorbing == false`) or `||` (`absorbing == true`) chain: a constant equal
/// to `absorbing` decides the chain when it comes before anything with effects; constants
/// equal to the identity drop out.
fn fold_chain(items: Vec<Ir>, absorbing: bool) -> Ir {
    let mut out = Vec::with_capacity(items.len());
    for i in items {
        match i.as_const() {
            Some(Value::Bool(b)) if *b == absorbing => {
                if out.is_empty() {
                    return Ir::Const(Value::Bool(absorbing));
                }
                // Later terms never run; earlier ones still do (they may fail).
                out.push(i);
                break;
            }
            Some(Value::Bool(_)) => {}
            _ => out.push(i),
        }
    }
    match out.len() {
        0 => Ir::Const(Value::Bool(!absorbing)),
        1 if !matches!(out[0], Ir::Const(_)) => {
            out.pop().unwrap_or(Ir::Const(Value::Bool(!absorbing)))
        }
        _ if absorbing => Ir::Or(out),
        _ => Ir::And(out),
    }
}
