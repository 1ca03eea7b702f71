//! Evaluates compiled [`Ir`] against a [`RequestContext`]. Runs per request: no parsing, no
//! name lookups; every failure is an [`EvalError`] (never a panic) that the executor turns into
//! `ExpressionValueEvaluationFailure`.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;

use super::ast::BinOp;
use super::ir::*;
use crate::cert::Certificate;
use crate::context::{Deployment, RequestContext, UrlView};
use crate::dotnet::{DateKind, DateTime, StringComparison, TimeSpan};
use crate::value::{EnumValue, Handle, Value};

/// A runtime failure inside an expression, with .NET's wording where there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError(pub String);

const NULL_REF: &str = "Object reference not set to an instance of an object.";

type R<T> = Result<T, EvalError>;

fn fail<T>(m: impl Into<String>) -> R<T> {
    Err(EvalError(m.into()))
}

/// Upper bound on iterations (foreach, LINQ) in one evaluation: hostile data must not make a
/// policy spin.
const MAX_STEPS: u32 = 1_000_000;

/// Evaluations stopped by the memory budget, process-wide (exported as a metric).
pub static BUDGET_EXCEEDED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn over_budget<T>(what: String) -> R<T> {
    BUDGET_EXCEEDED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    fail(format!("expression exceeded its memory budget: {what}"))
}

pub struct Env<'c> {
    pub ctx: &'c dyn RequestContext,
    pub locals: Vec<Value>,
    steps: u32,
    produced: usize,
    budget: crate::context::ExpressionBudget,
}

impl<'c> Env<'c> {
    pub fn new(ctx: &'c dyn RequestContext, slots: u16) -> Env<'c> {
        Env {
            ctx,
            locals: vec![Value::Null; slots as usize],
            steps: 0,
            produced: 0,
            budget: ctx.expression_budget(),
        }
    }

    /// Fails before allocating a string of `len` bytes that the budget would refuse anyway.
    fn check_len(&self, len: usize) -> R<()> {
        let max = self.budget.max_string;
        if len > max {
            return over_budget(format!("a string of {len} bytes (at most {max})"));
        }
        Ok(())
    }

    /// Charges a value just produced against the evaluation's memory budget.
    fn charge(&mut self, v: Value) -> R<Value> {
        let (len, items) = match &v {
            Value::Str(s) => (s.len(), 0),
            Value::Bytes(b) => (b.len(), 0),
            Value::Array(a) => (0, a.len()),
            _ => return Ok(v),
        };
        self.check_len(len)?;
        let b = self.budget;
        if items > b.max_items {
            return over_budget(format!(
                "a collection of {items} items (at most {})",
                b.max_items
            ));
        }
        self.produced = self.produced.saturating_add(len);
        if self.produced > b.max_produced {
            return over_budget(format!(
                "{} bytes of strings produced (at most {})",
                self.produced, b.max_produced
            ));
        }
        Ok(v)
    }

    fn step(&mut self) -> R<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return fail("expression exceeded its step budget");
        }
        Ok(())
    }
}

enum Flow {
    Next,
    Return(Value),
}

pub fn eval(ir: &Ir, env: &mut Env) -> R<Value> {
    match ir {
        Ir::Const(v) => Ok(v.clone()),
        Ir::Local(s) => Ok(env.locals.get(*s as usize).cloned().unwrap_or(Value::Null)),
        Ir::Not(a) => match eval(a, env)? {
            Value::Bool(b) => Ok(Value::Bool(!b)),
            Value::Null => fail(NULL_REF),
            v => fail(format!("'!' cannot be applied to {}", v.type_name())),
        },
        Ir::Neg(a) => match eval(a, env)? {
            Value::Int(i) => Ok(Value::Int(i.checked_neg().ok_or_else(|| {
                EvalError("Arithmetic operation resulted in an overflow.".into())
            })?)),
            Value::Double(d) => Ok(Value::Double(-d)),
            Value::TimeSpan(t) => Ok(Value::TimeSpan(TimeSpan(-t.0))),
            v => fail(format!("'-' cannot be applied to {}", v.type_name())),
        },
        Ir::And(items) => {
            for i in items {
                if !truth(eval(i, env)?)? {
                    return Ok(Value::Bool(false));
                }
            }
            Ok(Value::Bool(true))
        }
        Ir::Or(items) => {
            for i in items {
                if truth(eval(i, env)?)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        Ir::Cond(c, t, f) => {
            if truth(eval(c, env)?)? {
                eval(t, env)
            } else {
                eval(f, env)
            }
        }
        Ir::Coalesce(a, b) => match eval(a, env)? {
            Value::Null => eval(b, env),
            v => Ok(v),
        },
        Ir::Binary(op, a, b) => {
            let x = eval(a, env)?;
            let y = eval(b, env)?;
            if let (Value::Str(p), Value::Str(q)) = (&x, &y) {
                env.check_len(p.len() + q.len())?;
            }
            let v = binary(*op, x, y)?;
            env.charge(v)
        }
        Ir::Call(b, args) => {
            let v = call(*b, args, env)?;
            env.charge(v)
        }
        Ir::NullCond { target, slot, then } => match eval(target, env)? {
            Value::Null => Ok(Value::Null),
            v => {
                set_local(env, *slot, v);
                eval(then, env)
            }
        },
        Ir::Linq {
            op,
            source,
            slot,
            body,
        } => linq(*op, source, *slot, body.as_deref(), env),
        Ir::Cast(to, a) => {
            let v = eval(a, env)?;
            cast(*to, v, true)
        }
        Ir::Is(to, a) => {
            let v = eval(a, env)?;
            Ok(Value::Bool(!v.is_null() && cast(*to, v, false).is_ok()))
        }
        Ir::As(to, a) => {
            let v = eval(a, env)?;
            Ok(cast(*to, v, false).unwrap_or(Value::Null))
        }
        Ir::Concat(parts) => {
            let mut s = String::new();
            for p in parts {
                match eval(p, env)? {
                    Value::Str(x) => {
                        env.check_len(s.len() + x.len())?;
                        s.push_str(&x)
                    }
                    v => s.push_str(&v.to_dotnet_string()),
                }
            }
            env.charge(Value::Str(s.into()))
        }
        Ir::Format(a, fmt) => {
            let v = eval(a, env)?;
            Ok(Value::str(&format_value(&v, fmt)))
        }
        Ir::NewArray(items) => {
            let v = items.iter().map(|i| eval(i, env)).collect::<R<Vec<_>>>()?;
            Ok(Value::Array(v.into()))
        }
        Ir::Assign(slot, v) => {
            let v = eval(v, env)?;
            set_local(env, *slot, v.clone());
            Ok(v)
        }
        Ir::Block(stmts) => match exec(stmts, env)? {
            Flow::Return(v) => Ok(v),
            Flow::Next => fail("block ended without a return"),
        },
    }
}

fn set_local(env: &mut Env, slot: u16, v: Value) {
    if let Some(s) = env.locals.get_mut(slot as usize) {
        *s = v;
    }
}

fn exec(stmts: &[IrStmt], env: &mut Env) -> R<Flow> {
    for s in stmts {
        match s {
            IrStmt::Eval(e) => {
                eval(e, env)?;
            }
            IrStmt::If(c, t, e) => {
                let branch = if truth(eval(c, env)?)? { t } else { e };
                if let Flow::Return(v) = exec(branch, env)? {
                    return Ok(Flow::Return(v));
                }
            }
            IrStmt::Return(e) => return Ok(Flow::Return(eval(e, env)?)),
            IrStmt::Foreach(slot, it, body) => {
                let items = sequence(eval(it, env)?)?;
                for item in items.iter() {
                    env.step()?;
                    set_local(env, *slot, item.clone());
                    if let Flow::Return(v) = exec(body, env)? {
                        return Ok(Flow::Return(v));
                    }
                }
            }
        }
    }
    Ok(Flow::Next)
}

fn truth(v: Value) -> R<bool> {
    match v {
        Value::Bool(b) => Ok(b),
        Value::Null => fail("Nullable object must have a value."),
        v => fail(format!("expected a bool, got {}", v.type_name())),
    }
}

fn sequence(v: Value) -> R<Arc<[Value]>> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Bytes(b) => Ok(b
            .iter()
            .map(|&x| Value::Int(x as i64))
            .collect::<Vec<_>>()
            .into()),
        Value::Str(s) => Ok(s.chars().map(Value::Char).collect::<Vec<_>>().into()),
        Value::Null => fail(NULL_REF),
        v => fail(format!("cannot iterate over {}", v.type_name())),
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Double(d) => Some(*d),
        Value::Char(c) => Some(*c as u32 as f64),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Char(c) => Some(*c as i64),
        _ => None,
    }
}

fn binary(op: BinOp, x: Value, y: Value) -> R<Value> {
    use std::cmp::Ordering;
    let overflow = || EvalError("Arithmetic operation resulted in an overflow.".into());
    match op {
        BinOp::Eq => Ok(Value::Bool(x.dotnet_eq(&y))),
        BinOp::Ne => Ok(Value::Bool(!x.dotnet_eq(&y))),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let ord = match (&x, &y) {
                // Lifted comparison: null compares false, as in C#.
                (Value::Null, _) | (_, Value::Null) => return Ok(Value::Bool(false)),
                (Value::DateTime(a), Value::DateTime(b)) => a.wall.cmp(&b.wall),
                (Value::TimeSpan(a), Value::TimeSpan(b)) => a.cmp(b),
                (Value::Int(a), Value::Int(b)) => a.cmp(b),
                _ => match (num(&x), num(&y)) {
                    (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
                    _ => {
                        return fail(format!(
                            "cannot compare {} with {}",
                            x.type_name(),
                            y.type_name()
                        ))
                    }
                },
            };
            Ok(Value::Bool(match op {
                BinOp::Lt => ord == Ordering::Less,
                BinOp::Le => ord != Ordering::Greater,
                BinOp::Gt => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }))
        }
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
            match (&x, &y) {
                (Value::Null, _) | (_, Value::Null) => return Ok(Value::Null),
                (Value::DateTime(d), Value::TimeSpan(t)) | (Value::TimeSpan(t), Value::DateTime(d)) if op == BinOp::Add => {
                    return d.checked_add(*t).map(Value::DateTime).ok_or_else(|| EvalError("The added or subtracted value results in an un-representable DateTime.".into()))
                }
                (Value::DateTime(d), Value::TimeSpan(t)) if op == BinOp::Sub => {
                    return d.checked_add(TimeSpan(-t.0)).map(Value::DateTime).ok_or_else(|| EvalError("The added or subtracted value results in an un-representable DateTime.".into()))
                }
                (Value::DateTime(a), Value::DateTime(b)) if op == BinOp::Sub => return Ok(Value::TimeSpan(a.since(*b))),
                (Value::TimeSpan(a), Value::TimeSpan(b)) => {
                    let r = if op == BinOp::Add { a.0.checked_add(b.0) } else { a.0.checked_sub(b.0) };
                    return r.map(|t| Value::TimeSpan(TimeSpan(t))).ok_or_else(overflow);
                }
                _ => {}
            }
            if let (Some(a), Some(b)) = (int(&x), int(&y)) {
                let r = match op {
                    BinOp::Add => a.checked_add(b),
                    BinOp::Sub => a.checked_sub(b),
                    BinOp::Mul => a.checked_mul(b),
                    BinOp::Div if b == 0 => return fail("Attempted to divide by zero."),
                    BinOp::Div => a.checked_div(b),
                    _ if b == 0 => return fail("Attempted to divide by zero."),
                    _ => a.checked_rem(b),
                };
                return r.map(Value::Int).ok_or_else(overflow);
            }
            match (num(&x), num(&y)) {
                (Some(a), Some(b)) => Ok(Value::Double(match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div => a / b,
                    _ => a % b,
                })),
                _ => fail(format!(
                    "operator '{}' cannot be applied to {} and {}",
                    op.as_str(),
                    x.type_name(),
                    y.type_name()
                )),
            }
        }
        BinOp::And | BinOp::Or | BinOp::Coalesce => {
            fail("internal: short-circuit operator evaluated eagerly")
        }
    }
}

/// Converts a value to a type; `explicit` allows numeric narrowing like a C# cast.
pub fn cast(to: CastTo, v: Value, explicit: bool) -> R<Value> {
    let bad = |v: &Value| {
        EvalError(format!(
            "Unable to cast object of type '{}' to type '{to:?}'.",
            v.type_name()
        ))
    };
    match (to, v) {
        (_, Value::Null) => Ok(Value::Null),
        (CastTo::Any, v) => Ok(v),
        (CastTo::Str, v @ Value::Str(_)) => Ok(v),
        (CastTo::Int, v @ Value::Int(_)) => Ok(v),
        (CastTo::Int, Value::Double(d)) if explicit => Ok(Value::Int(d as i64)),
        (CastTo::Int, Value::Char(c)) => Ok(Value::Int(c as i64)),
        (CastTo::Double, Value::Double(d)) => Ok(Value::Double(d)),
        (CastTo::Double, Value::Int(i)) => Ok(Value::Double(i as f64)),
        (CastTo::Double, Value::Char(c)) => Ok(Value::Double(c as u32 as f64)),
        (CastTo::Bool, v @ Value::Bool(_)) => Ok(v),
        (CastTo::DateTime, v @ Value::DateTime(_)) => Ok(v),
        (CastTo::TimeSpan, v @ Value::TimeSpan(_)) => Ok(v),
        (CastTo::Bytes, v @ Value::Bytes(_)) => Ok(v),
        (CastTo::Bytes, Value::Array(a)) => {
            let bytes = a.iter().map(|x| match x {
                Value::Int(i) if (0..=255).contains(i) => Ok(*i as u8),
                other => Err(bad(other)),
            });
            Ok(Value::Bytes(bytes.collect::<R<Vec<u8>>>()?.into()))
        }
        (CastTo::Cert, v @ Value::Cert(_)) => Ok(v),
        (CastTo::StrArray, v @ Value::Array(_)) => Ok(v),
        (_, v) => Err(bad(&v)),
    }
}

fn linq(op: Linq, source: &Ir, slot: u16, body: Option<&Ir>, env: &mut Env) -> R<Value> {
    let items = sequence(eval(source, env)?)?;
    let test = |env: &mut Env, item: &Value| -> R<bool> {
        env.step()?;
        match body {
            None => Ok(true),
            Some(b) => {
                set_local(env, slot, item.clone());
                truth(eval(b, env)?)
            }
        }
    };
    match op {
        Linq::Any => {
            for it in items.iter() {
                if test(env, it)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        Linq::All => {
            for it in items.iter() {
                if !test(env, it)? {
                    return Ok(Value::Bool(false));
                }
            }
            Ok(Value::Bool(true))
        }
        Linq::Count => {
            let mut n = 0;
            for it in items.iter() {
                if test(env, it)? {
                    n += 1;
                }
            }
            Ok(Value::Int(n))
        }
        Linq::Where => {
            let mut out = Vec::new();
            for it in items.iter() {
                if test(env, it)? {
                    out.push(it.clone());
                }
            }
            Ok(Value::Array(out.into()))
        }
        Linq::Select => {
            let mut out = Vec::with_capacity(items.len());
            for it in items.iter() {
                env.step()?;
                set_local(env, slot, it.clone());
                out.push(match body {
                    Some(b) => eval(b, env)?,
                    None => it.clone(),
                });
            }
            Ok(Value::Array(out.into()))
        }
        Linq::First | Linq::FirstOrDefault | Linq::Last | Linq::LastOrDefault => {
            let mut found = None;
            let last = matches!(op, Linq::Last | Linq::LastOrDefault);
            for it in items.iter() {
                if test(env, it)? {
                    found = Some(it.clone());
                    if !last {
                        break;
                    }
                }
            }
            match (found, op) {
                (Some(v), _) => Ok(v),
                (None, Linq::First | Linq::Last) => fail("Sequence contains no matching element"),
                (None, _) => Ok(Value::Null),
            }
        }
    }
}

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Null)
}

fn s_arg(args: &[Value], i: usize) -> R<&str> {
    match arg(args, i) {
        Value::Str(s) => Ok(s),
        Value::Null => fail(NULL_REF),
        v => fail(format!("expected a string, got {}", v.type_name())),
    }
}

fn opt_s(args: &[Value], i: usize) -> Option<&str> {
    match arg(args, i) {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

fn i_arg(args: &[Value], i: usize) -> R<i64> {
    int(arg(args, i)).map_or_else(|| fail(NULL_REF), Ok)
}

fn cert_arg(args: &[Value]) -> R<&Arc<Certificate>> {
    match arg(args, 0) {
        Value::Cert(c) => Ok(c),
        _ => fail(NULL_REF),
    }
}

fn ignore_case(args: &[Value], i: usize) -> bool {
    matches!(
        arg(args, i),
        Value::Enum(EnumValue::StringComparison(StringComparison::IgnoreCase))
    )
}

fn string(s: impl Into<Arc<str>>) -> Value {
    Value::Str(s.into())
}

fn url_of<'a>(ctx: &'a dyn RequestContext, recv: &Value) -> UrlView<'a> {
    match recv {
        Value::Handle(Handle::OriginalUrl | Handle::OriginalQuery) => ctx.original_url(),
        _ => ctx.url(),
    }
}

fn call(b: Builtin, arg_irs: &[Ir], env: &mut Env) -> R<Value> {
    // Arguments are few; evaluate them up front (no builtin short-circuits its arguments),
    // inline on the stack: an argument list must not cost an allocation per call.
    let mut args: smallvec::SmallVec<[Value; 4]> = smallvec::SmallVec::new();
    for a in arg_irs {
        args.push(eval(a, env)?);
    }
    let ctx = env.ctx;
    let lower = |s: &str| s.to_lowercase();
    Ok(match b {
        Builtin::RequestMethod => Value::str(ctx.method()),
        Builtin::RequestIp => Value::str(&ip_string(ctx.client_ip())),
        Builtin::RequestCertificate => ctx
            .certificate()
            .map_or(Value::Null, |c| Value::Cert(c.clone())),
        Builtin::RequestId => Value::str(ctx.request_id()),
        Builtin::Url(part) => {
            let u = url_of(ctx, arg(&args, 0));
            match part {
                UrlPart::Scheme => Value::str(u.scheme),
                UrlPart::Host => Value::str(u.host),
                UrlPart::Port => Value::Int(u.port as i64),
                UrlPart::Path => Value::str(u.path),
                UrlPart::QueryString => Value::str(&if u.query.is_empty() {
                    String::new()
                } else {
                    format!("?{}", u.query)
                }),
                UrlPart::Whole => Value::str(&u.to_url_string()),
            }
        }
        Builtin::HeaderGet => {
            let name = s_arg(&args, 1)?;
            let v = match arg(&args, 0) {
                Value::Handle(Handle::ResponseHeaders) => ctx.response_header(name),
                _ => ctx.request_header(name),
            };
            match v {
                Some(v) => Value::str(&v),
                None => arg(&args, 2).clone(),
            }
        }
        Builtin::HeaderContains => {
            let name = s_arg(&args, 1)?;
            Value::Bool(match arg(&args, 0) {
                Value::Handle(Handle::ResponseHeaders) => ctx.response_header(name).is_some(),
                _ => ctx.request_header(name).is_some(),
            })
        }
        Builtin::HeaderIndex => {
            let name = s_arg(&args, 1)?;
            let values: Vec<String> = match arg(&args, 0) {
                Value::Handle(Handle::ResponseHeaders) => ctx
                    .response_header(name)
                    .map(|v| v.split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
                _ => ctx.request_header_values(name),
            };
            if values.is_empty() {
                return fail(format!(
                    "The given key '{name}' was not present in the dictionary."
                ));
            }
            Value::Array(
                values
                    .iter()
                    .map(|v| Value::str(v))
                    .collect::<Vec<_>>()
                    .into(),
            )
        }
        Builtin::QueryGet => {
            let name = s_arg(&args, 1)?;
            match url_of(ctx, arg(&args, 0)).query_param(name) {
                Some(v) => string(v),
                None => arg(&args, 2).clone(),
            }
        }
        Builtin::QueryContains => Value::Bool(
            url_of(ctx, arg(&args, 0))
                .query_param(s_arg(&args, 1)?)
                .is_some(),
        ),
        Builtin::QueryIndex => {
            let name = s_arg(&args, 1)?;
            let values = url_of(ctx, arg(&args, 0)).query_values(name);
            if values.is_empty() {
                return fail(format!(
                    "The given key '{name}' was not present in the dictionary."
                ));
            }
            Value::Array(values.into_iter().map(string).collect::<Vec<_>>().into())
        }
        Builtin::MatchedGet => match ctx.matched_parameter(s_arg(&args, 1)?) {
            Some(v) => Value::str(v),
            None => arg(&args, 2).clone(),
        },
        Builtin::MatchedContains => Value::Bool(ctx.matched_parameter(s_arg(&args, 1)?).is_some()),
        Builtin::MatchedIndex => {
            let name = s_arg(&args, 1)?;
            match ctx.matched_parameter(name) {
                Some(v) => Value::str(v),
                None => {
                    return fail(format!(
                        "The given key '{name}' was not present in the dictionary."
                    ))
                }
            }
        }
        Builtin::VarGet(to) => {
            let name = s_arg(&args, 1)?;
            match ctx.state().variable(name) {
                Some(v) => cast(to, v.clone(), false)?,
                None => match (arg(&args, 2), to) {
                    (Value::Null, CastTo::Int) if args.len() < 3 => Value::Int(0),
                    (Value::Null, CastTo::Bool) if args.len() < 3 => Value::Bool(false),
                    (Value::Null, CastTo::Double) if args.len() < 3 => Value::Double(0.0),
                    (d, _) => d.clone(),
                },
            }
        }
        Builtin::VarContains => Value::Bool(ctx.state().variable(s_arg(&args, 1)?).is_some()),
        Builtin::VarIndex => {
            let name = s_arg(&args, 1)?;
            match ctx.state().variable(name) {
                Some(v) => v.clone(),
                None => {
                    return fail(format!(
                        "The given key '{name}' was not present in the dictionary."
                    ))
                }
            }
        }
        Builtin::ResponseStatusCode => Value::Int(ctx.response_status().0 as i64),
        Builtin::ResponseStatusReason => Value::str(ctx.response_status().1),
        Builtin::DeploymentServiceName => Value::Str(ctx.deployment().service_name.clone()),
        Builtin::DeploymentGatewayId => Value::Str(ctx.deployment().gateway_id.clone()),
        Builtin::DeploymentRegion => Value::Str(ctx.deployment().region.clone()),
        Builtin::CertsContainsKey => Value::Bool(
            ctx.deployment()
                .certificates()
                .contains_key(s_arg(&args, 1)?),
        ),
        Builtin::CertsIndex => {
            let id = s_arg(&args, 1)?;
            match ctx.deployment().certificates().get(id) {
                Some(c) => Value::Cert(c.clone()),
                None => {
                    return fail(format!(
                        "The given key '{id}' was not present in the dictionary."
                    ))
                }
            }
        }
        Builtin::CertsCount => Value::Int(ctx.deployment().certificates().len() as i64),
        Builtin::CertsAsArray => certificates_array(ctx.deployment()),
        Builtin::CertsHasRequestCertificate => match ctx.certificate() {
            Some(c) => Value::Bool(ctx.deployment().thumbprints().contains(c.sha1())),
            // C# evaluates the lambda (and throws) only when there is a certificate to test.
            None if ctx.deployment().certificates().is_empty() => Value::Bool(false),
            None => return fail(NULL_REF),
        },
        Builtin::CertsHasThumbprint => match arg(&args, 0) {
            Value::Str(t) => Value::Bool(ctx.deployment().has_thumbprint(t)),
            // `c.Value.Thumbprint == null` is false for every certificate.
            _ => Value::Bool(false),
        },
        Builtin::LastError(field) => match &ctx.state().last_error {
            None => Value::Null,
            Some(e) => match field {
                ErrorField::Source => Value::Str(e.source.clone()),
                ErrorField::Reason => Value::Str(e.reason.clone()),
                ErrorField::Message => Value::Str(e.message.clone()),
                ErrorField::Scope => Value::Str(e.scope.clone()),
                ErrorField::Section => Value::Str(e.section.clone()),
                ErrorField::Path => Value::Str(e.path.clone()),
                ErrorField::PolicyId => Value::Str(e.policy_id.clone()),
            },
        },
        Builtin::PairKey | Builtin::PairValue => match arg(&args, 0) {
            Value::Pair(p) => {
                if b == Builtin::PairKey {
                    p.0.clone()
                } else {
                    p.1.clone()
                }
            }
            _ => return fail(NULL_REF),
        },
        Builtin::CertThumbprint => Value::Str(cert_arg(&args)?.thumbprint().clone()),
        Builtin::CertSubject => Value::Str(cert_arg(&args)?.subject().clone()),
        Builtin::CertIssuer => Value::Str(cert_arg(&args)?.issuer().clone()),
        Builtin::CertSerialNumber => Value::Str(cert_arg(&args)?.serial_number().clone()),
        Builtin::CertNotBefore => Value::DateTime(cert_arg(&args)?.not_before()),
        Builtin::CertNotAfter => Value::DateTime(cert_arg(&args)?.not_after()),
        Builtin::CertVerify => Value::Bool(ctx.verify_certificate(cert_arg(&args)?, true).is_ok()),
        Builtin::CertVerifyNoRevocation => {
            Value::Bool(ctx.verify_certificate(cert_arg(&args)?, false).is_ok())
        }
        Builtin::CertRawData => Value::Bytes(cert_arg(&args)?.raw_data().clone()),
        Builtin::CertVersion => Value::Int(cert_arg(&args)?.version()),
        Builtin::CertSignatureAlgorithm => {
            let c = cert_arg(&args)?;
            Value::Pair(Arc::new((
                Value::Str(c.signature_algorithm_oid().clone()),
                Value::Str(c.signature_algorithm_friendly_name().clone()),
            )))
        }
        Builtin::CertExtensions => {
            let c = cert_arg(&args)?;
            Value::Array(
                c.extensions()
                    .iter()
                    .map(|e| Value::Ext(e.clone()))
                    .collect::<Vec<_>>()
                    .into(),
            )
        }
        Builtin::ExtensionByName => {
            let key = s_arg(&args, 1)?;
            match arg(&args, 0) {
                Value::Array(a) => a
                    .iter()
                    .find(|v| matches!(v, Value::Ext(e) if &*e.oid == key || (!e.friendly_name.is_empty() && &*e.friendly_name == key)))
                    .cloned()
                    .unwrap_or(Value::Null),
                _ => return fail(NULL_REF),
            }
        }
        Builtin::ExtensionOid
        | Builtin::ExtensionCritical
        | Builtin::ExtensionRawData
        | Builtin::ExtensionFormat => {
            let Value::Ext(e) = arg(&args, 0) else {
                return fail(NULL_REF);
            };
            match b {
                Builtin::ExtensionOid => Value::Pair(Arc::new((
                    Value::Str(e.oid.clone()),
                    Value::Str(e.friendly_name.clone()),
                ))),
                Builtin::ExtensionCritical => Value::Bool(e.critical),
                Builtin::ExtensionRawData => Value::Bytes(e.raw.clone()),
                _ => {
                    // Format(multiLine): one entry per line when true.
                    if matches!(arg(&args, 1), Value::Bool(true)) {
                        string(e.formatted.replace(", ", "\r\n") + "\r\n")
                    } else {
                        Value::Str(e.formatted.clone())
                    }
                }
            }
        }
        Builtin::CertHasPrivateKey => {
            cert_arg(&args)?;
            Value::Bool(false)
        }
        Builtin::CertGetNameInfo => {
            let c = cert_arg(&args)?;
            let Value::Enum(EnumValue::NameType(kind)) = arg(&args, 1) else {
                return fail(NULL_REF);
            };
            let for_issuer = matches!(arg(&args, 2), Value::Bool(true));
            string(c.name_info(*kind, for_issuer))
        }
        Builtin::NewCertificate => match arg(&args, 0) {
            Value::Bytes(b) => match Certificate::from_bytes(b) {
                Ok(c) => Value::Cert(Arc::new(c)),
                Err(e) => return fail(format!("Cannot find the requested object. ({e})")),
            },
            _ => return fail("Value cannot be null. (Parameter 'rawData')"),
        },
        Builtin::StrLength => Value::Int(s_arg(&args, 0)?.encode_utf16().count() as i64),
        Builtin::StrContains
        | Builtin::StrStartsWith
        | Builtin::StrEndsWith
        | Builtin::StrEquals => {
            let (s, needle) = if b == Builtin::StrEquals
                && !matches!(arg(&args, 0), Value::Str(_))
                && args.len() >= 2
            {
                // static String.Equals(null, x)
                (opt_s(&args, 0), opt_s(&args, 1))
            } else {
                (Some(s_arg(&args, 0)?), opt_s(&args, 1))
            };
            let ic = ignore_case(&args, 2);
            if b == Builtin::StrEquals {
                return Ok(Value::Bool(match (s, needle) {
                    (Some(a), Some(n)) => {
                        if ic {
                            a.to_lowercase() == n.to_lowercase()
                        } else {
                            a == n
                        }
                    }
                    (None, None) => true,
                    _ => false,
                }));
            }
            let (Some(s), Some(n)) = (s, needle) else {
                return fail("Value cannot be null. (Parameter 'value')");
            };
            let (s, n): (Cow<str>, Cow<str>) = if ic {
                (lower(s).into(), lower(n).into())
            } else {
                (s.into(), n.into())
            };
            Value::Bool(match b {
                Builtin::StrContains => s.contains(&*n),
                Builtin::StrStartsWith => s.starts_with(&*n),
                _ => s.ends_with(&*n),
            })
        }
        Builtin::StrToUpper => string(s_arg(&args, 0)?.to_uppercase()),
        Builtin::StrToLower => string(s_arg(&args, 0)?.to_lowercase()),
        Builtin::StrReplace => {
            let s = s_arg(&args, 0)?;
            let from = s_arg(&args, 1)?;
            if from.is_empty() {
                return fail("String cannot be of zero length. (Parameter 'oldValue')");
            }
            let to = opt_s(&args, 2).unwrap_or("");
            if to.len() > from.len() {
                let grows = s
                    .matches(from)
                    .count()
                    .saturating_mul(to.len() - from.len());
                env.check_len(s.len().saturating_add(grows))?;
            }
            string(s.replace(from, to))
        }
        Builtin::StrTrim => string(s_arg(&args, 0)?.trim()),
        Builtin::StrTrimStart => string(s_arg(&args, 0)?.trim_start()),
        Builtin::StrTrimEnd => string(s_arg(&args, 0)?.trim_end()),
        Builtin::StrSplit => {
            let s = s_arg(&args, 0)?;
            let mut seps: Vec<String> = Vec::new();
            for a in &args[1..] {
                match a {
                    Value::Str(x) => seps.push(x.to_string()),
                    Value::Array(xs) => seps.extend(xs.iter().map(Value::to_dotnet_string)),
                    _ => {}
                }
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
        Builtin::StrSubstring => {
            let s = s_arg(&args, 0)?;
            let units: Vec<u16> = s.encode_utf16().collect();
            let start = i_arg(&args, 1)?;
            let len = if args.len() > 2 {
                i_arg(&args, 2)?
            } else {
                units.len() as i64 - start
            };
            if start < 0 || len < 0 || start + len > units.len() as i64 {
                return fail("Index and length must refer to a location within the string.");
            }
            string(String::from_utf16_lossy(
                &units[start as usize..(start + len) as usize],
            ))
        }
        Builtin::StrIndexOf => {
            let s = s_arg(&args, 0)?;
            let n = s_arg(&args, 1)?;
            Value::Int(
                s.find(n)
                    .map_or(-1, |i| s[..i].encode_utf16().count() as i64),
            )
        }
        Builtin::StrCharAt => {
            let s = s_arg(&args, 0)?;
            let i = i_arg(&args, 1)?;
            let units: Vec<u16> = s.encode_utf16().collect();
            match usize::try_from(i).ok().and_then(|i| units.get(i)) {
                Some(&u) => Value::Char(char::from_u32(u as u32).unwrap_or('\u{FFFD}')),
                None => return fail("Index was outside the bounds of the array."),
            }
        }
        Builtin::StrPadLeft | Builtin::StrPadRight => {
            let s = s_arg(&args, 0)?;
            let width = i_arg(&args, 1)?.clamp(0, 1 << 20) as usize;
            let c = match arg(&args, 2) {
                Value::Char(c) => *c,
                _ => ' ',
            };
            let n = s.encode_utf16().count();
            let pad: String = std::iter::repeat_n(c, width.saturating_sub(n)).collect();
            string(if b == Builtin::StrPadLeft {
                pad + s
            } else {
                s.to_string() + &pad
            })
        }
        Builtin::StrIsNullOrEmpty => Value::Bool(opt_s(&args, 0).is_none_or(str::is_empty)),
        Builtin::StrIsNullOrWhiteSpace => {
            Value::Bool(opt_s(&args, 0).is_none_or(|s| s.trim().is_empty()))
        }
        Builtin::StrJoin => {
            let sep = s_arg(&args, 0)?;
            let items: Vec<String> = match &args[1..] {
                [Value::Array(a)] => a.iter().map(Value::to_dotnet_string).collect(),
                rest => rest.iter().map(Value::to_dotnet_string).collect(),
            };
            let total = items.iter().map(|i| i.len() + sep.len()).sum::<usize>();
            env.check_len(total)?;
            string(items.join(sep))
        }
        Builtin::StrConcat => string(args.iter().map(Value::to_dotnet_string).collect::<String>()),
        Builtin::StrFormat => string(dotnet_format(s_arg(&args, 0)?, &args[1..])?),
        Builtin::FromBase64 => {
            let s = s_arg(&args, 0)?;
            let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            match base64::engine::general_purpose::STANDARD.decode(clean.as_bytes()) {
                Ok(b) => Value::Bytes(b.into()),
                Err(_) => return fail("The input is not a valid Base-64 string as it contains a non-base 64 character, more than two padding characters, or an illegal character among the padding characters."),
            }
        }
        Builtin::ToBase64 => match arg(&args, 0) {
            Value::Bytes(b) => string(base64::engine::general_purpose::STANDARD.encode(b)),
            _ => return fail("Value cannot be null. (Parameter 'inArray')"),
        },
        Builtin::ToInt32 => match arg(&args, 0) {
            Value::Null => Value::Int(0),
            Value::Int(i) => Value::Int(*i),
            Value::Double(d) => Value::Int(d.round() as i64),
            Value::Bool(b) => Value::Int(*b as i64),
            Value::Str(s) => match s.trim().parse::<i64>() {
                Ok(i) => Value::Int(i),
                Err(_) => return fail("Input string was not in a correct format."),
            },
            v => {
                return fail(format!(
                    "Unable to cast object of type '{}' to type 'IConvertible'.",
                    v.type_name()
                ))
            }
        },
        Builtin::ToDouble => match arg(&args, 0) {
            Value::Null => Value::Double(0.0),
            v => match num(v) {
                Some(d) => Value::Double(d),
                None => match v {
                    Value::Str(s) => Value::Double(s.trim().parse().map_err(|_| {
                        EvalError("Input string was not in a correct format.".into())
                    })?),
                    _ => return fail("Input string was not in a correct format."),
                },
            },
        },
        Builtin::ToBoolean => match arg(&args, 0) {
            Value::Null => Value::Bool(false),
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(i) => Value::Bool(*i != 0),
            Value::Str(s) if s.trim().eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::Str(s) if s.trim().eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return fail("String was not recognized as a valid Boolean."),
        },
        Builtin::ToStringDyn => match arg(&args, 0) {
            Value::Null if !arg_irs.is_empty() && matches!(arg_irs[0], Ir::Const(Value::Null)) => {
                Value::str("")
            }
            Value::Null => return fail(NULL_REF),
            Value::Handle(Handle::Url | Handle::OriginalUrl) => {
                Value::str(&url_of(ctx, arg(&args, 0)).to_url_string())
            }
            v @ Value::Str(_) => v.clone(),
            v => string(v.to_dotnet_string()),
        },
        Builtin::ToStringFormat => match arg(&args, 0) {
            Value::Null => return fail(NULL_REF),
            v => string(format_value(v, opt_s(&args, 1).unwrap_or(""))),
        },
        Builtin::UrlDecode => match opt_s(&args, 0) {
            None => Value::Null,
            Some(s) => string(
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned(),
            ),
        },
        Builtin::UrlEncode => match opt_s(&args, 0) {
            None => Value::Null,
            Some(s) => string(url_encode(s)),
        },
        Builtin::Utf8GetBytes => Value::Bytes(s_arg(&args, 0)?.as_bytes().to_vec().into()),
        Builtin::Utf8GetString => match arg(&args, 0) {
            Value::Bytes(b) => string(String::from_utf8_lossy(b).into_owned()),
            _ => return fail("Value cannot be null. (Parameter 'bytes')"),
        },
        Builtin::JsonSerialize => match arg(&args, 0) {
            Value::Handle(Handle::LastError) => match &ctx.state().last_error {
                Some(e) => string(e.to_json().to_string()),
                None => Value::str("null"),
            },
            v => string(v.to_json().to_string()),
        },
        Builtin::NewGuid => string(new_guid()),
        Builtin::Now => Value::DateTime(DateTime::now()),
        Builtin::UtcNow => Value::DateTime(DateTime::utc_now()),
        Builtin::DateAdd(unit) => {
            let Value::DateTime(d) = arg(&args, 0) else {
                return fail(NULL_REF);
            };
            let n = num(arg(&args, 1)).unwrap_or(0.0);
            let ticks = n * unit as f64;
            if !ticks.is_finite() || ticks.abs() > 3.0e18 {
                return fail("Value to add was out of range.");
            }
            Value::DateTime(
                d.checked_add(TimeSpan(ticks as i64))
                    .ok_or_else(|| EvalError("Value to add was out of range.".into()))?,
            )
        }
        Builtin::DateAddSpan => match (arg(&args, 0), arg(&args, 1)) {
            (Value::DateTime(d), Value::TimeSpan(t)) => Value::DateTime(
                d.checked_add(*t)
                    .ok_or_else(|| EvalError("Value to add was out of range.".into()))?,
            ),
            _ => return fail(NULL_REF),
        },
        Builtin::DateSubtract => match (arg(&args, 0), arg(&args, 1)) {
            (Value::DateTime(a), Value::DateTime(b)) => Value::TimeSpan(a.since(*b)),
            _ => return fail(NULL_REF),
        },
        Builtin::DatePart(k) => {
            let Value::DateTime(d) = arg(&args, 0) else {
                return fail(NULL_REF);
            };
            Value::Int(d.part(&format!("{k:?}")))
        }
        Builtin::DateToUniversal
        | Builtin::DateToLocal
        | Builtin::DateDate
        | Builtin::DateTicks => {
            let Value::DateTime(d) = arg(&args, 0) else {
                return fail(NULL_REF);
            };
            match b {
                Builtin::DateToUniversal => Value::DateTime(d.to_universal()),
                Builtin::DateToLocal => Value::DateTime(d.to_local()),
                Builtin::DateDate => Value::DateTime(DateTime {
                    wall: d.wall.date().and_time(chrono::NaiveTime::MIN),
                    kind: d.kind,
                }),
                _ => {
                    // Ticks since 0001-01-01.
                    let epoch = chrono::NaiveDate::from_ymd_opt(1, 1, 1)
                        .map(|e| e.and_time(chrono::NaiveTime::MIN));
                    let us = epoch
                        .and_then(|e| (d.wall - e).num_microseconds())
                        .unwrap_or(0);
                    Value::Int(us.saturating_mul(10))
                }
            }
        }
        Builtin::NewDateTime => {
            let p = |i: usize| int(arg(&args, i)).unwrap_or(0);
            let date = chrono::NaiveDate::from_ymd_opt(p(0) as i32, p(1) as u32, p(2) as u32);
            let dt = date.and_then(|d| d.and_hms_opt(p(3) as u32, p(4) as u32, p(5) as u32));
            match dt {
                Some(wall) => Value::DateTime(DateTime {
                    wall,
                    kind: DateKind::Unspecified,
                }),
                None => {
                    return fail(
                        "Year, Month, and Day parameters describe an un-representable DateTime.",
                    )
                }
            }
        }
        Builtin::SpanFrom(unit) => {
            let n = num(arg(&args, 0)).unwrap_or(0.0) * unit as f64;
            if !n.is_finite() || n.abs() > 9.2e18 {
                return fail("TimeSpan overflowed because the duration is too long.");
            }
            Value::TimeSpan(TimeSpan(n as i64))
        }
        Builtin::SpanTotal(unit) => match arg(&args, 0) {
            Value::TimeSpan(t) => Value::Double(t.0 as f64 / unit as f64),
            _ => return fail(NULL_REF),
        },
        Builtin::SpanPart(k) => match arg(&args, 0) {
            Value::TimeSpan(t) => {
                let secs = t.0 / 10_000_000;
                Value::Int(match k {
                    SpanPartKind::Days => secs / 86_400,
                    SpanPartKind::Hours => secs / 3600 % 24,
                    SpanPartKind::Minutes => secs / 60 % 60,
                    SpanPartKind::Seconds => secs % 60,
                    SpanPartKind::Milliseconds => t.0 / 10_000 % 1000,
                    SpanPartKind::Ticks => t.0,
                })
            }
            _ => return fail(NULL_REF),
        },
        Builtin::NewTimeSpan => {
            let p: Vec<i64> = (0..args.len())
                .map(|i| int(arg(&args, i)).unwrap_or(0))
                .collect();
            let (d, h, m, s) = if p.len() == 4 {
                (p[0], p[1], p[2], p[3])
            } else {
                (0, p[0], p[1], p[2])
            };
            let secs = d
                .saturating_mul(86_400)
                .saturating_add(h.saturating_mul(3600))
                .saturating_add(m.saturating_mul(60))
                .saturating_add(s);
            Value::TimeSpan(TimeSpan(secs.saturating_mul(10_000_000)))
        }
        Builtin::MathMax | Builtin::MathMin => {
            let (x, y) = (arg(&args, 0), arg(&args, 1));
            match (x, y) {
                (Value::Int(a), Value::Int(c)) => {
                    Value::Int(pick_int(b == Builtin::MathMax, *a, *c))
                }
                _ => {
                    let (a, c) = (num(x).unwrap_or(0.0), num(y).unwrap_or(0.0));
                    Value::Double(if b == Builtin::MathMax {
                        a.max(c)
                    } else {
                        a.min(c)
                    })
                }
            }
        }
        Builtin::MathAbs => match arg(&args, 0) {
            Value::Int(i) => Value::Int(i.checked_abs().ok_or_else(|| {
                EvalError(
                    "Negating the minimum value of a twos complement number is invalid.".into(),
                )
            })?),
            v => Value::Double(num(v).unwrap_or(0.0).abs()),
        },
        Builtin::ArrLength => match arg(&args, 0) {
            Value::Array(a) => Value::Int(a.len() as i64),
            Value::Bytes(b) => Value::Int(b.len() as i64),
            _ => return fail(NULL_REF),
        },
        Builtin::ArrContains => {
            let needle = arg(&args, 1);
            Value::Bool(match arg(&args, 0) {
                Value::Array(a) => a.iter().any(|x| x.dotnet_eq(needle)),
                Value::Bytes(b) => int(needle).is_some_and(|n| b.iter().any(|&x| x as i64 == n)),
                _ => return fail(NULL_REF),
            })
        }
        Builtin::ArrIndex => {
            let i = i_arg(&args, 1)?;
            let r = match arg(&args, 0) {
                Value::Array(a) => usize::try_from(i).ok().and_then(|i| a.get(i).cloned()),
                Value::Bytes(b) => usize::try_from(i)
                    .ok()
                    .and_then(|i| b.get(i).map(|&x| Value::Int(x as i64))),
                _ => return fail(NULL_REF),
            };
            match r {
                Some(v) => v,
                None => return fail("Index was outside the bounds of the array."),
            }
        }
    })
}

fn pick_int(max: bool, a: i64, b: i64) -> i64 {
    if max {
        a.max(b)
    } else {
        a.min(b)
    }
}

fn ip_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        v4 => v4.to_string(),
    }
}

fn certificates_array(d: &Deployment) -> Value {
    Value::Array(
        d.certificates()
            .iter()
            .map(|(k, c)| Value::Pair(Arc::new((Value::str(k), Value::Cert(c.clone())))))
            .collect::<Vec<_>>()
            .into(),
    )
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

/// `WebUtility.UrlEncode`: spaces as `+`, unreserved characters kept, the rest percent-encoded
/// in upper-case hex.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'*'
            | b'('
            | b')' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn new_guid() -> String {
    let mut b = [0u8; 16];
    if crate::crypto::rand::rand_bytes(&mut b).is_err() {
        return "00000000-0000-0000-0000-000000000000".into();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::cert::hex_upper(&b).to_lowercase();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Format strings for `{x:FMT}` and `ToString(FMT)`: numbers (`D2`, `N0`, `X`), dates.
fn format_value(v: &Value, fmt: &str) -> String {
    match v {
        Value::DateTime(d) => d.format(fmt),
        Value::Int(i) => {
            let (kind, digits) = fmt.split_at(fmt.len().min(1));
            let digits: usize = digits.parse().unwrap_or(0).min(64);
            match kind {
                "D" | "d" => {
                    let s = format!("{:0digits$}", i.unsigned_abs());
                    if *i < 0 {
                        format!("-{s}")
                    } else {
                        s
                    }
                }
                "X" => format!("{i:0digits$X}"),
                "x" => format!("{i:0digits$x}"),
                "N" | "n" => group_thousands(*i),
                _ => i.to_string(),
            }
        }
        Value::Double(d) => {
            let (kind, digits) = fmt.split_at(fmt.len().min(1));
            let digits: usize = digits.parse().unwrap_or(2).min(15);
            match kind {
                "F" | "f" | "N" | "n" => format!("{d:.digits$}"),
                _ => v.to_dotnet_string(),
            }
        }
        _ => v.to_dotnet_string(),
    }
}

fn group_thousands(i: i64) -> String {
    let s = i.unsigned_abs().to_string();
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n > 0 && (s.len() - n).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if i < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// `String.Format`: `{0}`, `{1:D2}`, `{{`/`}}`.
fn dotnet_format(fmt: &str, args: &[Value]) -> R<String> {
    let args: &[Value] = match args {
        [Value::Array(a)] => a,
        a => a,
    };
    let bad = || EvalError("Input string was not in a correct format.".into());
    let mut out = String::new();
    let mut chars = fmt.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if matches!(chars.peek(), Some((_, '{'))) => {
                chars.next();
                out.push('{');
            }
            '}' if matches!(chars.peek(), Some((_, '}'))) => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let end = fmt[i..].find('}').ok_or_else(bad)? + i;
                let spec = &fmt[i + 1..end];
                let (idx, f) = spec.split_once(':').unwrap_or((spec, ""));
                let idx = idx.split(',').next().unwrap_or("");
                let n: usize = idx.trim().parse().map_err(|_| bad())?;
                let v = args.get(n).ok_or_else(|| EvalError("Index (zero based) must be greater than or equal to zero and less than the size of the argument list.".into()))?;
                out.push_str(&if f.is_empty() {
                    v.to_dotnet_string()
                } else {
                    format_value(v, f)
                });
                while chars.peek().is_some_and(|(j, _)| *j <= end) {
                    chars.next();
                }
            }
            '}' => return Err(bad()),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_strings() {
        assert_eq!(
            dotnet_format("{0}-{1:D3} {{x}}", &[Value::str("a"), Value::Int(7)]).unwrap(),
            "a-007 {x}"
        );
        assert!(dotnet_format("{5}", &[]).is_err());
        assert!(dotnet_format("{x}", &[]).is_err());
        assert_eq!(group_thousands(-1234567), "-1,234,567");
    }

    #[test]
    fn url_encoding() {
        assert_eq!(url_encode("a b&c/é"), "a+b%26c%2F%C3%A9");
    }

    #[test]
    fn split() {
        assert_eq!(
            split_any("a,b;;c", &[",".into(), ";".into()]),
            vec!["a", "b", "", "c"]
        );
    }
}
