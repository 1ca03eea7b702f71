//! The type checker: lowers the syntax tree to typed [`Ir`], resolving every member and method
//! against the object model APIM exposes (`context`, strings, dates, certificates, LINQ).
//!
//! Also where compile-time work happens so requests don't pay for it: constant folding (a
//! condition made constant by named values folds away), route constants (`context.Api.Name`),
//! and the rewrite of `Certificates.Any(c => c.Value.Thumbprint == x)` into a hash-set lookup.

use super::ast::*;
use super::bind::*;
use super::fold::fold;
use super::members;

use super::ir::*;
use crate::context::RouteInfo;
use crate::value::{Handle, Value};

type R<T> = CheckResult<T>;

/// A checked expression: IR, result type and the number of local slots it needs.
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    pub ir: Ir,
    pub ty: Ty,
    pub slots: u16,
}

pub(crate) struct Checker<'a> {
    route: &'a RouteInfo,
    locals: Vec<(String, u16, Ty)>,
    next_slot: u16,
    max_slots: u16,
    returns: Vec<(Ty, usize)>,
    /// The slots of the exceptions the enclosing `catch` clauses hold (`throw;` rethrows one).
    catch_slots: Vec<u16>,
    /// The local functions in scope, innermost last.
    local_fns: Vec<std::sync::Arc<LocalFn>>,
    /// The local functions being inlined (a call to one of these recurses), and the return
    /// type of the innermost (`Void` for `void`); a block lambda inside one is an entry with
    /// no name, its returns its own.
    inlining: Vec<(String, Ty)>,
    /// How many calls of local functions this expression has inlined.
    inlined: u32,
}

/// How many local-function calls one expression may inline: each is a copy of the body.
const MAX_INLINED: u32 = 256;

const MAX_SLOTS: u16 = 1024;

impl<'a> Checker<'a> {
    pub(crate) fn new(route: &'a RouteInfo) -> Checker<'a> {
        Checker {
            route,
            locals: Vec::new(),
            next_slot: 0,
            max_slots: 0,
            returns: Vec::new(),
            catch_slots: Vec::new(),
            local_fns: Vec::new(),
            inlining: Vec::new(),
            inlined: 0,
        }
    }

    pub(crate) fn check_expression(mut self, e: &Expr) -> R<Checked> {
        let (ir, ty) = self.expr(e)?;
        if matches!(ty, Ty::Static(_) | Ty::Namespace(_)) {
            return type_err(e.offset, format!("'{ty}' is a type, not a value"));
        }
        // C# refuses a method that returns nothing where a value is expected.
        if ty == Ty::Void {
            return type_err(
                e.offset,
                "the expression returns no value (the method returns void); a policy expression must produce one",
            );
        }
        Ok(Checked {
            ir,
            ty,
            slots: self.max_slots,
        })
    }

    pub(crate) fn check_block(mut self, stmts: &[Stmt], end_offset: usize) -> R<Checked> {
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
        // A block's local functions are callable anywhere in it, before their declaration too.
        let outer_fns = self.local_fns.len();
        for s in stmts {
            if let StmtKind::LocalFn(f) = &s.kind {
                if self.local_fns[outer_fns..].iter().any(|g| g.name == f.name) {
                    return type_err(
                        s.offset,
                        format!(
                            "a local function named '{}' is already defined in this scope",
                            f.name
                        ),
                    );
                }
                self.local_fns.push(f.clone());
            }
        }
        let r = self.scope(|c| {
            stmts
                .iter()
                .map(|s| c.stmt(s))
                .collect::<R<Vec<_>>>()
                .map(|v| v.into_iter().flatten().collect())
        });
        self.local_fns.truncate(outer_fns);
        r
    }

    /// A call of a local function, compiled as its body inlined: the arguments evaluated in
    /// the caller's scope, bound to the parameters, then the body as a block whose `return`
    /// gives the call's value. Recursion is refused (each call is a copy).
    fn call_local(&mut self, f: &LocalFn, args: &[Expr], off: usize) -> R<(Ir, Ty)> {
        if self.inlining.iter().any(|(n, _)| *n == f.name) {
            return type_err(
                off,
                format!(
                    "'{}' calls itself; a recursive local function is not supported by certgate",
                    f.name
                ),
            );
        }
        self.inlined += 1;
        if self.inlined > MAX_INLINED {
            return type_err(
                off,
                format!("more than {MAX_INLINED} calls of local functions in one expression"),
            );
        }
        if args.len() != f.params.len() {
            return type_err(
                off,
                format!("'{}' takes {} arguments", f.name, f.params.len()),
            );
        }
        let ret = match &f.ret {
            Some(t) => resolve_type(t, f.offset)?,
            None => Ty::Void,
        };
        let mut values = Vec::with_capacity(args.len());
        for (a, (t, _, at)) in args.iter().zip(&f.params) {
            let ty = resolve_type(t, *at)?;
            values.push((self.coerce(a, &ty)?, ty));
        }
        self.scope(|c| {
            let mut seq = Vec::new();
            for ((ir, ty), (_, name, at)) in values.into_iter().zip(&f.params) {
                // A parameter may share a name with a local of the caller's.
                let slot = c.alloc_slot(*at)?;
                c.locals.push((name.clone(), slot, ty));
                seq.push(Ir::Assign(slot, Box::new(ir)));
            }
            c.inlining.push((f.name.clone(), ret.clone()));
            let outer = std::mem::take(&mut c.returns);
            let body = c.stmts(&f.body);
            c.returns = outer;
            c.inlining.pop();
            let mut body = body?;
            if ret == Ty::Void {
                body.push(IrStmt::Return(Ir::Const(Value::Null)));
            } else if !definitely_returns(&body) {
                return type_err(
                    f.offset,
                    format!("not all code paths of '{}' return a value", f.name),
                );
            }
            seq.push(Ir::Block(body));
            Ok((Ir::Seq(seq), ret.clone()))
        })
    }

    /// An expression used as a statement (and a `for` loop's steps): only assignments, calls
    /// and `++`/`--`, as C# allows.
    fn statement_expr(&mut self, e: &Expr) -> R<IrStmt> {
        if !matches!(
            e.kind,
            ExprKind::Assign { .. }
                | ExprKind::SetIndex { .. }
                | ExprKind::SetMember { .. }
                | ExprKind::Call { .. }
                | ExprKind::Invoke { .. }
                | ExprKind::PostStep(_)
        ) {
            return type_err(
                e.offset,
                "only assignment and call expressions can be used as a statement",
            );
        }
        Ok(IrStmt::Eval(self.expr(e)?.0))
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
            StmtKind::Try {
                body,
                catches,
                finally,
            } => {
                let body = self.scope(|c| c.stmts(body))?;
                let mut cs = Vec::new();
                for cc in catches {
                    let class = match &cc.ty {
                        None => members::exception::class("Exception"),
                        Some(t) => members::exception::class(&t.name),
                    };
                    let Some(class) = class else {
                        let n = cc.ty.as_ref().map_or("", |t| t.name.as_str());
                        return type_err(cc.offset, format!("catching '{n}' is not supported by certgate; catch Exception, or the exception types certgate's failures stand for (FormatException, ArgumentException, ...)"));
                    };
                    let (slot, stmts) = self.scope(|c| {
                        let slot = match &cc.name {
                            Some(n) => c.declare(n, Ty::Obj(ObjKind::Exception), cc.offset)?,
                            None => c.alloc_slot(cc.offset)?,
                        };
                        c.catch_slots.push(slot);
                        let stmts = c.stmts(&cc.body);
                        c.catch_slots.pop();
                        Ok((slot, stmts?))
                    })?;
                    cs.push(Catch {
                        takes: members::exception::catches(class),
                        slot,
                        body: stmts,
                    });
                }
                let finally = match finally {
                    Some(f) => self.scope(|c| c.stmts(f))?,
                    None => Vec::new(),
                };
                vec![IrStmt::Try {
                    body,
                    catches: cs,
                    finally,
                }]
            }
            StmtKind::Throw(Some(e)) => {
                let (ir, ty) = self.expr(e)?;
                if ty != Ty::Obj(ObjKind::Exception) {
                    return type_err(
                        e.offset,
                        format!("only exceptions can be thrown, not '{ty}'"),
                    );
                }
                vec![IrStmt::Throw(ir)]
            }
            StmtKind::Throw(None) => match self.catch_slots.last() {
                Some(slot) => vec![IrStmt::Throw(Ir::Local(*slot))],
                None => return type_err(s.offset, "'throw;' rethrows only inside a catch clause"),
            },
            StmtKind::Using { resource, body } => {
                let stmts = self.scope(|c| {
                    let (mut out, ty) = match &resource.kind {
                        StmtKind::Decl { name, .. } => {
                            let out = c.stmt(resource)?;
                            let ty = c
                                .locals
                                .iter()
                                .rev()
                                .find(|(n, _, _)| n == name)
                                .map(|(_, _, t)| t.clone());
                            (out, ty.unwrap_or(Ty::Void))
                        }
                        StmtKind::Expr(e) => {
                            let (ir, ty) = c.expr(e)?;
                            (vec![IrStmt::Eval(ir)], ty)
                        }
                        _ => {
                            return type_err(
                                resource.offset,
                                "expected a declaration or an expression in 'using (...)'",
                            )
                        }
                    };
                    // C# admits only IDisposable resources; certgate's disposable objects hold
                    // nothing to release, so leaving the block does nothing more.
                    if !matches!(ty, Ty::Obj(ObjKind::Hasher)) {
                        return type_err(
                            resource.offset,
                            format!(
                                "'{ty}' cannot be used in a using statement: it is not IDisposable"
                            ),
                        );
                    }
                    out.extend(c.stmt(body)?);
                    Ok(out)
                })?;
                vec![IrStmt::If(Ir::Const(Value::Bool(true)), stmts, Vec::new())]
            }
            StmtKind::Expr(e) => vec![self.statement_expr(e)?],
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
            StmtKind::LocalFn(_) => Vec::new(),
            StmtKind::Decls(ds) => {
                let mut out = Vec::new();
                for d in ds {
                    out.extend(self.stmt(d)?);
                }
                out
            }
            StmtKind::Loop {
                cond,
                body,
                step,
                test_first,
            } => {
                let cond = cond
                    .as_ref()
                    .map(|c| self.coerce(c, &Ty::Bool))
                    .transpose()?;
                let body = self.scope(|c| c.stmt(body))?;
                let mut steps = Vec::new();
                for e in step {
                    steps.push(self.statement_expr(e)?);
                }
                vec![IrStmt::Loop {
                    cond,
                    body,
                    step: steps,
                    test_first: *test_first,
                }]
            }
            StmtKind::Break => vec![IrStmt::Break],
            StmtKind::Continue => vec![IrStmt::Continue],
            // Inside a local function: its declared type, converted to.
            StmtKind::Return(v) if matches!(self.inlining.last(), Some((n, _)) if !n.is_empty()) => {
                let ret = self
                    .inlining
                    .last()
                    .map(|(_, t)| t.clone())
                    .unwrap_or(Ty::Void);
                match (v, &ret) {
                    (None, Ty::Void) => vec![IrStmt::Return(Ir::Const(Value::Null))],
                    (Some(e), Ty::Void) => {
                        return type_err(e.offset, "a void local function returns no value")
                    }
                    (None, t) => {
                        return type_err(
                            s.offset,
                            format!("the local function must return a '{t}'"),
                        )
                    }
                    (Some(e), t) => {
                        let ir = self.coerce(e, t)?;
                        vec![IrStmt::Return(ir)]
                    }
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
                // Tokens, groups, forms and collections iterate as their items.
                let (it, ity) = match items_of(it.clone(), &ity) {
                    Some((elem, items)) => (items, Ty::Array(Box::new(elem))),
                    None => (it, ity),
                };
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
                    Ty::Handle(Handle::Certificates) => {
                        Ir::Call(Builtin::Context(ContextFn::CertsAsArray), vec![it])
                    }
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
    pub(crate) fn coerce(&mut self, e: &Expr, want: &Ty) -> R<Ir> {
        let (ir, ty) = self.expr(e)?;
        self.convert(ir, &ty, want, e.offset)
    }

    pub(crate) fn expr(&mut self, e: &Expr) -> R<(Ir, Ty)> {
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
            ExprKind::Invoke { name, args } => {
                match self.local_fns.iter().rev().find(|f| f.name == *name).cloned() {
                    Some(f) => self.call_local(&f, args, off),
                    None => type_err(
                        off,
                        format!(
                            "'{name}' is not a known method; expected a member call such as x.{name}(...)"
                        ),
                    ),
                }
            }
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
                        let ir = self.convert(ir, &ty, &Ty::Bool, inner.offset)?;
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
                let ti = self.convert(ti, &tt, &ty, t.offset)?;
                let fi = self.convert(fi, &ft, &ty, f.offset)?;
                Ok((fold(Ir::Cond(Box::new(c), Box::new(ti), Box::new(fi))), ty))
            }
            ExprKind::Lambda { .. } => type_err(
                off,
                "a lambda is only allowed as an argument of Any, All, Where, Select, First, Count",
            ),
            ExprKind::New { ty, args, init } => {
                if let Some(r) = members::generic::new(self, ty, args, init, off) {
                    return r;
                }
                if let (true, Some(r)) = (init.is_empty(), members::queue::new(self, ty, args, off)) {
                    return r;
                }
                if !init.is_empty() {
                    return type_err(off, format!("a collection initializer is supported by certgate for List<T> and Dictionary<TKey, TValue>, not '{}'", ty.name));
                }
                self.new_object(ty, args, off)
            }
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
                    irs.push(self.convert(ir, &t, &ety, o)?);
                }
                if ety == Ty::Int && elem.as_ref().is_some_and(|t| t.name == "byte") {
                    return Ok((fold(Ir::NewArray(irs)), Ty::Array(Box::new(Ty::Int))));
                }
                Ok((fold(Ir::NewArray(irs)), Ty::Array(Box::new(ety))))
            }
            // An anonymous object is what Newtonsoft makes of it (`JsonConvert.SerializeObject`,
            // `JObject.FromObject`): a JSON object with its members in order.
            ExprKind::NewAnonymous(members) => {
                let mut props = Vec::new();
                for (i, (name, value)) in members.iter().enumerate() {
                    if members[..i].iter().any(|(n, _)| n == name) {
                        return type_err(value.offset, format!("an anonymous type cannot have two members named '{name}'"));
                    }
                    let v = members::json::to_token(self, value)?;
                    props.push(Ir::Call(
                        Builtin::Json(JsonFn::NewProperty),
                        vec![Ir::Const(Value::str(name)), v],
                    ));
                }
                Ok((
                    Ir::Call(Builtin::Json(JsonFn::NewObject), props),
                    Ty::Obj(ObjKind::Json(JsonKind::Object)),
                ))
            }
            ExprKind::NewArraySized { elem, size } => {
                let n = self.coerce(size, &Ty::Int)?;
                if matches!(elem.name.as_str(), "byte" | "Byte" | "System.Byte") {
                    return Ok((Ir::Call(Builtin::Collection(CollectionFn::NewBytes), vec![n]), Ty::Bytes));
                }
                let ety = resolve_type(elem, off)?;
                let default = match ety {
                    Ty::Int => Value::Int(0),
                    Ty::Double => Value::Double(0.0),
                    Ty::Bool => Value::Bool(false),
                    Ty::Char => Value::Char('\0'),
                    _ => Value::Null,
                };
                Ok((
                    Ir::Call(Builtin::Collection(CollectionFn::NewArray), vec![n, Ir::Const(default)]),
                    Ty::Array(Box::new(ety)),
                ))
            }
            ExprKind::Cast { ty, expr } => {
                let to = resolve_type(ty, off)?;
                let (ir, from) = self.expr(expr)?;
                // A number cast to a narrower integer keeps its low bits, as C# does unchecked.
                if to == Ty::Char && from.is_numeric() && from != Ty::Char {
                    return Ok((
                        fold(Ir::Call(Builtin::Convert(ConvertFn::ToChar), vec![ir])),
                        Ty::Char,
                    ));
                }
                if let (Some((bits, signed)), true) = (narrow_cast(ty), from.is_numeric()) {
                    return Ok((
                        fold(Ir::Call(
                            Builtin::Convert(ConvertFn::Narrow(bits, signed)),
                            vec![ir],
                        )),
                        Ty::Int,
                    ));
                }
                if let (Ty::Obj(ObjKind::Json(_)), Some(c)) =
                    (&from, members::json::conversion(ir.clone(), &to))
                {
                    return Ok((c, to));
                }
                if let Some(c) = members::xml::conversion(ir.clone(), &from, &to) {
                    return Ok((c, to));
                }
                if let Ok(ir) = self.convert(ir.clone(), &from, &to, off) {
                    return Ok((ir, to));
                }
                let explicit_ok = matches!(from, Ty::Object | Ty::Null)
                    || (from.is_numeric() && to.is_numeric())
                    || (from == Ty::DistName && to == Ty::Str)
                    || (matches!(from, Ty::Enum(_)) && to == Ty::Int)
                    || (from == Ty::Int && matches!(to, Ty::Enum(_)))
                    // Down XLinq's class tree (`(XElement)node`), checked at run time.
                    || matches!((&from, &to), (Ty::Obj(ObjKind::Xml(f)), Ty::Obj(ObjKind::Xml(t))) if t.is_a(*f))
                    // Between Newtonsoft's token classes (`(JObject)token["a"]`), checked at
                    // run time.
                    || matches!((&from, &to), (Ty::Obj(ObjKind::Json(_)), Ty::Obj(ObjKind::Json(_))));
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
                        self.convert(ir, &rty, &ty, off)?
                    }
                };
                Ok((Ir::Assign(slot, Box::new(ir)), ty))
            }
            // A lambda's block body: its own returns, its type their common one.
            ExprKind::Block(stmts) => {
                let outer = std::mem::take(&mut self.returns);
                // A lambda's returns are its own, also inside a local function.
                self.inlining.push((String::new(), Ty::Object));
                let body = self.scope(|c| c.stmts(stmts));
                self.inlining.pop();
                let inner = std::mem::replace(&mut self.returns, outer);
                let body = body?;
                if !definitely_returns(&body) {
                    return type_err(off, "not all code paths of the lambda return a value");
                }
                let mut ty = Ty::Null;
                for (t, o) in &inner {
                    ty = unify(&ty, t).ok_or_else(|| CheckError {
                        offset: *o,
                        message: format!("return type '{t}' differs from an earlier return of type '{ty}'"),
                    })?;
                }
                Ok((Ir::Block(body), ty))
            }
            ExprKind::Named { name, .. } => type_err(
                off,
                format!("named arguments are supported by certgate where APIM uses them (preserveContent); pass '{name}' by position"),
            ),
            ExprKind::Out { name, .. } => type_err(
                off,
                format!("'out {name}' is an argument only of methods with out parameters (TryParse, TryGetValue)"),
            ),
            ExprKind::IsBind { expr, ty, name } => {
                let to = resolve_type(ty, off)?;
                let cast = CastTo::of(&to).ok_or_else(|| CheckError {
                    offset: off,
                    message: format!("cannot test for type '{to}'"),
                })?;
                let (ir, _) = self.expr(expr)?;
                let tmp = self.alloc_slot(off)?;
                let slot = self.declare(name, to, off)?;
                let bind = Ir::Seq(vec![
                    Ir::Assign(
                        slot,
                        Box::new(Ir::Cast(cast, Box::new(Ir::Local(tmp)))),
                    ),
                    Ir::Const(Value::Bool(true)),
                ]);
                Ok((
                    Ir::Seq(vec![
                        Ir::Assign(tmp, Box::new(ir)),
                        Ir::Cond(
                            Box::new(Ir::Is(cast, Box::new(Ir::Local(tmp)))),
                            Box::new(bind),
                            Box::new(Ir::Const(Value::Bool(false))),
                        ),
                    ]),
                    Ty::Bool,
                ))
            }
            ExprKind::PostStep(step) => {
                let (ir, ty) = self.expr(step)?;
                if !ty.is_numeric() {
                    return type_err(off, format!("'++' and '--' need a number, not '{ty}'"));
                }
                let back = match &step.kind {
                    ExprKind::Assign {
                        op: Some(BinOp::Add),
                        ..
                    } => BinOp::Sub,
                    _ => BinOp::Add,
                };
                Ok((
                    Ir::Binary(back, Box::new(ir), Box::new(Ir::Const(Value::Int(1)))),
                    ty,
                ))
            }
            ExprKind::SetMember {
                target,
                name,
                value,
            } => {
                let (recv, rty) = self.expr(target)?;
                match rty {
                    Ty::Obj(ObjKind::Symmetric) => {
                        members::symmetric::set_member(self, recv, name, value, off)
                    }
                    Ty::Obj(ObjKind::Builder) => {
                        members::builder::set_member(self, recv, name, value, off)
                    }
                    t => type_err(
                        off,
                        format!("'{t}.{name}' cannot be assigned (it has no setter here)"),
                    ),
                }
            }
            ExprKind::SetIndex {
                target,
                index,
                value,
            } => {
                let (recv, rty) = self.expr(target)?;
                match rty {
                    Ty::Obj(ObjKind::Json(_)) => members::json::set_index(self, recv, index, value),
                    t @ (Ty::List(_) | Ty::Dict(..)) => {
                        members::generic::set_index(self, recv, &t, index, value)
                    }
                    t => type_err(off, format!("an element of '{t}' cannot be assigned; only a JObject's or JArray's")),
                }
            }
            ExprKind::Default(t) => {
                let ty = resolve_type(t, off)?;
                let v = match ty {
                    Ty::Int => Value::Int(0),
                    Ty::Double => Value::Double(0.0),
                    Ty::Bool => Value::Bool(false),
                    Ty::Enum(e) => Value::Enum(crate::value::EnumValue::Named(e, 0)),
                    _ => Value::Null,
                };
                Ok((Ir::Const(v), ty))
            }
            ExprKind::TypeOf(t) => {
                let ty = resolve_type(t, off)?;
                match members::convert::type_full_name(&ty) {
                    Some(name) => Ok((Ir::Const(Value::str(&name)), Ty::Obj(ObjKind::Type))),
                    None => type_err(
                        off,
                        format!("'typeof({ty})' is not supported by certgate"),
                    ),
                }
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
            "DateTimeOffset" => stat(Static::DateTimeOffset),
            "TimeSpan" => stat(Static::TimeSpan),
            "Convert" => stat(Static::Convert),
            "WebUtility" => stat(Static::WebUtility),
            "Encoding" => stat(Static::Encoding),
            "JsonConvert" => stat(Static::JsonConvert),
            "Math" => stat(Static::Math),
            "Guid" => stat(Static::Guid),
            "Uri" => stat(Static::Uri),
            "Regex" => stat(Static::Regex),
            "BitConverter" => stat(Static::BitConverter),
            "JTokenType" => stat(Static::JTokenType),
            "Formatting" => stat(Static::Formatting),
            "RegexOptions" => stat(Static::RegexOptions),
            "X509NameType" => stat(Static::X509NameType),
            "Enum" => stat(Static::EnumClass),
            "StringComparer" => stat(Static::StringComparer),
            "Array" => stat(Static::Array),
            "Enumerable" => stat(Static::Enumerable),
            "TimeZoneInfo" => stat(Static::TimeZoneInfo),
            "SymmetricAlgorithm" => stat(Static::Symmetric),
            "TimeZone" => stat(Static::TimeZone),
            "Tuple" => stat(Static::Tuple),
            "KeyValuePair" => stat(Static::KeyValuePair),
            "UriKind" => stat(Static::UriKind),
            "StringSplitOptions" => stat(Static::StringSplitOptions),
            "IPAddress" => stat(Static::IpAddress),
            "UriPartial" => stat(Static::UriPartial),
            "int" | "Int32" => stat(Static::Int32),
            "long" | "Int64" => stat(Static::Int64),
            "double" | "Double" => stat(Static::Double),
            "bool" | "Boolean" => stat(Static::Boolean),
            "char" | "Char" => stat(Static::Char),
            "System" => Ok((Ir::Const(Value::Null), Ty::Namespace("System"))),
            "Newtonsoft" => Ok((Ir::Const(Value::Null), Ty::Namespace("Newtonsoft"))),
            _ => match static_class(name) {
                Some(s) => stat(s),
                None => type_err(off, not_in_certgate(name).unwrap_or_else(|| format!("the name '{name}' does not exist in the current context; expected 'context', a local or a type name"))),
            },
        }
    }

    /// `recv.name`: dispatched to the family of the receiver's type.
    fn member(&mut self, recv: Ir, rty: &Ty, name: &str, off: usize) -> R<(Ir, Ty)> {
        if let Some(r) = members::convert::nullable_member(&recv, rty, name) {
            return Ok(r);
        }
        match rty {
            Ty::Handle(h) => members::context::member(self, recv, *h, name, off),
            Ty::Cert | Ty::DistName | Ty::Oid | Ty::Extensions | Ty::Extension => {
                members::cert::member(recv, rty, name, off)
            }
            Ty::Str => members::string::member(recv, name, off),
            Ty::Array(_)
            | Ty::Bytes
            | Ty::Pair(..)
            | Ty::Group(..)
            | Ty::Tuple(_)
            | Ty::Enumerator(_) => members::collections::member(recv, rty, name, off),
            Ty::DateTime | Ty::TimeSpan => members::datetime::member(recv, rty, name, off),
            Ty::DateTimeOffset => members::datetime_offset::member(recv, name, off),
            Ty::Static(Static::DateTimeOffset) => {
                members::datetime_offset::static_member(name, off)
            }
            Ty::Static(s @ (Static::DateTime | Static::TimeSpan)) => {
                members::datetime::static_member(*s, name, off)
            }
            Ty::Static(s @ Static::String) => members::string::static_member(*s, name, off),
            Ty::Static(Static::X509NameType) => members::cert::name_type(name, off),
            Ty::Static(Static::Enum(t)) => members::enums::static_member(*t, name, off),
            Ty::Static(Static::StringComparer) => members::string::comparer(name, off),
            Ty::Static(s @ (Static::TimeZoneInfo | Static::TimeZone)) => {
                members::timezone::static_member(*s, name, off)
            }
            Ty::Obj(ObjKind::TimeZone) => members::timezone::member(recv, name, off),
            Ty::Obj(ObjKind::Symmetric) => members::symmetric::member(recv, name, off),
            Ty::Static(
                s @ (Static::Rsa
                | Static::HashName
                | Static::SignPadding
                | Static::EncryptPadding
                | Static::RsaCertExtensions),
            ) => members::rsa::static_member(*s, name, off),
            Ty::Obj(
                k @ (ObjKind::Rsa
                | ObjKind::HashName
                | ObjKind::SignPadding
                | ObjKind::EncryptPadding
                | ObjKind::PublicKey),
            ) => members::rsa::member(recv, *k, name, off),
            Ty::Static(Static::UriKind) => members::uri::kind_member(name, off),
            Ty::Static(Static::StringSplitOptions) => members::string::split_options(name, off),
            Ty::Static(Static::IpAddress) => members::ip::static_member(name, off),
            Ty::Obj(ObjKind::Ip) => members::ip::member(recv, name, off),
            Ty::Static(Static::UriPartial) => members::uri::partial_member(name, off),
            Ty::Static(Static::Uri) => match members::uri::static_member(name) {
                Some(r) => Ok(r),
                None => members::convert::static_member(Static::Uri, name, off),
            },
            Ty::Obj(ObjKind::Uri) => members::uri::member(recv, name, off),
            Ty::Obj(ObjKind::Form | ObjKind::FormList) => {
                members::form::member(recv, rty, name, off)
            }
            Ty::List(_) | Ty::Dict(..) | Ty::Set(_) => {
                members::generic::member(recv, rty, name, off)
            }
            Ty::Queue(_) | Ty::Stack(_) => members::queue::member(recv, rty, name, off),
            Ty::Static(Static::RegexOptions) => members::regex::options_member(name, off),
            Ty::Static(Static::JTokenType) => members::json::token_type_member(name, off),
            Ty::Static(
                s @ (Static::Xml(_)
                | Static::XmlNodeType
                | Static::SaveOptions
                | Static::LoadOptions),
            ) => members::xml::static_member(*s, name, off),
            Ty::Obj(ObjKind::Xml(k)) => members::xml::member(recv, *k, name, off),
            Ty::Static(Static::Formatting) => members::json::formatting_member(name, off),
            Ty::Static(s) => members::convert::static_member(*s, name, off),
            Ty::Namespace(ns) => namespace_member(ns, name, off),
            Ty::Obj(k @ (ObjKind::Regex | ObjKind::Match | ObjKind::Group | ObjKind::Groups)) => {
                members::regex::member(recv, *k, name, off)
            }
            Ty::Obj(ObjKind::Hasher) => members::crypto::member(recv, name, off),
            Ty::Obj(ObjKind::Exception) => members::exception::member(recv, name, off),
            Ty::Obj(ObjKind::Builder) => members::builder::member(recv, name, off),
            Ty::Obj(ObjKind::Random) => unknown_member(rty, name, off),
            Ty::Obj(ObjKind::Type) => members::convert::type_member(recv, name, off),
            Ty::Obj(ObjKind::Json(k)) => members::json::member(recv, *k, name, off),
            Ty::Obj(k @ (ObjKind::Response | ObjKind::ResponseHeaders | ObjKind::ResponseBody)) => {
                members::response::member(recv, *k, name, off)
            }
            Ty::Obj(k) => members::auth::member(recv, *k, name, off),
            _ => unknown_member(rty, name, off),
        }
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
        // Methods every value has.
        let json_text =
            matches!(rty, Ty::Obj(ObjKind::Json(_) | ObjKind::Xml(_))) && !args.is_empty();
        if name == "GetType" && args.is_empty() && !matches!(rty, Ty::Static(_) | Ty::Namespace(_))
        {
            return Ok((
                Ir::Call(Builtin::Convert(ConvertFn::GetType), vec![recv]),
                Ty::Obj(ObjKind::Type),
            ));
        }
        if name == "ToString" && !json_text && !matches!(rty, Ty::Static(_) | Ty::Namespace(_)) {
            return members::convert::to_string(self, recv, args, off);
        }
        if let Some(r) = members::xml::seq_method(self, recv.clone(), rty, name, args, off) {
            return r;
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
            "Single" => Some(Linq::Single),
            "SingleOrDefault" => Some(Linq::SingleOrDefault),
            "OrderBy" => Some(Linq::OrderBy),
            "OrderByDescending" => Some(Linq::OrderByDescending),
            "Sum" => Some(Linq::Sum),
            "Min" => Some(Linq::Min),
            "Max" => Some(Linq::Max),
            "Average" => Some(Linq::Average),
            "Distinct" => Some(Linq::Distinct),
            "GroupBy" => Some(Linq::GroupBy),
            "ThenBy" => Some(Linq::ThenBy),
            "ThenByDescending" => Some(Linq::ThenByDescending),
            "SelectMany" => Some(Linq::SelectMany),
            "TakeWhile" => Some(Linq::TakeWhile),
            "SkipWhile" => Some(Linq::SkipWhile),
            _ => None,
        };
        // `Select((x, i) => ..)`, `Where((x, i) => ..)`, `Zip(other, (a, b) => ..)`.
        let two_params =
            |e: &Expr| matches!(&e.kind, ExprKind::Lambda { params, .. } if params.len() == 2);
        let indexed = match (name, args) {
            ("Select" | "Where", [l]) => two_params(l),
            ("Zip", [_, l]) => two_params(l),
            _ => false,
        };
        if indexed {
            if let Some((elem, source)) = sequence_of(recv.clone(), rty) {
                return self.by_index(source, elem, name, args, off);
            }
        }
        let positional = match name {
            "Skip" => Some(CollectionFn::Skip),
            "Take" => Some(CollectionFn::Take),
            "ElementAt" => Some(CollectionFn::ElementAt),
            "ElementAtOrDefault" => Some(CollectionFn::ElementAtOrDefault),
            "Reverse" => Some(CollectionFn::Reverse),
            "Concat" => Some(CollectionFn::Concat),
            "Union" => Some(CollectionFn::SetOp(0)),
            "Intersect" => Some(CollectionFn::SetOp(1)),
            "Except" => Some(CollectionFn::SetOp(2)),
            _ => None,
        };
        // `List<T>.Reverse()` reverses in place, unlike LINQ's: the list's own member decides.
        let positional = positional.filter(|_| !(name == "Reverse" && matches!(rty, Ty::List(_))));
        if let Some(f) = positional {
            if let Some((elem, source)) = sequence_of(recv.clone(), rty) {
                return members::collections::positional(self, f, source, elem, args, off);
            }
        }
        if let (Some(op), Some((elem, items))) = (linq, items_of(recv.clone(), rty)) {
            return self.linq(
                op,
                items,
                &Ty::Array(Box::new(elem.clone())),
                elem,
                args,
                off,
            );
        }
        if name == "GetEnumerator" && args.is_empty() {
            if let Some((elem, source)) = sequence_of(recv.clone(), rty) {
                return Ok((
                    Ir::Call(
                        Builtin::Collection(CollectionFn::GetEnumerator),
                        vec![source],
                    ),
                    Ty::Enumerator(Box::new(elem)),
                ));
            }
        }
        if let Some(r) = self.sequence_method(recv.clone(), rty, name, type_args, args, off) {
            return r;
        }
        if name == "Aggregate" {
            if let Some((elem, source)) = sequence_of(recv.clone(), rty) {
                return self.aggregate(source, elem, args, off);
            }
        }
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
        match rty {
            Ty::Handle(h) => members::context::method(self, recv, *h, name, type_args, args, off),
            Ty::Cert | Ty::Extension => members::cert::method(self, recv, rty, name, args, off),
            Ty::Str => members::string::method(self, recv, name, args, off),
            Ty::Static(Static::String) => members::string::static_method(self, name, args, off),
            Ty::Static(Static::Regex) => members::regex::static_method(self, name, args, off),
            Ty::Static(Static::Json(k)) => members::json::static_method(self, *k, name, args, off),
            Ty::Static(Static::Xml(k)) => members::xml::static_method(self, *k, name, args, off),
            Ty::Static(Static::JsonConvert) if name == "DeserializeObject" => {
                // Into a List, HashSet or Dictionary: the collections' family; else a token.
                let collection = match type_args {
                    [t] => members::generic::from_json(self, t, args, off),
                    _ => None,
                };
                match collection {
                    Some(r) => r,
                    None => members::json::deserialize(self, type_args, args, off),
                }
            }
            Ty::Static(Static::Hash(alg, keyed)) => {
                members::crypto::static_method(self, *alg, *keyed, name, args, off)
            }
            Ty::Static(s @ (Static::TimeSpan | Static::DateTime)) => {
                members::datetime::static_method(self, *s, name, args, off)
            }
            Ty::Static(Static::DateTimeOffset) => {
                members::datetime_offset::static_method(self, name, args, off)
            }
            Ty::Static(Static::IpAddress) => members::ip::static_method(self, name, args, off),
            Ty::Obj(ObjKind::Comparer) => {
                members::string::comparer_method(self, recv, name, args, off)
            }
            Ty::Static(s @ (Static::TimeZoneInfo | Static::TimeZone)) => {
                members::timezone::static_method(self, *s, name, args, off)
            }
            Ty::Obj(ObjKind::TimeZone) => members::timezone::method(self, recv, name, args, off),
            Ty::Static(Static::Symmetric) => {
                members::symmetric::static_method(self, name, args, off)
            }
            Ty::Obj(ObjKind::Symmetric) => members::symmetric::method(self, recv, name, args, off),
            Ty::Obj(k @ (ObjKind::StringReader | ObjKind::StringWriter)) => {
                members::string_io::method(self, recv, *k, name, args, off)
            }
            Ty::Static(
                s @ (Static::Rsa
                | Static::HashName
                | Static::SignPadding
                | Static::EncryptPadding
                | Static::RsaCertExtensions),
            ) => members::rsa::static_method(self, *s, name, args, off),
            Ty::Obj(
                k @ (ObjKind::Rsa
                | ObjKind::HashName
                | ObjKind::SignPadding
                | ObjKind::EncryptPadding
                | ObjKind::PublicKey),
            ) => members::rsa::method(self, recv, *k, name, args, off),
            Ty::Static(s @ (Static::Tuple | Static::KeyValuePair)) => {
                members::collections::create(self, *s, name, args, off)
            }
            Ty::Static(Static::Enumerable) => {
                members::collections::enumerable(self, name, type_args, args, off)
            }
            Ty::Static(Static::Array) => {
                members::collections::static_method(self, name, type_args, args, off)
            }
            Ty::Static(Static::EnumClass) => {
                members::enums::static_method(self, name, type_args, args, off)
            }
            Ty::Obj(ObjKind::Ip) => members::ip::method(self, recv, name, args, off),
            Ty::Static(Static::Uri) if matches!(name, "IsWellFormedUriString" | "TryCreate") => {
                members::uri::static_method(self, name, args, off)
                    .unwrap_or_else(|| unknown_member(rty, name, off))
            }
            Ty::Static(s) => members::convert::static_method(self, *s, name, args, off),
            Ty::DateTime => members::datetime::method(self, recv, name, args, off),
            Ty::DateTimeOffset => members::datetime_offset::method(self, recv, name, args, off),
            Ty::Array(_) | Ty::Bytes | Ty::Pair(..) | Ty::Tuple(_) | Ty::Enumerator(_) => {
                members::collections::method(self, recv, rty, name, args, off)
            }
            Ty::Obj(k @ (ObjKind::Regex | ObjKind::Match | ObjKind::Group | ObjKind::Groups)) => {
                members::regex::method(self, recv, *k, name, args, off)
            }
            Ty::Obj(ObjKind::Hasher) => members::crypto::method(self, recv, name, args, off),
            Ty::Obj(ObjKind::Builder) => members::builder::method(self, recv, name, args, off),
            Ty::Obj(ObjKind::Random) => members::random::method(self, recv, name, args, off),
            Ty::Obj(ObjKind::Uri) => members::uri::method(self, recv, name, args, off),
            Ty::Obj(ObjKind::Form | ObjKind::FormList) => {
                members::form::method(self, recv, rty, name, args, off)
            }
            Ty::List(_) | Ty::Dict(..) | Ty::Set(_) => {
                members::generic::method(self, recv, rty, name, args, off)
            }
            Ty::Queue(_) | Ty::Stack(_) => members::queue::method(self, recv, rty, name, args, off),
            Ty::Obj(ObjKind::Json(k)) => {
                members::json::method(self, recv, *k, name, type_args, args, off)
            }
            Ty::Obj(ObjKind::Xml(k)) => members::xml::method(self, recv, *k, name, args, off),
            Ty::Obj(k @ (ObjKind::Response | ObjKind::ResponseHeaders | ObjKind::ResponseBody)) => {
                members::response::method(self, recv, *k, name, type_args, args, off)
            }
            Ty::Obj(k) => members::auth::method(self, recv, *k, name, args, off),
            _ => unknown_member(rty, name, off),
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
                    if let Ir::Call(Builtin::Cert(CertFn::Thumbprint), inner) = &x {
                        if matches!(
                            inner.as_slice(),
                            [Ir::Call(Builtin::Context(ContextFn::RequestCertificate), _)]
                        ) {
                            return Ok((
                                Ir::Call(
                                    Builtin::Context(ContextFn::CertsHasRequestCertificate),
                                    vec![],
                                ),
                                Ty::Bool,
                            ));
                        }
                    }
                    return Ok((
                        Ir::Call(Builtin::Context(ContextFn::CertsHasThumbprint), vec![x]),
                        Ty::Bool,
                    ));
                }
            }
        }
        let source = match rty {
            Ty::Handle(Handle::Certificates) => {
                Ir::Call(Builtin::Context(ContextFn::CertsAsArray), vec![recv])
            }
            Ty::Str => Ir::Call(Builtin::Str(StrFn::Split), vec![recv]),
            _ => recv,
        };
        let body_want = match op {
            Linq::Select
            | Linq::SelectMany
            | Linq::GroupBy
            | Linq::OrderBy
            | Linq::OrderByDescending
            | Linq::ThenBy
            | Linq::ThenByDescending
            | Linq::Sum
            | Linq::Min
            | Linq::Max
            | Linq::Average => None,
            _ => Some(Ty::Bool),
        };
        if op == Linq::Distinct && !args.is_empty() {
            return type_err(
                off,
                "'Distinct' takes no argument (a comparer is not supported)",
            );
        }
        let (slot, body, body_ty) = match args {
            [] if !matches!(
                op,
                Linq::All
                    | Linq::Where
                    | Linq::Select
                    | Linq::OrderBy
                    | Linq::OrderByDescending
                    | Linq::GroupBy
                    | Linq::ThenBy
                    | Linq::ThenByDescending
                    | Linq::SelectMany
                    | Linq::TakeWhile
                    | Linq::SkipWhile
            ) =>
            {
                (0, None, elem.clone())
            }
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
                        Some(w) => c.convert(ir, &ty, w, body.offset)?,
                        None => ir,
                    };
                    Ok((slot, Some(Box::new(ir)), ty))
                })?
            }
            _ => return type_err(off, format!("'{op:?}' takes a lambda such as x => ...")),
        };
        // SelectMany: each item's sequence, as an array of its items.
        let (body, body_ty) = match (op, body) {
            (Linq::SelectMany, Some(b)) => match &body_ty {
                Ty::Array(_) | Ty::Bytes => (Some(b), body_ty),
                t => match sequence_of(*b, t) {
                    Some((e, items)) => (Some(Box::new(items)), Ty::Array(Box::new(e))),
                    None => {
                        return type_err(
                            off,
                            format!("the lambda for 'SelectMany' gives a sequence, not '{t}'"),
                        )
                    }
                },
            },
            (_, b) => (b, body_ty),
        };
        if matches!(op, Linq::ThenBy | Linq::ThenByDescending) {
            let node = Ir::Linq {
                op,
                source: Box::new(Ir::Const(Value::Null)),
                slot,
                body,
            };
            return match then_by(source, node) {
                Some(ir) => Ok((ir, Ty::Array(Box::new(elem)))),
                None => type_err(
                    off,
                    format!("'{op:?}' follows OrderBy or OrderByDescending"),
                ),
            };
        }
        let ty = match op {
            Linq::Any | Linq::All => Ty::Bool,
            Linq::TakeWhile | Linq::SkipWhile => Ty::Array(Box::new(elem.clone())),
            Linq::SelectMany => match &body_ty {
                Ty::Bytes => Ty::Array(Box::new(Ty::Int)),
                t => t.clone(),
            },
            Linq::ThenBy | Linq::ThenByDescending => Ty::Array(Box::new(elem.clone())),
            Linq::Count => Ty::Int,
            Linq::Where => Ty::Array(Box::new(elem.clone())),
            Linq::Select => Ty::Array(Box::new(body_ty.clone())),
            Linq::First
            | Linq::FirstOrDefault
            | Linq::Last
            | Linq::LastOrDefault
            | Linq::Single
            | Linq::SingleOrDefault => elem.clone(),
            Linq::OrderBy | Linq::OrderByDescending | Linq::Distinct => {
                Ty::Array(Box::new(elem.clone()))
            }
            Linq::Min | Linq::Max => body_ty.clone(),
            Linq::GroupBy => Ty::Array(Box::new(Ty::Group(
                Box::new(body_ty.clone()),
                Box::new(elem.clone()),
            ))),
            Linq::Average => Ty::Double,
            Linq::Sum if body_ty == Ty::Int => Ty::Int,
            Linq::Sum => Ty::Double,
        };
        if matches!(op, Linq::Sum | Linq::Average) && !body_ty.is_numeric() {
            return type_err(off, format!("'{op:?}' needs numbers, not '{body_ty}'"));
        }

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

    /// `Select((x, i) => ..)`, `Where((x, i) => ..)` and `Zip(other, (a, b) => ..)`: a pass over
    /// the positions (`Enumerable.Range`) of the sequence evaluated once, the lambda's
    /// parameters bound to the items there (and to the position).
    fn by_index(
        &mut self,
        source: Ir,
        elem: Ty,
        name: &str,
        args: &[Expr],
        off: usize,
    ) -> R<(Ir, Ty)> {
        let (other, lambda) = match args {
            [o, l] => (Some(o), l),
            [l] => (None, l),
            _ => return type_err(off, format!("'{name}' takes a lambda")),
        };
        let ExprKind::Lambda { params, body } = &lambda.kind else {
            return type_err(lambda.offset, format!("'{name}' takes a lambda"));
        };
        let [(p0, o0), (p1, o1)] = params.as_slice() else {
            return type_err(
                lambda.offset,
                format!("the lambda for '{name}' takes two parameters"),
            );
        };
        let other = match other {
            Some(o) => {
                let (ir, ty) = self.expr(o)?;
                match sequence_of(ir, &ty) {
                    Some(s) => Some(s),
                    None => {
                        return type_err(o.offset, format!("'Zip' takes a sequence, not '{ty}'"))
                    }
                }
            }
            None => None,
        };
        let len = |slot: u16| {
            Ir::Call(
                Builtin::Collection(CollectionFn::Length),
                vec![Ir::Local(slot)],
            )
        };
        let at = |seq: u16, i: u16| {
            Ir::Call(
                Builtin::Collection(CollectionFn::Index),
                vec![Ir::Local(seq), Ir::Local(i)],
            )
        };
        self.scope(|c| {
            let src = c.alloc_slot(off)?;
            let oth = c.alloc_slot(off)?;
            let i = c.alloc_slot(off)?;
            let mut setup = vec![Ir::Assign(src, Box::new(source))];
            let count = match &other {
                Some((_, items)) => {
                    setup.push(Ir::Assign(oth, Box::new(items.clone())));
                    Ir::Cond(
                        Box::new(Ir::Binary(
                            BinOp::Lt,
                            Box::new(len(src)),
                            Box::new(len(oth)),
                        )),
                        Box::new(len(src)),
                        Box::new(len(oth)),
                    )
                }
                None => len(src),
            };
            let positions = Ir::Call(
                Builtin::Collection(CollectionFn::Range),
                vec![Ir::Const(Value::Int(0)), count],
            );
            // The parameters: the item (or the two items), and for Select/Where the position.
            let x = c.declare(p0, elem.clone(), *o0)?;
            let (second, second_ir) = match &other {
                Some((oelem, _)) => (oelem.clone(), at(oth, i)),
                None => (Ty::Int, Ir::Local(i)),
            };
            let y = c.declare(p1, second, *o1)?;
            let (b, bty) = c.expr(body)?;
            let b = if name == "Where" {
                c.convert(b, &bty, &Ty::Bool, body.offset)?
            } else {
                b
            };
            let bound = Ir::Seq(vec![
                Ir::Assign(x, Box::new(at(src, i))),
                Ir::Assign(y, Box::new(second_ir)),
                b,
            ]);
            let linq = |op: Linq, source: Ir, body: Ir| Ir::Linq {
                op,
                source: Box::new(source),
                slot: i,
                body: Some(Box::new(body)),
            };
            let (ir, ty) = if name == "Where" {
                let kept = linq(Linq::Where, positions, bound);
                (
                    linq(Linq::Select, kept, at(src, i)),
                    Ty::Array(Box::new(elem.clone())),
                )
            } else {
                (
                    linq(Linq::Select, positions, bound),
                    Ty::Array(Box::new(bty)),
                )
            };
            setup.push(ir);
            Ok((Ir::Seq(setup), ty))
        })
    }

    /// LINQ's `ToDictionary(key[, value])`, `ToHashSet()`, `Cast<T>()`, `OfType<T>()`,
    /// `SequenceEqual(other)`, `Append(x)`, `Prepend(x)` on any sequence; `None` for other
    /// names or receivers.
    fn sequence_method(
        &mut self,
        recv: Ir,
        rty: &Ty,
        name: &str,
        type_args: &[TypeName],
        args: &[Expr],
        off: usize,
    ) -> Option<R<(Ir, Ty)>> {
        if !matches!(
            name,
            "ToDictionary"
                | "ToHashSet"
                | "Cast"
                | "OfType"
                | "SequenceEqual"
                | "Append"
                | "Prepend"
        ) {
            return None;
        }
        let (elem, source) = sequence_of(recv, rty)?;
        Some(self.sequence_call(source, elem, name, type_args, args, off))
    }

    fn sequence_call(
        &mut self,
        source: Ir,
        elem: Ty,
        name: &str,
        type_args: &[TypeName],
        args: &[Expr],
        off: usize,
    ) -> R<(Ir, Ty)> {
        let seq = |t: Ty| Ty::Array(Box::new(t));
        let linq = |op: Linq, source: Ir, slot: u16, body: Ir| Ir::Linq {
            op,
            source: Box::new(source),
            slot,
            body: Some(Box::new(body)),
        };
        match name {
            "ToHashSet" => {
                self.args(name, args, &[], 0, off)?;
                Ok((
                    Ir::Call(Builtin::Generic(GenericFn::SetFrom), vec![source]),
                    Ty::Set(Box::new(elem)),
                ))
            }
            "Append" | "Prepend" => {
                let a = self.args(name, args, std::slice::from_ref(&elem), 1, off)?;
                let one = Ir::NewArray(a);
                let (first, second) = if name == "Append" {
                    (source, one)
                } else {
                    (one, source)
                };
                Ok((
                    Ir::Call(
                        Builtin::Collection(CollectionFn::Concat),
                        vec![first, second],
                    ),
                    seq(elem),
                ))
            }
            "SequenceEqual" => {
                let a = self.args(name, args, &[seq(elem)], 1, off)?;
                Ok((
                    Ir::Call(
                        Builtin::Collection(CollectionFn::SequenceEqual),
                        with_recv(source, a),
                    ),
                    Ty::Bool,
                ))
            }
            "Cast" | "OfType" => {
                let ([t], []) = (type_args, args) else {
                    return type_err(
                        off,
                        format!("'{name}' takes a type argument and no arguments"),
                    );
                };
                let to = resolve_type(t, off)?;
                let Some(cast) = CastTo::of(&to) else {
                    return type_err(off, format!("cannot convert to '{to}'"));
                };
                let slot = self.alloc_slot(off)?;
                let item = || Box::new(Ir::Local(slot));
                let source = if name == "OfType" {
                    linq(Linq::Where, source, slot, Ir::Is(cast, item()))
                } else {
                    source
                };
                Ok((
                    linq(Linq::Select, source, slot, Ir::Cast(cast, item())),
                    seq(to),
                ))
            }
            _ => {
                // ToDictionary(key[, value]): one pass selecting (key, value) pairs.
                let lambda = |e: &Expr| match &e.kind {
                    ExprKind::Lambda { params, body } if params.len() == 1 => {
                        Some((params[0].clone(), (**body).clone()))
                    }
                    _ => None,
                };
                let parts: Option<Vec<_>> = args.iter().map(lambda).collect();
                let (Some(parts), 1..=2) = (parts, args.len()) else {
                    return type_err(
                        off,
                        "'ToDictionary' takes a key selector, and a value selector (x => ...)",
                    );
                };
                self.scope(|c| {
                    let slot = c.alloc_slot(off)?;
                    let mut irs = Vec::new();
                    let mut tys = Vec::new();
                    for ((p, _), body) in &parts {
                        // Each lambda's parameter names the same item.
                        let depth = c.locals.len();
                        c.locals.push((p.clone(), slot, elem.clone()));
                        let r = c.expr(body);
                        c.locals.truncate(depth);
                        let (ir, ty) = r?;
                        irs.push(ir);
                        tys.push(ty);
                    }
                    if parts.len() == 1 {
                        irs.push(Ir::Local(slot));
                        tys.push(elem.clone());
                    }
                    let pair = Ir::Call(Builtin::Collection(CollectionFn::NewPair), irs);
                    let pairs = linq(Linq::Select, source, slot, pair);
                    let v = tys.pop().unwrap_or(Ty::Object);
                    let k = tys.pop().unwrap_or(Ty::Object);
                    Ok((
                        Ir::Call(Builtin::Generic(GenericFn::DictFromPairs), vec![pairs]),
                        Ty::Dict(Box::new(k), Box::new(v)),
                    ))
                })
            }
        }
    }

    /// `Aggregate((acc, x) => ..)` and `Aggregate(seed, (acc, x) => ..)`.
    fn aggregate(&mut self, source: Ir, elem: Ty, args: &[Expr], off: usize) -> R<(Ir, Ty)> {
        let (seed, lambda) = match args {
            [l] => (None, l),
            [s, l] => (Some(s), l),
            _ => {
                return type_err(
                    off,
                    "'Aggregate' takes (acc, x) => ..., or a seed and (acc, x) => ... (a result selector is not supported by certgate)",
                )
            }
        };
        let ExprKind::Lambda { params, body } = &lambda.kind else {
            return type_err(
                lambda.offset,
                "'Aggregate' takes a lambda such as (acc, x) => acc + x",
            );
        };
        let [(a, aoff), (x, xoff)] = params.as_slice() else {
            return type_err(
                lambda.offset,
                "the lambda for 'Aggregate' takes two parameters: the accumulator and the item",
            );
        };
        let (seed, acc_ty) = match seed {
            Some(s) => {
                let (ir, ty) = self.expr(s)?;
                (Some(Box::new(ir)), ty)
            }
            None => (None, elem.clone()),
        };
        self.scope(|c| {
            let acc = c.declare(a, acc_ty.clone(), *aoff)?;
            let item = c.declare(x, elem.clone(), *xoff)?;
            let (ir, ty) = c.expr(body)?;
            let body = c.convert(ir, &ty, &acc_ty, body.offset)?;
            Ok((
                Ir::Fold {
                    source: Box::new(source),
                    seed,
                    acc,
                    item,
                    body: Box::new(body),
                },
                acc_ty.clone(),
            ))
        })
    }

    fn index(&mut self, recv: Ir, rty: &Ty, index: &Expr, off: usize) -> R<(Ir, Ty)> {
        match rty {
            Ty::Handle(h) => match members::context::indexer(*h) {
                Some((f, key, ty)) => {
                    let k = self.coerce(index, &key)?;
                    Ok((fold(Ir::Call(f, vec![recv, k])), ty))
                }
                None => type_err(off, format!("cannot apply indexing with [] to '{rty}'")),
            },
            Ty::Str => members::string::index(self, recv, index),
            Ty::Extensions => members::cert::extension_index(self, recv, index),
            Ty::Array(_) | Ty::Bytes => members::collections::index(self, recv, rty, index),
            Ty::Obj(ObjKind::Claims) => members::auth::index(self, recv, index),
            Ty::Obj(ObjKind::ResponseHeaders) => members::response::index(self, recv, index),
            Ty::Obj(ObjKind::Groups) => members::regex::index(self, recv, index),
            Ty::Obj(ObjKind::Json(_)) => members::json::index(self, recv, index),
            Ty::Obj(ObjKind::Form | ObjKind::FormList) => {
                members::form::index(self, recv, rty, index)
            }
            Ty::List(_) | Ty::Dict(..) => members::generic::index(self, recv, rty, index),
            t => type_err(off, format!("cannot apply indexing with [] to '{t}'")),
        }
    }

    fn new_object(&mut self, ty: &TypeName, args: &[Expr], off: usize) -> R<(Ir, Ty)> {
        match ty.name.as_str() {
            "X509Certificate2" | "System.Security.Cryptography.X509Certificates.X509Certificate2" => {
                members::cert::new(self, args, off)
            }
            t @ ("TimeSpan" | "DateTime") => members::datetime::new(self, t, args, off),
            "Oid" | "System.Security.Cryptography.Oid" => members::cert::new_oid(self, args, off),
            "Tuple" | "System.Tuple" | "KeyValuePair" | "System.Collections.Generic.KeyValuePair" => {
                members::collections::new(self, ty, args, off)
            }
            "string" | "String" | "System.String" => members::string::new(self, args, off),
            "DateTimeOffset" | "System.DateTimeOffset" => {
                members::datetime_offset::new(self, args, off)
            }
            "Regex" | "System.Text.RegularExpressions.Regex" => members::regex::new(self, args, off),
            other => match members::json::class(other) {
                Some(k) => members::json::new(self, k, args, off),
                None => match members::crypto::new(self, other, args, off)
                    .or_else(|| members::exception::new(self, other, args, off))
                    .or_else(|| members::builder::new(self, other, args, off))
                    .or_else(|| members::random::new(self, other, args, off))
                    .or_else(|| members::uri::new(self, other, args, off))
                    .or_else(|| members::xml::new(self, other, args, off))
                    .or_else(|| members::rsa::new(self, other, args, off))
                    .or_else(|| members::string_io::new(self, other, args, off))
                {
                Some(r) => r,
                None => type_err(off, not_in_certgate(other).unwrap_or_else(|| format!("cannot create '{other}' in a policy expression; expected X509Certificate2, TimeSpan or DateTime"))),
                },
            },
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
                    && !matches!(
                        li,
                        Ir::NullCond { .. } | Ir::Call(Builtin::Context(ContextFn::VarGet(_)), _)
                    )
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
                // `e.Name == "a"`: the string converts to an XName.
                let xname = Ty::Obj(ObjKind::Xml(XmlKind::Name));
                if (lt == xname && rt == Ty::Str) || (lt == Ty::Str && rt == xname) {
                    let li = self.convert(li, &lt, &xname, l.offset)?;
                    let ri = self.convert(ri, &rt, &xname, r.offset)?;
                    return Ok((b(li, ri), Ty::Bool));
                }
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
                    || (lt == rt && matches!(lt, Ty::DateTime | Ty::DateTimeOffset | Ty::TimeSpan))
                    || (matches!(lt, Ty::DateTime | Ty::DateTimeOffset | Ty::TimeSpan)
                        && rt == Ty::Null)
                    || (matches!(rt, Ty::DateTime | Ty::DateTimeOffset | Ty::TimeSpan)
                        && lt == Ty::Null);
                if !ok {
                    return bad();
                }
                Ok((fold(b(li, ri)), Ty::Bool))
            }
            BinOp::Add => {
                // `ns + "local"`: an XName.
                if lt == Ty::Obj(ObjKind::Xml(XmlKind::Namespace)) && rt == Ty::Str {
                    return Ok((
                        Ir::Call(Builtin::Xml(XmlFn::NsName), vec![li, ri]),
                        Ty::Obj(ObjKind::Xml(XmlKind::Name)),
                    ));
                }
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
                    (Ty::DateTimeOffset, Ty::TimeSpan) | (Ty::TimeSpan, Ty::DateTimeOffset) => {
                        Ty::DateTimeOffset
                    }
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
                    (Ty::DateTimeOffset, Ty::DateTimeOffset) => Ty::TimeSpan,
                    (Ty::DateTimeOffset, Ty::TimeSpan) => Ty::DateTimeOffset,
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
            BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => {
                let ty = match (&lt, &rt) {
                    (Ty::Int, Ty::Int) => Ty::Int,
                    (Ty::Bool, Ty::Bool) => Ty::Bool,
                    (Ty::SplitOptions, Ty::SplitOptions) => Ty::SplitOptions,
                    _ => return bad(),
                };
                Ok((fold(b(li, ri)), ty))
            }
        }
    }
}

/// `sorted.ThenBy(key)`: `node` (a sort by the new key, its source to be set) placed below the
/// sorts of the `OrderBy`/`ThenBy` chain `sorted` ends with, so that the earlier keys, sorted
/// after it and stably, decide first. `None` when `sorted` is not such a chain.
fn then_by(sorted: Ir, node: Ir) -> Option<Ir> {
    fn below(ir: Ir, node: Ir) -> Ir {
        match ir {
            Ir::Linq {
                op: op @ (Linq::ThenBy | Linq::ThenByDescending),
                source,
                slot,
                body,
            } => Ir::Linq {
                op,
                source: Box::new(below(*source, node)),
                slot,
                body,
            },
            other => match node {
                Ir::Linq { op, slot, body, .. } => Ir::Linq {
                    op,
                    source: Box::new(other),
                    slot,
                    body,
                },
                n => n,
            },
        }
    }
    match sorted {
        Ir::Linq {
            op: op @ (Linq::OrderBy | Linq::OrderByDescending),
            source,
            slot,
            body,
        } => Some(Ir::Linq {
            op,
            source: Box::new(below(*source, node)),
            slot,
            body,
        }),
        _ => None,
    }
}

/// What LINQ's positional operators and `Aggregate` iterate: the element type and the items.
fn sequence_of(recv: Ir, rty: &Ty) -> Option<(Ty, Ir)> {
    Some(match rty {
        Ty::Array(e) => ((**e).clone(), recv),
        Ty::Bytes => (Ty::Int, recv),
        Ty::Handle(Handle::Certificates) => (
            Ty::Pair(Box::new(Ty::Str), Box::new(Ty::Cert)),
            Ir::Call(Builtin::Context(ContextFn::CertsAsArray), vec![recv]),
        ),
        t => return items_of(recv, t),
    })
}

/// What a token, a group, a form or a collection iterates as (`foreach`, LINQ): the element
/// type and an array of its items. `None` for every other type.
fn items_of(recv: Ir, rty: &Ty) -> Option<(Ty, Ir)> {
    match rty {
        Ty::Handle(h) if members::context::entry_type(*h).is_some() => Some((
            members::context::entry_type(*h)?,
            Ir::Call(Builtin::Context(ContextFn::Entries), vec![recv]),
        )),
        Ty::Obj(ObjKind::Json(k)) => Some(members::json::items(recv, *k)),
        Ty::Group(_, t) => Some((
            (**t).clone(),
            Ir::Call(Builtin::Collection(CollectionFn::PairValue), vec![recv]),
        )),
        t => members::collection_items(recv, t),
    }
}

/// The static classes found by a name that families own (`JObject`, `SHA256`, ...).
fn static_class(name: &str) -> Option<Static> {
    members::json::class(name)
        .map(Static::Json)
        .or_else(|| members::enums::class(name))
        .or_else(|| members::rsa::class(name))
        .or_else(|| members::crypto::class(name))
        .or_else(|| members::xml::class(name))
}

/// `System.X` names: the namespaces and static classes policies may spell in full.
fn namespace_member(ns: &'static str, n: &str, off: usize) -> R<(Ir, Ty)> {
    let full = format!("{ns}.{n}");
    let t = match full.as_str() {
        "System.Net" => Ty::Namespace("System.Net"),
        "System.Text" => Ty::Namespace("System.Text"),
        "System.Text.RegularExpressions" => Ty::Namespace("System.Text.RegularExpressions"),
        "System.Text.RegularExpressions.Regex" => Ty::Static(Static::Regex),
        "System.Text.RegularExpressions.RegexOptions" => Ty::Static(Static::RegexOptions),
        "System.Net.WebUtility" => Ty::Static(Static::WebUtility),
        "System.Net.IPAddress" => Ty::Static(Static::IpAddress),
        "System.Text.Encoding" => Ty::Static(Static::Encoding),
        "System.String" => Ty::Static(Static::String),
        "System.DateTime" => Ty::Static(Static::DateTime),
        "System.DateTimeOffset" => Ty::Static(Static::DateTimeOffset),
        "System.TimeSpan" => Ty::Static(Static::TimeSpan),
        "System.Convert" => Ty::Static(Static::Convert),
        "System.Math" => Ty::Static(Static::Math),
        "System.Uri" => Ty::Static(Static::Uri),
        "System.BitConverter" => Ty::Static(Static::BitConverter),
        "System.Guid" => Ty::Static(Static::Guid),
        "System.Security" => Ty::Namespace("System.Security"),
        "System.Net.Sockets" => Ty::Namespace("System.Net.Sockets"),
        "System.Security.Cryptography.X509Certificates" => {
            Ty::Namespace("System.Security.Cryptography.X509Certificates")
        }
        "System.Enum" => Ty::Static(Static::EnumClass),
        "System.StringComparer" => Ty::Static(Static::StringComparer),
        "System.Array" => Ty::Static(Static::Array),
        "System.TimeZoneInfo" => Ty::Static(Static::TimeZoneInfo),
        "System.Security.Cryptography.SymmetricAlgorithm" => Ty::Static(Static::Symmetric),
        "System.TimeZone" => Ty::Static(Static::TimeZone),
        "Newtonsoft.Json" => Ty::Namespace("Newtonsoft.Json"),
        "Newtonsoft.Json.Linq" => Ty::Namespace("Newtonsoft.Json.Linq"),
        "Newtonsoft.Json.JsonConvert" => Ty::Static(Static::JsonConvert),
        "Newtonsoft.Json.Formatting" => Ty::Static(Static::Formatting),
        "Newtonsoft.Json.Linq.JTokenType" => Ty::Static(Static::JTokenType),
        "System.Security.Cryptography" => Ty::Namespace("System.Security.Cryptography"),
        "System.Int32" => Ty::Static(Static::Int32),
        "System.Int64" => Ty::Static(Static::Int64),
        "System.Double" => Ty::Static(Static::Double),
        "System.Boolean" => Ty::Static(Static::Boolean),
        f => match static_class(f) {
            Some(s) => Ty::Static(s),
            None => {
                return type_err(
                    off,
                    not_in_certgate(&full).unwrap_or_else(|| {
                        format!(
                            "the type or namespace '{full}' is not available in policy expressions"
                        )
                    }),
                )
            }
        },
    };
    Ok((Ir::Const(Value::Null), t))
}

impl Binder for Checker<'_> {
    fn route(&self) -> &RouteInfo {
        self.route
    }
    fn expr(&mut self, e: &Expr) -> R<(Ir, Ty)> {
        Checker::expr(self, e)
    }
    fn coerce(&mut self, e: &Expr, want: &Ty) -> R<Ir> {
        Checker::coerce(self, e, want)
    }
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
            .map(|(a, p)| Checker::coerce(self, a, p))
            .collect()
    }
    fn out_arg(&mut self, e: &Expr, ty: &Ty) -> R<u16> {
        let ExprKind::Out { name, decl } = &e.kind else {
            return type_err(
                e.offset,
                "expected an 'out' argument here, such as 'out var x'",
            );
        };
        match decl {
            None => match self.locals.iter().rev().find(|(n, _, _)| n == name) {
                Some((_, slot, lty)) if lty == ty || *lty == Ty::Object => Ok(*slot),
                Some((_, _, lty)) => type_err(
                    e.offset,
                    format!("the out argument '{name}' is a '{lty}'; this method writes a '{ty}'"),
                ),
                None => type_err(
                    e.offset,
                    format!(
                        "'{name}' is not a local variable; declare it or write 'out var {name}'"
                    ),
                ),
            },
            Some(t) => {
                if let Some(t) = t {
                    let lty = resolve_type(t, e.offset)?;
                    if lty != *ty && lty != Ty::Object {
                        return type_err(
                            e.offset,
                            format!("the out argument '{name}' is a '{lty}'; this method writes a '{ty}'"),
                        );
                    }
                }
                self.declare(name, ty.clone(), e.offset)
            }
        }
    }
    fn temp(&mut self, off: usize) -> R<u16> {
        self.alloc_slot(off)
    }
    fn local_type(&self, name: &str) -> Option<Ty> {
        let found = self.locals.iter().rev().find(|(n, _, _)| n == name);
        found.map(|(_, _, ty)| ty.clone())
    }
    fn fold(&self, ir: Ir) -> Ir {
        fold(ir)
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
            ExprKind::Ident(_) | ExprKind::Lit(_) | ExprKind::Default(_) | ExprKind::TypeOf(_) => {}
            ExprKind::Member { target, .. } => work.push(target),
            ExprKind::Call { target, args, .. } => {
                work.push(target);
                work.extend(args);
            }
            ExprKind::Invoke { args, .. } => work.extend(args),
            ExprKind::New { args, init, .. } => {
                work.extend(args);
                for i in init {
                    match i {
                        Init::Item(e) => work.push(e),
                        Init::Pair(a, b) | Init::Index(a, b) => work.extend([a, b]),
                    }
                }
            }
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
            ExprKind::NewArraySized { size, .. } => work.push(size),
            ExprKind::NewAnonymous(members) => work.extend(members.iter().map(|(_, e)| e)),
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
            ExprKind::SetIndex {
                target,
                index,
                value,
            } => work.extend([&**target, &**index, &**value]),
            ExprKind::SetMember { target, value, .. } => work.extend([&**target, &**value]),
            ExprKind::PostStep(step) => work.push(step),
            ExprKind::IsBind { expr, .. } => work.push(expr),
            ExprKind::Named { value, .. } => work.push(value),
            // Statements are not searched: a block lambda's body is never a thumbprint probe.
            ExprKind::Block(_) => return true,
            ExprKind::Out { name: n, .. } if n == name => return true,
            ExprKind::Out { .. } => {}
        }
    }
    false
}

fn definitely_returns(body: &[IrStmt]) -> bool {
    body.iter().any(|s| match s {
        IrStmt::Return(_) | IrStmt::Throw(_) => true,
        IrStmt::Try {
            body,
            catches,
            finally,
        } => {
            (definitely_returns(body) && catches.iter().all(|c| definitely_returns(&c.body)))
                || definitely_returns(finally)
        }
        IrStmt::If(Ir::Const(Value::Bool(true)), t, _) => definitely_returns(t),
        IrStmt::If(_, t, e) => definitely_returns(t) && definitely_returns(e),
        // `while (true)` / `for (;;)` without a `break` of its own ends only by returning (or
        // by the step budget).
        IrStmt::Loop {
            cond: None | Some(Ir::Const(Value::Bool(true))),
            body,
            ..
        } => !breaks(body),
        _ => false,
    })
}

/// Whether a loop body has a `break` of its own (not one of an inner loop's).
fn breaks(body: &[IrStmt]) -> bool {
    body.iter().any(|s| match s {
        IrStmt::Break => true,
        IrStmt::If(_, t, e) => breaks(t) || breaks(e),
        IrStmt::Try {
            body,
            catches,
            finally,
        } => breaks(body) || catches.iter().any(|c| breaks(&c.body)) || breaks(finally),
        _ => false,
    })
}

#[cold]
fn unreachable_chain() -> R<(Ir, Ty)> {
    // `binary` sends && and || to `logical_chain` before it gets here.
    Err(CheckError {
        offset: 0,
        message: "internal: logical operator outside a chain".into(),
    })
}
