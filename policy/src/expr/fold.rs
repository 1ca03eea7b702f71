//! Constant folding: evaluates the parts of an expression that need no request at compile
//! time, with the same evaluator the request path uses (so a folded constant cannot differ from
//! what the request would have computed). The checker calls it; it calls the evaluator.
//!
//! Must not: be called per request.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use super::eval::{eval, Env};
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
    fn write_request_header(&mut self, _: &str, _: &str, _: HeaderWrite) {}
    fn remove_request_header(&mut self, _: &str) {}
    fn rewrite_url(&mut self, _: &str, _: &str) {}
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
}

/// Evaluates a context-free node at compile time; None when it would fail.
fn eval_const(ir: &Ir, ctx: &mut FoldContext) -> Option<Value> {
    let mut env = Env::new(ctx, 0);
    eval(ir, &mut env).ok()
}

/// `ir` as a constant when every operand is one and evaluating it cannot fail.
pub(super) fn try_const(ir: Ir, all_const: bool) -> Ir {
    if !all_const {
        return ir;
    }
    match eval_const(&ir, &mut FoldContext::default()) {
        Some(v) => Ir::Const(v),
        None => ir,
    }
}
