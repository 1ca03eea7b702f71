//! Evaluates compiled [`Ir`] against a [`RequestContext`]. Runs per request: no parsing, no
//! name lookups; every failure is an [`EvalError`] (never a panic) that the executor turns into
//! `ExpressionValueEvaluationFailure`.

use std::sync::Arc;

use super::ast::BinOp;
use super::env::*;
use super::members;
use super::members::convert::cast;
use super::members::format::format_value;

type R<T> = EvalResult<T>;
use super::ir::*;
use crate::dotnet::TimeSpan;
use crate::value::{hash_key, Value};

enum Flow {
    Next,
    Return(Value),
    /// `break` and `continue`, on their way to the innermost loop.
    Break,
    Continue,
}

pub(crate) fn eval(ir: &Ir, env: &mut Env) -> R<Value> {
    match ir {
        Ir::Const(v) => Ok(v.clone()),
        Ir::Local(s) => Ok(env.locals.get(*s as usize).cloned().unwrap_or(Value::Null)),
        Ir::Not(a) => match eval(a, env)? {
            Value::Bool(b) => Ok(Value::Bool(!b)),
            Value::Null => fail(EvalErrorKind::NullReference, NULL_REF),
            v => fail(
                EvalErrorKind::InvalidCast,
                format!("'!' cannot be applied to {}", v.type_name()),
            ),
        },
        Ir::Neg(a) => match eval(a, env)? {
            Value::Int(i) => Ok(Value::Int(i.checked_neg().ok_or_else(|| {
                EvalError::new(
                    EvalErrorKind::Overflow,
                    "Arithmetic operation resulted in an overflow.",
                )
            })?)),
            Value::Double(d) => Ok(Value::Double(-d)),
            Value::TimeSpan(t) => Ok(Value::TimeSpan(TimeSpan(-t.0))),
            v => fail(
                EvalErrorKind::InvalidCast,
                format!("'-' cannot be applied to {}", v.type_name()),
            ),
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
        // `x == "literal"`, `x != null`: compared with the constant where it lies, without
        // evaluating (cloning) it; neither side is produced, so nothing is charged.
        Ir::Binary(op @ (BinOp::Eq | BinOp::Ne), a, b) if matches!(**b, Ir::Const(_)) => {
            let x = eval(a, env)?;
            let Ir::Const(c) = &**b else {
                return fail(EvalErrorKind::Other, "internal: constant operand");
            };
            Ok(Value::Bool(x.dotnet_eq(c) == (*op == BinOp::Eq)))
        }
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
            Ok(Value::str(&format_value(&v, fmt)?))
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
        Ir::Fold {
            source,
            seed,
            acc,
            item,
            body,
        } => {
            let items = sequence(eval(source, env)?)?;
            let (mut value, rest) = match seed {
                Some(s) => (eval(s, env)?, &items[..]),
                None => match items.split_first() {
                    Some((first, rest)) => (first.clone(), rest),
                    None => return fail(EvalErrorKind::Other, "Sequence contains no elements"),
                },
            };
            for it in rest {
                env.step()?;
                set_local(env, *acc, value);
                set_local(env, *item, it.clone());
                value = eval(body, env)?;
            }
            Ok(value)
        }
        Ir::Seq(items) => {
            let mut last = Value::Null;
            for i in items {
                last = eval(i, env)?;
            }
            Ok(last)
        }
        Ir::Block(stmts) => match exec(stmts, env)? {
            Flow::Return(v) => Ok(v),
            Flow::Next | Flow::Break | Flow::Continue => {
                fail(EvalErrorKind::Other, "block ended without a return")
            }
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
                match exec(branch, env)? {
                    Flow::Next => {}
                    flow => return Ok(flow),
                }
            }
            IrStmt::Break => return Ok(Flow::Break),
            IrStmt::Continue => return Ok(Flow::Continue),
            IrStmt::Loop {
                cond,
                body,
                step,
                test_first,
            } => {
                let mut first = true;
                loop {
                    env.step()?;
                    let test = !first || *test_first;
                    first = false;
                    if let (true, Some(c)) = (test, cond) {
                        if !truth(eval(c, env)?)? {
                            break;
                        }
                    }
                    match exec(body, env)? {
                        Flow::Return(v) => return Ok(Flow::Return(v)),
                        Flow::Break => break,
                        Flow::Next | Flow::Continue => {}
                    }
                    exec(step, env)?;
                }
            }
            IrStmt::Return(e) => return Ok(Flow::Return(eval(e, env)?)),
            IrStmt::Throw(e) => return Err(members::exception::error_of(&eval(e, env)?)),
            IrStmt::Try {
                body,
                catches,
                finally,
            } => {
                let r = match exec(body, env) {
                    Err(e) if members::exception::catchable(e.kind) => {
                        match catches.iter().find(|c| c.takes.contains(&e.kind)) {
                            Some(c) => {
                                set_local(env, c.slot, members::exception::value_of(&e));
                                exec(&c.body, env)
                            }
                            None => Err(e),
                        }
                    }
                    r => r,
                };
                // `finally` runs whatever happened; a failure in it replaces the outcome.
                exec(finally, env)?;
                match r? {
                    Flow::Next => {}
                    flow => return Ok(flow),
                }
            }
            IrStmt::Foreach(slot, it, body) => {
                let items = sequence(eval(it, env)?)?;
                for item in items.iter() {
                    env.step()?;
                    set_local(env, *slot, item.clone());
                    match exec(body, env)? {
                        Flow::Return(v) => return Ok(Flow::Return(v)),
                        Flow::Break => break,
                        Flow::Next | Flow::Continue => {}
                    }
                }
            }
        }
    }
    Ok(Flow::Next)
}

#[inline]
fn truth(v: Value) -> R<bool> {
    match v {
        Value::Bool(b) => Ok(b),
        Value::Null => fail(
            EvalErrorKind::NullReference,
            "Nullable object must have a value.",
        ),
        v => fail(
            EvalErrorKind::InvalidCast,
            format!("expected a bool, got {}", v.type_name()),
        ),
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
        Value::Null => fail(EvalErrorKind::NullReference, NULL_REF),
        v => fail(
            EvalErrorKind::InvalidCast,
            format!("cannot iterate over {}", v.type_name()),
        ),
    }
}

fn binary(op: BinOp, x: Value, y: Value) -> R<Value> {
    use std::cmp::Ordering;
    let overflow = || {
        EvalError::new(
            EvalErrorKind::Overflow,
            "Arithmetic operation resulted in an overflow.",
        )
    };
    match op {
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => Ok(match (x, y) {
            (Value::Int(a), Value::Int(b)) => Value::Int(match op {
                BinOp::BitAnd => a & b,
                BinOp::BitOr => a | b,
                _ => a ^ b,
            }),
            (Value::Bool(a), Value::Bool(b)) => Value::Bool(match op {
                BinOp::BitAnd => a & b,
                BinOp::BitOr => a | b,
                _ => a ^ b,
            }),
            // A null operand (a nullable read) lifts to null, as in C#.
            _ => Value::Null,
        }),
        BinOp::Eq => Ok(Value::Bool(x.dotnet_eq(&y))),
        BinOp::Ne => Ok(Value::Bool(!x.dotnet_eq(&y))),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let ord = match (&x, &y) {
                // Lifted comparison: null compares false, as in C#.
                (Value::Null, _) | (_, Value::Null) => return Ok(Value::Bool(false)),
                (Value::DateTime(a), Value::DateTime(b)) => a.wall.cmp(&b.wall),
                (Value::DateTimeOffset(a), Value::DateTimeOffset(b)) => a.utc().cmp(&b.utc()),
                (Value::TimeSpan(a), Value::TimeSpan(b)) => a.cmp(b),
                (Value::Int(a), Value::Int(b)) => a.cmp(b),
                _ => match (num(&x), num(&y)) {
                    (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
                    _ => {
                        return fail(
                            EvalErrorKind::InvalidCast,
                            format!("cannot compare {} with {}", x.type_name(), y.type_name()),
                        )
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
                    return d.checked_add(*t).map(Value::DateTime).ok_or_else(|| EvalError::new(EvalErrorKind::OutOfRange, "The added or subtracted value results in an un-representable DateTime."))
                }
                (Value::DateTime(d), Value::TimeSpan(t)) if op == BinOp::Sub => {
                    return d.checked_add(TimeSpan(-t.0)).map(Value::DateTime).ok_or_else(|| EvalError::new(EvalErrorKind::OutOfRange, "The added or subtracted value results in an un-representable DateTime."))
                }
                (Value::DateTime(a), Value::DateTime(b)) if op == BinOp::Sub => return Ok(Value::TimeSpan(a.since(*b))),
                (Value::DateTimeOffset(d), Value::TimeSpan(t)) | (Value::TimeSpan(t), Value::DateTimeOffset(d)) if op == BinOp::Add => {
                    return d.0.checked_add(*t).map(|w| Value::DateTimeOffset(crate::dotnet::DateTimeOffset(w))).ok_or_else(|| EvalError::new(EvalErrorKind::OutOfRange, "The added or subtracted value results in an un-representable DateTime."))
                }
                (Value::DateTimeOffset(d), Value::TimeSpan(t)) if op == BinOp::Sub => {
                    return d.0.checked_add(TimeSpan(-t.0)).map(|w| Value::DateTimeOffset(crate::dotnet::DateTimeOffset(w))).ok_or_else(|| EvalError::new(EvalErrorKind::OutOfRange, "The added or subtracted value results in an un-representable DateTime."))
                }
                (Value::DateTimeOffset(a), Value::DateTimeOffset(b)) if op == BinOp::Sub => return Ok(Value::TimeSpan(members::datetime_offset::since(*a, *b))),
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
                    BinOp::Div if b == 0 => {
                        return fail(EvalErrorKind::DivideByZero, "Attempted to divide by zero.")
                    }
                    BinOp::Div => a.checked_div(b),
                    _ if b == 0 => {
                        return fail(EvalErrorKind::DivideByZero, "Attempted to divide by zero.")
                    }
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
                _ => fail(
                    EvalErrorKind::InvalidCast,
                    format!(
                        "operator '{}' cannot be applied to {} and {}",
                        op.as_str(),
                        x.type_name(),
                        y.type_name()
                    ),
                ),
            }
        }
        BinOp::And | BinOp::Or | BinOp::Coalesce => fail(
            EvalErrorKind::Other,
            "internal: short-circuit operator evaluated eagerly",
        ),
    }
}

fn linq(op: Linq, source: &Ir, slot: u16, body: Option<&Ir>, env: &mut Env) -> R<Value> {
    let items = sequence(eval(source, env)?)?;
    // What a selector (Select, OrderBy's key, Sum's value) makes of an item; the item itself
    // without one.
    let project = |env: &mut Env, item: &Value| -> R<Value> {
        env.step()?;
        set_local(env, slot, item.clone());
        match body {
            Some(b) => eval(b, env),
            None => Ok(item.clone()),
        }
    };
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
                out.push(project(env, it)?);
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
                (None, Linq::First | Linq::Last) => fail(
                    EvalErrorKind::OutOfRange,
                    "Sequence contains no matching element",
                ),
                (None, _) => Ok(Value::Null),
            }
        }
        Linq::Single | Linq::SingleOrDefault => {
            let mut found = None;
            for it in items.iter() {
                if test(env, it)? {
                    if found.is_some() {
                        return fail(
                            EvalErrorKind::Other,
                            "Sequence contains more than one matching element",
                        );
                    }
                    found = Some(it.clone());
                }
            }
            match (found, op) {
                (Some(v), _) => Ok(v),
                (None, Linq::Single) => fail(
                    EvalErrorKind::OutOfRange,
                    "Sequence contains no matching element",
                ),
                (None, _) => Ok(Value::Null),
            }
        }
        Linq::Distinct => {
            let mut out: Vec<Value> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for it in items.iter() {
                env.step()?;
                // Hashed by value (scalars) or address (reference types); the rest by C#'s `==`.
                let fresh = match hash_key(it, false) {
                    Some(k) => seen.insert(k),
                    None => !out.iter().any(|o| o.dotnet_eq(it)),
                };
                if fresh {
                    out.push(it.clone());
                }
            }
            Ok(Value::Array(out.into()))
        }
        Linq::GroupBy => {
            let mut groups: Vec<(Value, Vec<Value>)> = Vec::new();
            // Keys hashed by value or address in a map; the rest by C#'s `==`, one step per
            // look.
            let mut index = std::collections::HashMap::new();
            for it in items.iter() {
                let key = project(env, it)?;
                let found = match hash_key(&key, false) {
                    Some(k) => index.get(&k).copied().ok_or(Some(k)),
                    None => {
                        let mut at = None;
                        for (i, (k, _)) in groups.iter().enumerate() {
                            env.step()?;
                            if k.dotnet_eq(&key) {
                                at = Some(i);
                                break;
                            }
                        }
                        at.ok_or(None)
                    }
                };
                match found {
                    Ok(i) => {
                        if let Some((_, members)) = groups.get_mut(i) {
                            members.push(it.clone());
                        }
                    }
                    Err(scalar) => {
                        if let Some(k) = scalar {
                            index.insert(k, groups.len());
                        }
                        groups.push((key, vec![it.clone()]));
                    }
                }
            }
            Ok(Value::Array(
                groups
                    .into_iter()
                    .map(|(k, members)| Value::Pair(Arc::new((k, Value::Array(members.into())))))
                    .collect(),
            ))
        }
        Linq::SelectMany => {
            let mut out = Vec::new();
            for it in items.iter() {
                let inner = sequence(project(env, it)?)?;
                env.charge_bytes(inner.len() * 16)?;
                out.extend(inner.iter().cloned());
            }
            Ok(Value::Array(out.into()))
        }
        Linq::TakeWhile | Linq::SkipWhile => {
            let mut n = 0;
            for it in items.iter() {
                if !test(env, it)? {
                    break;
                }
                n += 1;
            }
            let kept = if op == Linq::TakeWhile {
                &items[..n]
            } else {
                &items[n..]
            };
            Ok(Value::Array(kept.to_vec().into()))
        }
        Linq::OrderBy | Linq::OrderByDescending | Linq::ThenBy | Linq::ThenByDescending => {
            let mut keyed = Vec::with_capacity(items.len());
            for it in items.iter() {
                keyed.push((project(env, it)?, it.clone()));
            }
            // Stable, as LINQ's; descending keeps equal keys in their order too.
            if matches!(op, Linq::OrderBy | Linq::ThenBy) {
                keyed.sort_by(|a, b| a.0.order(&b.0));
            } else {
                keyed.sort_by(|a, b| b.0.order(&a.0));
            }
            Ok(Value::Array(keyed.into_iter().map(|(_, v)| v).collect()))
        }
        Linq::Sum | Linq::Min | Linq::Max | Linq::Average => {
            let mut values = Vec::with_capacity(items.len());
            for it in items.iter() {
                let v = project(env, it)?;
                // Nulls are skipped, as LINQ does for nullable numbers.
                if !v.is_null() {
                    values.push(v);
                }
            }
            aggregate(op, values)
        }
    }
}

/// `Sum`, `Min`, `Max`, `Average` of the (non-null) values, as LINQ computes them.
fn aggregate(op: Linq, values: Vec<Value>) -> R<Value> {
    let empty = || fail(EvalErrorKind::Other, "Sequence contains no elements");
    match op {
        Linq::Sum => {
            if values.iter().all(|v| matches!(v, Value::Int(_))) {
                let mut total: i64 = 0;
                for v in &values {
                    total = total.checked_add(int(v).unwrap_or(0)).ok_or_else(|| {
                        EvalError::new(
                            EvalErrorKind::Overflow,
                            "Arithmetic operation resulted in an overflow.",
                        )
                    })?;
                }
                Ok(Value::Int(total))
            } else {
                Ok(Value::Double(values.iter().filter_map(num).sum()))
            }
        }
        Linq::Average => {
            if values.is_empty() {
                return empty();
            }
            let n = values.len() as f64;
            Ok(Value::Double(
                values.iter().filter_map(num).sum::<f64>() / n,
            ))
        }
        _ => {
            let pick = if op == Linq::Min {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            };
            let mut best: Option<Value> = None;
            for v in values {
                best = match best {
                    Some(b) if v.order(&b) != pick => Some(b),
                    _ => Some(v),
                };
            }
            best.map_or_else(empty, Ok)
        }
    }
}

/// A call of a .NET member: arguments first (few; inline on the stack, so an argument list costs
/// no allocation, and no member short-circuits its arguments), then the member's family.
fn call(b: Builtin, arg_irs: &[Ir], env: &mut Env) -> R<Value> {
    // Most members read a property of a part of `context` (`context.Request.Certificate` is a
    // call with the constant `context.Request` as its one argument) or take no argument: those
    // need no vector to fill and drop.
    match arg_irs {
        [] => return dispatch(b, &[], arg_irs, env),
        [Ir::Const(receiver)] => return dispatch(b, std::slice::from_ref(receiver), arg_irs, env),
        _ => {}
    }
    let mut args: smallvec::SmallVec<[Value; 4]> = smallvec::SmallVec::new();
    for a in arg_irs {
        args.push(eval(a, env)?);
    }
    dispatch(b, &args, arg_irs, env)
}

fn dispatch(b: Builtin, args: &[Value], arg_irs: &[Ir], env: &mut Env) -> R<Value> {
    match b {
        Builtin::Context(f) => members::context::eval(f, args, env),
        Builtin::Cert(f) => members::cert::eval(f, args, env),
        Builtin::Str(f) => members::string::eval(f, args, env),
        Builtin::Convert(f) => members::convert::eval(f, args, arg_irs, env),
        Builtin::Date(f) => members::datetime::eval(f, args),
        Builtin::Collection(f) => members::collections::eval(f, args, env),
        Builtin::Auth(f) => members::auth::eval(f, args),
        Builtin::Regex(f) => members::regex::eval(f, args, env),
        Builtin::Crypto(f) => members::crypto::eval(f, args, env),
        Builtin::Json(f) => members::json::eval(f, args, env),
        Builtin::Exception(f) => members::exception::eval(f, args),
        Builtin::Builder(f) => members::builder::eval(f, args, env),
        Builtin::Random(f) => members::random::eval(f, args),
        Builtin::Offset(f) => members::datetime_offset::eval(f, args),
        Builtin::Uri(f) => members::uri::eval(f, args),
        Builtin::Form(f) => members::form::eval(f, args, env),
        Builtin::Generic(f) => members::generic::eval(f, args, env),
        Builtin::Ip(f) => members::ip::eval(f, args),
        Builtin::Response(f) => members::response::eval(f, args),
        Builtin::Xml(f) => members::xml::eval(f, args, env),
        Builtin::Enum(f) => members::enums::eval(f, args),
        Builtin::Queue(f) => members::queue::eval(f, args, env),
        Builtin::Rsa(f) => members::rsa::eval(f, args, env),
        Builtin::Tz(f) => members::timezone::eval(f, args),
        Builtin::Reader(f) => members::string_io::eval(f, args, env),
        Builtin::Sym(f) => members::symmetric::eval(f, args, env),
    }
}

#[cfg(test)]
mod tests {
    use crate::context::SimpleContext;
    use crate::expr::testing::{s, show};

    /// `==`/`!=` against a constant (compared in place) gives what the general path gives, on
    /// either side of the operator and across .NET's lifted and mixed-type rules.
    #[test]
    fn comparisons_with_a_constant_agree_with_the_general_path() {
        for (expr, want) in [
            ("@(context.Request.Certificate == null)", "True"),
            ("@(context.Request.Certificate != null)", "False"),
            ("@(null == context.Request.Certificate)", "True"),
            (r#"@(context.Request.Method == "GET")"#, "True"),
            (r#"@("GET" != context.Request.Method)"#, "False"),
            (r#"@(context.Request.Method == null)"#, "False"),
            ("@(context.Request.Headers.Count == 0)", "True"),
            ("@(context.Request.Headers.Count == 0.0)", "True"),
            ("@(context.Request.Headers.Count != 1)", "True"),
        ] {
            assert_eq!(s(expr), want, "{expr}");
        }
        let ctx = SimpleContext::new("GET", "/").with_header("X-Tenant", "contoso");
        for (expr, want) in [
            (
                r#"@(context.Request.Headers.GetValueOrDefault("X-Tenant") == "contoso")"#,
                "True",
            ),
            (
                r#"@(context.Request.Headers.GetValueOrDefault("X-Tenant") != "contoso")"#,
                "False",
            ),
            (
                r#"@(context.Request.Headers.GetValueOrDefault("X-Other") == null)"#,
                "True",
            ),
        ] {
            assert_eq!(show(expr, &ctx), want, "{expr}");
        }
    }

    /// Comparing reads nothing new into memory: a header near the string limit compared with a
    /// literal is not refused by the memory budget (a concatenation of the two would be).
    #[test]
    fn comparing_a_long_value_with_a_literal_is_not_charged() {
        let long = "a".repeat((4 << 20) - 1);
        let ctx = SimpleContext::new("GET", "/").with_header("X-Long", &long);
        assert_eq!(
            show(
                r#"@(context.Request.Headers.GetValueOrDefault("X-Long") == "ab")"#,
                &ctx
            ),
            "False"
        );
        assert!(show(
            r#"@(context.Request.Headers.GetValueOrDefault("X-Long") + "ab")"#,
            &ctx
        )
        .starts_with("ERR expression exceeded its memory budget"));
    }
}
