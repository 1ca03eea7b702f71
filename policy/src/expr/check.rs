//! The type checker: lowers the syntax tree to typed [`Ir`], resolving every member and method
//! against the object model APIM exposes (`context`, strings, dates, certificates, LINQ).
//!
//! Also where compile-time work happens so requests don't pay for it: constant folding (a
//! condition made constant by named values folds away), route constants (`context.Api.Name`),
//! and the rewrite of `Certificates.Any(c => c.Value.Thumbprint == x)` into a hash-set lookup.

use std::sync::Arc;

use super::ast::*;
use super::fold::try_const;
use super::ir::*;
use crate::context::RouteInfo;
use crate::dotnet::{NameType, StringComparison};
use crate::value::{EnumValue, Handle, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckErrorKind {
    Syntax,
    Type,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckError {
    pub offset: usize,
    pub kind: CheckErrorKind,
    pub message: String,
}

type R<T> = Result<T, CheckError>;

fn type_err<T>(offset: usize, message: impl Into<String>) -> R<T> {
    Err(CheckError {
        offset,
        kind: CheckErrorKind::Type,
        message: message.into(),
    })
}

/// A checked expression: IR, result type and the number of local slots it needs.
#[derive(Clone, Debug)]
pub struct Checked {
    pub ir: Ir,
    pub ty: Ty,
    pub slots: u16,
}

pub struct Checker<'a> {
    route: &'a RouteInfo,
    locals: Vec<(String, u16, Ty)>,
    next_slot: u16,
    max_slots: u16,
    returns: Vec<(Ty, usize)>,
}

const MAX_SLOTS: u16 = 1024;

impl<'a> Checker<'a> {
    pub fn new(route: &'a RouteInfo) -> Checker<'a> {
        Checker {
            route,
            locals: Vec::new(),
            next_slot: 0,
            max_slots: 0,
            returns: Vec::new(),
        }
    }

    pub fn check_expression(mut self, e: &Expr) -> R<Checked> {
        let (ir, ty) = self.expr(e)?;
        if matches!(ty, Ty::Static(_) | Ty::Namespace(_)) {
            return type_err(e.offset, format!("'{ty}' is a type, not a value"));
        }
        Ok(Checked {
            ir,
            ty,
            slots: self.max_slots,
        })
    }

    pub fn check_block(mut self, stmts: &[Stmt], end_offset: usize) -> R<Checked> {
        let body = self.stmts(stmts)?;
        if !definitely_returns(&body) {
            return type_err(
                end_offset,
                "not all code paths return a value; expected a 'return' statement",
            );
        }
        let mut ty = Ty::Null;
        for (t, off) in &self.returns {
            ty = match unify(&ty, t) {
                Some(u) => u,
                None => {
                    return type_err(
                        *off,
                        format!("return type '{t}' differs from an earlier return of type '{ty}'"),
                    )
                }
            };
        }
        if ty == Ty::Void {
            return type_err(end_offset, "a policy expression block must return a value");
        }
        Ok(Checked {
            ir: Ir::Block(body),
            ty,
            slots: self.max_slots,
        })
    }

    // ---- locals ----

    fn declare(&mut self, name: &str, ty: Ty, offset: usize) -> R<u16> {
        if self.locals.iter().any(|(n, _, _)| n == name) || name == "context" {
            return type_err(
                offset,
                format!("a local named '{name}' is already defined in this scope"),
            );
        }
        let slot = self.alloc_slot(offset)?;
        self.locals.push((name.to_string(), slot, ty));
        Ok(slot)
    }

    fn alloc_slot(&mut self, offset: usize) -> R<u16> {
        let slot = self.next_slot;
        if slot >= MAX_SLOTS {
            return type_err(offset, "too many locals");
        }
        self.next_slot += 1;
        self.max_slots = self.max_slots.max(self.next_slot);
        Ok(slot)
    }

    fn scope<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        let (n, s) = (self.locals.len(), self.next_slot);
        let r = f(self);
        self.locals.truncate(n);
        self.next_slot = s;
        r
    }

    // ---- statements ----

    fn stmts(&mut self, stmts: &[Stmt]) -> R<Vec<IrStmt>> {
        self.scope(|c| {
            stmts
                .iter()
                .map(|s| c.stmt(s))
                .collect::<R<Vec<_>>>()
                .map(|v| v.into_iter().flatten().collect())
        })
    }

    fn stmt(&mut self, s: &Stmt) -> R<Vec<IrStmt>> {
        Ok(match &s.kind {
            StmtKind::Block(b) => vec![IrStmt::If(
                Ir::Const(Value::Bool(true)),
                self.stmts(b)?,
                Vec::new(),
            )],
            StmtKind::Decl { ty, name, init } => {
                let declared = ty.as_ref().map(|t| resolve_type(t, s.offset)).transpose()?;
                let (ir, ty) = match (init, declared) {
                    (Some(e), None) => {
                        let (ir, t) = self.expr(e)?;
                        if t == Ty::Null {
                            return type_err(e.offset, "cannot assign null to an implicitly-typed variable; expected a typed declaration");
                        }
                        if t == Ty::Void || matches!(t, Ty::Static(_) | Ty::Namespace(_)) {
                            return type_err(
                                e.offset,
                                format!("cannot assign '{t}' to a variable"),
                            );
                        }
                        (ir, t)
                    }
                    (Some(e), Some(t)) => (self.coerce(e, &t)?, t),
                    (None, Some(t)) => (Ir::Const(Value::Null), t),
                    (None, None) => {
                        return type_err(s.offset, "implicitly-typed variables must be initialised")
                    }
                };
                let slot = self.declare(name, ty, s.offset)?;
                vec![IrStmt::Eval(Ir::Assign(slot, Box::new(ir)))]
            }
            StmtKind::Expr(e) => {
                if !matches!(e.kind, ExprKind::Assign { .. } | ExprKind::Call { .. }) {
                    return type_err(
                        e.offset,
                        "only assignment and call expressions can be used as a statement",
                    );
                }
                vec![IrStmt::Eval(self.expr(e)?.0)]
            }
            StmtKind::If { cond, then, els } => {
                let c = self.coerce(cond, &Ty::Bool)?;
                let t = self.scope(|c| c.stmt(then))?;
                let e = match els {
                    Some(e) => self.scope(|c| c.stmt(e))?,
                    None => Vec::new(),
                };
                match c {
                    Ir::Const(Value::Bool(true)) => vec![IrStmt::If(c, t, Vec::new())],
                    Ir::Const(Value::Bool(false)) => {
                        vec![IrStmt::If(Ir::Const(Value::Bool(true)), e, Vec::new())]
                    }
                    c => vec![IrStmt::If(c, t, e)],
                }
            }
            StmtKind::Return(v) => {
                match v {
                    Some(e) => {
                        let (ir, ty) = self.expr(e)?;
                        self.returns.push((ty, e.offset));
                        vec![IrStmt::Return(ir)]
                    }
                    None => return type_err(
                        s.offset,
                        "a policy expression must return a value; expected 'return <expression>;'",
                    ),
                }
            }
            StmtKind::Foreach {
                ty,
                name,
                iter,
                body,
            } => {
                let (it, ity) = self.expr(iter)?;
                let elem = match &ity {
                    Ty::Array(e) => (**e).clone(),
                    Ty::Str => Ty::Char,
                    Ty::Handle(Handle::Certificates) => {
                        Ty::Pair(Box::new(Ty::Str), Box::new(Ty::Cert))
                    }
                    Ty::Bytes => Ty::Int,
                    other => {
                        return type_err(
                            iter.offset,
                            format!("foreach cannot iterate over '{other}'"),
                        )
                    }
                };
                let it = match ity {
                    Ty::Handle(Handle::Certificates) => Ir::Call(Builtin::CertsAsArray, vec![it]),
                    _ => it,
                };
                let elem = match ty {
                    Some(t) => resolve_type(t, s.offset)?,
                    None => elem,
                };
                self.scope(|c| {
                    let slot = c.declare(name, elem, s.offset)?;
                    let b = c.stmt(body)?;
                    Ok(vec![IrStmt::Foreach(slot, it, b)])
                })?
            }
        })
    }

    // ---- expressions ----

    /// Checks `e` and converts it to `want` (implicit conversions only).
    pub fn coerce(&mut self, e: &Expr, want: &Ty) -> R<Ir> {
        let (ir, ty) = self.expr(e)?;
        convert(ir, &ty, want, e.offset)
    }

    pub fn expr(&mut self, e: &Expr) -> R<(Ir, Ty)> {
        let off = e.offset;
        match &e.kind {
            ExprKind::Lit(l) => Ok(match l {
                Lit::Null => (Ir::Const(Value::Null), Ty::Null),
                Lit::Bool(b) => (Ir::Const(Value::Bool(*b)), Ty::Bool),
                Lit::Int(i) => (Ir::Const(Value::Int(*i)), Ty::Int),
                Lit::Double(d) => (Ir::Const(Value::Double(*d)), Ty::Double),
                Lit::Str(s) => (Ir::Const(Value::str(s)), Ty::Str),
                Lit::Char(c) => (Ir::Const(Value::Char(*c)), Ty::Char),
            }),
            ExprKind::Ident(name) => self.ident(name, off),
            ExprKind::Member {
                target,
                name,
                null_cond,
            } => {
                let (t, tty) = self.expr(target)?;
                self.with_receiver(t, tty, *null_cond, off, |c, recv, rty| {
                    c.member(recv, &rty, name, off)
                })
            }
            ExprKind::Call {
                target,
                name,
                type_args,
                args,
                null_cond,
            } => {
                let (t, tty) = self.expr(target)?;
                self.with_receiver(t, tty, *null_cond, off, |c, recv, rty| {
                    c.call(recv, &rty, name, type_args, args, off)
                })
            }
            ExprKind::Invoke { name, .. } => type_err(
                off,
                format!(
                    "'{name}' is not a known method; expected a member call such as x.{name}(...)"
                ),
            ),
            ExprKind::Index {
                target,
                index,
                null_cond,
            } => {
                let (t, tty) = self.expr(target)?;
                self.with_receiver(t, tty, *null_cond, off, |c, recv, rty| {
                    c.index(recv, &rty, index, off)
                })
            }
            ExprKind::Unary(op, inner) => {
                let (ir, ty) = self.expr(inner)?;
                match op {
                    UnOp::Not => {
                        let ir = convert(ir, &ty, &Ty::Bool, inner.offset)?;
                        Ok((fold(Ir::Not(Box::new(ir))), Ty::Bool))
                    }
                    UnOp::Neg => {
                        if !matches!(ty, Ty::Int | Ty::Double | Ty::TimeSpan) {
                            return type_err(
                                off,
                                format!("operator '-' cannot be applied to '{ty}'"),
                            );
                        }
                        Ok((fold(Ir::Neg(Box::new(ir))), ty))
                    }
                }
            }
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r, off),
            ExprKind::Cond(c, t, f) => {
                let c = self.coerce(c, &Ty::Bool)?;
                let (ti, tt) = self.expr(t)?;
                let (fi, ft) = self.expr(f)?;
                let Some(ty) = unify(&tt, &ft) else {
                    return type_err(
                        off,
                        format!("conditional branches have different types '{tt}' and '{ft}'"),
                    );
                };
                let ti = convert(ti, &tt, &ty, t.offset)?;
                let fi = convert(fi, &ft, &ty, f.offset)?;
                Ok((fold(Ir::Cond(Box::new(c), Box::new(ti), Box::new(fi))), ty))
            }
            ExprKind::Lambda { .. } => type_err(
                off,
                "a lambda is only allowed as an argument of Any, All, Where, Select, First, Count",
            ),
            ExprKind::New { ty, args } => self.new_object(ty, args, off),
            ExprKind::NewArray { elem, items } => {
                let mut irs = Vec::new();
                let mut ety = match elem {
                    Some(t) => Some(resolve_type(t, off)?),
                    None => None,
                };
                let mut checked = Vec::new();
                for it in items {
                    checked.push((self.expr(it)?, it.offset));
                }
                if ety.is_none() {
                    let mut u = Ty::Null;
                    for ((_, t), o) in &checked {
                        u = unify(&u, t).ok_or_else(|| CheckError {
                            offset: *o,
                            kind: CheckErrorKind::Type,
                            message: "no best type found for the implicitly-typed array".into(),
                        })?;
                    }
                    if u == Ty::Null {
                        return type_err(off, "no best type found for the implicitly-typed array");
                    }
                    ety = Some(u);
                }
                let ety = ety.unwrap_or(Ty::Object);
                for ((ir, t), o) in checked {
                    irs.push(convert(ir, &t, &ety, o)?);
                }
                if ety == Ty::Int && elem.as_ref().is_some_and(|t| t.name == "byte") {
                    return Ok((fold(Ir::NewArray(irs)), Ty::Array(Box::new(Ty::Int))));
                }
                Ok((fold(Ir::NewArray(irs)), Ty::Array(Box::new(ety))))
            }
            ExprKind::Cast { ty, expr } => {
                let to = resolve_type(ty, off)?;
                let (ir, from) = self.expr(expr)?;
                if let Ok(ir) = convert(ir.clone(), &from, &to, off) {
                    return Ok((ir, to));
                }
                let explicit_ok = matches!(from, Ty::Object | Ty::Null)
                    || (from.is_numeric() && to.is_numeric())
                    || (from == Ty::DistName && to == Ty::Str);
                let Some(cast) = CastTo::of(&to) else {
                    return type_err(off, format!("cannot cast to '{to}'"));
                };
                if !explicit_ok {
                    return type_err(off, format!("cannot convert type '{from}' to '{to}'"));
                }
                Ok((fold(Ir::Cast(cast, Box::new(ir))), to))
            }
            ExprKind::Is { expr, ty } => {
                let to = resolve_type(ty, off)?;
                let (ir, _) = self.expr(expr)?;
                let cast = CastTo::of(&to).ok_or_else(|| CheckError {
                    offset: off,
                    kind: CheckErrorKind::Type,
                    message: format!("cannot test for type '{to}'"),
                })?;
                Ok((Ir::Is(cast, Box::new(ir)), Ty::Bool))
            }
            ExprKind::As { expr, ty } => {
                let to = resolve_type(ty, off)?;
                if !to.is_reference() {
                    return type_err(
                        off,
                        format!("the 'as' operator needs a reference type, not '{to}'"),
                    );
                }
                let (ir, _) = self.expr(expr)?;
                let cast = CastTo::of(&to).ok_or_else(|| CheckError {
                    offset: off,
                    kind: CheckErrorKind::Type,
                    message: format!("cannot convert to '{to}'"),
                })?;
                Ok((Ir::As(cast, Box::new(ir)), to))
            }
            ExprKind::Interp(segs) => {
                let mut parts = Vec::new();
                for s in segs {
                    match s {
                        InterpSeg::Lit(l) => parts.push(Ir::Const(Value::str(l))),
                        InterpSeg::Hole(e, fmt) => {
                            let (ir, ty) = self.expr(e)?;
                            check_printable(&ty, e.offset)?;
                            parts.push(match fmt {
                                Some(f) => Ir::Format(Box::new(ir), f.as_str().into()),
                                None => ir,
                            });
                        }
                    }
                }
                Ok((fold(Ir::Concat(parts)), Ty::Str))
            }
            ExprKind::Assign { target, op, value } => {
                let Some((_, slot, ty)) = self
                    .locals
                    .iter()
                    .rev()
                    .find(|(n, _, _)| n == target)
                    .cloned()
                else {
                    return type_err(
                        off,
                        format!("'{target}' is not a local variable; only locals can be assigned"),
                    );
                };
                let ir = match op {
                    None => self.coerce(value, &ty)?,
                    Some(op) => {
                        let l = Expr {
                            kind: ExprKind::Ident(target.clone()),
                            offset: off,
                        };
                        let (ir, rty) = self.binary(*op, &l, value, off)?;
                        convert(ir, &rty, &ty, off)?
                    }
                };
                Ok((Ir::Assign(slot, Box::new(ir)), ty))
            }
            ExprKind::Default(t) => {
                let ty = resolve_type(t, off)?;
                let v = match ty {
                    Ty::Int => Value::Int(0),
                    Ty::Double => Value::Double(0.0),
                    Ty::Bool => Value::Bool(false),
                    _ => Value::Null,
                };
                Ok((Ir::Const(v), ty))
            }
        }
    }

    /// Member access and calls on `target?.`: the rest of the chain runs only when the target
    /// is not null. A chain continuing after a `?.` is moved inside it, as C# short-circuits
    /// the whole chain.
    fn with_receiver(
        &mut self,
        recv: Ir,
        rty: Ty,
        null_cond: bool,
        off: usize,
        f: impl FnOnce(&mut Self, Ir, Ty) -> R<(Ir, Ty)>,
    ) -> R<(Ir, Ty)> {
        if let Ir::NullCond { target, slot, then } = recv {
            let (inner, ty) = self.with_receiver(*then, rty, null_cond, off, f)?;
            return Ok((
                Ir::NullCond {
                    target,
                    slot,
                    then: Box::new(inner),
                },
                ty,
            ));
        }
        if null_cond {
            if !rty.is_reference() {
                return type_err(
                    off,
                    format!("'?.' needs a value that can be null, not '{rty}'"),
                );
            }
            let slot = self.alloc_slot(off)?;
            let (inner, ty) = f(self, Ir::Local(slot), rty)?;
            return Ok((
                Ir::NullCond {
                    target: Box::new(recv),
                    slot,
                    then: Box::new(inner),
                },
                ty,
            ));
        }
        f(self, recv, rty)
    }

    fn ident(&mut self, name: &str, off: usize) -> R<(Ir, Ty)> {
        if let Some((_, slot, ty)) = self.locals.iter().rev().find(|(n, _, _)| n == name) {
            return Ok((Ir::Local(*slot), ty.clone()));
        }
        let stat = |s| Ok((Ir::Const(Value::Null), Ty::Static(s)));
        match name {
            "context" => Ok((Ir::Const(Value::Handle(Handle::Context)), Ty::Handle(Handle::Context))),
            "String" | "string" => stat(Static::String),
            "DateTime" => stat(Static::DateTime),
            "TimeSpan" => stat(Static::TimeSpan),
            "Convert" => stat(Static::Convert),
            "WebUtility" => stat(Static::WebUtility),
            "Encoding" => stat(Static::Encoding),
            "JsonConvert" => stat(Static::JsonConvert),
            "Math" => stat(Static::Math),
            "Guid" => stat(Static::Guid),
            "StringComparison" => stat(Static::StringComparison),
            "X509NameType" => stat(Static::X509NameType),
            "System" => Ok((Ir::Const(Value::Null), Ty::Namespace("System"))),
            _ => type_err(off, format!("the name '{name}' does not exist in the current context; expected 'context', a local or a type name")),
        }
    }

    fn member(&mut self, recv: Ir, rty: &Ty, name: &str, off: usize) -> R<(Ir, Ty)> {
        let h = |h: Handle| Ok((Ir::Const(Value::Handle(h)), Ty::Handle(h)));
        let call = |b: Builtin, ty: Ty| Ok((Ir::Call(b, vec![recv.clone()]), ty));
        let konst = |s: &Arc<str>| Ok((Ir::Const(Value::Str(s.clone())), Ty::Str));
        let r: R<(Ir, Ty)> = match (rty, name) {
            (Ty::Handle(Handle::Context), "Request") => h(Handle::Request),
            (Ty::Handle(Handle::Context), "Response") => h(Handle::Response),
            (Ty::Handle(Handle::Context), "Variables") => h(Handle::Variables),
            (Ty::Handle(Handle::Context), "Deployment") => h(Handle::Deployment),
            (Ty::Handle(Handle::Context), "LastError") => h(Handle::LastError),
            (Ty::Handle(Handle::Context), "Api") => h(Handle::Api),
            (Ty::Handle(Handle::Context), "Operation") => h(Handle::Operation),
            (Ty::Handle(Handle::Context), "RequestId") => call(Builtin::RequestId, Ty::Str),
            (Ty::Handle(Handle::Context), "Timestamp") => call(Builtin::UtcNow, Ty::DateTime),
            (Ty::Handle(Handle::Request), "Method") => call(Builtin::RequestMethod, Ty::Str),
            (Ty::Handle(Handle::Request), "IpAddress") => call(Builtin::RequestIp, Ty::Str),
            (Ty::Handle(Handle::Request), "Certificate") => {
                call(Builtin::RequestCertificate, Ty::Cert)
            }
            (Ty::Handle(Handle::Request), "Headers") => h(Handle::RequestHeaders),
            (Ty::Handle(Handle::Request), "Url") => h(Handle::Url),
            (Ty::Handle(Handle::Request), "OriginalUrl") => h(Handle::OriginalUrl),
            (Ty::Handle(Handle::Request), "MatchedParameters") => h(Handle::MatchedParameters),
            (Ty::Handle(Handle::Response), "StatusCode") => {
                call(Builtin::ResponseStatusCode, Ty::Int)
            }
            (Ty::Handle(Handle::Response), "StatusReason") => {
                call(Builtin::ResponseStatusReason, Ty::Str)
            }
            (Ty::Handle(Handle::Response), "Headers") => h(Handle::ResponseHeaders),
            (Ty::Handle(u @ (Handle::Url | Handle::OriginalUrl)), part) => {
                let p = match part {
                    "Scheme" => UrlPart::Scheme,
                    "Host" => UrlPart::Host,
                    "Port" => {
                        return Ok((Ir::Call(Builtin::Url(UrlPart::Port), vec![recv]), Ty::Int))
                    }
                    "Path" => UrlPart::Path,
                    "QueryString" => UrlPart::QueryString,
                    "Query" => {
                        return h(if *u == Handle::Url {
                            Handle::Query
                        } else {
                            Handle::OriginalQuery
                        })
                    }
                    _ => return self.unknown_member(rty, name, off),
                };
                call(Builtin::Url(p), Ty::Str)
            }
            (Ty::Handle(Handle::Deployment), "Certificates") => h(Handle::Certificates),
            (Ty::Handle(Handle::Deployment), "ServiceName") => {
                call(Builtin::DeploymentServiceName, Ty::Str)
            }
            (Ty::Handle(Handle::Deployment), "GatewayId") => {
                call(Builtin::DeploymentGatewayId, Ty::Str)
            }
            (Ty::Handle(Handle::Deployment), "Region") => call(Builtin::DeploymentRegion, Ty::Str),
            (Ty::Handle(Handle::Certificates), "Count") => call(Builtin::CertsCount, Ty::Int),
            (Ty::Handle(Handle::LastError), f) => {
                let field = match f {
                    "Source" => ErrorField::Source,
                    "Reason" => ErrorField::Reason,
                    "Message" => ErrorField::Message,
                    "Scope" => ErrorField::Scope,
                    "Section" => ErrorField::Section,
                    "Path" => ErrorField::Path,
                    "PolicyId" => ErrorField::PolicyId,
                    _ => return self.unknown_member(rty, name, off),
                };
                call(Builtin::LastError(field), Ty::Str)
            }
            (Ty::Handle(Handle::Api), "Name") => konst(&self.route.api_name),
            (Ty::Handle(Handle::Api), "Id") => konst(&self.route.api_id),
            (Ty::Handle(Handle::Api), "Path") => konst(&self.route.api_path),
            (Ty::Handle(Handle::Operation), "Name") => konst(&self.route.operation_name),
            (Ty::Handle(Handle::Operation), "Id") => konst(&self.route.operation_id),
            (Ty::Handle(Handle::Operation), "Method") => konst(&self.route.operation_method),
            (Ty::Handle(Handle::Operation), "UrlTemplate") => {
                konst(&self.route.operation_url_template)
            }
            (Ty::Pair(k, _), "Key") => call(Builtin::PairKey, (**k).clone()),
            (Ty::Pair(_, v), "Value") => call(Builtin::PairValue, (**v).clone()),
            (Ty::Cert, m) => {
                let (b, t) = match m {
                    "Thumbprint" => (Builtin::CertThumbprint, Ty::Str),
                    "Subject" => (Builtin::CertSubject, Ty::Str),
                    "Issuer" => (Builtin::CertIssuer, Ty::Str),
                    "SubjectName" => (Builtin::CertSubject, Ty::DistName),
                    "IssuerName" => (Builtin::CertIssuer, Ty::DistName),
                    "SerialNumber" => (Builtin::CertSerialNumber, Ty::Str),
                    "NotBefore" => (Builtin::CertNotBefore, Ty::DateTime),
                    "NotAfter" => (Builtin::CertNotAfter, Ty::DateTime),
                    "RawData" => (Builtin::CertRawData, Ty::Bytes),
                    "Version" => (Builtin::CertVersion, Ty::Int),
                    "SignatureAlgorithm" => (Builtin::CertSignatureAlgorithm, Ty::Oid),
                    "HasPrivateKey" => (Builtin::CertHasPrivateKey, Ty::Bool),
                    "Extensions" => (Builtin::CertExtensions, Ty::Extensions),
                    _ => return self.unknown_member(rty, name, off),
                };
                call(b, t)
            }
            // Name/FriendlyName are the runtime representation of these wrapper types.
            (Ty::DistName, "Name") => Ok((recv, Ty::Str)),
            (Ty::Oid, "Value") => call(Builtin::PairKey, Ty::Str),
            (Ty::Oid, "FriendlyName") => call(Builtin::PairValue, Ty::Str),
            (Ty::Extensions, "Count") => call(Builtin::ArrLength, Ty::Int),
            (Ty::Extension, "Oid") => call(Builtin::ExtensionOid, Ty::Oid),
            (Ty::Extension, "Critical") => call(Builtin::ExtensionCritical, Ty::Bool),
            (Ty::Extension, "RawData") => call(Builtin::ExtensionRawData, Ty::Bytes),
            (Ty::Str, "Length") => call(Builtin::StrLength, Ty::Int),
            (Ty::Array(_), "Length") => call(Builtin::ArrLength, Ty::Int),
            (Ty::Bytes, "Length") => call(Builtin::ArrLength, Ty::Int),
            (Ty::DateTime, part) => match part {
                "Year" | "Month" | "Day" | "Hour" | "Minute" | "Second" | "Millisecond"
                | "DayOfYear" => {
                    let k = match part {
                        "Year" => DatePartKind::Year,
                        "Month" => DatePartKind::Month,
                        "Day" => DatePartKind::Day,
                        "Hour" => DatePartKind::Hour,
                        "Minute" => DatePartKind::Minute,
                        "Second" => DatePartKind::Second,
                        "Millisecond" => DatePartKind::Millisecond,
                        _ => DatePartKind::DayOfYear,
                    };
                    call(Builtin::DatePart(k), Ty::Int)
                }
                "Date" => call(Builtin::DateDate, Ty::DateTime),
                "Ticks" => call(Builtin::DateTicks, Ty::Int),
                _ => self.unknown_member(rty, name, off),
            },
            (Ty::TimeSpan, m) => {
                let b = match m {
                    "TotalDays" => Builtin::SpanTotal(864_000_000_000),
                    "TotalHours" => Builtin::SpanTotal(36_000_000_000),
                    "TotalMinutes" => Builtin::SpanTotal(600_000_000),
                    "TotalSeconds" => Builtin::SpanTotal(10_000_000),
                    "TotalMilliseconds" => Builtin::SpanTotal(10_000),
                    "Days" => Builtin::SpanPart(SpanPartKind::Days),
                    "Hours" => Builtin::SpanPart(SpanPartKind::Hours),
                    "Minutes" => Builtin::SpanPart(SpanPartKind::Minutes),
                    "Seconds" => Builtin::SpanPart(SpanPartKind::Seconds),
                    "Milliseconds" => Builtin::SpanPart(SpanPartKind::Milliseconds),
                    "Ticks" => Builtin::SpanPart(SpanPartKind::Ticks),
                    _ => return self.unknown_member(rty, name, off),
                };
                let ty = if matches!(b, Builtin::SpanTotal(_)) {
                    Ty::Double
                } else {
                    Ty::Int
                };
                call(b, ty)
            }
            (Ty::Static(Static::DateTime), "Now") => {
                Ok((Ir::Call(Builtin::Now, vec![]), Ty::DateTime))
            }
            (Ty::Static(Static::DateTime), "UtcNow") => {
                Ok((Ir::Call(Builtin::UtcNow, vec![]), Ty::DateTime))
            }
            (Ty::Static(Static::DateTime), "Today") => Ok((
                Ir::Call(Builtin::DateDate, vec![Ir::Call(Builtin::Now, vec![])]),
                Ty::DateTime,
            )),
            (Ty::Static(Static::TimeSpan), "Zero") => Ok((
                Ir::Const(Value::TimeSpan(crate::dotnet::TimeSpan(0))),
                Ty::TimeSpan,
            )),
            (Ty::Static(Static::String), "Empty") => Ok((Ir::Const(Value::str("")), Ty::Str)),
            (Ty::Static(Static::Encoding), "UTF8" | "ASCII" | "Default") => {
                Ok((Ir::Const(Value::Null), Ty::Static(Static::Utf8)))
            }
            (Ty::Static(Static::StringComparison), v) => {
                let c = match v {
                    "Ordinal" | "InvariantCulture" | "CurrentCulture" => StringComparison::Ordinal,
                    "OrdinalIgnoreCase"
                    | "InvariantCultureIgnoreCase"
                    | "CurrentCultureIgnoreCase" => StringComparison::IgnoreCase,
                    _ => return self.unknown_member(rty, name, off),
                };
                Ok((
                    Ir::Const(Value::Enum(EnumValue::StringComparison(c))),
                    Ty::StringComparison,
                ))
            }
            (Ty::Static(Static::X509NameType), v) => {
                let n = match v {
                    "SimpleName" => NameType::SimpleName,
                    "EmailName" => NameType::EmailName,
                    "UpnName" => NameType::UpnName,
                    "DnsName" => NameType::DnsName,
                    "DnsFromAlternativeName" => NameType::DnsFromAlternativeName,
                    "UrlName" => NameType::UrlName,
                    _ => return self.unknown_member(rty, name, off),
                };
                Ok((Ir::Const(Value::Enum(EnumValue::NameType(n))), Ty::NameType))
            }
            (Ty::Namespace(ns), n) => {
                let full = format!("{ns}.{n}");
                let t = match full.as_str() {
                    "System.Net" => Ty::Namespace("System.Net"),
                    "System.Text" => Ty::Namespace("System.Text"),
                    "System.Net.WebUtility" => Ty::Static(Static::WebUtility),
                    "System.Text.Encoding" => Ty::Static(Static::Encoding),
                    "System.String" => Ty::Static(Static::String),
                    "System.DateTime" => Ty::Static(Static::DateTime),
                    "System.TimeSpan" => Ty::Static(Static::TimeSpan),
                    "System.Convert" => Ty::Static(Static::Convert),
                    "System.Math" => Ty::Static(Static::Math),
                    "System.StringComparison" => Ty::Static(Static::StringComparison),
                    _ => {
                        return type_err(
                            off,
                            format!(
                            "the type or namespace '{full}' is not available in policy expressions"
                        ),
                        )
                    }
                };
                Ok((Ir::Const(Value::Null), t))
            }
            _ => self.unknown_member(rty, name, off),
        };
        r
    }

    fn unknown_member<T>(&self, rty: &Ty, name: &str, off: usize) -> R<T> {
        type_err(
            off,
            format!("'{rty}' does not contain a definition for '{name}'"),
        )
    }

    /// Checks arguments against parameter types; `required` of them must be present.
    fn args(
        &mut self,
        method: &str,
        args: &[Expr],
        params: &[Ty],
        required: usize,
        off: usize,
    ) -> R<Vec<Ir>> {
        if args.len() < required || args.len() > params.len() {
            let n = if required == params.len() {
                format!("{required}")
            } else {
                format!("{required} to {}", params.len())
            };
            return type_err(
                off,
                format!("'{method}' takes {n} argument(s), {} given", args.len()),
            );
        }
        args.iter()
            .zip(params)
            .map(|(a, p)| self.coerce(a, p))
            .collect()
    }

    fn call(
        &mut self,
        recv: Ir,
        rty: &Ty,
        name: &str,
        type_args: &[TypeName],
        args: &[Expr],
        off: usize,
    ) -> R<(Ir, Ty)> {
        let with_recv = |recv: Ir, mut v: Vec<Ir>| {
            v.insert(0, recv);
            v
        };
        // Methods every value has.
        if name == "ToString" && !matches!(rty, Ty::Static(_) | Ty::Namespace(_)) {
            if args.is_empty() {
                return Ok((fold(Ir::Call(Builtin::ToStringDyn, vec![recv])), Ty::Str));
            }
            let a = self.args(name, args, &[Ty::Str], 1, off)?;
            return Ok((
                fold(Ir::Call(Builtin::ToStringFormat, with_recv(recv, a))),
                Ty::Str,
            ));
        }
        let linq = match name {
            "Any" => Some(Linq::Any),
            "All" => Some(Linq::All),
            "Where" => Some(Linq::Where),
            "Select" => Some(Linq::Select),
            "First" => Some(Linq::First),
            "FirstOrDefault" => Some(Linq::FirstOrDefault),
            "Last" => Some(Linq::Last),
            "LastOrDefault" => Some(Linq::LastOrDefault),
            "Count" => Some(Linq::Count),
            _ => None,
        };
        if let Some(op) = linq {
            let elem = match rty {
                Ty::Array(e) => Some((**e).clone()),
                Ty::Extensions => Some(Ty::Extension),
                Ty::Handle(Handle::Certificates) => {
                    Some(Ty::Pair(Box::new(Ty::Str), Box::new(Ty::Cert)))
                }
                Ty::Str => Some(Ty::Char),
                _ => None,
            };
            if let Some(elem) = elem {
                return self.linq(op, recv, rty, elem, args, off);
            }
        }
        let dict = |h: Handle| -> Option<(Builtin, Builtin, Ty)> {
            match h {
                Handle::RequestHeaders | Handle::ResponseHeaders => {
                    Some((Builtin::HeaderGet, Builtin::HeaderContains, Ty::Str))
                }
                Handle::Query | Handle::OriginalQuery => {
                    Some((Builtin::QueryGet, Builtin::QueryContains, Ty::Str))
                }
                Handle::MatchedParameters => {
                    Some((Builtin::MatchedGet, Builtin::MatchedContains, Ty::Str))
                }
                _ => None,
            }
        };
        match (rty, name) {
            (Ty::Handle(h), "GetValueOrDefault") if dict(*h).is_some() => {
                let (get, _, ty) = dict(*h).unwrap_or((Builtin::HeaderGet, Builtin::HeaderContains, Ty::Str));
                let a = self.args(name, args, &[Ty::Str, Ty::Str], 1, off)?;
                Ok((Ir::Call(get, with_recv(recv, a)), ty))
            }
            (Ty::Handle(h), "ContainsKey") if dict(*h).is_some() => {
                let (_, contains, _) = dict(*h).unwrap_or((Builtin::HeaderGet, Builtin::HeaderContains, Ty::Str));
                let a = self.args(name, args, &[Ty::Str], 1, off)?;
                Ok((Ir::Call(contains, with_recv(recv, a)), Ty::Bool))
            }
            (Ty::Handle(Handle::Variables), "GetValueOrDefault") => {
                let ty = match type_args {
                    [] => Ty::Object,
                    [t] => resolve_type(t, off)?,
                    _ => return type_err(off, "GetValueOrDefault takes one type argument"),
                };
                let cast = CastTo::of(&ty).ok_or_else(|| CheckError { offset: off, kind: CheckErrorKind::Type, message: format!("variables cannot hold '{ty}'") })?;
                let a = self.args(name, args, &[Ty::Str, ty.clone()], 1, off)?;
                Ok((Ir::Call(Builtin::VarGet(cast), with_recv(recv, a)), ty))
            }
            (Ty::Handle(Handle::Variables), "ContainsKey") => {
                let a = self.args(name, args, &[Ty::Str], 1, off)?;
                Ok((Ir::Call(Builtin::VarContains, with_recv(recv, a)), Ty::Bool))
            }
            (Ty::Handle(Handle::Certificates), "ContainsKey") => {
                let a = self.args(name, args, &[Ty::Str], 1, off)?;
                Ok((Ir::Call(Builtin::CertsContainsKey, with_recv(recv, a)), Ty::Bool))
            }
            (Ty::Handle(Handle::Certificates), "TryGetValue") => type_err(off, "TryGetValue needs 'out' parameters, which policy expressions do not support; use ContainsKey and the indexer"),
            (Ty::Handle(Handle::Url | Handle::OriginalUrl), _) => self.unknown_member(rty, name, off),
            (Ty::Cert, "Verify") => {
                self.args(name, args, &[], 0, off)?;
                Ok((Ir::Call(Builtin::CertVerify, vec![recv]), Ty::Bool))
            }
            (Ty::Cert, "VerifyNoRevocation") => {
                self.args(name, args, &[], 0, off)?;
                Ok((Ir::Call(Builtin::CertVerifyNoRevocation, vec![recv]), Ty::Bool))
            }
            (Ty::Cert, "GetNameInfo") => {
                let a = self.args(name, args, &[Ty::NameType, Ty::Bool], 2, off)?;
                Ok((Ir::Call(Builtin::CertGetNameInfo, with_recv(recv, a)), Ty::Str))
            }
            (Ty::Extension, "Format") => {
                let a = self.args(name, args, &[Ty::Bool], 1, off)?;
                Ok((Ir::Call(Builtin::ExtensionFormat, with_recv(recv, a)), Ty::Str))
            }
            (Ty::Cert, "GetCertHashString") => {
                self.args(name, args, &[], 0, off)?;
                Ok((Ir::Call(Builtin::CertThumbprint, vec![recv]), Ty::Str))
            }
            (Ty::Cert, "GetSerialNumberString") => {
                self.args(name, args, &[], 0, off)?;
                Ok((Ir::Call(Builtin::CertSerialNumber, vec![recv]), Ty::Str))
            }
            (Ty::Cert, "GetRawCertData") => {
                self.args(name, args, &[], 0, off)?;
                Ok((Ir::Call(Builtin::CertRawData, vec![recv]), Ty::Bytes))
            }
            (Ty::Str, m) => self.string_method(recv, m, args, off),
            (Ty::Static(s), m) => self.static_method(*s, m, args, off),
            (Ty::DateTime, m) => {
                let unit = match m {
                    "AddDays" => Some(864_000_000_000),
                    "AddHours" => Some(36_000_000_000),
                    "AddMinutes" => Some(600_000_000),
                    "AddSeconds" => Some(10_000_000),
                    "AddMilliseconds" => Some(10_000),
                    "AddTicks" => Some(1),
                    _ => None,
                };
                if let Some(u) = unit {
                    let a = self.args(name, args, &[Ty::Double], 1, off)?;
                    return Ok((Ir::Call(Builtin::DateAdd(u), with_recv(recv, a)), Ty::DateTime));
                }
                match m {
                    "Add" => {
                        let a = self.args(name, args, &[Ty::TimeSpan], 1, off)?;
                        Ok((Ir::Call(Builtin::DateAddSpan, with_recv(recv, a)), Ty::DateTime))
                    }
                    "Subtract" => {
                        let (ir, ty) = match args {
                            [a] => self.expr(a)?,
                            _ => return type_err(off, "'Subtract' takes 1 argument"),
                        };
                        match ty {
                            Ty::DateTime => Ok((Ir::Call(Builtin::DateSubtract, vec![recv, ir]), Ty::TimeSpan)),
                            Ty::TimeSpan => Ok((Ir::Call(Builtin::DateAddSpan, vec![recv, Ir::Neg(Box::new(ir))]), Ty::DateTime)),
                            t => type_err(args[0].offset, format!("cannot subtract '{t}' from a DateTime")),
                        }
                    }
                    "ToUniversalTime" => Ok((Ir::Call(Builtin::DateToUniversal, vec![recv]), Ty::DateTime)),
                    "ToLocalTime" => Ok((Ir::Call(Builtin::DateToLocal, vec![recv]), Ty::DateTime)),
                    _ => self.unknown_member(rty, name, off),
                }
            }
            (Ty::Array(_) | Ty::Bytes, "Contains") => {
                let elem = match rty {
                    Ty::Array(e) => (**e).clone(),
                    _ => Ty::Int,
                };
                let a = self.args(name, args, &[elem], 1, off)?;
                Ok((fold(Ir::Call(Builtin::ArrContains, with_recv(recv, a))), Ty::Bool))
            }
            (Ty::Array(_), "ToArray" | "ToList") => Ok((recv, rty.clone())),
            _ => self.unknown_member(rty, name, off),
        }
    }

    fn string_method(&mut self, recv: Ir, m: &str, args: &[Expr], off: usize) -> R<(Ir, Ty)> {
        let s = Ty::Str;
        let (b, params, required, ty): (Builtin, Vec<Ty>, usize, Ty) = match m {
            "Contains" => (
                Builtin::StrContains,
                vec![s.clone(), Ty::StringComparison],
                1,
                Ty::Bool,
            ),
            "StartsWith" => (
                Builtin::StrStartsWith,
                vec![s.clone(), Ty::StringComparison],
                1,
                Ty::Bool,
            ),
            "EndsWith" => (
                Builtin::StrEndsWith,
                vec![s.clone(), Ty::StringComparison],
                1,
                Ty::Bool,
            ),
            "Equals" => (
                Builtin::StrEquals,
                vec![s.clone(), Ty::StringComparison],
                1,
                Ty::Bool,
            ),
            "ToUpper" | "ToUpperInvariant" => (Builtin::StrToUpper, vec![], 0, s.clone()),
            "ToLower" | "ToLowerInvariant" => (Builtin::StrToLower, vec![], 0, s.clone()),
            "Replace" => (
                Builtin::StrReplace,
                vec![s.clone(), s.clone()],
                2,
                s.clone(),
            ),
            "Trim" => (Builtin::StrTrim, vec![], 0, s.clone()),
            "TrimStart" => (Builtin::StrTrimStart, vec![], 0, s.clone()),
            "TrimEnd" => (Builtin::StrTrimEnd, vec![], 0, s.clone()),
            "Substring" => (Builtin::StrSubstring, vec![Ty::Int, Ty::Int], 1, s.clone()),
            "IndexOf" => (Builtin::StrIndexOf, vec![s.clone()], 1, Ty::Int),
            "PadLeft" => (Builtin::StrPadLeft, vec![Ty::Int, Ty::Char], 1, s.clone()),
            "PadRight" => (Builtin::StrPadRight, vec![Ty::Int, Ty::Char], 1, s.clone()),
            "Split" => {
                // Split(char), Split(string), Split(params char[]) — separators as strings.
                let mut irs = vec![recv];
                if args.is_empty() {
                    return type_err(off, "'Split' needs at least one separator");
                }
                for a in args {
                    let (ir, ty) = self.expr(a)?;
                    match ty {
                        Ty::Char | Ty::Str => irs.push(Ir::Call(Builtin::ToStringDyn, vec![ir])),
                        Ty::Array(e) if matches!(*e, Ty::Char | Ty::Str) => irs.push(ir),
                        Ty::StringComparison => {}
                        t => {
                            return type_err(
                                a.offset,
                                format!("'Split' separators must be char or string, not '{t}'"),
                            )
                        }
                    }
                }
                return Ok((
                    fold(Ir::Call(Builtin::StrSplit, irs)),
                    Ty::Array(Box::new(Ty::Str)),
                ));
            }
            _ => return self.unknown_member(&Ty::Str, m, off),
        };
        let mut a = if m == "IndexOf" || m == "Contains" || m == "StartsWith" || m == "EndsWith" {
            // These also accept a char.
            let mut v = Vec::new();
            for (i, arg) in args.iter().enumerate() {
                let (ir, ty) = self.expr(arg)?;
                let want = params.get(i).ok_or_else(|| CheckError {
                    offset: off,
                    kind: CheckErrorKind::Type,
                    message: format!("too many arguments for '{m}'"),
                })?;
                let ir = if ty == Ty::Char && *want == Ty::Str {
                    Ir::Call(Builtin::ToStringDyn, vec![ir])
                } else {
                    convert(ir, &ty, want, arg.offset)?
                };
                v.push(ir);
            }
            if v.len() < required {
                return type_err(off, format!("'{m}' takes at least {required} argument(s)"));
            }
            v
        } else {
            self.args(m, args, &params, required, off)?
        };
        a.insert(0, recv);
        Ok((fold(Ir::Call(b, a)), ty))
    }

    fn static_method(&mut self, s: Static, m: &str, args: &[Expr], off: usize) -> R<(Ir, Ty)> {
        let str_ = Ty::Str;
        let simple = |c: &mut Self, b: Builtin, params: &[Ty], req: usize, ty: Ty| -> R<(Ir, Ty)> {
            let a = c.args(m, args, params, req, off)?;
            Ok((fold(Ir::Call(b, a)), ty))
        };
        match (s, m) {
            (Static::String, "IsNullOrEmpty") => {
                simple(self, Builtin::StrIsNullOrEmpty, &[str_], 1, Ty::Bool)
            }
            (Static::String, "IsNullOrWhiteSpace") => {
                simple(self, Builtin::StrIsNullOrWhiteSpace, &[str_], 1, Ty::Bool)
            }
            (Static::String, "Equals") => {
                let a = self.args(m, args, &[Ty::Str, Ty::Str, Ty::StringComparison], 2, off)?;
                Ok((fold(Ir::Call(Builtin::StrEquals, a)), Ty::Bool))
            }
            (Static::String, "Join") => {
                let Some((sep, rest)) = args.split_first() else {
                    return type_err(off, "'Join' needs a separator and values");
                };
                let mut irs = vec![self.coerce(sep, &Ty::Str)?];
                for a in rest {
                    let (ir, ty) = self.expr(a)?;
                    check_printable(&ty, a.offset)?;
                    irs.push(ir);
                }
                Ok((fold(Ir::Call(Builtin::StrJoin, irs)), Ty::Str))
            }
            (Static::String, "Format" | "Concat") => {
                let mut irs = Vec::new();
                for a in args {
                    let (ir, ty) = self.expr(a)?;
                    check_printable(&ty, a.offset)?;
                    irs.push(ir);
                }
                if m == "Format" && irs.is_empty() {
                    return type_err(off, "'Format' needs a format string");
                }
                let b = if m == "Format" {
                    Builtin::StrFormat
                } else {
                    Builtin::StrConcat
                };
                Ok((fold(Ir::Call(b, irs)), Ty::Str))
            }
            (Static::Convert, "FromBase64String") => {
                simple(self, Builtin::FromBase64, &[str_], 1, Ty::Bytes)
            }
            (Static::Convert, "ToBase64String") => {
                simple(self, Builtin::ToBase64, &[Ty::Bytes], 1, Ty::Str)
            }
            (Static::Convert, "ToInt32" | "ToInt64") => {
                simple(self, Builtin::ToInt32, &[Ty::Object], 1, Ty::Int)
            }
            (Static::Convert, "ToDouble") => {
                simple(self, Builtin::ToDouble, &[Ty::Object], 1, Ty::Double)
            }
            (Static::Convert, "ToBoolean") => {
                simple(self, Builtin::ToBoolean, &[Ty::Object], 1, Ty::Bool)
            }
            (Static::Convert, "ToString") => {
                simple(self, Builtin::ToStringDyn, &[Ty::Object], 1, Ty::Str)
            }
            (Static::WebUtility, "UrlDecode") => {
                simple(self, Builtin::UrlDecode, &[str_], 1, Ty::Str)
            }
            (Static::WebUtility, "UrlEncode") => {
                simple(self, Builtin::UrlEncode, &[str_], 1, Ty::Str)
            }
            (Static::Utf8, "GetBytes") => {
                simple(self, Builtin::Utf8GetBytes, &[str_], 1, Ty::Bytes)
            }
            (Static::Utf8, "GetString") => {
                simple(self, Builtin::Utf8GetString, &[Ty::Bytes], 1, Ty::Str)
            }
            (Static::JsonConvert, "SerializeObject") => {
                let [a] = args else {
                    return type_err(off, "'SerializeObject' takes 1 argument");
                };
                let (ir, ty) = self.expr(a)?;
                // LastError serialises as its fields.
                let ir = match ty {
                    Ty::Handle(Handle::LastError) => Ir::Const(Value::Handle(Handle::LastError)),
                    Ty::Handle(_) | Ty::Static(_) | Ty::Namespace(_) => {
                        return type_err(a.offset, format!("'{ty}' cannot be serialised"))
                    }
                    _ => ir,
                };
                Ok((Ir::Call(Builtin::JsonSerialize, vec![ir]), Ty::Str))
            }
            (Static::TimeSpan, m) => {
                let unit = match m {
                    "FromDays" => 864_000_000_000,
                    "FromHours" => 36_000_000_000,
                    "FromMinutes" => 600_000_000,
                    "FromSeconds" => 10_000_000,
                    "FromMilliseconds" => 10_000,
                    "FromTicks" => 1,
                    _ => return self.unknown_member(&Ty::Static(s), m, off),
                };
                simple(
                    self,
                    Builtin::SpanFrom(unit),
                    &[Ty::Double],
                    1,
                    Ty::TimeSpan,
                )
            }
            (Static::Math, "Max" | "Min" | "Abs") => {
                let b = match m {
                    "Max" => Builtin::MathMax,
                    "Min" => Builtin::MathMin,
                    _ => Builtin::MathAbs,
                };
                let n = if m == "Abs" { 1 } else { 2 };
                let mut irs = Vec::new();
                let mut ty = Ty::Int;
                let mut checked = Vec::new();
                for a in args {
                    let (ir, t) = self.expr(a)?;
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
                for (ir, t, o) in checked {
                    irs.push(convert(ir, &t, &ty, o)?);
                }
                Ok((fold(Ir::Call(b, irs)), ty))
            }
            (Static::Guid, "NewGuid") => simple(self, Builtin::NewGuid, &[], 0, Ty::Str),
            (Static::DateTime, "Parse") => type_err(
                off,
                "DateTime.Parse is not supported; compare DateTime values directly",
            ),
            _ => self.unknown_member(&Ty::Static(s), m, off),
        }
    }

    fn linq(
        &mut self,
        op: Linq,
        recv: Ir,
        rty: &Ty,
        elem: Ty,
        args: &[Expr],
        off: usize,
    ) -> R<(Ir, Ty)> {
        // Certificates.Any(c => c.Value.Thumbprint == x) → hash-set lookup.
        if op == Linq::Any && *rty == Ty::Handle(Handle::Certificates) {
            if let [Expr {
                kind: ExprKind::Lambda { params, body },
                ..
            }] = args
            {
                if let Some(other) = thumbprint_probe(params, body) {
                    let x = self.coerce(other, &Ty::Str)?;
                    // The seeds' form compares with the caller's own certificate: probe with
                    // its binary digest, no hex at all.
                    if let Ir::Call(Builtin::CertThumbprint, inner) = &x {
                        if matches!(inner.as_slice(), [Ir::Call(Builtin::RequestCertificate, _)]) {
                            return Ok((
                                Ir::Call(Builtin::CertsHasRequestCertificate, vec![]),
                                Ty::Bool,
                            ));
                        }
                    }
                    return Ok((Ir::Call(Builtin::CertsHasThumbprint, vec![x]), Ty::Bool));
                }
            }
        }
        let source = match rty {
            Ty::Handle(Handle::Certificates) => Ir::Call(Builtin::CertsAsArray, vec![recv]),
            Ty::Str => Ir::Call(Builtin::StrSplit, vec![recv]),
            _ => recv,
        };
        let body_want = match op {
            Linq::Select => None,
            _ => Some(Ty::Bool),
        };
        let (slot, body, body_ty) = match args {
            [] if !matches!(op, Linq::All | Linq::Where | Linq::Select) => (0, None, Ty::Bool),
            [Expr {
                kind: ExprKind::Lambda { params, body },
                offset,
            }] => {
                let [(p, poff)] = params.as_slice() else {
                    return type_err(
                        *offset,
                        format!("the lambda for '{op:?}' takes exactly one parameter"),
                    );
                };
                self.scope(|c| {
                    let slot = c.declare(p, elem.clone(), *poff)?;
                    let (ir, ty) = c.expr(body)?;
                    let ir = match &body_want {
                        Some(w) => convert(ir, &ty, w, body.offset)?,
                        None => ir,
                    };
                    Ok((slot, Some(Box::new(ir)), ty))
                })?
            }
            _ => return type_err(off, format!("'{op:?}' takes a lambda such as x => ...")),
        };
        let ty = match op {
            Linq::Any | Linq::All => Ty::Bool,
            Linq::Count => Ty::Int,
            Linq::Where => Ty::Array(Box::new(elem.clone())),
            Linq::Select => Ty::Array(Box::new(body_ty)),
            Linq::First | Linq::FirstOrDefault | Linq::Last | Linq::LastOrDefault => elem.clone(),
        };
        Ok((
            Ir::Linq {
                op,
                source: Box::new(source),
                slot,
                body,
            },
            ty,
        ))
    }

    fn index(&mut self, recv: Ir, rty: &Ty, index: &Expr, off: usize) -> R<(Ir, Ty)> {
        let (b, key, ty) = match rty {
            Ty::Handle(Handle::RequestHeaders | Handle::ResponseHeaders) => {
                (Builtin::HeaderIndex, Ty::Str, Ty::Array(Box::new(Ty::Str)))
            }
            Ty::Handle(Handle::Query | Handle::OriginalQuery) => {
                (Builtin::QueryIndex, Ty::Str, Ty::Array(Box::new(Ty::Str)))
            }
            Ty::Handle(Handle::MatchedParameters) => (Builtin::MatchedIndex, Ty::Str, Ty::Str),
            Ty::Handle(Handle::Variables) => (Builtin::VarIndex, Ty::Str, Ty::Object),
            Ty::Handle(Handle::Certificates) => (Builtin::CertsIndex, Ty::Str, Ty::Cert),
            Ty::Str => (Builtin::StrCharAt, Ty::Int, Ty::Char),
            Ty::Extensions => {
                let (k, kty) = self.expr(index)?;
                return match kty {
                    Ty::Int => Ok((Ir::Call(Builtin::ArrIndex, vec![recv, k]), Ty::Extension)),
                    Ty::Str => Ok((
                        Ir::Call(Builtin::ExtensionByName, vec![recv, k]),
                        Ty::Extension,
                    )),
                    t => type_err(
                        index.offset,
                        format!("extensions are indexed by int or OID string, not '{t}'"),
                    ),
                };
            }
            Ty::Array(e) => (Builtin::ArrIndex, Ty::Int, (**e).clone()),
            Ty::Bytes => (Builtin::ArrIndex, Ty::Int, Ty::Int),
            t => return type_err(off, format!("cannot apply indexing with [] to '{t}'")),
        };
        let k = self.coerce(index, &key)?;
        Ok((fold(Ir::Call(b, vec![recv, k])), ty))
    }

    fn new_object(&mut self, ty: &TypeName, args: &[Expr], off: usize) -> R<(Ir, Ty)> {
        match ty.name.as_str() {
            "X509Certificate2" | "System.Security.Cryptography.X509Certificates.X509Certificate2" => {
                let a = self.args("X509Certificate2", args, &[Ty::Bytes, Ty::Str], 1, off)?;
                Ok((Ir::Call(Builtin::NewCertificate, a), Ty::Cert))
            }
            "TimeSpan" => {
                let a = self.args("TimeSpan", args, &[Ty::Int, Ty::Int, Ty::Int, Ty::Int], 3, off)?;
                Ok((fold(Ir::Call(Builtin::NewTimeSpan, a)), Ty::TimeSpan))
            }
            "DateTime" => {
                let a = self.args("DateTime", args, &[Ty::Int, Ty::Int, Ty::Int, Ty::Int, Ty::Int, Ty::Int], 3, off)?;
                Ok((Ir::Call(Builtin::NewDateTime, a), Ty::DateTime))
            }
            other => type_err(off, format!("cannot create '{other}' in a policy expression; expected X509Certificate2, TimeSpan or DateTime")),
        }
    }

    /// `a && b && c` (or `||`): walks the left spine iteratively, so a long allow-list
    /// condition neither recurses per term here nor in the evaluator.
    fn logical_chain(&mut self, op: BinOp, l: &Expr, r: &Expr) -> R<(Ir, Ty)> {
        let mut operands = vec![r];
        let mut cur = l;
        while let ExprKind::Binary(o, a, b) = &cur.kind {
            if *o != op {
                break;
            }
            operands.push(b);
            cur = a;
        }
        operands.push(cur);
        operands.reverse();
        let mut items = Vec::with_capacity(operands.len());
        for e in operands {
            let ir = self.coerce(e, &Ty::Bool)?;
            // Nested chains of the same operator (from parentheses) merge.
            match (op, ir) {
                (BinOp::And, Ir::And(inner)) | (BinOp::Or, Ir::Or(inner)) => items.extend(inner),
                (_, ir) => items.push(ir),
            }
        }
        let ir = if op == BinOp::And {
            Ir::And(items)
        } else {
            Ir::Or(items)
        };
        Ok((fold(ir), Ty::Bool))
    }

    fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr, off: usize) -> R<(Ir, Ty)> {
        if matches!(op, BinOp::And | BinOp::Or) {
            return self.logical_chain(op, l, r);
        }
        let (li, lt) = self.expr(l)?;
        let (ri, rt) = self.expr(r)?;
        let bad = || {
            type_err(
                off,
                format!(
                    "operator '{}' cannot be applied to operands of type '{lt}' and '{rt}'",
                    op.as_str()
                ),
            )
        };
        let b = |li: Ir, ri: Ir| Ir::Binary(op, Box::new(li), Box::new(ri));
        match op {
            BinOp::And | BinOp::Or => unreachable_chain(),
            BinOp::Coalesce => {
                if !lt.is_reference()
                    && !matches!(li, Ir::NullCond { .. } | Ir::Call(Builtin::VarGet(_), _))
                {
                    return type_err(
                        off,
                        format!("operator '??' needs a left operand that can be null, not '{lt}'"),
                    );
                }
                let Some(ty) = unify(&lt, &rt) else {
                    return bad();
                };
                Ok((fold(Ir::Coalesce(Box::new(li), Box::new(ri))), ty))
            }
            BinOp::Eq | BinOp::Ne => {
                let ok = lt == rt
                    || matches!(lt, Ty::Object | Ty::Null)
                    || matches!(rt, Ty::Object | Ty::Null)
                    || (lt.is_numeric() && rt.is_numeric())
                    || matches!((&lt, &rt), (Ty::Handle(_), Ty::Handle(_)));
                if !ok {
                    return bad();
                }
                Ok((fold(b(li, ri)), Ty::Bool))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ok = (lt.is_numeric() && rt.is_numeric())
                    || (lt == rt && matches!(lt, Ty::DateTime | Ty::TimeSpan))
                    || (matches!(lt, Ty::DateTime | Ty::TimeSpan) && rt == Ty::Null)
                    || (matches!(rt, Ty::DateTime | Ty::TimeSpan) && lt == Ty::Null);
                if !ok {
                    return bad();
                }
                Ok((fold(b(li, ri)), Ty::Bool))
            }
            BinOp::Add => {
                if lt == Ty::Str || rt == Ty::Str {
                    check_printable(&lt, l.offset)?;
                    check_printable(&rt, r.offset)?;
                    let mut parts = Vec::new();
                    for p in [li, ri] {
                        match p {
                            Ir::Concat(inner) => parts.extend(inner),
                            p => parts.push(p),
                        }
                    }
                    return Ok((fold(Ir::Concat(parts)), Ty::Str));
                }
                let ty = match (&lt, &rt) {
                    (Ty::Int, Ty::Int) | (Ty::Char, Ty::Int) | (Ty::Int, Ty::Char) => Ty::Int,
                    (a, b) if a.is_numeric() && b.is_numeric() => Ty::Double,
                    (Ty::DateTime, Ty::TimeSpan) | (Ty::TimeSpan, Ty::DateTime) => Ty::DateTime,
                    (Ty::TimeSpan, Ty::TimeSpan) => Ty::TimeSpan,
                    _ => return bad(),
                };
                Ok((fold(b(li, ri)), ty))
            }
            BinOp::Sub => {
                let ty = match (&lt, &rt) {
                    (Ty::Int, Ty::Int) => Ty::Int,
                    (a, b) if a.is_numeric() && b.is_numeric() => Ty::Double,
                    (Ty::DateTime, Ty::DateTime) => Ty::TimeSpan,
                    (Ty::DateTime, Ty::TimeSpan) => Ty::DateTime,
                    (Ty::TimeSpan, Ty::TimeSpan) => Ty::TimeSpan,
                    _ => return bad(),
                };
                Ok((fold(b(li, ri)), ty))
            }
            BinOp::Mul | BinOp::Div | BinOp::Rem => {
                let ty = match (&lt, &rt) {
                    (Ty::Int, Ty::Int) => Ty::Int,
                    (a, b) if a.is_numeric() && b.is_numeric() => Ty::Double,
                    _ => return bad(),
                };
                Ok((fold(b(li, ri)), ty))
            }
        }
    }
}

/// `c => c.Value.Thumbprint == X` (either side), X not mentioning `c`: returns X.
fn thumbprint_probe<'e>(params: &[(String, usize)], body: &'e Expr) -> Option<&'e Expr> {
    let [(p, _)] = params else { return None };
    let ExprKind::Binary(BinOp::Eq, l, r) = &body.kind else {
        return None;
    };
    let is_probe = |e: &Expr| {
        matches!(&e.kind, ExprKind::Member { target, name, null_cond: false } if name == "Thumbprint"
            && matches!(&target.kind, ExprKind::Member { target: t2, name: n2, null_cond: false } if n2 == "Value"
                && matches!(&t2.kind, ExprKind::Ident(i) if i == p)))
    };
    let other = if is_probe(l) {
        r
    } else if is_probe(r) {
        l
    } else {
        return None;
    };
    (!mentions(other, p)).then_some(other)
}

/// Whether `e` refers to `name`. Iterative: hostile input may chain thousands of operators.
fn mentions(e: &Expr, name: &str) -> bool {
    let mut work = vec![e];
    while let Some(e) = work.pop() {
        match &e.kind {
            ExprKind::Ident(i) if i == name => return true,
            ExprKind::Ident(_) | ExprKind::Lit(_) | ExprKind::Default(_) => {}
            ExprKind::Member { target, .. } => work.push(target),
            ExprKind::Call { target, args, .. } => {
                work.push(target);
                work.extend(args);
            }
            ExprKind::Invoke { args, .. } | ExprKind::New { args, .. } => work.extend(args),
            ExprKind::Index { target, index, .. } => work.extend([&**target, &**index]),
            ExprKind::Unary(_, x)
            | ExprKind::Cast { expr: x, .. }
            | ExprKind::Is { expr: x, .. }
            | ExprKind::As { expr: x, .. } => work.push(x),
            ExprKind::Binary(_, a, b) => work.extend([&**a, &**b]),
            ExprKind::Cond(a, b, c) => work.extend([&**a, &**b, &**c]),
            ExprKind::Lambda { params, body } => {
                if !params.iter().any(|(p, _)| p == name) {
                    work.push(body);
                }
            }
            ExprKind::NewArray { items, .. } => work.extend(items),
            ExprKind::Interp(segs) => work.extend(segs.iter().filter_map(|s| match s {
                InterpSeg::Hole(x, _) => Some(x),
                InterpSeg::Lit(_) => None,
            })),
            ExprKind::Assign { target, value, .. } => {
                if target == name {
                    return true;
                }
                work.push(value);
            }
        }
    }
    false
}

fn check_printable(ty: &Ty, off: usize) -> R<()> {
    match ty {
        Ty::Static(_) | Ty::Namespace(_) | Ty::Void => {
            type_err(off, format!("'{ty}' cannot be converted to a string"))
        }
        _ => Ok(()),
    }
}

/// Implicit conversion of `ir` from `from` to `to`, as C# allows it.
pub fn convert(ir: Ir, from: &Ty, to: &Ty, off: usize) -> R<Ir> {
    if from == to {
        return Ok(ir);
    }
    match (from, to) {
        (Ty::Null, t) if t.is_reference() || matches!(t, Ty::Handle(_)) => Ok(ir),
        (_, Ty::Object) if !matches!(from, Ty::Static(_) | Ty::Namespace(_) | Ty::Void) => Ok(ir),
        (Ty::Int | Ty::Char, Ty::Double) => Ok(fold(Ir::Cast(CastTo::Double, Box::new(ir)))),
        (Ty::Char, Ty::Int) => Ok(fold(Ir::Cast(CastTo::Int, Box::new(ir)))),
        (Ty::Array(e), Ty::Bytes) if **e == Ty::Int => Ok(ir),
        (Ty::Null, Ty::DateTime | Ty::TimeSpan | Ty::Int | Ty::Bool | Ty::Double) => Ok(ir),
        (Ty::Object, _) => type_err(off, format!("cannot implicitly convert 'object' to '{to}'; expected an explicit cast such as ({to})")),
        _ => type_err(off, format!("cannot implicitly convert type '{from}' to '{to}'")),
    }
}

/// The common type of two branches/returns, when there is one.
pub fn unify(a: &Ty, b: &Ty) -> Option<Ty> {
    match (a, b) {
        _ if a == b => Some(a.clone()),
        (Ty::Null, t) | (t, Ty::Null) => Some(t.clone()),
        (Ty::Int, Ty::Double) | (Ty::Double, Ty::Int) => Some(Ty::Double),
        (Ty::Object, _) | (_, Ty::Object) => Some(Ty::Object),
        _ => None,
    }
}

pub fn resolve_type(t: &TypeName, off: usize) -> R<Ty> {
    let base = match t.name.as_str() {
        "string" | "String" | "System.String" => Ty::Str,
        "int" | "Int32" | "long" | "Int64" | "short" | "System.Int32" => Ty::Int,
        "byte" | "Byte" if t.array => return Ok(Ty::Bytes),
        "byte" | "Byte" => Ty::Int,
        "bool" | "Boolean" | "System.Boolean" => Ty::Bool,
        "double" | "Double" | "float" | "decimal" => Ty::Double,
        "char" | "Char" => Ty::Char,
        "object" | "Object" | "dynamic" => Ty::Object,
        "DateTime" | "System.DateTime" => Ty::DateTime,
        "TimeSpan" | "System.TimeSpan" => Ty::TimeSpan,
        "X509Certificate2" | "X509Certificate" => Ty::Cert,
        other => {
            return type_err(
                off,
                format!("the type '{other}' is not available in policy expressions"),
            )
        }
    };
    Ok(if t.array {
        Ty::Array(Box::new(base))
    } else {
        base
    })
}

fn definitely_returns(body: &[IrStmt]) -> bool {
    body.iter().any(|s| match s {
        IrStmt::Return(_) => true,
        IrStmt::If(Ir::Const(Value::Bool(true)), t, _) => definitely_returns(t),
        IrStmt::If(_, t, e) => definitely_returns(t) && definitely_returns(e),
        _ => false,
    })
}

/// Constant folding: evaluates a node whose inputs are constants, and short-circuits `&&`,
/// `||`, `?:` and `??` on a constant side. A fold that would fail at run time is left as is, so
/// the failure still happens per request (as `ExpressionValueEvaluationFailure`).
pub fn fold(ir: Ir) -> Ir {
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

#[cold]
fn unreachable_chain() -> R<(Ir, Ty)> {
    // `binary` sends && and || to `logical_chain` before it gets here.
    Err(CheckError {
        offset: 0,
        kind: CheckErrorKind::Type,
        message: "internal: logical operator outside a chain".into(),
    })
}
